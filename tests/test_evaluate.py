"""evaluate: label mapping, missing gold, frozen-output check, bad options; and
`evaluate()` end to end on tiny rule-based stand-ins of base, updated and shipped
pipelines (no training)."""

import shutil
import subprocess
import sys

import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin
from weasel.util import get_checksum

import evaluate
from conftest import ROOT, run_cli
from ner_update.common import InputError
from ner_update.evaluation import scoring, side_by_side
from ner_update.inputs.patterns import load_patterns, pattern_pipeline
from ner_update.registered import register_all

register_all()  # the second-ner components

OLD = {"PER", "ORG", "LOC"}


def doc_with(nlp, text, ents, missing=()):
    """A doc with entities given as (start token, end token, label); `missing` tokens have no gold annotation."""
    doc = nlp.make_doc(text)
    iob = ["O"] * len(doc)
    for start, end, label in ents:
        iob[start:end] = ["B-" + label] + ["I-" + label] * (end - start - 1)
    for i in missing:
        iob[i] = None
    return Doc(nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc], ents=iob)


def test_label_map_scores_other_label_schemes_against_gold():
    nlp = spacy.blank("en")
    gold = doc_with(nlp, "Angela Merkel visited Paris", [(0, 2, "PER"), (3, 4, "LOC")])
    pred = doc_with(nlp, "Angela Merkel visited Paris", [(0, 2, "PERSON"), (3, 4, "GPE")])
    mapping = scoring.parse_label_map("PERSON:PER, GPE:LOC")
    assert mapping == {"PERSON": "PER", "GPE": "LOC"}
    scores = scoring.score([pred], [gold], OLD, mapping)
    assert (scores["p"], scores["r"], scores["f"], scores["support"]) == (100.0, 100.0, 100.0, 2)
    assert scores["per_label"]["PER"]["f"] == 100.0 and scores["per_label"]["LOC"]["f"] == 100.0
    assert scoring.score([pred], [gold], OLD)["f"] == 0.0


def test_predictions_over_missing_gold_are_not_counted():
    nlp = spacy.blank("en")
    gold = doc_with(nlp, "I like Mc.Donald s and Bob", [(5, 6, "PER")], missing=[2])
    pred = doc_with(nlp, "I like Mc.Donald s and Bob", [(2, 3, "ORG"), (5, 6, "PER")])
    assert scoring.score([pred], [gold], OLD)["p"] == 100.0
    complete = doc_with(nlp, "I like Mc.Donald s and Bob", [(5, 6, "PER")])
    assert scoring.score([pred], [complete], OLD)["p"] == 50.0


def test_restricted_keeps_mapped_labels_only():
    nlp = spacy.blank("en")
    pred = doc_with(nlp, "Angela Merkel bought an iPhone", [(0, 2, "PERSON"), (4, 5, "GADGET")])
    kept = scoring.restricted(pred, {"PER"}, {"PERSON": "PER"})
    assert [(e.text, e.label_) for e in kept.ents] == [("Angela Merkel", "PER")]
    assert all(t.ent_iob_ in ("B", "I", "O") for t in kept)  # no token left missing


def test_gold_restricted_makes_other_entities_outside_and_keeps_missing():
    nlp = spacy.blank("en")
    gold = doc_with(nlp, "Bob bought an iPhone in Paris", [(0, 1, "PER"), (3, 4, "GADGET")], missing=[5])
    only_new = scoring.gold_restricted([gold], {"GADGET"})[0]
    assert [(e.text, e.label_) for e in only_new.ents] == [("iPhone", "GADGET")]
    assert only_new[0].ent_iob_ == "O" and only_new[5].ent_iob_ == ""
    # a new-label prediction over the dropped PER is a false positive, over the missing token it is ignored
    pred = doc_with(nlp, "Bob bought an iPhone in Paris", [(0, 1, "GADGET"), (3, 4, "GADGET"), (5, 6, "GADGET")])
    assert scoring.score([pred], [only_new], {"GADGET"})["p"] == 50.0


