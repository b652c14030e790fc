"""The shape of `metrics.json`, declared once: `evaluate` validates what it writes with it,
`report` reads the file through it, and the tests build their metrics with it.

A library: prints nothing. `load_metrics` and `validated` raise `InputError` with the
file and the field that is wrong ("training/metrics.json: learning: missing ...").
P/R/F are percentages (spaCy's `get_ner_prf` x 100); a span is [start, end, label]
in characters, end exclusive.
"""

from pathlib import Path

import srsly
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from weasel.util import get_checksum

from ner_update.common import InputError, parse_json, read_utf8

Span = tuple[int, int, str]
RERUN = "written by another version of evaluate? run `python -m spacy project run evaluate` to rewrite it"


class Strict(BaseModel):
    """JSON types as written (no "5" for 5, no true for 1, no NaN); unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class PRF(Strict):
    p: float
    r: float
    f: float


class Scores(PRF):
    """P/R/F over all labels scored, per label, and the number of gold spans (support)."""

    support: int
    per_label: dict[str, PRF]


class Relabel(Strict):
    """Of the gold new-label spans a base entity overlaps, how many a system labels exactly right."""

    overlapped: int
    relabelled: int
    rate: float
    base_labels: dict[str, int]  # the base's labels over those spans, most frequent first


class NewLabelSet(Strict):
    """A set with gold new-label spans: each system's scores, agreement away from gold, relabelling."""

    docs: int
    patterns: Scores | None = None  # absent without patterns
    model: Scores
    shipped: Scores
    old_label_agreement: dict[str, Scores]  # system -> agreement with the base away from gold new-label spans
    relabel: dict[str, Relabel]


class OldSystem(Strict):
    new_label_predictions: int
    agreement: Scores | None = None  # with the base's own entities (absent for the patterns)
    gold: Scores | None = None  # against old-label gold (absent on texts without gold)


class OldLabelSet(Strict):
    """A held-out set scored on old labels (with gold) or raw texts (agreement with the base only)."""

    docs: int
    base: OldSystem
    model: OldSystem
    shipped: OldSystem
    patterns: OldSystem | None = None


def spans_outside(text: str, spans: dict[str, list[Span]]) -> list[str]:
    return [
        f"{key}[{i}]: span {start}-{end} is outside the text"
        for key, items in spans.items()
        for i, (start, end, _) in enumerate(items)
        if not 0 <= start < end <= len(text)
    ]


class ErrorExample(Strict):
    text: str
    gold: list[Span]
    predicted: list[Span]

    @model_validator(mode="after")
    def spans_in_text(self) -> "ErrorExample":
        problems = spans_outside(self.text, {"gold": self.gold, "predicted": self.predicted})
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Errors(Strict):
    """The shipped pipeline's new-label errors: [name, count] pairs, most frequent first, and example texts."""

    false_positives: list[tuple[str, int]]
    false_negatives: list[tuple[str, int]]
    examples: list[ErrorExample]


class Disagreement(Strict):
    """A text where the shipped pipeline's old-label entities differ from the base's."""

    text: str
    base: list[Span]
    shipped: list[Span]

    @model_validator(mode="after")
    def spans_in_text(self) -> "Disagreement":
        problems = spans_outside(self.text, {"base": self.base, "shipped": self.shipped})
        if problems:
            raise ValueError("; ".join(problems))
        return self


class FrozenOutputs(Strict):
    set: str
    identical: bool
    tokens: int
    differing_tokens: dict[str, int]


class Learning(Strict):
    """Whether learning failed on the set training picked its checkpoint on, and what to try."""

    checkpoint_set: str
    min_f: float
    failed: bool
    warnings: list[str]


class Metrics(Strict):
    """Everything `evaluate` writes; see scripts/evaluate.py for what each part means."""

    new_labels: list[str]
    old_labels: list[str]
    base_labels: list[str]
    pipeline: list[str]
    recipe: str | None  # null when the pipeline's meta does not record it
    systems: dict[str, str]
    new_label_sets: dict[str, NewLabelSet]
    old_label_sets: dict[str, OldLabelSet]
    agreement_sets: dict[str, OldLabelSet]
    confusion: dict[str, dict[str, dict[str, int]]]  # set -> gold label -> what it received -> count
    errors: dict[str, Errors]
    disagreements: dict[str, list[Disagreement]]
    frozen_outputs: FrozenOutputs | None = None  # absent without an old-label set with gold
    base_model: str
    shipped_model: str
    shipped_checksum: str | None = None  # weasel's checksum of the shipped pipeline's folder, as measured
    learning: Learning


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else srsly.json_dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(loc: tuple) -> str:
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    return where or "the top level"


def describe(err: ValidationError, limit: int = 5) -> str:
    """One line per problem (the first `limit`): 'field.path: what is wrong, got VALUE'."""
    lines, outdated = [], False
    for problem in err.errors():
        where, kind = _where(problem["loc"]), problem["type"]
        if kind == "missing":
            lines.append(f"{where}: missing")
        elif kind == "extra_forbidden":
            lines.append(f"{where}: not a field of this file")
        elif kind == "value_error":
            lines.append(f"{where}: {problem['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{where}: {problem['msg'].lower()}, got {_shown(problem['input'])}")
        outdated = outdated or kind in ("missing", "extra_forbidden")
    more = f"; and {len(lines) - limit} more" if len(lines) > limit else ""
    return "; ".join(lines[:limit]) + more + (f" ({RERUN})" if outdated else "")


def validated(metrics: dict, where: str = "metrics") -> Metrics:
    """The metrics as a model, checked as their JSON; InputError says what is wrong."""
    try:
        return Metrics.model_validate_json(srsly.json_dumps(metrics))
    except ValidationError as err:
        raise InputError(f"{where}: {describe(err)}") from None


def dumps(metrics: Metrics) -> str:
    """The JSON `evaluate` writes: the fields that were given (an absent patterns system stays absent)."""
    return srsly.json_dumps(metrics.model_dump(mode="json", exclude_unset=True), indent=2)


def load_metrics(path: Path) -> Metrics:
    """Read and check a metrics file; InputError names the file and the field that is wrong."""
    if not path.is_file():
        problem = "not a file" if path.exists() else "file not found (the project's `evaluate` command writes it)"
        raise InputError(f"{path}: {problem}")
    content = read_utf8(path)
    data = parse_json(content, path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object (the output of evaluate.py), got {_shown(data)}")
    if not set(data) & {"new_label_sets", "old_label_sets", "agreement_sets", "learning"}:
        raise InputError(f"{path}: not the output of evaluate.py (no new_label_sets, old_label_sets or learning)")
    try:
        return Metrics.model_validate_json(content.encode("utf8"))
    except ValidationError as err:
        raise InputError(f"{path}: {describe(err)}") from None


def measured_other_pipeline(metrics: Metrics, metrics_path: Path, pipeline: Path) -> None:
    """InputError when `metrics` are not of `pipeline` as it is now (assembled again since evaluate ran)."""
    if not pipeline.is_dir():
        raise InputError(f"{pipeline}: no such pipeline folder (the project's `assemble` command writes it)")
    if metrics.shipped_checksum is None:
        raise InputError(
            f"{metrics_path} does not say which pipeline it measured: run `python -m spacy project run evaluate`"
        )
    if metrics.shipped_checksum != get_checksum(pipeline):
        raise InputError(
            f"{metrics_path} is not of {pipeline} as it is now (it changed since evaluate measured it): "
            "run `python -m spacy project run evaluate` first"
        )
