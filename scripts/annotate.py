"""Pre-annotate raw texts with a pipeline for review, pattern disagreements first.

Runs a pipeline (package name or path) over raw texts and, optionally, the
EntityRuler patterns that `bootstrap` reads over the same texts with only the
tokenizer. Writes one JSONL span record per text: the pipeline's entities as
"spans" (the suggestion to correct) and both views in "meta", texts where the
two views disagree first. `convert` reads the file as it is (it ignores "meta"),
so a corrected copy can go straight into the annotations folder. Optionally
writes a self-contained displaCy page with both views, one above the other.
"""

import html
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import srsly
import typer
from spacy import displacy
from spacy.language import Language
from spacy.tokens import Doc
from tqdm import tqdm
from wasabi import msg

import functions  # noqa: F401  (registers the components a shipped pipeline may use)
from common import (
    InputError,
    atomic_path,
    edited_since_written,
    expand_text_files,
    iter_numbered_texts,
    load_base,
    optional_path,
    record_written,
)
from patterns import load_patterns, pattern_pipeline

NER_FACTORIES = {"ner", "beam_ner"}
# components that set no entities: running them cannot change what the ner predicts
NO_ENTITY_FACTORIES = {
    "tok2vec", "transformer", "curated_transformer", "tagger", "morphologizer", "parser", "beam_parser", "senter",
    "sentencizer", "attribute_ruler", "lemmatizer", "trainable_lemmatizer", "textcat", "textcat_multilabel",
    "spancat", "spancat_singlelabel", "entity_linker", "doc_cleaner",
}  # fmt: skip
ENTITY_FACTORIES = NER_FACTORIES | {"entity_ruler", "future_entity_ruler", "span_ruler"}
COLORS = ["#9be564", "#f7d046", "#aa9cfc", "#7aecec", "#ff9561", "#f48fb1", "#4dd0e1", "#feca74"]


@dataclass
class Item:
    """One text, where it came from, and the entities each view found in it."""

    source: str
    line: int
    text: str
    pipeline_spans: list[dict]
    pattern_spans: list[dict] | None  # None without patterns

    @property
    def disagreement(self) -> bool:
        return self.pattern_spans is not None and self.pattern_spans != self.pipeline_spans

    def to_record(self, pipeline: str) -> dict:
        meta = {
            "source": self.source,
            "line": self.line,
            "pipeline": pipeline,
            "disagreement": self.disagreement,
            "pattern_spans": self.pattern_spans,
            "pipeline_spans": self.pipeline_spans,
        }
        return {"text": self.text, "spans": [dict(s) for s in self.pipeline_spans], "meta": meta}


def collect_texts(paths: Sequence[Path], max_length: int) -> tuple[list[tuple[str, int, str]], int, int]:
    """(source, line, text) of every unique text in input order; also blanks skipped and duplicates merged.

    InputError for a bad file or record, or a text over max_length (spaCy's nlp.max_length)."""
    seen: set[str] = set()
    found = []
    duplicates = 0
    counts: Counter = Counter()
    for path in expand_text_files(list(paths)):
        for line, text in iter_numbered_texts(path, counts, max_length):
            if text in seen:
                duplicates += 1
                continue
            seen.add(text)
            found.append((path.name, line, text))
    return found, counts["blank texts skipped"], duplicates


def parse_labels(value: str) -> list[str]:
    """'GADGET, PRODUCT' -> ['GADGET', 'PRODUCT']; ValueError for an empty list or a label with spaces."""
    labels = [label.strip() for label in value.split(",") if label.strip()]
    bad = [label for label in labels if len(label.split()) != 1]
    if bad or not labels:
        raise ValueError(f"--labels takes comma-separated labels without spaces, e.g. GADGET,PRODUCT; got {value!r}")
    return list(dict.fromkeys(labels))