def test_token_diffs_finds_changed_frozen_outputs():
    nlp = spacy.blank("en")
    a = Doc(nlp.vocab, words=["Bob", "runs"], tags=["NNP", "VBZ"], heads=[1, 1], deps=["nsubj", "ROOT"])
    b = Doc(nlp.vocab, words=["Bob", "runs"], tags=["NNP", "NN"], heads=[1, 1], deps=["nsubj", "ROOT"])
    c = Doc(nlp.vocab, words=["Bob", "runs"], tags=["NNP", "VBZ"], heads=[0, 0], deps=["ROOT", "dep"])
    assert not any(scoring.token_diffs([a], [a]).values())
    assert scoring.token_diffs([a], [b]) == {**{attr: 0 for attr in scoring.TOKEN_ATTRS}, "tag_": 1}
    diffs = scoring.token_diffs([a], [c])
    assert diffs["head.i"] == 2 and diffs["dep_"] == 2 and diffs["tag_"] == 0


def bad_option_run(tmp_path, *options):
    (tmp_path / "model").mkdir(exist_ok=True)
    patterns = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(patterns, [{"label": "GADGET", "pattern": "iphone"}])
    args = ["base_not_loaded", tmp_path / "model", patterns, "--output", tmp_path / "m.json", *options]
    return run_cli(evaluate.main, args)


@pytest.mark.parametrize(
    "value,item", [("PERSON", "PERSON"), ("PERSON:", "PERSON:"), (":PER", ":PER"), ("PERSON:PER,GPE", "GPE")]
)
def test_bad_label_map_fails_clearly(tmp_path, value, item):
    with pytest.raises(ValueError, match="is not LABEL:GOLD_LABEL"):
        scoring.parse_label_map(value)
    code, output = bad_option_run(tmp_path, "--label-map", value)
    assert code == 1 and f"label map item '{item}' is not LABEL:GOLD_LABEL" in output
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--new-label-set", "corpus/dev.spacy", "--new-label-set 'corpus/dev.spacy' is not NAME=PATH"),
        ("--old-label-set", "=x.spacy", "--old-label-set '=x.spacy' is not NAME=PATH"),
        ("--agreement-texts", "domain=", "--agreement-texts 'domain=' is not NAME=PATH"),
        ("--old-label-set", "ewt={tmp}/missing.spacy", "--old-label-set ewt: {tmp}/missing.spacy does not exist"),
    ],
)
def test_bad_named_path_fails_clearly(tmp_path, option, value, message):
    code, output = bad_option_run(tmp_path, option, value.format(tmp=tmp_path))
    assert code == 1 and message.format(tmp=tmp_path) in output
    assert not (tmp_path / "m.json").exists()


def test_a_patterns_folder_fails_clearly_as_in_every_command(tmp_path):
    """The patterns file is checked in one place for bootstrap, annotate, evaluate and benchmark."""
    (tmp_path / "model").mkdir()
    args = ["base_not_loaded", tmp_path / "model", tmp_path, "--output", tmp_path / "m.json"]
    code, output = run_cli(evaluate.main, args)
    assert code == 1 and f"{tmp_path}: a folder, not a patterns file" in output
    assert not (tmp_path / "m.json").exists()


# --- evaluate() end to end ----------------------------------------------------------
#
# base: an entity_ruler named "ner" that knows six PER/LOC names. updated: stands in
# for the trained ner with a span_ruler named "ner" (annotate_ents): it knows the
# GADGETs "Pixel 7", "iPhone X" and "Steam Deck" but forgot "Berlin". A span_ruler,
# not an entity_ruler, because evaluate's `model` system switches off every
# entity_ruler: an entity_ruler stand-in would vanish from `model` with the patterns.
# patterns: "pixel 7", "iphone x", "galaxy" (a false positive) and "surface pro" (too
# short for "Surface Pro 7").

