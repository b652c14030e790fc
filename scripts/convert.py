"""Convert entity annotations into train and dev DocBins.

Reads the project's own formats and what annotation tools export (course,
values, spans (Prodigy), Label Studio, doccano, detected per record; CoNLL/IOB
token-per-line files: see docs/data-formats.md), files or folders. Every bad record is reported with file,
record, text and span; nothing is written unless --bad-records skip (or
--lenient). Labels that differ only in case are kept as given, with a warning.
The work: scripts/ner_update/inputs/{conversion,formats,gold}.py.
"""

from pathlib import Path
from typing import List, Optional

import typer
from spacy.language import Language
from wasabi import msg

from ner_update.common import exits_on_input_error
from ner_update.inputs import conversion as conv
from ner_update.inputs.conversion import BadRecords, BadRecordsOption, Split
from ner_update.inputs.gold import Record, Report, split_records
from ner_update.inputs.guards import refuse_overwriting_inputs
from ner_update.inputs.patterns import blank_pipeline
from ner_update.runs import run_command


@exits_on_input_error
def main(
    input_values: List[str] = typer.Argument(
        ..., help="Annotation files in any supported format, or folders of them; with --output, '' writes an empty set"
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
    labels: conv.LabelsOption = "",
):
    """Validate annotations and write train/dev .spacy corpora."""
    conv.check_outputs(output, train_output, dev_output)
    inputs, exclude = conv.given_paths(input_values, exclude_values)
    refuse_overwriting_inputs([output, train_output, dev_output], [*inputs, *bootstrapped, *exclude])
    nlp = blank_pipeline(lang)
    if not inputs:
        conv.write_empty(nlp, output)
        msg.info(f"No set given (the input is ''): wrote an empty {output}")
        return
    report = Report()
    skip = lenient or bad_records == BadRecords.skip
    records = checked(*conv.collect(inputs, bootstrapped, exclude, nlp, report, labels), report, skip)
    if output is None:
        return write_split(nlp, records, (train_output, dev_output), (dev_ratio, seed, split), report)
    conv.write_docbins(nlp, [(output, records)])
    msg.good(f"Wrote {len(records)} docs to {output}")
    print_counts(report, records, [])


def write_split(nlp: Language, records: List[Record], outputs: tuple, how: tuple, report: Report) -> None:
    """Split the records (`how`: dev ratio, seed, split mode), warn if a part is empty, write both DocBins."""
    (train_output, dev_output), (dev_ratio, seed, split) = outputs, how
    train, dev = split_records(records, dev_ratio, seed, by_entity=split == Split.entity)
    for warning in conv.empty_split_warnings(len(train), len(dev), dev_ratio, split):
        msg.warn(warning)
    conv.write_docbins(nlp, [(train_output, train), (dev_output, dev)])
    msg.good(f"Wrote {len(train)} train docs to {train_output} and {len(dev)} dev docs to {dev_output}")
    print_counts(report, train, dev)


def checked(records: List[Record], notes: List[str], report: Report, skip: bool) -> List[Record]:
    """The records, having said what was left out and warned about case variants and bad records."""
    for note in notes:
        msg.info(note)
    for warning in conv.case_variant_warnings(records, report):
        msg.warn(warning)
    for error in report.errors:
        (msg.warn if skip else msg.fail)(error)
    conv.check_records(records, report, skip)
    return records


def print_counts(report: Report, train: List[Record], dev: List[Record]) -> None:
    """What was merged and skipped, then documents and spans per label."""
    for note in conv.summary_notes(report):
        msg.info(note)
    msg.table(conv.stats_rows(train, dev), header=("", "train", "dev"), divider=True, aligns=("l", "r", "r"))
    if (unseen := conv.unseen_names_note(train, dev)) is not None:
        msg.info(unseen)


if __name__ == "__main__":
    run_command(main)
