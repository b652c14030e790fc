"""evaluate: label mapping, missing gold, frozen-output check, bad --label-map."""
import pytest
import spacy
from spacy.tokens import Doc

import evaluate
from conftest import run_cli

OLD = {"PER", "ORG", "LOC"}


def doc_with(nlp, text, ents, missing=()):
    doc = nlp.make_doc(text)
    iob = ["O"] * len(doc)
    for start, end, label in ents:
        iob[start:end] = ["B-" + label] + ["I-" + label] * (end - start - 1)
    for i in missing:
        iob[i] = None
    return Doc(nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc], ents=iob)


def test_label_map_scores_other_label_schemes_against_gold():
    nlp = spacy.blank("en")
    gold = doc_with(nlp, "Angela Merkel visited Paris", [(0, 2, "PER"), (3, 4, "LOC")])
    pred = doc_with(nlp, "Angela Merkel visited Paris", [(0, 2, "PERSON"), (3, 4, "GPE")])
    mapping = evaluate.parse_label_map("PERSON:PER, GPE:LOC")
    scores = evaluate.prf([(evaluate.spans(gold, OLD), evaluate.spans(pred, OLD, mapping), [])], sorted(OLD))
    assert scores["ALL"]["f"] == 100.0
    unmapped = evaluate.prf([(evaluate.spans(gold, OLD), evaluate.spans(pred, OLD), [])], sorted(OLD))
    assert unmapped["ALL"]["f"] == 0.0


def test_predictions_over_missing_gold_are_not_counted():
    nlp = spacy.blank("en")
    gold = doc_with(nlp, "I like Mc.Donald s and Bob", [(5, 6, "PER")], missing=[2])
    pred = doc_with(nlp, "I like Mc.Donald s and Bob", [(2, 3, "ORG"), (5, 6, "PER")])
    ref_spans, pred_spans = evaluate.spans(gold, OLD), evaluate.spans(pred, OLD)
    scores = evaluate.prf([(ref_spans, pred_spans, evaluate.missing_ranges(gold))], sorted(OLD))
    assert scores["ALL"] == {"p": 100.0, "r": 100.0, "f": 100.0, "support": 1}
    assert evaluate.prf([(ref_spans, pred_spans, [])], sorted(OLD))["ALL"]["p"] == 50.0


def test_token_diffs_finds_changed_frozen_outputs():
    nlp = spacy.blank("en")
    a = Doc(nlp.vocab, words=["Bob", "runs"], tags=["NNP", "VBZ"], heads=[1, 1], deps=["nsubj", "ROOT"])
    b = Doc(nlp.vocab, words=["Bob", "runs"], tags=["NNP", "NN"], heads=[1, 1], deps=["nsubj", "ROOT"])
    assert not any(evaluate.token_diffs([a], [a]).values())
    assert evaluate.token_diffs([a], [b]) == {**{attr: 0 for attr in evaluate.TOKEN_ATTRS}, "tag_": 1}


@pytest.mark.parametrize("value", ["PERSON", "PERSON:", ":PER", "PERSON:PER,GPE"])
def test_bad_label_map_fails_clearly(tmp_path, value):
    with pytest.raises(ValueError, match="is not LABEL:GOLD_LABEL"):
        evaluate.parse_label_map(value)
    (tmp_path / "model").mkdir()
    for name in ("dev.spacy", "heldout.spacy"):
        (tmp_path / name).write_bytes(b"")
    code, output = run_cli(evaluate.main, ["base", tmp_path / "model", tmp_path / "dev.spacy", tmp_path / "heldout.spacy",
                                           "--output", tmp_path / "m.json", "--label-map", value])
    assert code == 1 and "--label-map: label map item" in output
    assert not (tmp_path / "m.json").exists()
