"""The update, end to end on a tiny base built here: frozen weights, new label,
retention with vs without rehearsal, losses file, config for any base, wheel."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.cli.train import train
from spacy.util import load_config

import assemble
import convert
import evaluate
import functions  # registers the ner_update.* functions
import make_config
import rehearsal
from conftest import ROOT, run_cli
from tiny import build_tiny_base, gadget_records, install_wheel, old_label_sentences

STEPS = 120


def prepare_data(root: Path, base: Path) -> Path:
    """New-label corpora and rehearsal silver data for `base`, in root/corpus."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    srsly.write_json(root / "gadgets.json", gadget_records(150, seed=3))
    code, output = run_cli(
        convert.main,
        [
            root / "gadgets.json",
            "--train-output",
            corpus / "train.spacy",
            "--dev-output",
            corpus / "dev.spacy",
            "--split",
            "random",
        ],
    )
    assert code == 0, output
    srsly.write_jsonl(root / "raw.jsonl", [{"text": t} for t, _ in old_label_sentences(200, seed=4)])
    code, output = run_cli(
        rehearsal.main, [base, corpus / "train.spacy", corpus / "dev.spacy", corpus, "--texts", root / "raw.jsonl"]
    )
    assert code == 0, output
    return corpus


def run_update(root: Path, base: Path, corpus: Path, silver: float, teacher: float, merge: bool, **extra) -> Path:
    config = make_config.adapt_config(
        load_config(ROOT / "configs" / "config.cfg", interpolate=False), spacy.load(base), str(base)
    )
    root.mkdir(parents=True, exist_ok=True)
    config.to_disk(root / "config.cfg")
    overrides = {
        "paths.train": str(corpus / "train.spacy"),
        "paths.dev": str(corpus / "dev.spacy"),
        "paths.train_base_ents": str(corpus / "train_base_ents.spacy"),
        "paths.dev_base_ents": str(corpus / "dev_base_ents.spacy"),
        "paths.rehearsal": str(corpus / "rehearsal.spacy"),
        "paths.losses": str(root / "losses.jsonl"),
        "training.max_steps": STEPS,
        "training.eval_frequency": 40,
        "training.optimizer.learn_rate": 0.002,
        "training.before_update.silver_ratio": silver,
        "training.before_update.teacher_ratio": teacher,
        "corpora.train.base_ents_path": str(corpus / "train_base_ents.spacy") if merge else None,
        "corpora.dev.base_ents_path": str(corpus / "dev_base_ents.spacy") if merge else None,
    }
    train(root / "config.cfg", root / "updated", overrides={**overrides, **extra})
    return root / "updated" / "model-last"


