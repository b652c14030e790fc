"""convert reads what annotation tools export: Prodigy's answers, Label Studio, doccano;
a binary reject changes what a sourced ner learns."""

import json
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.cli.init_config import fill_config
from spacy.cli.train import train
from spacy.tokens import DocBin

import convert
from conftest import run_cli
from ner_update.registered import registered

registered("functions")  # registers ner_update.incorrect_spans_key.v1

# the issue's three records, as Prodigy exports them
PRODIGY = [
    {"text": "I love my iPhone X so much", "spans": [{"start": 10, "end": 18, "label": "GADGET", "token_start": 3, "token_end": 4}], "answer": "accept"},
    {"text": "My hero is my dad", "spans": [{"start": 3, "end": 7, "label": "GADGET", "token_start": 1, "token_end": 1}], "answer": "reject"},
    {"text": "The Pixel 7 is nice", "spans": [{"start": 4, "end": 11, "label": "GADGET", "token_start": 1, "token_end": 2}], "answer": "ignore"},
]  # fmt: skip


def write_jsonl(path: Path, records) -> Path:
    srsly.write_jsonl(path, records)
    return path


def convert_all(tmp_path: Path, *inputs, extra=()):
    """Run convert with --output (no split); return (exit code, output, {text: doc})."""
    out = tmp_path / "out" / "all.spacy"
    code, output = run_cli(convert.main, [*inputs, "--output", out, *extra])
    if code != 0:
        assert not out.exists()
        return code, output, {}
    docs = DocBin().from_disk(out).get_docs(spacy.blank("en").vocab)
    return code, output, {doc.text: doc for doc in docs}


def ents(doc) -> list:
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def incorrect(doc) -> list:
    return [(s.start_char, s.end_char, s.label_) for s in doc.spans.get("incorrect_spans", [])]


def missing(doc) -> list:  # tokens whose entity annotation is unknown
    return [t.text for t in doc if t.ent_iob == 0]


# --- Prodigy ------------------------------------------------------------------


def test_prodigy_answers_from_the_issue(tmp_path):
    code, output, docs = convert_all(tmp_path, write_jsonl(tmp_path / "p.jsonl", PRODIGY))
    assert code == 0, output
    assert set(docs) == {"I love my iPhone X so much", "My hero is my dad"}  # the ignored record is left out
    accepted, rejected = docs["I love my iPhone X so much"], docs["My hero is my dad"]
    # a binary accept: the span is an entity, the rest of the text unknown (not O)
    assert ents(accepted) == [(10, 18, "GADGET")] and missing(accepted) == ["I", "love", "my", "so", "much"]
    # a binary reject: "hero" is known not to be a GADGET; nothing else is known
    assert ents(rejected) == [] and incorrect(rejected) == [(3, 7, "GADGET")]
    assert missing(rejected) == ["My", "hero", "is", "my", "dad"]
    assert "1 ignored answers (Prodigy)" in output
    assert "binary answers: texts 2 0 rejected spans 1 0" in output


def test_prodigy_manual_answers(tmp_path):
    text = "The iPhone X and the Pixel 7"
    spans = [{"start": 4, "end": 12, "label": "GADGET"}, {"start": 21, "end": 28, "label": "GADGET"}]
    records = [
        {"text": text, "spans": spans, "answer": "accept", "_view_id": "ner_manual"},
        {"text": "I need a phone", "spans": [], "answer": "accept", "_view_id": "ner_manual"},
        {"text": "Bad one", "spans": [{"start": 0, "end": 3, "label": "GADGET"}], "answer": "reject", "_view_id": "ner_manual"},
        {"text": "Bad two", "spans": spans[:0], "answer": "reject"},  # no span: a manual task
    ]  # fmt: skip
    code, output, docs = convert_all(tmp_path, write_jsonl(tmp_path / "p.jsonl", records))
    assert code == 0, output
    assert set(docs) == {text, "I need a phone"}  # rejected manual answers are skipped
    assert ents(docs[text]) == [(4, 12, "GADGET"), (21, 28, "GADGET")] and missing(docs[text]) == []
    assert missing(docs["I need a phone"]) == []  # an accepted empty manual answer: no entities at all
    assert "2 rejected manual answers (Prodigy)" in output


