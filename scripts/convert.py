"""Convert entity annotations (JSON/JSONL) into train and dev DocBins.

Formats, detected per record:
  course   [text, {"entities": [[start, end, label], ...]}]
  values   {"sentence" or "text": ..., "entities": [{"label": ..., "value": ...}]}
           (every whole-token occurrence of a value is labelled)
  spans    {"text": ..., "spans": [{"start": ..., "end": ..., "label": ...}]}
A file is JSON (a list of records) or JSONL (one record per line), by extension
(.json/.jsonl) or, for other extensions, by content. Every bad record is
reported with file, record (line for JSONL), text and span; the command fails
and writes nothing unless --lenient is given. Files may start with a UTF-8 byte
order mark (as Windows editors and Excel write them). Labels that differ only in
case ("gadget" and "GADGET") are kept as given, with a warning.
"""

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import spacy
import typer
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from wasabi import msg

from common import InputError, atomic_path, expand_text_files, iter_texts, parse_json

Span = Tuple[int, int, str]


@dataclass
class Record:
    where: str  # "file: line 3" or "file: record 3"
    text: str
    spans: List[Span]
    doc: Optional[Doc] = None


@dataclass
class Report:
    errors: List[str] = field(default_factory=list)
    duplicates: int = 0  # identical records merged
    conflicts: int = 0  # same text, different annotations
    repeated_spans: int = 0  # identical spans listed twice within one record
    case_variants: int = 0  # labels that differ only in case from another label


class RecordError(ValueError):
    pass


def read_raw_records(path: Path) -> List[Tuple[str, object]]:
    """Return (where, raw record) pairs; raise InputError for unreadable files."""
    content = path.read_text(encoding="utf-8-sig")  # a BOM, as Windows tools write, is dropped
    if not content.strip():
        raise InputError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    is_json = suffix == ".json" or (suffix != ".jsonl" and content.lstrip().startswith("["))
    if is_json:
        data = parse_json(content, path)
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
        if not data:
            raise InputError(f"{path}: the file has no records")
        return [(f"{path}: record {i}", rec) for i, rec in enumerate(data, start=1)]
    records = []
    # split on "\n" only: splitlines() would also cut at U+2028 etc., valid inside JSON strings
    for i, line in enumerate(content.split("\n"), start=1):
        if line.strip():
            records.append((f"{path}: line {i}", parse_json(line, path, line=i)))
    return records


def _check_label(label: object) -> str:
    if not isinstance(label, str) or not label or re.search(r"\s", label):
        raise RecordError(f"empty or malformed label {label!r} (a label is a non-empty string without spaces)")
    return label


def _check_offset(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"non-integer {name} offset {value!r}")
    return value


def parse_record(raw: object) -> Tuple[str, List[Span], List[Tuple[str, str]]]:
    """Return text, character spans and (value, label) pairs of one record."""
    if isinstance(raw, list):
        if len(raw) != 2 or not isinstance(raw[1], dict) or "entities" not in raw[1]:
            raise RecordError('wrong record shape: expected [text, {"entities": [[start, end, label], ...]}]')
        text, ents = raw[0], raw[1]["entities"]
        if not isinstance(ents, list) or not all(isinstance(e, (list, tuple)) and len(e) == 3 for e in ents):
            raise RecordError('wrong record shape: "entities" must be a list of [start, end, label]')
        spans = [(e[0], e[1], e[2]) for e in ents]
        values: List[Tuple[str, str]] = []
    elif isinstance(raw, dict):
        text = raw.get("sentence", raw.get("text"))
        if "spans" in raw:
            if not isinstance(raw["spans"], list) or not all(
                isinstance(s, dict) and {"start", "end", "label"} <= set(s) for s in raw["spans"]
            ):
                raise RecordError('wrong record shape: "spans" must be a list of {"start", "end", "label"}')
            spans = [(s["start"], s["end"], s["label"]) for s in raw["spans"]]
            values = []
        elif "entities" in raw:
            if not isinstance(raw["entities"], list) or not all(
                isinstance(e, dict) and {"label", "value"} <= set(e) for e in raw["entities"]
            ):
                raise RecordError('wrong record shape: "entities" must be a list of {"label", "value"}')
            spans = []
            values = [(e["value"], e["label"]) for e in raw["entities"]]
        else:
            raise RecordError('wrong record shape: a record object needs "spans" or "entities"')
    else:
        raise RecordError(f"wrong record shape: expected a list or an object, got {type(raw).__name__}")
    if not isinstance(text, str):
        raise RecordError(f"missing or non-string text: {text!r}")
    if not text.strip():
        raise RecordError("empty text")
    return text, spans, values


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


