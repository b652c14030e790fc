"""Measure how `apply` scales: texts/s and peak memory per worker, by engine, workers and input size.

The raw texts are written once per size into a temporary folder (the input
repeated 1x, 10x, ... as JSONL), and `apply` runs over each with every engine
and worker count asked for, each run in a fresh process (so its peak memory is
its own) into a temporary output folder. Per run: texts, seconds (wall clock,
from start-up to the last shard, pipeline loading included), texts/s, speed-up
against 1 worker of the same engine and size, the driver's and each worker's
peak RSS, the CPU time of the driver and of each worker process (start-up and
pipeline loading included; texts per worker CPU-second is the figure that does
not depend on what else the machine runs), and whether the shards are
byte-identical to the first run's of that size. Writes OUTPUT/scaling.json and OUTPUT/scaling.md.
"""

import hashlib
import os
import platform
import tempfile
import time
from collections import Counter
from multiprocessing import get_context
from pathlib import Path
from typing import Dict, List

import spacy
import srsly
import typer
from wasabi import msg

from ner_update.common import InputError, write_atomic
from ner_update.scale.engine import Engine, EngineError, engine_options, peak_rss
from ner_update.scale.span_shards import apply, iter_records, plan

MIB = 1024 * 1024


def write_repeated(files: List[Path], times: int, path: Path, limit: int = 0) -> int:
    """The texts of `files` (the first `limit`, 0: all), `times` over, as JSONL; the number written."""
    texts = [text for _, _, text in iter_records(files, Counter())]
    texts = texts[:limit] if limit else texts
    with path.open("w", encoding="utf8") as handle:
        for _ in range(times):
            for text in texts:
                handle.write(srsly.json_dumps({"text": text}) + "\n")
    return len(texts) * times


