"""convert: every format, every bad input, round trips, splits, atomic writes."""

import fcntl
import json
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from weasel.util import load_project_config, split_command

import convert
from conftest import ROOT, run_cli
from ner_update.common import InputError
from ner_update.files import atomic_dir, atomic_path
from ner_update.inputs import gold
from ner_update.inputs.texts import read_texts

IPHONE = "How to preorder the iPhone X"
PATIENT = "A patient with chest pain had hyperthyroidism."
GOOD = [IPHONE, {"entities": [[20, 28, "GADGET"]]}]


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf8")
    elif name.endswith(".jsonl"):
        srsly.write_jsonl(path, content)
    else:
        srsly.write_json(path, content)
    return path


def run_convert(tmp_path, inputs, *extra):
    out = tmp_path / "out"
    code, output = run_cli(
        convert.main,
        [*inputs, "--train-output", out / "train.spacy", "--dev-output", out / "dev.spacy", *extra],
    )
    return code, output, out


def read_spans(out: Path) -> dict:
    """All docs of train and dev as {text: [(start, end, label)]}."""
    nlp = spacy.blank("en")
    docs = {}
    for name in ("train.spacy", "dev.spacy"):
        for doc in DocBin().from_disk(out / name).get_docs(nlp.vocab):
            docs[doc.text] = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
    return docs


# --- formats and round trips -------------------------------------------------


def test_course_format_round_trip(tmp_path):
    records = [
        [IPHONE, {"entities": [[20, 28, "GADGET"]]}],
        ["I need a new phone! Any tips?", {"entities": []}],
    ]
    code, output, out = run_convert(tmp_path, [write(tmp_path, "a.json", records)])
    assert code == 0, output
    assert read_spans(out) == {IPHONE: [(20, 28, "GADGET")], "I need a new phone! Any tips?": []}


def test_course_format_jsonl(tmp_path):
    path = write(tmp_path, "a.jsonl", [[IPHONE, {"entities": [[20, 28, "GADGET"]]}]])
    code, output, out = run_convert(tmp_path, [path], "--dev-ratio", "0")
    assert code == 0, output
    assert read_spans(out) == {IPHONE: [(20, 28, "GADGET")]}


def test_value_format_labels_from_data(tmp_path):
    records = [
        {
            "sentence": PATIENT,
            "entities": [{"label": "SYMPTOM", "value": "chest pain"}, {"label": "DISEASE", "value": "hyperthyroidism"}],
        }
    ]
    code, output, out = run_convert(tmp_path, [write(tmp_path, "v.json", records)])
    assert code == 0, output
    assert read_spans(out) == {PATIENT: [(15, 25, "SYMPTOM"), (30, 45, "DISEASE")]}
    assert "SYMPTOM" in output and "DISEASE" in output


def test_value_format_labels_every_whole_token_occurrence(tmp_path):
    text = "Pixel 7 or Pixel 7a? I like the Pixel 7 more."
    records = [{"text": text, "entities": [{"label": "GADGET", "value": "Pixel 7"}]}]
    code, output, out = run_convert(tmp_path, [write(tmp_path, "v.jsonl", records)])
    assert code == 0, output
    # "Pixel 7" inside "Pixel 7a" is not a whole-token occurrence
    assert read_spans(out)[text] == [(0, 7, "GADGET"), (32, 39, "GADGET")]


def test_span_records_round_trip(tmp_path):
    records = [{"text": IPHONE, "spans": [{"start": 20, "end": 28, "label": "GADGET"}], "meta": {"source": "x"}}]
    code, output, out = run_convert(tmp_path, [write(tmp_path, "s.jsonl", records)])
    assert code == 0, output
    assert read_spans(out) == {IPHONE: [(20, 28, "GADGET")]}


