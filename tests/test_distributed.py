"""The Dask engine on a local cluster started here (two worker processes): bootstrap, rehearsal,
annotate and apply write byte for byte what the local engine writes; both workers take part."""

from pathlib import Path

import pytest
import srsly

import annotate
import apply
import bootstrap
import convert
import rehearsal
from conftest import run_cli
from ner_update.scale import span_shards
from ner_update.scale.engine import Engine, EngineOptions, open_engine
from tiny import build_tiny_base, gadget_records, old_label_sentences

distributed = pytest.importorskip(
    "distributed", reason="Dask is not installed: python -m pip install -r requirements-distributed.txt"
)

PATTERNS = [
    {"label": "GADGET", "pattern": [{"LOWER": "steam"}, {"LOWER": "deck"}]},
    {"label": "GADGET", "pattern": "kindle oasis"},
    {"label": "GADGET", "pattern": [{"LOWER": "iphone"}, {"LOWER": "x"}]},
]


@pytest.fixture(scope="module")
def scheduler():
    """The address of a local Dask cluster of two single-threaded worker processes."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    )
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    """A tiny trained pipeline, raw texts (old-label sentences and gadget sentences), patterns, corpora."""
    root = tmp_path_factory.mktemp("data")
    texts = [t for t, _ in old_label_sentences(150, seed=11)] + [r[0] for r in gadget_records(150, seed=12)]
    (root / "raw").mkdir()
    srsly.write_jsonl(root / "raw" / "texts.jsonl", [{"text": t} for t in texts])
    srsly.write_jsonl(root / "patterns.jsonl", PATTERNS)
    srsly.write_json(root / "gadgets.json", gadget_records(60, seed=13))
    args = [root / "gadgets.json", "--train-output", root / "train.spacy", "--dev-output", root / "dev.spacy"]
    assert run_cli(convert.main, [*args, "--split", "random"])[0] == 0
    return {"root": root, "model": build_tiny_base(root / "base"), "raw": root / "raw", "texts": texts}


def contents(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def on_both_engines(run, tmp_path: Path, scheduler: str) -> dict:
    """Run `run(output folder, engine args)` locally and on the cluster; the files each wrote."""
    written = {}
    for name, engine_args in (("local", []), ("dask", ["--engine", "dask", "--scheduler", scheduler])):
        out = tmp_path / name
        out.mkdir()
        code, output = run(out, engine_args)
        assert code == 0, output
        written[name] = contents(out)
    assert written["local"], "nothing written"
    return written


def test_apply_on_dask_is_byte_identical_and_uses_both_workers(tmp_path, data, scheduler):
    def run(out, engine_args):
        return run_cli(apply.main, [data["model"], data["raw"], "--output", out, "--shard-size", 40, *engine_args])

    written = on_both_engines(run, tmp_path, scheduler)
    local = written["local"]
    assert len(local) == 1 + 8 and local == written["dask"]
    # a cluster started by apply itself (--workers 2), through the library: both workers ran shards
    planned = span_shards.plan(str(data["model"]), [data["raw"]], 40)
    options = EngineOptions(Engine.dask, workers=2, shard_size=40)
    summary = span_shards.apply(str(data["model"]), planned, tmp_path / "own", options)
    assert contents(tmp_path / "own") == local
    assert len(summary.worker_peak_rss) == 2 and all(rss > 0 for rss in summary.worker_peak_rss.values())


def test_bootstrap_on_dask_is_byte_identical(tmp_path, data, scheduler):
    def run(out, engine_args):
        args = [data["raw"], "--patterns", data["root"] / "patterns.jsonl", "--output", out / "annotations.json"]
        args += ["--rehearsal-output", out / "rehearsal.jsonl", "--heldout-output", out / "heldout.jsonl"]
        return run_cli(
            bootstrap.main, [*args, "--negative-ratio", 0.5, "--heldout-texts", 20, "--shard-size", 70, *engine_args]
        )

    written = on_both_engines(run, tmp_path, scheduler)
    assert written["local"] == written["dask"]
    assert len(srsly.read_json(tmp_path / "dask" / "annotations.json")) > 20


def test_rehearsal_on_dask_is_byte_identical(tmp_path, data, scheduler):
    root = data["root"]

    def run(out, engine_args):
        args = [data["model"], root / "train.spacy", root / "dev.spacy", out, "--texts", data["raw"] / "texts.jsonl"]
        return run_cli(rehearsal.main, [*args, "--batch-size", 16, *engine_args])

    written = on_both_engines(run, tmp_path, scheduler)
    assert sorted(written["dask"]) == ["dev_base_ents.spacy", "rehearsal.spacy", "train_base_ents.spacy"]
    assert written["local"] == written["dask"]


def test_annotate_on_dask_is_byte_identical(tmp_path, data, scheduler):
    def run(out, engine_args):
        args = [data["model"], data["raw"], "--output", out / "review.jsonl", "--html", out / "review.html"]
        return run_cli(annotate.main, [*args, "--patterns", data["root"] / "patterns.jsonl", "--labels", "GADGET,PER", "--batch-size", 16, *engine_args])  # fmt: skip

    written = on_both_engines(run, tmp_path, scheduler)
    assert written["local"] == written["dask"]
    records = list(srsly.read_jsonl(tmp_path / "dask" / "review.jsonl"))
    assert len(records) == len(set(data["texts"])) and records[0]["meta"]["disagreement"]


def test_workers_of_a_cluster_started_here_do_not_profile():
    """A worker's profiler would keep up to 1,000 s of stack samples (memory that grows through a
    long run) and cost CPU: the local cluster's workers run without it."""
    with open_engine(EngineOptions(engine=Engine.dask, workers=1)):
        callbacks = distributed.default_client().run(lambda dask_worker: sorted(dask_worker.periodic_callbacks))
    assert [name for names in callbacks.values() for name in names if name.startswith("profile")] == []
