"""Convert Broad Twitter Corpus CoNLL files (token TAB BIO tag) into DocBins.

BTC splits a mention `@user` into two tokens, `@` and `user`, each tagged
(usually `B-X B-X`, which would count as two entities): the pair is read as one
token `@user` carrying one entity, with the first non-O tag of the pair. Lines
with an empty token are dropped. Both are counted. Tags become entities with
spaCy's `iob_to_biluo` and `biluo_tags_to_spans`; only entities are set, so
tags, lemmas and heads stay missing (not wrong) for the other components.
The reader is in scripts/ner_update/base/conll.py.
"""

from collections import Counter
from pathlib import Path
from typing import Optional

import spacy
import typer
from wasabi import msg

from ner_update.base.conll import load_btc
from ner_update.base.corpora import write_btc
from ner_update.common import exits_on_input_error
from ner_update.runs import run_command


@exits_on_input_error
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
    docs, stats = load_btc(input_path, spacy.blank("en").vocab)
    write_btc(docs, output_path, texts_output)
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
    run_command(main)
