"""Pipeline components and layers of the shipped pipelines (registered on import).

A library the shipped pipeline needs at load time: `spacy package --code`
copies it (with anchored_ruler.py and new_label_tagger.py) into the package, so it imports nothing
from the project's other scripts. functions.py (the training code) loads it.

- ner_update_entity_snapshot / ner_update_new_entities_only: around the
  learned part of a recipe that keeps the base ner: the first stores the
  entities found so far and clears them, the second puts them back with the
  learned part's new-label entities, which replace an old-label entity they
  overlap (new_labels_win). Old-label entities that no new-label entity
  overlaps are never changed.
- the new-label tagger (a BILUO tagger on shared features): new_label_tagger.py.
- ner_update_label_scores: new- and old-label scores for checkpoint choice.
"""

from typing import Callable, Dict, Iterable, List, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example


@Language.factory(
    "ner_update_entity_snapshot",
    default_config={"key": "ner_update_snapshot", "clear": True, "merged_by": "new_entities"},
)
def make_entity_snapshot(nlp: Language, name: str, key: str, clear: bool, merged_by: str) -> "EntitySnapshot":
    return EntitySnapshot(nlp, name, key, clear, merged_by)


class EntitySnapshot:
    """Before a second ner: store the entities found so far in doc.spans[key]
    and (clear) remove them from doc.ents, so that the second ner predicts
    freely instead of keeping them. The component `merged_by` must run after
    it to put them back: if it is disabled or excluded, this one fails instead
    of letting the old labels go missing. spaCy gives a component no handle on
    the pipeline it runs in, so the check reads the pipeline it was built in
    (sourced elsewhere, keep `merged_by` after it). clear = false (the default
    recipe's: its tagger keeps what it does not overlap) stores without
    clearing, and nothing can go missing."""

    def __init__(self, nlp: Language, name: str, key: str, clear: bool, merged_by: str) -> None:
        self.nlp, self.name, self.key, self.clear, self.merged_by = nlp, name, key, clear, merged_by
        self._pipe_names: Optional[List[str]] = None  # the enabled pipeline when pickled

    def __call__(self, doc: Doc) -> Doc:
        names = self.nlp.pipe_names if self.nlp is not None else self._pipe_names
        if self.clear and names is not None and self.merged_by not in names:
            raise ValueError(
                f"'{self.name}' removes the entities found so far and '{self.merged_by}' puts them back after the "
                f"second ner, but '{self.merged_by}' is disabled or excluded: the old labels would be lost. "
                f"Disable or exclude both, or neither."
            )
        doc.spans[self.key] = list(doc.ents)
        if self.clear:
            doc.ents = []
        return doc

    def __getstate__(self) -> dict:  # picklable for nlp.pipe(n_process=...) under spawn
        state = dict(self.__dict__)
        state["_pipe_names"] = list(self.nlp.pipe_names) if self.nlp is not None else self._pipe_names
        state["nlp"] = None
        return state


@Language.factory(
    "ner_update_new_entities_only",
    default_config={"key": "ner_update_snapshot", "old_labels": [], "new_labels_win": True, "rules_win": False},
)
def make_new_entities_only(
    nlp: Language, name: str, key: str, old_labels: List[str], new_labels_win: bool, rules_win: bool
) -> "MergeNewEntities":
    return MergeNewEntities(key, old_labels, new_labels_win, rules_win)


class MergeNewEntities:
    """After a second ner: put back the entities of the snapshot in
    doc.spans[key] and add the second ner's entities whose label is not one of
    `old_labels` (the first ner's labels, fixed when the pipeline is built: a
    ner adds the labels of entities set before it to its own at run time).
    Where they overlap, new_labels_win decides: true, new-label entities come
    first (the second ner's, then the snapshot's: pattern matches; the other
    way round with rules_win), then the snapshot's old-label entities; false,
    the snapshot's entities all come first and the second ner only fills gaps."""

    def __init__(self, key: str, old_labels: List[str], new_labels_win: bool, rules_win: bool = False) -> None:
        self.key, self.old, self.new_labels_win, self.rules_win = key, set(old_labels), new_labels_win, rules_win

    def __call__(self, doc: Doc) -> Doc:
        if self.key not in doc.spans:  # no snapshot ran: the second ner kept the entities it found set
            return doc
        snapshot = list(doc.spans[self.key])
        learned = [ent for ent in doc.ents if ent.label_ not in self.old]
        if self.new_labels_win:
            ruled = [span for span in snapshot if span.label_ not in self.old]
            first = [ruled, learned] if self.rules_win else [learned, ruled]
            order = [*first, [span for span in snapshot if span.label_ in self.old]]
        else:
            order = [snapshot, learned]
        kept: List[Span] = []
        taken: set = set()
        for spans in order:
            for span in spans:
                tokens = set(range(span.start, span.end))
                if not tokens & taken:
                    kept.append(span)
                    taken |= tokens
        doc.ents = sorted(kept, key=lambda span: span.start)
        del doc.spans[self.key]
        return doc

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, float]:
        return label_scores(examples, self.old)


@Language.factory("ner_update_label_scores", default_config={"old_labels": [], "agreement_floor": 0.0})
def make_label_scores(nlp: Language, name: str, old_labels: List[str], agreement_floor: float) -> "LabelScores":
    return LabelScores(old_labels, agreement_floor)


class LabelScores:
    """Changes nothing; scores the new and the old labels apart for checkpoint
    selection (a single updated ner: the base's sourced ner keeps its own scorer).
    new_ents_f_floored is new_ents_f where old_ents_f reaches agreement_floor, else
    a hundredth of it: a checkpoint that keeps the old labels always wins, and
    without one, the best new-label F (never the untrained start)."""

    def __init__(self, old_labels: List[str], agreement_floor: float) -> None:
        self.old, self.floor = set(old_labels), agreement_floor

    def __call__(self, doc: Doc) -> Doc:
        return doc

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, float]:
        scores = label_scores(examples, self.old)
        new_f = scores["new_ents_f"]
        scores["new_ents_f_floored"] = new_f if scores["old_ents_f"] >= self.floor else new_f / 100
        return scores


def label_scores(examples: Iterable[Example], old: set) -> Dict[str, float]:
    """new_ents_p/r/f: the new labels only; old_ents_f: the old labels (on a dev
    set with the base's own predictions merged in, agreement with the base).
    Predictions over tokens whose gold is missing are not counted."""
    examples = list(examples)
    return {**prf(examples, lambda label: label not in old, "new_ents"), **prf(examples, old.__contains__, "old_ents")}


def prf(examples: Iterable[Example], keep: Callable[[str], bool], prefix: str) -> Dict[str, float]:
    """Micro P/R/F of the entities whose label `keep`s, as {prefix_p, _r, _f}."""
    tp = n_pred = n_gold = 0
    for eg in examples:
        gold = {(e.start_char, e.end_char, e.label_) for e in eg.reference.ents if keep(e.label_)}
        known = {t.idx for t in eg.reference if t.ent_iob != 0}
        pred = {(e.start_char, e.end_char, e.label_) for e in eg.predicted.ents if keep(e.label_) and e[0].idx in known}
        tp, n_pred, n_gold = tp + len(gold & pred), n_pred + len(pred), n_gold + len(gold)
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_gold if n_gold else 1.0
    return {f"{prefix}_p": p, f"{prefix}_r": r, f"{prefix}_f": 2 * p * r / (p + r) if p + r else 0.0}
