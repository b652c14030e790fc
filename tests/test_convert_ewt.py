"""convert_ewt: UD + UNER merged by sent_id, token mismatches never misaligned."""

import spacy
import srsly
from spacy.tokens import DocBin

import convert_ewt
from conftest import run_cli
from ner_update.base import conll

CONLLU = """# newdoc id = doc1
# sent_id = doc1-0001
# text = Bob Smith didn't visit Boston.
1	Bob	Bob	PROPN	NNP	Number=Sing	5	nsubj	_	_
2	Smith	Smith	PROPN	NNP	Number=Sing	1	flat	_	_
3-4	didn't	_	_	_	_	_	_	_	_
3	did	do	AUX	VBD	Mood=Ind|Tense=Past	5	aux	_	_
4	n't	not	PART	RB	_	5	advmod	_	_
5	visit	visit	VERB	VB	VerbForm=Inf	0	root	_	_
6	Boston	Boston	PROPN	NNP	Number=Sing	5	obj	_	SpaceAfter=No
6.1	went	go	VERB	VBD	_	_	_	5:conj	_
7	.	.	PUNCT	.	_	5	punct	_	_

# sent_id = doc1-0002
# text = I like Mc.Donald s.
1	I	I	PRON	PRP	Case=Nom	2	nsubj	_	_
2	like	like	VERB	VBP	_	0	root	_	_
3	Mc.Donald	Mc.Donald	PROPN	NNP	_	2	obj	_	_
4	s	s	PART	POS	_	3	case	_	SpaceAfter=No
5	.	.	PUNCT	.	_	2	punct	_	_

# newdoc id = doc2
# sent_id = doc2-0001
# text = Hello from Paris!
1	Hello	hello	INTJ	UH	_	0	root	_	_
2	from	from	ADP	IN	_	3	case	_	_
3	Paris	Paris	PROPN	NNP	Number=Sing	1	nmod	_	SpaceAfter=No
4	!	!	PUNCT	.	_	1	punct	_	_

# newdoc id = doc3
# sent_id = doc3-0001
# text = Anna works at Google.
1	Anna	Anna	PROPN	NNP	_	2	nsubj	_	_
2	works	work	VERB	VBZ	_	0	root	_	_
3	at	at	ADP	IN	_	4	case	_	_
4	Google	Google	PROPN	NNP	_	2	obl	_	SpaceAfter=No
5	.	.	PUNCT	.	_	2	punct	_	_

# newdoc id = doc4
# sent_id = doc4-0001
# text = Hello from Paris!
1	Hello	hello	INTJ	UH	_	0	root	_	_
2	from	from	ADP	IN	_	3	case	_	_
3	Paris	Paris	PROPN	NNP	Number=Sing	1	nmod	_	SpaceAfter=No
4	!	!	PUNCT	.	_	1	punct	_	_
"""

# UNER: same sentences, but in doc1-0002 "Mc.Donald" is two tokens (as in EWT test)
IOB2 = """# sent_id = doc1-0001
1	Bob	B-PER	-	x
2	Smith	I-PER	-	x
3	did	O	-	-
4	n't	O	-	-
5	visit	O	-	-
6	Boston	B-LOC	-	x
7	.	O	-	-

# sent_id = doc1-0002
1	I	O	-	-
2	like	O	-	-
3	Mc.	B-ORG	-	x
4	Donald	I-ORG	-	x
5	s	O	-	-
6	.	O	-	-

# sent_id = doc2-0001
1	Hello	O	-	-
2	from	O	-	-
3	Paris	B-LOC	-	x
4	!	O	-	-

# sent_id = doc3-0001
1	Anna	B-PER	-	x
2	works	O	-	-
3	at	O	-	-
4	Google	B-ORG	-	x
5	.	O	-	-

# sent_id = doc4-0001
1	Hello	O	-	-
2	from	O	-	-
3	Paris	B-LOC	-	x
4	!	O	-	-
"""


def write_snippets(tmp_path):
    conllu, iob2 = tmp_path / "x.conllu", tmp_path / "x.iob2"
    conllu.write_text(CONLLU, encoding="utf8")
    iob2.write_text(IOB2, encoding="utf8")
    return conllu, iob2


def test_conllu_annotations_become_doc_attributes(tmp_path):
    conllu, iob2 = write_snippets(tmp_path)
    docs, _ = conll.load_ewt(conllu, iob2)
    doc = conll.ewt_doc(spacy.blank("en").vocab, docs[0])
    first = doc[:7]
    assert first.text == "Bob Smith didn't visit Boston."  # MWT surface, SpaceAfter=No
    assert [t.text for t in first] == ["Bob", "Smith", "did", "n't", "visit", "Boston", "."]  # empty node 6.1 skipped
    assert [t.lemma_ for t in first][:4] == ["Bob", "Smith", "do", "not"]
    assert [t.pos_ for t in first][2:4] == ["AUX", "PART"]
    assert first[2].tag_ == "VBD" and str(first[2].morph) == "Mood=Ind|Tense=Past"
    assert [t.head.i for t in first] == [4, 0, 4, 4, 4, 4, 4]
    assert first[4].dep_ == "ROOT" and first[0].dep_ == "nsubj"
    assert [s.text for s in doc.sents] == ["Bob Smith didn't visit Boston.", "I like Mc.Donald s."]
    assert [(e.text, e.label_) for e in first.ents] == [("Bob Smith", "PER"), ("Boston", "LOC")]


