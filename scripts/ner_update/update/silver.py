"""The base's own entity predictions as silver data (`rehearsal`): over raw texts that are not
evaluation texts (the silver rehearsal examples and the teacher's texts), and over the tokens of
the new-label corpora (the old-label predictions training merges into the new-label examples).
Only the ner and what it listens to run, on the engine (scale/engine.py); the outputs are the
same whatever runs it.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from tqdm import tqdm

from ner_update.common import InputError, optional_path
from ner_update.files import atomic_path
from ner_update.inputs.texts import excluded_texts, iter_texts
from ner_update.registered import load_base
from ner_update.scale.engine import SHARD_BATCHES, EngineOptions, Job, Runner, open_engine, shards_of
from ner_update.scale.jobs import ner_predictions_job


def load_ner_base(base_model: str) -> Language:
    """The base pipeline; InputError if it is not there or has no 'ner' component."""
    nlp = load_base(base_model)
    if "ner" not in nlp.pipe_names:
        raise InputError(f"Base pipeline '{base_model}' has no 'ner' component")
    return nlp


@dataclass
class RehearsalTexts:
    """The texts to rehearse on, how many were left out as held-out texts, and whether any file
    held texts out (an --exclude file with texts)."""

    texts: List[str]
    left_out: int
    excluding: bool


def read_rehearsal_texts(paths: List[Path], limit: int, counts: Counter) -> List[str]:
    """The unique texts of each file (at most `limit` per file, 0: all); InputError on a bad file."""
    texts: List[str] = []
    for path in paths:
        found = list(dict.fromkeys(iter_texts(path, counts)))
        texts += found[:limit] if limit else found
    return texts


def rehearsal_texts(paths: List[Path], exclude: List[str], limit: int, counts: Counter) -> RehearsalTexts:
    """read_rehearsal_texts without any text of the files in `exclude` ('' none); InputError on a
    missing or bad file."""
    held = excluded_texts([path for path in (optional_path(v, "file to exclude") for v in exclude) if path])
    found = read_rehearsal_texts(paths, limit, counts)
    texts = [text for text in found if text not in held]
    return RehearsalTexts(texts, len(found) - len(texts), bool(held))


def predictions(runner: Runner, job: Job, items: list, vocab, desc: str, batch_size: int) -> List[Doc]:
    """The base's predictions on texts or (words, spaces) of docs, from the engine, with a progress bar."""
    docs: List[Doc] = []
    with tqdm(total=len(items), desc=desc, unit="doc", disable=None) as bar:
        for result in runner.map(job, shards_of(items, batch_size * SHARD_BATCHES)):
            docs += [Doc(vocab, words=words, spaces=spaces, ents=tags) for words, spaces, tags in result.results]
            bar.update(len(result.items))
    return docs


def base_predictions(
    nlp: Language, base_model: str, options: EngineOptions, texts: List[str], corpora: List[Path], batch_size: int
) -> Dict[str, List[Doc]]:
    """{output name: docs}: rehearsal.spacy (the texts) and NAME_base_ents.spacy for each corpus
    (its gold docs' tokens, no annotation, so that predictions merge token by token)."""
    job = ner_predictions_job(base_model, batch_size)
    with open_engine(options) as runner:
        outputs = {"rehearsal.spacy": predictions(runner, job, texts, nlp.vocab, "rehearsal text", batch_size)}
        for path in corpora:
            gold = DocBin().from_disk(path).get_docs(nlp.vocab)
            bare = [([t.text for t in d], [bool(t.whitespace_) for t in d]) for d in gold]
            outputs[f"{path.stem}_base_ents.spacy"] = predictions(runner, job, bare, nlp.vocab, path.name, batch_size)
    return outputs


def write_outputs(output_dir: Path, outputs: Dict[str, List[Doc]]) -> None:
    """Each output's docs (their entities only) as output_dir/NAME."""
    for name, docs in outputs.items():
        with atomic_path(output_dir / name) as tmp:
            DocBin(attrs=["ENT_IOB", "ENT_TYPE"], docs=docs).to_disk(tmp)


def label_counts(outputs: Dict[str, List[Doc]], labels: List[str]) -> List[Tuple]:
    """(output, docs, entities of each label) rows."""
    rows = []
    for name, docs in outputs.items():
        found = Counter(ent.label_ for doc in docs for ent in doc.ents)
        rows.append((name, len(docs), *(found[label] for label in labels)))
    return rows
