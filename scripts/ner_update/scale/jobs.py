"""What the engine's workers do with a shard of texts. A library: prints nothing.

Each `*_job` function returns an `engine.Job`: a set-up function and its small
arguments. A worker process calls the set-up once (it loads the pipeline, or
builds the pattern pipeline) and keeps the function it returns for every shard
of that job. Items are texts, or tuples whose last element is the text
(`apply` sends (file, line, text)); `rehearsal` also sends (words, spaces) of
gold docs to keep their tokens.
"""

import os
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from ner_update.inputs.patterns import pattern_pipeline
from ner_update.pipelines import GPU_ENV, resolve_base_name, use_gpu
from ner_update.registered import register_all
from ner_update.scale.engine import Job

# spaCy's default nlp.max_length: the readers reject longer texts before they reach a worker
MAX_LENGTH = 1_000_000
BATCH_SIZE = 256
NER_FACTORIES = {"ner", "beam_ner"}
# components that set no entities: running them cannot change what the ner predicts
NO_ENTITY_FACTORIES = {
    "tok2vec", "transformer", "curated_transformer", "tagger", "morphologizer", "parser", "beam_parser", "senter",
    "sentencizer", "attribute_ruler", "lemmatizer", "trainable_lemmatizer", "textcat", "textcat_multilabel",
    "spancat", "spancat_singlelabel", "entity_linker", "doc_cleaner",
}  # fmt: skip


def text_of(item) -> str:
    """The text of an item: a string, or the last element of a tuple."""
    return item if isinstance(item, str) else item[-1]


def entity_components(nlp: Language) -> List[str]:
    """Each ner and the components it listens to; every component if anything else may set entities."""
    factories = {name: nlp.get_pipe_meta(name).factory for name in nlp.pipe_names}
    ners = {name for name, factory in factories.items() if factory in NER_FACTORIES}
    if not ners or any(f not in NER_FACTORIES | NO_ENTITY_FACTORIES for f in factories.values()):
        return list(nlp.pipe_names)
    return [
        name for name, proc in nlp.pipeline if name in ners or ners & set(getattr(proc, "listening_components", []))
    ]


def ner_components(nlp: Language, ner: str = "ner") -> List[str]:
    """The ner and every component it listens to (the base's predictions for rehearsal)."""
    return [name for name, proc in nlp.pipeline if name == ner or ner in getattr(proc, "listening_components", [])]


def doc_spans(doc: Doc, labels: Optional[Sequence[str]], with_text: bool = False) -> List[dict]:
    """The doc's entities as span dicts (start, end, label[, text]), restricted to labels (None: all)."""
    return [
        {"start": ent.start_char, "end": ent.end_char, "label": ent.label_, **({"text": ent.text} if with_text else {})}
        for ent in doc.ents
        if labels is None or ent.label_ in labels
    ]


def load_pipeline(model: str) -> Language:
    """spacy.load a pipeline folder or package (or its re-upload, see pipelines.resolve_base_name),
    on the GPU the step chose (pipelines.use_gpu) when this is one of its worker processes."""
    if int(os.environ.get(GPU_ENV, "-1")) >= 0:
        use_gpu(int(os.environ[GPU_ENV]))
    resolved = resolve_base_name(model)
    if Path(resolved).is_dir():  # a folder may hold this project's components; a package brings its own
        register_all()
    return spacy.load(resolved)


def setup_pipeline_spans(
    model: str, labels: Optional[Tuple[str, ...]], with_text: bool, batch_size: int
) -> Callable[[list], list]:
    nlp = load_pipeline(model)
    needed = entity_components(nlp)

    def run(items: list) -> list:
        with nlp.select_pipes(enable=needed):
            docs = nlp.pipe((text_of(item) for item in items), batch_size=batch_size)
            return [doc_spans(doc, labels, with_text) for doc in docs]

    return run


def pipeline_spans_job(
    model: str, labels: Optional[Sequence[str]] = None, with_text: bool = False, batch_size: int = BATCH_SIZE
) -> Job:
    """The pipeline's entities (running only what they need) as span dicts per text."""
    return Job(setup_pipeline_spans, (model, tuple(labels) if labels is not None else None, with_text, batch_size))


def setup_pattern_matches(lang: str, patterns: Tuple[dict, ...], batch_size: int) -> Callable[[list], list]:
    nlp = pattern_pipeline(lang, list(patterns))

    def run(items: list) -> list:
        docs = nlp.pipe((text_of(item) for item in items), batch_size=batch_size)
        return [[(e.start_char, e.end_char, e.label_, e.ent_id_) for e in doc.ents] for doc in docs]

    return run


def pattern_matches_job(lang: str, patterns: Sequence[dict], batch_size: int = 500) -> Job:
    """(start, end, label, pattern id) of each match of the patterns (tokenizer + entity_ruler) per text."""
    return Job(setup_pattern_matches, (lang, tuple(patterns), batch_size))


def setup_ner_predictions(model: str, batch_size: int) -> Callable[[list], list]:
    nlp = load_pipeline(model)
    needed = ner_components(nlp)

    def make_doc(item) -> Doc:
        if isinstance(item, str):
            return nlp.make_doc(item)
        words, spaces = item
        return Doc(nlp.vocab, words=list(words), spaces=list(spaces))

    def run(items: list) -> list:
        with nlp.select_pipes(enable=needed):
            docs = nlp.pipe((make_doc(item) for item in items), batch_size=batch_size)
            return [doc_tokens(doc) for doc in docs]

    return run


def doc_tokens(doc: Doc) -> Tuple[List[str], List[bool], List[str]]:
    """Words, spaces and IOB entity tags of a doc: what rebuilds it with `Doc(vocab, words, spaces, ents)`."""
    tags = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else (t.ent_iob_ or "O") for t in doc]
    return [t.text for t in doc], [bool(t.whitespace_) for t in doc], tags


def ner_predictions_job(model: str, batch_size: int = BATCH_SIZE) -> Job:
    """The base's ner (and what it listens to) over texts or (words, spaces): words, spaces, IOB tags per doc."""
    return Job(setup_ner_predictions, (model, batch_size))
