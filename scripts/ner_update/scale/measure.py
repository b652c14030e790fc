"""Measuring how `apply` scales: each run of span_shards.apply in a fresh process (its peak memory
its own), over the input texts repeated to a size, with the engine and workers asked for; its
texts/s, CPU time and peak RSS of the driver and of each worker, and the shards' md5 (the same
shards whatever ran them). The runs' table as scaling.json and scaling.md.
"""

import hashlib
import os
import platform
import time
from collections import Counter
from multiprocessing import get_context
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import spacy
import srsly

from ner_update.files import write_atomic
from ner_update.scale.engine import Engine, engine_options, peak_rss
from ner_update.scale.span_shards import apply, iter_records, plan

MIB = 1024 * 1024


def parse_list(value: str, kind=int) -> list:
    return [kind(v.strip()) for v in value.split(",") if v.strip()]


def checked_setup(model: str, inputs: List[Path], engines_value: str, shard_size: int) -> Tuple[List[Engine], list]:
    """The engines of "local,dask" and the input files of apply's plan; ValueError for an unknown
    engine, EngineError for one that cannot start here, InputError for a bad input."""
    engines = [Engine(e) for e in parse_list(engines_value, str)]
    for engine in engines:
        engine_options(engine, 1)
    return engines, plan(model, inputs, shard_size).files


def machine_info(model: str) -> Dict:
    """What the figures depend on: CPUs, load average now, Python and spaCy versions, the pipeline."""
    return {
        "cpus": os.cpu_count(),
        "load_before": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "model": model,
    }


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


def measure_size(
    model: str, source: Path, n_texts: int, tmp: Path, engines: List[Engine], workers: List[int], shard_size: int
) -> Iterator[Dict]:
    """Every engine and worker count over one input, one row each as it is measured ("error" when it
    failed); speed-up against 1 worker of the same engine, and whether the shards are the first run's."""
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
            yield row
            for path in out.glob("*"):
                path.unlink()


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


def write_results(output_dir: Path, rows: List[Dict], machine: Dict) -> Tuple[Path, Path]:
    """scaling.json (the machine and every run) and scaling.md (the table) in `output_dir`; their paths."""
    json_path, md_path = output_dir / "scaling.json", output_dir / "scaling.md"
    write_atomic(json_path, srsly.json_dumps({"machine": machine, "runs": rows}, indent=2))
    write_atomic(md_path, markdown(rows, machine))
    return json_path, md_path
