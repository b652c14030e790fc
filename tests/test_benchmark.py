"""benchmark: runs on tiny data and writes a well-formed table (no timing asserted)."""
import srsly

import benchmark
from conftest import run_cli
from test_update import prepare_data
from tiny import build_tiny_base, gadget_records, write_old_label_corpus


def test_benchmark_runs_and_writes_a_table(tmp_path):
    base = build_tiny_base(tmp_path / "base")
    corpus = prepare_data(tmp_path, base)
    write_old_label_corpus(corpus / "ewt_heldout.spacy", 40, seed=6)
    srsly.write_json(tmp_path / "course.json", gadget_records(30, seed=7))
    recipes = ["anchor", "default", "two_ner"]
    out = tmp_path / "bench"
    code, output = run_cli(benchmark.main, [
        base, corpus, "--output", out, "--recipes", ",".join(recipes), "--seeds", "0,1", "--max-steps", "10",
        "--eval-frequency", "5", "--course-file", tmp_path / "course.json", "--rehearsal-texts", tmp_path / "raw.jsonl",
        "--repeats", "1",
    ])
    assert code == 0, output
    lines = (out / "benchmark.md").read_text(encoding="utf8").splitlines()
    header = lines[0].strip("| ").split(" | ")
    assert header[:4] == ["recipe", "new P", "new R", "new F"] and len(header) == 12
    rows = [line.strip("| ").split(" | ") for line in lines[2:2 + len(recipes)]]
    assert [r[0] for r in rows] == recipes
    assert all(len(r) == len(header) and " ± " in r[3] for r in rows)
    assert any(line.startswith("| convert (30 records)") for line in lines)
    assert any(line.startswith("| rehearsal annotation") for line in lines)
    data = srsly.read_json(out / "benchmark.json")
    assert len(data["runs"]) == 6 and [s["recipe"] for s in data["summary"]] == recipes
    assert all(s["frozen_unchanged"] for s in data["summary"])
    assert data["convert"]["ratio"] > 0 and data["rehearsal"]["components"] == ["ner"]
    assert "recipe" in output and "two_ner" in output
