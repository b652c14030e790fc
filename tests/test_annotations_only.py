"""`all` with annotations alone: value-format records for two labels, no patterns, no raw
texts, no checked dev set, and no edit of project.yml (issue 15)."""

import shutil

import spacy
import srsly
from weasel.cli.run import project_run

from ner_update.inputs import gold
from page_text import Page
from test_workflow import OVERRIDES
from tiny import build_tiny_base

BRANDS = ("Samsung", "Apple", "Sony", "Nintendo", "Microsoft", "Google", "Huawei", "Xiaomi", "Nokia", "LG")
OFF = {"vars.patterns": "", "vars.raw_texts": "", "vars.checked_dev": "", "vars.checked_other": ""}


def value_records(path) -> list:
    """The hand-checked comments as value-format records: GADGET values, plus BRAND for every
    brand name written in the text (nested in a gadget name or not); records the project's
    own validation rejects (crossing spans, one value with two labels) are left out."""
    nlp, records = spacy.blank("en"), []
    for record in srsly.read_jsonl(path):
        text = record["text"]
        values = [{"label": "GADGET", "value": text[s["start"] : s["end"]]} for s in record["spans"]]
        words = {token.text for token in nlp.make_doc(text)}
        values += [{"label": "BRAND", "value": brand} for brand in BRANDS if brand in words]
        annotation = gold.Annotation(text, values=[(v["value"], v["label"]) for v in values])
        try:
            gold.to_record(nlp, annotation, "", gold.Report())
        except gold.RecordError:
            continue
        records.append({"sentence": text, "entities": values})
    return records


def test_all_runs_with_value_annotations_alone(public_assets, tmp_path):
    project = tmp_path / "project"
    skip = shutil.ignore_patterns("corpus", "training", "packages", "project.lock", "__pycache__")
    shutil.copytree(public_assets, project, symlinks=True, ignore=skip)
    for name in ("corpus", "training", "packages"):
        (project / name).mkdir()
    annotated = project / "assets" / "annotated"
    records = value_records(annotated / "youtube_checked.jsonl")
    shutil.rmtree(annotated)
    annotated.mkdir()
    srsly.write_jsonl(annotated / "values.jsonl", records)
    assert len(records) > 1000 and any(e["label"] == "BRAND" for r in records for e in r["entities"])

    # a tiny PER/ORG/LOC base stands in for the offline one (test_workflow builds that): the user's
    # side of `all` is what this test is about
    base = build_tiny_base(tmp_path / "base")
    project_run(project, "all", overrides={**OVERRIDES, **OFF, "vars.base_model": str(base)}, capture=True)

    corpus, training = project / "corpus", project / "training"
    assert srsly.read_json(corpus / "bootstrapped.json") == []
    assert (corpus / "domain_heldout.jsonl").read_text() == "" and not (corpus / "domain_rehearsal.jsonl").exists()
    assert (corpus / "checkpoint.spacy").read_bytes() == (corpus / "dev.spacy").read_bytes()  # the fallback
    metrics = srsly.read_json(training / "metrics.json")
    assert metrics["new_labels"] == ["BRAND", "GADGET"]
    assert "entity_ruler" not in metrics["pipeline"] and "patterns" not in metrics["systems"]
    assert set(metrics["new_label_sets"]) == {"dev"} and metrics["agreement_sets"] == {}
    assert "patterns" not in metrics["new_label_sets"]["dev"]
    assert metrics["learning"]["checkpoint_set"] == "dev"
    page = Page((training / "report.html").read_text(encoding="utf8"))
    assert not [row for table in page.sections["metrics"].tables for row in table.rows if row[0].text == "patterns"]
    learning = metrics["learning"]
    if learning["failed"]:
        assert "Learning failed." in page.top_text and learning["warnings"]
    # the entity split keeps every record that names a brand (a handful of names) in train: said, not hidden
    assert any(w.startswith("dev has no gold BRAND spans") for w in learning["warnings"])
    assert "Learning failed." in page.top_text or "Learning could not be fully measured." in page.top_text
    assert learning["warnings"][0] in page.top_text
    assert list((project / "packages").rglob("en_ner_updated-0.1.0-py3-none-any.whl"))
