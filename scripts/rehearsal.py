"""Annotate text with the base pipeline's own entity predictions (silver data).

Runs only the components the ner needs (the ner, plus the tok2vec/transformer
it listens to, if any), batched, over
- raw texts that are not evaluation texts (any number of files: text like the
  base's training data, and texts from the user's own domain): the silver
  rehearsal examples and the teacher's texts;
- the new-label train and dev docs (their tokens kept): the base's old-label
  predictions that training merges into the new-label examples.
"""

from collections import Counter
from pathlib import Path
from typing import Iterable, List

import typer
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from tqdm import tqdm
from wasabi import msg

from common import InputError, atomic_path, iter_texts, load_base


def entity_components(nlp: Language, ner: str = "ner") -> List[str]:
    """The ner and every component it listens to."""
    return [name for name, proc in nlp.pipeline if name == ner or ner in getattr(proc, "listening_components", [])]


def annotate(nlp: Language, docs: Iterable, total: int, desc: str, batch_size: int) -> List[Doc]:
    """Run the enabled components over texts or docs, with a progress bar."""
    return list(tqdm(nlp.pipe(docs, batch_size=batch_size), total=total, desc=desc, unit="doc", disable=None))


def write_docbin(path: Path, docs: List[Doc]) -> None:
    with atomic_path(path) as tmp:
        DocBin(attrs=["ENT_IOB", "ENT_TYPE"], docs=docs).to_disk(tmp)


def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    train_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="New-label training corpus (.spacy)"),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="New-label dev corpus (.spacy)"),
    output_dir: Path = typer.Argument(
        ..., file_okay=False, help="Writes rehearsal.spacy and NAME_base_ents.spacy for each corpus here"
    ),
    texts_paths: List[Path] = typer.Option(
        ...,
        "--texts",
        exists=True,
        dir_okay=False,
        help="Raw rehearsal texts (.txt/.json/.jsonl) that are not evaluation texts; repeatable",
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
):
    """Store the base pipeline's entity predictions as silver data."""
    nlp = load_base(base_model)
    if "ner" not in nlp.pipe_names:
        msg.fail(f"Base pipeline '{base_model}' has no 'ner' component", exits=1)
    needed = entity_components(nlp)
    counts: Counter = Counter()
    texts: List[str] = []
    try:
        for path in texts_paths:
            found = list(dict.fromkeys(iter_texts(path, counts)))
            texts += found[:limit] if limit else found
    except InputError as err:
        msg.fail(str(err), exits=1)
    with nlp.select_pipes(enable=needed):
        msg.info(f"Running only {needed} of {nlp.component_names}")
        silver = annotate(nlp, texts, len(texts), "rehearsal text", batch_size)
        outputs = {"rehearsal.spacy": silver}
        for path in (train_path, dev_path, *extra_paths):
            name = f"{path.stem}_base_ents.spacy"
            gold = list(DocBin().from_disk(path).get_docs(nlp.vocab))
            # same tokens as the gold docs, no annotation: predictions can be merged token by token
            bare = [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in gold]
            outputs[name] = annotate(nlp, bare, len(bare), path.name, batch_size)
    for name, docs in outputs.items():
        write_docbin(output_dir / name, docs)
    labels = sorted(nlp.get_pipe("ner").labels)
    rows = []
    for name, docs in outputs.items():
        found = Counter(ent.label_ for doc in docs for ent in doc.ents)
        rows.append((name, len(docs), *(found[label] for label in labels)))
    msg.table(rows, header=("output", "docs", *labels), divider=True)
    msg.good(f"Wrote {', '.join(outputs)} to {output_dir} ({counts['blank texts skipped']} blank texts skipped)")


if __name__ == "__main__":
    typer.run(main)
