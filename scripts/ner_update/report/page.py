"""The report page: what each section shows, as data, rendered by the jinja2 templates in
scripts/ner_update/report/templates/ (autoescaped: a label or a text cannot inject markup).

A library: prints nothing. To add a section, add a function that returns its data and a
line to SECTIONS, and write templates/sections/KEY.html.jinja; to add a chart, call
`chart` (a matplotlib chart from report_charts and its values as a table) in `losses` or
your section, and list it in the section's `charts`.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from spacy import displacy

from ner_update.evaluation.metrics_schema import Metrics, Span
from ner_update.report.charts import line_chart
from ner_update.report.inputs import BaseInfo, CorpusCounts, Inputs, LossRecord
from ner_update.report.tables import (
    MAX_NAMES,
    NEW_SYSTEMS,
    Cell,
    Table,
    confusion_table,
    count,
    kv_table,
    names_table,
    new_label_table,
    num,
    old_label_tables,
    relabel_table,
    simple_head,
    support,
)

TEMPLATES = Path(__file__).parent / "templates"
LABEL_COLORS = ["#9be564", "#f7d046", "#aa9cfc", "#7aecec", "#ff9561", "#f48fb1", "#4dd0e1", "#feca74", "#c5e1a5"]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ---------------------------------------------------------------- displaCy examples


def label_colors(labels: Iterable[str]) -> dict[str, str]:
    """A colour per label, in order of first appearance (keys as displaCy looks them up)."""
    return {
        str(escape(label)).upper(): LABEL_COLORS[i % len(LABEL_COLORS)] for i, label in enumerate(dict.fromkeys(labels))
    }


def render_spans(text: str, spans: list[Span], colors: dict[str, str]) -> Markup:
    """displaCy (style "ent", manual) markup of [start, end, label] spans; displaCy escapes the
    text, the labels are escaped here; overlapping spans (displaCy cannot draw them): the first kept."""
    kept, last_end = [], 0
    for start, end, label in sorted(spans, key=lambda span: span[:2]):
        if start >= last_end:
            kept.append({"start": start, "end": end, "label": str(escape(label))})
            last_end = end
    doc = {"text": text, "ents": kept, "title": None}
    return Markup(displacy.render(doc, style="ent", manual=True, jupyter=False, options={"colors": colors}))


def examples(items: list[tuple[str, list[tuple[str, list[Span]]]]], limit: int, colors: dict) -> list[dict]:
    """The first `limit` texts, each drawn once per view (gold above predicted, base above shipped)."""
    return [
        {"title": f"#{i}", "views": [(name, render_spans(text, spans, colors)) for name, spans in views]}
        for i, (text, views) in enumerate(items[:limit], start=1)
    ]


def page_colors(m: Metrics) -> dict[str, str]:
    labels = [*m.new_labels, *m.old_labels, *m.base_labels]
    for entry in m.errors.values():
        labels += [span[2] for ex in entry.examples for span in (*ex.gold, *ex.predicted)]
    for items in m.disagreements.values():
        labels += [span[2] for item in items for span in (*item.base, *item.shipped)]
    return label_colors(labels)


# ---------------------------------------------------------------- sections


def corpora_table(corpora: dict[str, tuple[Path, CorpusCounts]]) -> Table | None:
    """Docs, docs without entities and entity spans (per label) of the training and development data."""
    if not corpora:
        return None
    labels = sorted({label for _, counts in corpora.values() for label in counts.labels})
    rows = [
        [Cell(name), Cell(str(path), code=True), count(c.docs), count(c.without_entities)]
        + [count(sum(c.labels.values()))]
        + [count(c.labels.get(label, 0)) for label in labels]
        for name, (path, c) in corpora.items()
    ]
    head = simple_head("set", "file", "docs", "docs without entities", "entity spans", *labels)
    return Table(head, rows, "Entity spans per label in the training and development data", "data")


def base_table(info: BaseInfo | None) -> Table | None:
    if info is None:
        return None
    return kv_table(
        [
            ("name", Cell(info.base_model or "?", code=True)),
            ("version", Cell(str(info.version or "?"))),
            ("pipeline", Cell(", ".join(info.pipeline) or "?")),
            ("entity labels", Cell(", ".join(info.ner_labels) or "none")),
            ("fingerprint", Cell(str(info.fingerprint or "?"), code=True)),
        ]
    )


def recipe_table(m: Metrics) -> Table:
    recipe = Cell(f"configs/recipes/{m.recipe}.cfg", code=True) if m.recipe is not None else None
    return kv_table(
        [
            ("recipe", recipe or Cell("not recorded in the pipeline's meta")),
            ("shipped pipeline", Cell(m.shipped_model, code=True) if m.shipped_model else Cell("not recorded")),
            ("its components", Cell(" → ".join(m.pipeline) or "not recorded")),
            ("new labels", Cell(", ".join(m.new_labels) or "none")),
            ("old labels (gold)", Cell(", ".join(m.old_labels) or "none")),
            ("base labels (mapped)", Cell(", ".join(m.base_labels) or "none")),
        ]
    )


def data(inp: Inputs, colors: dict) -> dict:
    """1. What was trained on what: data counts, the base, the recipe."""
    m = inp.metrics
    return {
        "corpora": corpora_table(inp.corpora),
        "base": base_table(inp.base_info),
        "base_model": m.base_model,
        "recipe": recipe_table(m),
        "systems": m.systems,
    }


def set_role(name: str, checkpoint_set: str) -> str:
    """What a new-label set chose, so that a reader knows which figures are held out."""
    if name == checkpoint_set:
        return "training picked its checkpoint on this set: its scores are not held out."
    if name == "dev":
        return "the dev split of the annotations (labelled partly by the patterns when they bootstrap)."
    return "this set chose nothing (no checkpoint, no setting): its scores are held out."


def metrics(inp: Inputs, colors: dict) -> dict:
    """2. The systems' scores side by side, best F highlighted."""
    m = inp.metrics
    new_sets = [
        {
            "name": name,
            "table": new_label_table(name, entry, m.learning.min_f),
            "no_gold": support(entry) == 0,
            "relabel": relabel_table(name, entry),
            "role": set_role(name, m.learning.checkpoint_set),
        }
        for name, entry in m.new_label_sets.items()
    ]
    old_sets = [old_label_tables(name, entry, True) for name, entry in m.old_label_sets.items()]
    agreement_sets = [old_label_tables(name, entry, False) for name, entry in m.agreement_sets.items()]
    return {"new_sets": new_sets, "old_sets": old_sets, "agreement_sets": agreement_sets}


