"""What `annotate` is asked to do: the raw texts, patterns and labels given, the
outputs (never a file edited since annotate wrote it), and the unique texts
read. A library: prints nothing; InputError for a bad input, naming it.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ner_update.common import LABEL_RULE, InputError, expand_text_files, is_valid_label, optional_path
from ner_update.files import edited_since_written
from ner_update.inputs.patterns import load_patterns, pattern_pipeline, patterns_file
from ner_update.inputs.texts import iter_numbered_texts

Found = tuple[str, int, str]  # source file name, line or record number, text


@dataclass
class Review:
    """Where the review goes and which records: disagreements only, at most `limit` (0: all)."""

    output_path: Path
    html_path: Path | None
    only_disagreements: bool
    limit: int

    @property
    def written(self) -> str:
        """The files written, as the final message names them."""
        return f"{self.output_path}" + (f" and {self.html_path}" if self.html_path is not None else "")


@dataclass
class Given:
    """The raw-text paths, the patterns file and what was read from it, and the labels to keep (None: not given)."""

    inputs: list[Path]
    patterns_path: Path | None
    patterns: list[dict] | None
    labels: list[str] | None


def check_outputs(output_path: Path, html_path: Path | None, force: bool) -> None:
    """InputError if the outputs are one file, or (without force) one of them changed since annotate wrote it."""
    if html_path is not None and html_path.resolve() == output_path.resolve():
        raise InputError("--html and --output must be different files")
    edited = [str(path) for path in (output_path, html_path) if path is not None and edited_since_written(path)]
    if edited and not force:
        raise InputError(
            f"{' and '.join(edited)} changed since annotate wrote it (your corrections?), so annotate will not "
            f"replace it: move the corrected file into the annotations folder (or rename it) and run annotate "
            f"again, or delete it (running scripts/annotate.py yourself: --force replaces it)"
        )


def parse_labels(value: str) -> list[str]:
    """'GADGET, PRODUCT' -> ['GADGET', 'PRODUCT']; InputError for an empty list or a label with spaces."""
    labels = [label.strip() for label in value.split(",") if label.strip()]
    if not labels or not all(is_valid_label(label) for label in labels):
        raise InputError(f"--labels takes comma-separated labels ({LABEL_RULE}), e.g. GADGET,PRODUCT; got {value!r}")
    return list(dict.fromkeys(labels))


def given_inputs(
    input_values: list[str], patterns_value: str, only_disagreements: bool = False
) -> tuple[list[Path], Path | None]:
    """The raw-text paths and the patterns file given ('' is none); InputError if one does not exist or no
    texts are given."""
    inputs = [p for p in (optional_path(v, "raw texts") for v in input_values) if p is not None]
    patterns_path = patterns_file(patterns_value)
    if not inputs:
        raise InputError("No raw texts given (vars.raw_texts is empty): annotate needs texts to suggest entities on")
    if only_disagreements and patterns_path is None:
        raise InputError("--only-disagreements needs --patterns to disagree with")
    return inputs, patterns_path


def read_request(input_values: list[str], patterns_value: str, labels_value: str, review: Review, force: bool) -> Given:
    """The inputs given, checked in this order: raw texts and patterns file, the outputs, the labels, the
    patterns read; InputError for the first bad one."""
    inputs, patterns_path = given_inputs(input_values, patterns_value, review.only_disagreements)
    check_outputs(review.output_path, review.html_path, force)
    labels = parse_labels(labels_value) if labels_value.strip() else None
    patterns = load_patterns(patterns_path) if patterns_path is not None else None
    return Given(inputs, patterns_path, patterns, labels)


def collect_texts(paths: Sequence[Path], max_length: int) -> tuple[list[Found], int, int]:
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


def read_texts(inputs: list[Path], max_length: int) -> tuple[list[Found], int, int]:
    """collect_texts; InputError on a bad input or when there is no text."""
    found, blanks, duplicates = collect_texts(inputs, max_length)
    if not found:
        raise InputError(f"No texts in {', '.join(map(str, inputs))}")
    return found, blanks, duplicates


@dataclass
class Plan:
    """What to run: the unique texts, the labels to keep and the patterns of those labels; and what reading
    the texts skipped (duplicates merged, blank lines)."""

    found: list[Found]
    labels: list[str] | None
    patterns: list[dict] | None
    duplicates: int
    blanks: int


def plan(given: Given, max_length: int, lang: str) -> Plan:
    """Read the texts, then restrict the patterns to the labels; InputError for the first bad input."""
    found, blanks, duplicates = read_texts(given.inputs, max_length)
    labels, patterns = restrict_patterns(given, lang)
    return Plan(found, labels, patterns, duplicates, blanks)


def restrict_patterns(given: Given, lang: str) -> tuple[list | None, list | None]:
    """The labels and patterns to run. With patterns, the labels default to theirs and only the patterns of the
    labels are kept (checked here, before any worker builds them; InputError naming the file)."""
    labels, patterns, patterns_path = given.labels, given.patterns, given.patterns_path
    if patterns is None:
        return labels, None
    labels = labels or list(dict.fromkeys(p["label"] for p in patterns))
    patterns = [p for p in patterns if p["label"] in labels]
    if not patterns:
        raise InputError(f"{patterns_path}: no patterns for the labels {', '.join(labels)}")
    try:
        pattern_pipeline(lang, patterns)
    except InputError as err:
        raise InputError(f"{patterns_path}: {err}") from None
    return labels, patterns
