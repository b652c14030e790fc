"""Convert entity annotations (JSON/JSONL) into train and dev DocBins.

Reads the project's own formats and what annotation tools export (see
formats.py and the README's "Data formats"): course, values, spans (Prodigy,
whose answers are honoured), Label Studio and doccano, detected per record. A
file is JSON (a list of records) or JSONL (one record per line), by extension
(.json/.jsonl) or, for other extensions, by content; folders are read with their
subfolders. Every bad record is reported with file, record (line for JSONL),
text and span; the command fails and writes nothing unless --bad-records skip
(or --lenient) is given.
Files may start with a UTF-8 byte order mark (as Windows editors and Excel write
them). Labels that differ only in case ("gadget" and "GADGET") are kept as
given, with a warning. Records are streamed: memory holds each record's text and
spans, never all docs.
"""

from collections import Counter
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional, Tuple

import spacy
import typer
from spacy.language import Language
from wasabi import msg

from ner_update.common import (
    InputError,
    atomic_path,
    excluded_texts,
    exits_on_input_error,
    optional_path,
)
from ner_update.inputs.formats import expand_inputs
from ner_update.inputs.gold import Record, Report, label_variants, load_records, names, split_records, write_docbin
from ner_update.inputs.guards import refuse_overwriting_inputs


class BadRecords(str, Enum):
    """What a bad or conflicting record does."""

    fail = "fail"  # stops the step; nothing is written
    skip = "skip"  # left out, named and counted


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


def warn_case_variants(records: List[Record], report: Report) -> None:
    """Warn about labels that differ only in case; they stay separate labels.

    Each warning names every spelling, its number of spans and the record where
    it first occurs.
    """
    for variants in label_variants(records):
        report.case_variants += len(variants)
        described = [f"{label!r} ({count} spans, first in {where})" for label, count, where in variants]
        msg.warn(
            f"Labels that differ only in case: {', '.join(described[:-1])} and {described[-1]}. "
            "They are kept as given, as separate labels; make them identical if they mean the same."
        )


def print_stats(train: List[Record], dev: List[Record]) -> None:
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
    msg.table(rows, header=("", "train", "dev"), divider=True, aligns=("l", "r", "r"))
    dev_names = names(dev)
    if dev_names:
        unseen = len(dev_names - names(train))
        msg.info(
            f"{unseen} of {len(dev_names)} entity names in dev ({unseen / len(dev_names):.0%}) never occur in train"
        )


def print_summary(report: Report) -> None:
    msg.info(
        f"{report.duplicates} duplicate records merged, {report.repeated_spans} repeated spans merged, "
        f"{len(report.errors)} bad records skipped "
        f"({report.conflicts} texts annotated two ways: every version of them left out), "
        f"{report.case_variants} labels differing only in case from another label (kept as given), "
        f"{report.nested_values} values inside a longer value of the same text (the longer one kept)"
    )
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items()))
    if skipped or report.binary_merged:
        msg.info(
            f"Skipped as teaching nothing: {skipped or 'none'}; "
            f"{report.binary_merged} binary answers merged with another record of the same text"
        )


def collect(
    inputs: List[Path], bootstrapped: List[Path], exclude: List[Path], nlp: Language, report: Report
) -> List[Record]:
    """Hand-checked records, then bootstrapped ones of other texts, without the excluded texts."""
    try:
        excluded = excluded_texts(exclude)
        records = load_records(expand_inputs(inputs), nlp, report)
        rejected = set(report.rejected_texts)  # a bad hand-checked record: its text is out, not bootstrapped
        by_rules = load_records(bootstrapped, nlp, report, allow_empty=True) if bootstrapped else []
    except InputError as err:
        msg.fail(str(err), exits=1)
    checked_texts = {r.text.strip() for r in records}
    records += [r for r in by_rules if r.text.strip() not in checked_texts | rejected]
    if bootstrapped:
        replaced = sum(1 for r in by_rules if r.text.strip() in checked_texts)
        left_out = sum(1 for r in by_rules if r.text.strip() in rejected)
        msg.info(
            f"{replaced} bootstrapped records replaced by the hand-checked annotation of the same text "
            f"({len(by_rules)} bootstrapped records in all)"
            + (f"; {left_out} left out because the annotation of their text is bad" if left_out else "")
        )
    n_records = len(records)
    records = [r for r in records if r.text.strip() not in excluded]
    if exclude:
        msg.info(f"{n_records - len(records)} records left out because their text is in {', '.join(map(str, exclude))}")
    return records


def warn_empty_split(n_train: int, n_dev: int, dev_ratio: float, split: str) -> None:
    """Say why dev (or train) is empty although the ratio asked for some."""
    n = n_train + n_dev
    for name, size, wanted in (("dev", n_dev, dev_ratio), ("train", n_train, 1 - dev_ratio)):
        if size or not wanted:
            continue
        target = round(wanted * n)
        why = (
            f"{n} records x {wanted:g} rounds to {target}"
            if target == 0
            else "records that share an entity name stay together (split = entity), and the groups do not fit"
        )
        msg.warn(
            f"{name} is empty: {why}. `spacy train` needs both train and dev examples: add records, "
            "change --vars.dev_ratio" + (" or use --vars.split random" if split == "entity" else "")
        )