def test_binary_answers_on_one_text_are_merged(tmp_path):
    text = "I love my iPhone X and my dad"
    iphone, dad = {"start": 10, "end": 18, "label": "GADGET"}, {"start": 26, "end": 29, "label": "GADGET"}
    records = [
        {"text": text, "spans": [iphone], "answer": "accept", "_view_id": "ner"},
        {"text": text, "spans": [dad], "answer": "reject", "_view_id": "ner"},
        {"text": text, "spans": [dad], "answer": "reject", "_view_id": "ner"},
    ]
    code, output, docs = convert_all(tmp_path, write_jsonl(tmp_path / "p.jsonl", records))
    assert code == 0, output
    assert ents(docs[text]) == [(10, 18, "GADGET")] and incorrect(docs[text]) == [(26, 29, "GADGET")]
    assert "2 binary answers merged with another record of the same text" in output


@pytest.mark.parametrize(
    "second,merged",
    [
        ({"spans": [{"start": 10, "end": 18, "label": "GADGET"}], "answer": "reject", "_view_id": "ner"}, False),
        ({"spans": [{"start": 10, "end": 18, "label": "GADGET"}], "answer": "accept", "_view_id": "ner"}, True),
        ({"spans": [{"start": 2, "end": 6, "label": "GADGET"}], "answer": "accept", "_view_id": "ner"}, False),
        ({"spans": [{"start": 2, "end": 6, "label": "GADGET"}], "answer": "reject", "_view_id": "ner"}, True),
    ],
)
def test_binary_answers_must_agree_with_a_full_annotation(tmp_path, second, merged):
    text = "I love my iPhone X so much"
    full = [text, {"entities": [[10, 18, "GADGET"]]}]
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(full) + "\n" + json.dumps({"text": text, **second}) + "\n", encoding="utf8")
    code, output, docs = convert_all(tmp_path, path)
    if merged:
        assert code == 0, output
        assert ents(docs[text]) == [(10, 18, "GADGET")] and missing(docs[text]) == []
    else:
        assert code == 1 and f"{path}: line 2: the same text is annotated differently in {path}: line 1" in output


@pytest.mark.parametrize(
    "change,problem",
    [
        ({"token_end": 3}, "token_start 3 and token_end 3 do not match the character offsets of span [10, 18"),
        ({"tokens": [{"text": "I", "start": 0, "end": 1, "id": 0}]}, "token_start 3 and token_end 4 do not match"),
        (
            {"tokens": [{"text": "You", "start": 0, "end": 1, "id": 0}]},
            "token 0 'You' does not match the text at its offsets [0, 1]: 'I'",
        ),
    ],
)
def test_prodigy_tokens_are_checked(tmp_path, change, problem):
    record = json.loads(json.dumps(PRODIGY[0]))
    if "tokens" in change:
        record["tokens"] = change["tokens"]
    else:
        record["spans"][0].update(change)
    path = write_jsonl(tmp_path / "p.jsonl", [PRODIGY[2], record])
    code, output, _ = convert_all(tmp_path, path)
    assert code == 1
    assert f"{path}: line 2: {problem}" in output and "text: 'I love my iPhone X so much'" in output


def test_prodigy_tokens_that_match_pass(tmp_path):
    nlp = spacy.blank("en")
    record = json.loads(json.dumps(PRODIGY[0]))
    record["tokens"] = [{"text": t.text, "start": t.idx, "end": t.idx + len(t), "id": t.i} for t in nlp(record["text"])]
    code, output, docs = convert_all(tmp_path, write_jsonl(tmp_path / "p.jsonl", [record]))
    assert code == 0, output
    assert ents(docs[record["text"]]) == [(10, 18, "GADGET")]


def test_unknown_answer_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{**PRODIGY[0], "answer": "maybe"}])
    code, output, _ = convert_all(tmp_path, path)
    assert code == 1 and f"{path}: line 1: unknown answer 'maybe'" in output


# --- Label Studio and doccano -------------------------------------------------


