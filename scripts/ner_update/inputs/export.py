"""Turn `annotate`'s review file (span records: text, spans, meta) into the
tasks of an annotation tool, the suggestions shown as predictions to correct:
Label Studio's (for its NER template: fields `label` and `text`) and Prodigy's
(`ner.manual` shows the spans; `meta` beside them)."""

from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

from ner_update.common import InputError
from ner_update.inputs.formats import check_label, iter_raw_records

Span = Dict[str, object]


def review_records(path: Path) -> Iterator[Tuple[str, List[Span], dict]]:
    """(text, spans, meta) of each record; InputError naming the file, record and what is wrong."""
    for where, raw in iter_raw_records(path):
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            raise InputError(f"{where}: not a span record with a text")
        text, spans = raw["text"], raw.get("spans", [])
        if not isinstance(spans, list):
            raise InputError(f"{where}: 'spans' is not a list")
        for span in spans:
            start, end = (span.get("start"), span.get("end")) if isinstance(span, dict) else (None, None)
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
                raise InputError(f"{where}: span {span!r} is not a start < end inside the text")
            try:
                check_label(span.get("label"))
            except ValueError as err:
                raise InputError(f"{where}: span {span!r}: {err}") from None
        yield text, spans, raw.get("meta") or {}


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


FORMATS: Dict[str, Callable[[str, List[Span], dict], dict]] = {
    "label-studio": label_studio_task,
    "prodigy": prodigy_task,
}


def export_tasks(path: Path, tool: str) -> List[dict]:
    """Every record of the review file `path` as a task of `tool` (a key of FORMATS)."""
    if tool not in FORMATS:
        raise ValueError(f"no export to {tool!r}: choose one of {', '.join(FORMATS)}")
    return [FORMATS[tool](text, spans, meta) for text, spans, meta in review_records(path)]
