"""Silver examples for rehearsal: how they are drawn, and what they teach (training code,
loaded by functions.py; it imports nothing from the project's other scripts)."""

import random
from collections import Counter
from typing import Collection, Dict, List, Optional

import spacy
from spacy.language import Language
from spacy.tokens import Doc


class RehearsalSampler:
    """Draws rehearsal items at a ratio per new-label example.

    Items come from a permutation made afresh each epoch from the seed and the
    epoch number, without replacement until the permutation is used up.
    Fractional counts carry over, so the ratio holds on average.
    """

    def __init__(self, n_items: int, ratio: float, seed: int) -> None:
        self.n_items, self.ratio, self.seed = n_items, ratio, seed
        self.epoch: Optional[int] = None
        self.order: List[int] = []
        self.pos = 0
        self.owed = 0.0

    def draw(self, epoch: int, n_new: int) -> List[int]:
        if self.ratio <= 0 or self.n_items == 0:
            return []
        if epoch != self.epoch:
            self.epoch, self.pos = epoch, 0
            self.order = list(range(self.n_items))
            random.Random(f"{self.seed}-{epoch}").shuffle(self.order)
        self.owed += self.ratio * n_new
        k, self.owed = int(self.owed), self.owed - int(self.owed)
        picked = []
        for _ in range(k):
            if self.pos >= len(self.order):
                self.pos = 0
            picked.append(self.order[self.pos])
            self.pos += 1
        return picked


def host_labels(golds: List[Doc], preds: List[Doc], share: float) -> Dict[str, float]:
    """The base's labels, with their shares, at least `share` of whose entities in `preds` (the
    base's predictions on the texts of `golds`, the new-label gold docs) contain a whole gold
    new-label span: the labels the base gives the new labels' names. A label
    whose entities only share a token with one (CARDINAL "5" in "iPhone 5") is no host."""
    total: Counter = Counter()
    holding: Counter = Counter()
    for gold, pred in zip(golds, preds):
        spans = [(ent.start, ent.end) for ent in gold.ents]
        for ent in pred.ents:
            total[ent.label_] += 1
            holding[ent.label_] += any(ent.start <= start and end <= ent.end for start, end in spans)
    shares = {label: holding[label] / n for label, n in sorted(total.items())}
    return {label: value for label, value in shares.items() if value >= share}


def unlabel(docs: List[Doc], labels: Collection[str]) -> None:
    """Make the entities of `labels` in `docs` missing (in place): taught neither as an entity nor as none."""
    for doc in docs:
        doc.set_ents(
            [e for e in doc.ents if e.label_ not in labels], missing=[e for e in doc.ents if e.label_ in labels]
        )


def relabel_matches(docs: List[Doc], patterns: List[dict], nlp: Language) -> int:
    """Set the pattern matches in `docs` as entities, replacing the entities
    they overlap (in place); the number of docs changed."""
    matcher = spacy.blank(nlp.lang, vocab=nlp.vocab)  # the patterns' own pipeline: phrases need only the tokenizer
    matcher.tokenizer = nlp.tokenizer
    ruler = matcher.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    ruler.add_patterns(patterns)
    changed = 0
    for doc in docs:
        before = [(e.start, e.end, e.label_) for e in doc.ents]
        ruler(doc)
        changed += before != [(e.start, e.end, e.label_) for e in doc.ents]
    return changed
