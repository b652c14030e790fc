"""Download the base pipeline `base_model` names, when it is a package spaCy can download.

A path (the offline base, a pipeline of your own) or a package already installed
(under its name or a re-upload's, see `ner_update.pipelines.PACKAGE_ALIASES`) needs
no download: the command says so and does nothing.
"""

from pathlib import Path

import typer
from spacy.cli import download
from spacy.util import is_package
from wasabi import msg

from ner_update.pipelines import resolve_base_name
from ner_update.runs import run_command


def main(base_model: str = typer.Argument(..., help="The base pipeline: a package name or a path (vars.base_model)")):
    """Run `spacy download` for vars.base_model unless it is a path or already installed."""
    resolved = resolve_base_name(base_model)
    if resolved != base_model or is_package(base_model):
        msg.info(f"{base_model} is installed ({resolved}): nothing to download")
    elif Path(base_model).exists() or "/" in base_model or base_model.startswith("."):
        msg.info(f"vars.base_model is a path ({base_model}): nothing to download")
    else:
        download(base_model)


if __name__ == "__main__":
    run_command(main)
