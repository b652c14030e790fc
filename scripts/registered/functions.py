"""Registered functions for the update config (load with --code scripts/registered/functions.py).

Training code: readers, the rehearsal callback, the batcher and the loss
logger. Loading it also registers the pipeline components (components.py,
new_label_tagger.py, anchored_ruler.py), the default base ner's embedding (word_parts.py) and the
silver examples' helpers (silver.py), loaded from next to this file, so `--code
scripts/registered/functions.py` is all a config needs; it imports nothing else from
the project's scripts.

- ner_update.new_label_corpus.v1  reader: new-label gold docs, with the base
  pipeline's own predictions for the old labels merged in where they do not
  overlap a gold span (when base_ents_path is set).
- ner_update.recording_batcher.v1  wraps a batcher and records each batch's
  size, which the rehearsal callback needs (it fails if the batcher is missing).
- ner_update.rehearsal.v1  [training.before_update] callback: before every
  update, blends silver examples (the base's predictions on other text) into the
  step at a fixed ratio per new-label example, drawn afresh each epoch from the
  seed (the entities of a base label that holds the new labels' names left
  unlabelled), and/or runs a teacher-student rehearsal step (`masked_rehearse`) against
  the frozen copy of the starting model. Its gradients are applied by the
  step's update.
- ner_update.loss_logger.v1  wraps spaCy's console logger; writes every logged
  step's losses per component to JSONL, rehearsal losses apart.
"""

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import srsly
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.util import registry
from thinc.api import set_dropout_rate


def _sibling(name: str) -> ModuleType:
    """A module next to this file, imported once (as the package's own module
    when this file is part of a packaged pipeline)."""
    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


_components, _ruler, _tagger = _sibling("components"), _sibling("anchored_ruler"), _sibling("new_label_tagger")
_sibling("word_parts")  # registers ner_update.WordPartsEmbed.v1
_silver = _sibling("silver")
RehearsalSampler, host_labels, relabel_matches = _silver.RehearsalSampler, _silver.host_labels, _silver.relabel_matches
# the components' names, for code that imports them from here
EntitySnapshot, MergeNewEntities, LabelScores = (
    _components.EntitySnapshot,
    _components.MergeNewEntities,
    _components.LabelScores,
)
NewLabelTagger, biluo_spans, label_scores = _tagger.NewLabelTagger, _tagger.biluo_spans, _components.label_scores
AnchoredEntityRuler, pattern_anchor = _ruler.AnchoredEntityRuler, _ruler.pattern_anchor


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


def _read_pair(path: Path, base_ents_path: Path, nlp: Language) -> Tuple[List[Doc], List[Doc]]:
    """The gold docs at `path` and the base's predictions on their texts (same order), or ValueError."""
    golds, preds = _read_docs(path, nlp), _read_docs(base_ents_path, nlp)
    if [d.text for d in preds] != [d.text for d in golds]:
        raise ValueError(f"{base_ents_path} does not hold the texts of {path}: re-run the `rehearsal` command")
    return golds, preds


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
        golds, preds = _read_docs(path, nlp), None
        if base_ents_path:
            golds, preds = _read_pair(path, base_ents_path, nlp)
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


@registry.callbacks("ner_update.rehearsal.v1")
def rehearsal(
    path: Optional[Path],
    silver_ratio: float = 1.0,
    teacher_ratio: float = 0.0,
    dropout: float = 0.1,
    seed: int = 0,
    patterns: Optional[List[dict]] = None,
    annotations: Optional[Path] = None,
    annotations_base_ents: Optional[Path] = None,
    host_share: Optional[float] = None,
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
    annotations, annotations_base_ents, host_share: the new-label gold docs and the
        base's predictions on them: the entities of a base label that holds the new
        labels' names (silver.host_labels) are left missing in silver texts (null: off).
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
            hosts = _hosts(nlp, annotations, annotations_base_ents, host_share)
            cache.update(_rehearsal_cache(nlp, path, patterns, silver_ratio, teacher_ratio, seed, hosts))
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


def _hosts(
    nlp: Language, annotations: Optional[Path], base_ents: Optional[Path], share: Optional[float]
) -> Optional[Dict[str, float]]:
    """The host labels (silver.host_labels) of the annotations; None when off (share null or no files)."""
    if share is not None and not 0 < share <= 1:
        raise ValueError(f"ner_update.rehearsal.v1: host_share is a share in (0, 1], or null (off), not {share}")
    if share is None or not annotations or not base_ents:
        return None
    return host_labels(*_read_pair(annotations, base_ents, nlp), share)


def _rehearsal_cache(
    nlp: Language,
    path: Path,
    patterns: Optional[List[dict]],
    silver_ratio: float,
    teacher_ratio: float,
    seed: int,
    hosts: Optional[Dict[str, float]],
) -> dict:
    """What the rehearsal callback reads once: the silver examples (tokenized
    once: nothing in an update writes to their predicted docs; host labels' entities
    left missing), the components it updates and the annotating ones they listen to,
    and the samplers."""
    examples = [Example(nlp.make_doc(d.text), d) for d in _read_docs(path, nlp)]
    if patterns:
        changed = relabel_matches([eg.reference for eg in examples], patterns, nlp)
        sys.stdout.write(f"    rehearsal: pattern matches relabelled {changed} silver docs of {len(examples)}\n")
    if hosts:
        _silver.unlabel([eg.reference for eg in examples], hosts)
        said = ", ".join(f"{label} ({value:.0%})" for label, value in hosts.items())
        sys.stdout.write(f"    rehearsal: {said} hold new-label names in the annotations: unlabelled in silver\n")
    elif hosts is not None:
        sys.stdout.write("    rehearsal: no base label holds new-label names in the annotations (host_share)\n")
    frozen = set(nlp.config["training"]["frozen_components"])
    annotating = set(nlp.config["training"]["annotating_components"])
    components = [
        (name, proc)
        for name, proc in nlp.pipeline
        if name not in frozen and getattr(proc, "is_trainable", False) and hasattr(proc, "update")
    ]
    return {
        "examples": examples,
        "components": components,
        "annotating": [proc for name, proc in nlp.pipeline if name in annotating],
        "known_labels": {name: set(getattr(proc, "labels", ())) for name, proc in components},
        "silver": RehearsalSampler(len(examples), silver_ratio, seed),
        "teacher": RehearsalSampler(len(examples), teacher_ratio, seed + 1),
    }


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
def loss_logger(path: Path, wrapped: Optional[Callable] = None, console: Optional[Callable] = None) -> Callable:
    """A JSONL record per logged step (the new-label losses per component, the
    rehearsal losses, silver and teacher, apart), and every step passed on to
    `wrapped`: spaCy's console logger by default, or any logger, e.g. a
    spacy.ChainLogger.v1 of the console and W&B or MLflow (spacy-loggers).
    `console` is wrapped's former name."""
    console = wrapped or console or registry.loggers.get("spacy.ConsoleLogger.v3")()

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
