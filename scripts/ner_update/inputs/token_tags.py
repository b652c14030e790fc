"""Token-per-line annotation files (CoNLL, IOB): each sentence becomes a span record.

A line holds a token and its entity tag, the tag last (`token<TAB>tag`, or columns separated by spaces
with the tag in the last one, as in CoNLL-2003); a blank line ends a sentence; `-DOCSTART-` lines and
`#` comments are skipped. Tags are BIO (IOB2: `B-LABEL`, `I-LABEL`, `O`); an `I-` tag that does not
continue an entity of its label starts one, so IOB1 files read the same way. The sentence's text
is its tokens joined by single spaces, so each entity's offsets are exact; the record goes on through
FORMATS as a span record (`{"text", "spans"}`), with the file and line of the sentence's first token.
"""

from pathlib import Path
from typing import Iterator, List, Tuple

from ner_update.common import InputError

SUFFIXES = (".conll", ".iob", ".iob2", ".bio")


def _sentences(path: Path) -> Iterator[Tuple[int, List[Tuple[int, str, str]]]]:
    """(line of the first token, [(line, token, tag)]) per sentence."""
    rows: List[Tuple[int, str, str]] = []
    with path.open(encoding="utf-8-sig") as handle:
        for i, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if rows:
                    yield rows[0][0], rows
                rows = []
                continue
            if line.startswith("-DOCSTART-") or line.startswith("#"):
                continue
            columns = line.split("\t") if "\t" in line else line.split()
            token, tag = columns[0].strip(), columns[-1].strip()
            if len(columns) < 2 or not token or not (tag == "O" or tag[:2] in ("B-", "I-") and len(tag) > 2):
                raise InputError(
                    f"{path}: line {i}: expected a token and a BIO tag (B-LABEL, I-LABEL or O), got {line!r}"
                )
            rows.append((i, token, tag))
    if rows:
        yield rows[0][0], rows


def span_record(rows: List[Tuple[int, str, str]]) -> dict:
    """A sentence's span record: its tokens joined by spaces, and its entities' character offsets."""
    text, spans, current = "", [], None
    for _, token, tag in rows:
        begin = len(text) + (1 if text else 0)
        text = f"{text} {token}" if text else token
        if tag != "O" and tag.startswith("I-") and current is not None and current["label"] == tag[2:]:
            current["end"] = len(text)  # the entity goes on
            continue
        current = None if tag == "O" else {"start": begin, "end": len(text), "label": tag[2:]}
        if current is not None:
            spans.append(current)
    return {"text": text, "spans": spans}


def numbered_records(path: Path) -> Iterator[Tuple[int, dict]]:
    """(line of its first token, span record) per sentence of a token-per-line file."""
    found = False
    for line, rows in _sentences(path):
        found = True
        yield line, span_record(rows)
    if not found:
        raise InputError(f"{path}: the file is empty")


def iter_token_tag_records(path: Path) -> Iterator[Tuple[str, dict]]:
    """(where, span record) per sentence of a token-per-line file."""
    return ((f"{path}: line {line}", record) for line, record in numbered_records(path))
