"""Shared fixtures: scripts on the path, a CLI runner, the optional public data,
and a guard that the tests leave the project's own folders untouched."""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import typer
from typer.testing import CliRunner

os.environ.setdefault("ANSI_COLORS_DISABLED", "1")  # plain wasabi output to assert on

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
PROJECT_FOLDERS = ("corpus", "training", "assets", "packages")
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / ".ci"))

from copy_shared_assets import copy_shared_assets  # noqa: E402


def run_cli(main, args, extra_args: bool = False):
    """Run a script's typer `main` in-process; return (exit_code, output).

    The output has its whitespace collapsed, as wasabi wraps long lines.
    extra_args: let unknown --section.key options through (config overrides).
    """
    app = typer.Typer()
    settings = {"allow_extra_args": True, "ignore_unknown_options": True} if extra_args else {}
    app.command(context_settings=settings)(main)
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(result.output.split())


def run_python(code: str, *args: str, cwd: Path, path: List[Path]) -> List[str]:
    """Run `code` in a fresh Python whose PYTHONPATH is `path` alone (e.g. an installed wheel's site folder);
    its stdout lines, once it exited 0."""
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": os.pathsep.join(map(str, path))}
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def package_code_paths() -> list:
    """The --code files of project.yml's `package` command: what a wheel brings along."""
    import re

    from weasel.util import load_project_config

    (command,) = [c for c in load_project_config(ROOT)["commands"] if c["name"] == "package"]
    (line,) = [line for line in command["script"] if "spacy package" in line]
    return [ROOT / f for f in re.search(r"--code (\S+)", line).group(1).split(",")]


def snapshot(root: Path, folders=PROJECT_FOLDERS) -> Dict[str, Tuple[int, int]]:
    """(size, mtime) of every file under the project's own folders."""
    state = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                state[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return state


def changes(before: Dict, after: Dict) -> list:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


@pytest.fixture(scope="session", autouse=True)
def project_folders_untouched():
    """Fails the run if any test wrote into corpus/, training/, assets/ or packages/."""
    before = snapshot(ROOT)
    yield
    changed = changes(before, snapshot(ROOT))
    assert not changed, f"tests changed the project's own files: {changed[:20]}"


@pytest.fixture(scope="session")
def public_assets(tmp_path_factory):
    """A copy of the project with the public assets (from ../shared/data) in its
    assets/ folder, in a temporary directory; skip if they are absent."""
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(
        ROOT,
        project,
        symlinks=True,  # scripts/deps/ holds links, as in a clone
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(
            ".git",
            "__pycache__",
            ".pytest_cache",
            "corpus",
            "training",
            "packages",
            "project.lock",
            "en_ewt-ud-*",
            "btc-*",
            "course-*",
            "wnut17-*",
        ),
    )
    for name in ("corpus", "training", "packages"):
        (project / name).mkdir(exist_ok=True)
    placed = copy_shared_assets(SHARED_DATA, project_dir=project)
    needed = [
        "assets/en_ewt-ud-dev.conllu",
        "assets/en_ewt-ud-test.conllu",
        "assets/en_ewt-ud-dev.iob2",
        "assets/en_ewt-ud-test.iob2",
        "assets/btc-train.conll",
        "assets/btc-dev.conll",
        "assets/btc-test.conll",
        "assets/raw_texts/wnut17-yt-comments.txt",
    ]
    missing = [p for p in needed if p not in placed]
    if missing:
        pytest.skip(
            f"public data files not found in {SHARED_DATA} (missing: {', '.join(missing)}); "
            "fetch them with `python -m spacy project assets` to run this test"
        )
    return project


@pytest.fixture(scope="session")
def cluster_vectors_dir(tmp_path_factory):
    """Small static vectors in the `vectors` step's format (a blank pipeline),
    for training the base's ner config without the full cluster table."""
    import spacy

    from ner_update.base import vectors

    clusters = {"Bob": 0b10110, "Mary": 0b11110, "Boston": 0b0110, "London": 0b1110, "Google": 0b1001, "the": 0b11}
    nlp = spacy.blank("en")
    nlp.vocab.vectors = vectors.cluster_vectors(clusters, width=8, prefixes=[2])
    path = tmp_path_factory.mktemp("cluster_vectors")
    nlp.to_disk(path)
    return path
