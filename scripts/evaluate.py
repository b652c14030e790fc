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

from collections import Counter
from pathlib import Path

import typer
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from wasabi import msg

from ner_update.common import (
    InputError,
    exits_on_input_error,
    iter_texts,
    load_base,
    optional_path,
    use_gpu,
    write_atomic,
)
from ner_update.evaluation.held_out import same_sets
from ner_update.evaluation.metrics_schema import Learning, Metrics, dumps, validated
from ner_update.evaluation.scoring import (
    GOLD_OLD_LABELS,
    evaluate,
    label_map_for,
    ner_labels,
    parse_label_map,
    parse_named_paths,
)
from ner_update.inputs.patterns import load_patterns, pattern_pipeline
from ner_update.registered import register_all
from ner_update.scale.engine import GpuOption

register_all()  # registers the components a shipped pipeline may use


def summary_rows(metrics: Metrics) -> list[tuple[str, str, str]]:
    """(set, system, scores) rows for the console table."""
    rows = []
    for name, entry in metrics.new_label_sets.items():
        for system in ("patterns", "model", "shipped"):
            s = getattr(entry, system)
            if s is not None:
                rows.append((f"{name}: new labels P/R/F", system, f"{s.p:.1f} / {s.r:.1f} / {s.f:.1f}"))
    for name, entry in (*metrics.old_label_sets.items(), *metrics.agreement_sets.items()):
        for system in ("base", "model", "shipped"):
            s = getattr(entry, system)
            gold = f"gold F {s.gold.f:.1f}, " if s.gold is not None else ""
            scores = f"{gold}agreement {s.agreement.f:.1f}, new-label entities {s.new_label_predictions}"
            rows.append((f"{name}: old labels", system, scores))
    return rows


def learning_problems(metrics: dict, checkpoint_set: str, min_f: float) -> tuple[str, list[str], list[str]]:
    """The set the checkpoint was picked on (`checkpoint_set`, else dev, else the first new-label set),
    one warning per sign that learning failed (a new label's F of the learned model below
    min_f there, or the shipped pipeline below the patterns alone there) and one per
    new label that set has no gold spans of (nothing measured it)."""
    sets = metrics["new_label_sets"]
    name = next((n for n in (checkpoint_set, "dev", *sets) if n in sets), "")
    warnings, unmeasured = [], []
    gold_labels = metrics["confusion"].get(name, {})  # labels with gold spans in the set
    for label, prf in (sets[name]["model"]["per_label"] if name else {}).items():
        if label not in gold_labels:
            unmeasured.append(
                f"{name} has no gold {label} spans: nothing measured {label}, and training picked its checkpoint "
                f'without it. Try: a hand-checked dev set with {label} (vars.checked_dev), or vars.split "random" '
                "(the entity split keeps every record that shares a name in one split)."
            )
        elif prf["f"] < min_f:
            warnings.append(
                f"The model learned almost nothing of {label}: F {prf['f']:.1f} on {name}, the set training picked "
                f"its checkpoint on (below {min_f:g}). Try: more annotations of {label} (a few hundred mentions at "
                "least), a hand-checked dev set (vars.checked_dev) to pick the checkpoint on, more steps "
                '(vars.train_overrides, e.g. "--training.max_steps 4000"), or patterns (vars.patterns).'
            )
    # on the checkpoint set only: the dev split beside a checked set is labelled partly by the patterns themselves
    entry = sets[name] if name else {}
    if "patterns" in entry and entry["shipped"]["f"] < entry["patterns"]["f"]:
        warnings.append(
            f"The shipped pipeline scores below the patterns alone on {name}: F {entry['shipped']['f']:.1f} "
            f"vs {entry['patterns']['f']:.1f}. Try: more annotations, more steps (vars.train_overrides), "
            "the recipe's rules_win setting (the patterns win over the model), or shipping the patterns alone."
        )
    return name, warnings, unmeasured


