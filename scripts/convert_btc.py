"""Convert Broad Twitter Corpus CoNLL files (token TAB BIO tag) into DocBins.

BTC splits a mention `@user` into two tokens, `@` and `user`, each tagged
(usually `B-X B-X`, which would count as two entities): the pair is read as one
token `@user` carrying one entity, with the first non-O tag of the pair. Lines
with an empty token are dropped. Both are counted. Tags become entities with
spaCy's `iob_to_biluo` and `biluo_tags_to_spans`; only entities are set, so
tags, lemmas and heads stay missing (not wrong) for the other components.
"""

from collections import Counter
from pathlib import Path
from typing import List, Optional, Tuple

import spacy
import srsly
import typer
from spacy.tokens import Doc, DocBin
from spacy.training import biluo_tags_to_spans, iob_to_biluo
from spacy.vocab import Vocab
from wasabi import msg

from ner_update.common import InputError, atomic_path

Tweet = Tuple[List[str], List[str]]


def read_conll(path: Path, stats: Counter) -> List[Tweet]:
    """Tweets as (tokens, IOB tags); blank lines separate tweets."""
    tweets: List[Tweet] = []
    words: List[str] = []
    tags: List[str] = []
    for i, line in enumerate(path.read_text(encoding="utf8").splitlines(), start=1):
        if not line.strip():
            if words:
                tweets.append((words, tags))
            words, tags = [], []
            continue
        token, sep, tag = line.rpartition("\t")
        if not sep or not (tag == "O" or tag[:2] in ("B-", "I-")):
            raise InputError(f"{path}: line {i}: expected 'token<TAB>IOB tag', got {line!r}")
        if not token.strip():
            stats["empty tokens dropped"] += 1
            continue
        words.append(token)
        tags.append(tag)
    if words:
        tweets.append((words, tags))
    return tweets


def join_mentions(words: List[str], tags: List[str], stats: Counter) -> Tweet:
    """Read `@` followed by a name as one token `@name` with one tag."""
    out_words: List[str] = []
    out_tags: List[str] = []
    i = 0
    while i < len(words):
        if words[i] == "@" and i + 1 < len(words):
            tag = tags[i] if tags[i] != "O" else tags[i + 1]
            if tag.startswith("I-") and (not out_tags or out_tags[-1][2:] != tag[2:]):
                tag = "B-" + tag[2:]
            out_words.append("@" + words[i + 1])
            out_tags.append(tag)
            stats["@ mentions joined"] += 1
            i += 2
            continue
        tag = tags[i]
        if tag.startswith("I-") and (not out_tags or out_tags[-1] == "O" or out_tags[-1][2:] != tag[2:]):
            tag = "B-" + tag[2:]  # a stray I- starts an entity
            stats["stray I- tags read as B-"] += 1
        out_words.append(words[i])
        out_tags.append(tag)
        i += 1
    return out_words, out_tags


def to_doc(vocab: Vocab, words: List[str], tags: List[str]) -> Doc:
    doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
    doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(tags))
    return doc


def convert_file(path: Path, vocab: Vocab) -> Tuple[List[Doc], Counter]:
    stats: Counter = Counter()
    docs = []
    for words, tags in read_conll(path, stats):
        docs.append(to_doc(vocab, *join_mentions(words, tags, stats)))
    stats["tweets"] = len(docs)
    stats["entities"] = sum(len(d.ents) for d in docs)
    return docs, stats


def main(
    input_path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="A BTC CoNLL file (token TAB BIO tag, a blank line between tweets)"
    ),
    output_path: Path = typer.Argument(..., dir_okay=False, help="Where to write the DocBin (.spacy)"),
    texts_output: Optional[Path] = typer.Option(
        None, "--texts-output", dir_okay=False, help="Also write the tweets' texts as JSONL (raw text for rehearsal)"
    ),
):
    """Convert a Broad Twitter Corpus CoNLL file into a .spacy corpus (entities only)."""
    try:
        docs, stats = convert_file(input_path, spacy.blank("en").vocab)
    except InputError as err:
        msg.fail(str(err), exits=1)
    with atomic_path(output_path) as tmp:
        DocBin(docs=docs).to_disk(tmp)
    if texts_output is not None:
        with atomic_path(texts_output) as tmp:
            srsly.write_jsonl(tmp, [{"text": doc.text} for doc in docs])
    labels = Counter(e.label_ for d in docs for e in d.ents)
    msg.good(
        f"Wrote {stats['tweets']} tweets with {stats['entities']} entities "
        f"({', '.join(f'{k} {v}' for k, v in sorted(labels.items()))}) to {output_path}"
    )
    msg.info(
        f"{stats['@ mentions joined']} '@' + name pairs read as one token, {stats['empty tokens dropped']} empty "
        f"tokens dropped, {stats['stray I- tags read as B-']} stray I- tags read as B-"
    )


if __name__ == "__main__":
    typer.run(main)
