"""Registered functions for the update config (load with --code scripts/functions.py).

Self-contained on purpose: `spacy package --code` copies this file alone into
the package, so it imports nothing from the project's other scripts.

- ner_update.new_label_corpus.v1  reader: new-label gold docs, with the base
  pipeline's own predictions for the old labels merged in where they do not
  overlap a gold span (when base_ents_path is set).
- ner_update.recording_batcher.v1  wraps a batcher and records each batch's
  size, which the rehearsal callback needs (it fails if the batcher is missing).
- ner_update.rehearsal.v1  [training.before_update] callback: before every
  update, blends silver examples (the base's predictions on other text) into the
  step at a fixed ratio per new-label example, drawn afresh each epoch from the
  seed, and/or runs a teacher-student rehearsal step (`masked_rehearse`) against
  the frozen copy of the starting model. Its gradients are applied by the
  step's update.
- ner_update.loss_logger.v1  wraps spaCy's console logger; writes every logged
  step's losses per component to JSONL, rehearsal losses apart.
- ner_update_entity_snapshot / ner_update_new_entities_only  pipeline
  components around a second ner: the first stores the entities found so far
  and clears them, the second puts them back with the second ner's new-label
  entities, which replace an old-label entity they overlap (new_labels_win).
  Old-label entities that no new-label entity overlaps are never changed.
"""

import random
import re
import sys
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional

import spacy
import srsly
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.ml.models.tok2vec import MaxoutWindowEncoder, MultiHashEmbed, build_Tok2Vec_model
from spacy.pipeline import EntityRuler
from spacy.pipeline.tagger import Tagger
from spacy.pipeline.tok2vec import Tok2VecListener
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.util import registry
from thinc.api import (
    Maxout,
    Model,
    SequenceCategoricalCrossentropy,
    chain,
    concatenate,
    expand_window,
    set_dropout_rate,
    with_array,
)
from thinc.types import Floats2d


class _TrainingState:
    """What the batcher, the rehearsal callback and the logger share in one run."""

    def __init__(self) -> None:
        self.batch_size: Optional[int] = None  # None: no recording batcher has run
        self.rehearsal_losses: Dict[str, float] = {}


_STATE = _TrainingState()


def _read_docs(path: Path, nlp: Language) -> List[Doc]:
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} not found: run the project's `rehearsal` command first")
    return list(DocBin().from_disk(path).get_docs(nlp.vocab))


def merge_ents(gold: Doc, predicted: Doc) -> int:
    """Add `predicted`'s entities to `gold` where they overlap no gold entity.

    Both docs must have the same tokens. Returns how many entities were added.
    """
    if [t.text for t in gold] != [t.text for t in predicted]:
        raise ValueError(f"Cannot merge predictions into a differently tokenized doc: {gold.text[:80]!r}")
    taken = {i for ent in gold.ents for i in range(ent.start, ent.end)}
    extra = [
        Span(gold, e.start, e.end, label=e.label_)
        for e in predicted.ents
        if not taken.intersection(range(e.start, e.end))
    ]
    gold.set_ents(extra, default="unmodified")  # tokens left missing (binary answers) stay missing
    return len(extra)


@registry.readers("ner_update.new_label_corpus.v1")
def new_label_corpus(path: Path, base_ents_path: Optional[Path] = None) -> Callable[[Language], Iterator[Example]]:
    """New-label gold examples; with base_ents_path (the base's predictions on
    the same texts, in the same order), plus the base's old-label entities
    wherever they do not overlap a gold span, so that an unannotated person in
    a new-label sentence is not taught as "no entity". null: gold only."""

    def read(nlp: Language) -> Iterator[Example]:
        golds = _read_docs(path, nlp)
        preds = _read_docs(base_ents_path, nlp) if base_ents_path else None
        if preds is not None and [d.text for d in preds] != [d.text for d in golds]:
            raise ValueError(f"{base_ents_path} does not hold the texts of {path}: re-run the `rehearsal` command")
        for i, gold in enumerate(golds):
            if preds is not None:
                merge_ents(gold, preds[i])
            yield Example(nlp.make_doc(gold.text), gold)

    return read