def label_studio_task(text, *annotations, cancelled=()):
    results = [[{"from_name": "label", "to_name": "text", "type": "labels", "value": {"start": s, "end": e, "labels": [label]}} for s, e, label in spans] for spans in annotations]  # fmt: skip
    return {
        "id": 1,
        "data": {"text": text},
        "annotations": [
            {"id": i, "was_cancelled": i in cancelled, "result": r} for i, r in enumerate(results, start=1)
        ],
        "predictions": [],
    }


def test_label_studio_export(tmp_path):
    export = [
        label_studio_task("I love my iPhone X so much", [(10, 18, "GADGET")]),
        label_studio_task("The Pixel 7 is nice", [(4, 11, "GADGET")], [(0, 3, "GADGET")], cancelled=(2,)),
        label_studio_task("Nothing to see", []),
    ]
    path = tmp_path / "export.data"  # detected by content, not by name
    path.write_text(json.dumps(export), encoding="utf8")
    code, output, docs = convert_all(tmp_path, path)
    assert code == 0, output
    assert {text: ents(doc) for text, doc in docs.items()} == {
        "I love my iPhone X so much": [(10, 18, "GADGET")],
        "The Pixel 7 is nice": [(4, 11, "GADGET")],
        "Nothing to see": [],
    }
    assert "1 cancelled annotations (Label Studio)" in output


@pytest.mark.parametrize(
    "task,problem",
    [
        (label_studio_task("I love my iPhone X", [(12, 18, "GADGET")]), "span [12, 18, 'GADGET'] 'hone X' is not on token"),
        ({"data": {"txt": "a"}, "annotations": []}, "missing or non-string text: None"),
        (
            {"data": {"text": "My iPhone X"}, "annotations": [{"result": [{"value": {"start": 3, "end": 11, "labels": ["A", "B"]}}]}]},
            "annotation 1: a Label Studio span needs start, end and exactly one label",
        ),
        (label_studio_task("I love my iPhone X", [(10, 18, "-")]), "empty or malformed label '-'"),
    ],
)  # fmt: skip
def test_bad_label_studio_task(tmp_path, task, problem):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([label_studio_task("ok text", []), task]), encoding="utf8")
    code, output, _ = convert_all(tmp_path, path)
    assert code == 1 and f"{path}: record 2: " in output and problem in output


def test_label_studio_annotators_who_disagree_conflict(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([label_studio_task("My iPhone X", [(3, 11, "GADGET")], [(3, 9, "GADGET")])]))
    code, output, _ = convert_all(tmp_path, path)
    assert code == 1
    assert (
        f"{path}: record 1 (annotation 2): the same text is annotated differently in {path}: record 1 (annotation 1)"
        in output
    )


def ls_result(kind: str, value: dict) -> dict:
    return {"from_name": "label", "to_name": "text", "type": kind, "value": value}


HTML_SPAN = {"start": "/p[1]/text()[1]", "end": "/p[1]/text()[1]", "startOffset": 10, "endOffset": 18, "text": "iPhone X"}  # fmt: skip
LS_SPAN = {"start": 10, "end": 18, "text": "iPhone X", "labels": ["GADGET"]}


