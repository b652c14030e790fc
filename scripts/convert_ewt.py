"""Convert UD English-EWT (.conllu) plus Universal NER (.iob2) into DocBins.

POS, morphology, lemmas, heads and dependencies come from the conllu file;
PER/ORG/LOC entities from the iob2 file, merged by `sent_id`. Where UNER's
tokens differ from UD's (UNER was built on an older UD release), tokens are
aligned with difflib: an entity whose tokens all align keeps its label, and the
UD tokens of any entity that does not align are marked missing, never shifted.

Roles (fixed): EWT dev trains the base pipeline. EWT test is split by document,
alternating in file order (genre-balanced): even-numbered documents are part A
(the syntax training's dev set for choosing its best checkpoint, training
data for the base's ner, and raw text for rehearsal); odd-numbered ones are
part B, held out: never trained on, never used to choose a model, only to
evaluate. Part-A sentences whose text also occurs in
part B are left out of the rehearsal text.

The readers are in scripts/ner_update/base/conll.py, the roles in base/corpora.py.
"""

from pathlib import Path

import spacy
import typer
from wasabi import msg

from ner_update.base.corpora import EWT_REHEARSAL, ewt_corpora, write_ewt
from ner_update.common import exits_on_input_error
from ner_update.runs import run_command


@exits_on_input_error
def main(
    train_conllu: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="UD English-EWT dev .conllu: trains the base"
    ),
    train_iob2: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Universal NER .iob2 for the same sentences"
    ),
    test_conllu: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="UD English-EWT test .conllu: split into parts A and B"
    ),
    test_iob2: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Universal NER .iob2 for the test sentences"
    ),
    output_dir: Path = typer.Argument(
        ...,
        file_okay=False,
        help="Folder for base_train/ewt.spacy, base_dev/ewt.spacy (part A: the base's dev set, also trains its ner), "
        "ewt_rehearsal.jsonl (part A's text) and ewt_heldout.spacy (part B)",
    ),
):
    """Build the base pipeline's gold corpora from UD English-EWT and Universal NER."""
    vocab = spacy.blank("en").vocab
    corpora = ewt_corpora(train_conllu, train_iob2, test_conllu, test_iob2)
    write_ewt(corpora, output_dir, vocab)
    msg.table(corpora.rows(), header=("corpus", "documents", "sentences"), divider=True, aligns=("l", "r", "r"))
    for name, stats in corpora.stats.items():
        msg.info(
            f"EWT {name}: {stats['entities']} entities; {stats['sentences with token mismatch']} sentences whose "
            f"UNER tokens differ from UD (aligned; {stats['entities marked missing']} entities marked missing); "
            f"{stats['sentences without NER']} UD sentences without NER data (marked missing); "
            f"{stats['NER sentences not in UD']} NER sentences not in UD"
        )
    msg.info(f"{corpora.dropped} part-A sentences left out of the rehearsal text because the same text is in part B")
    msg.good(f"Wrote {', '.join(corpora.outputs)} and {EWT_REHEARSAL} to {output_dir}")


if __name__ == "__main__":
    run_command(main)
