"""Write the set training picks its checkpoint on, as one file `train` reads.

The `checkpoint_set` var names the set: "checked_dev" (the hand-checked
real-text set) or "dev" (the split of the annotations). The chosen .spacy file
is copied to --output, so the `train` command line never changes with the
choice. "checked_dev" falls back to "dev", with a warning, when the checked set
has no docs (`convert` writes it empty when vars.checked_dev is "").
"""

import shutil
from enum import Enum
from pathlib import Path

import typer
from spacy.tokens import DocBin
from wasabi import msg

from ner_update.common import atomic_path


class Choice(str, Enum):
    checked_dev = "checked_dev"
    dev = "dev"


def n_docs(path: Path) -> int:
    return len(DocBin().from_disk(path))


def main(
    checked_dev: Path = typer.Argument(..., exists=True, dir_okay=False, help="The checked set (.spacy, may be empty)"),
    dev: Path = typer.Argument(..., exists=True, dir_okay=False, help="The dev split of the annotations (.spacy)"),
    output: Path = typer.Option(..., "--output", dir_okay=False, help="Where to write the chosen set (.spacy)"),
    choice: Choice = typer.Option(Choice.checked_dev, "--use", help="The set to pick checkpoints on"),
):
    """Copy the set training picks its checkpoint on to --output."""
    chosen = checked_dev if choice == Choice.checked_dev else dev
    if choice == Choice.checked_dev and n_docs(checked_dev) == 0:
        msg.warn(
            f"checkpoint_set is checked_dev, but {checked_dev} has no docs (no checked dev set): "
            f"training picks its checkpoint on {dev} instead"
        )
        chosen = dev
    if n_docs(chosen) == 0:
        msg.fail(f"{chosen} has no docs: training needs a set to pick its checkpoint on", exits=1)
    with atomic_path(output) as tmp:
        shutil.copyfile(chosen, tmp)
    msg.good(f"Training picks its checkpoint on {chosen} ({n_docs(chosen)} docs), copied to {output}")


if __name__ == "__main__":
    typer.run(main)
