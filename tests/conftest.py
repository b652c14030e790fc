"""Shared fixtures: scripts on the path, a CLI runner, and the optional public data."""
import os
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

os.environ.setdefault("ANSI_COLORS_DISABLED", "1")  # plain wasabi output to assert on

ROOT = Path(__file__).parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "scripts"))


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


@pytest.fixture(scope="session")
def public_assets():
    """The UD/UNER assets in assets/, copied from ../shared/data; skip if absent."""
    from copy_shared_assets import copy_shared_assets

    placed = copy_shared_assets(SHARED_DATA)
    needed = ["assets/en_ewt-ud-dev.conllu", "assets/en_ewt-ud-test.conllu", "assets/en_ewt-ud-dev.iob2", "assets/en_ewt-ud-test.iob2"]
    missing = [p for p in needed if p not in placed]
    if missing:
        pytest.skip(f"public UD English-EWT / UNER files not found in {SHARED_DATA} (missing: {', '.join(missing)}); "
                    "fetch them with `python -m spacy project assets` to run this test")
    return ROOT / "assets"
