"""What `convert` does between its options and its DocBins: the inputs given, the
hand-checked and bootstrapped records merged without the excluded texts, the
split, the writing, and what there is to say about them (case variants, an
empty split, the summary, the counts per label) as text and table rows. A
library: prints nothing (scripts/convert.py prints); InputError for a bad input.
"""

from collections import Counter
from contextlib import ExitStack
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional, Tuple

import typer
from spacy.language import Language

from ner_update.common import InputError, optional_path
from ner_update.files import atomic_path
from ner_update.inputs.formats import expand_inputs
from ner_update.inputs.gold import Record, Report, label_variants, load_records, names, write_docbin
from ner_update.inputs.texts import excluded_texts


class BadRecords(str, Enum):
    """What a bad or conflicting record does."""

    fail = "fail"  # stops the step; nothing is written
    skip = "skip"  # left out, named and counted


# convert's --bad-records option: the choice as a type, with its help
BadRecordsOption = Annotated[
    BadRecords,
    typer.Option(
        "--bad-records",
        help="'fail': a bad or conflicting record stops the step, nothing written; 'skip': it is left out, "
        "named and counted",
    ),
]


class Split(str, Enum):
    """How records are split into train and dev."""

    entity = "entity"  # records sharing an entity name stay together: dev names are unseen in train
    random = "random"


def check_outputs(output: Optional[Path], train_output: Optional[Path], dev_output: Optional[Path]) -> None:
    """InputError unless the outputs are a split (train and dev) or one set (output alone)."""
    if (output is None) == (train_output is None or dev_output is None) or (output and (train_output or dev_output)):
        raise InputError("Give --train-output and --dev-output (a split), or --output alone (no split)")


def given_paths(input_values: List[str], exclude_values: List[str]) -> Tuple[List[Path], List[Path]]:
    """The inputs and the files to exclude that are given ('' is none); InputError if one does not exist
    or a file to exclude is a folder."""
    inputs = [p for p in (optional_path(v, "annotations") for v in input_values) if p is not None]
    exclude = [p for p in (optional_path(v, "file to exclude") for v in exclude_values) if p is not None]
    folders = [p for p in exclude if p.is_dir()]
    if folders:
        raise InputError(f"{folders[0]}: --exclude takes files, not folders")
    return inputs, exclude


# convert's --labels option: the labels to learn, with its help
LabelsOption = Annotated[
    str,
    typer.Option(
        "--labels",
        help="The labels to learn, comma-separated (e.g. the types your base lacks); spans of other labels are "
        "left out, counted; '' learns every label",
    ),
]


def keep_labels(records: List[Record], labels: str) -> Tuple[List[Record], Optional[str]]:
    """The records with only the spans of `labels` (comma-separated; "" keeps all), and a note of what was
    left out. A record keeps its text: its tokens that other labels covered teach "none of these labels"."""
    kept = {label.strip() for label in labels.split(",") if label.strip()}
    if not kept:
        return records, None
    dropped = Counter(label for r in records for _, _, label in (*r.spans, *r.incorrect) if label not in kept)
    records = [
        replace(
            r, spans=tuple(s for s in r.spans if s[2] in kept), incorrect=tuple(s for s in r.incorrect if s[2] in kept)
        )
        for r in records
    ]
    found = {label for r in records for _, _, label in (*r.spans, *r.incorrect)}
    notes = [f"no span of {', '.join(sorted(kept - found))} (vars.labels: a typo?)"] if kept - found else []
    if dropped:
        listed = ", ".join(f"{label} {n}" for label, n in dropped.most_common())
        notes.insert(0, f"{sum(dropped.values())} spans of labels not in vars.labels ({labels}) left out: {listed}")
    return records, "; ".join(notes) or None


def collect(
    inputs: List[Path], bootstrapped: List[Path], exclude: List[Path], nlp: Language, report: Report, labels: str = ""
) -> Tuple[List[Record], List[str]]:
    """Hand-checked records, then bootstrapped ones of other texts, without the excluded texts and with only
    the spans of `labels` (keep_labels); and what to say about those left out. InputError for a file that
    cannot be read."""
    excluded = excluded_texts(exclude)
    records = load_records(expand_inputs(inputs), nlp, report)
    rejected = set(report.rejected_texts)  # a bad hand-checked record: its text is out, not bootstrapped
    by_rules = load_records(bootstrapped, nlp, report, allow_empty=True) if bootstrapped else []
    checked_texts = {r.text.strip() for r in records}
    records += [r for r in by_rules if r.text.strip() not in checked_texts | rejected]
    notes = []
    if bootstrapped:
        replaced = sum(1 for r in by_rules if r.text.strip() in checked_texts)
        left_out = sum(1 for r in by_rules if r.text.strip() in rejected)
        notes.append(
            f"{replaced} bootstrapped records replaced by the hand-checked annotation of the same text "
            f"({len(by_rules)} bootstrapped records in all)"
            + (f"; {left_out} left out because the annotation of their text is bad" if left_out else "")
        )
    n_records = len(records)
    records = [r for r in records if r.text.strip() not in excluded]
    if exclude:
        notes.append(
            f"{n_records - len(records)} records left out because their text is in {', '.join(map(str, exclude))}"
        )
    records, note = keep_labels(records, labels)
    return records, notes + ([note] if note else [])


