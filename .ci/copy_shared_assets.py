"""CI only: copy local copies of the remote assets into place, matched by checksum.

CI machines have no network, but keep copies of the project's remote assets in
../shared/data under other names. This copies each file whose md5 equals a
project.yml asset's checksum to that asset's dest (in the project, or in a copy
of it), so that `spacy project assets` then finds them in place and skips the
download. On a machine with network, `spacy project assets` fetches everything
and this script is not needed.
"""

import os
import shutil
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg
from weasel.util import get_checksum, load_project_config

ROOT = Path(__file__).resolve().parent.parent


def link_on_the_way(dest: str, project_dir: Path) -> Optional[Path]:
    """The first symbolic link among dest's folders and dest itself (inside the project), if any."""
    path = project_dir
    for part in Path(dest).parts:
        path = path / part
        if path.is_symlink():
            return path
    return None


def copy_shared_assets(source: Path, project_dir: Path = ROOT) -> list:
    """Copy matching files; return the asset dests that are now in place.

    Raises ValueError, before copying anything, if a dest it would write is (or
    lies behind) a symbolic link: the copy would land outside the project.
    """
    by_checksum = {get_checksum(p): p for p in sorted(source.iterdir()) if p.is_file()} if source.is_dir() else {}
    placed, to_copy = [], []
    for asset in load_project_config(project_dir).get("assets", []):
        dest, checksum = project_dir / asset["dest"], asset.get("checksum")
        if "url" not in asset or not checksum:
            continue
        if dest.exists() and get_checksum(dest) == checksum:
            placed.append(asset["dest"])
        elif checksum in by_checksum:
            to_copy.append((by_checksum[checksum], asset["dest"]))
    for _, dest in to_copy:
        link = link_on_the_way(dest, project_dir)
        if link is not None:
            raise ValueError(f"{link} is a symbolic link (to {os.readlink(link)}): refusing to copy {dest} through it")
    for copy_from, dest in to_copy:
        (project_dir / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copy_from, project_dir / dest)
        placed.append(dest)
    return placed


def main(
    source: Path = typer.Argument(
        ROOT.parent / "shared" / "data", help="Folder with local copies of the remote assets"
    ),
    project_dir: Path = typer.Option(
        ROOT, "--project", file_okay=False, help="The project (or copy of it) to copy them into"
    ),
):
    """Copy local copies of remote assets into place, matched by md5 checksum."""
    try:
        placed = copy_shared_assets(source, project_dir)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    if not source.is_dir():
        msg.warn(f"{source} does not exist: nothing copied")
    msg.info(f"{len(placed)} remote assets in place: {', '.join(placed) or 'none'}")


if __name__ == "__main__":
    typer.run(main)
