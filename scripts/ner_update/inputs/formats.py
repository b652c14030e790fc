"""Read annotation files in every format `convert` accepts; prints nothing.

FORMATS is the table of formats: each row says how a record of it is detected,
where its text is and how it is read. parse_record, record_text (the texts a
step must leave out, the texts of raw-text files) and the messages ask it; to
add a format, add a row to FORMATS. The rows:
  course            [text, {"entities": [[start, end, label], ...]}]
  spans or Prodigy  {"text": ..., "spans": [{"start": ..., "end": ..., "label": ...}]}; with an
                    "answer" (a Prodigy export) the answer decides what the record teaches
  values            {"sentence" or "text": ..., "entities": [{"label": ..., "value": ...}]}
  doccano           {"text": ..., "label": [[start, end, label], ...]}
  Label Studio      {"data": {"text": ...}, "annotations": [{"result": [{"type": "labels",
                    "value": {"start": ..., "end": ..., "labels": [...]}}]}]}: one record per
                    annotation that was not cancelled
A record must be of exactly one format. A file is JSON (a list of records) or
JSONL (one record per line). Each record becomes zero or more Annotations;
records that teach nothing (ignored or rejected manual answers, cancelled
annotations) are counted in `skipped`.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple

from ner_update.common import LABEL_RULE, InputError, decoding_error, expand_text_files, is_valid_label, parse_json
from ner_update.inputs.token_tags import SUFFIXES as TOKEN_TAG_SUFFIXES
from ner_update.inputs.token_tags import iter_token_tag_records

MAX_LENGTH = 1_000_000  # spaCy's default nlp.max_length

Span = Tuple[int, int, str]
SUFFIXES = (".json", ".jsonl", *TOKEN_TAG_SUFFIXES)
BINARY_VIEWS = {"ner", "spans"}  # one suggested span, accepted or rejected (ner.teach, spans.teach)
MANUAL_VIEWS = {"ner_manual", "spans_manual"}
ANSWERS = ("accept", "reject", "ignore")
# Label Studio results: spans are read from "labels" (<Labels> on a <Text> tag); these carry no span
LABEL_STUDIO_NO_SPAN = ("choices", "textarea", "rating", "relation", "taxonomy", "number", "datetime", "pairwise")
LABEL_STUDIO_HTML = ("hypertextlabels", "htmllabels")  # offsets into HTML (XPaths), not into the text
_MISSING = object()


class RecordError(ValueError):
    """A bad record; the message says what is wrong (the caller adds file and line)."""


@dataclass
class Annotation:
    """What one record teaches about one text.

    complete: every entity is in `spans` (the rest of the text is not an entity).
    Otherwise only `spans` are known entities and `incorrect` known non-entities
    (a binary answer): the rest of the text is unknown.
    """

    text: str
    spans: List[Span] = field(default_factory=list)
    values: List[Tuple[str, str]] = field(default_factory=list)
    incorrect: List[Span] = field(default_factory=list)
    complete: bool = True
    tokens: Optional[list] = None  # Prodigy's tokens, to check token_start/token_end
    token_ids: List[Tuple[Span, object, object]] = field(default_factory=list)
    where: str = ""  # e.g. " (annotation 2)" for one of several Label Studio annotations


@dataclass(frozen=True)
class Format:
    """One annotation format, a row of FORMATS."""

    name: str
    shape: str  # the JSON value a record of it is: "a list" or "an object"
    marks: str  # what marks a record of it, as messages name it: "'spans'"
    detect: Callable[[object], bool]
    text: Callable[[Any], object]  # the record's text, unchecked (None or a non-string when it has none)
    parse: Callable[[Any, Counter], List[Annotation]]  # its Annotations; what teaches nothing counted


def expand_inputs(paths: Iterable[Path]) -> List[Path]:
    """Annotation files as given; a folder becomes its .json/.jsonl and token-per-line (.conll, .iob, .iob2,
    .bio) files (common.expand_text_files' policy)."""
    return expand_text_files(paths, SUFFIXES)


def iter_raw_records(path: Path, allow_empty: bool = False) -> Iterator[Tuple[str, object]]:
    """Stream (where, raw record) pairs; a JSON list is read whole, JSONL line by line.

    An empty file or list is an InputError unless allow_empty (a file a step wrote,
    e.g. bootstrap's when no pattern matched). A file that is not UTF-8 text is an
    InputError naming the file, line and column."""
    try:
        yield from _raw_records(path, allow_empty)
    except UnicodeDecodeError:
        raise decoding_error(path) from None


def _raw_records(path: Path, allow_empty: bool) -> Iterator[Tuple[str, object]]:
    with path.open(encoding="utf-8-sig") as handle:  # a BOM, as Windows tools write, is dropped
        head = handle.read(4096)
    if not head.strip():
        if allow_empty:
            return
        raise InputError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    if suffix in TOKEN_TAG_SUFFIXES:
        yield from iter_token_tag_records(path)
        return
    if suffix == ".json" or (suffix != ".jsonl" and head.lstrip().startswith("[")):
        data = parse_json(path.read_text(encoding="utf-8-sig"), path)
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
        if not data and not allow_empty:
            raise InputError(f"{path}: the file has no records")
        for i, rec in enumerate(data, start=1):
            yield f"{path}: record {i}", rec
        return
    found = False
    # newline="" splits at \n and \r\n only: not at U+2028 etc., valid inside JSON strings
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for i, line in enumerate(handle, start=1):
            if "\0" in line:
                raise InputError(f"{path}: line {i}: NUL characters: binary or UTF-16 data, not UTF-8 text")
            if line.strip():
                found = True
                yield f"{path}: line {i}", parse_json(line, path, line=i)
    if not found and not allow_empty:
        raise InputError(f"{path}: the file is empty")


def check_label(label: object) -> str:
    """The label, if it follows the one label rule (common.LABEL_RULE); else RecordError."""
    if not is_valid_label(label):
        raise RecordError(f"empty or malformed label {label!r:.60} ({LABEL_RULE})")
    return label


def parse_record(raw: object, skipped: Counter) -> List[Annotation]:
    """The annotations of one raw record; counts what teaches nothing in `skipped`."""
    return format_of(raw).parse(raw, skipped)


def format_of(raw: object) -> Format:
    """The one format of FORMATS the record is; RecordError if none is, or more than one."""
    found = [row for row in FORMATS if row.detect(raw)]
    if len(found) > 1:
        raise RecordError(f"ambiguous record: it has both {found[0].marks} and {found[1].marks} (give one)")
    if found:
        return found[0]
    if isinstance(raw, dict):
        marks = [f"{row.marks} ({row.name})" for row in FORMATS if row.shape == "an object"]
        raise RecordError(f"wrong record shape: a record object needs {', '.join(marks[:-1])} or {marks[-1]}")
    shapes = " or ".join(dict.fromkeys(row.shape for row in FORMATS))
    raise RecordError(f"wrong record shape: expected {shapes}, got {type(raw).__name__}")


def record_text(record: object) -> object:
    """The text of a raw-text or annotation record: a string is its own; a record of a format
    has the text its row of FORMATS finds, unchecked; a record object of no format is a
    raw-text record, {"text": ...}. Whatever else it is, for the caller's error message."""
    if isinstance(record, str):
        return record
    found = next((row for row in FORMATS if row.detect(record)), None)
    if found is not None:
        return found.text(record)
    return _sentence_or_text(record) if isinstance(record, dict) else record


def lone_surrogate(text: str) -> Optional[str]:
    """What is wrong with a text holding a lone surrogate (half of a UTF-16 pair, which JSON can
    escape as "\\ud800": spaCy cannot store it and fails with a traceback), or None when it has none."""
    found = re.search("[\ud800-\udfff]", text)
    if found is None:
        return None
    return (
        f"a lone surrogate {found.group()!r} at character {found.start() + 1}: half of a UTF-16 pair (a JSON "
        "escape such as \\ud83d without its second half), not a character: fix the text where it was exported"
    )


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise RecordError(f"missing or non-string text: {text!r}")
    if not text.strip():
        raise RecordError("empty text")
    if len(text) > MAX_LENGTH:
        raise RecordError(
            f"a text of {len(text):,} characters, over spaCy's nlp.max_length ({MAX_LENGTH:,}): split it into shorter texts"
        )
    if (surrogate := lone_surrogate(text)) is not None:
        raise RecordError(f"the text has {surrogate}")
    return text


def _sentence_or_text(raw: dict) -> object:
    return raw.get("sentence", raw.get("text"))


def _checked_text(raw: dict) -> str:
    if "sentence" in raw and "text" in raw and raw["sentence"] != raw["text"]:
        raise RecordError(f'"sentence" and "text" differ: {raw["sentence"]!r} vs {raw["text"]!r} (give one)')
    return _check_text(_sentence_or_text(raw))


def _has(key: str) -> Callable[[object], bool]:
    """Detects a record object by one key."""
    return lambda raw: isinstance(raw, dict) and key in raw


def _course_text(raw: list) -> object:
    return raw[0] if len(raw) == 2 and isinstance(raw[1], dict) else raw


def _parse_course(raw: list, skipped: Counter) -> List[Annotation]:
    if len(raw) != 2 or not isinstance(raw[1], dict) or "entities" not in raw[1]:
        raise RecordError('wrong record shape: expected [text, {"entities": [[start, end, label], ...]}]')
    text, ents = _check_text(raw[0]), raw[1]["entities"]
    if not isinstance(ents, list) or not all(isinstance(e, (list, tuple)) and len(e) == 3 for e in ents):
        raise RecordError('wrong record shape: "entities" must be a list of [start, end, label]')
    return [Annotation(text, spans=[(e[0], e[1], e[2]) for e in ents])]


def _parse_values(raw: dict, skipped: Counter) -> List[Annotation]:
    text, ents = _checked_text(raw), raw["entities"]
    if not isinstance(ents, list) or not all(isinstance(e, dict) and {"label", "value"} <= set(e) for e in ents):
        raise RecordError('wrong record shape: "entities" must be a list of {"label", "value"}')
    return [Annotation(text, values=[(e["value"], e["label"]) for e in ents])]


def _parse_doccano(raw: dict, skipped: Counter) -> List[Annotation]:
    text, ents = _checked_text(raw), raw["label"]
    if not isinstance(ents, list) or not all(isinstance(e, (list, tuple)) and len(e) == 3 for e in ents):
        raise RecordError('wrong record shape: doccano\'s "label" must be a list of [start, end, label]')
    return [Annotation(text, spans=[(e[0], e[1], e[2]) for e in ents])]


def _parse_spans(raw: dict, skipped: Counter) -> List[Annotation]:
    """A span record; with an "answer", Prodigy's semantics (docs/data-formats.md)."""
    text, items = _checked_text(raw), raw["spans"]
    if not isinstance(items, list) or not all(
        isinstance(s, dict) and {"start", "end", "label"} <= set(s) for s in items
    ):
        raise RecordError('wrong record shape: "spans" must be a list of {"start", "end", "label"}')
    spans = [(s["start"], s["end"], s["label"]) for s in items]
    token_ids = [
        (span, s.get("token_start"), s.get("token_end"))
        for span, s in zip(spans, items)
        if "token_start" in s or "token_end" in s
    ]
    tokens = raw.get("tokens")
    if tokens is not None and not isinstance(tokens, list):
        raise RecordError(f'"tokens" must be a list of {{"text", "start", "end"}}, got {type(tokens).__name__}')
    annotation = Annotation(text, spans=spans, tokens=tokens, token_ids=token_ids)
    if "answer" not in raw:
        return [annotation]
    answer, view = raw["answer"], raw.get("_view_id")
    if view is not None and view not in BINARY_VIEWS | MANUAL_VIEWS:
        raise RecordError(
            f"unknown Prodigy view {view!r} (_view_id): convert reads the binary views "
            f"{', '.join(sorted(BINARY_VIEWS))} and the manual views {', '.join(sorted(MANUAL_VIEWS))}"
        )
    if answer not in ANSWERS:
        raise RecordError(f"unknown answer {answer!r} (Prodigy answers are {', '.join(ANSWERS)})")
    binary = view in BINARY_VIEWS or (view not in MANUAL_VIEWS and len(spans) == 1)
    if answer == "ignore":
        skipped["ignored answers (Prodigy)"] += 1
        return []
    if answer == "reject" and not binary:
        skipped["rejected manual answers (Prodigy)"] += 1
        return []
    if binary and len(spans) != 1:
        raise RecordError(f"a binary answer ({view!r} view) needs exactly one span, got {len(spans)}")
    if binary:
        annotation.complete = False
        if answer == "reject":
            annotation.spans, annotation.incorrect = [], spans
    return [annotation]


def _parse_label_studio(raw: dict, skipped: Counter) -> List[Annotation]:
    """One annotation per Label Studio annotation that was not cancelled."""
    text = _check_text(raw["data"].get("text"))
    annotations = raw["annotations"]
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise RecordError('wrong record shape: Label Studio\'s "annotations" must be a list of objects')
    if not annotations:
        skipped["Label Studio tasks without annotations"] += 1
    found = []
    for n, annotation in enumerate(annotations, start=1):
        if _cancelled(annotation, n):
            skipped["cancelled annotations (Label Studio)"] += 1
            continue
        results = annotation.get("result", _MISSING)
        if not isinstance(results, list):
            raise RecordError(f'annotation {n}: Label Studio\'s "result" must be a list, got {_json_kind(results)}')
        spans = []
        for item in results:
            span = _label_studio_span(item, text, n)
            if span is None:
                skipped["Label Studio results without a span (choices, relations, ...)"] += 1
            else:
                spans.append(span)
        where = f" (annotation {n})" if len(annotations) > 1 else ""
        found.append(Annotation(text, spans=spans, where=where))
    return found


def _cancelled(annotation: dict, n: int) -> bool:
    """`was_cancelled` as a boolean: true/false, or the strings "true"/"false" in any case."""
    value = annotation.get("was_cancelled", False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise RecordError(f'annotation {n}: "was_cancelled" must be true or false, got {value!r}')
    return value


def _label_studio_span(item: object, text: str, n: int) -> Optional[Span]:
    """The span of one Label Studio result; None for a result of a type that carries no span
    (LABEL_STUDIO_NO_SPAN); RecordError for a span this cannot read."""
    if not isinstance(item, dict):
        raise RecordError(f"annotation {n}: a Label Studio result must be an object, got {_json_kind(item)}")
    value, kind = item.get("value"), item.get("type")
    if kind is None and isinstance(value, dict):  # no "type": the value's key names it (value.labels)
        kind = next((key for key in value if key.endswith("labels") or key in LABEL_STUDIO_NO_SPAN), None)
    if kind in LABEL_STUDIO_NO_SPAN:
        return None
    if kind in LABEL_STUDIO_HTML:
        raise RecordError(
            f"annotation {n}: Label Studio {kind!r} results are not supported: their offsets point into the HTML "
            "(XPaths and offsets in its elements), not into the text; label the text with <Labels> on a <Text> tag"
        )
    if kind != "labels":
        found = f"of type {kind!r}" if kind else "without a type"
        raise RecordError(
            f"annotation {n}: a Label Studio result {found} is not supported: spans are read from 'labels' "
            f"results; {', '.join(LABEL_STUDIO_NO_SPAN)} results carry no span and are ignored"
        )
    labels = value.get("labels") if isinstance(value, dict) else None
    if not isinstance(labels, list) or len(labels) != 1 or not {"start", "end"} <= set(value):
        raise RecordError(f"annotation {n}: a Label Studio span needs start, end and exactly one label, got {value!r}")
    start, end = value["start"], value["end"]
    said = value.get("text")
    if isinstance(said, str) and type(start) is int and type(end) is int and 0 <= start <= end <= len(text):
        if said != text[start:end]:
            raise RecordError(
                f"annotation {n}: Label Studio's span [{start}, {end}] says {said!r} but the text there is "
                f"{text[start:end]!r} (offsets counted in UTF-16 units, after an emoji, or with \\r\\n as one "
                "character?): fix the offsets"
            )
    return (start, end, labels[0])


def _json_kind(value: object) -> str:
    """What a JSON value is, for messages: null, a string, an object, ..."""
    if value is _MISSING:
        return "nothing (no key)"
    names = {type(None): "null", str: "a string", dict: "an object", list: "a list", bool: "a boolean"}
    return names.get(type(value), "a number")


def _is_label_studio(raw: object) -> bool:
    return isinstance(raw, dict) and "annotations" in raw and isinstance(raw.get("data"), dict)


def _label_studio_text(raw: dict) -> object:
    return raw["data"].get("text")


# name, shape, marks, detect, text, parse: one row per format (see Format); a record is of exactly one
FORMATS: Tuple[Format, ...] = (
    Format("course", "a list", '[text, {"entities": ...}]', lambda raw: isinstance(raw, list), _course_text, _parse_course),
    Format("spans or Prodigy", "an object", "'spans'", _has("spans"), _sentence_or_text, _parse_spans),
    Format("values", "an object", "'entities'", _has("entities"), _sentence_or_text, _parse_values),
    Format("doccano", "an object", "'label'", _has("label"), _sentence_or_text, _parse_doccano),
    Format("Label Studio", "an object", "'annotations' with 'data'", _is_label_studio, _label_studio_text, _parse_label_studio),
)  # fmt: skip