def test_format_detected_by_content(tmp_path):
    jsonl = write(
        tmp_path, "a.data", json.dumps({"text": IPHONE, "spans": [{"start": 20, "end": 28, "label": "GADGET"}]}) + "\n"
    )
    as_list = write(tmp_path, "b.data", json.dumps([["iPhone X is coming", {"entities": [[0, 8, "GADGET"]]}]]))
    code, output, out = run_convert(tmp_path, [jsonl, as_list])
    assert code == 0, output
    assert read_spans(out) == {IPHONE: [(20, 28, "GADGET")], "iPhone X is coming": [(0, 8, "GADGET")]}


def test_duplicates_merged_and_counted(tmp_path):
    rec = [IPHONE, {"entities": [[20, 28, "GADGET"]]}]
    spans = {"text": IPHONE, "spans": [{"start": 20, "end": 28, "label": "GADGET"}] * 2}
    code, output, out = run_convert(
        tmp_path, [write(tmp_path, "a.json", [rec, rec]), write(tmp_path, "b.jsonl", [spans])]
    )
    assert code == 0, output
    assert len(read_spans(out)) == 1
    assert "2 duplicate records merged" in output
    assert "1 repeated spans merged" in output


def test_folder_input_reads_every_json_and_jsonl_file(tmp_path):
    folder = tmp_path / "annotated"
    folder.mkdir()
    write(folder, "a.json", [GOOD])
    write(folder, "b.jsonl", [{"text": "iPhone X is coming", "spans": [{"start": 0, "end": 8, "label": "GADGET"}]}])
    write(folder, "notes.txt", "not annotations")
    code, output, out = run_convert(tmp_path, [folder])
    assert code == 0, output
    assert set(read_spans(out)) == {IPHONE, "iPhone X is coming"}
    empty = tmp_path / "empty"
    empty.mkdir()
    code, output, out = run_convert(tmp_path, [empty])
    assert code == 1 and "no .json, .jsonl, .conll, .iob, .iob2 or .bio files in this folder" in output


def test_demo_assets_convert_cleanly(tmp_path):
    root = Path(__file__).parent.parent
    code, output, out = run_convert(tmp_path, [root / "assets" / "annotated"])
    assert code == 0, output
    assert sum(len(s) for s in read_spans(out).values()) >= 30


# --- bad inputs: message names the problem, exit 1, nothing written ----------

BAD_RECORDS = [
    ("wrong shape list", [IPHONE, [[20, 28, "GADGET"]]], "wrong record shape"),
    ("wrong shape object", {"text": IPHONE, "ents": []}, "wrong record shape"),
    ("wrong shape scalar", 42, "wrong record shape"),
    ("missing text", {"spans": []}, "missing or non-string text"),
    ("non-string text", [123, {"entities": []}], "missing or non-string text"),
    ("float offset", [IPHONE, {"entities": [[20.0, 28, "GADGET"]]}], "non-integer start offset 20.0"),
    (
        "string offset",
        {"text": IPHONE, "spans": [{"start": 20, "end": "28", "label": "GADGET"}]},
        "non-integer end offset '28'",
    ),
    ("end before start", [IPHONE, {"entities": [[28, 20, "GADGET"]]}], "end <= start"),
    ("empty span", [IPHONE, {"entities": [[20, 20, "GADGET"]]}], "end <= start"),
    ("past the text", [IPHONE, {"entities": [[20, 40, "GADGET"]]}], "offsets past the text (length 28)"),
    (
        "negative start",
        [IPHONE, {"entities": [[-1, 3, "GADGET"]]}],
        "negative start offset -1 in span [-1, 3, 'GADGET']",
    ),
    (
        "negative end",
        {"text": IPHONE, "spans": [{"start": 5, "end": -3, "label": "GADGET"}]},
        "negative end offset -3 in span [5, -3, 'GADGET']",
    ),
    (
        "misaligned",
        [IPHONE, {"entities": [[22, 28, "GADGET"]]}],
        "'hone X' is not on token boundaries; nearest token boundaries: [27, 28] 'X' or [20, 28] 'iPhone X'",
    ),
    ("overlap", [IPHONE, {"entities": [[20, 28, "GADGET"], [20, 26, "GADGET"]]}], "overlapping spans"),
    (
        "value not found",
        {"sentence": PATIENT, "entities": [{"label": "SYMPTOM", "value": "fever"}]},
        "value 'fever' (SYMPTOM) not found in the text",
    ),
    (
        "value inside a token",
        {"sentence": PATIENT, "entities": [{"label": "DISEASE", "value": "thyroid"}]},
        "only inside other tokens",
    ),
    ("empty label", [IPHONE, {"entities": [[20, 28, ""]]}], "empty or malformed label ''"),
    ("label with space", [IPHONE, {"entities": [[20, 28, "MY GADGET"]]}], "empty or malformed label 'MY GADGET'"),
    # the one label rule: a visible, printable name of reasonable length
    ("zero-width character", [IPHONE, {"entities": [[20, 28, "GADGET\u200b"]]}], "malformed label 'GADGET\\u200b'"),
    ("NUL in label", [IPHONE, {"entities": [[20, 28, "GAD\u0000GET"]]}], "malformed label 'GAD\\x00GET'"),
    ("escape code", [IPHONE, {"entities": [[20, 28, "\u001b[31mRED"]]}], "malformed label '\\x1b[31mRED'"),
    ("200,000-character label", [IPHONE, {"entities": [[20, 28, "A" * 200_000]]}], "at most 100 characters"),
    ("no letter or digit", [IPHONE, {"entities": [[20, 28, "___"]]}], "malformed label '___'"),
    (
        "non-string label",
        {"sentence": PATIENT, "entities": [{"label": 3, "value": "chest pain"}]},
        "empty or malformed label 3",
    ),
]


