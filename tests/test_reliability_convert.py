"""Issue 17 for convert: what was accepted silently (item 7) and memory that grew
with every doc (item 10). Each test fails on the version before the fix."""

import json
import tracemalloc
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin, Span

import convert
from conftest import run_cli
from ner_update.inputs import gold
from ner_update.inputs.docbin_writer import write_docs

IPHONE = "How to preorder the iPhone X"


def run_split(tmp_path: Path, *inputs, extra=()):
    out = tmp_path / "out"
    code, output = run_cli(
        convert.main, [*inputs, "--train-output", out / "train.spacy", "--dev-output", out / "dev.spacy", *extra]
    )
    return code, output, out


def texts(out: Path) -> dict:
    nlp = spacy.blank("en")
    found = {}
    for name in ("train", "dev"):
        for doc in DocBin().from_disk(out / f"{name}.spacy").get_docs(nlp.vocab):
            found[doc.text] = (name, [(e.start_char, e.end_char, e.label_) for e in doc.ents])
    return found


# --- item 7: accepted silently ------------------------------------------------


def test_span_on_a_whitespace_token_is_an_error(tmp_path):
    text = "I love my  iPhone X"  # two spaces: the second is a whitespace token
    path = tmp_path / "a.jsonl"
    srsly.write_jsonl(path, [[IPHONE, {"entities": [[20, 28, "GADGET"]]}], [text, {"entities": [[10, 11, "GADGET"]]}]])
    code, output, out = run_split(tmp_path, path)
    assert code == 1 and not out.exists()
    assert f"{path}: line 2: span [10, 11, 'GADGET'] ' ' starts or ends with a whitespace token" in output
    srsly.write_jsonl(path, [[text, {"entities": [[10, 19, "GADGET"]]}]])  # " iPhone X"
    code, output, _ = run_split(tmp_path, path)
    assert code == 1 and "starts or ends with a whitespace token" in output


def test_texts_differing_by_surrounding_whitespace_are_one_text(tmp_path):
    path = tmp_path / "a.jsonl"
    srsly.write_jsonl(path, [[IPHONE, {"entities": [[20, 28, "GADGET"]]}], [IPHONE + " ", {"entities": []}]])
    code, output, out = run_split(tmp_path, path)
    assert code == 1 and not out.exists()
    assert f"{path}: line 2: the same text is annotated differently in {path}: line 1" in output
    # the same annotation of a padded text is a duplicate (offsets compared on the stripped text)
    srsly.write_jsonl(path, [[IPHONE, {"entities": [[20, 28, "GADGET"]]}], ["  " + IPHONE, {"entities": [[22, 30, "GADGET"]]}]])  # fmt: skip
    code, output, out = run_split(tmp_path, path, extra=["--dev-ratio", "0"])
    assert code == 0, output
    assert texts(out) == {IPHONE: ("train", [(20, 28, "GADGET")])} and "1 duplicate records merged" in output


def test_files_in_subfolders_are_read(tmp_path):
    folder = tmp_path / "annotated"
    (folder / "batch2" / "deeper").mkdir(parents=True)
    (folder / ".checkpoints").mkdir()
    srsly.write_json(folder / "a.json", [[IPHONE, {"entities": [[20, 28, "GADGET"]]}]])
    srsly.write_jsonl(folder / "batch2" / "deeper" / "b.jsonl", [{"text": "my ps4 broke", "label": [[3, 6, "GADGET"]]}])
    srsly.write_jsonl(folder / ".checkpoints" / "old.jsonl", [{"text": "hidden", "spans": []}])
    code, output, out = run_split(tmp_path, folder, extra=["--split", "random"])
    assert code == 0, output
    assert set(texts(out)) == {IPHONE, "my ps4 broke"}