OLD_NAMES = {"PER": ["Alice Smith", "Bob Jones", "Grace Lee"], "LOC": ["Paris", "Berlin", "Oslo"]}
LEARNED_GADGETS = ["Pixel 7", "iPhone X", "Steam Deck"]
GADGET_PATTERNS = [
    {"label": "GADGET", "pattern": "pixel 7"},
    {"label": "GADGET", "pattern": "iphone x"},
    {"label": "GADGET", "pattern": [{"LOWER": "galaxy"}]},
    {"label": "GADGET", "pattern": "surface pro"},
]
NEW_SET = [
    ("Alice Smith bought a Pixel 7 in Paris.", [("Alice Smith", "PER"), ("Pixel 7", "GADGET"), ("Paris", "LOC")]),
    ("My iPhone X broke.", [("iPhone X", "GADGET")]),
    ("The Steam Deck is great.", [("Steam Deck", "GADGET")]),
    ("The Galaxy is far away.", []),
    ("I use a Surface Pro 7 daily.", [("Surface Pro 7", "GADGET")]),
]
OLD_SET = [
    ("Alice Smith moved to Paris.", [("Alice Smith", "PER"), ("Paris", "LOC")]),
    ("Bob Jones met Grace Lee in Berlin.", [("Bob Jones", "PER"), ("Grace Lee", "PER"), ("Berlin", "LOC")]),
    ("Grace Lee sold her Pixel 7 in Oslo.", [("Grace Lee", "PER"), ("Oslo", "LOC")]),
    ("Bob Jones saw the Galaxy from Oslo.", [("Bob Jones", "PER"), ("Oslo", "LOC")]),
]
DOMAIN_TEXTS = ["Bob Jones lives in Berlin.", "Alice Smith loves her iPhone X a lot."]
# shipped keeps the base's old-label entities / the updated ner replaces them (and misses Berlin)
MODES = ("second_ner", "ner_before_rules")


def base_pipeline():
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", name="ner", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns([{"label": label, "pattern": name} for label, names in OLD_NAMES.items() for name in names])
    return nlp


def updated_pipeline():
    nlp = spacy.blank("en")
    config = {"spans_key": None, "annotate_ents": True, "phrase_matcher_attr": "LOWER"}
    ruler = nlp.add_pipe("span_ruler", name="ner", config=config)
    old = [
        {"label": label, "pattern": name} for label, names in OLD_NAMES.items() for name in names if name != "Berlin"
    ]
    ruler.add_patterns(old + [{"label": "GADGET", "pattern": name} for name in LEARNED_GADGETS])
    return nlp


def shipped_pipeline(mode, patterns):
    """The two ways a shipped pipeline can keep old labels: a second ner that only adds new
    labels (its old-label guesses dropped), or an updated ner with the rules after it."""
    nlp = updated_pipeline() if mode == "ner_before_rules" else base_pipeline()
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns([{k: p[k] for k in ("label", "pattern")} for p in patterns])
    if mode == "second_ner":
        nlp.add_pipe("ner_update_entity_snapshot", name="entity_snapshot", config={"clear": False})
        nlp.add_pipe("ner", name="new_ner", source=updated_pipeline())
        config = {"old_labels": sorted(OLD), "new_labels_win": False}
        nlp.add_pipe("ner_update_new_entities_only", name="new_entities", config=config)
    return nlp


def gold_docs(nlp, records):
    docs = []
    for text, ents in records:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(text.index(s), text.index(s) + len(s), label=label) for s, label in ents]
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def patterns_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("patterns") / "patterns.jsonl"
    srsly.write_jsonl(path, GADGET_PATTERNS)
    return path


@pytest.fixture(scope="module")
def shipped_dirs(tmp_path_factory, patterns_path):
    """The pipelines on disk, as `assemble` writes and `evaluate` loads them."""
    root = tmp_path_factory.mktemp("pipelines")
    base_pipeline().to_disk(root / "base")
    for mode in MODES:
        shipped_pipeline(mode, load_patterns(patterns_path)).to_disk(root / mode)
    return root


