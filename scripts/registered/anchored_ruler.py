"""The recipes' entity_ruler: spaCy's, with the same matches, faster.

A library the shipped pipeline needs at load time (copied into the package
by `spacy package --code`); it imports nothing from the project's scripts.
"""

import re
from typing import Callable, Dict, List, Optional

from spacy.attrs import LOWER, NORM, ORTH
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import EntityRuler
from spacy.tokens import Doc


@Language.factory(
    "ner_update_entity_ruler",
    assigns=["doc.ents", "token.ent_type", "token.ent_iob"],
    default_config={
        "phrase_matcher_attr": None,
        "matcher_fuzzy_compare": {"@misc": "spacy.levenshtein_compare.v1"},
        "validate": False,
        "overwrite_ents": False,
        "ent_id_sep": "||",
        "scorer": {"@scorers": "spacy.entity_ruler_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_anchored_entity_ruler(
    nlp: Language,
    name: str,
    phrase_matcher_attr: Optional[str],
    matcher_fuzzy_compare: Callable,
    validate: bool,
    overwrite_ents: bool,
    ent_id_sep: str,
    scorer: Optional[Callable],
) -> "AnchoredEntityRuler":
    return AnchoredEntityRuler(
        nlp,
        name,
        phrase_matcher_attr=phrase_matcher_attr,
        matcher_fuzzy_compare=matcher_fuzzy_compare,
        validate=validate,
        overwrite_ents=overwrite_ents,
        ent_id_sep=ent_id_sep,
        scorer=scorer,
    )


class AnchoredEntityRuler(EntityRuler):
    """spaCy's entity_ruler (the same config, patterns and matches), faster:
    each token pattern is tried only on a doc that contains a text one of its
    mandatory tokens asks for (its LOWER/ORTH/NORM string, IN list or REGEX),
    instead of every pattern at every token."""

    def __init__(self, nlp: Language, name: str = "entity_ruler", **config) -> None:
        super().__init__(nlp, name, **config)
        self.matcher = AnchoredMatcher(nlp.vocab, self._validate, self.matcher_fuzzy_compare)

    def clear(self) -> None:
        super().clear()
        self.matcher = AnchoredMatcher(self.nlp.vocab, self._validate, self.matcher_fuzzy_compare)

    def __call__(self, doc: Doc) -> Doc:
        error_handler = self.get_error_handler()
        try:
            matches = self.match(doc)
            # no match on a doc whose every token has an entity tag already:
            # assigning doc.ents again would change nothing, and costs time
            if matches or not doc.has_annotation("ENT_IOB", require_complete=True):
                self.set_annotations(doc, matches)
            return doc
        except Exception as e:
            return error_handler(self.name, self, [doc], e)

    def match(self, doc: Doc) -> List[tuple]:
        """spaCy's, without its per-doc warning filter: the anchored matcher
        never warns, the phrase matcher runs only when it has patterns."""
        self._require_patterns()
        matches = list(self.matcher(doc))
        if len(self.phrase_matcher):
            matches += list(self.phrase_matcher(doc))
        final = {(m_id, start, end) for m_id, start, end in matches if start != end}
        return sorted(final, key=lambda m: (m[2] - m[1], -m[1]), reverse=True)


_TEXT_ATTRS = {"LOWER": "lower_", "ORTH": "orth_", "TEXT": "orth_", "NORM": "norm_"}
_ATTR_IDS = {"lower_": LOWER, "orth_": ORTH, "norm_": NORM}


def pattern_anchor(pattern: List[dict]) -> Optional[tuple]:
    """(token attribute, "in" or "regex", strings or regex) of the first
    mandatory token of a Matcher pattern that asks for a text; None if none does."""
    for spec in pattern:
        if spec.get("OP") not in (None, "1", "+"):
            continue
        for key, value in spec.items():
            attr = _TEXT_ATTRS.get(key.upper()) if isinstance(key, str) else None
            if attr is None:
                continue
            if isinstance(value, str):
                return attr, "in", {value}
            if isinstance(value, dict) and set(value) == {"IN"}:
                return attr, "in", set(value["IN"])
            if isinstance(value, dict) and set(value) == {"REGEX"}:
                return attr, "regex", re.compile(value["REGEX"])
    return None


class AnchoredMatcher:
    """A Matcher per token pattern, run only where its anchor text occurs
    (see `pattern_anchor`); patterns without an anchor run on every doc. The
    same matches as one Matcher with all the patterns, in another order."""

    max_cache = 200_000

    def __init__(self, vocab, validate: bool = False, fuzzy_compare: Optional[Callable] = None) -> None:
        self.vocab, self.validate, self.fuzzy_compare = vocab, validate, fuzzy_compare
        self._keys = Matcher(vocab)
        self.by_text: Dict[tuple, List[Matcher]] = {}
        self.by_regex: List[tuple] = []
        self.always: List[Matcher] = []
        self._hits: Dict[tuple, List[Matcher]] = {}

    def _normalize_key(self, key):
        return self._keys._normalize_key(key)

    def add(self, key, patterns: List[List[dict]], **kwargs) -> None:
        for pattern in patterns:
            config = {"fuzzy_compare": self.fuzzy_compare} if self.fuzzy_compare else {}
            matcher = Matcher(self.vocab, validate=self.validate, **config)
            matcher.add(key, [pattern], **kwargs)
            anchor = pattern_anchor(pattern)
            if anchor is None:
                self.always.append(matcher)
            elif anchor[1] == "in":
                for text in anchor[2]:
                    self.by_text.setdefault((anchor[0], text), []).append(matcher)
            else:
                self.by_regex.append((anchor[0], anchor[2], matcher))
        self._hits.clear()

    def remove(self, key) -> None:
        key_id = self._normalize_key(key)
        keep = lambda m: key_id not in m  # noqa: E731
        self.always = [m for m in self.always if keep(m)]
        self.by_text = {k: [m for m in ms if keep(m)] for k, ms in self.by_text.items()}
        self.by_regex = [(a, rx, m) for a, rx, m in self.by_regex if keep(m)]
        self._hits.clear()

    def __len__(self) -> int:
        every = self.always + [m for ms in self.by_text.values() for m in ms] + [m for *_, m in self.by_regex]
        return len({id(m) for m in every})

    def __contains__(self, key) -> bool:
        key_id = self._normalize_key(key)
        every = self.always + [m for ms in self.by_text.values() for m in ms] + [m for *_, m in self.by_regex]
        return any(key_id in m for m in every)

    def _candidates(self, doc: Doc) -> List[Matcher]:
        found = {id(m): m for m in self.always}
        if len(self._hits) > self.max_cache:
            self._hits.clear()
        strings = doc.vocab.strings  # the doc's: sourced into another pipeline, the vocab is not ours
        for attr in {a for a, _ in self.by_text} | {a for a, *_ in self.by_regex}:
            # the doc's distinct strings of attr, as hashes (no Python loop over tokens)
            for key in set(doc.to_array(_ATTR_IDS[attr]).tolist()):
                hits = self._hits.get((attr, key))
                if hits is None:
                    text = strings[key]
                    hits = list(self.by_text.get((attr, text), []))
                    hits += [m for a, regex, m in self.by_regex if a == attr and regex.search(text)]
                    self._hits[(attr, key)] = hits
                found.update((id(m), m) for m in hits)
        return list(found.values())

    def __call__(self, doc: Doc, **kwargs) -> list:
        return [match for matcher in self._candidates(doc) for match in matcher(doc, **kwargs)]
