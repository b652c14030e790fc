"""ner_update.incorrect_spans_key.v1, to be moved into functions.py (self-contained).

Binary answers (Prodigy's ner.teach "reject") are written by `convert` as spans
in doc.spans["incorrect_spans"]. spaCy's ner learns from them only when its
`incorrect_spans_key` names that group. A sourced ner keeps its source's
config, so `incorrect_spans_key` under [components.ner] is ignored (spaCy copies
the sourced component's config); this [initialize.after_init] callback sets
the key on the component itself. Config:

    [initialize.after_init]
    @callbacks = "ner_update.incorrect_spans_key.v1"
    key = "incorrect_spans"
"""

from typing import Callable, List, Optional

from spacy.language import Language
from spacy.pipeline import EntityRecognizer
from spacy.util import registry


@registry.callbacks("ner_update.incorrect_spans_key.v1")
def incorrect_spans_key(
    key: str = "incorrect_spans", components: Optional[List[str]] = None
) -> Callable[[Language], Language]:
    """Make each ner (or the named components) learn that the spans in doc.spans[key]
    are not entities. The ner's transition system reads the key during training
    (moves.cfg["neg_key"], saved with the moves); proc.cfg, saved in the ner's
    cfg file, records it too. Docs without the span group are unaffected."""

    def after_init(nlp: Language) -> Language:
        names = components
        if names is None:
            names = [name for name, proc in nlp.components if isinstance(proc, EntityRecognizer)]
        for name in names:
            proc = nlp.get_pipe(name)
            proc.cfg["incorrect_spans_key"] = key
            proc.moves.cfg["neg_key"] = key
        return nlp

    return after_init