@pytest.fixture(scope="module")
def metrics(shipped_dirs, patterns_path):
    results = {}
    for mode in MODES:
        base, shipped = spacy.load(shipped_dirs / "base"), spacy.load(shipped_dirs / mode)
        patterns = pattern_pipeline("en", load_patterns(patterns_path))
        new_sets = {"dev": gold_docs(base, NEW_SET)}
        old_sets = {"heldout": gold_docs(base, OLD_SET)}
        results[mode] = scoring.evaluate(base, shipped, patterns, new_sets, old_sets, {"domain": DOMAIN_TEXTS}, {})
    return results


def prf(scores):
    return scores["p"], scores["r"], scores["f"]


def test_assembled_pipelines(shipped_dirs):
    assert spacy.load(shipped_dirs / "second_ner").pipe_names == [
        "ner",
        "entity_ruler",
        "entity_snapshot",
        "new_ner",
        "new_entities",
    ]
    assert spacy.load(shipped_dirs / "ner_before_rules").pipe_names == ["ner", "entity_ruler"]


@pytest.mark.parametrize("mode", MODES)
def test_metrics_have_the_shape_report_reads_and_name_every_set(metrics, mode):
    # complete_metrics checks the scores against metrics_schema.Metrics, the shape report reads
    m = side_by_side.complete_metrics(metrics[mode], "base", "shipped", "checked_dev", 10.0)
    assert m.new_labels == ["GADGET"] and m.old_labels == ["LOC", "PER"]
    assert set(m.new_label_sets) == set(m.confusion) == set(m.errors) == {"dev"}
    assert set(m.old_label_sets) == {"heldout"} and set(m.agreement_sets) == {"domain"}
    assert set(m.disagreements) == {"heldout", "domain"}
    dev = m.new_label_sets["dev"]
    assert dev.docs == 5 and dev.patterns is not None
    assert set(dev.relabel) == {"patterns", "model", "shipped"} and set(dev.old_label_agreement) == {"model", "shipped"}
    old = m.old_label_sets["heldout"]
    assert old.docs == 4 and old.patterns.agreement is None and old.patterns.gold is None
    assert old.shipped.gold is not None and old.shipped.agreement is not None
    # raw texts have no gold: agreement with the base only
    domain = m.agreement_sets["domain"]
    assert domain.docs == 2 and domain.shipped.gold is None and domain.shipped.agreement is not None
    # blank tokenizers: no frozen component to change
    frozen = m.frozen_outputs
    assert (frozen.set, frozen.identical, frozen.tokens) == ("heldout", True, 31)
    assert frozen.differing_tokens == {attr: 0 for attr in scoring.TOKEN_ATTRS}
    # the checkpoint set falls back to dev; "Surface Pro 7" is the model's one miss, F 85.7: learning worked
    assert (m.learning.checkpoint_set, m.learning.failed, m.learning.warnings) == ("dev", False, [])
    assert len(side_by_side.summary_rows(m)) == 3 + 2 * 3


def test_metrics_that_do_not_fit_the_schema_are_refused(metrics):
    scores = srsly.json_loads(srsly.json_dumps(metrics["second_ner"]))
    del scores["new_label_sets"]["dev"]["relabel"]
    with pytest.raises(InputError, match="new_label_sets.dev.relabel: missing"):
        side_by_side.complete_metrics(scores, "base", "shipped", "dev", 10.0)