@pytest.mark.parametrize("name,record,problem", BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS])
def test_bad_record_fails_and_writes_nothing(tmp_path, name, record, problem):
    path = write(tmp_path, "bad.jsonl", [GOOD, record])
    code, output, out = run_convert(tmp_path, [path])
    assert code == 1
    assert f"{path}: line 2: " in output
    assert problem in output
    assert not out.exists()


@pytest.mark.parametrize(
    "name,content,problem",
    [
        ("bad.json", '[["a", {"entities": []}],', "invalid JSON at line 1, column 26: Expecting value"),
        ("bad.jsonl", json.dumps(GOOD) + "\n{not json}\n", "line 2: invalid JSON at column 2: Expecting property name"),
        ("empty.json", "", "the file is empty"),
        ("blank.jsonl", "\n  \n", "the file is empty"),
        ("empty_list.json", "[]", "the file has no records"),
        ("object.json", '{"text": "a"}', "expected a JSON list of records"),
    ],
)
def test_bad_file_fails_and_writes_nothing(tmp_path, name, content, problem):
    path = write(tmp_path, name, content)
    code, output, out = run_convert(tmp_path, [path])
    assert code == 1
    assert str(path) in output and problem in output
    assert not out.exists()


def test_invalid_json_names_line_and_column(tmp_path):
    lines = ["[", json.dumps(GOOD), "  " + json.dumps(GOOD), "]"]  # no comma at the end of line 2
    path = write(tmp_path, "bad.json", "\n".join(lines))
    code, output, out = run_convert(tmp_path, [path])
    assert code == 1
    assert f"{path}: invalid JSON at line 3, column 3: Expecting ',' delimiter" in output
    assert not out.exists()
    jsonl = write(tmp_path, "bad.jsonl", json.dumps(GOOD) + "\n\n" + '{"text": "a" "spans": []}\n')
    code, output, out = run_convert(tmp_path, [jsonl])
    assert code == 1
    assert f"{jsonl}: line 3: invalid JSON at column 14: Expecting ',' delimiter" in output
    assert not out.exists()


BOM = "\ufeff"


