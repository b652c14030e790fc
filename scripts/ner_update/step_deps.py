"""What each step depends on, so that weasel re-runs it exactly when something it reads changed, even
when the step is run alone.

- **Its code**: scripts/deps/<step>/ holds a link to each file of code the step runs: the scripts its
  command lines run (`python scripts/X.py`, `--code scripts/registered/X.py`), every project module they
  import, directly or through each other (and all of scripts/registered/, whose files load each other by
  path), and the non-Python files (templates) beside those modules. The links are committed; the step
  depends on the folder, and weasel hashes the linked files' content. A test checks them against the
  import graph, and `python .ci/link_step_code.py` rewrites them.
- **Its optional inputs**: corpus/inputs/<var>, a link to the input (or a file saying "off" when the var
  is empty), made by `check-vars`. weasel cannot depend on the var itself: an empty var would make it hash
  the whole project. An edited input is seen through the link, whether or not `check-vars` ran since.
"""

import ast
import functools
import os
import re
import shutil
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

import srsly

from ner_update.files import content_md5, write_atomic
from ner_update.inputs.project_vars import OPTIONAL_INPUTS

ROOT = Path(__file__).resolve().parents[2]
CODE_LINKS = Path("scripts") / "deps"
# the inputs a step may read that a var can turn off ("")
OFF_INPUTS = (*OPTIONAL_INPUTS, "pretrain_texts")


def module_file(name: str, scripts: Path) -> Optional[Path]:
    """The project file of a dotted module name (scripts/a/b.py or scripts/a/b/__init__.py), or None."""
    base = scripts.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(tree: ast.AST, scripts: Path) -> List[str]:
    """Modules a file imports (`from a import b` also names a.b, which may be a module), and the
    registered modules it loads through ner_update.registered (`registered("x")`, `register_all()`)."""
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "registered" and node.args and isinstance(node.args[0], ast.Constant):
                names.append(f"registered.{node.args[0].value}")
            elif node.func.id == "register_all":
                names += [f"registered.{path.stem}" for path in (scripts / "registered").glob("*.py")]
    return names


@functools.lru_cache(maxsize=None)
def _imported_modules(path: Path, scripts: Path, stamp: Tuple[int, int]) -> Tuple[Path, ...]:
    """The project modules one file imports (parsed once per version of the file: `stamp` is its mtime and size)."""
    names = imported_names(ast.parse(path.read_text(encoding="utf8")), scripts)
    return tuple(module for module in (module_file(name, scripts) for name in names) if module is not None)


def local_imports(path: Path, scripts: Path = ROOT / "scripts") -> Set[Path]:
    """The project modules (files under scripts/) a script imports, directly or through each other.
    Packages' __init__.py files are left out: they hold a docstring only (tested)."""
    found: Set[Path] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        stat = current.stat()
        for module in _imported_modules(current, scripts, (stat.st_mtime_ns, stat.st_size)):
            if module.name != "__init__.py" and module not in found:
                found.add(module)
                todo.append(module)
    return found


def command_scripts(command: dict) -> List[str]:
    """scripts/X.py run by `python scripts/X.py`, or loaded with `--code scripts/registered/X.py`, in a
    command's script lines (as project.yml spells them, relative to the project)."""
    scripts: Dict[str, None] = {}
    for line in command.get("script", []):
        scripts.update(dict.fromkeys(re.findall(r"\bpython3?\s+(scripts/[\w-]+\.py)", line)))
        for code in re.findall(r"--code[\s=]+(\S+)", line):
            scripts.update(dict.fromkeys(code.split(",")))
    return list(scripts)


def data_files(module: Path) -> List[Path]:
    """The non-Python files of a library module's own package (templates, styles), not of its sub-packages."""
    folder = module.parent
    if not (folder / "__init__.py").exists():  # a command or a registered file: no package data
        return []
    found = []
    for path in folder.rglob("*"):
        inside = path.relative_to(folder).parts[:-1]
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in inside:
            continue
        if not any((folder.joinpath(*inside[: i + 1]) / "__init__.py").exists() for i in range(len(inside))):
            found.append(path)
    return found


def step_code(command: dict, root: Path = ROOT) -> List[str]:
    """Every file of code a step runs: its scripts, the modules they import and those modules' data files."""
    files: Set[Path] = set()
    for script in command_scripts(command):
        path = root / script
        if not path.is_file():
            raise FileNotFoundError(f"project.yml: command {command['name']!r} runs {script}, which does not exist")
        files |= {path} | local_imports(path, root / "scripts")
    registered = root / "scripts" / "registered"
    if any(path.parent == registered for path in files):  # they load each other by path, unseen by imports
        files |= set(registered.glob("*.py"))
    files |= {data for module in list(files) for data in data_files(module)}
    return sorted(path.relative_to(root).as_posix() for path in files)


def step_inputs(command: dict) -> List[str]:
    """The optional inputs (vars) a step's command lines name."""
    text = " ".join(command.get("script", []))
    return [name for name in OFF_INPUTS if "${vars." + name + "}" in text]