@pytest.mark.parametrize(
    "text,annotation,problem",
    [
        ("I love my iPhone X", {"result": [ls_result("hypertextlabels", {**HTML_SPAN, "hypertextlabels": ["GADGET"]})]}, "Label Studio 'hypertextlabels' results are not supported: their offsets point into the HTML"),
        ("I love my iPhone X", {"result": [ls_result("labels", LS_SPAN), ls_result("htmllabels", {**HTML_SPAN, "htmllabels": ["GADGET"]})]}, "Label Studio 'htmllabels' results are not supported"),
        ("I love my iPhone X", {"result": [ls_result("paragraphlabels", {"start": 0, "end": 0, "paragraphlabels": ["GADGET"]})]}, "a Label Studio result of type 'paragraphlabels' is not supported"),
        ("I love my iPhone X", {"result": json.dumps([ls_result("labels", LS_SPAN)])}, 'Label Studio\'s "result" must be a list, got a string'),
        ("I love my iPhone X", {"result": ls_result("labels", LS_SPAN)}, 'Label Studio\'s "result" must be a list, got an object'),
        ("I love my iPhone X", {"result": None}, 'Label Studio\'s "result" must be a list, got null'),
        # Label Studio counts offsets in UTF-16 units (an emoji is two) and \r\n as one character
        ("I \U0001F60D my iPhone X so much", {"result": [ls_result("labels", {**LS_SPAN, "start": 8, "end": 16})]}, "Label Studio's span [8, 16] says 'iPhone X' but the text there is 'Phone X '"),
        ("Hello\r\nmy iPhone X", {"result": [ls_result("labels", {**LS_SPAN, "start": 9, "end": 17})]}, "Label Studio's span [9, 17] says 'iPhone X' but the text there is ' iPhone '"),
        ("I love my iPhone X", {"result": [], "was_cancelled": "no"}, "\"was_cancelled\" must be true or false, got 'no'"),
    ],
    ids=["hypertextlabels", "htmllabels", "paragraphlabels", "result-string", "result-object", "result-null", "emoji", "crlf", "cancelled-no"],
)  # fmt: skip
def test_label_studio_results_that_were_misread_are_bad_records(tmp_path, text, annotation, problem):
    """These were read as a text without entities (a complete negative), or, with offsets in
    UTF-16 units, as the wrong span: now each is a bad record, named, and left out with skip."""
    path = tmp_path / "export.json"
    task = {"id": 2, "data": {"text": text}, "annotations": [{"id": 1, **annotation}]}
    path.write_text(json.dumps([label_studio_task("ok text", []), task]), encoding="utf8")
    code, output, _ = convert_all(tmp_path, path)
    assert code == 1 and f"{path}: record 2: annotation 1: {problem}" in output, output
    code, output, docs = convert_all(tmp_path, path, extra=["--bad-records", "skip"])
    assert code == 0 and set(docs) == {"ok text"}, output
    assert f"{path}: record 2: annotation 1: " in output and "1 bad records skipped" in output


def test_label_studio_results_without_a_span_are_ignored_and_was_cancelled_may_be_a_string(tmp_path):
    span = ls_result("labels", LS_SPAN)
    choice = ls_result("choices", {"choices": ["positive"]})
    note = {**ls_result("textarea", {"text": ["a phone"]}), "id": "n1"}
    relation = {"from_id": "a", "to_id": "b", "type": "relation", "direction": "right"}
    tasks = [
        {"data": {"text": "I love my iPhone X"}, "annotations": [{"result": [choice, span, note, relation], "was_cancelled": "false"}]},
        {"data": {"text": "I need a phone"}, "annotations": [{"result": [choice], "was_cancelled": "TRUE"}]},
    ]  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf8")
    code, output, docs = convert_all(tmp_path, path)
    assert code == 0, output
    assert {text: ents(doc) for text, doc in docs.items()} == {"I love my iPhone X": [(10, 18, "GADGET")]}
    assert "1 cancelled annotations (Label Studio)" in output
    assert "3 Label Studio results without a span (choices, relations, ...)" in output


@pytest.mark.parametrize("view", ["blocks", "choice"])
def test_prodigy_answer_of_an_unknown_view_is_a_bad_record(tmp_path, view):
    """Read by its span count as a binary or manual answer before."""
    path = write_jsonl(tmp_path / "p.jsonl", [PRODIGY[0], {**PRODIGY[1], "_view_id": view}])
    code, output, _ = convert_all(tmp_path, path)
    problem = f"unknown Prodigy view {view!r} (_view_id): convert reads the binary views ner, spans and the manual views ner_manual, spans_manual"  # fmt: skip
    assert code == 1 and f"{path}: line 2: {problem}" in output, output
    code, output, docs = convert_all(tmp_path, path, extra=["--bad-records", "skip"])
    assert code == 0 and set(docs) == {PRODIGY[0]["text"]} and "1 bad records skipped" in output


