"""bootstrap: Matcher patterns over raw texts, longest match wins, counts reported."""
from pathlib import Path

import srsly

import bootstrap
from conftest import ROOT, run_cli

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


def run_bootstrap(tmp_path: Path, texts, patterns, name="texts.json"):
    texts_path = tmp_path / name
    if name.endswith(".txt"):
        texts_path.write_text("\n".join(texts), encoding="utf8")
    else:
        srsly.write_json(texts_path, texts)
    patterns_path = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(patterns_path, patterns)
    out = tmp_path / "out.json"
    code, output = run_cli(bootstrap.main, [texts_path, patterns_path, out])
    return code, output, (srsly.read_json(out) if out.exists() else None)


def test_course_texts_one_span_per_mention(tmp_path):
    code, output, records = run_bootstrap(tmp_path, COURSE_TEXTS, COURSE_PATTERNS)
    assert code == 0, output
    assert records == [
        ["How to preorder the iPhone X", {"entities": [[20, 28, "GADGET"]]}],
        ["iPhone X is coming", {"entities": [[0, 8, "GADGET"]]}],
        ["Should I pay $1,000 for the iPhone X?", {"entities": [[28, 36, "GADGET"]]}],
        ["The iPhone 8 reviews are here", {"entities": [[4, 12, "GADGET"]]}],
        ["iPhone 11 vs iPhone 8: What's the difference?", {"entities": [[0, 9, "GADGET"], [13, 21, "GADGET"]]}],
        ["I need a new phone! Any tips?", {"entities": []}],
    ]
    # the course's v2 loop would also have kept (20, 26) for "iPhone" inside "iPhone X"
    assert "GADGET 6" in output
    assert "1 of 6 texts got no match" in output
    assert "overlapping matches resolved" in output


def test_counts_per_pattern_and_phrase_patterns(tmp_path):
    patterns = COURSE_PATTERNS + [{"label": "GADGET", "pattern": "galaxy s8"}]
    code, output, records = run_bootstrap(tmp_path, ["my Galaxy S8 and iPhone X", "nothing here"], patterns, "t.txt")
    assert code == 0, output
    assert records[0][1]["entities"] == [[3, 12, "GADGET"], [17, 25, "GADGET"]]
    # one row per pattern line: line 1 matched once, line 2's shorter match lost, line 3 (phrase) matched
    assert "line 1 GADGET 1" in output and "line 2 GADGET 0" in output and "line 3 GADGET 1" in output
    assert "1 patterns matched nothing: line 2" in output


def test_labels_come_from_the_patterns(tmp_path):
    patterns = [
        {"label": "SYMPTOM", "pattern": [{"LOWER": "chest"}, {"LOWER": "pain"}]},
        {"label": "DISEASE", "pattern": "hyperthyroidism"},
    ]
    code, output, records = run_bootstrap(tmp_path, ["A patient with chest pain had hyperthyroidism."], patterns)
    assert code == 0, output
    assert records[0][1]["entities"] == [[15, 25, "SYMPTOM"], [30, 45, "DISEASE"]]


def test_duplicate_and_blank_texts_are_counted(tmp_path):
    code, output, records = run_bootstrap(tmp_path, ["iPhone X", "", "iPhone X", "hi"], COURSE_PATTERNS, "t.txt")
    assert code == 0, output
    assert [r[0] for r in records] == ["iPhone X", "hi"]
    assert "1 duplicate texts merged, 1 blank lines skipped" in output


def test_bad_pattern_file_fails(tmp_path):
    code, output, records = run_bootstrap(tmp_path, COURSE_TEXTS, [{"label": "", "pattern": "x"}])
    assert code == 1 and records is None
    assert "line 1: empty or malformed label ''" in output
    code, output, records = run_bootstrap(tmp_path, COURSE_TEXTS, [{"label": "G", "pattern": [{"LOWR": "x"}]}])
    assert code == 1 and records is None
    assert "line 1: invalid token pattern" in output


def test_demo_patterns_leave_hard_negatives_alone(tmp_path):
    patterns = list(srsly.read_jsonl(ROOT / "assets" / "gadget_patterns.jsonl"))
    texts = ["Apple said demand was weak.", "my phone died", "Android is fine", "I want a laptop",
             "The surface of the table", "I envy you", "a dead pixel", "PlayStation Plus costs more"]
    code, output, records = run_bootstrap(tmp_path, texts, patterns)
    assert code == 0, output
    assert all(r[1]["entities"] == [] for r in records)


def test_course_file_when_present(tmp_path):
    """The real course file gives the same result as the embedded copy."""
    import pytest
    from conftest import SHARED_DATA
    from copy_shared_assets import copy_shared_assets

    if "assets/course-iphone.json" not in copy_shared_assets(SHARED_DATA):
        pytest.skip("assets/course-iphone.json not available (run `spacy project assets --extra`)")
    assert srsly.read_json(ROOT / "assets" / "course-iphone.json") == COURSE_TEXTS
