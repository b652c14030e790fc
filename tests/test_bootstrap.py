"""bootstrap: entity_ruler patterns over raw texts (files or folders), longest match
wins, per-pattern counts; negatives, rehearsal and held-out texts sampled per file,
deterministically, disjoint, without the excluded evaluation texts."""

import random
from pathlib import Path

import pytest
import srsly

import bootstrap
from conftest import ROOT, SHARED_DATA, run_cli

# The spaCy course's six raw texts (exercises/en/iphone.json) and its two patterns
COURSE_TEXTS = [
    "How to preorder the iPhone X",
    "iPhone X is coming",
    "Should I pay $1,000 for the iPhone X?",
    "The iPhone 8 reviews are here",
    "iPhone 11 vs iPhone 8: What's the difference?",
    "I need a new phone! Any tips?",
]
COURSE_PATTERNS = [
    {"label": "GADGET", "pattern": [{"LOWER": "iphone"}, {"LOWER": "x"}]},
    {"label": "GADGET", "pattern": [{"LOWER": "iphone"}, {"IS_DIGIT": True, "OP": "?"}]},
]
# sorted by text: the matched texts first, then the negatives
COURSE_RECORDS = [
    ["How to preorder the iPhone X", {"entities": [[20, 28, "GADGET"]]}],
    ["Should I pay $1,000 for the iPhone X?", {"entities": [[28, 36, "GADGET"]]}],
    ["The iPhone 8 reviews are here", {"entities": [[4, 12, "GADGET"]]}],
    ["iPhone 11 vs iPhone 8: What's the difference?", {"entities": [[0, 9, "GADGET"], [13, 21, "GADGET"]]}],
    ["iPhone X is coming", {"entities": [[0, 8, "GADGET"]]}],
    ["I need a new phone! Any tips?", {"entities": []}],
]
OUTPUT_NAMES = {"annotations": "annotations.json", "rehearsal": "rehearsal.jsonl", "heldout": "heldout.jsonl"}