def test_doccano_jsonl(tmp_path):
    records = [{"id": 7, "text": "I love my iPhone X so much", "label": [[10, 18, "GADGET"]], "Comments": []}]
    code, output, docs = convert_all(tmp_path, write_jsonl(tmp_path / "d.jsonl", records))
    assert code == 0, output
    assert ents(docs["I love my iPhone X so much"]) == [(10, 18, "GADGET")]


@pytest.mark.parametrize(
    "record,problem",
    [
        ({"text": "My iPhone X", "label": ["positive"]}, 'doccano\'s "label" must be a list of [start, end, label]'),
        ({"text": "My iPhone X", "label": [[3, 8, "GADGET"]]}, "span [3, 8, 'GADGET'] 'iPhon' is not on token"),
        ({"text": "My iPhone X", "label": [[3, 11, "GADGET"]], "spans": []}, "ambiguous record"),
    ],
)
def test_bad_doccano_record(tmp_path, record, problem):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "ok", "label": []}, record])
    code, output, _ = convert_all(tmp_path, path)
    assert code == 1 and f"{path}: line 2: " in output and problem in output and "text: 'My iPhone X'" in output
    code, output, docs = convert_all(tmp_path, path, extra=["--lenient"])
    assert code == 0 and set(docs) == {"ok"} and "1 bad records skipped" in output


# --- annotate's review file in the tools ---------------------------------------


REVIEW = {
    "text": "I love my iPhone X so much",
    "spans": [{"start": 10, "end": 18, "label": "GADGET"}],
    "meta": {"source": "texts.txt", "line": 3, "pipeline": "m", "disagreement": False},
}


def test_review_record_back_from_prodigy_is_gold(tmp_path):
    """What `prodigy ner.manual` exports after a review record is accepted: tokens and answer added."""
    nlp = spacy.blank("en")
    exported = json.loads(json.dumps(REVIEW))
    exported["tokens"] = [{"text": t.text, "start": t.idx, "end": t.idx + len(t), "id": t.i, "ws": bool(t.whitespace_)} for t in nlp(REVIEW["text"])]  # fmt: skip
    exported["spans"][0].update(token_start=3, token_end=4)
    exported.update(answer="accept", _view_id="ner_manual", _input_hash=1, _task_hash=2)
    code, output, docs = convert_all(tmp_path, write_jsonl(tmp_path / "p.jsonl", [exported]))
    assert code == 0, output
    doc = docs[REVIEW["text"]]
    assert ents(doc) == [(10, 18, "GADGET")] and missing(doc) == []  # a complete annotation


def test_label_studio_export_round_trip(tmp_path):
    """`export` turns annotate's review file into Label Studio tasks with the spans as predictions;
    a submitted export of them converts to the same spans."""
    import export

    (tmp_path / "corpus").mkdir()
    write_jsonl(tmp_path / "corpus" / "review.jsonl", [REVIEW])
    out = tmp_path / "corpus" / "review_label_studio.json"
    code, output = run_cli(export.main, [tmp_path / "corpus" / "review.jsonl", "--to", "label-studio", "--output", out])
    assert code == 0, output
    tasks = json.loads(out.read_text())
    assert tasks[0]["data"]["text"] == REVIEW["text"] and tasks[0]["data"]["meta"] == REVIEW.get("meta", {})
    for task in tasks:  # the annotator submits the suggestions as they are
        task["annotations"] = [{"id": 1, "result": task.pop("predictions")[0]["result"], "was_cancelled": False}]
    path = tmp_path / "ls_export.json"
    path.write_text(json.dumps(tasks), encoding="utf8")
    code, output, docs = convert_all(tmp_path, path)
    assert code == 0, output
    assert ents(docs[REVIEW["text"]]) == [(10, 18, "GADGET")]


# --- a binary reject changes what the ner learns -----------------------------

