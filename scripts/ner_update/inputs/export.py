"""Turn `annotate`'s review file (span records: text, spans, meta) into the
tasks of an annotation tool, the suggestions shown as predictions to correct:
Label Studio's (for its NER template: fields `label` and `text`) and Prodigy's
(`ner.manual` shows the spans; `meta` beside them)."""

from collections import Counter
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

from spacy.language import Language

from ner_update.common import InputError
from ner_update.inputs.formats import RecordError, iter_raw_records, parse_record
from ner_update.inputs.gold import Report, to_record

Span = Dict[str, object]


def review_records(path: Path, nlp: Language) -> Iterator[Tuple[str, List[Span], dict]]:
    """(text, spans, meta) of each record, read and checked as `convert` reads annotations
    (formats.parse_record, gold.to_record on `nlp`'s tokenizer); InputError naming the file,
    record and what is wrong."""
    for where, raw in iter_raw_records(path):
        try:
            records = [to_record(nlp, ann, where, Report()) for ann in parse_record(raw, Counter())]
        except RecordError as err:
            raise InputError(f"{where}: {err}") from None
        meta = (raw.get("meta") if isinstance(raw, dict) else None) or {}
        for record in records:
            yield record.text, [{"start": s, "end": e, "label": label} for s, e, label in record.spans], meta


def label_studio_task(text: str, spans: List[Span], meta: dict) -> dict:
    """A Label Studio task whose predictions are the spans (the NER template's label/text fields)."""
    result = [
        {
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {
                "start": s["start"],
                "end": s["end"],
                "text": text[s["start"] : s["end"]],
                "labels": [s["label"]],
            },
        }
        for s in spans
    ]
    return {"data": {"text": text, "meta": meta}, "predictions": [{"model_version": "annotate", "result": result}]}


def prodigy_task(text: str, spans: List[Span], meta: dict) -> dict:
    """A Prodigy task: the text, its spans as suggestions, the meta shown beside them."""
    return {"text": text, "spans": [{k: s[k] for k in ("start", "end", "label")} for s in spans], "meta": meta}


TOOLS: Dict[str, Callable[[str, List[Span], dict], dict]] = {
    "label-studio": label_studio_task,
    "prodigy": prodigy_task,
}


def export_tasks(path: Path, tool: str, nlp: Language) -> List[dict]:
    """Every record of the review file `path` as a task of `tool` (a key of TOOLS)."""
    if tool not in TOOLS:
        raise ValueError(f"no export to {tool!r}: choose one of {', '.join(TOOLS)}")
    return [TOOLS[tool](text, spans, meta) for text, spans, meta in review_records(path, nlp)]