@registry.readers("ner_update.patterns.v1")
def read_patterns(path: Optional[Path]) -> List[dict]:
    """EntityRuler patterns from JSONL (one {"label", "pattern"} per line, blank
    lines skipped) for `[initialize.components.entity_ruler.patterns]`; null: none.
    The `bootstrap` step has validated the file with line numbers."""
    if not path:
        return []
    with Path(path).open(encoding="utf-8-sig") as handle:
        lines = [line for line in handle if line.strip()]
    return [{k: v for k, v in srsly.json_loads(line).items() if k in ("label", "pattern", "id")} for line in lines]


@registry.callbacks("ner_update.incorrect_spans_key.v1")
def incorrect_spans_key(
    key: str = "incorrect_spans", components: Optional[List[str]] = None
) -> Callable[[Language], Language]:
    """[initialize.after_init]: make each trained ner (or the named components)
    learn that the spans in doc.spans[key] are not entities (binary rejects, as
    `convert` writes them). A sourced ner keeps its source's config, so
    `incorrect_spans_key` under [components.*] would be ignored: the key is set
    on the component (moves.cfg["neg_key"], read in training; saved with it)."""

    def after_init(nlp: Language) -> Language:
        frozen = set(nlp.config["training"]["frozen_components"])
        names = components
        if names is None:
            names = [n for n, p in nlp.components if type(p).__name__ == "EntityRecognizer" and n not in frozen]
        for name in names:
            proc = nlp.get_pipe(name)
            proc.cfg["incorrect_spans_key"] = key
            proc.moves.cfg["neg_key"] = key
        return nlp

    return after_init


@registry.batchers("ner_update.recording_batcher.v1")
def recording_batcher(batcher: Callable[[Iterable], Iterable[List]]) -> Callable[[Iterable], Iterator[List]]:
    """Wrap a batcher; record each batch's size for the rehearsal callback."""

    def batch(items: Iterable) -> Iterator[List]:
        for b in batcher(items):
            _STATE.batch_size = len(b)
            yield b

    return batch


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


@registry.callbacks("ner_update.rehearsal.v1")
def rehearsal(
    path: Optional[Path],
    silver_ratio: float = 1.0,
    teacher_ratio: float = 0.0,
    dropout: float = 0.1,
    seed: int = 0,
    patterns: Optional[List[dict]] = None,
) -> Callable[[Language, dict], None]:
    """Before every update, add rehearsal gradients for the trainable components.

    path: silver docs (the base pipeline's predictions on text that is not
        evaluation text), written by the `rehearsal` command.
    silver_ratio: silver examples per new-label example in each step, drawn
        from a permutation made afresh each epoch from `seed` and the epoch.
    teacher_ratio: texts (from the same docs, drawn independently) per
        new-label example for a teacher-student step (`masked_rehearse`): the
        model's scores are pulled towards those of the frozen copy of the
        starting model that `resume_training` keeps.
    patterns: EntityRuler patterns; where one matches a silver text, the match
        becomes a new-label entity that replaces a base entity it overlaps
        (the base read an "iPad" in a tweet as ORG): silver examples never
        teach that a new-label name is an old label or no entity.
    """
    cache: dict = {}
    _STATE.batch_size = None  # a new run: only this run's batcher may set it

    def before_update(nlp: Language, info: dict) -> None:
        if not path or (silver_ratio <= 0 and teacher_ratio <= 0):
            return
        n_new = _STATE.batch_size
        if n_new is None:
            raise ValueError(
                "ner_update.rehearsal.v1 needs [training.batcher] to be ner_update.recording_batcher.v1 (wrapping "
                "any batcher): it sets the number of rehearsal examples per new-label example. Without it, "
                "rehearsal would silently do nothing and the update would forget the old labels."
            )
        if not cache:
            # tokenize once: nothing in an update writes to the unannotated (predicted) docs
            examples = [Example(nlp.make_doc(d.text), d) for d in _read_docs(path, nlp)]
            if patterns:
                changed = relabel_matches([eg.reference for eg in examples], patterns, nlp)
                sys.stdout.write(
                    f"    rehearsal: pattern matches relabelled {changed} silver docs of {len(examples)}\n"
                )
            frozen = set(nlp.config["training"]["frozen_components"])
            cache["examples"] = examples
            cache["components"] = [
                (name, proc)
                for name, proc in nlp.pipeline
                if name not in frozen and getattr(proc, "is_trainable", False) and hasattr(proc, "update")
            ]
            annotating = set(nlp.config["training"]["annotating_components"])
            cache["annotating"] = [proc for name, proc in nlp.pipeline if name in annotating]
            cache["known_labels"] = {name: set(getattr(proc, "labels", ())) for name, proc in cache["components"]}
            cache["silver"] = RehearsalSampler(len(examples), silver_ratio, seed)
            cache["teacher"] = RehearsalSampler(len(examples), teacher_ratio, seed + 1)
        examples: List[Example] = cache["examples"]
        silver = [examples[i] for i in cache["silver"].draw(info["epoch"], n_new)]
        teacher = [examples[i].predicted for i in cache["teacher"].draw(info["epoch"], n_new)]
        if silver:
            _annotate([eg.predicted for eg in silver], cache["annotating"])
        for name, proc in cache["components"]:
            if silver:
                losses: Dict[str, float] = {}
                proc.update(silver, drop=dropout, sgd=None, losses=losses)
                _add(f"{name}_silver", losses.get(name, 0.0))
            if teacher and getattr(proc, "_rehearsal_model", None) is not None:
                _add(f"{name}_teacher", masked_rehearse(proc, teacher, cache["known_labels"][name]))

    return before_update


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