def test_token_mismatch_marks_entity_missing_not_shifted(tmp_path):
    conllu, iob2 = write_snippets(tmp_path)
    docs, stats = conll.load_ewt(conllu, iob2)
    assert stats["sentences with token mismatch"] == 1
    assert stats["entities marked missing"] == 1
    doc = conll.ewt_doc(spacy.blank("en").vocab, docs[0])
    second = list(doc.sents)[1]
    iob = [t.ent_iob_ for t in second]
    # "I like" are aligned O; "Mc.Donald" is missing (""), never ORG on a wrong token
    assert iob[:2] == ["O", "O"] and iob[2] == ""
    assert not second.ents


def test_align_entities_keeps_what_aligns():
    ud = ["Visit", "New", "York", "'s", "Mc.Donald", "now"]
    ner = ["Visit", "New", "York", "'s", "Mc.", "Donald", "now"]
    tags = ["O", "B-LOC", "I-LOC", "O", "B-ORG", "I-ORG", "O"]
    iob, lost = conll.align_entities(ud, ner, tags)
    assert iob == ["O", "B-LOC", "I-LOC", "O", None, "O"]
    assert lost == 1


def test_cli_writes_roles_split_by_document(tmp_path):
    conllu, iob2 = write_snippets(tmp_path)
    out = tmp_path / "corpus"
    code, output = run_cli(convert_ewt.main, [conllu, iob2, conllu, iob2, out])
    assert code == 0, output
    nlp = spacy.blank("en")

    def read(name):
        return list(DocBin().from_disk(out / name).get_docs(nlp.vocab))

    assert len(read("base_train/ewt.spacy")) == 4
    part_a, part_b = read("base_dev/ewt.spacy"), read("ewt_heldout.spacy")
    # documents alternate: doc1, doc3 -> A; doc2, doc4 -> B
    assert [d.text for d in part_a] == ["Bob Smith didn't visit Boston. I like Mc.Donald s.", "Anna works at Google."]
    assert [d.text for d in part_b] == ["Hello from Paris!", "Hello from Paris!"]
    rehearsal = [r["text"] for r in srsly.read_jsonl(out / "ewt_rehearsal.jsonl")]
    assert rehearsal == ["Bob Smith didn't visit Boston.", "I like Mc.Donald s.", "Anna works at Google."]
    assert not set(rehearsal) & {s.text for d in part_b for s in d.sents}
    assert "1 sentences whose UNER tokens differ from UD" in output


def test_bad_conllu_names_file_and_line(tmp_path):
    conllu, iob2 = write_snippets(tmp_path)
    conllu.write_text("# sent_id = a\n1\tBob\tBob\tPROPN\n", encoding="utf8")
    code, output = run_cli(convert_ewt.main, [conllu, iob2, conllu, iob2, tmp_path / "out"])
    assert code == 1
    assert f"{conllu}: line 2: expected 10 tab-separated columns, got 4" in output
    assert not (tmp_path / "out").exists()


def test_iob_spans_reads_iob2_leniently():
    # a stray I- starts an entity; an I- with another label starts a new one; B- always does
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "I-ORG", "B-ORG", "B-ORG", "I-ORG", "O"]
    assert conll.iob_spans(tags) == [(0, 2, "PER"), (3, 5, "LOC"), (5, 6, "ORG"), (6, 7, "ORG"), (7, 9, "ORG")]
    assert conll.iob_spans(["O", "O"]) == []


def test_to_doc_joins_sentences_and_keeps_missing_ner():
    first = conll.Sentence(
        "s1",
        "d",
        words=["Anna", "left", "!"],
        spaces=[True, False, False],
        lemmas=["Anna", "leave", "!"],
        pos=["PROPN", "VERB", "PUNCT"],
        tags=["NNP", "VBD", "."],
        morphs=["", "Tense=Past", ""],
        heads=[1, 1, 1],
        deps=["nsubj", "ROOT", "punct"],
        ents=["B-PER", "O", "O"],
    )
    second = conll.Sentence(
        "s2",
        "d",
        words=["Bye", "Bob", "."],
        spaces=[True, False, True],
        lemmas=["bye", "Bob", "."],
        pos=["INTJ", "PROPN", "PUNCT"],
        tags=["UH", "NNP", "."],
        morphs=["", "", ""],
        heads=[0, 0, 0],
        deps=["ROOT", "vocative", "punct"],
        ents=[None, None, None],
    )
    doc = conll.ewt_doc(spacy.blank("en").vocab, [first, second])
    # one space between sentences, none at the end, whatever the last token's SpaceAfter
    assert doc.text == "Anna left! Bye Bob."
    assert [s.text for s in doc.sents] == ["Anna left!", "Bye Bob."]
    assert [t.head.i for t in doc] == [1, 1, 1, 3, 3, 3]
    assert [t.dep_ for t in doc] == ["nsubj", "ROOT", "punct", "ROOT", "vocative", "punct"]
    assert [t.lemma_ for t in doc][:2] == ["Anna", "leave"] and str(doc[1].morph) == "Tense=Past"
    assert [(e.text, e.label_) for e in doc.ents] == [("Anna", "PER")]
    # entity annotation missing in the source stays missing (""), never becomes O
    assert [t.ent_iob_ for t in doc] == ["B", "O", "O", "", "", ""]
