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

import tempfile
from pathlib import Path
from typing import Dict, List

import typer
from wasabi import msg

from ner_update.common import InputError
from ner_update.runs import run_command
from ner_update.scale.engine import EngineError
from ner_update.scale.measure import (
    checked_setup,
    machine_info,
    measure_size,
    parse_list,
    write_repeated,
    write_results,
)


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
        engines, files = checked_setup(model, inputs, engines_value, shard_size)
    except (InputError, EngineError, ValueError) as err:
        msg.fail(str(err), exits=1)
    machine = machine_info(model)
    rows: List[Dict] = []
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        for times in parse_list(repeats):
            source = Path(tmp) / f"texts-x{times}" / "texts.jsonl"
            source.parent.mkdir()
            n_texts = write_repeated(files, times, source, limit)
            msg.info(f"{n_texts:,} texts ({times}x the input) in {source}")
            for row in measure_size(model, source, n_texts, Path(tmp), engines, parse_list(workers_value), shard_size):
                if "error" in row:
                    msg.warn(f"{row['engine']}, {row['workers']} workers: {row['error']}")
                else:
                    msg.info(
                        f"{row['engine']}, {row['workers']} workers: {row['texts_per_s']} texts/s, {row['seconds']} s"
                    )
                rows.append(row)
            source.unlink()
    json_path, md_path = write_results(output_dir, rows, machine)
    msg.good(f"Wrote {json_path} and {md_path}")


if __name__ == "__main__":
    run_command(main)
