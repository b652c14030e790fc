"""apply on the local engine: span records in sorted shards, byte-identical with 1 and 2 workers,
resume after an interruption (no half shard), other settings refused or replaced, bad input
named by file and line with nothing written, a clear message when Dask is asked for and missing."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import List

import pytest
import spacy
import srsly

import apply
import scaling
from conftest import ROOT, run_cli
from ner_update.scale import span_shards
from ner_update.scale.engine import EngineOptions
from tiny import build_tiny_base, old_label_sentences

TEXTS_TXT = ["Alice bought an iPhone X today.", "", "Nothing here.", "Pixel 7 or iPhone X?"]
TEXTS_JSONL = ["Alice likes Paris.", "I need a new phone."]


@pytest.fixture(scope="module")
def ruler_model(tmp_path_factory) -> Path:
    """A pipeline in seconds: a blank English pipeline with an entity_ruler."""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(
        [
            {"label": "GADGET", "pattern": "iPhone X"},
            {"label": "GADGET", "pattern": "Pixel 7"},
            {"label": "PERSON", "pattern": "Alice"},
        ]
    )
    path = tmp_path_factory.mktemp("ruler") / "model"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A small statistical pipeline (tok2vec, tagger, ner), trained here in seconds."""
    return build_tiny_base(tmp_path_factory.mktemp("tiny"))


def write_inputs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "b.txt").write_text("\n".join(TEXTS_TXT) + "\n", encoding="utf8")
    srsly.write_jsonl(folder / "a.jsonl", [{"text": t} for t in TEXTS_JSONL])
    return folder


