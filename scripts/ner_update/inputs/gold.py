"""Validate annotations against a tokenizer, merge them per text, split them and
write them as DocBins; prints nothing (convert.py is the command).

Memory: a record keeps its text, spans and token count, never a Doc; docs are
made one at a time while the .spacy file is written (docbin_writer).
"""

import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Set, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from ner_update.inputs.docbin_writer import write_docs
from ner_update.inputs.formats import (
    Annotation,
    RecordError,
    Span,
    check_label,
    iter_raw_records,
    parse_record,
    record_text,
)

INCORRECT_SPANS_KEY = "incorrect_spans"  # the ner's incorrect_spans_key: spans known not to be entities


@dataclass(slots=True)
class Record:
    """One text and what is known about its entities (see formats.Annotation)."""

    where: str  # "file: line 3" or "file: record 3"
    text: str
    spans: Tuple[Span, ...]
    incorrect: Tuple[Span, ...] = ()
    complete: bool = True
    n_tokens: int = 0  # to write the DocBin without holding docs


@dataclass
class Report:
    errors: List[str] = field(default_factory=list)
    duplicates: int = 0  # identical records merged
    conflicts: int = 0  # same text, different annotations
    repeated_spans: int = 0  # identical spans listed twice within one record
    case_variants: int = 0  # labels that differ only in case from another label
    binary_merged: int = 0  # binary answers merged into another record of the same text
    nested_values: int = 0  # value-format occurrences inside a longer one (the longer one is kept)
    skipped: Counter = field(default_factory=Counter)  # records that teach nothing, by reason
    rejected_texts: Set[str] = field(default_factory=set)  # texts (stripped) of the records in errors


def _describe(text: str, start: int, end: int, label: object) -> str:
    return f"span [{start}, {end}, {label!r}] {text[start:end]!r}"


def _nearest_boundaries(doc: Doc, start: int, end: int) -> str:
    expanded = doc.char_span(start, end, alignment_mode="expand")
    contracted = doc.char_span(start, end, alignment_mode="contract")
    options = []
    for span in (contracted, expanded):
        if span is not None and span.text and (span.start_char, span.end_char) not in [o[:2] for o in options]:
            options.append((span.start_char, span.end_char, span.text))
    if not options:
        return "no token-aligned span nearby"
    return "nearest token boundaries: " + " or ".join(f"[{s}, {e}] {t!r}" for s, e, t in options)


def _check_offset(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"non-integer {name} offset {value!r}")
    return value


def checked_spans(doc: Doc, spans: List[Span], report: Report) -> List[Span]:
    """Check offsets, labels, token alignment and whitespace; return the sorted unique spans."""
    text = doc.text
    for start, end, label in spans:
        _check_offset(start, "start")
        _check_offset(end, "end")
        check_label(label)
        for value, name in ((start, "start"), (end, "end")):
            if value < 0:
                raise RecordError(f"negative {name} offset {value} in span [{start}, {end}, {label!r}]")
        if end <= start:
            raise RecordError(f"end <= start in {_describe(text, start, end, label)}")
        if end > len(text):
            raise RecordError(f"offsets past the text (length {len(text)}) in span [{start}, {end}, {label!r}]")
    unique = sorted(set(spans))
    report.repeated_spans += len(spans) - len(unique)
    for start, end, label in unique:
        span = doc.char_span(start, end, label=label)
        if span is None:
            raise RecordError(
                f"{_describe(text, start, end, label)} is not on token boundaries; "
                f"{_nearest_boundaries(doc, start, end)}"
            )
        if span[0].is_space or span[-1].is_space:
            raise RecordError(f"{_describe(text, start, end, label)} starts or ends with a whitespace token")
    return unique


def validate_spans(doc: Doc, spans: List[Span], report: Report) -> List[Span]:
    """checked_spans, and no two spans may overlap (they are the doc's entities)."""
    unique = checked_spans(doc, spans, report)
    for (s1, e1, l1), (s2, e2, l2) in zip(unique, unique[1:]):
        if s2 < e1:
            raise RecordError(
                f"overlapping spans {_describe(doc.text, s1, e1, l1)} and {_describe(doc.text, s2, e2, l2)}"
            )
    return unique


def values_to_spans(doc: Doc, values: List[Tuple[str, str]]) -> List[Span]:
    """Label every whole-token occurrence of each value."""
    spans = []
    for value, label in values:
        check_label(label)
        if not isinstance(value, str) or not value.strip():
            raise RecordError(f"empty or non-string value {value!r} for label {label!r}")
        found = [m.start() for m in re.finditer(re.escape(value), doc.text)]
        aligned = [s for s in found if doc.char_span(s, s + len(value)) is not None]
        if not aligned:
            where = f" (only inside other tokens at {found})" if found else ""
            raise RecordError(f"value {value!r} ({label}) not found in the text as whole tokens{where}")
        spans.extend((s, s + len(value), label) for s in aligned)
    return spans