@pytest.mark.parametrize(
    "name,content",
    [
        ("a.json", BOM + json.dumps([GOOD])),
        ("a.jsonl", BOM + json.dumps(GOOD) + "\r\n" + json.dumps(["ok text", {"entities": []}]) + "\r\n"),
        ("a.data", BOM + json.dumps([GOOD])),  # format detected by content after the BOM
    ],
)
def test_utf8_bom_is_accepted(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("utf8"))  # as Windows editors and Excel save it
    code, output, out = run_convert(tmp_path, [path])
    assert code == 0, output
    assert read_spans(out)[IPHONE] == [(20, 28, "GADGET")]


def test_labels_differing_only_in_case_are_kept_and_warned(tmp_path):
    a = write(
        tmp_path,
        "a.json",
        [GOOD, ["The iPhone X and the Pixel 7", {"entities": [[4, 12, "GADGET"], [21, 28, "GADGET"]]}]],
    )
    b = write(
        tmp_path, "b.jsonl", [["ok text", {"entities": []}], ["I like my Pixel 7", {"entities": [[10, 17, "gadget"]]}]]
    )
    code, output, out = run_convert(tmp_path, [a, b])
    assert code == 0, output
    assert (
        f"Labels that differ only in case: 'GADGET' (3 spans, first in {a}: record 1) and "
        f"'gadget' (1 spans, first in {b}: line 2)" in output
    )
    assert "2 labels differing only in case from another label (kept as given)" in output
    labels = {label for spans in read_spans(out).values() for _, _, label in spans}
    assert labels == {"GADGET", "gadget"}


def test_same_case_labels_give_no_warning(tmp_path):
    code, output, _ = run_convert(
        tmp_path, [write(tmp_path, "a.json", [GOOD, ["iPhone X is coming", {"entities": [[0, 8, "GADGET"]]}]])]
    )
    assert code == 0, output
    assert "differ only in case:" not in output
    assert "0 labels differing only in case" in output


# --- raw texts (inputs.texts.read_texts) --------------------------------------