def validate_spans(doc: Doc, spans: List[Span], report: Report) -> List[Span]:
    """Check offsets, labels, token alignment and overlaps; set doc.ents.

    Returns the sorted unique spans.
    """
    text = doc.text
    checked = []
    for start, end, label in spans:
        _check_offset(start, "start")
        _check_offset(end, "end")
        _check_label(label)
        for value, name in ((start, "start"), (end, "end")):
            if value < 0:
                raise RecordError(f"negative {name} offset {value} in span [{start}, {end}, {label!r}]")
        if end <= start:
            raise RecordError(f"end <= start in {_describe(text, start, end, label)}")
        if end > len(text):
            raise RecordError(f"offsets past the text (length {len(text)}) in span [{start}, {end}, {label!r}]")
        checked.append((start, end, label))
    unique = sorted(set(checked))
    report.repeated_spans += len(checked) - len(unique)
    ents = []
    for start, end, label in unique:
        span = doc.char_span(start, end, label=label)
        if span is None:
            raise RecordError(
                f"{_describe(text, start, end, label)} is not on token boundaries; "
                f"{_nearest_boundaries(doc, start, end)}"
            )
        ents.append(span)
    for (s1, e1, l1), (s2, e2, l2) in zip(unique, unique[1:]):
        if s2 < e1:
            raise RecordError(f"overlapping spans {_describe(text, s1, e1, l1)} and {_describe(text, s2, e2, l2)}")
    doc.ents = ents
    return unique


def values_to_spans(doc: Doc, values: List[Tuple[str, str]]) -> List[Span]:
    """Label every whole-token occurrence of each value."""
    spans = []
    for value, label in values:
        _check_label(label)
        if not isinstance(value, str) or not value.strip():
            raise RecordError(f"empty or non-string value {value!r} for label {label!r}")
        found = [m.start() for m in re.finditer(re.escape(value), doc.text)]
        aligned = [s for s in found if doc.char_span(s, s + len(value)) is not None]
        if not aligned:
            where = f" (only inside other tokens at {found})" if found else ""
            raise RecordError(f"value {value!r} ({label}) not found in the text as whole tokens{where}")
        spans.extend((s, s + len(value), label) for s in aligned)
    return spans


def _raw_text(raw: object) -> object:
    """The text of a raw record, for error messages (None if there is none)."""
    if isinstance(raw, list) and raw:
        return raw[0]
    if isinstance(raw, dict):
        return raw.get("sentence", raw.get("text"))
    return None


def expand_inputs(paths: Iterable[Path]) -> List[Path]:
    """Files as given; folders become their .json/.jsonl files, sorted."""
    return expand_text_files(list(paths), suffixes=(".json", ".jsonl"))


