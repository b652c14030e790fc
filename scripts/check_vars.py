"""Check the project's vars before any long step runs.

`all` runs this first, with every var as NAME=VALUE (and `package` with the
package's name and version): a wrong recipe, label map, language, base,
package name or version, path or override fails here, in seconds, with what is
wrong and what would be right, instead of after training or with a traceback;
so does a --vars.NAME that project.yml does not define (a misspelt var would
otherwise be ignored). Only the vars given are checked. With --output, the
checked values are written as JSON. Raw texts, patterns and the checked sets
are optional (an empty value turns one off); with --inputs, NAME there becomes
a link to each (a file saying "off" for an empty one), and the steps that read
an input depend on its link, so an edited input re-runs what reads it. The
checks: scripts/ner_update/inputs/project_vars.py; the links:
scripts/ner_update/step_deps.py.
"""

from pathlib import Path
from typing import List, Optional

import srsly
import typer
from wasabi import msg

from ner_update.files import write_atomic
from ner_update.inputs.project_vars import (
    OFF,
    check_vars,
    parse_assignments,
    project_var_names,
    unknown_vars,
    weasel_var_overrides,
)
from ner_update.runs import run_command
from ner_update.step_deps import OFF_INPUTS, link_inputs, write_code_links


def main(
    assignments: List[str] = typer.Argument(..., help="Vars to check as NAME=VALUE, e.g. recipe=second_ner"),
    output_path: Optional[Path] = typer.Option(
        None, "--output", dir_okay=False, help="Write the checked vars here (JSON), only if all are fine"
    ),
    inputs_dir: Optional[Path] = typer.Option(
        None, "--inputs", file_okay=False, help=f"Link each optional input ({', '.join(OFF_INPUTS)}) here as NAME"
    ),
    relink: bool = typer.Option(
        False, "--relink", help="Put back scripts/deps/ (each step's links to its code) where a copy made them files"
    ),
):
    """Check project vars before the long steps run."""
    try:
        values = parse_assignments(assignments)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    problems = unknown_vars(weasel_var_overrides(), project_var_names()) + check_vars(values)
    if problems:
        for problem in problems:
            msg.fail(problem)
        msg.fail(
            f"{len(problems)} bad vars: fix them in project.yml or on the command line (--vars.NAME VALUE)", exits=1
        )
    if output_path is not None:
        write_atomic(output_path, srsly.json_dumps(values, indent=2, sort_keys=True))
    if relink:
        rewritten = write_code_links(Path.cwd())
        if rewritten:
            msg.info(f"Rewrote {len(rewritten)} of the steps' code links in scripts/deps/ (e.g. {rewritten[0]})")
    if inputs_dir is not None:
        for name in link_inputs(values, inputs_dir):
            msg.info(f"vars.{name} is empty: {OFF[name]}")
    if values.get("checkpoint_set") == "checked_dev" and "checked_dev" in values and not values["checked_dev"].strip():
        msg.warn("checkpoint_set is checked_dev but there is no checked dev set: training picks its checkpoint on dev")
    msg.good(f"{len(values)} vars checked")


if __name__ == "__main__":
    run_command(main)
