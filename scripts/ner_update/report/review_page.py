"""The review page `annotate` writes: per text, the pipeline's and the patterns'
entities one above the other (displaCy), from a jinja2 template
(templates/review.html.jinja, autoescaped). A library: prints nothing."""

import html
from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from spacy import displacy

TEMPLATES = Path(__file__).parent / "templates"
COLORS = ["#9be564", "#f7d046", "#aa9cfc", "#7aecec", "#ff9561", "#f48fb1", "#4dd0e1", "#feca74"]


def entity_markup(text: str, spans: list[dict], colors: dict[str, str]) -> Markup:
    """displaCy's rendering of one view. displaCy escapes the text but writes labels as
    they are: a label from a pattern file or a model could be markup, so they go in escaped."""
    ents = [{**span, "label": html.escape(span["label"])} for span in spans]
    options = {"colors": colors}
    return Markup(displacy.render({"text": text, "ents": ents}, style="ent", manual=True, options=options))


def render_page(items: list, counts: list[tuple[str, int]], labels: Sequence[str], pipeline: str, lang: str) -> str:
    """A self-contained page: counts, then per text (a review.suggestions.Item) its views."""
    colors = {html.escape(label).upper(): COLORS[i % len(COLORS)] for i, label in enumerate(labels)}
    shown = []
    for item in items:
        views = [("pipeline", item.pipeline_spans)]
        if item.pattern_spans is not None:
            views.append(("patterns", item.pattern_spans))
        shown.append(
            {
                "source": item.source,
                "line": item.line,
                "disagreement": item.disagreement,
                "views": [(name, entity_markup(item.text, spans, colors)) for name, spans in views],
            }
        )
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    template = env.get_template("review.html.jinja")
    return template.render(items=shown, counts=counts, labels=list(labels), pipeline=pipeline, lang=lang)