@pytest.mark.parametrize(
    "name,content",
    [
        ("t.txt", "iPhone X\r\n\r\nPixel 7\r\n"),
        ("t.json", json.dumps(["iPhone X", "", "Pixel 7"])),
        ("t.jsonl", "\n".join(json.dumps(r) for r in ["iPhone X", {"text": " "}, {"text": "Pixel 7"}]) + "\n"),
    ],
)
def test_read_texts_accepts_utf8_bom(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(("\ufeff" + content).encode("utf8"))
    assert read_texts(path) == (["iPhone X", "Pixel 7"], 1)


@pytest.mark.parametrize(
    "name,content,problem",
    [
        (
            "t.json",
            '[\n  "iPhone X",\n  "Pixel 7"\n  "Galaxy"\n]',
            "invalid JSON at line 4, column 3: Expecting ',' delimiter",
        ),
        ("t.jsonl", '"iPhone X"\n\n{"text" "Pixel 7"}\n', "line 3: invalid JSON at column 9: Expecting ':' delimiter"),
    ],
)
def test_read_texts_invalid_json_names_line_and_column(tmp_path, name, content, problem):
    path = write(tmp_path, name, content)
    with pytest.raises(InputError) as err:
        read_texts(path)
    assert str(err.value) == f"{path}: {problem}"


def test_conflicting_annotations_of_same_text(tmp_path):
    a = write(tmp_path, "a.json", [GOOD])
    b = write(tmp_path, "b.jsonl", [{"text": IPHONE, "spans": [{"start": 27, "end": 28, "label": "GADGET"}]}])
    code, output, out = run_convert(tmp_path, [a, b])
    assert code == 1
    flat = output
    assert f"{b}: line 1: the same text is annotated differently in {a}: record 1" in flat
    assert not out.exists()


def test_errors_name_the_text_and_are_all_reported(tmp_path):
    path = write(
        tmp_path, "bad.jsonl", [[IPHONE, {"entities": [[28, 20, "GADGET"]]}], GOOD, ["Hi", {"entities": [[0, 9, "X"]]}]]
    )
    code, output, _ = run_convert(tmp_path, [path])
    flat = output
    assert code == 1
    assert "line 1: end <= start in span [28, 20, 'GADGET']" in flat and repr(IPHONE) in flat
    assert "line 3: offsets past the text" in flat
    assert "2 bad records; nothing written" in flat


def test_lenient_skips_and_counts(tmp_path):
    path = write(
        tmp_path, "bad.jsonl", [GOOD, [IPHONE + "!", {"entities": [[22, 28, "GADGET"]]}], ["ok text", {"entities": []}]]
    )
    code, output, out = run_convert(tmp_path, [path], "--lenient")
    assert code == 0, output
    assert set(read_spans(out)) == {IPHONE, "ok text"}
    assert "1 bad records skipped" in output


def test_lenient_leaves_out_every_version_of_a_conflicting_text(tmp_path):
    a = write(tmp_path, "a.json", [GOOD, ["ok text", {"entities": []}]])
    b = write(tmp_path, "b.jsonl", [{"text": IPHONE, "spans": [{"start": 27, "end": 28, "label": "GADGET"}]}])
    code, output, out = run_convert(tmp_path, [a, b], "--lenient")
    assert code == 0, output
    assert set(read_spans(out)) == {"ok text"}
    assert "1 texts annotated two ways: every version of them left out" in output


def test_failed_run_keeps_previous_output(tmp_path):
    code, _, out = run_convert(tmp_path, [write(tmp_path, "a.json", [GOOD])])
    assert code == 0
    before = (out / "train.spacy").read_bytes()
    code, _, _ = run_convert(tmp_path, [write(tmp_path, "b.json", [[IPHONE, {"entities": [[0, 99, "X"]]}]])])
    assert code == 1
    assert (out / "train.spacy").read_bytes() == before


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "c" / "train.spacy"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_a_killed_writers_temporary_files_are_removed_by_the_next_run_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / ".train.spacy.k1ll3d_9.tmp", out / ".dev.spacy.abcdefgh.tmp"]  # what kill -9 left
    for path in stale:
        path.write_bytes(b"half a DocBin")
    kept = [
        out / ".train.spacy.abcdefgh.tmp.bak",  # other names: the user's
        out / ".train.spacy.short.tmp",
        out / "train.spacy.abcdefgh.tmp",
        out / ".other.spacy.abcdefgh.tmp",
        out / ".train.spacy.live0000.tmp",  # locked: a live writer's
    ]
    for path in kept:
        path.write_bytes(b"keep")
    (out / ".train.spacy.folder00.tmp").mkdir()  # a folder: atomic_path writes files only
    (out / ".train.spacy.link0000.tmp").symlink_to(tmp_path / "elsewhere.txt")
    (tmp_path / "elsewhere.txt").write_text("keep", encoding="utf8")
    with open(out / ".train.spacy.live0000.tmp", "rb") as live:
        fcntl.flock(live, fcntl.LOCK_EX)
        code, output, _ = run_convert(tmp_path, [write(tmp_path, "a.json", [GOOD])])
    assert code == 0, output
    assert not any(path.exists() for path in stale)
    assert all(path.read_bytes() == b"keep" for path in kept)
    assert (out / ".train.spacy.folder00.tmp").is_dir() and (out / ".train.spacy.link0000.tmp").is_symlink()
    assert (tmp_path / "elsewhere.txt").read_text(encoding="utf8") == "keep"
    assert (out / "train.spacy").exists() and (out / "dev.spacy").exists()


def test_a_killed_writers_temporary_folder_is_removed_by_the_next_atomic_dir(tmp_path):
    stale = tmp_path / ".pipeline.abc_1234.tmp"
    (stale / "ner").mkdir(parents=True)
    (stale / "ner" / "model").write_bytes(b"half")
    with atomic_dir(tmp_path / "pipeline") as tmp:
        (tmp / "meta.json").write_text("{}", encoding="utf8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline"]


# --- splits -------------------------------------------------------------------


