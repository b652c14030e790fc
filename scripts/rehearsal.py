"""Annotate text with the base pipeline's own entity predictions (silver data).

Runs only the components the ner needs (the ner, plus the tok2vec/transformer
it listens to, if any), batched, over
- raw texts that are not evaluation texts (any number of files: text like the
  base's training data, and texts from the user's own domain): the silver
  rehearsal examples and the teacher's texts;
- the new-label train and dev docs (their tokens kept): the base's old-label
  predictions that training merges into the new-label examples.

The ner runs on the engine (--engine, --workers: scripts/ner_update/scale/engine.py); the
outputs are the same whatever runs it.
"""

from collections import Counter
from pathlib import Path
from typing import Dict, List

import typer
from spacy.tokens import Doc, DocBin
from tqdm import tqdm
from wasabi import msg

from ner_update.common import (
    InputError,
    atomic_path,
    excluded_texts,
    exits_on_input_error,
    iter_texts,
    load_base,
    optional_path,
    use_gpu,
)
from ner_update.scale.engine import (
    SHARD_BATCHES,
    Engine,
    EngineError,
    EngineOption,
    GpuOption,
    Job,
    Runner,
    SchedulerOption,
    WorkersOption,
    engine_options,
    open_engine,
    shards_of,
)
from ner_update.scale.jobs import ner_components as entity_components
from ner_update.scale.jobs import ner_predictions_job


def predictions(runner: Runner, job: Job, items: list, vocab, desc: str, batch_size: int) -> List[Doc]:
    """The base's predictions on texts or (words, spaces) of docs, from the engine, with a progress bar."""
    docs: List[Doc] = []
    with tqdm(total=len(items), desc=desc, unit="doc", disable=None) as bar:
        for result in runner.map(job, shards_of(items, batch_size * SHARD_BATCHES)):
            docs += [Doc(vocab, words=words, spaces=spaces, ents=tags) for words, spaces, tags in result.results]
            bar.update(len(result.items))
    return docs


def write_docbin(path: Path, docs: List[Doc]) -> None:
    with atomic_path(path) as tmp:
        DocBin(attrs=["ENT_IOB", "ENT_TYPE"], docs=docs).to_disk(tmp)


@exits_on_input_error
def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    train_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="New-label training corpus (.spacy)"),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="New-label dev corpus (.spacy)"),
    output_dir: Path = typer.Argument(
        ..., file_okay=False, help="Writes rehearsal.spacy and NAME_base_ents.spacy for each corpus here"
    ),
    texts_paths: List[Path] = typer.Option(
        ..., "--texts", exists=True, dir_okay=False, help="Raw rehearsal texts (.txt/.json/.jsonl), never evaluation's"
    ),
    exclude: List[str] = typer.Option(
        [], "--exclude", help="A file whose texts are never rehearsed on (a hand-checked set); '' none; repeatable"
    ),
    extra_paths: List[Path] = typer.Option(
        [],
        "--corpus",
        exists=True,
        dir_okay=False,
        help="Another corpus (.spacy) to store the base's predictions on, as NAME_base_ents.spacy; repeatable",
    ),
    batch_size: int = typer.Option(256, "--batch-size", help="Texts per batch for nlp.pipe"),
    limit: int = typer.Option(0, "--limit", help="Use at most this many rehearsal texts per file (0: all)"),
    engine: EngineOption = Engine.local,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = "",
    gpu_id: GpuOption = -1,
):
    """Store the base pipeline's entity predictions as silver data."""
    try:
        use_gpu(gpu_id)
        options = engine_options(engine, workers, scheduler)
    except (EngineError, ValueError) as err:
        msg.fail(str(err), exits=1)
    nlp = load_base(base_model)
    if "ner" not in nlp.pipe_names:
        msg.fail(f"Base pipeline '{base_model}' has no 'ner' component", exits=1)
    counts: Counter = Counter()
    try:
        held = excluded_texts([path for path in (optional_path(v, "file to exclude") for v in exclude) if path])
    except InputError as err:
        msg.fail(str(err), exits=1)
    found = read_rehearsal_texts(texts_paths, limit, counts)
    texts = [text for text in found if text not in held]
    if held:
        msg.info(f"{len(found) - len(texts)} rehearsal texts left out: they are in {', '.join(exclude)}")
    msg.info(f"Running only {entity_components(nlp)} of {nlp.component_names}")
    job = ner_predictions_job(base_model, batch_size)
    with open_engine(options) as runner:
        outputs = {"rehearsal.spacy": predictions(runner, job, texts, nlp.vocab, "rehearsal text", batch_size)}
        for path in (train_path, dev_path, *extra_paths):
            gold = DocBin().from_disk(path).get_docs(nlp.vocab)
            # same tokens as the gold docs, no annotation: predictions can be merged token by token
            bare = [([t.text for t in d], [bool(t.whitespace_) for t in d]) for d in gold]
            outputs[f"{path.stem}_base_ents.spacy"] = predictions(runner, job, bare, nlp.vocab, path.name, batch_size)
    for name, docs in outputs.items():
        write_docbin(output_dir / name, docs)
    print_counts(outputs, sorted(nlp.get_pipe("ner").labels))
    msg.good(f"Wrote {', '.join(outputs)} to {output_dir} ({counts['blank texts skipped']} blank texts skipped)")


def read_rehearsal_texts(paths: List[Path], limit: int, counts: Counter) -> List[str]:
    """The unique texts of each file (at most `limit` per file, 0: all); fails with a message on a bad file."""
    texts: List[str] = []
    try:
        for path in paths:
            found = list(dict.fromkeys(iter_texts(path, counts)))
            texts += found[:limit] if limit else found
    except InputError as err:
        msg.fail(str(err), exits=1)
    return texts


def print_counts(outputs: Dict[str, List[Doc]], labels: List[str]) -> None:
    rows = []
    for name, docs in outputs.items():
        found = Counter(ent.label_ for doc in docs for ent in doc.ents)
        rows.append((name, len(docs), *(found[label] for label in labels)))
    msg.table(rows, header=("output", "docs", *labels), divider=True)


if __name__ == "__main__":
    typer.run(main)
