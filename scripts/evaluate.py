"""Evaluate the shipped pipeline side by side with the patterns, the model and the base.

Systems: `patterns` (the entity_ruler alone, tokenizer only), `base` (the
pipeline before the update), `model` (the shipped pipeline with its
entity_rulers switched off: what was learned) and `shipped` (the pipeline as
packaged).

- new-label sets (gold new-label spans, e.g. a name-disjoint dev split and a
  hand-checked real-text set): P/R/F per new label, a confusion table (which
  label, or none, each gold span received) and the shipped pipeline's errors;
- old-label sets (held-out gold with the old labels, e.g. two domains):
  old-label F against gold, agreement with the base's own predictions, and new
  labels predicted there (false alarms: the gold has none);
- agreement texts (held-out raw texts of the user's domain, no gold): agreement
  with the base and new-label entities predicted;
- whether the frozen components' outputs are identical on the first old-label set.

Scores use spaCy's `get_ner_prf`, which ignores predictions over tokens whose
gold annotation is missing. Writes one JSON file, checked against its schema
(metrics_schema.Metrics), that `report` renders.
"""

from pathlib import Path

import typer
from wasabi import msg

from ner_update.common import exits_on_input_error
from ner_update.evaluation import side_by_side
from ner_update.evaluation.metrics_schema import Metrics, dumps
from ner_update.files import write_atomic
from ner_update.pipelines import GpuOption, use_gpu
from ner_update.runs import run_command


def say(metrics: Metrics, output_path: Path) -> None:
    """The scores as a table, the frozen check, the warnings and where the metrics went."""
    msg.table(side_by_side.summary_rows(metrics), header=("set", "system", "scores"), divider=True)
    frozen = metrics.frozen_outputs
    if frozen is not None:
        verdict = "identical" if frozen.identical else f"DIFFERENT: {frozen.differing_tokens}"
        msg.info(f"Frozen components' outputs on {frozen.set}: {verdict}")
    for warning in metrics.learning.warnings:
        msg.warn(warning)
    msg.good(f"Wrote {output_path}" + (" (learning failed: see the warnings)" if metrics.learning.failed else ""))


@exits_on_input_error
def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    shipped_model: Path = typer.Argument(..., exists=True, file_okay=False, help="The pipeline to ship (assemble's)"),
    patterns_value: str = typer.Argument(..., help="The patterns (EntityRuler JSONL); '' (empty): none"),
    output_path: Path = typer.Option(
        Path("training/metrics.json"), "--output", dir_okay=False, help="Where to write the metrics"
    ),
    new_label_sets: list[str] = typer.Option(
        [], "--new-label-set", help="NAME=PATH of a .spacy set with gold new-label spans; repeatable"
    ),
    old_label_sets: list[str] = typer.Option(
        [], "--old-label-set", help="NAME=PATH of a held-out .spacy set with gold old-label spans; repeatable"
    ),
    agreement_texts: list[str] = typer.Option(
        [],
        "--agreement-texts",
        help="NAME=PATH of held-out raw texts (.txt/.json/.jsonl) to measure agreement with the base on; repeatable",
    ),
    label_map: str = typer.Option(
        "",
        "--label-map",
        help="Map the pipelines' old labels onto the gold labels, e.g. 'PERSON:PER,GPE:LOC,LOC:LOC,FAC:LOC,ORG:ORG' for en_core_web_sm",
    ),
    lang: str = typer.Option("en", "--lang", help="Language of the patterns' tokenizer"),
    checkpoint_set: str = typer.Option(
        "checkpoint", "--checkpoint-set", help="The new-label set training picked its checkpoint on (else dev)"
    ),
    min_f: float = typer.Option(10.0, "--min-f", help="A new label's F under this on the checkpoint set: failed"),
    gpu_id: GpuOption = -1,
):
    """Score patterns, model and shipped pipeline on new labels, and old-label retention, side by side."""
    try:
        use_gpu(gpu_id)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    inputs = side_by_side.read_inputs(new_label_sets, old_label_sets, agreement_texts, patterns_value, label_map, lang)
    metrics = side_by_side.score(base_model, str(shipped_model), inputs, checkpoint_set, min_f, note=msg.info)
    write_atomic(output_path, dumps(metrics))
    say(metrics, output_path)


if __name__ == "__main__":
    run_command(main)
