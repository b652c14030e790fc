"""Write the evaluation metrics and the loss log as one self-contained HTML page.

The page says what was trained on what (data counts, the base, the recipe), puts the
systems' scores side by side (best F highlighted), draws the losses and the dev score
over the steps, and shows the confusion table, the errors on the new labels, where the
shipped pipeline disagrees with the base on old labels (displaCy) and the
frozen-components check. Everything is inline (CSS, SVG charts, no JavaScript): the page
opens offline. Missing parts are said to be missing; a bad input file fails with a
message naming it and nothing is written.

The work is done by the library: report_inputs (reading and checking the inputs),
report_page and report_tables (what the page shows), report_charts (matplotlib charts)
and the jinja2 templates in scripts/ner_update/report/templates/.
"""

from pathlib import Path
from typing import Annotated

import typer
from wasabi import msg

from ner_update.common import InputError
from ner_update.files import write_atomic
from ner_update.report.inputs import read_inputs
from ner_update.report.page import render_page
from ner_update.runs import run_command

SECTIONS_SAID_MISSING = ("new_label_sets", "old_label_sets", "confusion", "errors", "frozen_outputs")


def main(
    metrics_path: Annotated[Path, typer.Argument(help="Metrics written by evaluate.py, e.g. training/metrics.json")],
    losses_path: Annotated[
        Path, typer.Argument(help="Loss log written during training by ner_update.loss_logger.v1 (JSONL)")
    ],
    output_path: Annotated[Path, typer.Argument(help="Where to write the HTML page, e.g. training/report.html")],
    base_info_path: Annotated[
        Path | None,
        typer.Option("--base-info", help="The base's description written by base.py (base_model.json)"),
    ] = None,
    train_path: Annotated[
        Path | None, typer.Option("--train", help="Training data (.spacy) to count docs and spans per label in")
    ] = None,
    dev_path: Annotated[
        Path | None, typer.Option("--dev", help="Development data (.spacy) to count docs and spans per label in")
    ] = None,
    max_examples: Annotated[
        int, typer.Option("--max-examples", min=0, help="Example texts shown per set for errors and disagreements")
    ] = 20,
) -> None:
    """Write one self-contained HTML page with the data, scores, loss curves, errors and disagreements."""
    inputs = [metrics_path, losses_path, base_info_path, train_path, dev_path]
    if any(p is not None and p.resolve() == output_path.resolve() for p in inputs):
        msg.fail(f"{output_path}: the output would overwrite an input file", exits=1)
    try:
        inp = read_inputs(
            metrics_path, losses_path, base_info_path, {"train": train_path, "dev": dev_path}, max_examples
        )
    except InputError as err:
        msg.fail(str(err), exits=1)
    page = render_page(inp)
    write_atomic(output_path, page)
    if not inp.losses:
        msg.warn(f"{losses_path} has no records: the page has no loss curves")
    missing = [key for key in SECTIONS_SAID_MISSING if not getattr(inp.metrics, key)]
    if missing:
        msg.warn(f"Not in {metrics_path} (the page says so): {', '.join(missing)}")
    msg.good(f"Wrote {output_path} ({len(page) // 1024} KB)")


if __name__ == "__main__":
    run_command(main)
