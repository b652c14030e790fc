"""`evaluate`'s work: read the sets, score patterns, base, model and shipped pipeline side by side
(scoring.evaluate), and judge whether learning failed; the metrics checked against their schema
(metrics_schema.Metrics). Notes on the inputs go to the `note` callback; bad inputs raise InputError.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from weasel.util import get_checksum

from ner_update.common import InputError
from ner_update.evaluation.held_out import same_sets
from ner_update.evaluation.metrics_schema import Learning, Metrics, validated
from ner_update.evaluation.scoring import (
    GOLD_OLD_LABELS,
    evaluate,
    label_map_for,
    ner_labels,
    parse_label_map,
    parse_named_paths,
)
from ner_update.inputs.patterns import load_patterns, pattern_pipeline, patterns_file
from ner_update.inputs.texts import iter_texts
from ner_update.registered import load_base


@dataclass
class Inputs:
    """What is scored besides the two pipelines: the sets' paths by name, the agreement texts, the
    patterns' pipeline (None: no patterns) and the old-label map as given ('': derived)."""

    new_paths: dict[str, Path]
    old_paths: dict[str, Path]
    text_paths: dict[str, Path]
    agreement: dict[str, list[str]]
    patterns: Language | None
    label_map: str


def read_inputs(
    new_label_sets: list[str],
    old_label_sets: list[str],
    agreement_texts: list[str],
    patterns_value: str,
    label_map: str,
    lang: str,
) -> Inputs:
    """The inputs from evaluate's options (NAME=PATH values, the patterns file or '', the label
    map, the patterns' language); InputError saying what is wrong with one."""
    try:
        parse_label_map(label_map)
        new_paths = parse_named_paths(new_label_sets, "--new-label-set")
        old_paths = parse_named_paths(old_label_sets, "--old-label-set")
        text_paths = parse_named_paths(agreement_texts, "--agreement-texts")
        patterns_path = patterns_file(patterns_value)
        patterns = pattern_pipeline(lang, load_patterns(patterns_path)) if patterns_path else None
        agreement = {name: list(iter_texts(path, Counter())) for name, path in text_paths.items()}
    except ValueError as err:  # InputError is one
        raise InputError(str(err)) from None
    return Inputs(new_paths, old_paths, text_paths, agreement, patterns, label_map)


def score(
    base_model: str,
    shipped_model: str,
    inputs: Inputs,
    checkpoint_set: str,
    min_f: float,
    note: Callable[[str], None] = lambda text: None,
) -> Metrics:
    """Every metric of patterns, base, model and shipped pipeline on the inputs, with the learning
    verdict on `checkpoint_set` (a new label's F under `min_f` there: failed). A set that is the
    same file as an earlier one is scored once; sets left out are noted."""
    new_paths = dict(inputs.new_paths)
    for name, earlier in same_sets(new_paths).items():
        note(f"{name}: {new_paths.pop(name)} is the same set as {earlier}: scored once, as {earlier}")
        checkpoint_set = earlier if checkpoint_set == name else checkpoint_set
    base, shipped = load_base(base_model), load_base(shipped_model)
    agreement = dict(inputs.agreement)
    new_sets, old_sets, agreement = read_sets(new_paths, inputs.old_paths, agreement, inputs.text_paths, base, note)
    try:
        mapping = old_label_map(inputs.label_map, base, old_sets, note)
    except ValueError as err:
        raise InputError(str(err)) from None
    scores = evaluate(base, shipped, inputs.patterns, new_sets, old_sets, agreement, mapping)
    # InputError here is a bug: the scores do not have the shape report reads
    return complete_metrics(scores, base_model, shipped_model, checkpoint_set, min_f)


def read_sets(
    new_paths: dict[str, Path],
    old_paths: dict[str, Path],
    agreement: dict[str, list[str]],
    text_paths: dict[str, Path],
    base: Language,
    note: Callable[[str], None] = lambda text: None,
) -> tuple[dict[str, list[Doc]], dict[str, list[Doc]], dict[str, list[str]]]:
    """The new-label and old-label sets' docs and the agreement texts; empty new-label and
    agreement sets (an input turned off) are left out and noted."""
    new_sets = {name: list(DocBin().from_disk(p).get_docs(base.vocab)) for name, p in new_paths.items()}
    for sets, paths in ((new_sets, new_paths), (agreement, text_paths)):
        for name in [name for name, items in sets.items() if not items]:
            note(f"{name}: {paths[name]} is empty (no such set, e.g. an input turned off): left out")
            del sets[name]
    old_sets = {name: list(DocBin().from_disk(p).get_docs(base.vocab)) for name, p in old_paths.items()}
    return new_sets, old_sets, agreement


def old_label_map(
    value: str, base: Language, old_sets: dict[str, list[Doc]], note: Callable[[str], None] = lambda text: None
) -> dict[str, str]:
    """The map from the base's labels to the old-label sets' gold labels: `value`, else derived
    (scoring.label_map_for, noted when it maps); ValueError when it cannot be derived."""
    gold = {ent.label_ for docs in old_sets.values() for doc in docs for ent in doc.ents}
    mapping = label_map_for(value, ner_labels(base), gold or GOLD_OLD_LABELS)
    if mapping and not value.strip():
        note("The base's labels are OntoNotes': scored with " + ",".join(f"{k}:{v}" for k, v in mapping.items()))
    return mapping


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
    checksum = get_checksum(shipped_model) if Path(shipped_model).is_dir() else None
    metrics = {**scores, "base_model": base_model, "shipped_model": shipped_model, "shipped_checksum": checksum}
    metrics["learning"] = learning.model_dump()
    return validated(metrics, "the metrics evaluate computed")


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
