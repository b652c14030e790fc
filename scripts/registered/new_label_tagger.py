"""The new-label tagger of the default recipe (registered on import).

A library the shipped pipeline needs at load time: `spacy package --code`
copies it into the package, so it imports nothing from the project's other
scripts. functions.py (the training code) loads it.

- ner_update_new_label_tagger + ner_update.SharedFeatures.v1: a BILUO tagger
  for the new labels on features the pipeline computes anyway, decoded into
  whole entities only (the best valid BILUO sequence), with the pattern
  matches as evidence it may overrule (rule_odds) and a confidence floor.
"""

from typing import Callable, Iterable, List, Optional

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
    include_static_vectors: bool = False,
    upstream_factory: str = "tok2vec",
) -> Model[List[Doc], List[Floats2d]]:
    """The features a tok2vec component `upstream` computes anyway (`width`
    wide; frozen in training), side by side with a small trainable embedding of
    each token's `attrs` (`embed_width` wide, `depth` convolution layers): the
    word identity frozen features lack, at a small part of a tok2vec's cost.
    hidden_width > 0: then a maxout layer over each token and `window_size`
    tokens either side mixes the two. attrs null: NORM and SHAPE. include_static_vectors:
    the embedding also reads the pipeline's static vectors (a base that has them).
    upstream_factory "transformer": `upstream` is a spacy-transformers component
    (frozen and annotating in training: its listener reads doc._.trf_data), its
    wordpiece outputs mean-pooled per token; spacy-transformers must be installed,
    as it is for any pipeline with a transformer."""
    attrs = attrs or ["NORM", "SHAPE"]
    embed = MultiHashEmbed(
        width=embed_width, attrs=attrs, rows=[rows] * len(attrs), include_static_vectors=include_static_vectors
    )
    own = build_Tok2Vec_model(
        embed, MaxoutWindowEncoder(width=embed_width, window_size=1, maxout_pieces=3, depth=depth)
    )
    features = concatenate(upstream_listener(upstream, width, upstream_factory), own)
    if not hidden_width:
        return features
    n_in = (width + embed_width) * (2 * window_size + 1)
    mix = chain(expand_window(window_size), Maxout(nO=hidden_width, nI=n_in, nP=3, normalize=True))
    return chain(features, with_array(mix))


def upstream_listener(upstream: str, width: int, factory: str) -> Model[List[Doc], List[Floats2d]]:
    """A listener of the component `upstream` (a tok2vec or a spacy-transformers transformer)."""
    if factory == "tok2vec":
        return Tok2VecListener(upstream_name=upstream, width=width)
    if factory == "transformer":
        make_listener = registry.architectures.get("spacy-transformers.TransformerListener.v1")
        return make_listener(grad_factor=1.0, pooling=registry.layers.get("reduce_mean.v1")(), upstream=upstream)
    raise ValueError(f"SharedFeatures listens to a tok2vec or a transformer component, not a {factory!r}")