def drop_nested(spans: List[Span]) -> Tuple[List[Span], int]:
    """Spans without those that lie inside a longer one ("server 2008" inside
    "server 2008 R2": the longest occurrence wins, as in bootstrapping), and how
    many were dropped; spans that only cross each other are kept (an error later)."""
    kept = [
        (s, e, label)
        for s, e, label in spans
        if not any(s2 <= s and e <= e2 and e2 - s2 > e - s for s2, e2, _ in spans)
    ]
    return kept, len(spans) - len(kept)


def check_tokens(doc: Doc, ann: Annotation) -> None:
    """Prodigy's "tokens" must match the text, token_start/token_end the character offsets."""
    text = doc.text
    for i, tok in enumerate(ann.tokens or []):
        if not isinstance(tok, dict) or not all(isinstance(tok.get(k), int) for k in ("start", "end")):
            raise RecordError(f'token {i} is not a {{"text", "start", "end"}} object: {tok!r}')
        if "text" in tok and text[tok["start"] : tok["end"]] != tok["text"]:
            raise RecordError(
                f"token {i} {tok['text']!r} does not match the text at its offsets "
                f"[{tok['start']}, {tok['end']}]: {text[tok['start'] : tok['end']]!r}"
            )
    for (start, end, label), first, last in ann.token_ids:
        if ann.tokens is not None:
            n = len(ann.tokens)
            ok = isinstance(first, int) and isinstance(last, int) and 0 <= first <= last < n
            ok = ok and ann.tokens[first]["start"] == start and ann.tokens[last]["end"] == end
            basis = "the record's tokens"
        else:
            span = doc.char_span(start, end)
            ok = span is not None and (span.start, span.end - 1) == (first, last)
            basis = "the tokenizer's tokens (the record has no tokens)"
        if not ok:
            raise RecordError(
                f"token_start {first!r} and token_end {last!r} do not match the character offsets of "
                f"{_describe(text, start, end, label)} in {basis}"
            )


def to_record(nlp: Language, ann: Annotation, where: str, report: Report) -> Record:
    """Validate one annotation against the tokenizer; the doc is not kept."""
    doc = nlp.make_doc(ann.text)
    values, nested = drop_nested(values_to_spans(doc, ann.values))
    spans = validate_spans(doc, ann.spans + values, report)
    incorrect = checked_spans(doc, ann.incorrect, report)
    check_tokens(doc, ann)
    report.nested_values += nested
    return Record(where, ann.text, _interned(spans), _interned(incorrect), ann.complete, len(doc))


def _interned(spans: List[Span]) -> Tuple[Span, ...]:
    """Spans with one string object per label, however many records use it."""
    return tuple((s, e, sys.intern(label)) for s, e, label in spans)


def _shifted(spans: Iterable[Span], delta: int) -> Tuple[Span, ...]:
    return tuple((s + delta, e + delta, label) for s, e, label in spans)


def _overlap(spans: Iterable[Span]) -> bool:
    ordered = sorted(spans)
    return any(s2 < e1 for (_, e1, _), (s2, _, _) in zip(ordered, ordered[1:]))


def merge(seen: Record, new: Record, report: Report) -> bool:
    """Merge `new` into `seen` (the same text); False if they disagree.

    Complete records must be identical; binary answers add up, and agree with a
    complete record if their accepted spans are in it and their rejected ones not.
    """
    delta = (len(seen.text) - len(seen.text.lstrip())) - (len(new.text) - len(new.text.lstrip()))
    spans, incorrect = _shifted(new.spans, delta), _shifted(new.incorrect, delta)
    if (spans, incorrect, new.complete) == (seen.spans, seen.incorrect, seen.complete):
        report.duplicates += 1
        return True
    if seen.complete and new.complete:
        return False
    full, part = (seen.spans, (spans, incorrect)) if seen.complete else (spans, (seen.spans, seen.incorrect))
    if seen.complete or new.complete:
        if not set(part[0]) <= set(full) or set(part[1]) & set(full):
            return False
        seen.spans, seen.incorrect, seen.complete = full, (), True
    else:
        ents, wrong = set(seen.spans) | set(spans), set(seen.incorrect) | set(incorrect)
        if ents & wrong or _overlap(ents):
            return False
        seen.spans, seen.incorrect = tuple(sorted(ents)), tuple(sorted(wrong))
    report.binary_merged += 1
    return True


def _shown(record: Record) -> str:
    rejected = f" (rejected: {list(record.incorrect)})" if record.incorrect else ""
    return f"{list(record.spans)}{rejected}"