GADGETS = ["iPhone X", "Pixel 7", "Galaxy S9", "Kindle", "Xbox", "iPad", "PS5", "Switch"]
CONTEXTS = ["I love my {} so much", "My {} is great", "I bought a {} yesterday", "Where is my {} now", "She gave me her {} today"]  # fmt: skip
TOK2VEC = {"@architectures": "spacy.HashEmbedCNN.v2", "width": 32, "depth": 1, "embed_size": 500, "window_size": 1, "maxout_pieces": 2, "subword_features": True, "pretrained_vectors": None}  # fmt: skip
NER_MODEL = {"@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner", "hidden_width": 32, "maxout_pieces": 2, "use_upper": True, "tok2vec": TOK2VEC}  # fmt: skip
UPDATE_CONFIG = """
[paths]
train = null
dev = null
[nlp]
lang = "en"
pipeline = ["ner"]
[components]
[components.ner]
source = "{source}"
[corpora]
[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}
[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}
[training]
max_steps = 60
eval_frequency = 1000
[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.005
[initialize]
{after_init}
"""
AFTER_INIT = '[initialize.after_init]\n@callbacks = "ner_update.incorrect_spans_key.v1"\nkey = "incorrect_spans"'


def filled(context: str, name: str) -> tuple:
    text = context.format(name)
    return text, text.index(name), text.index(name) + len(name)


def build_base_that_calls_dad_a_gadget(path: Path) -> None:
    """A tiny ner trained (wrongly) on "dad" as a GADGET in gadget contexts."""
    from spacy.training import Example

    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("ner", config={"model": NER_MODEL})
    examples = []
    for context in CONTEXTS:
        for name in GADGETS + ["dad"]:
            text, start, end = filled(context, name)
            examples.append(Example.from_dict(nlp.make_doc(text), {"entities": [(start, end, "GADGET")]}))
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        for batch in spacy.util.minibatch(examples, 8):
            nlp.update(batch, sgd=optimizer, drop=0.1)
    nlp.to_disk(path)
    DocBin(docs=[eg.reference for eg in examples]).to_disk(path.parent / "dev.spacy")


def test_binary_reject_unteaches_a_span_with_the_after_init_callback(tmp_path):
    base = tmp_path / "base"
    build_base_that_calls_dad_a_gadget(base)
    dad_texts = [filled(context, "dad")[0] for context in CONTEXTS]
    assert all(ents(doc) for doc in spacy.load(base).pipe(dad_texts))
    answers = []  # ner.teach-style: "dad" rejected, four gadgets accepted
    for context in CONTEXTS:
        for name, answer in [("dad", "reject")] + [(name, "accept") for name in GADGETS[:4]]:
            text, start, end = filled(context, name)
            span = {"start": start, "end": end, "label": "GADGET"}
            answers.append({"text": text, "spans": [span], "answer": answer, "_view_id": "ner"})
    code, output, _ = convert_all(tmp_path, write_jsonl(tmp_path / "answers.jsonl", answers))
    assert code == 0, output
    predicted = {}
    for arm, after_init in (("with_key", AFTER_INIT), ("without_key", "after_init = null")):
        config = tmp_path / f"{arm}.cfg"
        config.write_text(UPDATE_CONFIG.format(source=base, after_init=after_init), encoding="utf8")
        fill_config(config, config, silent=True)
        overrides = {"paths.train": str(tmp_path / "out" / "all.spacy"), "paths.dev": str(tmp_path / "dev.spacy")}
        train(config, tmp_path / arm, overrides=overrides)
        nlp = spacy.load(tmp_path / arm / "model-last")
        predicted[arm] = [ents(doc) for doc in nlp.pipe(dad_texts)]
        assert ents(nlp("I love my Switch so much")) == [(10, 16, "GADGET")]  # gadgets still found
    assert predicted["with_key"] == [[]] * len(CONTEXTS)  # the rejected span is no longer predicted
    assert all(predicted["without_key"])  # without the key the ner never sees the rejections