def given_paths(input_values: List[str], exclude_values: List[str]) -> Tuple[List[Path], List[Path]]:
    """The inputs and the files to exclude that are given ('' is none); fail if one does not exist."""
    try:
        inputs = [p for p in (optional_path(v, "annotations") for v in input_values) if p is not None]
        exclude = [p for p in (optional_path(v, "file to exclude") for v in exclude_values) if p is not None]
    except InputError as err:
        msg.fail(str(err), exits=1)
    folders = [p for p in exclude if p.is_dir()]
    if folders:
        msg.fail(f"{folders[0]}: --exclude takes files, not folders", exits=1)
    return inputs, exclude


def valid_records(records: List[Record], report: Report, lenient: bool) -> List[Record]:
    """The records, after the case-variant warning; fail on bad records unless lenient, or if none is left."""
    warn_case_variants(records, report)
    for error in report.errors:
        (msg.warn if lenient else msg.fail)(error)
    if report.errors and not lenient:
        msg.fail(
            f"{len(report.errors)} bad records; nothing written. Fix them, or leave them out and go on with "
            f"--vars.bad_records skip (running this script yourself: --bad-records skip)",
            exits=1,
        )
    if not records:
        msg.fail("No valid records; nothing written", exits=1)
    return records


def write_empty(nlp: Language, output: Optional[Path]) -> None:
    """'' as the input: an empty evaluation set, or (for a split) nothing to train on."""
    if output is None:
        msg.fail("No annotations given (the input is ''): nothing to train on", exits=1)
    with atomic_path(output) as tmp:
        write_docbin(nlp, [], tmp)
    msg.info(f"No set given (the input is ''): wrote an empty {output}")


def write_set(nlp: Language, records: List[Record], output: Path, report: Report) -> None:
    """All records in one DocBin (an evaluation set), written atomically; the counts."""
    with atomic_path(output) as tmp:
        write_docbin(nlp, records, tmp)
    msg.good(f"Wrote {len(records)} docs to {output}")
    print_summary(report)
    print_stats(records, [])


def write_split(
    nlp: Language, records: List[Record], outputs: Tuple[Path, Path], how: Tuple[float, int, str], report: Report
) -> None:
    """Split the records into train and dev (`how`: dev ratio, seed, split mode), write both
    DocBins (atomically, together); the counts."""
    (train_output, dev_output), (dev_ratio, seed, split) = outputs, how
    train, dev = split_records(records, dev_ratio, seed, by_entity=split == "entity")
    warn_empty_split(len(train), len(dev), dev_ratio, split)
    with atomic_path(train_output) as train_tmp, atomic_path(dev_output) as dev_tmp:
        write_docbin(nlp, train, train_tmp)
        write_docbin(nlp, dev, dev_tmp)
    msg.good(f"Wrote {len(train)} train docs to {train_output} and {len(dev)} dev docs to {dev_output}")
    print_summary(report)
    print_stats(train, dev)


@exits_on_input_error
def main(
    input_values: List[str] = typer.Argument(
        ...,
        help="Annotation files in any supported format, or folders of .json/.jsonl files; with --output, '' "
        "(no set) writes an empty DocBin",
    ),
    bootstrapped: List[Path] = typer.Option(
        [],
        "--bootstrapped",
        exists=True,
        dir_okay=False,
        help="Annotations made by rules (bootstrap; may have no records): a text that is also in the other inputs is taken from those (hand-checked wins); repeatable",
    ),
    train_output: Optional[Path] = typer.Option(
        None, "--train-output", dir_okay=False, help="Where to write the training DocBin (.spacy)"
    ),
    dev_output: Optional[Path] = typer.Option(
        None, "--dev-output", dir_okay=False, help="Where to write the development DocBin (.spacy)"
    ),
    output: Optional[Path] = typer.Option(
        None,
        "--output",
        dir_okay=False,
        help="Instead of a split: write every record to this DocBin (an evaluation set)",
    ),
    exclude_values: List[str] = typer.Option(
        [],
        "--exclude",
        help="Leave out (and count) records whose text is in these files, e.g. an evaluation set; repeatable; "
        "'' is ignored",
    ),
    dev_ratio: float = typer.Option(0.2, "--dev-ratio", min=0.0, max=1.0, help="Share of documents that go to dev"),
    seed: int = typer.Option(0, "--seed", help="Random seed of the split"),
    split: Split = typer.Option(
        Split.entity,
        "--split",
        help="'entity': records sharing an entity name stay together, so dev names are unseen in train; "
        "'random': plain random split",
    ),
    bad_records: BadRecordsOption = BadRecords.fail,
    lenient: bool = typer.Option(False, "--lenient", help="The same as --bad-records skip"),
    lang: str = typer.Option("en", "--lang", help="Language whose tokenizer sets token boundaries (the base's)"),
):
    """Validate annotations and write train/dev .spacy corpora."""
    if (output is None) == (train_output is None or dev_output is None) or (output and (train_output or dev_output)):
        msg.fail("Give --train-output and --dev-output (a split), or --output alone (no split)", exits=1)
    inputs, exclude = given_paths(input_values, exclude_values)
    refuse_overwriting_inputs([output, train_output, dev_output], [*inputs, *bootstrapped, *exclude])
    nlp = spacy.blank(lang)
    if not inputs:
        write_empty(nlp, output)
        return
    report = Report()
    skip = lenient or bad_records == BadRecords.skip
    records = valid_records(collect(inputs, bootstrapped, exclude, nlp, report), report, skip)
    if output is not None:
        write_set(nlp, records, output, report)
    else:
        write_split(nlp, records, (train_output, dev_output), (dev_ratio, seed, split), report)


if __name__ == "__main__":
    typer.run(main)
