"""Render the evaluation metrics and the loss log as one self-contained HTML page.

The page says what was trained on what (data counts, the base, the recipe),
puts the systems' scores side by side (best F highlighted), draws the losses
and the dev score over the steps, and shows the confusion table, the errors on
the new labels, where the shipped pipeline disagrees with the base on old
labels (displaCy, gold/base above predicted/shipped) and the frozen-components
check. Everything is inline (CSS, SVG charts, no JavaScript): the page opens
offline. Missing parts are said to be missing; a bad input file fails with a
message naming it and nothing is written.
"""

import html
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from spacy import displacy
from wasabi import msg

from common import InputError, parse_json, write_atomic

NEW_SYSTEMS = ("patterns", "model", "shipped")
OLD_SYSTEMS = ("base", "model", "shipped", "patterns")
LABEL_COLORS = ["#9be564", "#f7d046", "#aa9cfc", "#7aecec", "#ff9561", "#f48fb1", "#4dd0e1", "#feca74", "#c5e1a5"]
LINE_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f"]
MAX_NAMES = 25  # rows per false positive / false negative table
MIN_F = 10.0  # a new-label F below this is a failure, never highlighted as best (evaluate's --min-f)


def esc(value: object) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value), quote=True)


# ---------------------------------------------------------------- input checks


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Of:
    """A JSON scalar of a type; numbers accept ints, and booleans are never numbers."""

    kind: type
    name: str

    def check(self, value: object, where: str) -> None:
        kinds = (int, float) if self.kind is float else (self.kind,)
        bad_bool = isinstance(value, bool) and self.kind is not bool
        if bad_bool or not isinstance(value, kinds) or (isinstance(value, float) and not math.isfinite(value)):
            raise InputError(f"{where}: expected {self.name}, got {_shown(value)}")


@dataclass(frozen=True)
class Anything:
    def check(self, value: object, where: str) -> None:
        pass