def load_records(paths: Iterable[Path], nlp: Language, report: Report) -> List[Record]:
    """Parse and validate every record of every file; errors go to report.errors."""
    by_text: Dict[str, Record] = {}
    conflicted = set()
    for path in paths:
        for where, raw in read_raw_records(path):
            text = _raw_text(raw)
            try:
                text, spans, values = parse_record(raw)
                doc = nlp.make_doc(text)
                spans = validate_spans(doc, spans + values_to_spans(doc, values), report)
            except RecordError as err:
                report.errors.append(f"{where}: {err} | text: {text!r}")
                continue
            record = Record(where, text, spans, doc)
            seen = by_text.get(text)
            if seen is None:
                by_text[text] = record
            elif seen.spans == spans:
                report.duplicates += 1
            else:
                report.conflicts += 1
                conflicted.add(text)
                report.errors.append(
                    f"{where}: the same text is annotated differently in {seen.where}: "
                    f"{spans} vs {seen.spans} | text: {text!r}"
                )
    return [r for text, r in by_text.items() if text not in conflicted]


def warn_case_variants(records: List[Record], report: Report) -> None:
    """Warn about labels that differ only in case; they stay separate labels.

    Each warning names every spelling, its number of spans and the record where
    it first occurs.
    """
    counts: Counter = Counter()
    first: Dict[str, str] = {}
    for rec in records:
        for _, _, label in rec.spans:
            counts[label] += 1
            first.setdefault(label, rec.where)
    spellings: Dict[str, List[str]] = defaultdict(list)
    for label in first:  # in order of first occurrence
        spellings[label.lower()].append(label)
    for variants in spellings.values():
        if len(variants) < 2:
            continue
        report.case_variants += len(variants)
        described = [f"{label!r} ({counts[label]} spans, first in {first[label]})" for label in variants]
        msg.warn(
            f"Labels that differ only in case: {', '.join(described[:-1])} and {described[-1]}. "
            "They are kept as given, as separate labels; make them identical if they mean the same."
        )


def entity_name(text: str) -> str:
    """Normalise an entity's text so that 'iPhone X', 'iphone x' and 'iphoneX' are one name."""
    return re.sub(r"[\W_]+", "", text.lower())


def split_records(
    records: List[Record], dev_ratio: float, seed: int, by_entity: bool
) -> Tuple[List[Record], List[Record]]:
    """Deterministic train/dev split.

    With by_entity, records that share an entity name (normalised) always land in
    the same split, so dev only has names never seen in training.
    """
    records = sorted(records, key=lambda r: r.text)
    if by_entity:
        groups = _groups_by_shared_name(records)
    else:
        groups = [[r] for r in records]
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


def to_docbin(records: List[Record]) -> DocBin:
    """The records' docs, with the entities set during validation."""
    return DocBin(docs=[rec.doc for rec in records], store_user_data=False)


def names(records: List[Record]) -> set:
    return {entity_name(r.text[s:e]) for r in records for s, e, _ in r.spans}


def print_stats(train: List[Record], dev: List[Record]) -> None:
    labels = sorted({label for r in train + dev for _, _, label in r.spans})
    counts = {
        split: Counter(label for r in recs for _, _, label in r.spans)
        for split, recs in (("train", train), ("dev", dev))
    }
    rows = [("documents", len(train), len(dev))] + [
        (label, counts["train"][label], counts["dev"][label]) for label in labels
    ]
    msg.table(rows, header=("", "train", "dev"), divider=True, aligns=("l", "r", "r"))
    dev_names = names(dev)
    if dev_names:
        unseen = len(dev_names - names(train))
        msg.info(
            f"{unseen} of {len(dev_names)} entity names in dev ({unseen / len(dev_names):.0%}) never occur in train"
        )


