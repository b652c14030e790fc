"""Raw texts, patterns and the checked dev set are optional: an empty value turns one off,
and every script then does the right thing (empty outputs, no patterns system, dev as the
checkpoint set); nested values keep the longest occurrence."""

import os
import shutil
from pathlib import Path

import spacy
import srsly
from spacy.tokens import DocBin
from weasel.util import get_checksum

import bootstrap
import check_vars
import checkpoint_set
import convert
from conftest import ROOT, run_cli
from ner_update import step_deps
from ner_update.evaluation.side_by_side import learning_problems
from ner_update.inputs import project_vars as vars_checks

OUT = ("annotations.json", "rehearsal.jsonl", "heldout.jsonl")


def bootstrap_args(tmp_path, texts, patterns):
    paths = [tmp_path / "out" / name for name in OUT]
    args = [texts, "--patterns", patterns, "--output", paths[0], "--rehearsal-output", paths[1]]
    return [*args, "--heldout-output", paths[2], "--exclude", ""], paths


def test_bootstrap_without_raw_texts_writes_empty_outputs_and_says_so(tmp_path):
    args, paths = bootstrap_args(tmp_path, "", "")
    code, out = run_cli(bootstrap.main, args)
    assert code == 0, out
    assert "nothing bootstrapped, the outputs are written empty" in out
    assert srsly.read_json(paths[0]) == [] and paths[1].read_text() == "" and paths[2].read_text() == ""


def test_bootstrap_without_patterns_samples_rehearsal_and_heldout_texts(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"text number {i}\n" for i in range(10)), encoding="utf8")
    args, paths = bootstrap_args(tmp_path, texts, "")
    code, out = run_cli(bootstrap.main, [*args, "--rehearsal-texts", 6, "--heldout-texts", 4])
    assert code == 0, out
    assert "No patterns" in out and srsly.read_json(paths[0]) == []
    assert len(list(srsly.read_jsonl(paths[1]))) == 6 and len(list(srsly.read_jsonl(paths[2]))) == 4