@pytest.mark.parametrize("mode", MODES)
def test_new_label_scores_per_system(metrics, mode, patterns_path):
    dev = metrics[mode]["new_label_sets"]["dev"]
    # patterns alone: Pixel 7, iPhone X right; Galaxy and "Surface Pro" wrong; Steam Deck, Surface Pro 7 missed
    assert prf(dev["patterns"]) == (50.0, 50.0, 50.0) and dev["patterns"]["support"] == 4
    base = spacy.blank("en")
    patterns = pattern_pipeline("en", load_patterns(patterns_path))
    gold = scoring.gold_restricted(gold_docs(base, NEW_SET), {"GADGET"})
    assert dev["patterns"] == scoring.score([patterns(t) for t, _ in NEW_SET], gold, {"GADGET"})
    # model: the learned part without the entity_ruler: no rule false positives
    assert prf(dev["model"]) == (100.0, 75.0, 85.71)
    # shipped: learned + rules
    assert prf(dev["shipped"]) == (60.0, 75.0, 66.67)
    assert dev["shipped"]["per_label"]["GADGET"] == {"p": 60.0, "r": 75.0, "f": 66.67}


@pytest.mark.parametrize("mode", MODES)
def test_confusion_and_errors(metrics, mode):
    assert metrics[mode]["confusion"]["dev"] == {"GADGET": {"GADGET": 3, "partial GADGET": 1}}
    errors = metrics[mode]["errors"]["dev"]
    assert dict(errors["false_positives"]) == {"Galaxy": 1, "Surface Pro": 1}
    assert dict(errors["false_negatives"]) == {"Surface Pro 7": 1}
    assert [e["text"] for e in errors["examples"]] == ["The Galaxy is far away.", "I use a Surface Pro 7 daily."]
    assert errors["examples"][1]["gold"] == [(8, 21, "GADGET")] and errors["examples"][1]["predicted"] == [
        (8, 19, "GADGET")
    ]


def test_agreement_is_100_where_shipped_keeps_the_base_entities(metrics):
    m = metrics["second_ner"]
    old = m["old_label_sets"]["heldout"]
    assert prf(old["base"]["gold"]) == (100.0, 100.0, 100.0) and old["base"]["gold"]["support"] == 9
    assert prf(old["base"]["agreement"]) == (100.0, 100.0, 100.0)
    assert prf(old["shipped"]["agreement"]) == (100.0, 100.0, 100.0)
    assert prf(old["shipped"]["gold"]) == (100.0, 100.0, 100.0)
    assert prf(m["agreement_sets"]["domain"]["shipped"]["agreement"]) == (100.0, 100.0, 100.0)
    assert m["disagreements"] == {"heldout": [], "domain": []}


def test_agreement_drops_where_shipped_changes_the_base_entities(metrics):
    m = metrics["ner_before_rules"]
    old = m["old_label_sets"]["heldout"]
    # the updated "ner" forgot Berlin: 8 of the base's 9 entities kept
    assert prf(old["shipped"]["agreement"]) == (100.0, 88.89, 94.12)
    assert prf(old["shipped"]["gold"]) == (100.0, 88.89, 94.12)
    assert old["shipped"]["gold"]["per_label"]["LOC"]["r"] == 75.0
    assert prf(old["model"]["agreement"]) == (100.0, 88.89, 94.12)
    assert prf(old["base"]["agreement"]) == (100.0, 100.0, 100.0)
    assert prf(m["agreement_sets"]["domain"]["shipped"]["agreement"]) == (100.0, 66.67, 80.0)
    assert m["disagreements"]["heldout"] == [
        {
            "text": "Bob Jones met Grace Lee in Berlin.",
            "base": [[0, 9, "PER"], [14, 23, "PER"], [27, 33, "LOC"]],
            "shipped": [[0, 9, "PER"], [14, 23, "PER"]],
        }
    ]
    assert [d["text"] for d in m["disagreements"]["domain"]] == ["Bob Jones lives in Berlin."]


