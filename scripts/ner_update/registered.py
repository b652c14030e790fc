"""The code spaCy loads with `--code` (scripts/registered/), imported for the project's own steps.

Those files import nothing from the project and load each other by path, under
their own module names (`spacy package --code` copies them flat into the package);
this module imports them the same way, so each is loaded once whoever asks first.
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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