def entity_components(nlp: Language) -> list[str]:
    """Each ner and the components it listens to; every component if anything else may set entities."""
    factories = {name: nlp.get_pipe_meta(name).factory for name in nlp.pipe_names}
    ners = {name for name, factory in factories.items() if factory in NER_FACTORIES}
    if not ners or any(f not in NER_FACTORIES | NO_ENTITY_FACTORIES for f in factories.values()):
        return list(nlp.pipe_names)
    return [
        name for name, proc in nlp.pipeline if name in ners or ners & set(getattr(proc, "listening_components", []))
    ]


def entity_labels(nlp: Language) -> set[str]:
    """The labels the pipeline's entity components know."""
    labels: set[str] = set()
    for name, proc in nlp.pipeline:
        if nlp.get_pipe_meta(name).factory in ENTITY_FACTORIES:
            labels.update(getattr(proc, "labels", ()))
    return labels


def doc_spans(doc: Doc, labels: set[str] | None) -> list[dict]:
    """The doc's entities as span dicts, restricted to labels (None: all)."""
    return [
        {"start": ent.start_char, "end": ent.end_char, "label": ent.label_}
        for ent in doc.ents
        if labels is None or ent.label_ in labels
    ]


def run(nlp: Language, texts: list[str], labels: set[str] | None, desc: str, batch_size: int) -> list[list[dict]]:
    """Entities per text, batched, with a progress bar."""
    docs = tqdm(nlp.pipe(texts, batch_size=batch_size), total=len(texts), desc=desc, unit="text", disable=None)
    return [doc_spans(doc, labels) for doc in docs]


def render_page(
    items: list[Item], counts: list[tuple[str, int]], labels: Sequence[str], pipeline: str, lang: str
) -> str:
    """A self-contained displaCy page: counts, then per text the pipeline's and the patterns' entities."""
    # displaCy escapes the text but writes labels as they are: a label from a pattern file or a
    # model could be markup (<script>...), so labels go in escaped
    options = {"colors": {html.escape(label).upper(): COLORS[i % len(COLORS)] for i, label in enumerate(labels)}}
    sections = []
    for item in items:
        views = [("pipeline", item.pipeline_spans)]
        if item.pattern_spans is not None:
            views.append(("patterns", item.pattern_spans))
        rendered = "".join(
            f"<div class='view'><div class='name'>{name}</div>"
            + displacy.render(
                {"text": item.text, "ents": [{**s, "label": html.escape(s["label"])} for s in spans]},
                style="ent",
                manual=True,
                options=options,
                jupyter=False,
            )
            + "</div>"
            for name, spans in views
        )
        flag = " <span class='flag'>disagreement</span>" if item.disagreement else ""
        sections.append(
            f"<section class='{'disagree' if item.disagreement else 'agree'}'>"
            f"<h2>{html.escape(item.source)}, line {item.line}{flag}</h2>{rendered}</section>"
        )
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{value}</td></tr>" for name, value in counts)
    return (
        f"<!DOCTYPE html><html lang='{html.escape(lang)}'><head><meta charset='utf-8'>"
        f"<title>Review: {html.escape(pipeline)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td{border-bottom:1px solid #ddd;padding:.2em .8em}td:last-child{text-align:right}"
        "section{border-top:1px solid #ccc;padding:.5em 0}h2{font-size:1em;color:#555;margin:.3em 0}"
        ".flag{background:#c62828;color:#fff;border-radius:.3em;padding:0 .4em;font-size:.85em}"
        ".view{display:flex;gap:1em;align-items:baseline}.name{width:6em;flex:none;color:#666}"
        ".view .entities{line-height:2.2 !important}</style></head><body>"
        f"<h1>Review: {html.escape(pipeline)}</h1><table>{rows}</table>"
        f"<p>Labels: {html.escape(', '.join(labels)) or 'all'}. Texts where the views disagree come first.</p>"
        f"{''.join(sections)}</body></html>"
    )


