"""annotate: pipeline suggestions vs patterns, disagreements first, convert round trip, bad input, review page."""

from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin

import annotate
import convert
from conftest import run_cli
from ner_update.scale.jobs import entity_components

# what the stand-in pipeline and the patterns find in each text
AGREE = "Alice bought an iPhone X yesterday."  # both find iPhone X; the pipeline also finds Alice (PERSON)
PIPELINE_ONLY = "The Pixel 7 is great."  # the pipeline finds Pixel 7, the patterns nothing
NOTHING = "I need a new phone."
PATTERNS_ONLY = "My galaxy s9 broke."  # the patterns find galaxy s9, the pipeline nothing
PERSON_ONLY = "Alice likes Paris."
TEXTS = [AGREE, PIPELINE_ONLY, NOTHING, PATTERNS_ONLY, PERSON_ONLY]

PATTERNS = [
    {"label": "GADGET", "pattern": [{"LOWER": "iphone"}, {"LOWER": "x"}]},
    {"label": "GADGET", "pattern": "galaxy s9"},
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """Stands in for a trained pipeline: a blank English pipeline with an entity_ruler."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "GADGET", "pattern": "iPhone X"},
            {"label": "GADGET", "pattern": "Pixel 7"},
            {"label": "PERSON", "pattern": "Alice"},
        ]
    )
    path = tmp_path_factory.mktemp("pipeline") / "model"
    nlp.to_disk(path)
    return path


def write_inputs(tmp_path: Path, texts=TEXTS, patterns=PATTERNS) -> tuple:
    texts_path = tmp_path / "texts.txt"
    texts_path.write_text("\n".join(texts) + "\n", encoding="utf8")
    patterns_path = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(patterns_path, patterns)
    return texts_path, patterns_path


def run_annotate(model, inputs, *extra, output=None):
    output = output or inputs[0].parent / "out" / "review.jsonl"
    code, out = run_cli(annotate.main, [model, *inputs, "--output", output, *extra])
    records = list(srsly.read_jsonl(output)) if output.exists() else None
    return code, out, records


def spans(*triples):
    return [{"start": s, "end": e, "label": label} for s, e, label in triples]


def test_disagreements_first_then_input_order(tmp_path, model):
    texts_path, patterns_path = write_inputs(tmp_path, texts=[AGREE, "", PIPELINE_ONLY, NOTHING, PATTERNS_ONLY, AGREE])
    code, out, records = run_annotate(model, [texts_path], "--patterns", patterns_path)
    assert code == 0, out
    assert [r["text"] for r in records] == [PIPELINE_ONLY, PATTERNS_ONLY, AGREE, NOTHING]
    first, second, third, _ = records
    assert first["spans"] == spans((4, 11, "GADGET"))
    assert first["meta"] == {
        "source": "texts.txt",
        "line": 3,  # the blank line 2 is skipped but counted
        "pipeline": str(model),
        "disagreement": True,
        "pattern_spans": [],
        "pipeline_spans": spans((4, 11, "GADGET")),
    }
    assert second["spans"] == [] and second["meta"]["pattern_spans"] == spans((3, 12, "GADGET"))
    assert second["meta"]["line"] == 5
    # the labels default to the patterns' labels: Alice (PERSON) is left out
    assert third["spans"] == spans((16, 24, "GADGET")) and third["meta"]["disagreement"] is False
    assert "texts 4" in out and "with pipeline entities 2" in out and "disagreements 2" in out
    assert "records written 4" in out and "1 duplicate texts merged, 1 blank lines skipped" in out


def test_only_disagreements_and_limit(tmp_path, model):
    texts_path, patterns_path = write_inputs(tmp_path)
    code, out, records = run_annotate(model, [texts_path], "--patterns", patterns_path, "--only-disagreements")
    assert code == 0, out
    assert [r["text"] for r in records] == [PIPELINE_ONLY, PATTERNS_ONLY]
    assert all(r["meta"]["disagreement"] for r in records)
    code, out, records = run_annotate(model, [texts_path], "--patterns", patterns_path, "--limit", "3")
    assert code == 0, out
    assert [r["text"] for r in records] == [PIPELINE_ONLY, PATTERNS_ONLY, AGREE]
    assert "records written 3" in out
    code, out, _ = run_annotate(model, [texts_path], "--only-disagreements", output=tmp_path / "x.jsonl")
    assert code == 1 and "needs --patterns" in out and not (tmp_path / "x.jsonl").exists()


def test_label_restriction(tmp_path, model):
    texts_path, patterns_path = write_inputs(tmp_path)
    # without patterns: every label, nothing flagged
    code, out, records = run_annotate(model, [texts_path])
    assert code == 0, out
    assert [r["text"] for r in records] == TEXTS
    assert records[0]["spans"] == spans((0, 5, "PERSON"), (16, 24, "GADGET"))
    assert all(r["meta"]["disagreement"] is False and r["meta"]["pattern_spans"] is None for r in records)
    # --labels keeps only those, in both views
    code, out, records = run_annotate(model, [texts_path], "--labels", "PERSON")
    assert code == 0, out
    by_text = {r["text"]: r["spans"] for r in records}
    assert by_text[AGREE] == spans((0, 5, "PERSON")) and by_text[PIPELINE_ONLY] == []
    code, out, records = run_annotate(model, [texts_path], "--patterns", patterns_path, "--labels", "GADGET, PERSON")
    assert code == 0, out
    assert {r["text"]: r["spans"] for r in records}[AGREE] == spans((0, 5, "PERSON"), (16, 24, "GADGET"))
    # Alice is now a disagreement too: the patterns have no PERSON
    assert [r["text"] for r in records if r["meta"]["disagreement"]] == [
        AGREE,
        PIPELINE_ONLY,
        PATTERNS_ONLY,
        PERSON_ONLY,
    ]
    code, out, _ = run_annotate(model, [texts_path], "--labels", "PRODUCT")
    assert code == 0 and "no entity component that knows PRODUCT" in out
    code, out, _ = run_annotate(model, [texts_path], "--labels", "MY LABEL", output=tmp_path / "x.jsonl")
    assert code == 1 and "without spaces" in out and not (tmp_path / "x.jsonl").exists()
    code, out, _ = run_annotate(model, [texts_path], "--labels", "___", output=tmp_path / "x.jsonl")
    assert code == 1 and "with at least one letter or digit" in out and not (tmp_path / "x.jsonl").exists()


def test_round_trip_through_convert(tmp_path, model):
    jsonl_texts = tmp_path / "texts.jsonl"
    srsly.write_jsonl(jsonl_texts, [{"text": t} for t in TEXTS])
    _, patterns_path = write_inputs(tmp_path)
    output = tmp_path / "review.jsonl"
    code, out, records = run_annotate(
        model, [jsonl_texts], "--patterns", patterns_path, "--labels", "GADGET,PERSON", output=output
    )
    assert code == 0, out
    assert [r["meta"]["line"] for r in records if not r["meta"]["disagreement"]] == [3]  # NOTHING, line 3
    corpus = tmp_path / "corpus"
    code, out = run_cli(
        convert.main, [output, "--train-output", corpus / "train.spacy", "--dev-output", corpus / "dev.spacy"]
    )
    assert code == 0, out
    nlp = spacy.blank("en")
    docs = [
        doc for name in ("train", "dev") for doc in DocBin().from_disk(corpus / f"{name}.spacy").get_docs(nlp.vocab)
    ]
    converted = {doc.text: [(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in docs}
    written = {r["text"]: [(s["start"], s["end"], s["label"]) for s in r["spans"]] for r in records}
    assert converted == written
    assert sum(len(v) for v in written.values()) == 4  # Alice twice, iPhone X, Pixel 7


def test_review_page_has_both_views_and_no_external_resources(tmp_path, model):
    texts_path, patterns_path = write_inputs(tmp_path)
    page_path = tmp_path / "review.html"
    code, out, _ = run_annotate(model, [texts_path], "--patterns", patterns_path, "--html", page_path)
    assert code == 0, out
    page = page_path.read_text(encoding="utf8")
    assert page.count("<div class='name'>pipeline</div>") == len(TEXTS)
    assert page.count("<div class='name'>patterns</div>") == len(TEXTS)
    assert page.count('<mark class="entity"') == 4  # pipeline: iPhone X, Pixel 7; patterns: iPhone X, galaxy s9
    assert "<td>disagreements</td><td>2</td>" in page and "<td>texts</td><td>5</td>" in page
    assert page.index("The Pixel 7 is great") < page.index("My galaxy s9") < page.index("I need a new phone")
    lowered = page.lower()
    assert "<script" not in lowered and "<link" not in lowered and "src=" not in lowered and "@import" not in lowered


def test_html_escapes_text(tmp_path, model):
    texts_path, patterns_path = write_inputs(tmp_path, texts=["<b>My galaxy s9</b> & more"])
    page_path = tmp_path / "review.html"
    code, out, _ = run_annotate(model, [texts_path], "--patterns", patterns_path, "--html", page_path)
    assert code == 0, out
    page = page_path.read_text(encoding="utf8")
    assert "<b>" not in page and "&lt;b&gt;" in page


def test_missing_pipeline_fails_without_output(tmp_path):
    texts_path, patterns_path = write_inputs(tmp_path)
    output, page = tmp_path / "out.jsonl", tmp_path / "out.html"
    code, out, _ = run_annotate(
        tmp_path / "no_such_model", [texts_path], "--patterns", patterns_path, "--html", page, output=output
    )
    assert code == 1 and "not found" in out
    assert not output.exists() and not page.exists()


@pytest.mark.parametrize(
    "line,expected",
    [
        ('{"label": "GADGET", "pattern": [{"LOWER": "pixel"}]', "line 2"),  # invalid JSON
        ('{"label": "", "pattern": "pixel"}', "line 2: empty or malformed label"),
        ('{"label": "GADGET"}', "line 2: expected"),
        ('{"label": "GADGET", "pattern": [{"LOWERR": "pixel"}]}', "line 2: invalid pattern"),  # fails validation
    ],
)
def test_malformed_patterns_fail_naming_file_and_line(tmp_path, model, line, expected):
    texts_path, patterns_path = write_inputs(tmp_path)
    patterns_path.write_text(srsly.json_dumps(PATTERNS[0]) + "\n" + line + "\n", encoding="utf8")
    output, page = tmp_path / "out.jsonl", tmp_path / "out.html"
    code, out, _ = run_annotate(model, [texts_path], "--patterns", patterns_path, "--html", page, output=output)
    assert code == 1, out
    assert "patterns.jsonl" in out and expected in out
    assert not output.exists() and not page.exists()


def test_bad_text_record_fails_naming_file_and_line(tmp_path, model):
    texts_path = tmp_path / "texts.jsonl"
    texts_path.write_text('{"text": "fine"}\n\n{"txt": "typo"}\n', encoding="utf8")
    output = tmp_path / "out.jsonl"
    code, out, _ = run_annotate(model, [texts_path], output=output)
    assert code == 1 and "texts.jsonl: line 3" in out
    assert not output.exists()


def test_record_numbers_of_json_and_several_files(tmp_path, model):
    json_path = tmp_path / "a.json"
    srsly.write_json(json_path, ["", PIPELINE_ONLY, {"text": NOTHING}])
    txt_path = tmp_path / "b.txt"
    txt_path.write_text(f"{NOTHING}\n\n{AGREE}\n", encoding="utf8")
    code, out, records = run_annotate(model, [json_path, txt_path])
    assert code == 0, out
    assert [(r["meta"]["source"], r["meta"]["line"]) for r in records] == [("a.json", 2), ("a.json", 3), ("b.txt", 3)]


def test_only_the_ner_and_what_it_listens_to_run():
    nlp = spacy.blank("en")
    for name in ("tok2vec", "tagger", "parser", "ner"):
        nlp.add_pipe(name)
    assert entity_components(nlp) == ["ner"]  # the default ner has its own tok2vec
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "*"}
    nlp.add_pipe(
        "ner",
        name="ner2",
        config={
            "model": {
                "@architectures": "spacy.TransitionBasedParser.v2",
                "state_type": "ner",
                "extra_state_tokens": False,
                "hidden_width": 64,
                "maxout_pieces": 2,
                "use_upper": True,
                "tok2vec": listener,
            }
        },
    )
    assert entity_components(nlp) == ["tok2vec", "ner", "ner2"]  # ner2 listens to tok2vec
    nlp.add_pipe("entity_ruler")  # a ruler may match on tags: run everything
    assert entity_components(nlp) == nlp.pipe_names