def _annotate(docs: List[Doc], procs: list) -> None:
    """Run the annotating components over `docs` in one batch, so that a
    component listening to one of them (a shared tok2vec) gets their output."""
    for proc in procs:
        proc.set_annotations(docs, proc.predict(docs))


def masked_rehearse(proc, docs: List[Doc], known_labels: set) -> float:
    """Teacher-student step for a transition-based component (ner/parser).

    Like `Parser.rehearse()`, it pulls the model's action scores towards those
    of the frozen copy of the starting model (`_rehearsal_model`, kept by
    `resume_training`), accumulating gradients for the next `finish_update`.
    Unlike it, outputs of labels the teacher never knew are not supervised:
    the teacher's scores for them are zeros (they were added after the copy),
    and pulling the new label towards zero stops it from being learned.
    Uses spaCy 3.8's parser internals. Returns the loss.
    """

    def known(move: str) -> bool:
        label = move.split("-", 1)[1] if "-" in move else ""
        return not label or label in known_labels

    states = proc.moves.init_batch(docs)
    proc._resize()
    set_dropout_rate(proc._rehearsal_model, 0.0)
    set_dropout_rate(proc.model, 0.0)
    tutor, _ = proc._rehearsal_model.begin_update(docs)
    model, backprop_tok2vec = proc.model.begin_update(docs)
    moves = [proc.moves.get_class_name(i) for i in range(proc.moves.n_moves)]
    mask = proc.model.ops.asarray1f([1.0 if known(m) else 0.0 for m in moves])
    loss, n_scores = 0.0, 0
    while states:
        targets, _ = tutor.begin_update(states)
        guesses, backprop = model.begin_update(states)
        d_scores = (guesses - targets) * mask / targets.shape[0]
        loss += float((d_scores**2).sum())
        backprop(d_scores)
        proc.transition_states(states, guesses)
        states = [state for state in states if not state.is_final()]
        n_scores += d_scores.size
    backprop_tok2vec(docs)
    model.clear_memory()
    tutor.clear_memory()
    return loss / max(n_scores, 1)


def _add(key: str, value: float) -> None:
    _STATE.rehearsal_losses[key] = _STATE.rehearsal_losses.get(key, 0.0) + float(value)