def linked_steps(commands: Iterable[dict]) -> List[dict]:
    """The steps weasel may skip (those with outputs) that run project code."""
    return [
        command
        for command in commands
        if (command.get("outputs") or command.get("outputs_no_cache"))
        and not command.get("no_skip")
        and command_scripts(command)
    ]


def link_name(code_file: str) -> str:
    """A code file's link name in scripts/deps/<step>/: its path under scripts/ with dots for slashes and
    no .py (so no tool takes a link for a module): ner_update/inputs/formats.py -> ner_update.inputs.formats."""
    name = code_file.removeprefix("scripts/")
    return (name[:-3] if name.endswith(".py") else name).replace("/", ".")


def expected_code_links(root: Path = ROOT) -> Dict[str, Dict[str, str]]:
    """{step: {link name: link target, relative to the link}} for every linked step of root/project.yml."""
    commands = srsly.read_yaml(root / "project.yml").get("commands", [])
    return {
        command["name"]: {link_name(f): f"../../{f.removeprefix('scripts/')}" for f in step_code(command, root)}
        for command in linked_steps(commands)
    }


def code_link_problems(root: Path = ROOT) -> List[str]:
    """What differs between scripts/deps/ and the import graph (empty when they agree)."""
    problems = []
    expected = expected_code_links(root)
    folder = root / CODE_LINKS
    found = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    problems += [f"{CODE_LINKS / name}: no such step in project.yml" for name in sorted(found - set(expected))]
    for step, links in expected.items():
        have = {p.name: p for p in (folder / step).iterdir()} if (folder / step).is_dir() else {}
        problems += [f"{CODE_LINKS / step / n}: missing (-> {links[n]})" for n in sorted(set(links) - set(have))]
        problems += [f"{CODE_LINKS / step / n}: the step does not run this" for n in sorted(set(have) - set(links))]
        for name in sorted(set(links) & set(have)):
            if not have[name].is_symlink() or os.readlink(have[name]) != links[name]:
                problems.append(f"{CODE_LINKS / step / name}: not a link to {links[name]}")
    return problems


def write_code_links(root: Path = ROOT) -> List[str]:
    """Make scripts/deps/ agree with project.yml and the import graph; returns what it rewrote. The links are
    committed, but a copy may have made them files (`spacy project clone` copies without links, as does git on
    Windows without core.symlinks): `check-vars` calls this, so `all` puts them back. Where no link can be
    made, each is a file naming its target and the target's md5, which this rewrites when the code changes
    (then a step run alone sees edited code only after `check-vars`)."""
    folder = root / CODE_LINKS
    expected = expected_code_links(root)
    written = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.name not in expected:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            written.append(path.name)
    for step, links in expected.items():
        (folder / step).mkdir(parents=True, exist_ok=True)
        for path in sorted((folder / step).iterdir()):
            if path.name not in links:
                path.unlink()
                written.append(f"{step}/{path.name}")
        for name, target in links.items():
            path = folder / step / name
            if path.is_symlink() and os.readlink(path) == target:
                continue
            stand_in = f"{target} {content_md5(Path(os.path.normpath(folder / step / target)))}\n"
            if not path.is_symlink() and path.is_file() and path.read_text(encoding="utf8") == stand_in:
                continue
            if path.is_symlink() or path.exists():
                path.unlink()
            try:
                path.symlink_to(target)
            except OSError:  # no right to make links (Windows)
                write_atomic(path, stand_in)
            written.append(f"{step}/{name}")
    return written


def link_target(value: str, folder: Path) -> str:
    """Where folder/<var> points for an input path: relative inside the project (the working folder), absolute
    outside it, so a copied project keeps its links; a link the user made (the input itself) stays in the
    chain: only the folders above it are resolved, so pointing that link elsewhere is seen."""
    path = Path(value) if Path(value).is_absolute() else Path.cwd() / value
    path = Path(os.path.realpath(path.parent)) / path.name
    project = Path(os.path.realpath(Path.cwd()))
    if path == project or project in path.parents:
        return os.path.relpath(path, os.path.realpath(folder))
    return str(path)


def link_inputs(values: Dict[str, str], folder: Path) -> List[str]:
    """Make folder/<var> a link to each optional input given (a file saying "off" when the var is empty), each
    only when it changed; where the system cannot link, a file with the input's md5 (then an edited input is
    seen when check-vars next runs). Returns the vars that are off."""
    off = []
    folder.mkdir(parents=True, exist_ok=True)
    for name in OFF_INPUTS:
        if name not in values:
            continue
        value, link = values[name].strip(), folder / name
        off += [] if value else [name]
        found = bool(value) and Path(value).exists()
        target = link_target(value, folder) if found else None
        if target is not None and link.is_symlink() and os.readlink(link) == target:
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        if target is None:  # off, or (pretrain_texts, which only `pretrain` checks) not there yet
            write_atomic(link, f"missing: {value}\n" if value else "off\n")
            continue
        try:
            link.symlink_to(target)
        except OSError:  # e.g. Windows without the right to make links
            write_atomic(link, srsly.json_dumps({"path": value, "md5": content_md5(Path(value))}) + "\n")
    return off
