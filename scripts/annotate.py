"""Pre-annotate raw texts with a pipeline for review, pattern disagreements first.

Runs a pipeline (package name or path) over raw texts and, optionally, the
EntityRuler patterns that `bootstrap` reads over the same texts with only the
tokenizer. Writes one JSONL span record per text: the pipeline's entities as
"spans" (the suggestion to correct) and both views in "meta", texts where the
two views disagree first. `convert` reads the file as it is (it ignores "meta"),
so a corrected copy can go straight into the annotations folder. Optionally
writes a self-contained displaCy page with both views, one above the other.
"""

from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import srsly
import typer
from spacy.language import Language
from tqdm import tqdm
from wasabi import msg

from ner_update.common import (
    InputError,
    atomic_path,
    edited_since_written,
    exits_on_input_error,
    expand_text_files,
    iter_numbered_texts,
    load_base,
    optional_path,
    record_written,
    use_gpu,
)
from ner_update.evaluation.scoring import ner_labels
from ner_update.inputs.patterns import load_patterns, pattern_pipeline
from ner_update.registered import register_all
from ner_update.report.review_page import render_page
from ner_update.scale.engine import (
    SHARD_BATCHES,
    Engine,
    EngineError,
    EngineOption,
    EngineOptions,
    GpuOption,
    Job,
    Runner,
    SchedulerOption,
    WorkersOption,
    engine_options,
    open_engine,
    shards_of,
)
from ner_update.scale.jobs import entity_components, pattern_matches_job, pipeline_spans_job

register_all()  # registers the components a shipped pipeline may use


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


def check_outputs(output_path: Path, html_path: Path | None, force: bool) -> None:
    """Fail if the outputs are one file, or (without force) one of them changed since annotate wrote it."""
    if html_path is not None and html_path.resolve() == output_path.resolve():
        msg.fail("--html and --output must be different files", exits=1)
    edited = [str(path) for path in (output_path, html_path) if path is not None and edited_since_written(path)]
    if edited and not force:
        msg.fail(
            f"{' and '.join(edited)} changed since annotate wrote it (your corrections?), so annotate will not "
            f"replace it: move the corrected file into the annotations folder (or rename it) and run annotate "
            f"again, or delete it (running scripts/annotate.py yourself: --force replaces it)",
            exits=1,
        )


def run(runner: Runner, job: Job, texts: list[str], desc: str, batch_size: int) -> list:
    """One result per text from the engine, with a progress bar."""
    found: list = []
    with tqdm(total=len(texts), desc=desc, unit="text", disable=None) as bar:
        for result in runner.map(job, shards_of(texts, batch_size * SHARD_BATCHES)):
            found += result.results
            bar.update(len(result.items))
    return found


def predict(
    model: str,
    patterns: list[dict] | None,
    found: list[tuple[str, int, str]],
    labels: set[str] | None,
    lang: str,
    options: EngineOptions,
    batch_size: int,
) -> list[Item]:
    """Run the pipeline (only what its ner needs) and the patterns over the texts, with the engine."""
    texts = [text for _, _, text in found]
    keep = sorted(labels) if labels is not None else None
    with open_engine(options) as runner:
        predicted = run(runner, pipeline_spans_job(model, keep, batch_size=batch_size), texts, "pipeline", batch_size)
        if patterns is None:
            matched: list = [None] * len(texts)
        else:
            matches = run(runner, pattern_matches_job(lang, patterns, batch_size), texts, "patterns", batch_size)
            matched = [
                [{"start": s, "end": e, "label": label} for s, e, label, _ in spans if keep is None or label in keep]
                for spans in matches
            ]
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


def given_inputs(
    input_values: list[str], patterns_value: str, only_disagreements: bool = False
) -> tuple[list[Path], Path | None]:
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
    if only_disagreements and patterns_path is None:
        msg.fail("--only-disagreements needs --patterns to disagree with", exits=1)
    return inputs, patterns_path


def read_labels_and_patterns(labels_value: str, patterns_path: Path | None) -> tuple[list | None, list | None]:
    """The labels given (None: not given) and the patterns read; fails with a message on a bad one."""
    try:
        labels = parse_labels(labels_value) if labels_value.strip() else None
    except ValueError as err:
        msg.fail(str(err), exits=1)
    try:
        patterns = load_patterns(patterns_path) if patterns_path is not None else None
    except InputError as err:
        msg.fail(str(err), exits=1)
    return labels, patterns


def parse_engine(engine: Engine, workers: int, scheduler: str) -> EngineOptions:
    try:
        return engine_options(engine, workers, scheduler)
    except (EngineError, ValueError) as err:
        msg.fail(str(err), exits=1)


def read_texts(inputs: list[Path], max_length: int) -> tuple[list[tuple[str, int, str]], int, int]:
    """collect_texts, failing with a message on a bad input or when there is no text."""
    try:
        found, blanks, duplicates = collect_texts(inputs, max_length)
    except InputError as err:
        msg.fail(str(err), exits=1)
    if not found:
        msg.fail(f"No texts in {', '.join(map(str, inputs))}", exits=1)
    return found, blanks, duplicates


