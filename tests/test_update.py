"""The update, end to end on a tiny base built here: frozen weights, new label,
retention with vs without rehearsal, losses file, config for any base, wheel."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.cli.package import package
from spacy.cli.train import train
from spacy.util import load_config

import convert
import evaluate
import functions  # noqa: F401  (registers the gadget.* functions)
import make_config
import rehearsal
from conftest import ROOT, run_cli
from tiny import build_tiny_base, gadget_records, old_label_sentences

STEPS = 120


def prepare_data(root: Path, base: Path) -> Path:
    """New-label corpora and rehearsal silver data for `base`, in root/corpus."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    srsly.write_json(root / "gadgets.json", gadget_records(150, seed=3))
    code, output = run_cli(convert.main, [root / "gadgets.json", "--train-output", corpus / "train.spacy",
                                          "--dev-output", corpus / "dev.spacy", "--split", "random"])
    assert code == 0, output
    srsly.write_jsonl(root / "raw.jsonl", [{"text": t} for t, _ in old_label_sentences(200, seed=4)])
    code, output = run_cli(rehearsal.main, [base, root / "raw.jsonl", corpus / "train.spacy", corpus / "dev.spacy", corpus])
    assert code == 0, output
    return corpus


def run_update(root: Path, base: Path, corpus: Path, silver: float, teacher: float, merge: bool) -> Path:
    config = make_config.adapt_config(load_config(ROOT / "configs" / "config.cfg", interpolate=False), spacy.load(base), str(base))
    root.mkdir(parents=True, exist_ok=True)
    config.to_disk(root / "config.cfg")
    overrides = {
        "paths.train": str(corpus / "train.spacy"), "paths.dev": str(corpus / "dev.spacy"),
        "paths.train_base_ents": str(corpus / "train_base_ents.spacy"), "paths.dev_base_ents": str(corpus / "dev_base_ents.spacy"),
        "paths.rehearsal": str(corpus / "rehearsal.spacy"), "paths.losses": str(root / "losses.jsonl"),
        "training.max_steps": STEPS, "training.eval_frequency": 40,
        "training.optimizer.learn_rate": 0.002,
        "training.before_update.silver_ratio": silver, "training.before_update.teacher_ratio": teacher,
        "corpora.train.merge_base_ents": merge, "corpora.dev.merge_base_ents": merge,
    }
    train(root / "config.cfg", root / "updated", overrides=overrides)
    return root / "updated" / "model-last"


def agreement(base: Path, updated: Path) -> float:
    """F of the updated pipeline's old-label entities against the base's, on unseen sentences."""
    texts = [t for t, _ in old_label_sentences(60, seed=5)]
    old = {"PER", "ORG", "LOC"}
    base_docs, upd_docs = spacy.load(base).pipe(texts), spacy.load(updated).pipe(texts)
    return evaluate.prf(((evaluate.spans(b, old), evaluate.spans(u, old), []) for b, u in zip(base_docs, upd_docs)), old)["ALL"]["f"]


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
    assert all(r["rehearsal_losses"]["ner_silver"] > 0 and r["rehearsal_losses"]["ner_teacher"] > 0 for r in records[1:])
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
    cfg = make_config.adapt_config(load_config(ROOT / "configs" / "config.cfg", interpolate=False), spacy.load(base), str(base))
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


def test_wheel_loads_in_a_clean_environment(update_runs, tmp_path):
    _, runs = update_runs
    (tmp_path / "pkg").mkdir()
    package(runs["rehearsal"][1], tmp_path / "pkg", name="tiny_gadget", version="0.0.1", code_paths=[ROOT / "scripts" / "functions.py"],
            create_wheel=True, create_sdist=False, force=True, silent=True)
    wheel = next((tmp_path / "pkg").rglob("*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # the project's scripts are not importable here: the package must bring its own code
    code = ("import importlib.util, spacy; assert importlib.util.find_spec('functions') is None; "
            "nlp = spacy.load('en_tiny_gadget'); print(sorted(nlp.get_pipe('ner').labels))")
    result = subprocess.run([str(python), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['GADGET', 'LOC', 'ORG', 'PER']"


def test_update_config_passes_spacy_debug_config(update_runs):
    """The config make_config writes (for the tiny base) is valid and filled."""
    _, runs = update_runs
    config = runs["rehearsal"][0] / "config.cfg"
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "debug", "config", str(config), "--code", "scripts/functions.py"],
        cwd=ROOT, capture_output=True, text=True,
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
