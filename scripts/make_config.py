"""Write the training config of a recipe (configs/recipes/*.cfg) for a given base pipeline.

How a recipe is adapted is in recipes.py; this command writes the config, and
the rewritten base when the recipe needs one (--prepared-base).
"""

from pathlib import Path

import typer
from spacy.util import load_config
from wasabi import msg

from ner_update.common import exits_on_input_error
from ner_update.files import atomic_path
from ner_update.pipelines import resolve_base_name
from ner_update.runs import run_command
from ner_update.update.recipes import adapt_config, recipe_base


@exits_on_input_error
def main(
    recipe_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The recipe (configs/recipes/*.cfg)"),
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    output_path: Path = typer.Argument(..., dir_okay=False, help="Where to write the config for this base"),
    patterns: str = typer.Option(
        "", "--patterns", help="Patterns (EntityRuler JSONL) for the recipe's entity_ruler; empty: none"
    ),
    prepared_base: Path = typer.Option(
        Path("training/recipe_base"),
        "--prepared-base",
        file_okay=False,
        help="Where to write the base rewritten for the recipe, if it needs one (features shared, components copied)",
    ),
):
    """Write a recipe's training config for a base pipeline."""
    base_model = resolve_base_name(base_model)
    recipe = load_config(recipe_path, interpolate=False)
    if patterns and not Path(patterns).is_file():
        msg.fail(f'Patterns file {patterns} not found (set vars.patterns to "" to use none)', exits=1)
    try:
        nlp, source = recipe_base(recipe, base_model, prepared_base)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    if source != base_model:
        msg.info(f"Wrote {prepared_base}: '{base_model}' prepared for the recipe (pipeline {nlp.component_names})")
    try:
        cfg = adapt_config(recipe, nlp, source, patterns)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    with atomic_path(output_path) as tmp:
        cfg.to_disk(tmp)
    frozen = cfg["training"]["frozen_components"]
    msg.good(
        f"Wrote {output_path} ({recipe_path.stem}): pipeline {cfg['nlp']['pipeline']} from '{source}', frozen {frozen}"
    )


if __name__ == "__main__":
    run_command(main)
