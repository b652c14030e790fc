"""benchmark: runs recipe configs on tiny data, two at a time, and writes a well-formed table (no timing asserted)."""

import shutil

import srsly
from spacy.tokens import DocBin

import benchmark
from conftest import run_cli
from test_update import prepare_data
from tiny import build_tiny_base, old_label_sentences, write_old_label_corpus


def test_benchmark_runs_recipe_configs_and_writes_a_table(tmp_path):
    base = build_tiny_base(tmp_path / "base")
    corpus = prepare_data(tmp_path, base)
    write_old_label_corpus(corpus / "ewt_heldout.spacy", 40, seed=6)
    write_old_label_corpus(corpus / "btc_heldout.spacy", 30, seed=8)
    # the layout `all` writes: the checked set's test part, the other sites' set (empty: its var is ""),
    # and the checkpoint set `rehearsal` annotated
    shutil.copy(corpus / "dev.spacy", corpus / "checked_test.spacy")
    DocBin().to_disk(corpus / "checked_other.spacy")
    shutil.copy(corpus / "dev.spacy", corpus / "checkpoint.spacy")
    shutil.copy(corpus / "dev_base_ents.spacy", corpus / "checkpoint_base_ents.spacy")
    srsly.write_jsonl(corpus / "domain_heldout.jsonl", [{"text": t} for t, _ in old_label_sentences(20, seed=9)])
    recipes = ["second_ner", "single_ner"]
    out = tmp_path / "bench"
    args = [base, corpus, corpus / "patterns.jsonl", "--output", out, "--recipes", ",".join(recipes)]
    code, output = run_cli(benchmark.main, [*args, "--seeds", "0,1", "--max-steps", "10"])
    assert code == 0, output
    text = (out / "benchmark.md").read_text(encoding="utf8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| recipe | test P"))
    header = lines[start].strip("| ").split(" | ")
    assert (
        "test F" in header
        and "other F" in header
        and "relabel test" in header
        and "agr BTC" in header
        and "speed" in header
    )
    rows = [line.strip("| ").split(" | ") for line in lines[start + 2 : start + 2 + len(recipes)]]
    assert [r[0] for r in rows] == [f"`{r}`" for r in recipes] and all(len(r) == len(header) for r in rows)
    assert "lowest agreement" in text and "Packages: " in text and "spacy 3.8" in text
    data = srsly.read_json(out / "benchmark.json")
    assert len(data["runs"]) == 4 and [s["recipe"] for s in data["summary"]] == recipes
    assert all(s["frozen_unchanged"] for s in data["summary"])
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(recipes)
    summary = {s["recipe"]: s for s in data["summary"]}
    # the second ner changes a base entity only where a new-label entity wins: near-total agreement
    assert summary["second_ner"]["ewt_agreement"] >= 90.0
    assert {g["recipe"] for g in data["goals"]} == set(recipes) and data["targets"]["speed"] == 0.9


def test_unknown_recipe_fails_before_any_training(tmp_path):
    code, output = run_cli(benchmark.main, ["base", tmp_path, __file__, "--recipes", "rules_win_second_ner"])
    assert code == 1 and "Unknown recipes ['rules_win_second_ner']" in output