def case_variant_warnings(records: List[Record], report: Report) -> List[str]:
    """One warning per group of labels that differ only in case (they stay separate labels), naming every
    spelling, its number of spans and the record where it first occurs; counted in the report."""
    warnings = []
    for variants in label_variants(records):
        report.case_variants += len(variants)
        described = [f"{label!r} ({count} spans, first in {where})" for label, count, where in variants]
        warnings.append(
            f"Labels that differ only in case: {', '.join(described[:-1])} and {described[-1]}. "
            "They are kept as given, as separate labels; make them identical if they mean the same."
        )
    return warnings


def check_records(records: List[Record], report: Report, skip: bool) -> None:
    """InputError if bad records stop the step (unless they are skipped) or no valid record is left."""
    if report.errors and not skip:
        raise InputError(
            f"{len(report.errors)} bad records; nothing written. Fix them, or leave them out and go on with "
            f"--vars.bad_records skip (running this script yourself: --bad-records skip)"
        )
    if not records:
        raise InputError("No valid records; nothing written")


def empty_split_warnings(n_train: int, n_dev: int, dev_ratio: float, split: str) -> List[str]:
    """Why dev (or train) is empty although the ratio asked for some."""
    n = n_train + n_dev
    warnings = []
    for name, size, wanted in (("dev", n_dev, dev_ratio), ("train", n_train, 1 - dev_ratio)):
        if size or not wanted:
            continue
        target = round(wanted * n)
        why = (
            f"{n} records x {wanted:g} rounds to {target}"
            if target == 0
            else "records that share an entity name stay together (split = entity), and the groups do not fit"
        )
        warnings.append(
            f"{name} is empty: {why}. `spacy train` needs both train and dev examples: add records, "
            "change --vars.dev_ratio" + (" or use --vars.split random" if split == "entity" else "")
        )
    return warnings


def write_docbins(nlp: Language, sets: List[Tuple[Path, List[Record]]]) -> None:
    """Each set of records as a DocBin at its path, written atomically and together (all or none)."""
    with ExitStack() as stack:
        for path, records in sets:
            write_docbin(nlp, records, stack.enter_context(atomic_path(path)))


def write_empty(nlp: Language, output: Optional[Path]) -> None:
    """'' as the input: an empty evaluation set; InputError for a split (nothing to train on)."""
    if output is None:
        raise InputError("No annotations given (the input is ''): nothing to train on")
    write_docbins(nlp, [(output, [])])


def summary_notes(report: Report) -> List[str]:
    """What was merged, skipped and left out: one line, and one more if records taught nothing."""
    notes = [
        f"{report.duplicates} duplicate records merged, {report.repeated_spans} repeated spans merged, "
        f"{len(report.errors)} bad records skipped "
        f"({report.conflicts} texts annotated two ways: every version of them left out), "
        f"{report.case_variants} labels differing only in case from another label (kept as given), "
        f"{report.nested_values} values inside a longer value of the same text (the longer one kept)"
    ]
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items()))
    if skipped or report.binary_merged:
        notes.append(
            f"Skipped as teaching nothing: {skipped or 'none'}; "
            f"{report.binary_merged} binary answers merged with another record of the same text"
        )
    return notes


def stats_rows(train: List[Record], dev: List[Record]) -> List[tuple]:
    """Documents and spans per label in train and dev (and binary answers, if any): rows of ("", train, dev)."""
    labels = sorted({label for r in train + dev for _, _, label in r.spans})
    counts = {
        split: Counter(label for r in recs for _, _, label in r.spans)
        for split, recs in (("train", train), ("dev", dev))
    }
    rows = [("documents", len(train), len(dev))] + [
        (label, counts["train"][label], counts["dev"][label]) for label in labels
    ]
    rejected = [sum(len(r.incorrect) for r in recs) for recs in (train, dev)]
    partial = [sum(not r.complete for r in recs) for recs in (train, dev)]
    if any(partial):
        rows += [("binary answers: texts", *partial), ("rejected spans", *rejected)]
    return rows


def unseen_names_note(train: List[Record], dev: List[Record]) -> Optional[str]:
    """How many of dev's entity names never occur in train (None without dev names)."""
    dev_names = names(dev)
    if not dev_names:
        return None
    unseen = len(dev_names - names(train))
    return f"{unseen} of {len(dev_names)} entity names in dev ({unseen / len(dev_names):.0%}) never occur in train"
