"""Write the pipeline to ship: the trained pipeline under its own name.

`train` writes the whole pipeline a recipe describes (the base's components,
the updated or second ner, the patterns in an entity_ruler), so nothing is
combined here: the best checkpoint is copied with a meta of its own (name,
version, description, the recipe, the base it came from and the dev scores),
which `package` puts in the wheel instead of the base's, and without the
strings training added to its vocab (the training texts' words). With
--tune-on (the set training picked its checkpoint on), the new-label tagger's
decoding settings (rule_odds, min_confidence) are chosen there too
(ner_update.update.decoding): no weight changes, and the sets that report
figures still choose nothing.
"""

from pathlib import Path
from typing import Dict

import typer
from spacy.language import Language
from spacy.tokens import DocBin
from wasabi import msg

from ner_update.common import exits_on_input_error
from ner_update.evaluation.scoring import ner_labels
from ner_update.files import atomic_dir
from ner_update.pipelines import load_base_meta
from ner_update.registered import load_base, register_all
from ner_update.runs import run_command
from ner_update.update import decoding
from ner_update.update.recipes import drop_training_strings

register_all()  # registers the components a recipe may use

SCORES = ("new_ents_p", "new_ents_r", "new_ents_f", "old_ents_f", "ents_p", "ents_r", "ents_f", "ents_per_type")


def pipeline_meta(nlp: Language, base: Dict, name: str, version: str, recipe: str, base_model: str) -> Dict:
    """The shipped pipeline's meta: its own name and scores, the base it came from."""
    labels = sorted(ner_labels(nlp))
    performance = {k: v for k, v in nlp.meta.get("performance", {}).items() if k in SCORES}
    return {
        **nlp.meta,
        "name": name,
        "version": version,
        "description": (
            f"{base.get('lang', nlp.lang)}_{base.get('name', base_model)} {base.get('version', '')} "
            f"updated with new entity types ({recipe} recipe); entity labels: {', '.join(labels)}"
        ),
        "license": base.get("license", ""),
        "sources": base.get("sources", []),
        "performance": performance,
        "ner_update": {"recipe": recipe, "base_model": base_model, "base_meta_name": base.get("name", "")},
    }


@exits_on_input_error
def main(
    trained_model: Path = typer.Argument(..., exists=True, file_okay=False, help="The trained pipeline (model-best)"),
    base_model: str = typer.Argument(..., help="The base pipeline it was trained from: package name or path"),
    output_dir: Path = typer.Argument(..., file_okay=False, help="Where to write the pipeline to ship"),
    name: str = typer.Option("ner_updated", "--name", help="The shipped pipeline's name (package name without lang)"),
    version: str = typer.Option("0.1.0", "--version", help="The shipped pipeline's version"),
    recipe: str = typer.Option("", "--recipe", help="The recipe it was trained with (recorded in the meta)"),
    tune_on: str = typer.Option(
        "",
        "--tune-on",
        help="The set training picked its checkpoint on (.spacy): choose the new-label tagger's decoding "
        "settings there; '' (empty): keep the recipe's",
    ),
):
    """Copy the trained pipeline with a meta of its own."""
    base_meta = load_base_meta(base_model)
    nlp = load_base(str(trained_model))
    tagger = decoding.tagger_name(nlp)
    settings = {}
    if tune_on and tagger is None:
        msg.info(f"No new-label tagger in the pipeline ({recipe or 'this'} recipe): nothing to tune on {tune_on}")
    elif tune_on:
        gold = list(DocBin().from_disk(tune_on).get_docs(nlp.vocab))
        settings, tried = decoding.tune(nlp, gold)
        msg.table(
            [(o, c, f"{f:.1f}") for o, c, f in tried],
            header=("rule_odds", "min_confidence", f"new-label F on {tune_on}"),
            divider=True,
        )
        msg.good(f"Decoding chosen on {tune_on}: " + ", ".join(f"{k} {v:g}" for k, v in settings.items()))
    nlp.meta.update(pipeline_meta(nlp, base_meta, name, version, recipe, base_model))
    if settings:
        nlp.meta["ner_update"]["decoding"] = {**settings, "chosen_on": tune_on}
    dropped = drop_training_strings(nlp, load_base(base_model))
    with atomic_dir(output_dir) as tmp:
        nlp.to_disk(tmp)
        if settings:
            decoding.write_settings(tmp, tagger, settings)
    msg.good(f"Wrote {output_dir}: {nlp.pipe_names} ({dropped} strings of the training texts left out of its vocab)")


if __name__ == "__main__":
    run_command(main)