@pytest.mark.parametrize("mode", MODES)
def test_new_label_predictions_on_old_label_sets_are_counted(metrics, mode):
    old = metrics[mode]["old_label_sets"]["heldout"]
    # the gold has no GADGET: "Pixel 7" (rules and model) and "Galaxy" (rules only) are false alarms
    counts = {system: old[system]["new_label_predictions"] for system in ("base", "patterns", "model", "shipped")}
    assert counts == {"base": 0, "patterns": 2, "model": 1, "shipped": 2}
    assert metrics[mode]["agreement_sets"]["domain"]["shipped"]["new_label_predictions"] == 1


def write_sets(root):
    DocBin(docs=gold_docs(spacy.blank("en"), NEW_SET)).to_disk(root / "dev.spacy")
    DocBin(docs=gold_docs(spacy.blank("en"), OLD_SET)).to_disk(root / "heldout.spacy")
    srsly.write_jsonl(root / "domain.jsonl", [{"text": t} for t in DOMAIN_TEXTS])
    return [
        "--new-label-set",
        f"dev={root / 'dev.spacy'}",
        "--old-label-set",
        f"heldout={root / 'heldout.spacy'}",
        "--agreement-texts",
        f"domain={root / 'domain.jsonl'}",
    ]


def test_cli_writes_the_metrics(tmp_path, shipped_dirs, patterns_path, metrics):
    sets = write_sets(tmp_path)
    mode = "ner_before_rules"
    out = tmp_path / "metrics.json"
    code, output = run_cli(
        evaluate.main, [shipped_dirs / "base", shipped_dirs / mode, patterns_path, "--output", out, *sets]
    )
    assert code == 0, output
    written = srsly.read_json(out)
    assert written["shipped_model"] == str(shipped_dirs / mode)
    assert written["shipped_checksum"] == get_checksum(shipped_dirs / mode)  # which pipeline was measured
    expected = srsly.json_loads(srsly.json_dumps(metrics[mode]))
    measured = ("base_model", "shipped_model", "shipped_checksum", "learning")
    assert {k: v for k, v in written.items() if k not in measured} == expected
    assert set(written["learning"]) == {"checkpoint_set", "min_f", "failed", "warnings"}
    assert "dev: new labels P/R/F patterns 50.0 / 50.0 / 50.0" in output
    assert "heldout: old labels shipped gold F 94.1, agreement 94.1, new-label entities 2" in output
    assert "Frozen components' outputs on heldout: identical" in output


def test_a_checkpoint_set_that_is_a_copy_of_dev_is_scored_once_as_dev(tmp_path, shipped_dirs, patterns_path):
    """Without a checked set, the checkpoint set is dev's copy: one set, and the metrics say dev picked."""
    sets = write_sets(tmp_path)
    shutil.copy(tmp_path / "dev.spacy", tmp_path / "checkpoint.spacy")
    out = tmp_path / "metrics.json"
    args = [shipped_dirs / "base", shipped_dirs / "ner_before_rules", patterns_path, "--output", out, *sets]
    code, output = run_cli(evaluate.main, [*args, "--new-label-set", f"checkpoint={tmp_path / 'checkpoint.spacy'}"])
    assert code == 0, output
    written = srsly.read_json(out)
    assert set(written["new_label_sets"]) == {"dev"} and written["learning"]["checkpoint_set"] == "dev"
    assert "is the same set as dev: scored once, as dev" in output


def test_script_loads_a_second_ner_pipeline(tmp_path, shipped_dirs, patterns_path):
    """As weasel runs it: a fresh interpreter with only evaluate.py's own imports, so the
    components of a second-ner pipeline (functions.py) must be registered by it."""
    sets = write_sets(tmp_path)
    out = tmp_path / "metrics.json"
    args = [
        sys.executable,
        str(ROOT / "scripts" / "evaluate.py"),
        str(shipped_dirs / "base"),
        str(shipped_dirs / "second_ner"),
        str(patterns_path),
        "--output",
        str(out),
        *sets,
    ]
    result = subprocess.run(args, check=False, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert srsly.read_json(out)["new_label_sets"]["dev"]["shipped"]["f"] == 66.67