@Language.factory(
    "ner_update_new_label_tagger",
    default_config={
        "old_labels": [],
        "label_smoothing": 0.0,
        "valid_only": True,
        "min_confidence": 0.0,
        "rule_odds": 0.0,
        "rules_key": "ner_update_snapshot",
    },
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
    rule_odds: float,
    rules_key: str,
) -> "NewLabelTagger":
    return NewLabelTagger(
        nlp.vocab,
        model,
        name,
        old_labels=old_labels,
        label_smoothing=label_smoothing,
        valid_only=valid_only,
        min_confidence=min_confidence,
        rule_odds=rule_odds,
        rules_key=rules_key,
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
    tags reaches it (0: all are kept).
    rule_odds: 0, the pattern matches are not read here (the merge adds them
    where the tagger found nothing); > 0, the new-label spans in
    doc.spans[rules_key] (the entity_ruler's matches, kept by the snapshot) are
    evidence: each multiplies the odds of its own tags by rule_odds before
    decoding, and is taken out of the snapshot, so that the tagger's decision
    is final (a match the tagger is sure is no entity is dropped; a match it is
    unsure of is kept)."""

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
        rule_odds: float = 0.0,
        rules_key: str = "ner_update_snapshot",
    ):
        super().__init__(vocab, model, name, scorer=None, label_smoothing=label_smoothing)
        self.cfg["old_labels"] = sorted(old_labels)
        self.cfg["valid_only"] = valid_only
        self.cfg["min_confidence"] = min_confidence
        self.cfg["rule_odds"] = rule_odds
        self.cfg["rules_key"] = rules_key

    def predict(self, docs: Iterable[Doc]) -> list:
        """Tag ids per doc, from the model's scores and (rule_odds > 0) the pattern matches."""
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return [self.model.ops.alloc1i(0) for _ in docs]
        return self._scores2guesses(self.model.predict(docs), [self._rule_spans(doc) for doc in docs])

    def _rule_spans(self, doc: Doc) -> List[Span]:
        """The new-label pattern matches in the snapshot (rule_odds > 0), else none."""
        key = self.cfg.get("rules_key", "")
        if self.cfg.get("rule_odds", 0.0) <= 0 or key not in doc.spans:
            return []
        return [span for span in doc.spans[key] if span.label_ not in self.cfg["old_labels"]]

    def _scores2guesses(self, scores, rules: Optional[List[List[Span]]] = None) -> list:
        """Tag ids per doc: the best valid BILUO sequence (valid_only) or each token's best tag,
        with entities under min_confidence set to O."""
        labels = list(self.labels)
        output = next((node for node in self.model.walk() if node.name == "softmax"), None)
        logits = output is not None and not output.attrs.get("softmax_normalize", True)
        guesses = []
        for doc_scores, doc_rules in zip(scores, rules or [[] for _ in scores]):
            probs = numpy.asarray(self.model.ops.to_numpy(doc_scores), dtype="float64")
            if logits:  # spacy.Tagger.v2 with normalize = false scores with logits outside training
                probs = numpy.exp(probs - probs.max(axis=1, keepdims=True)) if len(probs) else probs
                probs = probs / probs.sum(axis=1, keepdims=True) if len(probs) else probs
            probs = with_rule_evidence(probs, labels, doc_rules, self.cfg.get("rule_odds", 0.0))
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
        """doc.ents: the tagger's entities, then those found before it that they do not overlap
        (less the pattern matches it decided, rule_odds > 0): nothing found before is lost when
        the merge after it is disabled, excluded or left out of another pipeline."""
        labels, key = self.labels, self.cfg.get("rules_key", "")
        for doc, tag_ids in zip(docs, batch_tag_ids):
            ids = tag_ids.tolist() if hasattr(tag_ids, "tolist") else list(tag_ids)
            learned = biluo_spans(doc, [labels[i] for i in ids])
            decided = {(s.start, s.end, s.label) for s in self._rule_spans(doc)}
            if decided:  # decided here: the merge must not add them back
                doc.spans[key] = [span for span in doc.spans[key] if span.label_ in self.cfg["old_labels"]]
            taken = {i for span in learned for i in range(span.start, span.end)}
            before = [
                ent
                for ent in doc.ents
                if (ent.start, ent.end, ent.label) not in decided and not taken & set(range(ent.start, ent.end))
            ]
            doc.set_ents(sorted(learned + before, key=lambda span: span.start), default="outside")


def with_rule_evidence(probs: numpy.ndarray, labels: List[str], spans: List[Span], odds: float) -> numpy.ndarray:
    """probs with each span's own tags (U, or B I* L, of its label) made `odds` times more likely
    against the token's other tags (renormalised); tags the tagger does not know are left alone."""
    if odds <= 0 or not spans:
        return probs
    probs = probs.copy()
    index = {tag: i for i, tag in enumerate(labels)}
    for span in spans:
        length = span.end - span.start
        tags = [f"U-{span.label_}"] if length == 1 else [f"B-{span.label_}", *[f"I-{span.label_}"] * (length - 2)]
        tags += [] if length == 1 else [f"L-{span.label_}"]
        for token, tag in zip(range(span.start, span.end), tags):
            if tag in index:
                probs[token, index[tag]] *= odds
                probs[token] /= probs[token].sum()
    return probs


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