def agreement(base: Path, updated: Path) -> float:
    """F of the updated pipeline's old-label entities against the base's, on unseen sentences."""
    texts = [t for t, _ in old_label_sentences(60, seed=5)]
    old = {"PER", "ORG", "LOC"}
    base_docs, upd_docs = list(spacy.load(base).pipe(texts)), list(spacy.load(updated).pipe(texts))
    return evaluate.score(upd_docs, [evaluate.restricted(d, old) for d in base_docs], old)["f"]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return build_tiny_base(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def update_runs(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("update")
    corpus = prepare_data(root, tiny_base)
    runs = {}
    for name, silver, teacher, merge in (("rehearsal", 1.0, 1.0, True), ("none", 0.0, 0.0, False)):
        run_root = root / name
        runs[name] = (run_root, run_update(run_root, tiny_base, corpus, silver, teacher, merge))
    return corpus, runs


def test_tiny_base_knows_old_labels(tiny_base):
    doc = spacy.load(tiny_base)("Alice Smith works for Globex in Paris.")
    assert {e.label_ for e in doc.ents} & {"PER", "ORG", "LOC"}
    # rehearsal annotation runs only what the ner needs: here the ner alone
    assert rehearsal.entity_components(spacy.load(tiny_base)) == ["ner"]


def test_frozen_components_are_byte_identical(tiny_base, update_runs):
    _, runs = update_runs
    base = spacy.load(tiny_base)
    for _, updated_path in runs.values():
        updated = spacy.load(updated_path)
        for name in ("tok2vec", "tagger"):
            assert updated.get_pipe(name).model.to_bytes() == base.get_pipe(name).model.to_bytes(), name
        assert updated.get_pipe("ner").model.to_bytes() != base.get_pipe("ner").model.to_bytes()
        texts = [t for t, _ in old_label_sentences(20, seed=9)]
        assert [t.tag_ for d in base.pipe(texts) for t in d] == [t.tag_ for d in updated.pipe(texts) for t in d]


def test_new_label_is_learned(update_runs):
    _, runs = update_runs
    nlp = spacy.load(runs["rehearsal"][1])
    assert "GADGET" in nlp.get_pipe("ner").labels
    docs = list(nlp.pipe(["The Pixel 7 is much better than I expected.", "My Xbox One stopped working after a week."]))
    assert any(e.label_ == "GADGET" for d in docs for e in d.ents)


def test_rehearsal_retains_old_labels_better(tiny_base, update_runs):
    _, runs = update_runs
    with_rehearsal = agreement(tiny_base, runs["rehearsal"][1])
    without = agreement(tiny_base, runs["none"][1])
    assert with_rehearsal > without + 20, (with_rehearsal, without)


def test_losses_file_keeps_rehearsal_apart(update_runs):
    _, runs = update_runs
    records = list(srsly.read_jsonl(runs["rehearsal"][0] / "losses.jsonl"))
    assert [r["step"] for r in records] == list(range(0, STEPS + 1, 40))
    assert all(set(r["losses"]) == {"ner"} for r in records)
    assert all(
        r["rehearsal_losses"]["ner_silver"] > 0 and r["rehearsal_losses"]["ner_teacher"] > 0 for r in records[1:]
    )
    assert all(r["rehearsal_losses"] == {} for r in srsly.read_jsonl(runs["none"][0] / "losses.jsonl"))


def test_rehearsal_draws_are_seeded_fresh_each_epoch_and_keep_the_ratio():
    def draws(seed, ratio=1.0):
        sampler = functions.RehearsalSampler(50, ratio, seed)
        return [sampler.draw(epoch, 4) for epoch in (0, 0, 0, 1, 1, 1)]

    first = draws(0)
    assert first == draws(0) and first != draws(1)
    assert all(len(batch) == 4 for batch in first)
    epoch0, epoch1 = sum(first[:3], []), sum(first[3:], [])
    assert len(set(epoch0)) == 12  # without replacement within an epoch
    assert epoch0 != epoch1  # a new permutation each epoch
    assert sum(len(b) for b in draws(0, ratio=0.5)) == 12  # 0.5 x 24 new-label examples
    assert draws(0, ratio=0.0) == [[]] * 6


def test_config_for_a_base_with_a_listening_ner(tmp_path_factory):
    root = tmp_path_factory.mktemp("listening")
    base = build_tiny_base(root / "base", listening_ner=True)
    cfg = make_config.adapt_config(
        load_config(ROOT / "configs" / "config.cfg", interpolate=False), spacy.load(base), str(base)
    )
    assert cfg["components"]["ner"]["replace_listeners"] == ["model.tok2vec"]
    assert rehearsal.entity_components(spacy.load(base)) == ["tok2vec", "ner"]
    corpus = prepare_data(root, base)
    updated = run_update(root, base, corpus, 1.0, 1.0, True)
    before, after = spacy.load(base), spacy.load(updated)
    assert after.get_pipe("tok2vec").model.to_bytes() == before.get_pipe("tok2vec").model.to_bytes()
    assert "ner" not in after.get_pipe("tok2vec").listening_components


def test_checked_in_config_is_the_default_base_instance():
    """configs/config.cfg equals what make_config writes for a base with the default base's pipeline."""
    template = load_config(ROOT / "configs" / "config.cfg", interpolate=False)
    nlp = spacy.blank("en")
    for name in template["nlp"]["pipeline"]:
        nlp.add_pipe("lemmatizer", name=name, config={"mode": "lookup"}) if name == "lemmatizer" else nlp.add_pipe(name)
    adapted = make_config.adapt_config(template, nlp, template["paths"]["base"])
    assert adapted.to_str() == template.to_str()


def test_wheel_loads_with_only_spacy(tiny_base, update_runs, tmp_path):
    """The packaged shipped pipeline (rules + second ner) loads where the project is not on the path."""
    _, runs = update_runs
    patterns = [{"label": "GADGET", "pattern": [{"LOWER": "steam"}, {"LOWER": "deck"}], "id": "line 1"}]
    shipped = assemble.assemble(spacy.load(tiny_base), spacy.load(runs["rehearsal"][1]), patterns, "rules_second_ner")
    shipped.to_disk(tmp_path / "shipped")
    target = tmp_path / "site"
    install_wheel(tmp_path / "shipped", tmp_path / "pkg", target, "tiny_gadget", [ROOT / "scripts" / "functions.py"])
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": str(target)}
    # the project's scripts are not importable here: the package must bring its own code
    code = (
        "import importlib.util, spacy; assert importlib.util.find_spec('functions') is None; "
        "nlp = spacy.load('en_tiny_gadget'); print(sorted(nlp.get_pipe('new_ner').labels)); "
        "print(nlp.pipe_names[-4:], len(nlp.get_pipe('entity_ruler').patterns))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    labels, pipes = result.stdout.strip().splitlines()
    assert labels == "['GADGET', 'LOC', 'ORG', 'PER']"
    assert pipes == "['entity_ruler', 'entity_snapshot', 'new_ner', 'new_entities_only'] 1"


def test_update_config_passes_spacy_debug_config(update_runs):
    """The config make_config writes (for the tiny base) is valid and filled."""
    _, runs = update_runs
    config = runs["rehearsal"][0] / "config.cfg"
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "debug", "config", str(config), "--code", "scripts/functions.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Config is valid" in result.stdout


def test_merge_keeps_gold_and_adds_only_non_overlapping_base_entities():
    from spacy.tokens import Span

    nlp = spacy.blank("en")
    gold = nlp.make_doc("Alice Smith bought an iPhone X in Paris")
    gold.ents = [Span(gold, 4, 6, label="GADGET")]
    base = nlp.make_doc(gold.text)
    base.ents = [Span(base, 0, 2, label="PER"), Span(base, 4, 5, label="ORG"), Span(base, 7, 8, label="LOC")]
    assert functions.merge_ents(gold, base) == 2
    assert [(e.text, e.label_) for e in gold.ents] == [("Alice Smith", "PER"), ("iPhone X", "GADGET"), ("Paris", "LOC")]
    other = nlp.make_doc("Alice Smith bought an iPhone X in Paris !")
    with pytest.raises(ValueError, match="differently tokenized"):
        functions.merge_ents(gold, other)


def test_rehearsal_fails_loudly_without_the_recording_batcher(tiny_base, update_runs, tmp_path):
    """With a stock batcher the rehearsal callback cannot know the batch size: training must stop, not
    silently turn into the forgetting recipe."""
    corpus, _ = update_runs
    with pytest.raises(ValueError, match="recording_batcher"):
        run_update(
            tmp_path,
            tiny_base,
            corpus,
            1.0,
            0.0,
            True,
            **{
                "training.batcher": {
                    "@batchers": "spacy.batch_by_words.v1",
                    "size": 500,
                    "tolerance": 0.2,
                    "discard_oversize": False,
                }
            },
        )


def test_second_ner_adds_only_new_labels_and_keeps_the_base_entities(tiny_base, update_runs):
    """rules_second_ner: old-label entities are exactly the base's; new ones come from rules and the second ner."""
    _, runs = update_runs
    base = spacy.load(tiny_base)
    patterns = [{"label": "GADGET", "pattern": [{"LOWER": "kindle"}, {"LOWER": "oasis"}], "id": "line 1"}]
    shipped = assemble.assemble(spacy.load(tiny_base), spacy.load(runs["none"][1]), patterns, "rules_second_ner")
    assert shipped.pipe_names[-4:] == ["entity_ruler", "entity_snapshot", "new_ner", "new_entities_only"]
    texts = [t for t, _ in old_label_sentences(40, seed=11)] + [
        "my kindle oasis stopped working after a week.",
        "Alice Smith bought a Pixel 7 in Paris.",
    ]
    old = {"PER", "ORG", "LOC"}
    for b, s in zip(base.pipe(texts), shipped.pipe(texts)):
        assert evaluate.spans_of(b, old) == evaluate.spans_of(s, old), s.text
        assert not s.spans.get("ner_update_snapshot")
    docs = list(shipped.pipe(texts[-2:]))
    assert ("kindle oasis", "GADGET") in [(e.text, e.label_) for e in docs[0].ents]  # from the rules
    # the "none" run forgot the old labels: without the guard its second ner would add or change them
    unguarded = spacy.load(runs["none"][1])
    assert any(
        evaluate.spans_of(b, old) != evaluate.spans_of(u, old) for b, u in zip(base.pipe(texts), unguarded.pipe(texts))
    )


@pytest.mark.parametrize(
    "combine,order",
    [
        ("ner_only", ["tok2vec", "tagger", "ner"]),
        ("rules_on_base", ["tok2vec", "tagger", "ner", "entity_ruler"]),
        ("rules_before_ner", ["tok2vec", "tagger", "entity_ruler", "ner"]),
        ("ner_before_rules", ["tok2vec", "tagger", "ner", "entity_ruler"]),
        (
            "rules_win_second_ner",
            ["tok2vec", "tagger", "ner", "entity_ruler", "entity_snapshot", "new_ner", "new_entities_only"],
        ),
    ],
)
def test_combine_modes_place_the_rules(tiny_base, update_runs, tmp_path, combine, order):
    _, runs = update_runs
    patterns = [{"label": "GADGET", "pattern": "kindle oasis", "id": "line 1"}]
    base, updated = spacy.load(tiny_base), spacy.load(runs["rehearsal"][1])
    shipped = assemble.assemble(base, updated, patterns, combine)
    assert shipped.pipe_names == order
    ner = shipped.get_pipe("ner")
    assert ("GADGET" in ner.labels) == (
        combine not in ("rules_on_base", "rules_win_second_ner")
    )  # the base ner or the updated one
    if "entity_ruler" in order:
        doc = shipped("Grace Lee sold her kindle oasis in Lima.")
        assert ("kindle oasis", "GADGET") in [(e.text, e.label_) for e in doc.ents]
    srsly.write_jsonl(tmp_path / "p.jsonl", patterns)
    code, output = run_cli(
        assemble.main, [tiny_base, runs["rehearsal"][1], tmp_path / "p.jsonl", tmp_path / "out", "--combine", "bogus"]
    )
    assert code == 1 and "--combine must be one of" in output and not (tmp_path / "out").exists()
    code, output = run_cli(
        assemble.main, [tiny_base, runs["rehearsal"][1], tmp_path / "p.jsonl", tmp_path / "out", "--combine", combine]
    )
    assert code == 0 and spacy.load(tmp_path / "out").pipe_names == order


def test_rules_win_second_ner_lets_a_pattern_replace_an_overlapping_base_entity(tiny_base, update_runs):
    """rules_win_second_ner: where a pattern matches, its entity replaces the base's; elsewhere old-label
    entities stay the base's. The base ner's labels are fixed at assembly (a ner adds the labels of
    entities set before it at run time, which must not turn them into 'old' labels)."""
    _, runs = update_runs
    patterns = [{"label": "GADGET", "pattern": [{"LOWER": "steam"}, {"LOWER": "deck"}], "id": "line 1"}]
    text = "Alice Smith bought a Steam Deck in Paris."
    base = spacy.load(tiny_base)
    assert ("Steam Deck", "GADGET") not in [(e.text, e.label_) for e in base(text).ents]
    keep = assemble.assemble(spacy.load(tiny_base), spacy.load(runs["rehearsal"][1]), patterns, "rules_second_ner")
    win = assemble.assemble(spacy.load(tiny_base), spacy.load(runs["rehearsal"][1]), patterns, "rules_win_second_ner")
    assert win.get_pipe_config("new_entities_only")["old_labels"] == ["LOC", "ORG", "PER"]
    won = [(e.text, e.label_) for e in win(text).ents]
    assert ("Steam Deck", "GADGET") in won and ("Alice Smith", "PER") in won and ("Paris", "LOC") in won
    # the base calls "Steam Deck" something else here: without winning, the pattern cannot place it
    if any(e.text == "Steam Deck" for e in base(text).ents):
        assert ("Steam Deck", "GADGET") not in [(e.text, e.label_) for e in keep(text).ents]
    old = {"PER", "ORG", "LOC"}
    texts = [t for t, _ in old_label_sentences(40, seed=12)]
    for b, w in zip(base.pipe(texts), win.pipe(texts)):
        assert evaluate.spans_of(b, old) == evaluate.spans_of(w, old), w.text


def test_rehearsal_bad_texts_file_fails_with_its_line_and_writes_nothing(tiny_base, update_runs, tmp_path):
    corpus, _ = update_runs
    (tmp_path / "raw.jsonl").write_text('{"text": "fine"}\n{"text": 3}\n', encoding="utf8")
    out = tmp_path / "out"
    code, output = run_cli(
        rehearsal.main,
        [tiny_base, corpus / "train.spacy", corpus / "dev.spacy", out, "--texts", tmp_path / "raw.jsonl"],
    )
    assert code == 1 and "raw.jsonl: line 2" in output
    assert not out.exists() or not list(out.iterdir())
