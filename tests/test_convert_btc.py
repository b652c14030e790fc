"""convert_btc: Broad Twitter Corpus CoNLL into DocBins; '@' + name read as one token."""

import spacy
import srsly
from spacy.tokens import DocBin

import convert_btc
from conftest import run_cli

CONLL = (
    "@\tB-PER\ncolgo\tB-PER\nhey\tO\n,\tO\ncongrats\tO\n!\tO\n\n"
    "Met\tO\nSenator\tO\nInabo\tB-PER\nfrom\tO\nPalau\tB-LOC\n\tO\n.\tO\n\n"
    "@\tO\nGWS_Giants\tB-ORG\nand\tO\n@\tB-PER\nmatt\tB-PER\nNew\tI-LOC\nYork\tI-LOC\n"
)


def read(path):
    return list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


def test_mentions_join_into_one_token_with_one_entity(tmp_path):
    (tmp_path / "btc.conll").write_text(CONLL, encoding="utf8")
    code, output = run_cli(convert_btc.main, [tmp_path / "btc.conll", tmp_path / "out.spacy"])
    assert code == 0, output
    docs = read(tmp_path / "out.spacy")
    assert [t.text for t in docs[0]][:2] == ["@colgo", "hey"]
    assert [(e.text, e.label_) for e in docs[0].ents] == [("@colgo", "PER")]
    # the empty token is dropped, the rest kept
    assert [t.text for t in docs[1]] == ["Met", "Senator", "Inabo", "from", "Palau", "."]
    assert [(e.text, e.label_) for e in docs[1].ents] == [("Inabo", "PER"), ("Palau", "LOC")]
    # "@ O" + "name B-ORG" is one ORG; a stray I- after another label starts a new entity
    assert [(e.text, e.label_) for e in docs[2].ents] == [("@GWS_Giants", "ORG"), ("@matt", "PER"), ("New York", "LOC")]
    assert "3 '@' + name pairs read as one token, 1 empty tokens dropped, 1 stray I- tags read as B-" in output
    assert "Wrote 3 tweets with 6 entities (LOC 2, ORG 1, PER 3)" in output


def test_bad_line_fails_with_its_number_and_writes_nothing(tmp_path):
    (tmp_path / "btc.conll").write_text("hey\tO\nthere\tX-PER\n", encoding="utf8")
    code, output = run_cli(convert_btc.main, [tmp_path / "btc.conll", tmp_path / "out.spacy"])
    assert code == 1
    assert "btc.conll: line 2: expected 'token<TAB>IOB tag'" in output
    assert not (tmp_path / "out.spacy").exists()


def test_texts_output_holds_the_tweets_as_raw_text(tmp_path):
    (tmp_path / "btc.conll").write_text(CONLL, encoding="utf8")
    args = [tmp_path / "btc.conll", tmp_path / "out.spacy", "--texts-output", tmp_path / "texts.jsonl"]
    code, output = run_cli(convert_btc.main, args)
    assert code == 0, output
    texts = [r["text"] for r in srsly.read_jsonl(tmp_path / "texts.jsonl")]
    docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(spacy.blank("en").vocab))
    assert texts == [d.text for d in docs] and texts
