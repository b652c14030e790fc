"""Pre-annotate raw texts with a pipeline for review, pattern disagreements first.

Runs a pipeline (package name or path) over raw texts and, optionally, the EntityRuler patterns
that `bootstrap` reads over the same texts with only the tokenizer. Writes one JSONL span record
per text: the pipeline's entities as "spans" (the suggestion to correct) and both views in "meta",
texts where the two views disagree first. `convert` reads the file as it is (it ignores "meta"),
so a corrected copy can go straight into the annotations folder. Optionally writes a
self-contained displaCy page with both views, one above the other. The work: ner_update/review/.
"""

from pathlib import Path
from typing import Annotated

import typer
from spacy.language import Language
from wasabi import msg

from ner_update.common import exits_on_input_error
from ner_update.pipelines import GpuOption, use_gpu
from ner_update.registered import load_base
from ner_update.review.records import label_rows, write_review
from ner_update.review.request import Plan, Review, plan, read_request
from ner_update.review.suggestions import Item, predict, unknown_labels
from ner_update.runs import run_command
from ner_update.scale.engine import (
    Engine,
    EngineError,
    EngineOption,
    SchedulerOption,
    WorkersOption,
    engine_options,
)
from ner_update.scale.jobs import entity_components


@exits_on_input_error
def main(
    model: Annotated[
        str, typer.Argument(help="Pipeline to run: package name or path, e.g. training/updated/model-best")
    ],
    input_values: Annotated[list[str], typer.Argument(help="Raw texts: .txt, .json or .jsonl files, or folders")],
    output_path: Annotated[
        Path, typer.Option("--output", dir_okay=False, help="Where to write the span records to review (JSONL)")
    ],
    patterns_value: Annotated[
        str,
        typer.Option(
            "--patterns",
            help="EntityRuler patterns (JSONL, as for bootstrap); texts where they and the pipeline disagree come "
            "first; '' (empty): none",
        ),
    ] = "",
    labels_value: Annotated[
        str,
        typer.Option(
            "--labels",
            help="Comma-separated labels to keep, e.g. GADGET,PRODUCT (default: the patterns' labels, else all)",
        ),
    ] = "",
    html_path: Annotated[
        Path | None, typer.Option("--html", dir_okay=False, help="Also write a displaCy page of the records written")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Write at most this many records, disagreements first (0: all)")
    ] = 0,
    only_disagreements: Annotated[
        bool, typer.Option("--only-disagreements", help="Write only texts where patterns and pipeline disagree")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Texts per batch for nlp.pipe")] = 256,
    engine: EngineOption = Engine.local,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = "",
    gpu_id: GpuOption = -1,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the output files even if they were edited since annotate wrote them"),
    ] = False,
) -> None:
    """Pre-annotate raw texts with a pipeline for review; disagreements with the patterns first.
    Never replaces an output edited since annotate wrote it (checksums in .NAME.sha256 beside each)."""
    try:
        use_gpu(gpu_id)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    review = Review(output_path, html_path, only_disagreements, limit)
    given = read_request(input_values, patterns_value, labels_value, review, force)
    try:
        options = engine_options(engine, workers, scheduler)
    except (EngineError, ValueError) as err:
        msg.fail(str(err), exits=1)
    nlp = load_base(model)
    planned = plan(given, nlp.max_length, nlp.lang)
    announce(nlp, model, planned.labels)
    items = predict(model, planned, nlp.lang, options, batch_size)
    written = write_review(review, items, model, nlp.lang, planned)
    print_review(review, items, written, planned)


def announce(nlp: Language, model: str, labels: list | None) -> None:
    """Warn about labels the pipeline cannot predict; say which components run."""
    for label in unknown_labels(nlp, labels):
        msg.warn(f"Pipeline '{model}' has no entity component that knows {label}: it will predict none")
    msg.info(f"Running {entity_components(nlp)} of {nlp.pipe_names}")


def print_review(review: Review, items: list[Item], written: tuple, planned: Plan) -> None:
    """The counts, the spans per label, what was skipped and what was written."""
    selected, counts, shown = written
    msg.table(counts, divider=True, aligns=("l", "r"))
    header, rows = label_rows(items, shown, planned.patterns is not None)
    if rows:
        msg.table(rows, header=header, divider=True)
    msg.info(f"{planned.duplicates} duplicate texts merged, {planned.blanks} blank lines skipped")
    if not selected:
        msg.warn(f"No records to review: {review.output_path} is empty")
    disagreements = sum(item.disagreement for item in selected)
    msg.good(f"Wrote {len(selected)} records ({disagreements} disagreements) to {review.written}")


if __name__ == "__main__":
    run_command(main)