def shards_md5(folder: Path) -> str:
    digest = hashlib.md5()
    for path in sorted(folder.glob("shard-*.jsonl")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def measure_one(model: str, input_path: str, output_dir: str, engine: str, workers: int, shard_size: int, queue):
    """One apply run in this (fresh) process; puts its figures on `queue`."""
    try:
        start = time.perf_counter()
        options = engine_options(Engine(engine), workers, "", shard_size)
        planned = plan(model, [Path(input_path)], shard_size)
        summary = apply(model, planned, Path(output_dir), options)
        seconds = time.perf_counter() - start
        worker_cpu = sum(summary.worker_cpu_seconds.values())
        queue.put(
            {
                "texts": summary.texts,
                "seconds": round(seconds, 2),
                "texts_per_s": round(summary.texts / seconds, 1),
                "driver_cpu_s": round(time.process_time(), 1),
                "worker_cpu_s": sorted(round(v, 1) for v in summary.worker_cpu_seconds.values()),
                "texts_per_worker_cpu_s": round(summary.texts / worker_cpu, 1) if worker_cpu else None,
                "driver_peak_rss_mib": round(peak_rss() / MIB, 1),
                "worker_peak_rss_mib": sorted(round(v / MIB, 1) for v in summary.worker_peak_rss.values()),
                "shards_md5": shards_md5(Path(output_dir)),
            }
        )
    except Exception as err:  # reported by the parent, which goes on with the other runs
        queue.put({"error": f"{type(err).__name__}: {err}"})


def run_fresh(model: str, input_path: Path, output_dir: Path, engine: str, workers: int, shard_size: int) -> Dict:
    """measure_one in a new process (spawn), so that the peak memory figures are this run's alone."""
    context = get_context("spawn")
    queue = context.Queue()
    process = context.Process(
        target=measure_one, args=(model, str(input_path), str(output_dir), engine, workers, shard_size, queue)
    )
    process.start()
    result = queue.get()
    process.join()
    return result


def markdown(rows: List[Dict], machine: Dict) -> str:
    lines = [
        "# apply: scaling",
        "",
        f"Machine: {machine['cpus']} CPUs, load average {machine['load_before']} before the runs; "
        f"Python {machine['python']}, spaCy {machine['spacy']}, model `{machine['model']}`.",
        "",
        "| input texts | engine | workers | seconds | texts/s | speed-up | texts per worker CPU-s | driver CPU-s "
        "| worker CPU-s | driver peak RSS (MiB) | worker peak RSS (MiB) | same shards |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['input_texts']} | {r['engine']} | {r['workers']} | {r['error']} |" + " |" * 8)
            continue
        workers_rss = ", ".join(str(v) for v in r["worker_peak_rss_mib"])
        workers_cpu = ", ".join(str(v) for v in r["worker_cpu_s"])
        lines.append(
            f"| {r['texts']:,} | {r['engine']} | {r['workers']} | {r['seconds']} | {r['texts_per_s']} "
            f"| {r['speedup']} | {r['texts_per_worker_cpu_s']} | {r['driver_cpu_s']} | {workers_cpu} "
            f"| {r['driver_peak_rss_mib']} | {workers_rss} | {'yes' if r['same'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def parse_list(value: str, kind=int) -> list:
    return [kind(v.strip()) for v in value.split(",") if v.strip()]


def main(
    model: str = typer.Argument(..., help="Pipeline to run: package name or path, e.g. training/pipeline"),
    inputs: List[Path] = typer.Argument(..., exists=True, help="Raw texts: files or folders, as for apply"),
    output_dir: Path = typer.Option(..., "--output", file_okay=False, help="Writes scaling.json and scaling.md here"),
    repeats: str = typer.Option("1,10", "--repeats", help="Input sizes: the texts repeated this many times"),
    workers_value: str = typer.Option("1,2", "--workers", help="Worker counts to measure"),
    engines_value: str = typer.Option("local,dask", "--engines", help="Engines to measure"),
    shard_size: int = typer.Option(5000, "--shard-size", min=1, help="Texts per shard (and per task)"),
    limit: int = typer.Option(0, "--limit", min=0, help="Use only the first N texts (0: all); for a quick check"),
) -> None:
    """Measure apply's texts/s and peak memory per worker for each engine, worker count and input size."""
    try:
        engines = [Engine(e) for e in parse_list(engines_value, str)]
        for engine in engines:
            engine_options(engine, 1)
        files = plan(model, inputs, shard_size).files
    except (InputError, EngineError, ValueError) as err:
        msg.fail(str(err), exits=1)
    machine = {
        "cpus": os.cpu_count(),
        "load_before": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "model": model,
    }
    rows: List[Dict] = []
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        for times in parse_list(repeats):
            source = Path(tmp) / f"texts-x{times}" / "texts.jsonl"
            source.parent.mkdir()
            n_texts = write_repeated(files, times, source, limit)
            msg.info(f"{n_texts:,} texts ({times}x the input) in {source}")
            rows += measure_size(model, source, n_texts, Path(tmp), engines, parse_list(workers_value), shard_size)
            source.unlink()
    write_atomic(output_dir / "scaling.json", srsly.json_dumps({"machine": machine, "runs": rows}, indent=2))
    write_atomic(output_dir / "scaling.md", markdown(rows, machine))
    msg.good(f"Wrote {output_dir / 'scaling.json'} and {output_dir / 'scaling.md'}")


def measure_size(
    model: str, source: Path, n_texts: int, tmp: Path, engines: List[Engine], workers: List[int], shard_size: int
) -> List[Dict]:
    """Every engine and worker count over one input; speed-up against 1 worker of the same engine."""
    rows: List[Dict] = []
    reference = None
    for engine in engines:
        single = None
        for count in workers:
            out = tmp / f"out-{n_texts}-{engine.value}-{count}"
            result = run_fresh(model, source, out, engine.value, count, shard_size)
            row = {"input_texts": n_texts, "engine": engine.value, "workers": count, **result}
            if "error" not in row:
                reference = reference or row["shards_md5"]
                single = single or (row["texts_per_s"] if count == 1 else None)
                row["speedup"] = round(row["texts_per_s"] / single, 2) if single else None
                row["same"] = row["shards_md5"] == reference
                msg.info(f"{engine.value}, {count} workers: {row['texts_per_s']} texts/s, {row['seconds']} s")
            else:
                msg.warn(f"{engine.value}, {count} workers: {row['error']}")
            rows.append(row)
            for path in out.glob("*"):
                path.unlink()
    return rows


if __name__ == "__main__":
    typer.run(main)
