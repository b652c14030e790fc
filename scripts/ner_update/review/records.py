"""What `annotate` writes: the review records (disagreements first), the review
page (report/review_page.py) and their checksums; and the counts shown in the
terminal and on the page. A library: prints nothing.
"""

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import srsly

from ner_update.files import atomic_path, record_written
from ner_update.report.review_page import render_page
from ner_update.review.request import Plan, Review
from ner_update.review.suggestions import Item


def select(items: list[Item], only_disagreements: bool, limit: int) -> list[Item]:
    """The records to write: disagreements first (input order otherwise), at most `limit` (0: all)."""
    ordered = sorted(items, key=lambda item: not item.disagreement)  # stable: input order otherwise
    selected = [item for item in ordered if item.disagreement] if only_disagreements else ordered
    return selected[:limit] if limit else selected


def review_counts(items: list[Item], n_selected: int, with_patterns: bool) -> list[tuple[str, int]]:
    """The counts shown in the terminal and on the page."""
    counts = [("texts", len(items)), ("with pipeline entities", sum(bool(item.pipeline_spans) for item in items))]
    if with_patterns:
        counts.append(("with pattern matches", sum(bool(item.pattern_spans) for item in items)))
        counts.append(("disagreements", sum(item.disagreement for item in items)))
    counts.append(("records written", n_selected))
    return counts


def shown_labels(items: list[Item], labels: list | None) -> list[str]:
    """The labels given, else every label either view found, sorted."""
    return labels or sorted({s["label"] for item in items for s in item.pipeline_spans + (item.pattern_spans or [])})


def label_rows(items: list[Item], labels: Sequence[str], with_patterns: bool) -> tuple[tuple, list[tuple]]:
    """Header and per-label rows: spans found by the pipeline (and the patterns, and both)."""
    rows = []
    for label in labels:
        pipe_spans = {
            (i, s["start"], s["end"]) for i, it in enumerate(items) for s in it.pipeline_spans if s["label"] == label
        }
        if not with_patterns:
            rows.append((label, len(pipe_spans)))
            continue
        pat_spans = {
            (i, s["start"], s["end"]) for i, it in enumerate(items) for s in it.pattern_spans if s["label"] == label
        }
        rows.append((label, len(pipe_spans), len(pat_spans), len(pipe_spans & pat_spans)))
    header = ("label", "pipeline", "patterns", "both") if with_patterns else ("label", "pipeline")
    return header, rows


def write_files(output_path: Path, jsonl: str, html_path: Path | None, page: str | None) -> None:
    """Write the records and the page (both or neither), and record their checksums."""
    with ExitStack() as stack:
        stack.enter_context(atomic_path(output_path)).write_text(jsonl, encoding="utf8")
        if html_path is not None:
            stack.enter_context(atomic_path(html_path)).write_text(page, encoding="utf8")
    for path in (output_path, html_path):
        if path is not None:
            record_written(path)


def write_review(
    review: Review, items: list[Item], model: str, lang: str, planned: Plan
) -> tuple[list[Item], list[tuple[str, int]], list[str]]:
    """Write the selected records (and the page); the records written, the counts and the labels shown."""
    selected = select(items, review.only_disagreements, review.limit)
    counts = review_counts(items, len(selected), planned.patterns is not None)
    shown = shown_labels(items, planned.labels)
    jsonl = "".join(srsly.json_dumps(item.to_record(model)) + "\n" for item in selected)
    page = render_page(selected, counts, shown, model, lang) if review.html_path is not None else None
    write_files(review.output_path, jsonl, review.html_path, page)
    return selected, counts, shown
