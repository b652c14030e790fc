"""Small helpers shared by the project's scripts (not by the --code module)."""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Tuple, Union

import srsly


class InputError(ValueError):
    """A bad input file or record; the message names the file and the record."""


def read_texts(path: Path) -> Tuple[List[str], int]:
    """Read raw texts from .txt (one per line), .json (list of strings) or .jsonl.

    Returns the texts and the number of blank lines/records skipped.
    """
    suffix = path.suffix.lower()
    if suffix == ".txt":
        lines = path.read_text(encoding="utf8").splitlines()
        texts = [line.strip() for line in lines]
        return [t for t in texts if t], sum(1 for t in texts if not t)
    try:
        data = list(srsly.read_jsonl(path)) if suffix == ".jsonl" else srsly.read_json(path)
    except ValueError as err:
        raise InputError(f"{path}: invalid JSON: {err}") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of texts")
    texts = []
    for i, record in enumerate(data, start=1):
        text = record.get("text") if isinstance(record, dict) else record
        if not isinstance(text, str):
            where = "line" if suffix == ".jsonl" else "record"
            raise InputError(f"{path}: {where} {i}: expected a string or {{\"text\": ...}}, got {record!r}")
        texts.append(text.strip())
    return [t for t in texts if t], sum(1 for t in texts if not t)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_atomic(path: Path, content: Union[str, bytes]) -> None:
    """Write text or bytes to `path` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf8")


DEFAULT_BASE = "training/base/model-best"


def load_base(name: str, **kwargs):
    """spacy.load the base pipeline, or fail with a message saying how to get one."""
    import spacy
    from wasabi import msg

    try:
        return spacy.load(name, **kwargs)
    except OSError:
        msg.fail(
            f"Base pipeline '{name}' not found. Build the default offline base with "
            f"`python -m spacy project run base` (it is written to {DEFAULT_BASE}), or "
            f"download a trained one with `python -m spacy project run download` and set "
            f"vars.base_model to 'en_core_web_sm'.",
            exits=1,
        )
