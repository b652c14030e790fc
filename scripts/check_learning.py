"""Stop `package` when `evaluate` said learning failed.

evaluate judges learning on the set training picked its checkpoint on (a new
label under F 10 there, or the shipped pipeline below the patterns alone) and
writes its verdict to metrics.json. When learning failed, this prints what to
try and exits non-zero, so that `package` builds no wheel of a model that learned
nothing as if it had (vars.failed_learning "stop", the default); with "ship" it
packages anyway, and the report says at its top that learning failed.
"""

from pathlib import Path
from typing import Annotated

import typer
from wasabi import msg

from ner_update.common import InputError
from ner_update.evaluation.metrics_schema import load_metrics, measured_other_pipeline
from ner_update.inputs.project_vars import FailedLearning
from ner_update.runs import run_command


def main(
    metrics_path: Annotated[Path, typer.Argument(help="Metrics written by evaluate.py, e.g. training/metrics.json")],
    pipeline: Annotated[
        Path | None,
        typer.Option("--pipeline", file_okay=False, help="The pipeline to package: the one the metrics measured?"),
    ] = None,
    on_failure: Annotated[
        FailedLearning,
        typer.Option("--on-failure", help='When learning failed: "stop" (exit 1, nothing packaged) or "ship"'),
    ] = FailedLearning.stop,
) -> None:
    """Exit non-zero when evaluate said learning failed, unless told to ship anyway."""
    try:
        metrics = load_metrics(metrics_path)
        if pipeline is not None:
            measured_other_pipeline(metrics, metrics_path, pipeline)
    except InputError as err:
        msg.fail(str(err), exits=1)
    learning = metrics.learning
    if not learning.failed:
        msg.good(f"Learning worked ({metrics_path}: judged on {learning.checkpoint_set})")
        return
    for warning in learning.warnings:
        msg.warn(warning)
    if on_failure is FailedLearning.ship:
        msg.warn('Learning failed: packaging anyway, as vars.failed_learning is "ship" (the report says so at its top)')
        return
    msg.fail(
        f"Learning failed ({metrics_path}, judged on {learning.checkpoint_set}): nothing packaged. Do what the "
        "warnings above suggest and run `all` again, or package anyway with --vars.failed_learning ship",
        exits=1,
    )


if __name__ == "__main__":
    run_command(main)