def _series(records: list[LossRecord], key: str) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = {}
    for record in records:
        for name, value in getattr(record, key).items():
            series.setdefault(name, []).append((record.step, value))
    return series


def chart(series: dict[str, list[tuple[float, float]]], y_label: str, title: str) -> dict:
    """A line chart over the steps and its values as a table (step, then one column per series)."""
    steps = sorted({x for values in series.values() for x, _ in values})
    by_step = {name: dict(values) for name, values in series.items()}
    rows = [
        [Cell(f"{step:g}", number=True)]
        + [Cell(f"{by_step[name][step]:.4g}" if step in by_step[name] else "—", number=True) for name in series]
        for step in steps
    ]
    values = Table(simple_head("step", *series), rows, kind="values")
    return {"svg": line_chart(series, "step", y_label, title), "table": values}


def losses(inp: Inputs, colors: dict) -> dict:
    """3. Loss curves and the dev score over the steps."""
    if not inp.losses:
        return {"steps": 0, "path": inp.losses_path, "charts": []}
    component = _series(inp.losses, "losses")
    rehearsal = _series(inp.losses, "rehearsal_losses")
    scores = [(r.step, r.score) for r in inp.losses if r.score is not None]
    charts = []
    if component:
        charts.append(chart(component, "loss", "Loss on the new-label examples, per component"))
    if rehearsal:
        charts.append(chart(rehearsal, "loss", "Rehearsal losses (silver examples, teacher)"))
    if scores:
        charts.append(chart({"dev score": scores}, "score", "Dev score (the config's score weights)"))
    missing = {"losses": not component, "rehearsal": not rehearsal, "scores": not scores}
    return {"steps": len(inp.losses), "path": inp.losses_path, "charts": charts, "missing": missing}


def confusion(inp: Inputs, colors: dict) -> dict:
    """4. Which label (or none) each gold new-label span received."""
    return {
        "sets": [
            {"name": name, "table": confusion_table(name, table) if table else None}
            for name, table in inp.metrics.confusion.items()
        ]
    }


def _names(title: str, pairs: list[tuple[str, int]]) -> dict:
    rest = pairs[MAX_NAMES:]
    return {"table": names_table(title, pairs), "more": len(rest), "more_spans": sum(n for _, n in rest)}


