"""The report's inputs, read and checked: the metrics (metrics_schema), the loss log, the
base's description and the training/development corpora's counts.

A library: prints nothing. Every reader raises `InputError` naming the file (and the line
or field) on a bad input, so the report writes nothing rather than a partial page.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ner_update.common import InputError, parse_json, read_utf8
from ner_update.evaluation.metrics_schema import Metrics, describe, load_metrics


class LossRecord(BaseModel):
    """A line of ner_update.loss_logger.v1's log; other fields (seconds, words) are ignored."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)
    step: int
    epoch: int | None = None
    score: float | None = None
    losses: dict[str, float] = {}
    rehearsal_losses: dict[str, float] = {}


class BaseInfo(BaseModel):
    """The record `base` writes (base/build.py's describe_base: training/base_model.json)."""

    model_config = ConfigDict(strict=True)
    base_model: str | None = None
    pipeline: list[str] = []
    ner_labels: list[str] = []
    version: Any = None
    fingerprint: Any = None


@dataclass
class CorpusCounts:
    docs: int
    without_entities: int
    labels: dict[str, int]  # entity spans per label, sorted by label


@dataclass
class Inputs:
    """Everything the page shows."""

    metrics: Metrics
    losses: list[LossRecord]
    metrics_path: Path
    losses_path: Path
    base_info: BaseInfo | None = None
    corpora: dict[str, tuple[Path, CorpusCounts]] = field(default_factory=dict)  # name -> (path, counts)
    max_examples: int = 20


def _existing(path: Path, hint: str = "") -> Path:
    if not path.exists():
        raise InputError(f"{path}: file not found{hint}")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    return path


def read_losses(path: Path) -> list[LossRecord]:
    """The records of the loss logger (JSONL, blank lines skipped), sorted by step."""
    content = read_utf8(_existing(path, " (training writes it with the logger ner_update.loss_logger.v1)"))
    records = []
    for i, line in enumerate(content.split("\n"), start=1):  # not splitlines: U+2028 is valid in JSON
        if not line.strip():
            continue
        parse_json(line, path, line=i)  # invalid JSON: the column
        try:
            records.append(LossRecord.model_validate_json(line))
        except ValidationError as err:
            raise InputError(f"{path}: line {i}: {describe(err)}") from None
    return sorted(records, key=lambda record: record.step)


def read_base_info(path: Path) -> BaseInfo:
    """The base's name, pipeline, entity labels, version and fingerprint."""
    content = read_utf8(_existing(path))
    parse_json(content, path)
    try:
        return BaseInfo.model_validate_json(content)
    except ValidationError as err:
        raise InputError(f"{path}: {describe(err)}") from None


def count_corpus(path: Path) -> CorpusCounts:
    """Docs, docs without entities and entity spans per label of a .spacy file."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    _existing(path)
    labels: Counter = Counter()
    docs = empty = 0
    try:
        for doc in DocBin().from_disk(path).get_docs(Vocab()):
            docs += 1
            empty += not doc.ents
            labels.update(ent.label_ for ent in doc.ents)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as err:  # kinds a damaged file raises
        raise InputError(f"{path}: not a readable .spacy (DocBin) file: {type(err).__name__}: {err}") from None
    return CorpusCounts(docs, empty, dict(sorted(labels.items())))


def read_inputs(
    metrics_path: Path,
    losses_path: Path,
    base_info_path: Path | None = None,
    corpora: dict[str, Path | None] | None = None,
    max_examples: int = 20,
) -> Inputs:
    """Every input, checked in this order; InputError on the first bad one."""
    metrics = load_metrics(metrics_path)
    losses = read_losses(losses_path)
    base_info = read_base_info(base_info_path) if base_info_path is not None else None
    counted = {name: (path, count_corpus(path)) for name, path in (corpora or {}).items() if path is not None}
    return Inputs(metrics, losses, metrics_path, losses_path, base_info, counted, max_examples)
