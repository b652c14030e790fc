"""Write the set training picks its checkpoint on, and the checked set's part that chose nothing.

The `checkpoint_set` var names the set: "checked_dev" (a part of the
hand-checked real-text set) or "dev" (the split of the annotations). With
"checked_dev", the checked set is split by a hash of each text (stable across
runs and machines, whatever the order): `checkpoint_share` of it picks the
checkpoint (--output), the rest is the test part (--test-output), which no step
chooses anything on. With "dev", the dev split picks the checkpoint and the
whole checked set is the test part. "checked_dev" falls back to "dev", with a
warning, when the checked set has no docs (`convert` writes it empty when
vars.checked_dev is "").
"""

import shutil
from pathlib import Path

import typer
from spacy.tokens import DocBin
from wasabi import msg

from ner_update.evaluation.held_out import CheckpointSet as Choice
from ner_update.evaluation.held_out import split_by_text
from ner_update.files import atomic_path
from ner_update.runs import run_command


def main(
    checked_dev: Path = typer.Argument(..., exists=True, dir_okay=False, help="The checked set (.spacy, may be empty)"),
    dev: Path = typer.Argument(..., exists=True, dir_okay=False, help="The dev split of the annotations (.spacy)"),
    output: Path = typer.Option(..., "--output", dir_okay=False, help="Where to write the checkpoint set (.spacy)"),
    test_output: Path = typer.Option(
        ..., "--test-output", dir_okay=False, help="Where to write the checked set's test part (.spacy)"
    ),
    choice: Choice = typer.Option(Choice.checked_dev, "--use", help="The set to pick checkpoints on"),
    share: float = typer.Option(
        0.5, "--checkpoint-share", min=0.05, max=0.95, help="The checked set's share that picks the checkpoint"
    ),
):
    """Write the checkpoint set to --output and the checked set's untouched part to --test-output."""
    checked = DocBin(store_user_data=True).from_disk(checked_dev)
    if choice == Choice.checked_dev and len(checked) == 0:
        msg.warn(
            f"checkpoint_set is checked_dev, but {checked_dev} has no docs (no checked dev set): "
            f"training picks its checkpoint on {dev} instead"
        )
        choice = Choice.dev
    if choice == Choice.checked_dev:
        pick, test = split_by_text(checked, share)
        source = f"{len(pick)} of the {len(checked)} docs of {checked_dev}"
        outputs = ((pick, output), (test, test_output))
    else:
        pick, test = DocBin(store_user_data=True).from_disk(dev), checked
        source = f"{dev} ({len(pick)} docs)"
        outputs = ((dev, output), (checked_dev, test_output))  # byte copies: evaluate scores a copy once
    if len(pick) == 0:
        msg.fail(f"{source} has no docs: training needs a set to pick its checkpoint on", exits=1)
    for written, path in outputs:
        with atomic_path(path) as tmp:
            if isinstance(written, Path):
                shutil.copyfile(written, tmp)
            else:
                written.to_disk(tmp)
    msg.good(f"Training picks its checkpoint on {source}, written to {output}")
    msg.info(f"The checked set's test part, which chooses nothing: {len(test)} docs, written to {test_output}")


if __name__ == "__main__":
    run_command(main)
