"""Choose how the new-label tagger decodes, on the set that picked the checkpoint.

The tagger's decoding settings change no weight: `rule_odds` (how much a
pattern match counts as evidence, 0: the merge adds matches where the tagger
found none) and `min_confidence` (the mean tag probability an entity needs).
`tune` scores each pair of a small grid on the checkpoint set and keeps the
best new-label F, so that the sets that report figures still choose nothing.
"""

from itertools import product
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import load_config

RULE_ODDS = (0.0, 2.0, 20.0, 100.0)
MIN_CONFIDENCE = (0.0, 0.5, 0.6, 0.7, 0.8)
SETTINGS = ("rule_odds", "min_confidence")


def tagger_name(nlp: Language) -> Optional[str]:
    """The pipeline's new-label tagger (a component with rule_odds in its cfg), else None."""
    return next((name for name, proc in nlp.pipeline if "rule_odds" in getattr(proc, "cfg", {})), None)


def new_label_f(nlp: Language, gold: List[Doc]) -> float:
    """The shipped pipeline's new-label F (0-100) on gold docs."""
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in gold]
    return 100 * float(nlp.evaluate(examples).get("new_ents_f") or 0.0)


def tune(
    nlp: Language,
    gold: List[Doc],
    rule_odds: Iterable[float] = RULE_ODDS,
    min_confidence: Iterable[float] = MIN_CONFIDENCE,
) -> Tuple[Dict[str, float], List[Tuple[float, float, float]]]:
    """The decoding settings with the best new-label F on `gold` (the first of equals, in grid
    order: the least change), set on the tagger; and every (rule_odds, min_confidence, F) tried."""
    name = tagger_name(nlp)
    if name is None:
        raise ValueError("the pipeline has no new-label tagger: nothing to tune (only the tagger recipe decodes)")
    cfg = nlp.get_pipe(name).cfg
    tried = []
    for odds, confidence in product(rule_odds, min_confidence):
        cfg["rule_odds"], cfg["min_confidence"] = odds, confidence
        tried.append((odds, confidence, new_label_f(nlp, gold)))
    odds, confidence, _ = max(tried, key=lambda row: row[2])  # max keeps the first of equals
    cfg["rule_odds"], cfg["min_confidence"] = odds, confidence
    return {"rule_odds": odds, "min_confidence": confidence}, tried


def write_settings(model_dir: Path, component: str, settings: Dict[str, float]) -> None:
    """Record the settings in a saved pipeline's config.cfg too (the component's cfg has them),
    so that the config says how the pipeline decodes."""
    path = model_dir / "config.cfg"
    config = load_config(path, interpolate=False)
    for key, value in settings.items():
        config["components"][component][key] = value
    config.to_disk(path)
