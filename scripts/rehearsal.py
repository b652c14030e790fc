"""Annotate text with the base pipeline's own entity predictions (silver data).

Runs only the components the ner needs (the ner, plus the tok2vec/transformer
it listens to, if any), batched, over
- raw text that is not evaluation text (by default EWT test part A): the silver
  rehearsal examples;
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

from common import atomic_path, load_base, read_texts


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
    texts_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Raw rehearsal text (.txt/.json/.jsonl) that is not evaluation text"),
    train_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="New-label training corpus (.spacy)"),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="New-label dev corpus (.spacy)"),
    output_dir: Path = typer.Argument(..., file_okay=False, help="Writes rehearsal.spacy, train_base_ents.spacy and dev_base_ents.spacy here"),
    batch_size: int = typer.Option(256, "--batch-size", help="Texts per batch for nlp.pipe"),
    limit: int = typer.Option(0, "--limit", help="Use at most this many rehearsal texts (0: all)"),
):
    """Store the base pipeline's entity predictions as silver data."""
    nlp = load_base(base_model)
    if "ner" not in nlp.pipe_names:
        msg.fail(f"Base pipeline '{base_model}' has no 'ner' component", exits=1)
    needed = entity_components(nlp)
    texts, skipped = read_texts(texts_path)
    texts = texts[:limit] if limit else texts
    with nlp.select_pipes(enable=needed):
        msg.info(f"Running only {needed} of {nlp.pipe_names}")
        silver = annotate(nlp, texts, len(texts), "rehearsal text", batch_size)
        outputs = {"rehearsal.spacy": silver}
        for name, path in (("train_base_ents.spacy", train_path), ("dev_base_ents.spacy", dev_path)):
            gold = list(DocBin().from_disk(path).get_docs(nlp.vocab))
            # same tokens as the gold docs, no annotation: predictions can be merged token by token
            bare = [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in gold]
            outputs[name] = annotate(nlp, bare, len(bare), path.name, batch_size)
    for name, docs in outputs.items():
        write_docbin(output_dir / name, docs)
    labels = sorted(nlp.get_pipe("ner").labels)
    rows = []
    for name, docs in outputs.items():
        counts = Counter(ent.label_ for doc in docs for ent in doc.ents)
        rows.append((name, len(docs), *(counts[label] for label in labels)))
    msg.table(rows, header=("output", "docs", *labels), divider=True)
    msg.good(f"Wrote {', '.join(outputs)} to {output_dir} ({skipped} blank texts skipped)")


if __name__ == "__main__":
    typer.run(main)
