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
"""

import difflib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import spacy
import srsly
import typer
from spacy.tokens import Doc, DocBin
from spacy.training import iob_to_biluo, tags_to_entities
from spacy.vocab import Vocab
from wasabi import msg

from ner_update.common import InputError, atomic_path, write_atomic


@dataclass
class Sentence:
    sent_id: str
    doc_id: str
    words: List[str] = field(default_factory=list)
    spaces: List[bool] = field(default_factory=list)
    lemmas: List[str] = field(default_factory=list)
    pos: List[str] = field(default_factory=list)
    tags: List[str] = field(default_factory=list)
    morphs: List[str] = field(default_factory=list)
    heads: List[int] = field(default_factory=list)  # 0-based, within the sentence
    deps: List[str] = field(default_factory=list)
    ents: List[Optional[str]] = field(default_factory=list)  # IOB, None = missing

    @property
    def text(self) -> str:
        return "".join(w + (" " if s else "") for w, s in zip(self.words, self.spaces)).strip()


def _blocks(path: Path) -> Iterator[Tuple[int, List[str], List[Tuple[int, str]]]]:
    """Yield (first line number, comment lines, numbered token lines) per sentence."""
    comments: List[str] = []
    rows: List[Tuple[int, str]] = []
    start = 1
    for i, line in enumerate(path.read_text(encoding="utf8").splitlines(), start=1):
        if not line.strip():
            if comments or rows:
                yield start, comments, rows
            comments, rows, start = [], [], i + 1
        elif line.startswith("#"):
            comments.append(line)
        else:
            rows.append((i, line))
    if comments or rows:
        yield start, comments, rows


def _comment(comments: List[str], key: str) -> Optional[str]:
    for c in comments:
        name, _, value = c[1:].partition("=")
        if name.strip() == key:
            return value.strip()
    return None


def read_conllu(path: Path) -> List[Sentence]:
    """Read a CoNLL-U file; multiword tokens become their syntactic words."""
    sentences = []
    doc_id = ""
    for start, comments, rows in _blocks(path):
        doc_id = _comment(comments, "newdoc id") or doc_id
        sent_id = _comment(comments, "sent_id")
        if sent_id is None:
            raise InputError(f"{path}: line {start}: sentence without '# sent_id'")
        sent = Sentence(sent_id, doc_id)
        mwt_end, mwt_space = 0, True
        for line_no, row in rows:
            cols = row.split("\t")
            if len(cols) != 10:
                raise InputError(f"{path}: line {line_no}: expected 10 tab-separated columns, got {len(cols)}")
            tid, form, lemma, upos, xpos, feats, head, deprel, _, misc = cols
            if "." in tid:  # empty node of the enhanced graph
                continue
            if "-" in tid:  # multiword token: its SpaceAfter applies to its last word
                mwt_end, mwt_space = int(tid.split("-")[1]), "SpaceAfter=No" not in misc
                continue
            idx = int(tid)
            in_mwt = idx <= mwt_end
            sent.words.append(form)
            sent.spaces.append((mwt_space if idx == mwt_end else False) if in_mwt else "SpaceAfter=No" not in misc)
            sent.lemmas.append(lemma)
            sent.pos.append(upos if upos != "_" else "")
            sent.tags.append(xpos if xpos != "_" else upos)
            sent.morphs.append(feats if feats != "_" else "")
            sent.heads.append(int(head) - 1 if head not in ("0", "_") else idx - 1)
            sent.deps.append("ROOT" if deprel == "root" else deprel)
        sentences.append(sent)
    return sentences


def read_iob2(path: Path) -> Dict[str, Tuple[List[str], List[str]]]:
    """Read Universal NER IOB2: {sent_id: (words, tags)}."""
    result = {}
    for start, comments, rows in _blocks(path):
        sent_id = _comment(comments, "sent_id")
        if sent_id is None:
            raise InputError(f"{path}: line {start}: sentence without '# sent_id'")
        words, tags = [], []
        for line_no, row in rows:
            cols = row.split("\t")
            if len(cols) < 3 or not (cols[2] == "O" or cols[2][:2] in ("B-", "I-")):
                raise InputError(f"{path}: line {line_no}: expected 'index<TAB>token<TAB>IOB2 tag', got {row!r}")
            words.append(cols[1])
            tags.append(cols[2])
        result[sent_id] = (words, tags)
    return result


def iob_spans(tags: List[str]) -> List[Tuple[int, int, str]]:
    """Token spans (start, end, label) of IOB2 tags; a stray I- starts an entity.

    spaCy's iob_to_biluo does the IOB reading (an I- whose label differs from
    the entity before it starts a new one); tags_to_entities gives inclusive ends.
    """
    return [(start, end + 1, label) for label, start, end in tags_to_entities(iob_to_biluo(tags))]


def align_entities(ud_words: List[str], ner_words: List[str], ner_tags: List[str]) -> Tuple[List[Optional[str]], int]:
    """Project NER tags onto UD tokens. Returns IOB tags (None = missing) and
    the number of entities that could not be aligned (their tokens are missing)."""
    if ud_words == ner_words:
        return list(ner_tags), 0
    to_ud: Dict[int, int] = {}
    matcher = difflib.SequenceMatcher(a=ner_words, b=ud_words, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        to_ud.update({a + k: b + k for k in range(size)})
    aligned = set(to_ud.values())
    iob: List[Optional[str]] = ["O" if i in aligned else None for i in range(len(ud_words))]
    lost = 0
    for start, end, label in iob_spans(ner_tags):
        mapped = [to_ud.get(i) for i in range(start, end)]
        if None not in mapped and mapped == list(range(mapped[0], mapped[0] + len(mapped))):
            for k, j in enumerate(mapped):
                iob[j] = ("B-" if k == 0 else "I-") + label
            continue
        # the entity does not align: every UD token it touches becomes missing
        lost += 1
        known = [j for j in mapped if j is not None]
        if known:
            iob[min(known) : max(known) + 1] = [None] * (max(known) - min(known) + 1)
    # a token left unaligned between two aligned ones stays missing; a
    # missing token breaks any I- run, so turn an orphaned I- into B-
    for j in range(len(iob)):
        tag = iob[j]
        if tag and tag.startswith("I-") and (j == 0 or iob[j - 1] is None or iob[j - 1] == "O"):
            iob[j] = "B-" + tag[2:]
    return iob, lost


def merge_entities(sentences: List[Sentence], ner: Dict[str, Tuple[List[str], List[str]]]) -> Counter:
    """Set sent.ents from the NER data; return counts for the report."""
    stats: Counter = Counter()
    for sent in sentences:
        if sent.sent_id not in ner:
            sent.ents = [None] * len(sent.words)
            stats["sentences without NER"] += 1
            continue
        words, tags = ner[sent.sent_id]
        sent.ents, lost = align_entities(sent.words, words, tags)
        stats["entities"] += len(iob_spans(tags))
        if words != sent.words:
            stats["sentences with token mismatch"] += 1
            stats["entities marked missing"] += lost
    stats["NER sentences not in UD"] = len(set(ner) - {s.sent_id for s in sentences})
    return stats


def sentence_doc(vocab: Vocab, sent: Sentence) -> Doc:
    """One sentence as a Doc; its last token has no trailing space (to_doc adds one between sentences)."""
    return Doc(
        vocab,
        words=sent.words,
        spaces=sent.spaces[:-1] + [False],
        lemmas=sent.lemmas,
        pos=sent.pos,
        tags=sent.tags,
        morphs=sent.morphs,
        heads=sent.heads,
        deps=sent.deps,
        ents=sent.ents,
        sent_starts=[True] + [False] * (len(sent.words) - 1),
    )


def to_doc(vocab: Vocab, sentences: List[Sentence]) -> Doc:
    """One Doc from consecutive sentences, with sentence starts and one space between sentences."""
    return Doc.from_docs([sentence_doc(vocab, sent) for sent in sentences], ensure_whitespace=True)


def by_document(sentences: List[Sentence]) -> List[List[Sentence]]:
    docs: Dict[str, List[Sentence]] = {}
    for sent in sentences:
        docs.setdefault(sent.doc_id, []).append(sent)
    return list(docs.values())


def load(conllu: Path, iob2: Path) -> Tuple[List[List[Sentence]], Counter]:
    sentences = read_conllu(conllu)
    stats = merge_entities(sentences, read_iob2(iob2))
    return by_document(sentences), stats


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
    try:
        train_docs, train_stats = load(train_conllu, train_iob2)
        test_docs, test_stats = load(test_conllu, test_iob2)
    except InputError as err:
        msg.fail(str(err), exits=1)
    part_a = [d for i, d in enumerate(test_docs) if i % 2 == 0]
    part_b = [d for i, d in enumerate(test_docs) if i % 2 == 1]
    heldout_texts = {s.text for doc in part_b for s in doc}
    rehearsal = [{"text": s.text} for doc in part_a for s in doc if s.text not in heldout_texts]
    dropped = sum(len(d) for d in part_a) - len(rehearsal)
    outputs = {"base_train/ewt.spacy": train_docs, "base_dev/ewt.spacy": part_a, "ewt_heldout.spacy": part_b}
    for name, docs in outputs.items():
        with atomic_path(output_dir / name) as tmp:
            DocBin(docs=[to_doc(vocab, d) for d in docs]).to_disk(tmp)
    write_atomic(output_dir / "ewt_rehearsal.jsonl", "".join(srsly.json_dumps(r) + "\n" for r in rehearsal))
    rows = [
        ("base training (EWT dev)", len(train_docs), sum(len(d) for d in train_docs)),
        ("part A: base dev set and rehearsal text", len(part_a), len(rehearsal)),
        ("part B: held-out evaluation", len(part_b), sum(len(d) for d in part_b)),
    ]
    msg.table(rows, header=("corpus", "documents", "sentences"), divider=True, aligns=("l", "r", "r"))
    for name, stats in (("dev", train_stats), ("test", test_stats)):
        msg.info(
            f"EWT {name}: {stats['entities']} entities; {stats['sentences with token mismatch']} sentences whose "
            f"UNER tokens differ from UD (aligned; {stats['entities marked missing']} entities marked missing); "
            f"{stats['sentences without NER']} UD sentences without NER data (marked missing); "
            f"{stats['NER sentences not in UD']} NER sentences not in UD"
        )
    msg.info(f"{dropped} part-A sentences left out of the rehearsal text because the same text is in part B")
    msg.good(f"Wrote {', '.join(outputs)} and ewt_rehearsal.jsonl to {output_dir}")


if __name__ == "__main__":
    typer.run(main)
