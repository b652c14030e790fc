"""Recipes (configs/recipes/*.cfg) adapted to a base pipeline. A library: prints nothing.

A recipe is written for the default base. Its components are of two kinds: the
base's own (sourced from ${paths.base} without a `component` key), replaced by
whatever the base has, and the recipe's own (an entity_ruler, a second ner
sourced from the base's ner, the components around it), kept as written and
placed right after the base's ner. Every base component is frozen. A ner that
is trained and listens to a shared tok2vec gets its own copy
(`replace_listeners`), so the shared layer stays frozen.

A recipe whose pipeline has `ner_tok2vec` reads the base ner's features
through a listener (the base's features computed once, not twice). When the
base ner has its own token-to-vector layer, the base is rewritten with that
layer as a component of its own (the same weights, the same outputs); when it
already listens to a shared one (a `tok2vec` or `transformer` component), the
recipe's listeners listen to that component instead and nothing is copied. A
recipe with a second copy of the base's ner needs that copy as a component of
its own. The config sources from the rewritten base where there is one.
Without patterns, the recipe's entity_ruler is left out.
"""

import copy
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import spacy
from spacy.language import Language
from spacy.util import registry, replace_model_node
from thinc.api import Config

from ner_update.files import atomic_dir
from ner_update.registered import load_base, registered

registered("word_parts")  # registers the default base ner's embedding

FEATURES = "ner_tok2vec"
RULER = "entity_ruler"


def listened_upstream(nlp: Language, ner: str = "ner") -> Optional[str]:
    """The component whose features `ner` listens to, or None (its own layer)."""
    return next((n for n, p in nlp.pipeline if ner in getattr(p, "listening_components", [])), None)


def share_ner_features(nlp: Language, ner: str = "ner", name: str = FEATURES) -> Language:
    """Move `ner`'s own token-to-vector layer into a tok2vec component `name`
    that the ner listens to (modifies and returns `nlp`; outputs unchanged)."""
    upstream = listened_upstream(nlp, ner)
    if upstream is not None:  # the ner listens to a shared layer: give it its own copy first
        nlp.replace_listeners(upstream, ner, ["model.tok2vec"])
    ner_config = nlp.get_pipe_config(ner)
    inner = nlp.get_pipe(ner).model.get_ref("tok2vec").layers[0]
    features = nlp.add_pipe(
        "tok2vec", name=name, before=ner, config={"model": copy.deepcopy(ner_config["model"]["tok2vec"])}
    )
    features.model.from_bytes(inner.to_bytes())
    listener_config = {"@architectures": "spacy.Tok2VecListener.v1", "width": inner.get_dim("nO"), "upstream": name}
    listener = registry.resolve({"model": listener_config})["model"]
    replace_model_node(nlp.get_pipe(ner).model, inner, listener)
    nlp._pipe_configs[ner]["model"]["tok2vec"] = listener_config
    nlp._link_components()  # connect the listener, as loading the pipeline would
    return nlp


def write_prepared_base(nlp: Language, path: Path, copies: Dict[str, str], features: bool) -> None:
    """Write `nlp` (its ner's features shared if `features`: changes `nlp`) plus a
    disabled copy of a component for each {name: component} in `copies`."""
    if features:
        share_ner_features(nlp)
    nlp.to_disk(path)
    if not copies:
        return
    full, source = spacy.load(path), spacy.load(path)
    for name, component in copies.items():
        full.add_pipe(component, name=name, source=source)
        full.disable_pipe(name)
    full.to_disk(path)


def recipe_base(recipe: Config, base_model: str, prepared: Path) -> Tuple[Language, str]:
    """The base pipeline a recipe's config sources from, and its name or path.

    Where the recipe needs it, the base is rewritten into `prepared`: with its
    ner's features as a component (`ner_tok2vec` in the recipe's pipeline),
    and with a copy of each component the recipe sources from the base under a
    name of its own (`recipe` is changed to source them by that name: sourcing
    one component twice from a pipeline would give one object). Otherwise the
    base itself."""
    nlp = load_base(base_model)
    if "ner" not in nlp.component_names:
        raise ValueError(f"The base pipeline '{base_model}' has no 'ner' component: {nlp.component_names}")
    sections = recipe["components"]
    copies = {name: sections[name]["component"] for name in recipe_components(recipe) if "component" in sections[name]}
    check_names([name for name in recipe_components(recipe) if name != RULER], nlp)  # before anything is written
    features = FEATURES in recipe["nlp"]["pipeline"] and listened_upstream(nlp) is None
    if not features and not copies:
        return nlp, base_model
    with atomic_dir(prepared) as tmp:
        write_prepared_base(nlp, tmp, copies, features)
    for name in copies:
        sections[name]["component"] = name
    return nlp, str(prepared)


def recipe_components(recipe: Config) -> List[str]:
    """The recipe's own components, in pipeline order (not the base's)."""
    own = []
    for name in recipe["nlp"]["pipeline"]:
        section = recipe["components"].get(name, {})
        if name != FEATURES and not (section.get("source") == "${paths.base}" and "component" not in section):
            own.append(name)
    return own


