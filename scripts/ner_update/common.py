"""What every part of the library shares: InputError, reading JSON, JSONL and UTF-8 text with file and
line in every error, the one folder policy, the one label rule, optional inputs, and the commands' exit
on an InputError. Writing outputs is in files.py, the pipeline a step runs in pipelines.py."""

import codecs
import json
import os
import re
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

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


def files_under(folder: Path, suffixes: Tuple[str, ...]) -> List[Path]:
    """Every file under a folder with these suffixes, sorted by path: subfolders too, linked ones
    followed (each real folder once), hidden files and folders left out; InputError for a link
    with one of the suffixes whose target is gone."""
    found, seen = [], set()
    for root, folders, names in os.walk(folder, followlinks=True):
        if os.path.realpath(root) in seen:  # a link back up the tree, or a second link to one folder
            folders[:] = []
            continue
        seen.add(os.path.realpath(root))
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            path = Path(root) / name
            if name.startswith(".") or path.suffix.lower() not in suffixes:
                continue
            if not path.exists():
                raise InputError(f"{path}: a link to {os.readlink(path)}, which does not exist")
            found.append(path)
    return sorted(found)


def expand_text_files(paths: Iterable[Path], suffixes: Tuple[str, ...] = TEXT_SUFFIXES) -> List[Path]:
    """The one folder policy, for raw texts and annotations alike: files as given; a folder
    becomes every file under it with these suffixes (files_under), sorted by path; InputError
    for a folder with none."""
    files: List[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = files_under(path, suffixes)
        if not found:
            names = ", ".join(suffixes[:-1]) + " or " + suffixes[-1] if len(suffixes) > 1 else suffixes[0]
            raise InputError(f"{path}: no {names} files in this folder or its subfolders")
        files.extend(found)
    return files


def iter_lines(path: Path, parse: bool) -> Iterator[Tuple[int, object]]:
    """(line number, line) of a UTF-8 text file (a BOM is accepted), or (line number, parsed JSON) with
    parse, "" for a blank line; InputError with file, line and column for invalid JSON or bytes."""
    # file iteration splits at newlines only, not at U+2028 etc. (valid inside JSON strings)
    with path.open(encoding="utf-8-sig", newline=None) as handle:
        try:
            for i, line in enumerate(handle, start=1):
                if "\0" in line:
                    raise InputError(f"{path}: line {i}: NUL characters: binary or UTF-16 data, not UTF-8 text")
                if not parse:
                    yield i, line
                elif line.strip():
                    yield i, parse_json(line.rstrip("\n"), path, line=i)  # a column on this line
                else:
                    yield i, ""
        except UnicodeDecodeError:
            raise decoding_error(path) from None


def iter_jsonl(path: Path) -> Iterator[Tuple[int, object]]:
    """(line number, record) of every non-blank line of a UTF-8 JSONL file (a BOM is
    accepted); InputError with file, line and column for invalid JSON or bytes."""
    return ((i, record) for i, record in iter_lines(path, parse=True) if record != "")


def read_utf8(path: Path) -> str:
    """The text of a UTF-8 file (a BOM is accepted); InputError naming file and line if it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise decoding_error(path) from None


def decoding_error(path: Path) -> InputError:
    """Why `path` is not UTF-8 text: UTF-16, or the line and column of the first bad byte."""
    with path.open("rb") as handle:
        head = handle.read(8192)
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return InputError(f"{path}: UTF-16 text (it starts with a UTF-16 byte order mark): save it as UTF-8")
        handle.seek(0)
        for i, raw in enumerate(handle, start=1):
            raw = raw[len(codecs.BOM_UTF8) :] if i == 1 and raw.startswith(codecs.BOM_UTF8) else raw
            try:
                raw.decode("utf8")
            except UnicodeDecodeError as err:
                column = len(raw[: err.start].decode("utf8")) + 1
                where = f"{path}: line {i}, column {column}: byte 0x{raw[err.start]:02X}"
                if b"\0" in head:
                    return InputError(f"{where}: the file is binary data, not text")
                return InputError(f"{where} is not UTF-8 (Latin-1 or Windows-1252?): save the file as UTF-8")
    return InputError(f"{path}: not UTF-8 text")


MAX_LABEL_LENGTH = 100
LABEL_RULE = (
    "a label is a printable name without spaces, with at least one letter or digit, "
    f"of at most {MAX_LABEL_LENGTH} characters"
)


def optional_path(value: Optional[str], what: str) -> Optional[Path]:
    """An optional input given as a string: None if empty (the input is off), else
    the path; InputError if it does not exist. An empty var reaches a script as
    an empty argument ("--patterns ''"), which typer's Path would read as '.'."""
    if value is None or not str(value).strip():
        return None
    path = Path(value)
    if not path.exists():
        raise InputError(f"{path}: {what} not found (an empty value turns it off)")
    return path


def is_valid_label(label: object) -> bool:
    """The one label rule (LABEL_RULE), for annotations, patterns and the labels a command is given."""
    if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH or not label.isprintable():
        return False  # isprintable: no NUL, escape codes, zero-width or lone surrogate characters
    return not re.search(r"\s", label) and bool(re.search(r"[^\W_]", label))


def one_line(err: BaseException) -> str:
    """An exception's message on one line, for messages that quote it."""
    return " ".join(str(err).split()) or type(err).__name__


def exits_on_input_error(main: Callable) -> Callable:
    """A command's main that ends with the message and exit code 1 on an InputError (library code
    raises; the command decides to exit)."""
    import functools

    from wasabi import msg

    @functools.wraps(main)
    def command(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except InputError as err:
            msg.fail(str(err), exits=1)

    return command
