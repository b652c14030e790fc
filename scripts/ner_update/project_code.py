"""The project's code as the steps' deps see it.

A step depends on its command script and on the library folders it imports
(`scripts/ner_update/inputs`, ..., `scripts/registered`), not on a list of files
that repeats the import graph (tests/test_project.py keeps the folders honest).
weasel hashes a folder with every file in it, Python's bytecode cache
(`__pycache__`) included: a cache file first written by a later step would make
an earlier step look changed. `check-vars`, the first step of `all`, compiles
every module first, so the cache is in place before any step records its deps
and changes only when a source file does.
"""

import compileall
from pathlib import Path
from typing import Iterable

SCRIPTS_DIR = Path(__file__).resolve().parent.parent
CODE_DIRS = (SCRIPTS_DIR / "ner_update", SCRIPTS_DIR / "registered")


def compile_code(dirs: Iterable[Path] = CODE_DIRS) -> bool:
    """Write the bytecode cache of every module in `dirs` that lacks a current one; False if one does not compile."""
    return all(compileall.compile_dir(str(path), quiet=2) for path in dirs)
