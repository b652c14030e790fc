"""Run a pipeline over a folder of raw texts and write its entities as sharded span records.

One JSONL record per text, {"text", "spans": [{"start", "end", "label",
"text"}], "source", "line"}, in shards of --shard-size texts
(OUTPUT/shard-00000.jsonl, ...), in input order. Finished shards are kept and
skipped when the command runs again (an interrupted run resumes); the work runs
on this machine (--workers processes) or on a Dask cluster (--engine dask).
The work itself is in span_shards.py.
"""

from pathlib import Path
from typing import List

import typer
from tqdm import tqdm
from wasabi import msg

from ner_update.common import InputError
from ner_update.pipelines import GpuOption, use_gpu
from ner_update.runs import run_command
from ner_update.scale.engine import (
    Engine,
    EngineError,
    EngineOption,
    SchedulerOption,
    WorkersOption,
    engine_options,
)
from ner_update.scale.span_shards import apply, plan


def main(
    model: str = typer.Argument(..., help="Pipeline to run: package name or path, e.g. training/pipeline"),
    inputs: List[Path] = typer.Argument(
        ..., exists=True, help="Raw texts: .txt (one per line), .json (list) or .jsonl, or folders of them"
    ),
    output_dir: Path = typer.Option(..., "--output", file_okay=False, help="Folder of the shards (and manifest.json)"),
    shard_size: int = typer.Option(5000, "--shard-size", min=1, help="Texts per output shard (and per task)"),
    engine: EngineOption = Engine.local,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = "",
    gpu_id: GpuOption = -1,
    replace: bool = typer.Option(
        False,
        "--replace",
        help="If OUTPUT holds shards of another run (other pipeline, inputs or shard size), delete them",
    ),
) -> None:
    """Write a pipeline's entities over raw texts as sharded span records; resumes an interrupted run."""
    try:
        use_gpu(gpu_id)
        options = engine_options(engine, workers, scheduler, shard_size)
        planned = plan(model, inputs, shard_size)
    except (InputError, EngineError, ValueError) as err:
        msg.fail(str(err), exits=1)
    if planned.n_texts == 0:
        msg.fail(f"No texts in {', '.join(map(str, inputs))}", exits=1)
    msg.info(f"{planned.n_texts:,} texts in {len(planned.files)} files: {planned.n_shards} shards of {shard_size:,}")
    with tqdm(total=planned.n_texts, desc="apply", unit="text", disable=None) as bar:
        try:
            summary = apply(model, planned, output_dir, options, progress=bar.update, replace=replace)
        except (InputError, EngineError) as err:
            msg.fail(str(err), exits=1)
    if summary.shards_kept:
        msg.info(f"{summary.shards_kept} shards were already written: kept")
    rows = sorted(summary.labels.items())
    if rows:
        msg.table(rows, header=("label", "entities"), divider=True)
    blanks = planned.skipped["blank texts skipped"]
    msg.good(
        f"Wrote {summary.shards_written} shards ({summary.spans:,} entities) to {output_dir} "
        f"({blanks} blank texts skipped)"
    )


if __name__ == "__main__":
    run_command(main)