def read_shards(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def run_apply(model, inputs, output, *extra):
    return run_cli(apply.main, [model, inputs, "--output", output, *extra])


def test_records_in_sorted_shards(tmp_path, ruler_model):
    inputs = write_inputs(tmp_path / "in")
    code, out = run_apply(ruler_model, inputs, tmp_path / "out", "--shard-size", "2")
    assert code == 0, out
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["manifest.json", "shard-00000.jsonl", "shard-00001.jsonl", "shard-00002.jsonl"]
    records = [r for name in files[1:] for r in srsly.read_jsonl(tmp_path / "out" / name)]
    # files in name order (a.jsonl first), texts in file order; the blank line is counted, not written
    assert [(r["source"], r["line"]) for r in records] == [
        ("a.jsonl", 1),
        ("a.jsonl", 2),
        ("b.txt", 1),
        ("b.txt", 3),
        ("b.txt", 4),
    ]
    assert records[0] == {
        "text": "Alice likes Paris.",
        "spans": [{"start": 0, "end": 5, "label": "PERSON", "text": "Alice"}],
        "source": "a.jsonl",
        "line": 1,
    }
    assert [s["text"] for s in records[4]["spans"]] == ["Pixel 7", "iPhone X"]
    assert list(records[0]) == ["text", "spans", "source", "line"]
    assert "Wrote 3 shards (5 entities)" in out and "1 blank texts skipped" in out


def test_two_local_workers_write_the_same_bytes(tmp_path, tiny_model):
    folder = tmp_path / "in"
    folder.mkdir()
    srsly.write_jsonl(folder / "texts.jsonl", [{"text": t} for t, _ in old_label_sentences(120, seed=7)])
    outputs = {}
    for workers in (1, 2):
        code, out = run_apply(
            tiny_model, folder, tmp_path / f"out{workers}", "--shard-size", "25", "--workers", workers
        )
        assert code == 0, out
        outputs[workers] = read_shards(tmp_path / f"out{workers}")
    assert len(outputs[1]) == 1 + 5
    assert outputs[1] == outputs[2]
    assert any(b'"label":"PER"' in content for content in outputs[1].values())


def children(pid: int) -> List[int]:
    """The processes whose parent is `pid` and that are not zombies (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError):  # ended meanwhile
            continue
        if int(ppid) == pid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the workers in /proc")
@pytest.mark.parametrize("engine", ["local", "dask"])
def test_the_workers_end_when_apply_is_killed(tmp_path, ruler_model, engine):
    """kill -9 leaves a pool (or a local Dask cluster) no chance to shut down: each worker must notice on its own."""
    if engine == "dask" and importlib.util.find_spec("distributed") is None:
        pytest.skip("Dask is not installed (requirements-distributed.txt)")
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "texts.txt").write_text("".join(f"Text {i}: Alice bought an iPhone X.\n" for i in range(200_000)))
    command = [sys.executable, str(ROOT / "scripts" / "apply.py"), str(ruler_model), str(inputs)]
    command += ["--output", str(tmp_path / "out"), "--shard-size", "50", "--workers", "2", "--engine", engine]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: List[int] = []
    pool: List[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            workers = children(process.pid)  # the pool's workers and multiprocessing's resource tracker
            pool = [pid for pid in workers if b"spawn_main" in command_line(pid)]
            if len(pool) == 2 and len(list((tmp_path / "out").glob("shard-*.jsonl"))) >= 4:
                break
            time.sleep(0.2)
        assert process.poll() is None and len(pool) == 2, "apply ended or never started its workers"
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while any(map(alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if alive(pid)]
    finally:
        process.kill()
        process.wait()
        for pid in workers:  # what this test started, ended however the test went
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_an_interrupted_run_resumes_and_leaves_no_half_shard(tmp_path, ruler_model, monkeypatch):
    inputs = write_inputs(tmp_path / "in")
    code, out = run_apply(ruler_model, inputs, tmp_path / "full", "--shard-size", "2")
    assert code == 0, out
    expected = read_shards(tmp_path / "full")

    # interrupted while the second shard is written: its content never reaches its name
    output = tmp_path / "out"
    real_fsync, calls = span_shards.os.fsync, Counter()

    def failing_fsync(fd):
        calls["n"] += 1
        if calls["n"] == 3:  # the manifest, shard 0, then shard 1
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(span_shards.os, "fsync", failing_fsync)
    planned = span_shards.plan(str(ruler_model), [inputs], 2)
    with pytest.raises(KeyboardInterrupt):
        span_shards.apply(str(ruler_model), planned, output, EngineOptions(shard_size=2))
    monkeypatch.undo()
    assert sorted(p.name for p in output.iterdir()) == ["manifest.json", "shard-00000.jsonl"]  # no temp file left
    shard0 = (output / "shard-00000.jsonl").stat().st_mtime_ns

    (output / ".shard-00002.jsonl.abc.tmp").write_text('{"half": ', encoding="utf8")  # a killed process's leftover
    code, out = run_apply(ruler_model, inputs, output, "--shard-size", "2")
    assert code == 0, out
    assert "1 shards were already written: kept" in out and "Wrote 2 shards" in out
    assert (output / "shard-00000.jsonl").stat().st_mtime_ns == shard0
    assert read_shards(output) == expected

    code, out = run_apply(ruler_model, inputs, output, "--shard-size", "2")
    assert code == 0 and "Wrote 0 shards" in out and read_shards(output) == expected


def test_other_settings_are_refused_or_replaced(tmp_path, ruler_model):
    inputs = write_inputs(tmp_path / "in")
    output = tmp_path / "out"
    assert run_apply(ruler_model, inputs, output, "--shard-size", "2")[0] == 0
    before = read_shards(output)
    code, out = run_apply(ruler_model, inputs, output, "--shard-size", "3")
    assert code == 1 and "holds the output of another run (different shard_size" in out and "--replace" in out
    assert read_shards(output) == before
    (inputs / "c.txt").write_text("One more text.\n", encoding="utf8")
    code, out = run_apply(ruler_model, inputs, output, "--shard-size", "2")
    assert code == 1 and "different inputs, texts" in out
    code, out = run_apply(ruler_model, inputs, output, "--shard-size", "3", "--replace")
    assert code == 0, out
    assert sorted(p.name for p in output.iterdir()) == ["manifest.json", "shard-00000.jsonl", "shard-00001.jsonl"]


def test_an_input_edited_to_the_same_size_is_a_change(tmp_path, ruler_model):
    """The manifest keys the inputs by content: an edit that keeps the size keeps no old shard."""
    inputs = write_inputs(tmp_path / "in")
    output = tmp_path / "out"
    assert run_apply(ruler_model, inputs, output, "--shard-size", "2")[0] == 0
    before = read_shards(output)
    text = (inputs / "b.txt").read_text(encoding="utf8")
    (inputs / "b.txt").write_text(text.replace("Nothing here", "NOTHING HERE"), encoding="utf8")
    code, out = run_apply(ruler_model, inputs, output, "--shard-size", "2")
    assert code == 1 and "different inputs" in out and read_shards(output) == before
    code, out = run_apply(ruler_model, inputs, output, "--shard-size", "2", "--replace")
    assert code == 0 and "NOTHING HERE" in "".join(p.read_text(encoding="utf8") for p in output.glob("shard-*"))


def test_the_output_is_never_among_the_inputs(tmp_path, ruler_model):
    inputs = write_inputs(tmp_path / "in")
    before = read_shards(inputs)
    for output, said in ((inputs / "applied", "would overwrite an input"), (tmp_path, "holds an input")):
        code, out = run_apply(ruler_model, inputs, output, "--replace")
        assert code == 1 and said in out, out
    assert read_shards(inputs) == before and not (inputs / "applied").exists()


def test_replace_deletes_only_what_a_manifest_vouches_for(tmp_path, ruler_model):
    inputs = write_inputs(tmp_path / "in")
    output = tmp_path / "out"
    output.mkdir()
    (output / "shard-mine.jsonl").write_text("my own file\n", encoding="utf8")
    code, out = run_apply(ruler_model, inputs, output, "--replace")
    assert code == 1 and "without a manifest.json: not apply's output" in out
    assert (output / "shard-mine.jsonl").read_text(encoding="utf8") == "my own file\n"
    (output / "shard-mine.jsonl").unlink()
    (output / "manifest.json").write_text('{"name": "my web app", "icons": []}', encoding="utf8")  # not apply's
    code, out = run_apply(ruler_model, inputs, output, "--replace")
    assert code == 1 and "not a readable manifest of apply's" in out
    assert (output / "manifest.json").read_text(encoding="utf8") == '{"name": "my web app", "icons": []}'


@pytest.mark.parametrize("broken", ["truncated", "folder"])
def test_an_unreadable_manifest_is_a_message(tmp_path, ruler_model, broken):
    inputs = write_inputs(tmp_path / "in")
    output = tmp_path / "out"
    assert run_apply(ruler_model, inputs, output)[0] == 0
    manifest = output / "manifest.json"
    if broken == "truncated":
        manifest.write_text(manifest.read_text(encoding="utf8")[:20], encoding="utf8")
    else:
        manifest.unlink()
        manifest.mkdir()
    code, out = run_apply(ruler_model, inputs, output)
    assert code == 1 and "not a readable manifest" in out and "Traceback" not in out


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("latin1.txt", "fine\nalso fine\ncaf\u00e9\n".encode("latin-1"), "latin1.txt: line 3, column 4: byte 0xE9"),
        ("bad.jsonl", b'{"text": "fine"}\n{"text": "broken"\n', "bad.jsonl: line 2: invalid JSON at column"),
        ("bad.json", b'["fine", {"label": 1}]', "bad.json: record 2: expected a string"),
    ],
)
def test_bad_input_names_file_and_line_and_writes_nothing(tmp_path, ruler_model, name, content, expected):
    inputs = write_inputs(tmp_path / "in")
    (inputs / name).write_bytes(content)
    code, out = run_apply(ruler_model, inputs, tmp_path / "out", "--shard-size", "1")
    assert code == 1 and expected in out, out
    assert not (tmp_path / "out").exists()


def test_missing_pipeline_and_empty_input_fail_without_output(tmp_path, ruler_model):
    inputs = write_inputs(tmp_path / "in")
    code, out = run_apply(tmp_path / "no_such_model", inputs, tmp_path / "out")
    assert code == 1 and "no pipeline folder or installed package" in out
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf8")
    code, out = run_apply(ruler_model, empty, tmp_path / "out")
    assert code == 1 and "No texts in" in out
    assert not (tmp_path / "out").exists()


def test_dask_engine_without_dask_says_how_to_install_it(tmp_path, ruler_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails as if not installed
    inputs = write_inputs(tmp_path / "in")
    code, out = run_apply(ruler_model, inputs, tmp_path / "out", "--engine", "dask")
    assert code == 1 and "pip install -r requirements-distributed.txt" in out
    assert not (tmp_path / "out").exists()
    code, out = run_apply(ruler_model, inputs, tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 1 and "needs the dask engine" in out


def test_scaling_measures_each_run(tmp_path, ruler_model):
    inputs = write_inputs(tmp_path / "in")
    args = [ruler_model, inputs, "--output", tmp_path / "scaling", "--repeats", "1,3", "--workers", "1"]
    code, out = run_cli(scaling.main, [*args, "--engines", "local", "--shard-size", "2"])
    assert code == 0, out
    runs = srsly.read_json(tmp_path / "scaling" / "scaling.json")["runs"]
    assert [(r["texts"], r["engine"], r["workers"]) for r in runs] == [(5, "local", 1), (15, "local", 1)]
    assert all(r["same"] and r["texts_per_s"] > 0 and r["worker_peak_rss_mib"][0] > 0 for r in runs)
    assert "| 15 | local | 1 |" in (tmp_path / "scaling" / "scaling.md").read_text(encoding="utf8")