@dataclass(frozen=True)
class Obj:
    """An object with known fields ("name?" marks an optional one, which may be null); others are ignored."""

    fields: dict

    def check(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected an object, got {_shown(value)}")
        for key, schema in self.fields.items():
            name = key.rstrip("?")
            if value.get(name) is None:
                if key.endswith("?"):
                    continue
                raise InputError(f"{where}: missing {name!r}")
            schema.check(value[name], f"{where}.{name}")


@dataclass(frozen=True)
class MapOf:
    values: Any

    def check(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected an object, got {_shown(value)}")
        for key, item in value.items():
            self.values.check(item, f"{where}.{key}")


@dataclass(frozen=True)
class ListOf:
    items: Any

    def check(self, value: object, where: str) -> None:
        if not isinstance(value, list):
            raise InputError(f"{where}: expected a list, got {_shown(value)}")
        for i, item in enumerate(value):
            self.items.check(item, f"{where}[{i}]")


@dataclass(frozen=True)
class Row:
    """A list of a fixed length, e.g. [start, end, label]."""

    items: tuple

    def check(self, value: object, where: str) -> None:
        if not isinstance(value, list) or len(value) != len(self.items):
            raise InputError(f"{where}: expected a list of {len(self.items)} items, got {_shown(value)}")
        for i, (item, schema) in enumerate(zip(value, self.items)):
            schema.check(item, f"{where}[{i}]")


@dataclass(frozen=True)
class TextWithSpans:
    """{"text", key: [[start, end, label], ...] for each key}; offsets must lie inside the text."""

    keys: tuple

    def check(self, value: object, where: str) -> None:
        Obj({"text": STR, **{key: ListOf(SPAN) for key in self.keys}}).check(value, where)
        for key in self.keys:
            for i, (start, end, _) in enumerate(value[key]):
                if not 0 <= start < end <= len(value["text"]):
                    raise InputError(f"{where}.{key}[{i}]: span {start}-{end} is outside the text")


NUM, INT, STR, BOOL, ANY = (
    Of(float, "a number"),
    Of(int, "an integer"),
    Of(str, "a string"),
    Of(bool, "true/false"),
    Anything(),
)
SPAN = Row((INT, INT, STR))
PRF_FIELDS = {"p": NUM, "r": NUM, "f": NUM}
PRF = Obj({**PRF_FIELDS, "support?": INT, "per_label?": MapOf(Obj(PRF_FIELDS))})
OLD_SYSTEM = Obj({"new_label_predictions?": INT, "gold?": PRF, "agreement?": PRF})
COUNTS = ListOf(Row((STR, INT)))
METRICS = Obj(
    {
        "new_labels?": ListOf(STR), "old_labels?": ListOf(STR), "base_labels?": ListOf(STR),
        "pipeline?": ListOf(STR), "recipe?": ANY, "systems?": MapOf(STR),
        "base_model?": STR, "shipped_model?": STR,
        "new_label_sets?": MapOf(Obj({
            "docs?": INT, **{f"{s}?": PRF for s in NEW_SYSTEMS},
            "old_label_agreement?": MapOf(PRF), "relabel?": MapOf(Obj({"overlapped": INT, "relabelled": INT, "rate": NUM, "base_labels?": MapOf(INT)})),
        })),
        "old_label_sets?": MapOf(Obj({"docs?": INT, **{f"{s}?": OLD_SYSTEM for s in OLD_SYSTEMS}})),
        "agreement_sets?": MapOf(Obj({"docs?": INT, **{f"{s}?": OLD_SYSTEM for s in OLD_SYSTEMS}})),
        "confusion?": MapOf(MapOf(MapOf(INT))),
        "errors?": MapOf(
            Obj(
                {
                    "false_positives?": COUNTS,
                    "false_negatives?": COUNTS,
                    "examples?": ListOf(TextWithSpans(("gold", "predicted"))),
                }
            )
        ),
        "disagreements?": MapOf(ListOf(TextWithSpans(("base", "shipped")))),
        "frozen_outputs?": Obj({"set?": STR, "identical": BOOL, "tokens?": INT, "differing_tokens?": MapOf(INT)}),
        "learning?": Obj({"checkpoint_set?": STR, "min_f?": NUM, "failed?": BOOL, "warnings?": ListOf(STR)}),
    }
)  # fmt: skip
METRICS_SECTIONS = ("new_label_sets", "old_label_sets", "agreement_sets", "frozen_outputs")
LOSS_RECORD = Obj({"step": INT, "epoch?": INT, "score?": NUM, "losses?": MapOf(NUM), "rehearsal_losses?": MapOf(NUM)})
BASE_INFO = Obj(
    {"base_model?": STR, "pipeline?": ListOf(STR), "ner_labels?": ListOf(STR), "version?": ANY, "fingerprint?": ANY}
)


def _read_text(path: Path, hint: str = "") -> str:
    if not path.exists():
        raise InputError(f"{path}: file not found{hint}")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def read_metrics(path: Path) -> dict:
    """The metrics of evaluate.py, checked field by field; InputError names the file and the field."""
    metrics = parse_json(_read_text(path, " (the project's `evaluate` command writes it)"), path)
    if not isinstance(metrics, dict):
        raise InputError(f"{path}: expected a JSON object (the output of evaluate.py), got {_shown(metrics)}")
    if not any(metrics.get(key) is not None for key in METRICS_SECTIONS):
        raise InputError(f"{path}: not the output of evaluate.py: none of {', '.join(METRICS_SECTIONS)} is in it")
    try:
        METRICS.check(metrics, "metrics")
    except InputError as err:
        raise InputError(f"{path}: {str(err).removeprefix('metrics.')}") from None
    return metrics


def read_losses(path: Path) -> list[dict]:
    """The records of the loss logger (JSONL, blank lines skipped), sorted by step."""
    records = []
    hint = " (training writes it with the logger ner_update.loss_logger.v1)"
    for i, line in enumerate(_read_text(path, hint).split("\n"), start=1):  # not splitlines: U+2028 is valid in JSON
        if not line.strip():
            continue
        record = parse_json(line, path, line=i)
        LOSS_RECORD.check(record, f"{path}: line {i}")
        records.append(record)
    return sorted(records, key=lambda record: record["step"])


def read_base_info(path: Path) -> dict:
    """The record describe_base (base.py) writes: base_model, pipeline, ner_labels, version, fingerprint."""
    info = parse_json(_read_text(path), path)
    BASE_INFO.check(info, str(path))
    return info


def count_corpus(path: Path) -> dict:
    """Docs, docs without entities and entity spans per label of a .spacy file."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    if not path.is_file():
        raise InputError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    labels: Counter = Counter()
    docs = empty = 0
    try:
        for doc in DocBin().from_disk(path).get_docs(Vocab()):
            docs += 1
            empty += not doc.ents
            labels.update(ent.label_ for ent in doc.ents)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as err:  # kinds a damaged file raises
        raise InputError(f"{path}: not a readable .spacy (DocBin) file: {type(err).__name__}: {err}") from None
    return {"docs": docs, "without_entities": empty, "labels": dict(sorted(labels.items()))}


# ---------------------------------------------------------------- HTML pieces


def num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def note(text: str) -> str:
    return f"<p class='note'>{text}</p>"


def table(header: Sequence[str] | str, rows: Iterable[Sequence[str]], caption: str = "", cls: str = "") -> str:
    """A table of already-escaped cells; `header` is a list of cells or ready <tr> markup."""
    head = header if isinstance(header, str) else "<tr>" + "".join(f"<th>{cell}</th>" for cell in header) + "</tr>"
    body = "".join(
        "<tr>" + "".join(cell if cell.startswith(("<td", "<th")) else f"<td>{cell}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f"<table class='{cls}'>{cap}<thead>{head}</thead><tbody>{body}</tbody></table>"


def best_cells(values: dict[str, float | None], exclude: Iterable[str] = (), floor: float = 0.0) -> set[str]:
    """The systems with the highest value, ties included, if it is above `floor` (a failed score is never best)."""
    candidates = {k: v for k, v in values.items() if v is not None and k not in exclude}
    top = max(candidates.values(), default=None)
    return {k for k, v in candidates.items() if top and top > floor and v == top}


def score_cell(value: float | None, best: bool, cls: str = "") -> str:
    classes = " ".join(c for c in (cls, "num", "best" if best else "") if c)
    return f"<td class='{classes}'>{num(value)}</td>"


def label_colors(labels: Iterable[str]) -> dict[str, str]:
    return {esc(label).upper(): LABEL_COLORS[i % len(LABEL_COLORS)] for i, label in enumerate(dict.fromkeys(labels))}


def render_spans(text: str, spans: list, colors: dict[str, str]) -> str:
    """displaCy (style "ent", manual) markup of [start, end, label] spans; displaCy escapes the text."""
    ents = [{"start": s, "end": e, "label": esc(label)} for s, e, label in sorted(spans, key=lambda span: span[:2])]
    kept, last_end = [], 0
    for ent in ents:  # displaCy cannot draw overlapping spans: keep the first
        if ent["start"] >= last_end:
            kept.append(ent)
            last_end = ent["end"]
    return displacy.render(
        {"text": text, "ents": kept, "title": None}, style="ent", manual=True, jupyter=False, options={"colors": colors}
    )


def side_by_side(text: str, views: list[tuple[str, list]], colors: dict[str, str], title: str) -> str:
    rows = "".join(
        f"<div class='view'><div class='viewname'>{esc(name)}</div>{render_spans(text, spans, colors)}</div>"
        for name, spans in views
    )
    return f"<div class='example'><div class='extitle'>{esc(title)}</div>{rows}</div>"


# ---------------------------------------------------------------- charts


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k steps) covering lo..hi."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks, value = [], first
    while value < hi + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


def tick_label(value: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:,.{digits}f}"


def line_chart(series: dict[str, list[tuple[float, float]]], x_label: str, y_label: str, title: str) -> str:
    """An inline SVG line chart with axes, ticks and a legend; log y axis when values span > 2 decades."""
    width, height, left, right, top, bottom = 860, 320, 78, 640, 34, 262
    points = [p for values in series.values() for p in values]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    positive = [y for y in ys if y > 0]
    log = bool(positive) and min(ys) >= 0 and max(positive) / min(positive) > 100
    x_ticks = nice_ticks(min(xs), max(xs))
    if log:
        low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
        high = max(high, low + 1)
        y_ticks = [10.0**k for k in range(low, high + 1)]
    else:
        y_ticks = nice_ticks(min(0.0, min(ys)), max(ys))

    def to_y(value: float) -> float:
        return math.log10(value) if log else value

    x_lo, x_hi, y_lo, y_hi = x_ticks[0], x_ticks[-1], to_y(y_ticks[0]), to_y(y_ticks[-1])

    def sx(x: float) -> float:
        return left + (x - x_lo) / ((x_hi - x_lo) or 1) * (right - left)

    def sy(y: float) -> float:
        return bottom - (to_y(y) - y_lo) / ((y_hi - y_lo) or 1) * (bottom - top)

    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' viewBox='0 0 {width} {height}' role='img' "
            f"aria-label='{esc(title)}'><title>{esc(title)}</title>"
        ),
        f"<text x='{left}' y='20' class='ctitle'>{esc(title)}</text>",
    ]
    for t in x_ticks:
        x = sx(t)
        parts.append(f"<line x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{bottom}' class='grid'/>")
        parts.append(
            f"<text x='{x:.1f}' y='{bottom + 18}' class='tick' text-anchor='middle'>{tick_label(t, x_ticks)}</text>"
        )
    for t in y_ticks:
        y = sy(t)
        label = f"{t:g}" if log else tick_label(t, y_ticks)
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{right}' y2='{y:.1f}' class='grid'/>")
        parts.append(f"<text x='{left - 8}' y='{y + 4:.1f}' class='tick' text-anchor='end'>{label}</text>")
    parts.append(f"<line x1='{left}' y1='{bottom}' x2='{right}' y2='{bottom}' class='axis'/>")
    parts.append(f"<line x1='{left}' y1='{top}' x2='{left}' y2='{bottom}' class='axis'/>")
    parts.append(
        f"<text x='{(left + right) / 2}' y='{height - 14}' class='alabel' text-anchor='middle'>{esc(x_label)}</text>"
    )
    y_text = esc(y_label + (" (log scale)" if log else ""))
    parts.append(
        f"<text x='16' y='{(top + bottom) / 2}' class='alabel' text-anchor='middle' "
        f"transform='rotate(-90 16 {(top + bottom) / 2})'>{y_text}</text>"
    )
    for i, (name, values) in enumerate(series.items()):
        color = LINE_COLORS[i % len(LINE_COLORS)]
        shown = [(x, y) for x, y in values if y > 0 or not log]
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in shown)
        parts.append(
            f"<polyline class='series' data-series='{esc(name)}' points='{coords}' fill='none' stroke='{color}' "
            "stroke-width='2' stroke-linejoin='round'/>"
        )
        if len(shown) <= 60:
            for x, y in shown:
                parts.append(
                    f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='3' fill='{color}'>"
                    f"<title>{esc(name)}: step {x:g}, {y:.4g}</title></circle>"
                )
        ly = top + 8 + 22 * i
        parts.append(
            f"<line x1='{right + 24}' y1='{ly}' x2='{right + 52}' y2='{ly}' stroke='{color}' stroke-width='3'/>"
        )
        parts.append(f"<text x='{right + 60}' y='{ly + 4}' class='legend'>{esc(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- sections


@dataclass
class Inputs:
    metrics: dict
    losses: list[dict]
    metrics_path: Path
    losses_path: Path
    base_info: dict | None = None
    corpora: dict | None = None  # name -> (path, counts)
    max_examples: int = 20


def section_data(inp: Inputs) -> str:
    """1. What was trained on what: data counts, the base, the recipe."""
    m, out = inp.metrics, []
    out.append("<h3>Data</h3>")
    if inp.corpora:
        labels = sorted({label for _, counts in inp.corpora.values() for label in counts["labels"]})
        rows = [
            [esc(name), f"<code>{esc(path)}</code>"]
            + [f"<td class='num'>{n}</td>" for n in (c["docs"], c["without_entities"], sum(c["labels"].values()))]
            + [f"<td class='num'>{c['labels'].get(label, 0)}</td>" for label in labels]
            for name, (path, c) in inp.corpora.items()
        ]
        header = ["set", "file", "docs", "docs without entities", "entity spans"] + [esc(label) for label in labels]
        out.append(table(header, rows, "Entity spans per label in the training and development data", "data"))
    else:
        out.append(note("No training or development data given (--train, --dev): data counts not shown."))

    out.append("<h3>Base pipeline</h3>")
    info = inp.base_info
    if info:
        rows = [
            ("name", f"<code>{esc(info.get('base_model', '?'))}</code>"),
            ("version", esc(info.get("version") or "?")),
            ("pipeline", esc(", ".join(info.get("pipeline") or []) or "?")),
            ("entity labels", esc(", ".join(info.get("ner_labels") or []) or "none")),
            ("fingerprint", f"<code>{esc(info.get('fingerprint') or '?')}</code>"),
        ]
        out.append(table(["", ""], rows, cls="kv"))
    else:
        base = m.get("base_model")
        known = f" The metrics name it <code>{esc(base)}</code>." if base else ""
        out.append(note(f"No base description given (--base-info).{known}"))

    out.append("<h3>Recipe</h3>")
    recipe = m.get("recipe")
    rows = [
        (
            "recipe",
            f"<code>configs/recipes/{esc(recipe)}.cfg</code>"
            if recipe is not None
            else "not recorded in the pipeline's meta",
        ),
        ("shipped pipeline", f"<code>{esc(m['shipped_model'])}</code>" if m.get("shipped_model") else "not recorded"),
        ("its components", esc(" → ".join(m.get("pipeline") or [])) or "not recorded"),
        ("new labels", esc(", ".join(m.get("new_labels") or [])) or "none"),
        ("old labels (gold)", esc(", ".join(m.get("old_labels") or [])) or "none"),
        ("base labels (mapped)", esc(", ".join(m.get("base_labels") or [])) or "none"),
    ]
    out.append(table(["", ""], rows, cls="kv"))
    systems = m.get("systems") or {}
    if systems:
        items = "".join(f"<li><strong>{esc(name)}</strong>: {esc(text)}</li>" for name, text in systems.items())
        out.append(f"<p>Systems compared:</p><ul>{items}</ul>")
    return "".join(out)


def _prf_header(groups: list[tuple[str, int]]) -> str:
    top = "<tr><th rowspan='2'>system</th>" + "".join(f"<th colspan='{n}'>{name}</th>" for name, n in groups) + "</tr>"
    sub = (
        "<tr>" + "".join("<th>P</th><th>R</th><th>F</th>" if n == 3 else "<th>F</th>" * n for _, n in groups) + "</tr>"
    )
    return top + sub


def new_label_table(name: str, entry: dict, floor: float = MIN_F) -> str:
    """P/R/F per system and new label; the best F is highlighted unless it is below `floor` (failed)."""
    systems = [s for s in NEW_SYSTEMS if entry.get(s)]
    if not systems:
        return note(f"{esc(name)}: no system was scored.")
    labels = sorted({label for s in systems for label in entry[s].get("per_label") or {}})
    best_all = best_cells({s: entry[s]["f"] for s in systems}, floor=floor)
    best_label = {
        label: best_cells({s: (entry[s].get("per_label") or {}).get(label, {}).get("f") for s in systems}, floor=floor)
        for label in labels
    }
    rows = []
    for s in systems:
        row = [f"<th>{esc(s)}</th>", score_cell(entry[s]["p"], False), score_cell(entry[s]["r"], False)]
        row.append(score_cell(entry[s]["f"], s in best_all, "f"))
        for label in labels:
            prf = (entry[s].get("per_label") or {}).get(label)
            row += [score_cell(prf and prf["p"], False), score_cell(prf and prf["r"], False)]
            row.append(score_cell(prf and prf["f"], s in best_label[label], "f"))
        rows.append(row)
    support = next((entry[s]["support"] for s in systems if entry[s].get("support") is not None), None)
    caption = (
        f"{esc(name)}: {entry.get('docs', '?')} docs, {support if support is not None else '?'} gold new-label spans"
    )
    header = _prf_header([("all new labels", 3)] + [(esc(label), 3) for label in labels])
    empty = note(f"{esc(name)} has no gold new-label spans: its recall and F say nothing.") if support == 0 else ""
    return table(header, rows, caption, "scores") + empty


def relabel_table(name: str, entry: dict) -> str:
    """Where a base entity overlaps a gold new-label span: how often the new label wins;
    elsewhere: agreement with the base over all its labels."""
    relabel, agreement = entry.get("relabel") or {}, entry.get("old_label_agreement") or {}
    if not relabel:
        return ""
    rows = []
    for s, r in relabel.items():
        under = ", ".join(f"{esc(k)} {v}" for k, v in (r.get("base_labels") or {}).items()) or "—"
        agree = agreement.get(s)
        rows.append(
            [f"<th>{esc(s)}</th>", f"<td class='num'>{r['relabelled']} of {r['overlapped']}</td>",
             score_cell(r["rate"], False), f"<td>{under}</td>", score_cell(agree and agree["f"], False)]
        )  # fmt: skip
        header = (
            "<tr><th>system</th><th>gold new-label spans a base entity overlaps, labelled right</th><th>%</th>"
            "<th>the base's labels there</th><th>agreement with the base elsewhere (F, all its labels)</th></tr>"
        )
    return table(header, rows, f"{esc(name)}: does the new label win where the base read something else?", "scores")


def old_label_table(name: str, entry: dict, with_gold: bool) -> str:
    systems = [s for s in OLD_SYSTEMS if entry.get(s)]
    if not systems:
        return note(f"{esc(name)}: no system was run.")
    scored = [s for s in systems if s != "patterns"]
    has_gold = with_gold and any(entry[s].get("gold") for s in scored)
    groups = ([("gold", "against gold")] if has_gold else []) + [("agreement", "agreement with the base")]
    best = {
        key: best_cells(
            {s: (entry[s].get(key) or {}).get("f") for s in scored}, exclude=("base",) if key == "agreement" else ()
        )
        for key, _ in groups
    }
    rows = []
    for s in systems:
        row = [f"<th>{esc(s)}</th>"]
        for key, _ in groups:
            prf = entry[s].get(key)
            itself = "itself" if key == "agreement" and s == "base" else ""
            row += [score_cell(prf and prf["p"], False, itself), score_cell(prf and prf["r"], False, itself)]
            row.append(score_cell(prf and prf["f"], s in best[key], f"f {itself}".strip()))
        count = entry[s].get("new_label_predictions")
        row.append(f"<td class='num'>{'—' if count is None else count}</td>")
        rows.append(row)
    header = _prf_header([(title, 3) for _, title in groups])
    count_title = "new-label entities predicted" + (" (false alarms: the gold has none)" if has_gold else "")
    header = header.replace("</tr>", f"<th rowspan='2'>{count_title}</th></tr>", 1)
    kind = "old-label gold" if has_gold else "texts without gold"
    out = [table(header, rows, f"{esc(name)}: {entry.get('docs', '?')} docs ({kind})", "scores")]
    labels = sorted(
        {label for s in scored for key, _ in groups for label in (entry[s].get(key) or {}).get("per_label") or {}}
    )
    if labels:
        per_rows = []
        per_best = {
            (key, label): best_cells(
                {s: ((entry[s].get(key) or {}).get("per_label") or {}).get(label, {}).get("f") for s in scored},
                exclude=("base",) if key == "agreement" else (),
            )
            for key, _ in groups
            for label in labels
        }
        for s in scored:
            row = [f"<th>{esc(s)}</th>"]
            for key, _ in groups:
                for label in labels:
                    prf = ((entry[s].get(key) or {}).get("per_label") or {}).get(label)
                    itself = "itself" if key == "agreement" and s == "base" else ""
                    row.append(score_cell(prf and prf["f"], s in per_best[(key, label)], itself))
            per_rows.append(row)
        top = (
            "<tr><th rowspan='2'>system</th>"
            + "".join(f"<th colspan='{len(labels)}'>F {title}</th>" for _, title in groups)
            + "</tr>"
        )
        sub = "<tr>" + "".join(f"<th>{esc(label)}</th>" for _ in groups for label in labels) + "</tr>"
        out.append(table(top + sub, per_rows, f"{esc(name)}: F per old label", "scores"))
    return "".join(out)


def section_metrics(inp: Inputs) -> str:
    """2. The systems' scores side by side, best F highlighted."""
    m, out = inp.metrics, []
    out.append(
        note(
            "P/R/F in percent (spaCy's <code>get_ner_prf</code>; predictions over tokens without gold annotation "
            "are not counted). <span class='best'>Highlighted</span>: the best F in each column (for agreement, "
            "the base is left out: it agrees with itself); a new-label F below the failure threshold is never "
            "highlighted."
        )
    )
    out.append("<h3>New labels</h3>")
    new_sets = m.get("new_label_sets") or {}
    floor = (m.get("learning") or {}).get("min_f", MIN_F)
    out += [new_label_table(name, entry, floor) + relabel_table(name, entry) for name, entry in new_sets.items()] or [
        note("No new-label sets in the metrics.")
    ]
    out.append("<h3>Old labels</h3>")
    old_sets = m.get("old_label_sets") or {}
    out += [old_label_table(name, entry, True) for name, entry in old_sets.items()] or [
        note("No old-label sets in the metrics.")
    ]
    out.append("<h3>Agreement with the base on texts of your domain</h3>")
    agree = m.get("agreement_sets") or {}
    out += [old_label_table(name, entry, False) for name, entry in agree.items()] or [
        note("No agreement sets in the metrics.")
    ]
    return "".join(out)


def _series(records: list[dict], key: str) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = {}
    for record in records:
        for name, value in (record.get(key) or {}).items():
            series.setdefault(name, []).append((record["step"], value))
    return series


def section_losses(inp: Inputs) -> str:
    """3. Loss curves and the dev score over the steps."""
    if not inp.losses:
        return note(f"<code>{esc(inp.losses_path)}</code> has no records: no loss curves to draw.")
    out = [
        note(
            f"{len(inp.losses)} logged steps from <code>{esc(inp.losses_path)}</code>. Each point is the loss summed "
            "over the steps since the previous log."
        )
    ]
    losses = _series(inp.losses, "losses")
    rehearsal = _series(inp.losses, "rehearsal_losses")
    scores = {"dev score": [(r["step"], r["score"]) for r in inp.losses if r.get("score") is not None]}
    charts = []
    if losses:
        charts.append(line_chart(losses, "step", "loss", "Loss on the new-label examples, per component"))
    else:
        out.append(note("No component losses were logged."))
    if rehearsal:
        charts.append(line_chart(rehearsal, "step", "loss", "Rehearsal losses (silver examples, teacher)"))
    else:
        out.append(
            note("No rehearsal losses were logged (rehearsal off, or another logger than ner_update.loss_logger.v1).")
        )
    if scores["dev score"]:
        charts.append(line_chart(scores, "step", "score", "Dev score (the config's score weights)"))
    else:
        out.append(note("No dev scores were logged."))
    out.append("<div class='charts'>" + "".join(f"<figure>{c}</figure>" for c in charts) + "</div>")
    return "".join(out)


def section_confusion(inp: Inputs) -> str:
    """4. Which label (or none) each gold new-label span received."""
    confusion = inp.metrics.get("confusion") or {}
    if not confusion:
        return note("No confusion tables in the metrics.")
    out = [
        note(
            "Rows: the gold label; columns: what the shipped pipeline predicted over the same tokens (a label with "
            "the same boundaries, <em>partial LABEL</em> if a prediction only overlaps, or <em>none</em>)."
        )
    ]
    for name, table_ in confusion.items():
        if not table_:
            out.append(note(f"{esc(name)}: no gold new-label spans."))
            continue
        gold_labels = list(table_)
        received = {r for counts in table_.values() for r in counts}
        exact = [r for r in gold_labels if r in received] + sorted(
            r for r in received if r not in gold_labels and not r.startswith("partial ") and r != "none"
        )
        columns = (
            exact + sorted(r for r in received if r.startswith("partial ")) + (["none"] if "none" in received else [])
        )
        rows = []
        for gold in gold_labels:
            counts = table_[gold]
            total = sum(counts.values())
            cells = [f"<th>{esc(gold)}</th>"]
            for col in columns:
                n = counts.get(col, 0)
                kind = (
                    "hit"
                    if col == gold
                    else "miss"
                    if col == "none"
                    else "part"
                    if col.startswith("partial ")
                    else "wrong"
                )
                cells.append(f"<td class='num {kind if n else ''}'>{n}</td>")
            share = 100 * counts.get(gold, 0) / total if total else 0
            cells += [f"<td class='num'>{total}</td>", f"<td class='num'>{share:.1f}</td>"]
            rows.append(cells)
        header = ["gold ↓ / predicted →"] + [esc(c) for c in columns] + ["total", "% exact"]
        out.append(table(header, rows, esc(name), "confusion"))
    return "".join(out)


def _names_table(title: str, pairs: list, limit: int = MAX_NAMES) -> str:
    if not pairs:
        return f"<div>{table([title, 'count'], [], cls='names')}{note('none')}</div>"
    rows = [[esc(name), f"<td class='num'>{count}</td>"] for name, count in pairs[:limit]]
    rest = pairs[limit:]
    more = note(f"… and {len(rest)} more names ({sum(c for _, c in rest)} spans)") if rest else ""
    return f"<div>{table([title, 'count'], rows, cls='names')}{more}</div>"


def section_errors(inp: Inputs, colors: dict[str, str]) -> str:
    """5. False positives and negatives by name, and example texts."""
    errors = inp.metrics.get("errors") or {}
    if not errors:
        return note("No error lists in the metrics.")
    out = []
    for name, entry in errors.items():
        fps, fns, examples = (
            entry.get("false_positives") or [],
            entry.get("false_negatives") or [],
            entry.get("examples") or [],
        )
        out.append(f"<h3>{esc(name)}</h3>")
        out.append(
            note(
                f"The shipped pipeline's new-label errors: {plural(sum(c for _, c in fps), 'false positive')} "
                f"({plural(len(fps), 'name')}), {plural(sum(c for _, c in fns), 'false negative')} "
                f"({plural(len(fns), 'name')}), most frequent first."
            )
        )
        out.append(
            "<div class='pair'>" + _names_table("false positive", fps) + _names_table("false negative", fns) + "</div>"
        )
        if examples:
            shown = examples[: inp.max_examples]
            more = f" (the first {len(shown)} of {len(examples)})" if len(shown) < len(examples) else ""
            out.append(f"<h4>Texts with errors{more}</h4>")
            out += [
                side_by_side(ex["text"], [("gold", ex["gold"]), ("predicted", ex["predicted"])], colors, f"#{i}")
                for i, ex in enumerate(shown, start=1)
            ]
        else:
            out.append(note("No texts with errors."))
    return "".join(out)


def section_disagreements(inp: Inputs, colors: dict[str, str]) -> str:
    """6. Texts where the shipped pipeline's old-label entities differ from the base's."""
    found = inp.metrics.get("disagreements") or {}
    if not found:
        return note("No disagreement lists in the metrics.")
    out = []
    for name, items in found.items():
        out.append(f"<h3>{esc(name)}</h3>")
        if not items:
            out.append(note("The shipped pipeline's old-label entities are the base's on every text."))
            continue
        lost, added = Counter(), Counter()
        for item in items:
            base, shipped = {tuple(s) for s in item["base"]}, {tuple(s) for s in item["shipped"]}
            lost.update(label for _, _, label in base - shipped)
            added.update(label for _, _, label in shipped - base)
        labels = sorted(set(lost) | set(added))
        rows = [
            [esc(label), f"<td class='num'>{lost[label]}</td>", f"<td class='num'>{added[label]}</td>"]
            for label in labels
        ]
        out.append(
            note(
                f"Texts with different old-label entities: {len(items)} (evaluate.py keeps up to a fixed number per set)."
            )
        )
        out.append(
            table(
                ["label", "only the base found", "only the shipped pipeline found"],
                rows,
                "Differing spans per label",
                "names",
            )
        )
        shown = items[: inp.max_examples]
        more = f" (the first {len(shown)} of {len(items)})" if len(shown) < len(items) else ""
        out.append(f"<h4>Texts{more}</h4>")
        out += [
            side_by_side(it["text"], [("base", it["base"]), ("shipped", it["shipped"])], colors, f"#{i}")
            for i, it in enumerate(shown, start=1)
        ]
    return "".join(out)


def section_frozen(inp: Inputs) -> str:
    """7. Whether the frozen components' outputs are unchanged."""
    frozen = inp.metrics.get("frozen_outputs")
    if not frozen:
        return note("No frozen-components check in the metrics (it needs an old-label set with gold).")
    where = esc(frozen.get("set") or "?")
    tokens = frozen.get("tokens")
    if frozen["identical"]:
        verdict = "<span class='badge ok'>identical</span>"
    else:
        verdict = "<span class='badge bad'>DIFFERENT</span>"
    counted = f" ({tokens} tokens)" if tokens is not None else ""
    out = [
        f"<p>{verdict} Token annotations of the base and the shipped pipeline on <strong>{where}</strong>{counted}.</p>"
    ]
    diffs = frozen.get("differing_tokens") or {}
    if diffs:
        rows = [[f"<code>{esc(attr)}</code>", f"<td class='num'>{n}</td>"] for attr, n in diffs.items()]
        out.append(table(["attribute", "tokens that differ"], rows, cls="names"))
    return "".join(out)


def learning_verdict(metrics: dict) -> str:
    """At the very top, in words: whether learning failed, and what to try."""
    learning = metrics.get("learning")
    if not learning:
        return ""
    warnings = learning.get("warnings") or []
    if not warnings:
        where = esc(learning.get("checkpoint_set") or "the checkpoint set")
        return f"<p class='verdict ok'>Learning worked: every new label scores F ≥ {num(learning.get('min_f'))} on {where}.</p>"
    items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
    verdict = "Learning failed." if learning.get("failed", True) else "Learning could not be fully measured."
    return f"<div class='verdict bad'><p><strong>{verdict}</strong></p><ul>{items}</ul></div>"


def summary(inp: Inputs) -> str:
    """A few lines at the top: the headline numbers."""
    m, items = inp.metrics, []
    for name, entry in (m.get("new_label_sets") or {}).items():
        parts = [f"{esc(s)} {num(entry[s]['f'])}" for s in NEW_SYSTEMS if entry.get(s)]
        items.append(f"<strong>{esc(name)}</strong> new-label F: {', '.join(parts)}")
    for name, entry in (m.get("old_label_sets") or {}).items():
        base, shipped = (entry.get("base") or {}).get("gold"), (entry.get("shipped") or {}).get("gold")
        if base and shipped:
            delta = shipped["f"] - base["f"]
            items.append(
                f"<strong>{esc(name)}</strong> old-label F: base {num(base['f'])} → shipped {num(shipped['f'])} ({delta:+.1f})"
            )
    for name, entry in (m.get("agreement_sets") or {}).items():
        shipped = entry.get("shipped") or {}
        if shipped.get("agreement"):
            items.append(
                f"<strong>{esc(name)}</strong>: shipped agrees with the base at F {num(shipped['agreement']['f'])}, "
                f"{shipped.get('new_label_predictions', '?')} new-label entities predicted"
            )
    frozen = m.get("frozen_outputs")
    if frozen:
        items.append(
            "frozen components: " + ("identical outputs" if frozen["identical"] else "<strong>outputs differ</strong>")
        )
    return "<ul class='summary'>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>" if items else ""


SECTIONS: list[tuple[str, str, Callable]] = [
    ("data", "What was trained on what", section_data),
    ("metrics", "Scores side by side", section_metrics),
    ("losses", "Loss curves", section_losses),
    ("confusion", "Confusion on the new labels", section_confusion),
    ("errors", "False positives and false negatives", section_errors),
    ("disagreements", "Where the shipped pipeline disagrees with the base", section_disagreements),
    ("frozen", "Frozen components", section_frozen),
]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#222;margin:0;
background:#f4f5f7;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:1.5em 2em 4em}
h1{margin:.2em 0 .1em}h2{margin:0 0 .6em;border-bottom:2px solid #e3e6ea;padding-bottom:.2em}
h3{margin:1.2em 0 .4em}h4{margin:1em 0 .3em;color:#444}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:1em 1.5em 1.4em;margin:1.2em 0}
nav ol{columns:2;margin:.4em 0}nav a{color:#1a5fb4;text-decoration:none}
.sub{color:#666;margin:0}.note{color:#555;font-size:.92em}code{background:#f0f1f3;padding:0 .25em;border-radius:3px}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.92em}
caption{text-align:left;font-weight:600;padding:.2em 0 .4em;color:#333;white-space:nowrap}
th,td{border:1px solid #dfe2e6;padding:.25em .6em}thead th{background:#f0f2f5;font-weight:600}
tbody th{text-align:left;background:#fafbfc}td.num,span.num{text-align:right;font-variant-numeric:tabular-nums}
td.f{font-weight:600}td.best{background:#c8ecc9;outline:2px solid #4caf50;outline-offset:-2px}
span.best{background:#c8ecc9;padding:0 .3em}td.itself{color:#999;font-weight:400}
table.kv th{display:none}table.kv td:first-child{color:#555;width:12em}
td.hit{background:#c8ecc9}td.miss{background:#ffd6d6}td.part{background:#ffedc2}td.wrong{background:#ffc4b0}
.pair{display:flex;gap:2.5em;flex-wrap:wrap;align-items:flex-start}
.charts{display:flex;flex-direction:column;gap:.6em}figure{margin:0}
svg.chart{width:100%;max-width:860px;height:auto;background:#fff}
svg .grid{stroke:#eceef1}svg .axis{stroke:#555}svg .tick{font-size:12px;fill:#555}
svg .alabel{font-size:13px;fill:#333}svg .legend{font-size:13px;fill:#222}svg .ctitle{font-size:15px;font-weight:600;fill:#222}
.example{border-top:1px solid #e3e6ea;padding:.4em 0}.extitle{color:#888;font-size:.8em}
.view{display:flex;gap:1em;align-items:baseline}.viewname{width:6.5em;flex:none;color:#666;font-size:.9em}
.view .entities{line-height:2.3 !important}
.badge{color:#fff;border-radius:4px;padding:.1em .5em;font-weight:600;margin-right:.4em}.ok{background:#2e7d32}
.bad{background:#c62828}ul.summary{margin:.6em 0 0}
.verdict{border-radius:6px;padding:.5em 1em;margin:.8em 0}.verdict.bad{background:#ffe1e1;color:#222;border:2px solid #c62828}
.verdict.ok{background:#e3f4e4;border:1px solid #2e7d32}
"""


def render_page(inp: Inputs) -> str:
    """The whole page."""
    m = inp.metrics
    labels = list(m.get("new_labels") or []) + list(m.get("old_labels") or []) + list(m.get("base_labels") or [])
    for entry in (m.get("errors") or {}).values():
        labels += [s[2] for ex in entry.get("examples") or [] for key in ("gold", "predicted") for s in ex[key]]
    for items in (m.get("disagreements") or {}).values():
        labels += [s[2] for it in items for key in ("base", "shipped") for s in it[key]]
    colors = label_colors(labels)
    toc = "".join(f"<li><a href='#{key}'>{esc(title)}</a></li>" for key, title, _ in SECTIONS)
    sections = []
    for i, (key, title, render) in enumerate(SECTIONS, start=1):
        needs_colors = render in (section_errors, section_disagreements)
        body = render(inp, colors) if needs_colors else render(inp)
        sections.append(f"<section id='{key}'><h2>{i}. {esc(title)}</h2>{body}</section>")
    name = m.get("shipped_model") or "the shipped pipeline"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Update report: {esc(name)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>Update report: {esc(name)}</h1>"
        f"<p class='sub'>From <code>{esc(inp.metrics_path)}</code> and <code>{esc(inp.losses_path)}</code>.</p>"
        f"{learning_verdict(m)}{summary(inp)}<nav><ol>{toc}</ol></nav>{''.join(sections)}</main></body></html>\n"
    )


def main(
    metrics_path: Annotated[Path, typer.Argument(help="Metrics written by evaluate.py, e.g. training/metrics.json")],
    losses_path: Annotated[
        Path, typer.Argument(help="Loss log written during training by ner_update.loss_logger.v1 (JSONL)")
    ],
    output_path: Annotated[Path, typer.Argument(help="Where to write the HTML page, e.g. training/report.html")],
    base_info_path: Annotated[
        Path | None,
        typer.Option("--base-info", help="The base's description written by base.py (base_model.json)"),
    ] = None,
    train_path: Annotated[
        Path | None, typer.Option("--train", help="Training data (.spacy) to count docs and spans per label in")
    ] = None,
    dev_path: Annotated[
        Path | None, typer.Option("--dev", help="Development data (.spacy) to count docs and spans per label in")
    ] = None,
    max_examples: Annotated[
        int, typer.Option("--max-examples", min=0, help="Example texts shown per set for errors and disagreements")
    ] = 20,
) -> None:
    """Write one self-contained HTML page with the data, scores, loss curves, errors and disagreements."""
    inputs = [metrics_path, losses_path, base_info_path, train_path, dev_path]
    if any(p is not None and p.resolve() == output_path.resolve() for p in inputs):
        msg.fail(f"{output_path}: the output would overwrite an input file", exits=1)
    try:
        metrics = read_metrics(metrics_path)
        losses = read_losses(losses_path)
        base_info = read_base_info(base_info_path) if base_info_path is not None else None
        corpora = {
            name: (path, count_corpus(path))
            for name, path in (("train", train_path), ("dev", dev_path))
            if path is not None
        }
    except InputError as err:
        msg.fail(str(err), exits=1)
    inp = Inputs(metrics, losses, metrics_path, losses_path, base_info, corpora, max_examples)
    page = render_page(inp)
    write_atomic(output_path, page)
    if not losses:
        msg.warn(f"{losses_path} has no records: the page has no loss curves")
    missing = [
        key
        for key in ("new_label_sets", "old_label_sets", "confusion", "errors", "frozen_outputs")
        if not metrics.get(key)
    ]
    if missing:
        msg.warn(f"Not in {metrics_path} (the page says so): {', '.join(missing)}")
    msg.good(f"Wrote {output_path} ({len(page) // 1024} KB)")


if __name__ == "__main__":
    typer.run(main)