def test_incorrect_spans_key_of_a_sourced_ner_is_ignored_in_its_config(tmp_path):
    """Why the callback is needed: spaCy copies a sourced component with its source's config."""
    nlp = spacy.blank("en")
    nlp.add_pipe("ner").add_label("GADGET")
    nlp.initialize()
    nlp.to_disk(tmp_path / "base")
    config = spacy.util.load_config_from_str(
        f'[nlp]\nlang = "en"\npipeline = ["ner"]\n[components]\n[components.ner]\nsource = "{tmp_path / "base"}"\n'
        'incorrect_spans_key = "incorrect_spans"\n'
    )
    sourced = spacy.util.load_model_from_config(config, auto_fill=True)
    assert sourced.get_pipe("ner").incorrect_spans_key is None
    after_init = spacy.registry.callbacks.get("ner_update.incorrect_spans_key.v1")()
    after_init(sourced)
    assert sourced.get_pipe("ner").moves.neg_key == "incorrect_spans"
    sourced.to_disk(tmp_path / "trained")
    assert spacy.load(tmp_path / "trained").get_pipe("ner").moves.neg_key == "incorrect_spans"


# --- one table of formats -------------------------------------------------------

EXAMPLES = {
    "course": ["iPhone X is coming", {"entities": [[0, 8, "GADGET"]]}],
    "spans or Prodigy": {"text": "iPhone X is coming", "spans": [{"start": 0, "end": 8, "label": "GADGET"}]},
    "values": {"sentence": "iPhone X is coming", "entities": [{"label": "GADGET", "value": "iPhone X"}]},
    "doccano": {"text": "iPhone X is coming", "label": [[0, 8, "GADGET"]]},
    "Label Studio": label_studio_task("iPhone X is coming", [(0, 8, "GADGET")]),
}


def test_every_format_is_one_row_that_detects_reads_and_finds_the_text():
    """parse_record, record_text (the texts steps leave out) and the messages ask one table."""
    from collections import Counter

    from ner_update.inputs.formats import FORMATS, RecordError, format_of, parse_record, record_text

    assert [row.name for row in FORMATS] == list(EXAMPLES)  # an example for each row
    for row in FORMATS:
        record = EXAMPLES[row.name]
        assert format_of(record) is row and record_text(record) == "iPhone X is coming"
        (annotation,) = parse_record(record, Counter())
        assert annotation.text == "iPhone X is coming" and (annotation.spans or annotation.values)
    with pytest.raises(RecordError) as err:
        parse_record({"text": "iPhone X is coming"}, Counter())
    assert all(
        row.marks in str(err.value) and row.name in str(err.value) for row in FORMATS if row.shape == "an object"
    )
    assert record_text({"text": "a raw text"}) == "a raw text"  # a record object of no format: a raw text


@pytest.mark.parametrize(
    "records",
    [
        [{"id": 1, "data": {"text": "iPhone X is coming"}, "annotations": [{"result": [], "was_cancelled": False}]}],
        [["iPhone X is coming", {"entities": [[0, 8, "GADGET"]]}]],
        [{"sentence": "iPhone X is coming", "entities": [{"label": "GADGET", "value": "iPhone X"}]}],
    ],
    ids=["label_studio", "course", "values"],
)
def test_a_checked_set_in_any_format_is_left_out_by_its_texts(records, tmp_path):
    """A checked set exported from Label Studio (or any format convert reads) is excluded from
    bootstrapping, rehearsal and pretraining by its texts; Label Studio tasks used to fail here."""
    from ner_update.inputs.texts import excluded_texts

    path = tmp_path / "checked.json"
    srsly.write_json(path, records)
    assert excluded_texts([path]) == {"iPhone X is coming"}


def test_export_names_a_bad_review_record_and_never_overwrites_its_input(tmp_path):
    import export

    review = tmp_path / "review.jsonl"
    write_jsonl(review, [REVIEW, {"text": "my ps4", "spans": [{"start": 3, "end": 60, "label": "GADGET"}]}])
    out = tmp_path / "tasks.json"
    code, output = run_cli(export.main, [review, "--to", "label-studio", "--output", out])
    assert code == 1 and f"{review}: line 2: offsets past the text" in " ".join(output.split()) and not out.exists()
    before = review.read_bytes()
    code, output = run_cli(export.main, [review, "--to", "prodigy", "--output", review])
    assert code == 1 and "would overwrite an input" in output and review.read_bytes() == before
    code, output = run_cli(export.main, [review, "--to", "doccano", "--output", out])
    assert code == 1 and "choose one of label-studio, prodigy" in output