def complete_metrics(scores: dict, base_model: str, shipped_model: str, checkpoint_set: str, min_f: float) -> Metrics:
    """scoring.evaluate's scores with the two pipelines' names and the learning verdict, checked
    against the schema of metrics.json (metrics_schema.Metrics)."""
    picked_on, failures, unmeasured = learning_problems(scores, checkpoint_set, min_f)
    learning = Learning(checkpoint_set=picked_on, min_f=min_f, failed=bool(failures), warnings=failures + unmeasured)
    metrics = {**scores, "base_model": base_model, "shipped_model": shipped_model, "learning": learning.model_dump()}
    return validated(metrics, "the metrics evaluate computed")


def read_sets(
    new_paths: dict[str, Path],
    old_paths: dict[str, Path],
    agreement: dict[str, list[str]],
    text_paths: dict[str, Path],
    base: Language,
) -> tuple[dict[str, list[Doc]], dict[str, list[Doc]], dict[str, list[str]]]:
    """The new-label and old-label sets' docs and the agreement texts; empty new-label and
    agreement sets (an input turned off) are left out and said so."""
    new_sets = {name: list(DocBin().from_disk(p).get_docs(base.vocab)) for name, p in new_paths.items()}
    for sets, paths in ((new_sets, new_paths), (agreement, text_paths)):
        for name in [name for name, items in sets.items() if not items]:
            msg.info(f"{name}: {paths[name]} is empty (no such set, e.g. an input turned off): left out")
            del sets[name]
    old_sets = {name: list(DocBin().from_disk(p).get_docs(base.vocab)) for name, p in old_paths.items()}
    return new_sets, old_sets, agreement


def old_label_map(value: str, base: Language, old_sets: dict[str, list[Doc]]) -> dict[str, str]:
    """The map from the base's labels to the old-label sets' gold labels: `value`, else derived
    (scoring.label_map_for, said when it maps); ValueError when it cannot be derived."""
    gold = {ent.label_ for docs in old_sets.values() for doc in docs for ent in doc.ents}
    mapping = label_map_for(value, ner_labels(base), gold or GOLD_OLD_LABELS)
    if mapping and not value.strip():
        msg.info("The base's labels are OntoNotes': scored with " + ",".join(f"{k}:{v}" for k, v in mapping.items()))
    return mapping


def say(metrics: Metrics, output_path: Path) -> None:
    """The scores as a table, the frozen check, the warnings and where the metrics went."""
    msg.table(summary_rows(metrics), header=("set", "system", "scores"), divider=True)
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
        mapping = parse_label_map(label_map)
        new_paths = parse_named_paths(new_label_sets, "--new-label-set")
        old_paths = parse_named_paths(old_label_sets, "--old-label-set")
        text_paths = parse_named_paths(agreement_texts, "--agreement-texts")
        patterns_path = optional_path(patterns_value, "patterns file")
        patterns = pattern_pipeline(lang, load_patterns(patterns_path)) if patterns_path else None
        agreement = {name: list(iter_texts(path, Counter())) for name, path in text_paths.items()}
    except (ValueError, InputError) as err:
        msg.fail(str(err), exits=1)
    for name, earlier in same_sets(new_paths).items():
        msg.info(f"{name}: {new_paths.pop(name)} is the same set as {earlier}: scored once, as {earlier}")
        checkpoint_set = earlier if checkpoint_set == name else checkpoint_set
    base, shipped = load_base(base_model), load_base(str(shipped_model))
    new_sets, old_sets, agreement = read_sets(new_paths, old_paths, agreement, text_paths, base)
    try:
        mapping = old_label_map(label_map, base, old_sets)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    scores = evaluate(base, shipped, patterns, new_sets, old_sets, agreement, mapping)
    try:
        metrics = complete_metrics(scores, base_model, str(shipped_model), checkpoint_set, min_f)
    except InputError as err:  # a bug: the scores do not have the shape report reads
        msg.fail(str(err), exits=1)
    write_atomic(output_path, dumps(metrics))
    say(metrics, output_path)


if __name__ == "__main__":
    typer.run(main)
