"""Token-per-line annotation files (CoNLL, IOB) and keeping only the labels to learn (vars.labels)."""

import shutil

import pytest
import spacy
from spacy.tokens import DocBin

import convert
from conftest import SHARED_DATA, run_cli

IOB = """-DOCSTART- O

The	O
Beatles	B-band
recorded	O
Abbey	B-album
Road	I-album
.	O

Kind	I-album
of	I-album
Blue	I-album
is	O
jazz	B-musicgenre
"""


def spans_of(path) -> dict:
    nlp = spacy.blank("en")
    return {doc.text: [(e.text, e.label_) for e in doc.ents] for doc in DocBin().from_disk(path).get_docs(nlp.vocab)}


def test_an_iob_file_converts_with_exact_spans_and_iob1_starts(tmp_path):
    path = tmp_path / "music.iob"
    path.write_text(IOB, encoding="utf8")
    code, out = run_cli(convert.main, [path, "--output", tmp_path / "out.spacy"])
    assert code == 0, out
    assert spans_of(tmp_path / "out.spacy") == {
        "The Beatles recorded Abbey Road .": [("Beatles", "band"), ("Abbey Road", "album")],
        "Kind of Blue is jazz": [("Kind of Blue", "album"), ("jazz", "musicgenre")],  # I- starts an entity
    }
    # CoNLL-2003 columns separated by spaces, the tag last
    conll = tmp_path / "news.conll"
    conll.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n", encoding="utf8")
    code, out = run_cli(convert.main, [conll, "--output", tmp_path / "news.spacy"])
    assert code == 0, out
    assert spans_of(tmp_path / "news.spacy") == {"EU rejects German": [("EU", "ORG"), ("German", "MISC")]}


def test_a_bad_line_is_named_and_nothing_is_written(tmp_path):
    path = tmp_path / "bad.iob"
    path.write_text("The\tO\nBeatles\tBAND\n", encoding="utf8")
    code, out = run_cli(convert.main, [path, "--output", tmp_path / "out.spacy"])
    assert code == 1 and f"{path}: line 2: expected a token and a BIO tag" in out
    assert not (tmp_path / "out.spacy").exists()
    path.write_text("-DOCSTART- O\n\n", encoding="utf8")
    code, out = run_cli(convert.main, [path, "--output", tmp_path / "out.spacy"])
    assert code == 1 and f"{path}: the file is empty" in out and not (tmp_path / "out.spacy").exists()


def test_only_the_labels_to_learn_are_kept_and_the_rest_is_counted(tmp_path):
    path = tmp_path / "music.iob"
    path.write_text(IOB, encoding="utf8")
    args = [path, "--output", tmp_path / "out.spacy", "--labels", "album,musicgenre"]
    code, out = run_cli(convert.main, args)
    assert code == 0, out
    assert "1 spans of labels not in vars.labels (album,musicgenre) left out: band 1" in out
    kept = spans_of(tmp_path / "out.spacy")
    assert kept["The Beatles recorded Abbey Road ."] == [("Abbey Road", "album")]
    # a label to learn that no span has is most likely misspelt: said, not silently learned as nothing
    code, out = run_cli(convert.main, [path, "--output", tmp_path / "typo.spacy", "--labels", "albm,band"])
    assert code == 0 and "no span of albm (vars.labels: a typo?)" in out


def test_a_checked_set_in_iob_is_kept_out_of_training_by_its_texts(tmp_path):
    train, checked = tmp_path / "train.iob", tmp_path / "checked.iob"
    train.write_text(IOB, encoding="utf8")
    checked.write_text("Kind\tB-album\nof\tI-album\nBlue\tI-album\nis\tO\njazz\tB-musicgenre\n", encoding="utf8")
    args = [train, "--train-output", tmp_path / "t.spacy", "--dev-output", tmp_path / "d.spacy"]
    code, out = run_cli(convert.main, [*args, "--exclude", checked, "--dev-ratio", "0.01"])
    assert code == 0, out
    assert "1 records left out because their text is in" in out
    assert "Kind of Blue is jazz" not in {**spans_of(tmp_path / "t.spacy"), **spans_of(tmp_path / "d.spacy")}


@pytest.mark.skipif(not (SHARED_DATA / "crossner-music-train.txt").exists(), reason="CrossNER is not in ../shared/data")
def test_crossner_music_converts_with_the_types_a_user_would_add(tmp_path):
    path = tmp_path / "music-train.iob"
    shutil.copy(SHARED_DATA / "crossner-music-train.txt", path)
    labels = "album,band,musicalartist,musicgenre,song,musicalinstrument,award"
    code, out = run_cli(convert.main, [path, "--output", tmp_path / "out.spacy", "--labels", labels])
    # real data: one sentence is annotated twice, once with person and once with musicalartist; named
    assert code == 1 and "music-train.iob: line 1717: the same text is annotated differently" in out
    code, out = run_cli(
        convert.main, [path, "--output", tmp_path / "out.spacy", "--labels", labels, "--bad-records", "skip"]
    )
    assert code == 0, out
    docs = spans_of(tmp_path / "out.spacy")
    assert len(docs) == 98  # both versions left out
    assert {label for ents in docs.values() for _, label in ents} == set(labels.split(","))
    assert "spans of labels not in vars.labels" in out and "left out: organisation 36, location 30" in out
