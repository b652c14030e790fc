"""The offline base's CoNLL corpora: UD English-EWT (.conllu) with Universal NER
(.iob2) merged by `sent_id`, and the Broad Twitter Corpus (token TAB BIO tag).

EWT: where UNER's tokens differ from UD's (UNER was built on an older UD
release), tokens are aligned with difflib: an entity whose tokens all align
keeps its label, and the UD tokens of any entity that does not align are marked
missing, never shifted. BTC: a mention `@user` split into `@` and `user` is read
as one token carrying one entity; lines with an empty token are dropped. A bad
line raises InputError naming the file and line. A library: prints nothing.
"""

import difflib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from spacy.tokens import Doc
from spacy.training import biluo_tags_to_spans, iob_to_biluo, tags_to_entities
from spacy.vocab import Vocab

from ner_update.common import InputError

Tweet = Tuple[List[str], List[str]]


@dataclass
class Sentence:
    """One UD sentence: its words with their annotations, and its entities (IOB) once merged."""

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
    """The value of a `# key = value` comment line, or None."""
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
    """One sentence as a Doc; its last token has no trailing space (ewt_doc adds one between sentences)."""
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


def ewt_doc(vocab: Vocab, sentences: List[Sentence]) -> Doc:
    """One Doc from consecutive sentences, with sentence starts and one space between sentences."""
    return Doc.from_docs([sentence_doc(vocab, sent) for sent in sentences], ensure_whitespace=True)


def by_document(sentences: List[Sentence]) -> List[List[Sentence]]:
    """The sentences grouped by document, in file order."""
    docs: Dict[str, List[Sentence]] = {}
    for sent in sentences:
        docs.setdefault(sent.doc_id, []).append(sent)
    return list(docs.values())


def load_ewt(conllu: Path, iob2: Path) -> Tuple[List[List[Sentence]], Counter]:
    """The documents of a UD file (lists of sentences) with the NER file's entities merged; the counts."""
    sentences = read_conllu(conllu)
    stats = merge_entities(sentences, read_iob2(iob2))
    return by_document(sentences), stats


def read_btc(path: Path, stats: Counter) -> List[Tweet]:
    """BTC tweets as (tokens, IOB tags); blank lines separate tweets."""
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


def tweet_doc(vocab: Vocab, words: List[str], tags: List[str]) -> Doc:
    """A tweet as a Doc with its entities only (tags, lemmas and heads stay missing)."""
    doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
    doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(tags))
    return doc


def load_btc(path: Path, vocab: Vocab) -> Tuple[List[Doc], Counter]:
    """The tweets of a BTC file as Docs; the counts (tweets, entities, what was joined or dropped)."""
    stats: Counter = Counter()
    docs = []
    for words, tags in read_btc(path, stats):
        docs.append(tweet_doc(vocab, *join_mentions(words, tags, stats)))
    stats["tweets"] = len(docs)
    stats["entities"] = sum(len(d.ents) for d in docs)
    return docs, stats