def main(
    inputs: List[Path] = typer.Argument(
        ..., exists=True, help="Annotation files in any supported format, or folders of .json/.jsonl files"
    ),
    bootstrapped: List[Path] = typer.Option(
        [],
        "--bootstrapped",
        exists=True,
        dir_okay=False,
        help="Annotations made by rules (bootstrap): a text that is also in the other inputs is taken from those (hand-checked wins); repeatable",
    ),
    train_output: Optional[Path] = typer.Option(
        None, "--train-output", dir_okay=False, help="Where to write the training DocBin (.spacy)"
    ),
    dev_output: Optional[Path] = typer.Option(
        None, "--dev-output", dir_okay=False, help="Where to write the development DocBin (.spacy)"
    ),
    output: Optional[Path] = typer.Option(
        None,
        "--output",
        dir_okay=False,
        help="Instead of a split: write every record to this DocBin (an evaluation set)",
    ),
    exclude: List[Path] = typer.Option(
        [],
        "--exclude",
        exists=True,
        dir_okay=False,
        help="Leave out (and count) records whose text is in these files, e.g. an evaluation set; repeatable",
    ),
    dev_ratio: float = typer.Option(0.2, "--dev-ratio", min=0.0, max=1.0, help="Share of documents that go to dev"),
    seed: int = typer.Option(0, "--seed", help="Random seed of the split"),
    split: str = typer.Option(
        "entity",
        "--split",
        help="'entity': records sharing an entity name stay together, so dev names are unseen in train; "
        "'random': plain random split",
    ),
    lenient: bool = typer.Option(False, "--lenient", help="Skip and count bad records instead of failing"),
    lang: str = typer.Option(
        "en", "--lang", help="Language whose tokenizer defines token boundaries (use the base pipeline's)"
    ),
):
    """Validate annotations and write train/dev .spacy corpora."""
    if split not in ("entity", "random"):
        msg.fail(f"--split must be 'entity' or 'random', not {split!r}", exits=1)
    if (output is None) == (train_output is None or dev_output is None) or (output and (train_output or dev_output)):
        msg.fail("Give --train-output and --dev-output (a split), or --output alone (no split)", exits=1)
    nlp = spacy.blank(lang)
    report = Report()
    try:
        excluded = {text for path in exclude for text in iter_texts(path, Counter())}
        records = load_records(expand_inputs(inputs), nlp, report)
        by_rules = load_records(bootstrapped, nlp, report) if bootstrapped else []
    except InputError as err:
        msg.fail(str(err), exits=1)
    checked_texts = {r.text for r in records}
    records += [r for r in by_rules if r.text not in checked_texts]
    if bootstrapped:
        replaced = sum(1 for r in by_rules if r.text in checked_texts)
        msg.info(f"{replaced} bootstrapped records replaced by the hand-checked annotation of the same text")
    n_records = len(records)
    records = [r for r in records if r.text.strip() not in excluded]
    if exclude:
        msg.info(f"{n_records - len(records)} records left out because their text is in {', '.join(map(str, exclude))}")
    warn_case_variants(records, report)
    for error in report.errors:
        (msg.warn if lenient else msg.fail)(error)
    if report.errors and not lenient:
        msg.fail(f"{len(report.errors)} bad records; nothing written (use --lenient to skip them)", exits=1)
    if not records:
        msg.fail("No valid records; nothing written", exits=1)
    if output is not None:
        with atomic_path(output) as tmp:
            to_docbin(records).to_disk(tmp)
        msg.good(f"Wrote {len(records)} docs to {output}")
        print_stats(records, [])
        return
    train, dev = split_records(records, dev_ratio, seed, by_entity=split == "entity")
    with atomic_path(train_output) as train_tmp, atomic_path(dev_output) as dev_tmp:
        to_docbin(train).to_disk(train_tmp)
        to_docbin(dev).to_disk(dev_tmp)
    msg.good(f"Wrote {len(train)} train docs to {train_output} and {len(dev)} dev docs to {dev_output}")
    msg.info(
        f"{report.duplicates} duplicate records merged, {report.repeated_spans} repeated spans merged, "
        f"{len(report.errors)} bad records skipped "
        f"({report.conflicts} texts annotated two ways: every version of them left out), "
        f"{report.case_variants} labels differing only in case from another label (kept as given)"
    )
    print_stats(train, dev)


if __name__ == "__main__":
    typer.run(main)