def load_records(paths: Iterable[Path], nlp: Language, report: Report, allow_empty: bool = False) -> List[Record]:
    """Parse, validate and merge every record of every file, streaming; errors go
    to report.errors. Texts that differ only by surrounding whitespace are one text.
    allow_empty: a file without records is no error (one a step wrote)."""
    by_text: Dict[str, Record] = {}
    conflicted: Set[str] = set()
    for path in paths:
        for where, raw in iter_raw_records(path, allow_empty):
            try:
                annotations = parse_record(raw, report.skipped)
            except RecordError as err:
                text = record_text(raw)
                report.errors.append(f"{where}: {err} | text: {_clip(text)}")
                report.rejected_texts.update([text.strip()] if isinstance(text, str) else [])
                continue
            for ann in annotations:
                try:
                    record = to_record(nlp, ann, where + ann.where, report)
                except RecordError as err:
                    report.errors.append(f"{where}{ann.where}: {err} | text: {_clip(ann.text)}")
                    report.rejected_texts.add(str(ann.text).strip())
                    continue
                key = record.text.strip()
                seen = by_text.get(key)
                if seen is None:
                    by_text[key] = record
                elif not merge(seen, record, report):
                    report.conflicts += 1
                    conflicted.add(key)
                    report.errors.append(
                        f"{record.where}: the same text is annotated differently in {seen.where}: "
                        f"{_shown(record)} vs {_shown(seen)} | text: {_clip(record.text)}"
                    )
    report.rejected_texts |= conflicted
    return [r for key, r in by_text.items() if key not in conflicted]


def make_doc(nlp: Language, record: Record) -> Doc:
    """The record's gold doc: entities, the rest O (complete) or missing (binary answers),
    rejected spans in doc.spans[INCORRECT_SPANS_KEY]."""
    doc = nlp.make_doc(record.text)
    ents = [doc.char_span(s, e, label=label) for s, e, label in record.spans]
    doc.set_ents(ents, default="outside" if record.complete else "missing")
    if record.incorrect:
        doc.spans[INCORRECT_SPANS_KEY] = [doc.char_span(s, e, label=label) for s, e, label in record.incorrect]
    return doc


def write_docbin(nlp: Language, records: List[Record], path: Path) -> None:
    """Write the records' docs to a .spacy file, making and writing one doc at a time."""
    write_docs((make_doc(nlp, r) for r in records), sum(r.n_tokens for r in records), path)


def entity_name(text: str) -> str:
    """Normalise an entity's text so that 'iPhone X', 'iphone x' and 'iphoneX' are one name."""
    return re.sub(r"[\W_]+", "", text.lower())


def names(records: List[Record]) -> set:
    return {entity_name(r.text[s:e]) for r in records for s, e, _ in r.spans}


def split_records(
    records: List[Record], dev_ratio: float, seed: int, by_entity: bool
) -> Tuple[List[Record], List[Record]]:
    """Deterministic train/dev split.

    With by_entity, records that share an entity name (normalised) always land in
    the same split, so dev only has names never seen in training.
    """
    records = sorted(records, key=lambda r: r.text)
    groups = _groups_by_shared_name(records) if by_entity else [[r] for r in records]
    rng = random.Random(seed)
    rng.shuffle(groups)
    target = round(dev_ratio * len(records))
    dev: List[Record] = []
    train: List[Record] = []
    for group in groups:
        if len(dev) + len(group) <= target:
            dev.extend(group)
        else:
            train.extend(group)
    return train, dev


def _groups_by_shared_name(records: List[Record]) -> List[List[Record]]:
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with_name: Dict[str, int] = {}
    for i, rec in enumerate(records):
        for s, e, _ in rec.spans:
            name = entity_name(rec.text[s:e])
            if name in first_with_name:
                parent[find(i)] = find(first_with_name[name])
            else:
                first_with_name[name] = i
    groups: Dict[int, List[Record]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[find(i)].append(rec)
    return [groups[k] for k in sorted(groups)]


def label_variants(records: List[Record]) -> List[List[Tuple[str, int, str]]]:
    """Labels that differ only in case: per group, (label, number of spans, where it first occurs)."""
    counts: Counter = Counter()
    first: Dict[str, str] = {}
    for rec in records:
        for _, _, label in rec.spans:
            counts[label] += 1
            first.setdefault(label, rec.where)
    spellings: Dict[str, List[str]] = defaultdict(list)
    for label in first:  # in order of first occurrence
        spellings[label.lower()].append(label)
    return [[(label, counts[label], first[label]) for label in v] for v in spellings.values() if len(v) > 1]


def _clip(text: object, limit: int = 200) -> str:
    """A text for an error message: repr, cut to `limit` characters."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(str(text)):,} characters)"
