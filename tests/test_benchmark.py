"""benchmark: runs on tiny data, two at a time, and writes a well-formed table (no timing asserted)."""

import shutil

import srsly
from test_update import prepare_data

import benchmark
from conftest import run_cli
from tiny import build_tiny_base, gadget_records, old_label_sentences, write_old_label_corpus


def test_benchmark_runs_and_writes_a_table(tmp_path):
    base = build_tiny_base(tmp_path / "base")
    corpus = prepare_data(tmp_path, base)
    write_old_label_corpus(corpus / "ewt_heldout.spacy", 40, seed=6)
    write_old_label_corpus(corpus / "btc_heldout.spacy", 30, seed=8)
    shutil.copy(corpus / "dev.spacy", corpus / "checked_dev.spacy")
    srsly.write_jsonl(corpus / "domain_heldout.jsonl", [{"text": t} for t, _ in old_label_sentences(20, seed=9)])
    srsly.write_json(corpus / "bootstrapped.json", gadget_records(30, seed=7))
    srsly.write_jsonl(tmp_path / "patterns.jsonl", [{"label": "GADGET", "pattern": "steam deck"}])
    recipes = ["anchor", "ner_double", "default", "patterns_on_base", "default+rules_second_ner"]
    out = tmp_path / "bench"
    code, output = run_cli(
        benchmark.main,
        [
            base,
            corpus,
            tmp_path / "patterns.jsonl",
            "--output",
            out,
            "--recipes",
            ",".join(recipes),
            "--seeds",
            "0,1",
            "--max-steps",
            "10",
            "--eval-frequency",
            "5",
            "--repeats",
            "1",
        ],
    )
    assert code == 0, output
    lines = (out / "benchmark.md").read_text(encoding="utf8").splitlines()
    header = lines[0].strip("| ").split(" | ")
    assert header[0] == "recipe" and "real F" in header and "agr BTC" in header and "agr domain" in header
    rows = [line.strip("| ").split(" | ") for line in lines[2 : 2 + len(recipes)]]
    assert [r[0] for r in rows] == recipes
    assert all(len(r) == len(header) for r in rows)
    assert any(line.startswith("| convert (30 records)") for line in lines)
    assert any("meets the goal" in line for line in lines)
    assert any(line.startswith("Packages: ") and "spacy 3.8" in line for line in lines)
    data = srsly.read_json(out / "benchmark.json")
    assert len(data["runs"]) == 10 and [s["recipe"] for s in data["summary"]] == recipes
    assert all(s["frozen_unchanged"] for s in data["summary"])
    summary = {s["recipe"]: s for s in data["summary"]}
    # the second-ner recipe never changes an old-label entity of the base
    assert summary["default+rules_second_ner"]["ewt_agreement"] == 100.0
    assert summary["patterns_on_base"]["train_seconds"] == 0.0 and summary["patterns_on_base"]["ewt_agreement"] == 100.0
    # the default training is shared: one training per seed serves every default+* recipe
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["anchor", "default", "ner_double"]


def test_rehearsal_recipes_merge_base_entities_whatever_the_config_says():
    """A recipe that merges base entities sets their paths itself (the checked-in config may say null)."""
    from spacy.util import load_config

    from conftest import ROOT

    template = load_config(ROOT / "configs" / "config.cfg", interpolate=False)
    paths = {"paths.train_base_ents": "c/train_base_ents.spacy", "paths.dev_base_ents": "c/dev_base_ents.spacy"}
    _, rehearsal = benchmark.training_config(template, "rehearsal", {}, paths)
    assert rehearsal["corpora.train.base_ents_path"] == "c/train_base_ents.spacy"
    assert rehearsal["corpora.dev.base_ents_path"] == "c/dev_base_ents.spacy"
    assert rehearsal["training.before_update.silver_ratio"] == 2
    _, anchor = benchmark.training_config(template, "anchor", {}, paths)
    assert anchor["corpora.train.base_ents_path"] is None and anchor["training.before_update.teacher_ratio"] == 0
    _, default = benchmark.training_config(template, "default", {}, paths)
    assert default == {}  # the config as checked in