def write_texts(path: Path, texts, bom: bool = False) -> Path:
    """Texts as .txt (one per line), .json (a list) or .jsonl ({"text": ...}), by suffix."""
    if path.suffix == ".txt":
        content = "\n".join(texts) + "\n"
    elif path.suffix == ".json":
        content = srsly.json_dumps(texts)
    else:
        content = "".join(srsly.json_dumps({"text": t}) + "\n" for t in texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(("\ufeff" if bom else "") + content, encoding="utf8")
    return path


def run_bootstrap(tmp_path: Path, inputs, patterns, *options, out_name: str = "out"):
    """Run the CLI with all three outputs; return (exit code, output, {output: records or None})."""
    patterns_path = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(patterns_path, patterns)
    out = tmp_path / out_name
    paths = {name: out / filename for name, filename in OUTPUT_NAMES.items()}
    args = [*inputs, "--patterns", patterns_path, "--output", paths["annotations"]]
    args += ["--rehearsal-output", paths["rehearsal"], "--heldout-output", paths["heldout"], *options]
    code, output = run_cli(bootstrap.main, args)
    results = {}
    for name, path in paths.items():
        if not path.exists():
            results[name] = None
        elif name == "annotations":
            results[name] = srsly.read_json(path)
        else:
            results[name] = [r["text"] for r in srsly.read_jsonl(path)]
    return code, output, results


def matched_texts(records):
    return [text for text, annots in records if annots["entities"]]


def negative_texts(records):
    return [text for text, annots in records if not annots["entities"]]


# --- matching -------------------------------------------------------------------


def test_course_texts_one_span_per_mention_longest_match_wins(tmp_path):
    texts = write_texts(tmp_path / "texts.json", COURSE_TEXTS)
    code, output, results = run_bootstrap(tmp_path, [texts], COURSE_PATTERNS)
    assert code == 0, output
    # the course's v2 loop would also have kept (20, 26) for "iPhone" inside "iPhone X"
    assert results["annotations"] == COURSE_RECORDS
    # per file: texts, with a match, matched kept, over the cap, negatives, rehearsal, held-out
    assert "texts.json 6 5 5 0 1 0 0" in output
    assert "label matches ------ ------- GADGET 6" in output
    assert "line 1 GADGET 3 line 2 GADGET 3" in output
    assert "Wrote 6 annotated texts" in output


def test_counts_per_pattern(tmp_path):
    patterns = COURSE_PATTERNS + [{"label": "GADGET", "pattern": "galaxy s8"}]
    texts = write_texts(tmp_path / "t.txt", ["my Galaxy S8 and iPhone X", "nothing here"])
    code, output, results = run_bootstrap(tmp_path, [texts], patterns)
    assert code == 0, output
    assert results["annotations"][0] == [
        "my Galaxy S8 and iPhone X",
        {"entities": [[3, 12, "GADGET"], [17, 25, "GADGET"]]},
    ]
    # one row per pattern line: line 1 matched once, line 2's shorter match lost, line 3 (phrase) matched
    assert "line 1 GADGET 1 line 2 GADGET 0 line 3 GADGET 1" in output
    assert "1 patterns matched nothing: line 2" in output


def test_phrase_patterns_match_whatever_the_case(tmp_path):
    patterns = [{"label": "GADGET", "pattern": "Galaxy S8"}]
    texts = write_texts(tmp_path / "t.txt", ["GALAXY S8 owners", "my galaxy s8 broke", "the Galaxy S8"])
    code, output, results = run_bootstrap(tmp_path, [texts], patterns)
    assert code == 0, output
    assert results["annotations"] == [
        ["GALAXY S8 owners", {"entities": [[0, 9, "GADGET"]]}],
        ["my galaxy s8 broke", {"entities": [[3, 12, "GADGET"]]}],
        ["the Galaxy S8", {"entities": [[4, 13, "GADGET"]]}],
    ]


def test_labels_come_from_the_patterns(tmp_path):
    patterns = [
        {"label": "SYMPTOM", "pattern": [{"LOWER": "chest"}, {"LOWER": "pain"}]},
        {"label": "DISEASE", "pattern": "hyperthyroidism"},
    ]
    texts = write_texts(tmp_path / "t.json", ["A patient with chest pain had hyperthyroidism."])
    code, output, results = run_bootstrap(tmp_path, [texts], patterns)
    assert code == 0, output
    assert results["annotations"][0][1]["entities"] == [[15, 25, "SYMPTOM"], [30, 45, "DISEASE"]]
    assert "DISEASE 1" in output and "SYMPTOM 1" in output


def test_duplicate_and_blank_texts_are_counted(tmp_path):
    texts = write_texts(tmp_path / "t.txt", ["iPhone X", "", "iPhone X", "  ", "hi"])
    code, output, results = run_bootstrap(tmp_path, [texts], COURSE_PATTERNS)
    assert code == 0, output
    assert [r[0] for r in results["annotations"]] == ["iPhone X", "hi"]
    assert "2 blank texts skipped, 1 duplicates merged" in output


def test_duplicates_across_files_are_merged(tmp_path):
    a = write_texts(tmp_path / "a.txt", ["iPhone X", "hi"])
    b = write_texts(tmp_path / "b.json", ["iPhone X", "hi", "iPhone 8"])
    code, output, results = run_bootstrap(tmp_path, [a, b], COURSE_PATTERNS)
    assert code == 0, output
    assert sorted(r[0] for r in results["annotations"]) == ["hi", "iPhone 8", "iPhone X"]
    assert "2 duplicates merged" in output


@pytest.mark.parametrize(
    "patterns,message",
    [
        ([{"label": "", "pattern": "x"}], "patterns.jsonl: line 1: empty or malformed label ''"),
        ([{"pattern": "x"}], "patterns.jsonl: line 1: empty or malformed label None"),
        # the one label rule, as convert applies it to annotations: a label needs a letter or digit
        ([{"label": "___", "pattern": "x"}], "line 1: empty or malformed label '___' (a label is a printable name"),
        (
            [{"label": "G", "pattern": "x"}, {"label": "G", "pattern": []}],
            "patterns.jsonl: line 2: a pattern is a non-empty",
        ),
        ([{"label": "G", "pattern": "x"}, {"label": "G", "pattern": [{"LOWR": "x"}]}], "line 2: invalid pattern"),
        ([{"label": "G", "pattern": [{"LOWER": "x", "OP": "bad"}]}], "line 1: invalid pattern"),
        ([], "patterns.jsonl: no patterns"),
    ],
)
def test_bad_pattern_file_fails_with_line_and_writes_nothing(tmp_path, patterns, message):
    texts = write_texts(tmp_path / "t.json", COURSE_TEXTS)
    code, output, results = run_bootstrap(tmp_path, [texts], patterns)
    assert code == 1
    assert message in output
    assert results == {name: None for name in OUTPUT_NAMES}


def test_bad_text_file_fails_with_line_and_writes_nothing(tmp_path):
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "iPhone X"}\n{"text": "oops"\n', encoding="utf8")
    code, output, results = run_bootstrap(tmp_path, [texts], COURSE_PATTERNS)
    assert code == 1
    assert "t.jsonl: line 2: invalid JSON" in output
    assert results == {name: None for name in OUTPUT_NAMES}


def test_demo_patterns_leave_hard_negatives_alone(tmp_path):
    patterns = list(srsly.read_jsonl(ROOT / "assets" / "gadget_patterns.jsonl"))
    hard = [
        "Apple said demand was weak.",
        "my phone died",
        "Android is fine",
        "I want a laptop",
        "The surface of the table",
        "I envy you",
        "a dead pixel",
        "PlayStation Plus costs more",
    ]
    gadgets = ["my iPhone 12 died", "the Pixel 7 camera"]
    texts = write_texts(tmp_path / "t.json", hard + gadgets)
    code, output, results = run_bootstrap(tmp_path, [texts], patterns)
    assert code == 0, output
    assert sorted(matched_texts(results["annotations"])) == sorted(gadgets)
    # every hard negative ends up without a match: as a negative or as a rehearsal text
    assert sorted(negative_texts(results["annotations"]) + results["rehearsal"]) == sorted(hard)


def test_course_file_when_present(tmp_path):
    """The real course file, read where it is (nothing copied), gives the embedded copy's result."""
    path = SHARED_DATA / "course-iphone.json"
    if not path.exists():
        pytest.skip(f"{path} not found: the spaCy course's iphone.json is optional (`spacy project assets --extra`)")
    assert srsly.read_json(path) == COURSE_TEXTS
    code, output, results = run_bootstrap(tmp_path, [path], COURSE_PATTERNS)
    assert code == 0, output
    assert results["annotations"] == COURSE_RECORDS


# --- sampling: negatives, caps, rehearsal and held-out texts ----------------------


def synthetic(prefix: str, n_matched: int, n_unmatched: int):
    """Texts that match COURSE_PATTERNS (one iPhone X each) and texts that match nothing."""
    matched = [f"{prefix} review {i}: the iPhone X is fine" for i in range(n_matched)]
    unmatched = [f"{prefix} plain sentence number {i}" for i in range(n_unmatched)]
    return matched, unmatched


def interleaved(matched, unmatched, seed=0):
    texts = matched + unmatched
    random.Random(seed).shuffle(texts)
    return texts


def test_negatives_follow_the_ratio_per_file_and_outputs_are_disjoint(tmp_path):
    a_matched, a_unmatched = synthetic("a", 4, 20)
    b_matched, b_unmatched = synthetic("b", 1, 20)
    a = write_texts(tmp_path / "a.txt", interleaved(a_matched, a_unmatched))
    b = write_texts(tmp_path / "b.jsonl", interleaved(b_matched, b_unmatched))
    options = ["--negative-ratio", 2, "--rehearsal-texts", 5, "--heldout-texts", 3]
    code, output, results = run_bootstrap(tmp_path, [a, b], COURSE_PATTERNS, *options)
    assert code == 0, output
    records = results["annotations"]
    # per file: its matched texts (sorted), then its negatives (sorted)
    a_records, b_records = records[:12], records[12:]
    assert len(records) == 4 + 8 + 1 + 2
    assert [r[0] for r in a_records[:4]] == sorted(a_matched)
    assert all(r[1]["entities"] == [[len(r[0]) - 16, len(r[0]) - 8, "GADGET"]] for r in records if r[1]["entities"])
    assert negative_texts(a_records) == sorted(negative_texts(a_records)) and len(negative_texts(a_records)) == 8
    assert set(negative_texts(a_records)) <= set(a_unmatched)
    assert [r[0] for r in b_records[:1]] == b_matched
    assert len(negative_texts(b_records)) == 2 and set(negative_texts(b_records)) <= set(b_unmatched)
    rehearsal, heldout = results["rehearsal"], results["heldout"]
    assert len([t for t in rehearsal if t in a_unmatched]) == 5 and len([t for t in rehearsal if t in b_unmatched]) == 5
    assert len([t for t in heldout if t in a_unmatched]) == 3 and len([t for t in heldout if t in b_unmatched]) == 3
    # only texts without a match, and no text in two outputs
    negatives = negative_texts(records)
    assert set(rehearsal) | set(heldout) <= set(a_unmatched + b_unmatched)
    assert len(set(negatives) | set(rehearsal) | set(heldout)) == len(negatives) + len(rehearsal) + len(heldout)
    assert "a.txt 24 4 4 0 8 5 3" in output and "b.jsonl 21 1 1 0 2 5 3" in output


def test_caps_on_matched_texts_and_negatives(tmp_path):
    a_matched, a_unmatched = synthetic("a", 6, 30)
    a = write_texts(tmp_path / "a.txt", interleaved(a_matched, a_unmatched))
    options = [
        "--max-matched",
        2,
        "--max-negatives",
        3,
        "--negative-ratio",
        10,
        "--rehearsal-texts",
        10,
        "--heldout-texts",
        4,
    ]
    code, output, results = run_bootstrap(tmp_path, [a], COURSE_PATTERNS, *options)
    assert code == 0, output
    records = results["annotations"]
    assert len(matched_texts(records)) == 2 and set(matched_texts(records)) <= set(a_matched)
    assert len(negative_texts(records)) == 3
    # texts without a match left over go to rehearsal first, then to the held-out texts
    assert len(results["rehearsal"]) == 10 and len(results["heldout"]) == 4
    assert "a.txt 36 6 2 4 3 10 4" in output


def test_zero_negative_ratio_keeps_only_matched_texts(tmp_path):
    a_matched, a_unmatched = synthetic("a", 3, 5)
    a = write_texts(tmp_path / "a.txt", a_matched + a_unmatched)
    code, output, results = run_bootstrap(tmp_path, [a], COURSE_PATTERNS, "--negative-ratio", 0)
    assert code == 0, output
    assert [r[0] for r in results["annotations"]] == sorted(a_matched)
    assert sorted(results["rehearsal"]) == sorted(a_unmatched)


def test_excluded_texts_are_never_used_and_counted(tmp_path):
    a_matched, a_unmatched = synthetic("a", 5, 10)
    a = write_texts(tmp_path / "a.txt", a_matched + a_unmatched)
    # a hand-checked evaluation set as span records, and a course-format file
    checked = tmp_path / "checked.jsonl"
    srsly.write_jsonl(checked, [{"text": a_matched[0], "spans": [{"start": 18, "end": 26, "label": "GADGET"}]}])
    course = tmp_path / "course.json"
    srsly.write_json(course, [[a_unmatched[0], {"entities": []}], [a_unmatched[1], {"entities": []}]])
    options = ["--exclude", checked, "--exclude", course, "--rehearsal-texts", 2, "--heldout-texts", 2]
    code, output, results = run_bootstrap(tmp_path, [a], COURSE_PATTERNS, *options)
    assert code == 0, output
    excluded = {a_matched[0], a_unmatched[0], a_unmatched[1]}
    used = [r[0] for r in results["annotations"]] + results["rehearsal"] + results["heldout"]
    assert sorted(used) == sorted(set(a_matched + a_unmatched) - excluded)
    assert "3 excluded (evaluation texts)" in output
    assert "a.txt 12 4 4 0 4 2 2" in output


def test_same_seed_same_outputs_other_seed_other_sample(tmp_path):
    matched, unmatched = synthetic("s", 30, 300)
    a = write_texts(tmp_path / "a.txt", interleaved(matched, unmatched))
    shuffled = write_texts(tmp_path / "shuffled" / "a.txt", interleaved(matched, unmatched, seed=1))
    options = ["--max-matched", 20, "--rehearsal-texts", 40, "--heldout-texts", 10]

    def outputs(texts, seed, out_name):
        code, output, _ = run_bootstrap(tmp_path, [texts], COURSE_PATTERNS, *options, "--seed", seed, out_name=out_name)
        assert code == 0, output
        return {name: (tmp_path / out_name / filename).read_bytes() for name, filename in OUTPUT_NAMES.items()}

    first = outputs(a, 0, "first")
    assert outputs(a, 0, "again") == first
    # the sample depends on the texts, not on their order in the file
    assert outputs(shuffled, 0, "shuffled_out") == first
    other = outputs(a, 1, "other")
    for name in OUTPUT_NAMES:
        assert other[name] != first[name], name


# --- inputs: folders, several files, BOM -----------------------------------------


def test_folder_input_reads_its_text_files(tmp_path):
    folder = tmp_path / "raw"
    write_texts(folder / "a.txt", ["iPhone X from txt", "plain txt"])
    write_texts(folder / "b.json", ["iPhone 8 from json"])
    write_texts(folder / "c.jsonl", ["iPhone 11 from jsonl", "plain jsonl"])
    (folder / "notes.md").write_text("iPhone X in notes\n", encoding="utf8")
    write_texts(folder / "sub" / "d.txt", ["iPhone X in a subfolder"])  # read, as annotations in subfolders are
    write_texts(folder / ".cache" / "e.txt", ["iPhone X in a hidden folder"])  # hidden: left out
    code, output, results = run_bootstrap(tmp_path, [folder], COURSE_PATTERNS, "--negative-ratio", 0)
    assert code == 0, output
    assert [r[0] for r in results["annotations"]] == [
        "iPhone X from txt",
        "iPhone 8 from json",
        "iPhone 11 from jsonl",
        "iPhone X in a subfolder",
    ]
    assert sorted(results["rehearsal"]) == ["plain jsonl", "plain txt"]
    assert "a.txt 2 1" in output and "b.json 1 1" in output and "c.jsonl 2 1" in output


def test_empty_folder_fails(tmp_path):
    (tmp_path / "raw").mkdir()
    code, output, results = run_bootstrap(tmp_path, [tmp_path / "raw"], COURSE_PATTERNS)
    assert code == 1 and "no .txt, .json or .jsonl files in this folder" in output
    assert results == {name: None for name in OUTPUT_NAMES}


@pytest.mark.parametrize("name", ["t.txt", "t.json", "t.jsonl"])
def test_file_with_utf8_bom(tmp_path, name):
    texts = write_texts(tmp_path / name, ["iPhone X rocks", "no gadget"], bom=True)
    code, output, results = run_bootstrap(tmp_path, [texts], COURSE_PATTERNS)
    assert code == 0, output
    assert results["annotations"] == [
        ["iPhone X rocks", {"entities": [[0, 8, "GADGET"]]}],
        ["no gadget", {"entities": []}],
    ]


def test_bootstrap_never_writes_over_its_raw_texts(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("my iphone x broke\n", encoding="utf8")
    patterns = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(patterns, [{"label": "GADGET", "pattern": "iphone x"}])
    code, output = run_cli(bootstrap.main, [raw, "--patterns", patterns, "--output", raw])
    assert code == 1 and "would overwrite an input" in output
    assert raw.read_text(encoding="utf8") == "my iphone x broke\n"