def adapt_config(recipe: Config, nlp: Language, base_model: str, patterns: Optional[str] = None) -> Config:
    """A copy of `recipe` for the base `nlp` (sourced from `base_model`)."""
    if "ner" not in nlp.component_names:
        raise ValueError(f"The base pipeline has no 'ner' component: {nlp.component_names}")
    cfg = Config(recipe).copy()
    own = [n for n in recipe_components(cfg) if n != RULER or patterns]
    check_names(own, nlp)
    upstream = listened_upstream(nlp)
    cfg["paths"]["base"] = base_model
    if "patterns" in cfg["paths"]:
        cfg["paths"]["patterns"] = patterns or None
    cfg["paths"]["vectors"] = "${paths.base}" if nlp.vocab.vectors.shape[0] else None
    cfg["nlp"]["lang"] = nlp.lang
    base_names = list(nlp.component_names)
    at = base_names.index("ner") + 1
    cfg["nlp"]["pipeline"] = base_names[:at] + own + base_names[at:]
    cfg["nlp"]["disabled"] = list(nlp.disabled)
    trainable = set(recipe["nlp"]["pipeline"]) - set(recipe["training"]["frozen_components"])
    components = {}
    for name in base_names:
        components[name] = {"source": "${paths.base}"}
        if name == "ner" and upstream and "ner" in trainable:
            components[name]["replace_listeners"] = ["model.tok2vec"]
    features = upstream or FEATURES  # what the recipe's listeners of the base ner's features listen to
    kind = check_upstream(nlp, upstream, recipe, trainable)
    for name in own:
        components[name] = copy.deepcopy(recipe["components"][name])
        if "old_labels" in components[name]:
            components[name]["old_labels"] = sorted(nlp.get_pipe("ner").labels)
        if features in nlp.component_names:
            _listen_to(components[name], features, features_width(nlp, features), kind)
        if not nlp.vocab.vectors.shape[0]:  # nothing to read: a base without static vectors
            _set_everywhere(components[name], "include_static_vectors", False)
    cfg["components"] = components
    cfg["training"]["frozen_components"] = [n for n in base_names if n not in trainable]
    annotating = [features if n == FEATURES else n for n in recipe["training"]["annotating_components"]]
    cfg["training"]["annotating_components"] = [n for n in annotating if n in base_names]
    if RULER not in own:
        cfg["initialize"]["components"].pop(RULER, None)
    return cfg


def check_names(own: List[str], nlp: Language) -> None:
    """ValueError if the base has a component of a name the recipe gives one of its own (the pipeline
    this project shipped, given as the base): the config would name two components alike."""
    clashes = [name for name in own if name in nlp.component_names]
    if clashes:
        raise ValueError(
            f"The base pipeline already has components named {', '.join(clashes)}, as the recipe's own (a "
            "pipeline this project shipped?): update the pipeline it was made from instead (vars.base_model), "
            "with the annotations of both updates, or rename those components in the base"
        )


def check_upstream(nlp: Language, upstream: Optional[str], recipe: Config, trainable: set) -> str:
    """The factory of the component the base ner listens to ("tok2vec" for its own layer); ValueError
    for one the recipe cannot listen to, or a transformer the recipe would copy (a ner it trains, or a
    second ner sourced from the base's)."""
    kind = nlp.get_pipe_meta(upstream).factory if upstream else "tok2vec"
    if upstream and kind not in ("tok2vec", "transformer") and FEATURES in recipe["nlp"]["pipeline"]:
        raise ValueError(
            f"The base's ner listens to '{upstream}' (a {kind} component): this recipe's tagger reads "
            "the features of a tok2vec or a transformer component only: such a base is not supported yet"
        )
    copies = [n for n in recipe_components(recipe) if "component" in recipe["components"].get(n, {})]
    if kind == "transformer" and ("ner" in trainable or copies):
        raise ValueError(
            f"The base's ner listens to '{upstream}' (a transformer): this recipe would train a ner of its own "
            "on a second copy of the transformer. Use the default recipe, new_label_tagger, which listens to "
            "the frozen transformer (vars.recipe new_label_tagger)"
        )
    return kind


def features_width(nlp: Language, name: str) -> int:
    """The width of the features component `name` gives its listeners (a transformer: its hidden size)."""
    model = nlp.get_pipe(name).model
    if model.has_dim("nO"):
        return model.get_dim("nO")
    return int(model.transformer.config.hidden_size)  # spacy-transformers' TransformerModel


def _set_everywhere(section: dict, key: str, value) -> None:
    """Set `key` to `value` in every block of `section` that has it (in place)."""
    for name, inner in section.items():
        if isinstance(inner, dict):
            _set_everywhere(inner, key, value)
        elif name == key:
            section[name] = value


def _listen_to(section: dict, upstream: str, width: int, factory: str = "tok2vec") -> None:
    """Point every block of `section` that reads the base ner's features
    (upstream = "ner_tok2vec") at `upstream`, a `factory` component `width` wide (in place)."""
    for value in section.values():
        if isinstance(value, dict):
            if value.get("upstream") == FEATURES and "width" in value:
                value["upstream"], value["width"] = upstream, width
                if factory != "tok2vec":
                    value["upstream_factory"] = factory
            _listen_to(value, upstream, width, factory)


def drop_training_strings(nlp: Language, base: Language) -> int:
    """Drop the strings training added to `nlp`'s vocab (the words of the
    training texts: a text's strings are added again when it is processed),
    keeping the base's and every component's labels (in place); how many."""
    keep = set(base.vocab.strings)
    for _, proc in nlp.pipeline:
        keep.update(str(label) for label in getattr(proc, "labels", ()))
        keep.update(getattr(proc, "entity_labels", ()))
        # an entity ruler's match keys (a label, or label and id) and its phrase patterns' words
        keep.update(getattr(proc, "token_patterns", {}))
        for key, docs in getattr(proc, "phrase_patterns", {}).items():
            keep.add(key)
            keep.update(token.orth_ for doc in docs for token in doc)
    dropped = len(nlp.vocab.strings) - len(keep & set(nlp.vocab.strings))
    nlp.vocab.strings._reset_and_load(sorted(keep))
    return dropped