def check_outputs(output_path: Path, html_path: Path | None, force: bool) -> None:
    """Fail if the outputs are one file, or (without force) one of them changed since annotate wrote it."""
    if html_path is not None and html_path.resolve() == output_path.resolve():
        msg.fail("--html and --output must be different files", exits=1)
    edited = [str(path) for path in (output_path, html_path) if path is not None and edited_since_written(path)]
    if edited and not force:
        msg.fail(
            f"{' and '.join(edited)} changed since annotate wrote it (your corrections?), so annotate will not "
            f"replace it: move the corrected file into the annotations folder (or rename it) and run annotate "
            f"again, or pass --force to replace it",
            exits=1,
        )


def predict(
    nlp: Language,
    ruler_nlp: Language | None,
    found: list[tuple[str, int, str]],
    labels: set[str] | None,
    batch_size: int,
) -> list[Item]:
    """Run the pipeline (only what its ner needs) and the patterns over the texts."""
    needed = entity_components(nlp)
    texts = [text for _, _, text in found]
    with nlp.select_pipes(enable=needed):
        msg.info(f"Running {needed} of {nlp.pipe_names}")
        predicted = run(nlp, texts, labels, "pipeline", batch_size)
    matched = run(ruler_nlp, texts, labels, "patterns", batch_size) if ruler_nlp else [None] * len(texts)
    return [Item(src, line, text, p, m) for (src, line, text), p, m in zip(found, predicted, matched)]


def review_counts(items: list[Item], n_selected: int, with_patterns: bool) -> list[tuple[str, int]]:
    """The counts shown in the terminal and on the page."""
    counts = [("texts", len(items)), ("with pipeline entities", sum(bool(item.pipeline_spans) for item in items))]
    if with_patterns:
        counts.append(("with pattern matches", sum(bool(item.pattern_spans) for item in items)))
        counts.append(("disagreements", sum(item.disagreement for item in items)))
    counts.append(("records written", n_selected))
    return counts


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


def write_review(output_path: Path, jsonl: str, html_path: Path | None, page: str | None) -> None:
    """Write the records and the page (both or neither), and record their checksums."""
    with ExitStack() as stack:
        stack.enter_context(atomic_path(output_path)).write_text(jsonl, encoding="utf8")
        if html_path is not None:
            stack.enter_context(atomic_path(html_path)).write_text(page, encoding="utf8")
    for path in (output_path, html_path):
        if path is not None:
            record_written(path)


def given_inputs(input_values: list[str], patterns_value: str) -> tuple[list[Path], Path | None]:
    """The raw-text paths and the patterns file given ('' is none); fail if one does not exist or no texts are given."""
    try:
        inputs = [p for p in (optional_path(v, "raw texts") for v in input_values) if p is not None]
        patterns_path = optional_path(patterns_value, "patterns file")
    except InputError as err:
        msg.fail(str(err), exits=1)
    if not inputs:
        msg.fail("No raw texts given (vars.raw_texts is empty): annotate needs texts to suggest entities on", exits=1)
    if patterns_path is not None and patterns_path.is_dir():
        msg.fail(f"{patterns_path}: a folder, not a patterns file", exits=1)
    return inputs, patterns_path