def make_records(n=60):
    models = [f"Model {i}" for i in range(n // 3)]
    records = []
    for i in range(n):
        name = models[i % len(models)]
        text = f"Text {i} is about the {name} phone."
        start = text.index(name)
        records.append([text, {"entities": [[start, start + len(name), "GADGET"]]}])
    return records


@pytest.mark.parametrize("split", ["entity", "random"])
def test_split_is_deterministic_and_disjoint(tmp_path, split):
    path = write(tmp_path, "a.json", make_records())
    results = []
    for run in range(2):
        out = tmp_path / f"run{run}"
        code, output = run_cli(
            convert.main,
            [
                path,
                "--train-output",
                out / "train.spacy",
                "--dev-output",
                out / "dev.spacy",
                "--split",
                split,
                "--seed",
                "7",
                "--dev-ratio",
                "0.25",
            ],
        )
        assert code == 0, output
        nlp = spacy.blank("en")
        train = [d.text for d in DocBin().from_disk(out / "train.spacy").get_docs(nlp.vocab)]
        dev = [d.text for d in DocBin().from_disk(out / "dev.spacy").get_docs(nlp.vocab)]
        assert not set(train) & set(dev)
        assert len(train) + len(dev) == 60
        assert 10 <= len(dev) <= 16
        results.append((train, dev))
    assert results[0] == results[1]


def test_entity_split_keeps_names_out_of_train():
    recs = []
    for text, _ in [(r[0], None) for r in make_records()]:
        name = text[text.index("Model") : text.index(" phone")]
        s = text.index(name)
        recs.append(gold.Record("x", text, ((s, s + len(name), "GADGET"),)))
    train, dev = gold.split_records(recs, 0.25, seed=3, by_entity=True)
    assert dev and not gold.names(train) & gold.names(dev)
    # names are normalised: case, spaces and punctuation do not make a new name
    assert gold.entity_name("iPhone X") == gold.entity_name("iphone-x") == gold.entity_name("IPHONEX")


# --- hand-checked over bootstrapped, evaluation texts left out, no split -----


def test_hand_checked_record_replaces_the_bootstrapped_one(tmp_path):
    """A text in both the annotations and the bootstrapped file is taken from the annotations (no conflict)."""
    checked = write(
        tmp_path,
        "checked.jsonl",
        [{"text": "Samsung Galaxy S8 is fine", "spans": [{"start": 0, "end": 17, "label": "GADGET"}]}],
    )
    boot = write(
        tmp_path,
        "boot.json",
        [
            ["Samsung Galaxy S8 is fine", {"entities": [[8, 17, "GADGET"]]}],
            ["my ps4 broke", {"entities": [[3, 6, "GADGET"]]}],
        ],
    )
    code, output, out = run_convert(
        tmp_path, [checked], "--bootstrapped", boot, "--split", "random", "--dev-ratio", "0"
    )
    assert code == 0, output
    assert read_spans(out) == {"Samsung Galaxy S8 is fine": [(0, 17, "GADGET")], "my ps4 broke": [(3, 6, "GADGET")]}
    assert "1 bootstrapped records replaced by the hand-checked annotation" in output


@pytest.mark.parametrize("skip", [["--bad-records", "skip"], ["--lenient"]])
def test_a_text_whose_annotation_is_bad_or_conflicting_is_left_out_not_bootstrapped(tmp_path, skip):
    """Skipped bad records do not come back in their bootstrapped version (which would teach the patterns'
    reading of a text the user annotated otherwise)."""
    conflicted, bad = "the pixel 7 and the pixel 8", "my ps4 broke again"
    checked = write(
        tmp_path,
        "checked.jsonl",
        [
            {"text": conflicted, "spans": [{"start": 4, "end": 11, "label": "GADGET"}]},
            {"text": conflicted, "spans": [{"start": 20, "end": 27, "label": "GADGET"}]},
            {"text": bad, "spans": [{"start": 3, "end": 99, "label": "GADGET"}]},
            {"text": "a fine text", "spans": []},
        ],
    )
    boot = write(
        tmp_path,
        "boot.json",
        [
            [conflicted, {"entities": [[4, 11, "GADGET"]]}],
            [bad, {"entities": [[3, 6, "GADGET"]]}],
            ["an xbox", {"entities": [[3, 7, "GADGET"]]}],
        ],
    )
    code, output, out = run_convert(
        tmp_path, [checked], "--bootstrapped", boot, "--split", "random", "--dev-ratio", "0", *skip
    )
    assert code == 0, output
    assert set(read_spans(out)) == {"a fine text", "an xbox"}
    assert "2 left out because the annotation of their text is bad" in output


def test_bad_records_stop_convert_with_the_var_that_skips_them(tmp_path):
    path = write(tmp_path, "bad.jsonl", [{"text": "my ps4", "spans": [{"start": 3, "end": 99, "label": "GADGET"}]}])
    code, output, out = run_convert(tmp_path, [path])
    assert code == 1 and not out.exists()
    assert "--vars.bad_records skip" in output


def test_the_bad_records_var_reaches_every_convert_of_the_project():
    config = load_project_config(ROOT, overrides={"vars.bad_records": "skip"})
    convert_step = next(c for c in config["commands"] if c["name"] == "convert")
    lines = [split_command(line) for line in convert_step["script"] if "scripts/convert.py" in line]
    assert len(lines) == 3 and all(args[args.index("--bad-records") + 1] == "skip" for args in lines)


def test_excluded_texts_never_reach_train_or_dev(tmp_path):
    records = [
        ["my ps4 broke", {"entities": [[3, 6, "GADGET"]]}],
        ["the xbox is loud", {"entities": [[4, 8, "GADGET"]]}],
    ]
    data = write(tmp_path, "data.json", records)
    held_out = write(tmp_path, "dev.jsonl", [{"text": "the xbox is loud", "spans": []}])
    code, output, out = run_convert(tmp_path, [data], "--exclude", held_out, "--split", "random")
    assert code == 0, output
    assert set(read_spans(out)) == {"my ps4 broke"}
    assert "1 records left out because their text is in" in output


def test_output_alone_writes_every_record_without_a_split(tmp_path):
    data = write(
        tmp_path, "data.json", [["my ps4 broke", {"entities": [[3, 6, "GADGET"]]}], ["hi there", {"entities": []}]]
    )
    code, output = run_cli(convert.main, [data, "--output", tmp_path / "all.spacy"])
    assert code == 0, output
    assert len(list(DocBin().from_disk(tmp_path / "all.spacy").get_docs(spacy.blank("en").vocab))) == 2


@pytest.mark.parametrize(
    "args", [[], ["--output", "a.spacy", "--dev-output", "d.spacy"], ["--train-output", "t.spacy"]]
)
def test_outputs_must_be_a_split_or_one_file(tmp_path, args):
    data = write(tmp_path, "data.json", [["my ps4 broke", {"entities": [[3, 6, "GADGET"]]}]])
    code, output = run_cli(convert.main, [data, *[tmp_path / a if a.endswith(".spacy") else a for a in args]])
    assert code == 1 and "Give --train-output and --dev-output (a split), or --output alone" in output
    assert not list(tmp_path.glob("*.spacy"))


@pytest.mark.parametrize(
    "case", ["output is the input", "train is the input", "train is dev", "inside the input folder"]
)
def test_an_output_never_replaces_an_input(tmp_path, case):
    folder = tmp_path / "annotated"
    folder.mkdir()
    source = write(folder, "a.jsonl", [GOOD])
    before = source.read_bytes()
    outputs = {
        "output is the input": ["--output", source],
        "train is the input": ["--train-output", source, "--dev-output", tmp_path / "dev.spacy"],
        "train is dev": ["--train-output", tmp_path / "x.spacy", "--dev-output", tmp_path / "x.spacy"],
        "inside the input folder": ["--output", folder / "set.spacy"],
    }[case]
    code, output = run_cli(convert.main, [folder if case == "inside the input folder" else source, *outputs])
    assert code == 1 and ("would overwrite an input" in output or "two outputs are the same file" in output)
    assert source.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["a.jsonl"]