@registry.loggers("ner_update.loss_logger.v1")
def loss_logger(path: Path, console: Optional[Callable] = None) -> Callable:
    """spaCy's console logger plus a JSONL record per logged step: the new-label
    losses per component, and the rehearsal losses (silver, teacher) apart."""
    if console is None:
        console = registry.loggers.get("spacy.ConsoleLogger.v3")()

    def setup(nlp: Language, stdout=sys.stdout, stderr=sys.stderr):
        log_console, finalize_console = console(nlp, stdout, stderr)
        out = Path(path)
        linked = [p for p in (out, *out.parents) if p.is_symlink()]
        if linked:  # never write through a link planted in place of the log or its folder
            raise ValueError(f"{linked[0]} is a symbolic link: the loss log {out} is not written through it")
        out.parent.mkdir(parents=True, exist_ok=True)
        handle = out.open("w", encoding="utf8")

        def log_step(info: Optional[dict]) -> None:
            log_console(info)
            if info is None:
                return
            record = {
                "epoch": info["epoch"],
                "step": info["step"],
                "score": float(info["score"]),
                "losses": {k: float(v) for k, v in sorted(info["losses"].items())},
                "rehearsal_losses": {k: float(v) for k, v in sorted(_STATE.rehearsal_losses.items())},
                "seconds": int(info.get("seconds", 0)),
                "words": int(info.get("words", 0)),
            }
            _STATE.rehearsal_losses.clear()
            handle.write(srsly.json_dumps(record) + "\n")
            handle.flush()
            if record["rehearsal_losses"]:
                parts = ", ".join(f"{k} {v:.2f}" for k, v in record["rehearsal_losses"].items())
                stdout.write(f"    rehearsal losses since last log: {parts}\n")

        def finalize() -> None:
            finalize_console()
            handle.close()

        return log_step, finalize

    return setup


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
    default_config={"old_labels": [], "label_smoothing": 0.0},
    default_score_weights={},
)
def make_new_label_tagger(
    nlp: Language, name: str, model: Model, old_labels: List[str], label_smoothing: float
) -> "NewLabelTagger":
    return NewLabelTagger(nlp.vocab, model, name, old_labels=old_labels, label_smoothing=label_smoothing)


class NewLabelTagger(Tagger):
    """A token classifier for the new labels: one BILUO tag per token (the
    labels not in `old_labels`, every other entity is "O"), decoded into
    entities set as doc.ents. A cheap second entity recogniser: no transition
    loop, and with SharedFeatures no second token-to-vector layer."""

    def __init__(self, vocab, model: Model, name: str, *, old_labels: List[str], label_smoothing: float = 0.0):
        super().__init__(vocab, model, name, scorer=None, label_smoothing=label_smoothing)
        self.cfg["old_labels"] = sorted(old_labels)

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


def biluo_spans(doc: Doc, tags: List[str]) -> List[Span]:
    """Entities from BILUO tags, leniently: a B or I run that is not closed by
    an L still ends where the next tag does not continue it."""
    spans: List[Span] = []
    start, label = None, ""
    for i, tag in enumerate([*tags, "O"]):
        move, _, tag_label = tag.partition("-")
        if start is not None and (move in ("O", "B", "U") or tag_label != label):
            spans.append(Span(doc, start, i, label))
            start = None
        if move in ("B", "U", "I", "L") and start is None:
            start, label = i, tag_label
        if move in ("L", "U") and start is not None:
            spans.append(Span(doc, start, i + 1, label))
            start = None
    return spans


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


_TEXT_ATTRS = {"LOWER": "lower_", "ORTH": "orth_", "TEXT": "orth_", "NORM": "norm_"}


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
        for attr in {a for a, _ in self.by_text} | {a for a, *_ in self.by_regex}:
            for text in {getattr(token, attr) for token in doc}:
                hits = self._hits.get((attr, text))
                if hits is None:
                    hits = list(self.by_text.get((attr, text), []))
                    hits += [m for a, regex, m in self.by_regex if a == attr and regex.search(text)]
                    self._hits[(attr, text)] = hits
                found.update((id(m), m) for m in hits)
        return list(found.values())

    def __call__(self, doc: Doc, **kwargs) -> list:
        return [match for matcher in self._candidates(doc) for match in matcher(doc, **kwargs)]
