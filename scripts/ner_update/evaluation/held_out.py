"""Which part of a hand-checked set picks the checkpoint and which part chooses nothing."""

import hashlib
from enum import Enum
from pathlib import Path

from spacy.tokens import DocBin
from spacy.vocab import Vocab


class CheckpointSet(str, Enum):
    """The set training picks its checkpoint on (the `checkpoint_set` var)."""

    checked_dev = "checked_dev"  # a part of the hand-checked set; the rest chooses nothing
    dev = "dev"  # the dev split of the annotations


def text_share(text: str) -> float:
    """A number in [0, 1) fixed by the text alone (md5): the same split on every run and machine."""
    return int(hashlib.md5(text.encode("utf8")).hexdigest()[:8], 16) / 16**8


def split_by_text(docbin: DocBin, share: float) -> tuple[DocBin, DocBin]:
    """(the docs whose text_share is under `share`, the others), each in the original order."""
    vocab = Vocab()
    pick, rest = DocBin(store_user_data=True), DocBin(store_user_data=True)
    for doc in docbin.get_docs(vocab):
        (pick if text_share(doc.text) < share else rest).add(doc)
    return pick, rest


def same_sets(paths: dict[str, Path]) -> dict[str, str]:
    """{name: the earlier name} for each set whose file has the same bytes as an earlier one's
    (the checkpoint set when it is a copy of dev): one set, scored once under its first name."""
    first: dict[str, str] = {}
    same = {}
    for name, path in paths.items():
        digest = hashlib.md5(Path(path).read_bytes()).hexdigest()
        if digest in first:
            same[name] = first[digest]
        else:
            first[digest] = name
    return same
