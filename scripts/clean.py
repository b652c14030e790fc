"""Remove what the project's commands generated, and keep what you edited.

Empties the given folders (corpus, training, packages) except for `.gitkeep`
and the files you edited since a command wrote them (`annotate`'s review files:
the checksum of what it wrote is kept in .NAME.sha256 beside each, and kept with
an edited file). Symbolic links inside the folders are removed as links, never
followed. A folder that is itself a symbolic link, or that lies outside the
project, is refused before anything is removed: cleaning it would delete files
outside the project.
"""

import os
from pathlib import Path
from typing import List, Tuple

import typer
from wasabi import msg

from ner_update.common import InputError
from ner_update.files import checksum_path, edited_since_written
from ner_update.runs import run_command

KEEP_NAMES = {".gitkeep"}


def check_folders(folders: List[Path], root: Path) -> None:
    """InputError for a folder that is a symbolic link or lies outside root."""
    for folder in folders:
        if folder.is_symlink():
            raise InputError(
                f"{folder} is a symbolic link (to {os.readlink(folder)}): clean does not delete files outside the "
                f"project through it; remove the link (or empty its target) yourself"
            )
        if not folder.resolve().is_relative_to(root.resolve()):
            raise InputError(f"{folder} is outside the project ({root.resolve()}): clean removes nothing there")


def plan(folders: List[Path], root: Path) -> Tuple[List[Path], List[Path]]:
    """(paths to remove, deepest first; edited files to keep). Links are listed as links, never followed."""
    check_folders(folders, root)
    remove: List[Path] = []
    kept: List[Path] = []
    for folder in (f for f in folders if f.is_dir()):
        for dirpath, dirnames, filenames in os.walk(folder, topdown=False):
            here = Path(dirpath)
            links = [here / name for name in dirnames if (here / name).is_symlink()]
            files = [here / name for name in filenames if name not in KEEP_NAMES]
            edited = {p for p in files if not p.is_symlink() and checksum_path(p).exists() and edited_since_written(p)}
            protected = edited | {checksum_path(p) for p in edited}
            kept.extend(sorted(edited))
            remove.extend(sorted(p for p in files if p not in protected) + links)
            if here != folder:
                remove.append(here)  # removed if empty once its files are gone
    return remove, kept


def remove_all(paths: List[Path]) -> int:
    """Remove files, links and the folders that are empty once their files are gone; return how many."""
    removed = 0
    for path in paths:
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        elif any(path.iterdir()):
            continue  # holds a kept file
        else:
            path.rmdir()
        removed += 1
    return removed


def main(
    folders: List[Path] = typer.Argument(
        ..., help="Folders of generated files to empty, e.g. corpus training packages"
    ),
):
    """Remove generated files; keep .gitkeep and files edited since they were written."""
    try:
        remove, kept = plan(folders, Path.cwd())
    except InputError as err:
        msg.fail(str(err), exits=1)
    removed = remove_all(remove)
    for path in kept:
        msg.warn(f"Kept {path}: edited since it was written (move it where it belongs, or delete it yourself)")
    msg.good(f"Removed {removed} generated files and folders from {', '.join(map(str, folders))}")


if __name__ == "__main__":
    run_command(main)
