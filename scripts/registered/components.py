"""Pipeline components and layers of the shipped pipelines (registered on import).

A library the shipped pipeline needs at load time: `spacy package --code`
copies it (with anchored_ruler.py) into the package, so it imports nothing
from the project's other scripts. functions.py (the training code) loads it.

- ner_update_entity_snapshot / ner_update_new_entities_only: around the
  learned part of a recipe that keeps the base ner: the first stores the
  entities found so far and clears them, the second puts them back with the
  learned part's new-label entities, which replace an old-label entity they
  overlap (new_labels_win). Old-label entities that no new-label entity
  overlaps are never changed.
- ner_update_new_label_tagger + ner_update.SharedFeatures.v1: a BILUO tagger
  for the new labels on features the pipeline computes anyway.
- ner_update_label_scores: new- and old-label scores for checkpoint choice.
"""

from typing import Callable, Dict, Iterable, List, Optional

import numpy
from spacy.language import Language
from spacy.ml.models.tok2vec import MaxoutWindowEncoder, MultiHashEmbed, build_Tok2Vec_model
from spacy.pipeline.tagger import Tagger
from spacy.pipeline.tok2vec import Tok2VecListener
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import registry
from thinc.api import Maxout, Model, SequenceCategoricalCrossentropy, chain, concatenate, expand_window, with_array
from thinc.types import Floats2d


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
    of letting the old labels go missing."""

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


@registry.architectures("ner_update.SharedFeatures.v1")
def shared_features(
    upstream: str,
    width: int,
    embed_width: int = 32,
    rows: int = 2000,
    attrs: Optional[List[str]] = None,
    depth: int = 1,
    hidden_width: int = 0,
    window_size: int = 1,
) -> Model[List[Doc], List[Floats2d]]:
    """The features a tok2vec component `upstream` computes anyway (`width`
    wide; frozen in training), side by side with a small trainable embedding of
    each token's `attrs` (`embed_width` wide, `depth` convolution layers): the
    word identity frozen features lack, at a small part of a tok2vec's cost.
    hidden_width > 0: then a maxout layer over each token and `window_size`
    tokens either side mixes the two. attrs null: NORM and SHAPE."""
    attrs = attrs or ["NORM", "SHAPE"]
    embed = MultiHashEmbed(width=embed_width, attrs=attrs, rows=[rows] * len(attrs), include_static_vectors=False)
    own = build_Tok2Vec_model(
        embed, MaxoutWindowEncoder(width=embed_width, window_size=1, maxout_pieces=3, depth=depth)
    )
    features = concatenate(Tok2VecListener(upstream_name=upstream, width=width), own)
    if not hidden_width:
        return features
    n_in = (width + embed_width) * (2 * window_size + 1)
    mix = chain(expand_window(window_size), Maxout(nO=hidden_width, nI=n_in, nP=3, normalize=True))
    return chain(features, with_array(mix))


@Language.factory(
    "ner_update_new_label_tagger",
    default_config={"old_labels": [], "label_smoothing": 0.0, "valid_only": True, "min_confidence": 0.0},
    default_score_weights={},
)
def make_new_label_tagger(
    nlp: Language,
    name: str,
    model: Model,
    old_labels: List[str],
    label_smoothing: float,
    valid_only: bool,
    min_confidence: float,
) -> "NewLabelTagger":
    return NewLabelTagger(
        nlp.vocab,
        model,
        name,
        old_labels=old_labels,
        label_smoothing=label_smoothing,
        valid_only=valid_only,
        min_confidence=min_confidence,
    )


class NewLabelTagger(Tagger):
    """A token classifier for the new labels: one BILUO tag per token (the
    labels not in `old_labels`, every other entity is "O"), decoded into
    entities set as doc.ents. A cheap second entity recogniser: no transition
    loop, and with SharedFeatures no second token-to-vector layer.

    valid_only: decode the best tag sequence that obeys BILUO (Viterbi over the
    tag probabilities), so that every entity is whole (B I* L or U), never a
    fragment of an invalid run; false: each token's best tag, read leniently.
    min_confidence: an entity is kept only when the mean probability of its
    tags reaches it (0: all are kept)."""

    def __init__(
        self,
        vocab,
        model: Model,
        name: str,
        *,
        old_labels: List[str],
        label_smoothing: float = 0.0,
        valid_only: bool = True,
        min_confidence: float = 0.0,
    ):
        super().__init__(vocab, model, name, scorer=None, label_smoothing=label_smoothing)
        self.cfg["old_labels"] = sorted(old_labels)
        self.cfg["valid_only"] = valid_only
        self.cfg["min_confidence"] = min_confidence

    def _scores2guesses(self, scores) -> list:
        """Tag ids per doc: the best valid BILUO sequence (valid_only) or each token's best tag,
        with entities under min_confidence set to O."""
        labels = list(self.labels)
        output = next((node for node in self.model.walk() if node.name == "softmax"), None)
        logits = output is not None and not output.attrs.get("softmax_normalize", True)
        guesses = []
        for doc_scores in scores:
            probs = numpy.asarray(self.model.ops.to_numpy(doc_scores), dtype="float64")
            if logits:  # spacy.Tagger.v2 with normalize = false scores with logits outside training
                probs = numpy.exp(probs - probs.max(axis=1, keepdims=True)) if len(probs) else probs
                probs = probs / probs.sum(axis=1, keepdims=True) if len(probs) else probs
            ids = biluo_viterbi(probs, labels) if self.cfg.get("valid_only", False) else probs.argmax(axis=1)
            guesses.append(drop_unsure(numpy.asarray(ids), probs, labels, self.cfg.get("min_confidence", 0.0)))
        return guesses

    @property
    def entity_labels(self) -> List[str]:
        """The entity labels its tags stand for."""
        return sorted({tag.split("-", 1)[1] for tag in self.labels if "-" in tag})

    def _gold_tags(self, example: Example) -> List[Optional[str]]:
        old = set(self.cfg["old_labels"])
        tags: List[Optional[str]] = []
        for tag in example.get_aligned_ner():
            if tag is None or tag == "-":
                tags.append(None)
            else:
                tags.append("O" if tag == "O" or tag.split("-", 1)[1] in old else tag)
        return tags

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp=None, labels=None) -> None:
        tags = set(labels or ())
        if not tags:
            for example in get_examples():
                tags.update(tag for tag in self._gold_tags(example) if tag)
        for tag in sorted(tags | {"O"}):
            self.add_label(tag)
        docs = [example.x for example in list(get_examples())[:10]]
        output = next(node for node in self.model.walk() if node.name == "softmax")
        if not output.has_dim("nO"):
            output.set_dim("nO", len(self.labels))
        self.model.initialize(X=docs)

    def get_loss(self, examples: Iterable[Example], scores) -> tuple:
        loss_func = SequenceCategoricalCrossentropy(
            names=self.labels, normalize=False, label_smoothing=self.cfg["label_smoothing"]
        )
        d_scores, loss = loss_func(scores, [self._gold_tags(example) for example in examples])
        return float(loss), d_scores

    def set_annotations(self, docs: Iterable[Doc], batch_tag_ids) -> None:
        labels = self.labels
        for doc, tag_ids in zip(docs, batch_tag_ids):
            ids = tag_ids.tolist() if hasattr(tag_ids, "tolist") else list(tag_ids)
            doc.set_ents(biluo_spans(doc, [labels[i] for i in ids]), default="unmodified")


def allowed_transitions(labels: List[str]) -> numpy.ndarray:
    """allowed[i, j]: tag j may follow tag i under BILUO (B-x, I-x go on with I-x or L-x;
    O, L-x, U-x are followed by O, B-y or U-y). Row -1 is the start, column -1 the end."""
    n = len(labels)
    allowed = numpy.zeros((n + 1, n + 1), dtype=bool)
    moves = [tag.partition("-") for tag in labels]
    for i, (move_i, _, label_i) in enumerate([*moves, ("O", "", "")]):
        inside = move_i in ("B", "I") and i < n
        for j, (move_j, _, label_j) in enumerate([*moves, ("END", "", "")]):
            if inside:
                allowed[i, j] = move_j in ("I", "L") and label_j == label_i and j < n
            else:
                allowed[i, j] = move_j in ("O", "B", "U", "END")
    return allowed


def biluo_viterbi(probs: numpy.ndarray, labels: List[str]) -> numpy.ndarray:
    """The tag ids of the most probable tag sequence that obeys BILUO (probs: tokens x tags)."""
    if len(probs) == 0:
        return numpy.zeros((0,), dtype="int64")
    allowed = allowed_transitions(labels)
    step = numpy.where(allowed[:-1, :-1], 0.0, -numpy.inf)
    log_probs = numpy.log(numpy.clip(probs, 1e-12, 1.0))
    best = numpy.where(allowed[-1, :-1], 0.0, -numpy.inf) + log_probs[0]
    back = numpy.zeros(probs.shape, dtype="int64")
    for t in range(1, len(probs)):
        candidates = best[:, None] + step
        back[t] = candidates.argmax(axis=0)
        best = candidates.max(axis=0) + log_probs[t]
    best = best + numpy.where(allowed[:-1, -1], 0.0, -numpy.inf)
    ids = numpy.zeros(len(probs), dtype="int64")
    ids[-1] = int(best.argmax())
    for t in range(len(probs) - 1, 0, -1):
        ids[t - 1] = back[t, ids[t]]
    return ids


def drop_unsure(ids: numpy.ndarray, probs: numpy.ndarray, labels: List[str], min_confidence: float) -> numpy.ndarray:
    """ids with every entity whose tags' mean probability is under min_confidence set to O."""
    if min_confidence <= 0 or "O" not in labels:
        return ids
    ids = ids.copy()
    tags = [labels[i] for i in ids]
    for span in biluo_spans(None, tags, as_offsets=True):
        start, end = span
        if probs[numpy.arange(start, end), ids[start:end]].mean() < min_confidence:
            ids[start:end] = labels.index("O")
    return ids


def biluo_spans(doc: Optional[Doc], tags: List[str], as_offsets: bool = False) -> list:
    """Entities from BILUO tags, leniently: a B or I run that is not closed by
    an L still ends where the next tag does not continue it. as_offsets: (start, end)
    token offsets instead of Spans."""
    found: List[tuple] = []
    start, label = None, ""
    for i, tag in enumerate([*tags, "O"]):
        move, _, tag_label = tag.partition("-")
        if start is not None and (move in ("O", "B", "U") or tag_label != label):
            found.append((start, i, label))
            start = None
        if move in ("B", "U", "I", "L") and start is None:
            start, label = i, tag_label
        if move in ("L", "U") and start is not None:
            found.append((start, i + 1, label))
            start = None
    if as_offsets:
        return [(start, end) for start, end, _ in found]
    return [Span(doc, start, end, label) for start, end, label in found]
