"""Write the training config for a given base pipeline.

Takes configs/config.cfg and rewrites [nlp] lang/pipeline/disabled,
[paths] vectors and [components] from the base: every component is sourced,
vectors are copied if the base has any, all but the ner are
frozen, and a ner that listens to a shared tok2vec/transformer gets its own copy
(`replace_listeners`), so the shared layer stays frozen. Everything else
(rehearsal, readers, optimizer, logger) is kept as configured.
"""

from pathlib import Path

import typer
from spacy.language import Language
from spacy.util import load_config
from thinc.api import Config
from wasabi import msg

from common import atomic_path, load_base


def adapt_config(config: Config, nlp: Language, base_model: str, trainable: str = "ner") -> Config:
    """Return a copy of `config` whose pipeline is `nlp`'s, sourced from `base_model`."""
    if trainable not in nlp.component_names:
        raise ValueError(f"The base pipeline has no '{trainable}' component: {nlp.component_names}")
    cfg = Config(config).copy()
    cfg["paths"]["base"] = base_model
    # copy the base's static vectors, if it has any (spaCy warns about a base without them)
    cfg["paths"]["vectors"] = "${paths.base}" if nlp.vocab.vectors.shape[0] else None
    cfg["nlp"]["lang"] = nlp.lang
    cfg["nlp"]["pipeline"] = list(nlp.component_names)
    cfg["nlp"]["disabled"] = list(nlp.disabled)
    listened = any(trainable in getattr(proc, "listening_components", []) for _, proc in nlp.components)
    components = {}
    for name in sorted(nlp.component_names):
        components[name] = {"source": "${paths.base}"}
        if name == trainable and listened:
            components[name]["replace_listeners"] = ["model.tok2vec"]
    cfg["components"] = components
    cfg["training"]["frozen_components"] = [n for n in nlp.component_names if n != trainable]
    cfg["training"]["annotating_components"] = []
    return cfg


def main(
    config_path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="The update config template (configs/config.cfg)"
    ),
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    output_path: Path = typer.Argument(..., dir_okay=False, help="Where to write the config for this base"),
):
    """Write the update config for a base pipeline."""
    nlp = load_base(base_model)
    cfg = adapt_config(load_config(config_path, interpolate=False), nlp, base_model)
    with atomic_path(output_path) as tmp:
        cfg.to_disk(tmp)
    frozen = cfg["training"]["frozen_components"]
    msg.good(f"Wrote {output_path}: pipeline {cfg['nlp']['pipeline']} from '{base_model}', frozen {frozen}")


if __name__ == "__main__":
    typer.run(main)