def test_zero_pattern_matches_is_a_count_and_convert_accepts_the_empty_file(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("nothing to see here\n", encoding="utf8")
    patterns = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(patterns, [{"label": "GADGET", "pattern": "never matches"}])
    args, paths = bootstrap_args(tmp_path, texts, patterns)
    code, out = run_cli(bootstrap.main, args)
    assert code == 0 and "The patterns matched no text: 0 bootstrapped annotations" in out
    annotations = tmp_path / "values.json"
    srsly.write_json(
        annotations, [{"sentence": "I use the iPhone X", "entities": [{"label": "GADGET", "value": "iPhone X"}]}]
    )
    out_dir = tmp_path / "corpus"
    options = [
        "--bootstrapped",
        paths[0],
        "--train-output",
        out_dir / "train.spacy",
        "--dev-output",
        out_dir / "dev.spacy",
    ]
    code, out = run_cli(convert.main, [annotations, *options, "--split", "random", "--dev-ratio", "0", "--exclude", ""])
    assert code == 0, out
    assert "0 bootstrapped records replaced" in out and "(0 bootstrapped records in all)" in out


def test_nested_values_keep_the_longest_occurrence_and_are_counted(tmp_path):
    text = "I run server 2008 R2 at work and server 2008 at home"
    record = {
        "sentence": text,
        "entities": [{"label": "PRODUCT", "value": v} for v in ("server 2008", "server 2008 R2")],
    }
    annotations = tmp_path / "values.json"
    srsly.write_json(annotations, [record])
    out_dir = tmp_path / "corpus"
    args = [annotations, "--train-output", out_dir / "train.spacy", "--dev-output", out_dir / "dev.spacy"]
    code, out = run_cli(convert.main, [*args, "--split", "random", "--dev-ratio", "0"])
    assert code == 0, out
    assert "1 values inside a longer value of the same text (the longer one kept)" in out
    doc = next(DocBin().from_disk(out_dir / "train.spacy").get_docs(spacy.blank("en").vocab))
    assert [e.text for e in doc.ents] == ["server 2008 R2", "server 2008"]


def test_without_a_checked_set_convert_writes_it_empty_and_the_checkpoint_set_falls_back_to_dev(tmp_path):
    checked, dev = tmp_path / "checked_dev.spacy", tmp_path / "dev.spacy"
    code, out = run_cli(convert.main, ["", "--output", checked])
    assert code == 0 and "wrote an empty" in out and len(DocBin().from_disk(checked)) == 0
    nlp = spacy.blank("en")
    DocBin(docs=[nlp("a dev text")]).to_disk(dev)
    output = tmp_path / "checkpoint.spacy"
    test = tmp_path / "checked_test.spacy"
    args = [checked, dev, "--use", "checked_dev", "--output", output, "--test-output", test]
    code, out = run_cli(checkpoint_set.main, args)
    assert code == 0 and "has no docs (no checked dev set)" in out and "picks its checkpoint on" in out
    assert [d.text for d in DocBin().from_disk(output).get_docs(nlp.vocab)] == ["a dev text"]
    assert len(DocBin().from_disk(test)) == 0


def test_the_checked_set_is_split_by_text_into_a_checkpoint_part_and_a_test_part(tmp_path):
    """The part that picks the checkpoint and the part that is reported never share a text, and the split
    depends on the texts alone: the same texts in another order split the same way."""
    nlp = spacy.blank("en")
    texts = [f"checked text number {i}" for i in range(200)]
    checked, reordered, dev = tmp_path / "checked.spacy", tmp_path / "reordered.spacy", tmp_path / "dev.spacy"
    DocBin(docs=[nlp(t) for t in texts]).to_disk(checked)
    DocBin(docs=[nlp(t) for t in reversed(texts)]).to_disk(reordered)
    DocBin(docs=[nlp("a dev text")]).to_disk(dev)
    parts = {}
    for source in (checked, reordered):
        pick, test = tmp_path / f"{source.stem}_pick.spacy", tmp_path / f"{source.stem}_test.spacy"
        args = [source, dev, "--output", pick, "--test-output", test, "--checkpoint-share", "0.3"]
        code, out = run_cli(checkpoint_set.main, args)
        assert code == 0, out
        parts[source.stem] = [{d.text for d in DocBin().from_disk(p).get_docs(nlp.vocab)} for p in (pick, test)]
    pick, test = parts["checked"]
    assert parts["reordered"] == [pick, test]
    assert not pick & test and pick | test == set(texts)
    assert 40 <= len(pick) <= 80  # about 30%
    # with the dev split picking the checkpoint, the whole checked set is the test part
    pick_path, test_path = tmp_path / "p.spacy", tmp_path / "t.spacy"
    code, out = run_cli(
        checkpoint_set.main, [checked, dev, "--use", "dev", "--output", pick_path, "--test-output", test_path]
    )
    assert code == 0, out
    assert len(DocBin().from_disk(test_path)) == 200 and len(DocBin().from_disk(pick_path)) == 1


def test_check_vars_accepts_empty_optional_inputs_and_links_the_others(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    patterns = tmp_path / "patterns.jsonl"
    shutil.copy(ROOT / "assets" / "gadget_patterns.jsonl", patterns)
    values = ["raw_texts=", f"patterns={patterns}", "checked_dev=", "checkpoint_set=checked_dev"]
    folder = tmp_path / "inputs"
    code, out = run_cli(check_vars.main, [*values, "--inputs", folder])
    assert code == 0, out
    assert "training picks its checkpoint on dev" in out and "vars.raw_texts is empty" in out
    assert (folder / "raw_texts").read_text() == "off\n" and not (folder / "raw_texts").is_symlink()
    first = get_checksum(folder / "patterns")
    # an edited input is seen through its link at once: a step run alone re-runs, check-vars or not
    patterns.write_text(patterns.read_text() + '{"label": "GADGET", "pattern": "walkman"}\n')
    assert get_checksum(folder / "patterns") != first
    # turned off, then on again
    run_cli(check_vars.main, ["patterns=", "--inputs", folder])
    assert (folder / "patterns").read_text() == "off\n"
    run_cli(check_vars.main, [f"patterns={patterns}", "--inputs", folder])
    assert (folder / "patterns").resolve() == patterns.resolve()
    assert "annotations" in vars_checks.check_vars({"annotations": ""})[0]


def test_an_input_that_is_a_link_stays_in_the_chain_and_one_outside_the_project_is_linked_absolutely(
    tmp_path, monkeypatch
):
    project, data = tmp_path / "project", tmp_path / "data"
    (project / "assets").mkdir(parents=True)
    data.mkdir()
    (data / "v1.jsonl").write_text('{"text": "one"}\n')
    (data / "v2.jsonl").write_text('{"text": "two"}\n')
    monkeypatch.chdir(project)
    (project / "assets" / "checked.jsonl").symlink_to(data / "v1.jsonl")
    step_deps.link_inputs(
        {"checked_dev": "assets/checked.jsonl", "checked_other": str(data / "v2.jsonl")}, Path("corpus/inputs")
    )
    first = get_checksum(project / "corpus" / "inputs" / "checked_dev")
    # the user points their own link at another version: a step run alone sees it, check-vars or not
    (project / "assets" / "checked.jsonl").unlink()
    (project / "assets" / "checked.jsonl").symlink_to(data / "v2.jsonl")
    assert get_checksum(project / "corpus" / "inputs" / "checked_dev") != first
    assert os.readlink(project / "corpus" / "inputs" / "checked_dev") == "../../assets/checked.jsonl"
    assert os.readlink(project / "corpus" / "inputs" / "checked_other") == str(data / "v2.jsonl")


def test_a_folder_input_link_sees_a_new_file_in_the_folder(tmp_path):
    """`annotate` after adding raw texts to the folder re-runs: weasel hashes the folder through its link."""
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("One text.\n")
    assert step_deps.link_inputs({"raw_texts": str(texts)}, tmp_path / "inputs") == []
    first = get_checksum(tmp_path / "inputs" / "raw_texts")
    (texts / "b.txt").write_text("Another text.\n")
    assert get_checksum(tmp_path / "inputs" / "raw_texts") != first


def metrics_of(model_f: float, shipped_f: float, patterns_f: float = None) -> dict:
    entry = {"model": {"p": 0, "r": 0, "f": model_f, "per_label": {"PRODUCT": {"p": 0, "r": 0, "f": model_f}}}}
    entry["shipped"] = {"p": 0, "r": 0, "f": shipped_f, "per_label": {"PRODUCT": {"p": 0, "r": 0, "f": shipped_f}}}
    if patterns_f is not None:
        entry["patterns"] = {
            "p": 0,
            "r": 0,
            "f": patterns_f,
            "per_label": {"PRODUCT": {"p": 0, "r": 0, "f": patterns_f}},
        }
    return {"new_label_sets": {"dev": entry}, "confusion": {"dev": {"PRODUCT": {"none": 3}}}}


def test_learning_failed_is_said_with_what_to_try():
    name, warnings, unmeasured = learning_problems(metrics_of(3.6, 3.6), "checked_dev", 10.0)
    assert name == "dev" and len(warnings) == 1 and unmeasured == []
    assert "learned almost nothing of PRODUCT: F 3.6 on dev" in warnings[0] and "more annotations" in warnings[0]
    _, warnings, _ = learning_problems(metrics_of(50.0, 60.0, patterns_f=74.4), "dev", 10.0)
    assert len(warnings) == 1 and "below the patterns alone on dev: F 60.0 vs 74.4" in warnings[0]
    assert learning_problems(metrics_of(50.0, 80.0, patterns_f=74.4), "dev", 10.0)[1] == []
    # beside a checked set, the dev split (labelled partly by the patterns) is not held against the model
    both = metrics_of(50.0, 60.0, patterns_f=74.4)
    both["new_label_sets"]["checked_dev"] = metrics_of(50.0, 85.0, patterns_f=74.4)["new_label_sets"]["dev"]
    both["confusion"]["checked_dev"] = both["confusion"]["dev"]
    assert learning_problems(both, "checked_dev", 10.0)[1] == []
    metrics = metrics_of(0.0, 0.0)
    metrics["confusion"]["dev"] = {}  # no gold PRODUCT spans in dev: not a failure, but nothing measured it
    _, warnings, unmeasured = learning_problems(metrics, "dev", 10.0)
    assert warnings == [] and "dev has no gold PRODUCT spans" in unmeasured[0]