def errors(inp: Inputs, colors: dict) -> dict:
    """5. False positives and negatives by name, and example texts."""
    sets = []
    for name, entry in inp.metrics.errors.items():
        fps, fns = entry.false_positives, entry.false_negatives
        texts = [(ex.text, [("gold", ex.gold), ("predicted", ex.predicted)]) for ex in entry.examples]
        sets.append(
            {
                "name": name,
                "false_positives": plural(sum(n for _, n in fps), "false positive"),
                "fp_names": plural(len(fps), "name"),
                "false_negatives": plural(sum(n for _, n in fns), "false negative"),
                "fn_names": plural(len(fns), "name"),
                "tables": [_names("false positive", fps), _names("false negative", fns)],
                "examples": examples(texts, inp.max_examples, colors),
                "total": len(texts),
            }
        )
    return {"sets": sets}


def disagreements(inp: Inputs, colors: dict) -> dict:
    """6. Texts where the shipped pipeline's old-label entities differ from the base's."""
    sets = []
    for name, items in inp.metrics.disagreements.items():
        lost, added = Counter(), Counter()
        for item in items:
            base, shipped = set(item.base), set(item.shipped)
            lost.update(label for _, _, label in base - shipped)
            added.update(label for _, _, label in shipped - base)
        rows = [[Cell(label), count(lost[label]), count(added[label])] for label in sorted(set(lost) | set(added))]
        head = simple_head("label", "only the base found", "only the shipped pipeline found")
        texts = [(item.text, [("base", item.base), ("shipped", item.shipped)]) for item in items]
        sets.append(
            {
                "name": name,
                "total": len(items),
                "table": Table(head, rows, "Differing spans per label", "names"),
                "examples": examples(texts, inp.max_examples, colors),
            }
        )
    return {"sets": sets}


def frozen(inp: Inputs, colors: dict) -> dict:
    """7. Whether the frozen components' outputs are unchanged."""
    check = inp.metrics.frozen_outputs
    if check is None:
        return {"check": None}
    rows = [[Cell(attr, code=True), count(n)] for attr, n in check.differing_tokens.items()]
    table = Table(simple_head("attribute", "tokens that differ"), rows, kind="names") if rows else None
    return {"check": check, "table": table}


SECTIONS: list[tuple[str, str, Callable[[Inputs, dict], dict]]] = [
    ("data", "What was trained on what", data),
    ("metrics", "Scores side by side", metrics),
    ("losses", "Loss curves", losses),
    ("confusion", "Confusion on the new labels", confusion),
    ("errors", "False positives and false negatives", errors),
    ("disagreements", "Where the shipped pipeline disagrees with the base", disagreements),
    ("frozen", "Frozen components", frozen),
]


# ---------------------------------------------------------------- the top of the page


def summary(m: Metrics) -> list[dict[str, Any]]:
    """The headline numbers, one item each."""
    items: list[dict[str, Any]] = []
    for name, entry in m.new_label_sets.items():
        scored = [(s, getattr(entry, s).f) for s in NEW_SYSTEMS if getattr(entry, s) is not None]
        items.append({"kind": "new", "name": name, "scores": [(s, num(f)) for s, f in scored]})
    for name, entry in m.old_label_sets.items():
        base, shipped = entry.base.gold, entry.shipped.gold
        if base and shipped:
            delta = f"{shipped.f - base.f:+.1f}"
            items.append({"kind": "old", "name": name, "base": num(base.f), "shipped": num(shipped.f), "delta": delta})
    for name, entry in m.agreement_sets.items():
        if entry.shipped.agreement:
            f, predicted = num(entry.shipped.agreement.f), entry.shipped.new_label_predictions
            items.append({"kind": "agreement", "name": name, "f": f, "predicted": predicted})
    if m.frozen_outputs is not None:
        items.append({"kind": "frozen", "identical": m.frozen_outputs.identical})
    return items


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = num
    return env


def render_page(inp: Inputs, env: Environment | None = None) -> str:
    """The whole page."""
    colors = page_colors(inp.metrics)
    sections = [{"key": key, "title": title, "view": build(inp, colors)} for key, title, build in SECTIONS]
    template = (env or environment()).get_template("report.html.jinja")
    name = inp.metrics.shipped_model or "the shipped pipeline"
    return template.render(
        name=name,
        inp=inp,
        learning=inp.metrics.learning,
        summary=summary(inp.metrics),
        sections=sections,
    )