def restrict_patterns(
    labels: list | None, patterns: list | None, patterns_path: Path | None, lang: str
) -> tuple[list | None, list | None]:
    """With patterns, the labels default to theirs and only the patterns of the labels are kept (checked here,
    before any worker builds them)."""
    if patterns is None:
        return labels, None
    labels = labels or list(dict.fromkeys(p["label"] for p in patterns))
    patterns = [p for p in patterns if p["label"] in labels]
    if not patterns:
        msg.fail(f"{patterns_path}: no patterns for the labels {', '.join(labels)}", exits=1)
    try:
        pattern_pipeline(lang, patterns)
    except InputError as err:
        msg.fail(f"{patterns_path}: {err}", exits=1)
    return labels, patterns


def select(items: list[Item], only_disagreements: bool, limit: int) -> list[Item]:
    """The records to write: disagreements first (input order otherwise), at most `limit` (0: all)."""
    ordered = sorted(items, key=lambda item: not item.disagreement)  # stable: input order otherwise
    selected = [item for item in ordered if item.disagreement] if only_disagreements else ordered
    return selected[:limit] if limit else selected


def print_review(items: list[Item], counts: list, labels: Sequence[str], with_patterns: bool, skipped: tuple) -> None:
    msg.table(counts, divider=True, aligns=("l", "r"))
    header, rows = label_rows(items, labels, with_patterns)
    if rows:
        msg.table(rows, header=header, divider=True)
    msg.info(f"{skipped[0]} duplicate texts merged, {skipped[1]} blank lines skipped")


def announce(nlp: Language, model: str, labels: list | None) -> None:
    """Warn about labels the pipeline cannot predict; say which components run."""
    known = ner_labels(nlp)
    for label in [label for label in labels or [] if label not in known]:
        msg.warn(f"Pipeline '{model}' has no entity component that knows {label}: it will predict none")
    msg.info(f"Running {entity_components(nlp)} of {nlp.pipe_names}")


@dataclass
class Review:
    """Where the review goes and which records: disagreements only, at most `limit` (0: all)."""

    output_path: Path
    html_path: Path | None
    only_disagreements: bool
    limit: int


def write_and_report(
    review: Review, items: list[Item], model: str, lang: str, labels: list | None, with_patterns: bool, skipped: tuple
) -> None:
    """Write the selected records (and the page), then print the counts."""
    selected = select(items, review.only_disagreements, review.limit)
    counts = review_counts(items, len(selected), with_patterns)
    shown_labels = labels or sorted(
        {s["label"] for item in items for s in item.pipeline_spans + (item.pattern_spans or [])}
    )
    jsonl = "".join(srsly.json_dumps(item.to_record(model)) + "\n" for item in selected)
    page = render_page(selected, counts, shown_labels, model, lang) if review.html_path is not None else None
    write_review(review.output_path, jsonl, review.html_path, page)
    print_review(items, counts, shown_labels, with_patterns, skipped)
    written = f"{review.output_path}" + (f" and {review.html_path}" if review.html_path is not None else "")
    if not selected:
        msg.warn(f"No records to review: {review.output_path} is empty")
    msg.good(f"Wrote {len(selected)} records ({sum(i.disagreement for i in selected)} disagreements) to {written}")


@exits_on_input_error
def main(
    model: Annotated[
        str, typer.Argument(help="Pipeline to run: package name or path, e.g. training/updated/model-best")
    ],
    input_values: Annotated[list[str], typer.Argument(help="Raw texts: .txt, .json or .jsonl files, or folders")],
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
        Path | None, typer.Option("--html", dir_okay=False, help="Also write a displaCy page of the records written")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Write at most this many records, disagreements first (0: all)")
    ] = 0,
    only_disagreements: Annotated[
        bool, typer.Option("--only-disagreements", help="Write only texts where patterns and pipeline disagree")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Texts per batch for nlp.pipe")] = 256,
    engine: EngineOption = Engine.local,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = "",
    gpu_id: GpuOption = -1,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the output files even if they were edited since annotate wrote them"),
    ] = False,
) -> None:
    """Pre-annotate raw texts with a pipeline for review; disagreements with the patterns first.
    Never replaces an output edited since annotate wrote it (checksums in .NAME.sha256 beside each)."""
    try:
        use_gpu(gpu_id)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    inputs, patterns_path = given_inputs(input_values, patterns_value, only_disagreements)
    check_outputs(output_path, html_path, force)
    labels, patterns = read_labels_and_patterns(labels_value, patterns_path)
    options = parse_engine(engine, workers, scheduler)
    nlp = load_base(model)
    found, blanks, duplicates = read_texts(inputs, nlp.max_length)
    labels, patterns = restrict_patterns(labels, patterns, patterns_path, nlp.lang)
    announce(nlp, model, labels)
    items = predict(model, patterns, found, set(labels) if labels else None, nlp.lang, options, batch_size)
    review = Review(output_path, html_path, only_disagreements, limit)
    write_and_report(review, items, model, nlp.lang, labels, patterns is not None, (duplicates, blanks))


if __name__ == "__main__":
    typer.run(main)