def test_a_linked_subfolder_is_read_once_and_a_dangling_link_is_named(tmp_path):
    """Annotations in a linked subfolder were skipped without a word; a link back up the tree loops nowhere."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    srsly.write_jsonl(elsewhere / "b.jsonl", [{"text": "my ps4 broke", "label": [[3, 6, "GADGET"]]}])
    folder = tmp_path / "annotated"
    folder.mkdir()
    srsly.write_json(folder / "a.json", [[IPHONE, {"entities": [[20, 28, "GADGET"]]}]])
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (folder / "again").symlink_to(elsewhere, target_is_directory=True)
    (folder / "up").symlink_to(folder, target_is_directory=True)
    code, output, out = run_split(tmp_path, folder, extra=["--split", "random"])
    assert code == 0, output
    assert set(texts(out)) == {IPHONE, "my ps4 broke"} and "0 duplicate records merged" in output
    (folder / "gone.jsonl").symlink_to(tmp_path / "moved.jsonl")
    code, output, out = run_split(tmp_path, folder, extra=["--split", "random"])
    assert (
        code == 1 and f"{folder / 'gone.jsonl'}: a link to {tmp_path / 'moved.jsonl'}, which does not exist" in output
    )


@pytest.mark.parametrize(
    "record,problem",
    [
        (
            {"text": IPHONE, "spans": [{"start": 20, "end": 28, "label": "GADGET"}], "entities": [{"label": "GADGET", "value": "iPhone"}]},
            "ambiguous record: it has both 'spans' and 'entities' (give one)",
        ),
        (
            {"sentence": IPHONE, "text": "How to buy the iPhone X", "entities": [{"label": "GADGET", "value": "iPhone X"}]},
            "\"sentence\" and \"text\" differ: 'How to preorder the iPhone X' vs 'How to buy the iPhone X'",
        ),
        ([IPHONE, {"entities": [[20, 28, "-"]]}], "empty or malformed label '-'"),
        ([IPHONE, {"entities": [[20, 28, "_"]]}], "empty or malformed label '_'"),
    ],
)  # fmt: skip
def test_ambiguous_records_and_labels_without_letters_are_errors(tmp_path, record, problem):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(["ok text", {"entities": []}]) + "\n" + json.dumps(record) + "\n", encoding="utf8")
    code, output, out = run_split(tmp_path, path)
    assert code == 1 and not out.exists()
    assert f"{path}: line 2: {problem}" in output


def test_same_sentence_and_text_is_fine(tmp_path):
    path = tmp_path / "a.jsonl"
    srsly.write_jsonl(
        path, [{"sentence": IPHONE, "text": IPHONE, "entities": [{"label": "GADGET", "value": "iPhone X"}]}]
    )
    code, output, out = run_split(tmp_path, path, extra=["--dev-ratio", "0"])
    assert code == 0, output


def test_a_single_record_warns_that_dev_is_empty(tmp_path):
    path = tmp_path / "a.json"
    srsly.write_json(path, [[IPHONE, {"entities": [[20, 28, "GADGET"]]}]])
    code, output, _ = run_split(tmp_path, path)
    assert code == 0, output
    assert "dev is empty: 1 records x 0.2 rounds to 0. `spacy train` needs both train and dev examples" in output
    code, output, _ = run_split(tmp_path, path, extra=["--dev-ratio", "0"])  # asked for: no warning
    assert "dev is empty" not in output


def test_entity_groups_too_large_for_dev_are_explained(tmp_path):
    path = tmp_path / "a.json"
    records = [[f"Text {i} about the iPhone X", {"entities": [[len(f"Text {i} about the "), len(f"Text {i} about the iPhone X"), "GADGET"]]}] for i in range(10)]  # fmt: skip
    srsly.write_json(path, records)
    code, output, _ = run_split(tmp_path, path)
    assert code == 0, output
    assert "dev is empty: records that share an entity name stay together (split = entity)" in output
    assert "change --vars.dev_ratio or use --vars.split random" in output  # what a user types


# --- item 10: memory bounded --------------------------------------------------


def test_docbin_writer_writes_what_docbin_writes(tmp_path):
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in ["I love my iPhone X so much", "Hello  there", "x"]]
    docs[0].set_ents([Span(docs[0], 3, 5, "GADGET")], default="missing")
    docs[1].spans["incorrect_spans"] = [Span(docs[1], 0, 1, "GADGET")]
    docs[2].ents = []
    for batch in (docs, []):
        DocBin(docs=batch, store_user_data=False).to_disk(tmp_path / "docbin.spacy")
        assert write_docs(iter(batch), sum(len(d) for d in batch), tmp_path / "stream.spacy") == len(batch)
        assert (tmp_path / "stream.spacy").read_bytes() == (tmp_path / "docbin.spacy").read_bytes()
    with pytest.raises(ValueError, match="expected 99 tokens"):
        write_docs(iter(docs), 99, tmp_path / "bad.spacy")


def test_convert_does_not_keep_docs(tmp_path):
    """Python memory for 3,000 records stays far below what 3,000 Docs take (~15 KB each)."""
    records = [
        {"text": f"Note {i}: my iPhone X{i} and the Pixel {i} broke again today.", "spans": [{"start": 10 + len(str(i)), "end": 18 + 2 * len(str(i)), "label": "GADGET"}]}
        for i in range(3000)
    ]  # fmt: skip
    path = tmp_path / "many.jsonl"
    srsly.write_jsonl(path, records)
    nlp = spacy.blank("en")
    nlp.make_doc("warm up the tokenizer")
    tracemalloc.start()
    report = gold.Report()
    kept = gold.load_records([path], nlp, report)
    train, dev = gold.split_records(kept, 0.2, 0, by_entity=True)
    gold.write_docbin(nlp, train, tmp_path / "train.spacy")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert not report.errors and len(kept) == 3000
    assert peak / 3000 < 3000, f"{peak / 3000:.0f} bytes a record"


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("utf16.jsonl", '{"text": "I love my iPhone X", "spans": []}\n'.encode("utf-16"), "UTF-16 text"),
        ("latin1.jsonl", '{"text": "café iPhone X", "spans": []}\n'.encode("latin-1"), "line 1, column 14: byte 0xE9"),
        ("binary.jsonl", b'{"text": "a"}\n\x00\x01\x02\xff\n', "binary"),
    ],
)
def test_annotations_that_are_not_utf8_name_the_file_and_line(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "out.spacy"
    code, output = run_cli(convert.main, [path, "--output", out])
    assert code == 1 and str(path) in output and expected in output, output
    assert not out.exists()


def test_a_text_over_max_length_names_its_line(tmp_path):
    path = tmp_path / "long.jsonl"
    srsly.write_jsonl(path, [{"text": "fine", "spans": []}, {"text": "word " * 200_001, "spans": []}])
    out = tmp_path / "out.spacy"
    code, output = run_cli(convert.main, [path, "--output", out])
    assert code == 1 and f"{path}: line 2" in output and "nlp.max_length" in output, output
    assert not out.exists()
