"""Export `annotate`'s review file as tasks to correct in Label Studio or Prodigy.

Label Studio: a JSON list of tasks, the suggestions as predictions (import it
into a project with the NER template; export the result as JSON into the
annotations folder). Prodigy: JSONL tasks for `ner.manual`. The formats:
scripts/ner_update/inputs/export.py.
"""

from pathlib import Path

import srsly
import typer
from wasabi import msg

from ner_update.common import InputError
from ner_update.files import write_atomic
from ner_update.inputs.export import TOOLS, export_tasks
from ner_update.inputs.guards import refuse_overwriting_inputs
from ner_update.inputs.patterns import blank_pipeline
from ner_update.runs import run_command


def main(
    review_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="annotate's review file (JSONL)"),
    tool: str = typer.Option("label-studio", "--to", help=f"The tool: {', '.join(TOOLS)}"),
    output_path: Path = typer.Option(..., "--output", dir_okay=False, help="Where to write the tasks"),
    lang: str = typer.Option("en", "--lang", help="Language whose tokenizer the spans must align with"),
):
    """Turn a review file into an annotation tool's tasks."""
    try:
        refuse_overwriting_inputs([output_path], [review_path])
        tasks = export_tasks(review_path, tool, blank_pipeline(lang))
    except (InputError, ValueError) as err:
        msg.fail(str(err), exits=1)
    if tool == "prodigy":
        content = "".join(srsly.json_dumps(task) + "\n" for task in tasks)
    else:
        content = srsly.json_dumps(tasks, indent=2)
    write_atomic(output_path, content)
    msg.good(f"Wrote {len(tasks)} {tool} tasks to {output_path}")


if __name__ == "__main__":
    run_command(main)