def main(
    model: Annotated[
        str, typer.Argument(help="Pipeline to run: package name or path, e.g. training/updated/model-best")
    ],
    input_values: Annotated[
        list[str],
        typer.Argument(help="Raw texts: .txt (one per line), .json (list) or .jsonl, or folders of them"),
    ],
    output_path: Annotated[
        Path, typer.Option("--output", dir_okay=False, help="Where to write the span records to review (JSONL)")
    ],
    patterns_value: Annotated[
        str,
        typer.Option(
            "--patterns",
            help="EntityRuler patterns (JSONL, as for bootstrap); texts where they and the pipeline disagree come "
            "first; '' (empty): none",
        ),
    ] = "",
    labels_value: Annotated[
        str,
        typer.Option(
            "--labels",
            help="Comma-separated labels to keep, e.g. GADGET,PRODUCT (default: the patterns' labels, else all)",
        ),
    ] = "",
    html_path: Annotated[
        Path | None,
        typer.Option("--html", dir_okay=False, help="Also write a self-contained displaCy page of the records written"),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Write at most this many records, disagreements first (0: all)")
    ] = 0,
    only_disagreements: Annotated[
        bool, typer.Option("--only-disagreements", help="Write only texts where patterns and pipeline disagree")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Texts per batch for nlp.pipe")] = 256,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the output files even if they were edited since annotate wrote them"),
    ] = False,
) -> None:
    """Pre-annotate raw texts with a pipeline for review; disagreements with the patterns first.

    Never replaces an output that changed since annotate wrote it (your corrections):
    the checksum of what it wrote is kept in .NAME.sha256 beside each output."""
    inputs, patterns_path = given_inputs(input_values, patterns_value)
    if only_disagreements and patterns_path is None:
        msg.fail("--only-disagreements needs --patterns to disagree with", exits=1)
    check_outputs(output_path, html_path, force)
    try:
        labels = parse_labels(labels_value) if labels_value.strip() else None
    except ValueError as err:
        msg.fail(str(err), exits=1)
    try:
        patterns = load_patterns(patterns_path) if patterns_path is not None else None
    except InputError as err:
        msg.fail(str(err), exits=1)
    nlp = load_base(model)
    try:
        found, blanks, duplicates = collect_texts(inputs, nlp.max_length)
    except InputError as err:
        msg.fail(str(err), exits=1)
    if not found:
        msg.fail(f"No texts in {', '.join(map(str, inputs))}", exits=1)
    if patterns is not None:
        labels = labels or list(dict.fromkeys(p["label"] for p in patterns))
        patterns = [p for p in patterns if p["label"] in labels]
        if not patterns:
            msg.fail(f"{patterns_path}: no patterns for the labels {', '.join(labels)}", exits=1)
    label_set = set(labels) if labels else None

    try:
        ruler_nlp = pattern_pipeline(nlp.lang, patterns) if patterns is not None else None
    except InputError as err:
        msg.fail(f"{patterns_path}: {err}", exits=1)
    known = entity_labels(nlp)
    for label in [label for label in labels or [] if label not in known]:
        msg.warn(f"Pipeline '{model}' has no entity component that knows {label}: it will predict none")
    items = predict(nlp, ruler_nlp, found, label_set, batch_size)

    ordered = sorted(items, key=lambda item: not item.disagreement)  # stable: input order otherwise
    selected = [item for item in ordered if item.disagreement] if only_disagreements else ordered
    selected = selected[:limit] if limit else selected
    counts = review_counts(items, len(selected), patterns is not None)

    jsonl = "".join(srsly.json_dumps(item.to_record(model)) + "\n" for item in selected)
    shown_labels = labels or sorted(
        {s["label"] for item in items for s in item.pipeline_spans + (item.pattern_spans or [])}
    )
    page = render_page(selected, counts, shown_labels, model, nlp.lang) if html_path is not None else None
    write_review(output_path, jsonl, html_path, page)

    msg.table(counts, divider=True, aligns=("l", "r"))
    header, rows = label_rows(items, shown_labels, patterns is not None)
    if rows:
        msg.table(rows, header=header, divider=True)
    msg.info(f"{duplicates} duplicate texts merged, {blanks} blank lines skipped")
    if not selected:
        msg.warn(f"No records to review: {output_path} is empty")
    written = f"{output_path}" + (f" and {html_path}" if html_path is not None else "")
    msg.good(f"Wrote {len(selected)} records ({sum(i.disagreement for i in selected)} disagreements) to {written}")


if __name__ == "__main__":
    typer.run(main)
