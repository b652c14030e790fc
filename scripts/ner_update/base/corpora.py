"""The offline base's gold corpora, read by base/conll.py and written as DocBins.

EWT's roles are fixed: EWT dev trains the base pipeline. EWT test is split by
document, alternating in file order (genre-balanced): even-numbered documents
are part A (the syntax training's dev set, training data for the base's ner,
and raw text for rehearsal); odd-numbered ones are part B, held out. Part-A
sentences whose text also occurs in part B are left out of the rehearsal text.
BTC's tweets are written with their entities only. A library: prints nothing.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import srsly
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ner_update.base.conll import Sentence, ewt_doc, load_ewt
from ner_update.files import atomic_path, write_atomic

EWT_REHEARSAL = "ewt_rehearsal.jsonl"


@dataclass
class EwtCorpora:
    """EWT's documents (lists of sentences) by output file, part A's rehearsal text and the reading counts."""

    outputs: Dict[str, List[List[Sentence]]]  # base_train/ewt.spacy, base_dev/ewt.spacy, ewt_heldout.spacy
    rehearsal: List[dict]
    stats: Dict[str, Counter]  # per EWT file: "dev", "test"

    @property
    def dropped(self) -> int:
        """Part-A sentences left out of the rehearsal text because the same text is in part B."""
        return sum(len(d) for d in self.outputs["base_dev/ewt.spacy"]) - len(self.rehearsal)

    def rows(self) -> List[tuple]:
        """(corpus, documents, sentences) per role; part A's sentences are its rehearsal texts."""
        train, part_a, part_b = self.outputs.values()
        return [
            ("base training (EWT dev)", len(train), sum(len(d) for d in train)),
            ("part A: base dev set and rehearsal text", len(part_a), len(self.rehearsal)),
            ("part B: held-out evaluation", len(part_b), sum(len(d) for d in part_b)),
        ]


def ewt_corpora(train_conllu: Path, train_iob2: Path, test_conllu: Path, test_iob2: Path) -> EwtCorpora:
    """Read EWT dev and test with their NER files and give each document its role; InputError for a bad line."""
    train_docs, train_stats = load_ewt(train_conllu, train_iob2)
    test_docs, test_stats = load_ewt(test_conllu, test_iob2)
    part_a = [d for i, d in enumerate(test_docs) if i % 2 == 0]
    part_b = [d for i, d in enumerate(test_docs) if i % 2 == 1]
    heldout_texts = {s.text for doc in part_b for s in doc}
    rehearsal = [{"text": s.text} for doc in part_a for s in doc if s.text not in heldout_texts]
    outputs = {"base_train/ewt.spacy": train_docs, "base_dev/ewt.spacy": part_a, "ewt_heldout.spacy": part_b}
    return EwtCorpora(outputs, rehearsal, {"dev": train_stats, "test": test_stats})


def write_ewt(corpora: EwtCorpora, output_dir: Path, vocab: Vocab) -> None:
    """Each role's DocBin (one Doc per document) and the rehearsal JSONL, each written atomically."""
    for name, docs in corpora.outputs.items():
        with atomic_path(output_dir / name) as tmp:
            DocBin(docs=[ewt_doc(vocab, d) for d in docs]).to_disk(tmp)
    write_atomic(output_dir / EWT_REHEARSAL, "".join(srsly.json_dumps(r) + "\n" for r in corpora.rehearsal))


def write_btc(docs: List[Doc], output_path: Path, texts_output: Optional[Path]) -> None:
    """The tweets' DocBin and, if asked, their texts as JSONL (raw text for rehearsal), each written atomically."""
    with atomic_path(output_path) as tmp:
        DocBin(docs=docs).to_disk(tmp)
    if texts_output is not None:
        with atomic_path(texts_output) as tmp:
            srsly.write_jsonl(tmp, [{"text": doc.text} for doc in docs])
