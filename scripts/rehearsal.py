"""Annotate text with the base pipeline's own entity predictions (silver data).

Runs only the components the ner needs (the ner, plus the tok2vec/transformer
it listens to, if any), batched, over
- raw texts that are not evaluation texts (any number of files: text like the
  base's training data, and texts from the user's own domain): the silver
  rehearsal examples and the teacher's texts;
- the new-label train and dev docs (their tokens kept): the base's old-label
  predictions that training merges into the new-label examples.

The ner runs on the engine (--engine, --workers: scripts/ner_update/scale/engine.py); the
outputs are the same whatever runs it. The work is in ner_update/update/silver.py.
"""

from collections import Counter
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from ner_update.common import exits_on_input_error
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
from ner_update.scale.jobs import ner_components
from ner_update.update.silver import base_predictions, label_counts, load_ner_base, rehearsal_texts, write_outputs


@exits_on_input_error
def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    train_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="New-label training corpus (.spacy)"),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="New-label dev corpus (.spacy)"),
    output_dir: Path = typer.Argument(
        ..., file_okay=False, help="Writes rehearsal.spacy and NAME_base_ents.spacy for each corpus here"
    ),
    texts_paths: List[Path] = typer.Option(
        ..., "--texts", exists=True, dir_okay=False, help="Raw rehearsal texts (.txt/.json/.jsonl), never evaluation's"
    ),
    exclude: List[str] = typer.Option(
        [], "--exclude", help="A file whose texts are never rehearsed on (a hand-checked set); '' none; repeatable"
    ),
    extra_paths: List[Path] = typer.Option(
        [],
        "--corpus",
        exists=True,
        dir_okay=False,
        help="Another corpus (.spacy) to store the base's predictions on, as NAME_base_ents.spacy; repeatable",
    ),
    batch_size: int = typer.Option(256, "--batch-size", help="Texts per batch for nlp.pipe"),
    limit: int = typer.Option(0, "--limit", help="Use at most this many rehearsal texts per file (0: all)"),
    engine: EngineOption = Engine.local,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = "",
    gpu_id: GpuOption = -1,
):
    """Store the base pipeline's entity predictions as silver data."""
    try:
        use_gpu(gpu_id)
        options = engine_options(engine, workers, scheduler)
    except (EngineError, ValueError) as err:
        msg.fail(str(err), exits=1)
    nlp = load_ner_base(base_model)
    counts: Counter = Counter()
    found = rehearsal_texts(texts_paths, exclude, limit, counts)
    if found.excluding:
        msg.info(f"{found.left_out} rehearsal texts left out: they are in {', '.join(exclude)}")
    msg.info(f"Running only {ner_components(nlp)} of {nlp.component_names}")
    outputs = base_predictions(nlp, base_model, options, found.texts, [train_path, dev_path, *extra_paths], batch_size)
    write_outputs(output_dir, outputs)
    labels = sorted(nlp.get_pipe("ner").labels)
    msg.table(label_counts(outputs, labels), header=("output", "docs", *labels), divider=True)
    msg.good(f"Wrote {', '.join(outputs)} to {output_dir} ({counts['blank texts skipped']} blank texts skipped)")


if __name__ == "__main__":
    run_command(main)
