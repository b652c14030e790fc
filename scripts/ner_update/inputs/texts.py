"""The texts of raw-text and annotation files, for the steps that read texts rather than
annotations (bootstrap, rehearsal, pretrain, annotate, apply) and for the texts no step may
train on (the hand-checked sets). A record's text is found by its format (formats.record_text)."""

from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple

from ner_update.common import InputError, iter_lines, parse_json, read_utf8
from ner_update.inputs.formats import lone_surrogate, record_text
from ner_update.inputs.token_tags import SUFFIXES as TOKEN_TAG_SUFFIXES
from ner_update.inputs.token_tags import numbered_records


def iter_numbered_texts(path: Path, counts: Counter, max_length: Optional[int] = None) -> Iterator[Tuple[int, str]]:
    """Stream (line or record number, text) from a .txt (one text per line), .json
    (a list), .jsonl or token-per-line (.conll, .iob, ...: a text per sentence) file; a
    UTF-8 byte order mark is accepted.

    Records may be strings or annotation records of any format (`formats.record_text`),
    so annotation files can be read for their texts. Texts
    are stripped; blank ones are skipped and counted in counts["blank texts
    skipped"]. A bad record, a file that is not UTF-8 text, a text with a lone
    surrogate (a JSON escape such as "\\ud800") or a text longer than
    max_length (spaCy's nlp.max_length) raises InputError naming the file and
    line/record.
    """
    suffix = path.suffix.lower()
    if suffix in TOKEN_TAG_SUFFIXES:
        records: Iterator[Tuple[int, object]] = numbered_records(path)
        where = "line"
    elif suffix == ".json":
        data = parse_json(read_utf8(path), path)
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of texts or records")
        records = enumerate(data, start=1)
        where = "record"
    else:
        records = iter_lines(path, parse=suffix == ".jsonl")
        where = "line"
    for i, record in records:
        text = record_text(record)
        if not isinstance(text, str):
            raise InputError(f'{path}: {where} {i}: expected a string or {{"text": ...}}, got {record!r}')
        if (surrogate := lone_surrogate(text)) is not None:
            raise InputError(f"{path}: {where} {i}: the text has {surrogate}")
        text = text.strip()
        if max_length is not None and len(text) > max_length:
            raise InputError(
                f"{path}: {where} {i}: a text of {len(text):,} characters, longer than spaCy's limit of "
                f"{max_length:,} (nlp.max_length): split it into shorter texts"
            )
        if text:
            yield i, text
        else:
            counts["blank texts skipped"] += 1


def iter_texts(path: Path, counts: Counter) -> Iterator[str]:
    """The texts of iter_numbered_texts, without their numbers."""
    return (text for _, text in iter_numbered_texts(path, counts))


def excluded_texts(paths: Iterable[Path]) -> set:
    """The texts of files no step may train on (the hand-checked sets): every text of each."""
    return {text for path in paths for text in iter_texts(path, Counter())}


def read_texts(path: Path) -> Tuple[List[str], int]:
    """All texts of a file and the number of blank lines/records skipped."""
    counts: Counter = Counter()
    texts = list(iter_texts(path, counts))
    return texts, counts["blank texts skipped"]
