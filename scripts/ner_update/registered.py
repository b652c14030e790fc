"""The code spaCy loads with `--code` (scripts/registered/), imported for the project's own steps,
and load_base, which loads a pipeline that may hold its components.

Those files import nothing from the project and load each other by path, under
their own module names (`spacy package --code` copies them flat into the package);
this module imports them the same way, so each is loaded once whoever asks first.
"""

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from ner_update.common import InputError, one_line
from ner_update.pipelines import DEFAULT_BASE, pipeline_problem, resolve_base_name

REGISTERED_DIR = Path(__file__).resolve().parent.parent / "registered"


def registered(name: str) -> ModuleType:
    """scripts/registered/NAME.py, imported once under the name NAME."""
    if name not in sys.modules:
        path = REGISTERED_DIR / f"{name}.py"
        if not path.is_file():
            raise ModuleNotFoundError(f"no registered module {name!r} in {REGISTERED_DIR}")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def register_all() -> None:
    """Register every component, architecture, reader and callback of scripts/registered/
    (what a shipped pipeline or a training config may name)."""
    for path in sorted(REGISTERED_DIR.glob("*.py")):
        registered(path.stem)


def load_base(name: str, **kwargs):
    """spacy.load a base pipeline; InputError saying how to get one when it is not there, and what is
    wrong when it does not load. A pipeline folder may hold this project's components (the shipped
    pipeline given as the base): they are registered first. An installed package brings its own code
    (`spacy package --code`), registered as spaCy imports it: the project's copy registered first would
    clash with it (spaCy's E004)."""
    import spacy

    resolved = resolve_base_name(name)
    if Path(resolved).is_dir():
        register_all()
    try:
        return spacy.load(resolved, **kwargs)
    except OSError as err:
        if Path(resolved).is_dir():
            problem = pipeline_problem(Path(resolved)) or one_line(err)
            raise InputError(f"Base pipeline '{name}' is not a loadable pipeline folder: {problem}") from None
        raise InputError(
            f"Base pipeline '{name}' not found. Build the default offline base with "
            f"`python -m spacy project run base` (it is written to {DEFAULT_BASE}), or "
            f"download a trained one with `python -m spacy project run download` and set "
            f"vars.base_model to 'en_core_web_sm'."
        ) from None
    except ValueError as err:
        factory = re.search(r"\[E002\] Can't find factory for '([^']+)'", str(err))
        if factory is not None:  # neither spaCy nor this project registers it
            raise InputError(
                f"Base pipeline '{name}' has a component whose code is not installed (factory "
                f"'{factory.group(1)}', not spaCy's nor this project's): install the package that provides "
                "it, or give the pipeline as an installed package built with `spacy package --code`"
            ) from None
        problem = pipeline_problem(Path(resolved)) if Path(resolved).is_dir() else None
        raise InputError(f"Base pipeline '{name}' does not load: {problem or one_line(err)}") from None
