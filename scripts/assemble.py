"""Assemble the pipeline to ship: how the patterns and the statistical ner combine.

Takes the base pipeline, the updated one (whose ner learned the new labels)
and the patterns, and writes one pipeline according to --combine:

  ner_only          the updated pipeline as trained, no rules
  rules_on_base     the base untouched, with an entity_ruler after its ner
                    (rules add new-label names where the base found nothing)
  rules_before_ner  an entity_ruler before the updated ner; the ner keeps the
                    rules' entities and predicts around them
  ner_before_rules  the updated ner first; the rules fill the gaps
  second_ner        the base ner untouched, then the updated ner as a second
                    ner whose only contribution is new-label entities where
                    nothing was found yet: old-label entities are the base's
  rules_second_ner  as second_ner, with the rules between the two ners (after
                    the base ner: they never change an old-label entity)
  rules_win_second_ner  as rules_second_ner, but a pattern match replaces an
                    old-label entity of the base that it overlaps

The patterns are saved inside the pipeline (entity_ruler), so the package needs
no other file. Modes with a second ner use two small components from
functions.py (package it with --code scripts/functions.py).
"""

from pathlib import Path
from typing import List

import typer
from spacy.language import Language
from wasabi import msg

import functions  # noqa: F401  (registers ner_update_entity_snapshot / new_entities_only)
from bootstrap import load_patterns
from common import InputError, atomic_dir, load_base

MODES = (
    "ner_only",
    "rules_on_base",
    "rules_before_ner",
    "ner_before_rules",
    "second_ner",
    "rules_second_ner",
    "rules_win_second_ner",
)
RULER_CONFIG = {"phrase_matcher_attr": "LOWER", "validate": True, "overwrite_ents": False}


def add_ruler(nlp: Language, patterns: List[dict], overwrite: bool = False, **position) -> None:
    ruler = nlp.add_pipe("entity_ruler", config={**RULER_CONFIG, "overwrite_ents": overwrite}, **position)
    with nlp.select_pipes(enable=[]):  # phrase patterns need only the tokenizer
        ruler.add_patterns([{k: p[k] for k in ("label", "pattern", "id")} for p in patterns])


def assemble(base: Language, updated: Language, patterns: List[dict], combine: str) -> Language:
    """The pipeline to ship for a combine mode (modifies and returns `base` or `updated`)."""
    if combine not in MODES:
        raise ValueError(f"--combine must be one of {', '.join(MODES)}, not {combine!r}")
    if combine == "ner_only":
        return updated
    if combine == "rules_on_base":
        add_ruler(base, patterns, after="ner")
        return base
    if combine == "rules_before_ner":
        add_ruler(updated, patterns, before="ner")
        return updated
    if combine == "ner_before_rules":
        add_ruler(updated, patterns, after="ner")
        return updated
    old_labels = sorted(base.get_pipe("ner").labels)
    if combine in ("rules_second_ner", "rules_win_second_ner"):
        add_ruler(base, patterns, overwrite=combine == "rules_win_second_ner", after="ner")
    base.add_pipe("ner_update_entity_snapshot", name="entity_snapshot")
    base.add_pipe("ner", name="new_ner", source=updated)
    base.add_pipe("ner_update_new_entities_only", name="new_entities_only", config={"old_labels": old_labels})
    return base


def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    updated_model: Path = typer.Argument(..., exists=True, file_okay=False, help="The updated pipeline (from `train`)"),
    patterns_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Patterns, EntityRuler JSONL"),
    output_dir: Path = typer.Argument(..., file_okay=False, help="Where to write the pipeline to ship"),
    combine: str = typer.Option("rules_second_ner", "--combine", help=f"How rules and ner combine: {', '.join(MODES)}"),
):
    """Write the pipeline to ship: base, updated ner and patterns combined."""
    try:
        patterns = load_patterns(patterns_path)
        nlp = assemble(load_base(base_model), load_base(str(updated_model)), patterns, combine)
    except (InputError, ValueError) as err:
        msg.fail(str(err), exits=1)
    nlp.meta["ner_update"] = {"combine": combine, "base_model": base_model, "patterns": len(patterns)}
    with atomic_dir(output_dir) as tmp:
        nlp.to_disk(tmp)
    msg.good(f"Wrote {output_dir} ({combine}): {nlp.pipe_names}")


if __name__ == "__main__":
    typer.run(main)
