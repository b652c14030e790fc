"""report: what a person reads on the page (every section, the numbers in its tables, what is
highlighted, the charts' data), escaping, no external resources, missing parts, real
evaluate() output, bad input, and a headless-Chromium render."""

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from weasel.util import get_checksum

import check_learning
import report
from conftest import run_cli
from ner_update.evaluation import scoring, side_by_side
from ner_update.evaluation.metrics_schema import dumps, validated
from ner_update.report import charts as report_charts
from page_text import Page

SECTIONS = {
    "data": "1. What was trained on what",
    "metrics": "2. Scores side by side",
    "losses": "3. Loss curves",
    "confusion": "4. Confusion on the new labels",
    "errors": "5. False positives and false negatives",
    "disagreements": "6. Where the shipped pipeline disagrees with the base",
    "frozen": "7. Frozen components",
}
TRICKY = "My <b>iPhone X</b> & Alice's PS5 broke."  # markup in a text must be shown, not interpreted


def prf(p: float, r: float, f: float) -> dict:
    return {"p": p, "r": r, "f": f}


def scores(p: float, r: float, f: float, support: int, per_label: dict | None = None) -> dict:
    return {**prf(p, r, f), "support": support, "per_label": per_label or {}}


def new_label_set(docs: int, support: int, systems: dict, relabel: dict, agreement: dict) -> dict:
    """A new-label set entry: systems are (p, r, f) on one label, GADGET."""
    entry = {s: scores(*v, support, {"GADGET": prf(*v)}) for s, v in systems.items()}
    entry["old_label_agreement"] = {s: scores(*v, 50) for s, v in agreement.items()}
    entry["relabel"] = relabel
    return {**entry, "docs": docs}


def make_metrics() -> dict:
    """metrics.json as evaluate writes it (metrics_schema.Metrics), with made-up numbers."""
    per_old = {"LOC": prf(80.0, 75.0, 77.42), "ORG": prf(60.0, 50.0, 54.55), "PER": prf(90.0, 85.0, 87.43)}
    agreement = {"LOC": prf(92.0, 90.0, 90.99), "ORG": prf(88.0, 85.0, 86.47), "PER": prf(97.0, 96.0, 96.5)}
    relabel = {
        "patterns": {"overlapped": 40, "relabelled": 12, "rate": 30.0, "base_labels": {"ORG": 25, "CARDINAL": 15}},
        "shipped": {"overlapped": 40, "relabelled": 30, "rate": 75.0, "base_labels": {"ORG": 25, "CARDINAL": 15}},
    }
    gold_agreement = scores(100.0, 100.0, 100.0, 210, {k: prf(100.0, 100.0, 100.0) for k in per_old})
    return {
        "new_labels": ["GADGET"],
        "old_labels": ["LOC", "ORG", "PER"],
        "base_labels": ["LOC", "ORG", "PER"],
        "pipeline": ["tok2vec", "tagger", "ner", "entity_ruler"],
        "recipe": "second_ner",
        "systems": {
            "patterns": "the patterns alone (entity_ruler, tokenizer only)",
            "base": "the base pipeline",
            "model": "the shipped pipeline without ['entity_ruler']",
            "shipped": "the shipped pipeline",
        },
        "new_label_sets": {
            "dev": new_label_set(
                40,
                46,
                {"patterns": (91.3, 52.17, 66.4), "model": (78.57, 71.74, 75.0), "shipped": (81.4, 76.09, 78.65)},
                relabel,
                {"model": (97.0, 96.0, 96.5), "shipped": (98.0, 97.8, 97.9)},
            ),
            "checked_dev": new_label_set(
                30,
                25,
                {"patterns": (88.0, 44.0, 58.67), "model": (70.0, 56.0, 62.22), "shipped": (72.73, 64.0, 68.09)},
                {},
                {"model": (99.0, 99.0, 99.0), "shipped": (99.5, 99.5, 99.5)},
            ),
        },
        "old_label_sets": {
            "ewt_test": {
                "docs": 120,
                "base": {
                    "new_label_predictions": 0,
                    "agreement": gold_agreement,
                    "gold": scores(81.2, 77.7, 79.41, 230, per_old),
                },
                "model": {
                    "new_label_predictions": 3,
                    "agreement": scores(93.1, 91.2, 92.14, 210, agreement),
                    "gold": scores(79.9, 76.1, 77.95, 230, per_old),
                },
                "shipped": {
                    "new_label_predictions": 4,
                    "agreement": scores(94.5, 92.0, 93.23, 210, agreement),
                    "gold": scores(80.6, 77.0, 78.76, 230, per_old),
                },
                "patterns": {"new_label_predictions": 2},
            }
        },
        "agreement_sets": {
            "domain": {
                "docs": 200,
                "base": {"new_label_predictions": 0, "agreement": scores(100.0, 100.0, 100.0, 80)},
                "model": {"new_label_predictions": 17, "agreement": scores(95.2, 93.8, 94.49, 80)},
                "shipped": {"new_label_predictions": 21, "agreement": scores(96.1, 95.0, 95.55, 80)},
                "patterns": {"new_label_predictions": 12},
            }
        },
        "confusion": {
            "dev": {"GADGET": {"GADGET": 35, "none": 7, "partial GADGET": 3, "ORG": 1}},
            "checked_dev": {"GADGET": {"GADGET": 16, "none": 9}},
        },
        "errors": {
            "dev": {
                "false_positives": [["Surface", 4], ["Apple", 2], ["<b>bold</b>", 1]],
                "false_negatives": [["Nokia 3310", 5], ["Switch Lite", 2]],
                "examples": [
                    {"text": TRICKY, "gold": [[6, 14, "GADGET"], [29, 32, "GADGET"]], "predicted": [[6, 14, "GADGET"]]},
                    {"text": "The Nokia 3310 is back.", "gold": [[4, 14, "GADGET"]], "predicted": []},
                ],
            },
            "checked_dev": {"false_positives": [], "false_negatives": [["Moto G7", 9]], "examples": []},
        },
        "disagreements": {
            "ewt_test": [
                {
                    "text": "Alice Smith flew to Paris.",
                    "base": [[0, 11, "PER"], [20, 25, "LOC"]],
                    "shipped": [[0, 11, "PER"]],
                },
                {"text": TRICKY, "base": [[21, 26, "PER"]], "shipped": [[21, 26, "ORG"]]},
            ],
            "domain": [],
        },
        "frozen_outputs": {
            "set": "ewt_test",
            "identical": True,
            "tokens": 2345,
            "differing_tokens": {attr: 0 for attr in scoring.TOKEN_ATTRS},
        },
        "base_model": "training/base/model-best",
        "shipped_model": "training/pipeline",
        "learning": {"checkpoint_set": "checked_dev", "min_f": 10.0, "failed": False, "warnings": []},
    }


def make_losses() -> list:
    """Loss logger records (functions.loss_logger): summed losses per component, rehearsal losses apart."""
    records = []
    for i, step in enumerate(range(0, 601, 50)):
        records.append(
            {
                "epoch": step // 200,
                "step": step,
                "score": round(0.3 + 0.5 * (1 - 0.8**i), 4),
                "losses": {"ner": 400.0 * 0.75**i + 12.0},
                "rehearsal_losses": {"ner_silver": 150.0 * 0.85**i + 20.0, "ner_teacher": 0.05 * 0.7**i},
                "seconds": 3 * i,
                "words": 1500 * i,
            }
        )
    return records


def write_corpus(path: Path, items: list) -> None:
    nlp = spacy.blank("en")
    docs = []
    for text, spans in items:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label=label) for s, e, label in spans]
        docs.append(doc)
    DocBin(docs=docs).to_disk(path)


def write_inputs(tmp_path: Path, metrics: dict | None = None, losses: list | None = None) -> dict:
    """Every input file under tmp_path; returns their paths."""
    paths = {
        name: tmp_path / name
        for name in ("metrics.json", "losses.jsonl", "base_model.json", "train.spacy", "dev.spacy")
    }
    srsly.write_json(paths["metrics.json"], make_metrics() if metrics is None else metrics)
    srsly.write_jsonl(paths["losses.jsonl"], make_losses() if losses is None else losses)
    base_info = {"base_model": "training/base/model-best", "pipeline": ["tok2vec", "tagger", "ner"]}
    base_info.update(ner_labels=["LOC", "ORG", "PER"], version="0.0.0", fingerprint="0123abcd")
    srsly.write_json(paths["base_model.json"], base_info)
    train = [("I love my iPhone X today.", [(10, 18, "GADGET")]), ("Is the PS5 worth it?", [(7, 10, "GADGET")])]
    write_corpus(paths["train.spacy"], train + [("Hello there.", [])])
    write_corpus(paths["dev.spacy"], [("Grace bought a Pixel 7.", [(0, 5, "PER"), (15, 22, "GADGET")])])
    return paths


def run_report(paths: dict, out: Path, full: bool = True, *options):
    args = [paths["metrics.json"], paths["losses.jsonl"], out, *options]
    if full:
        args += ["--base-info", paths["base_model.json"], "--train", paths["train.spacy"], "--dev", paths["dev.spacy"]]
    return run_cli(report.main, args)


def render(tmp_path: Path, metrics: dict | None = None, losses: list | None = None, *options) -> Page:
    paths = write_inputs(tmp_path, metrics, losses)
    code, output = run_report(paths, tmp_path / "out" / "report.html", True, *options)
    assert code == 0, output
    return Page((tmp_path / "out" / "report.html").read_text(encoding="utf8"))


@pytest.fixture
def page(tmp_path) -> Page:
    return render(tmp_path)


def test_the_test_metrics_have_the_shape_evaluate_writes():
    validated(make_metrics())


def test_every_section_is_on_the_page_in_order(page):
    assert list(page.sections) == list(SECTIONS)
    for key, heading in SECTIONS.items():
        assert page.sections[key].text.startswith(heading)
        assert f"#{key}" in page.links
    assert page.top_text.startswith("Update report: training/pipeline")


def test_verdict_and_summary_at_the_top(page):
    top = page.top_text
    assert "Learning worked: every new label scores F ≥ 10.0 on checked_dev." in top
    assert "dev new-label F: patterns 66.4, model 75.0, shipped 78.7" in top
    assert "checked_dev new-label F: patterns 58.7, model 62.2, shipped 68.1" in top
    assert "ewt_test old-label F: base 79.4 → shipped 78.8 (-0.6)" in top
    assert "domain: shipped agrees with the base at F 95.5, 21 new-label entities predicted" in top
    assert "frozen components: identical outputs" in top


def test_each_new_label_set_says_what_it_chose(tmp_path):
    """A reader must tell a held-out figure from one measured on the set that picked the checkpoint."""
    metrics = make_metrics()
    metrics["new_label_sets"]["checked_test"] = metrics["new_label_sets"]["checked_dev"]
    metrics["confusion"]["checked_test"] = metrics["confusion"]["checked_dev"]
    metrics["errors"]["checked_test"] = metrics["errors"]["checked_dev"]
    text = render(tmp_path, metrics).sections["metrics"].text
    assert "checked_dev: training picked its checkpoint on this set: its scores are not held out." in text
    assert "checked_test: this set chose nothing (no checkpoint, no setting): its scores are held out." in text
    assert "dev: the dev split of the annotations" in text


def test_data_base_and_recipe(page):
    data = page.sections["data"]
    counts = data.table("Entity spans per label")
    assert counts.head == [["set", "file", "docs", "docs without entities", "entity spans", "GADGET", "PER"]]
    # train: 3 docs, 1 without entities, 2 spans (GADGET 2); dev: 1 doc, 2 spans (GADGET 1, PER 1)
    assert counts.row("train")[2:] == ["3", "1", "2", "2", "0"] and counts.row("train")[1].endswith("train.spacy")
    assert counts.row("dev")[2:] == ["1", "0", "2", "1", "1"]
    base, recipe = [t for t in data.tables if not t.caption]
    assert base.row("pipeline") == ["pipeline", "tok2vec, tagger, ner"] and base.row("fingerprint")[1] == "0123abcd"
    assert base.row("entity labels")[1] == "LOC, ORG, PER" and base.row("version")[1] == "0.0.0"
    assert recipe.row("recipe")[1] == "configs/recipes/second_ner.cfg"
    assert recipe.row("its components")[1] == "tok2vec → tagger → ner → entity_ruler"
    assert recipe.row("shipped pipeline")[1] == "training/pipeline"
    assert "patterns: the patterns alone (entity_ruler, tokenizer only)" in data.text


def test_new_label_scores_side_by_side_best_f_highlighted(page):
    metrics = page.sections["metrics"]
    dev = metrics.table("dev: 40 docs, 46 gold new-label spans")
    assert dev.head == [["system", "all new labels", "GADGET"], ["P", "R", "F", "P", "R", "F"]]
    assert dev.row("patterns") == ["patterns", "91.3", "52.2", "66.4", "91.3", "52.2", "66.4"]
    assert dev.row("shipped") == ["shipped", "81.4", "76.1", "78.7", "81.4", "76.1", "78.7"]
    assert dev.highlighted() == [("shipped", 3, "78.7"), ("shipped", 6, "78.7")]
    checked = metrics.table("checked_dev: 30 docs, 25 gold new-label spans")
    assert checked.highlighted() == [("shipped", 3, "68.1"), ("shipped", 6, "68.1")]


def test_relabel_table_says_how_often_the_new_label_wins(page):
    relabel = page.sections["metrics"].table("dev: does the new label win")
    assert relabel.row("shipped") == ["shipped", "30 of 40", "75.0", "ORG 25, CARDINAL 15", "97.9"]
    assert relabel.row("patterns") == ["patterns", "12 of 40", "30.0", "ORG 25, CARDINAL 15", "—"]
    assert not [t for t in page.sections["metrics"].tables if t.caption.startswith("checked_dev: does")]


def test_old_label_and_agreement_tables(page):
    metrics = page.sections["metrics"]
    ewt = metrics.table("ewt_test: 120 docs (old-label gold)")
    assert ewt.head[0] == [
        "system",
        "against gold",
        "agreement with the base",
        "new-label entities predicted (false alarms: the gold has none)",
    ]
    assert ewt.row("base") == ["base", "81.2", "77.7", "79.4", "100.0", "100.0", "100.0", "0"]
    assert ewt.row("shipped") == ["shipped", "80.6", "77.0", "78.8", "94.5", "92.0", "93.2", "4"]
    assert ewt.row("patterns") == ["patterns", "—", "—", "—", "—", "—", "—", "2"]
    # the best gold F is the base's; for agreement the base (100, itself) is left out
    assert ewt.highlighted() == [("base", 3, "79.4"), ("shipped", 6, "93.2")]
    per_label = metrics.table("ewt_test: F per old label")
    assert per_label.head[1] == ["LOC", "ORG", "PER", "LOC", "ORG", "PER"]
    assert per_label.row("model") == ["model", "77.4", "54.5", "87.4", "91.0", "86.5", "96.5"]
    domain = metrics.table("domain: 200 docs (texts without gold)")
    assert domain.row("shipped") == ["shipped", "96.1", "95.0", "95.5", "21"]
    assert domain.highlighted() == [("shipped", 3, "95.5")]


def test_loss_curves_are_three_charts_with_their_series(page):
    losses = page.sections["losses"]
    assert "13 logged steps from" in losses.text and losses.tags.count("svg") == 3
    for words in (
        "Loss on the new-label examples, per component",
        "Rehearsal losses (silver examples, teacher)",
        "Dev score (the config's score weights)",
        "ner_silver",
        "ner_teacher",
        "dev score",
        "loss (log scale)",  # silver (~20-170) and teacher (<0.05) share the rehearsal chart
        "step",
    ):
        assert words in losses.text
    # each chart's values, as a table under it
    component, rehearsal, score = losses.tables
    assert component.head == [["step", "ner"]] and len(component.rows) == 13
    assert component.row("0") == ["0", "412"] and component.row("600") == ["600", "24.67"]
    assert rehearsal.head == [["step", "ner_silver", "ner_teacher"]] and rehearsal.row("50") == ["50", "147.5", "0.035"]
    assert score.head == [["step", "dev score"]] and score.row("600") == ["600", "0.7656"]


def test_charts_draw_every_logged_step():
    records = make_losses()
    rehearsal = {name: [(r["step"], r["rehearsal_losses"][name]) for r in records] for name in ("ner_silver", "ner_teacher")}  # fmt: skip
    fig = report_charts.line_figure(rehearsal, "step", "loss", "Rehearsal")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "loss (log scale)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ner_silver", "ner_teacher"]
    for line, name in zip(ax.get_lines(), rehearsal):
        assert [tuple(point) for point in line.get_xydata()] == rehearsal[name]
        assert line.get_marker() == "o"  # few points: each one drawn
    linear = report_charts.line_figure({"ner": [(0, 2.0), (10, 1.0)]}, "step", "loss", "Loss").axes[0]
    assert linear.get_yscale() == "linear" and linear.get_ylim()[0] == 0.0
    many = report_charts.line_figure({"ner": [(i, 1.0) for i in range(61)]}, "step", "loss", "Loss").axes[0]
    assert many.get_lines()[0].get_marker() in ("None", None, "")


def test_confusion_table(page):
    confusion = page.sections["confusion"]
    dev = confusion.table("dev")
    assert dev.head == [["gold ↓ / predicted →", "GADGET", "ORG", "partial GADGET", "none", "total", "% exact"]]
    assert dev.row("GADGET") == ["GADGET", "35", "1", "3", "7", "46", "76.1"]
    assert confusion.table("checked_dev").row("GADGET") == ["GADGET", "16", "9", "25", "64.0"]


def test_errors_by_name_and_example_texts(page):
    errors = page.sections["errors"]
    assert (
        "The shipped pipeline's new-label errors: 7 false positives (3 names), 7 false negatives (2 names)"
        in errors.text
    )
    fps, fns, _, checked_fns = [t for t in errors.tables]
    assert [row[0].text for row in fps.rows] == ["Surface", "Apple", "<b>bold</b>"] and fps.row("Surface")[1] == "4"
    assert fns.row("Nokia 3310") == ["Nokia 3310", "5"] and checked_fns.row("Moto G7") == ["Moto G7", "9"]
    # each example text shown twice, gold above predicted, with its entities' labels
    assert "#1 gold My <b> iPhone X GADGET </b> & Alice's PS5 GADGET broke." in errors.text
    assert "predicted My <b> iPhone X GADGET </b> & Alice's PS5 broke." in errors.text
    assert "#2 gold The Nokia 3310 GADGET is back. predicted The Nokia 3310 is back." in errors.text
    assert "0 false positives (0 names), 9 false negatives (1 name)" in errors.text
    assert "No texts with errors" in errors.text


def test_disagreements_with_the_base(page):
    disagreements = page.sections["disagreements"]
    assert "Texts with different old-label entities: 2" in disagreements.text
    spans = disagreements.table("Differing spans per label")
    assert spans.rows and [spans.row(label) for label in ("LOC", "ORG", "PER")] == [
        ["LOC", "1", "0"],
        ["ORG", "0", "1"],
        ["PER", "1", "0"],
    ]
    assert "#1 base Alice Smith PER flew to Paris LOC . shipped Alice Smith PER flew to Paris." in disagreements.text
    assert "The shipped pipeline's old-label entities are the base's on every text" in disagreements.text  # domain


def test_frozen_check(page):
    frozen = page.sections["frozen"]
    assert "identical Token annotations of the base and the shipped pipeline on ewt_test (2345 tokens)." in frozen.text
    assert frozen.tables[0].row("head.i") == ["head.i", "0"]


def test_text_is_escaped(page):
    assert "b" not in page.tags and "script" not in page.tags  # <b>bold</b> is text, not markup
    assert "<b>bold</b>" in page.sections["errors"].text and TRICKY[:11] in page.sections["disagreements"].text


def test_no_external_resources(tmp_path, page):
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf8").lower()
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    assert page.links and all(link.startswith("#") for link in page.links), [
        link for link in page.links if not link.startswith("#")
    ]
    assert "@import" not in html and html.count("url(") == html.count("url(#")


def test_examples_are_capped(tmp_path):
    metrics = make_metrics()
    metrics["disagreements"]["ewt_test"] = metrics["disagreements"]["ewt_test"] * 30
    disagreements = render(tmp_path, metrics, None, "--max-examples", "5").sections["disagreements"]
    assert "Texts (the first 5 of 60)" in disagreements.text
    assert "#5 base" in disagreements.text and "#6 base" not in disagreements.text


def test_many_false_positive_names_are_cut_and_counted(tmp_path):
    metrics = make_metrics()
    metrics["errors"]["dev"]["false_positives"] = [[f"name {i}", 2] for i in range(30)]
    errors = render(tmp_path, metrics).sections["errors"]
    assert len(errors.tables[0].rows) == 25 and "… and 5 more names (10 spans)" in errors.text


def minimal_metrics() -> dict:
    """What evaluate writes for one new-label set without gold spans, no patterns, no old-label sets."""
    metrics = make_metrics()
    empty = scores(0.0, 0.0, 0.0, 0, {})
    metrics.update(
        recipe=None,
        new_label_sets={
            "empty": {"docs": 0, "model": empty, "shipped": empty, "old_label_agreement": {}, "relabel": {}}
        },
        old_label_sets={},
        agreement_sets={},
        confusion={"empty": {}},
        errors={"empty": {"false_positives": [], "false_negatives": [], "examples": []}},
        disagreements={},
    )
    del metrics["frozen_outputs"]
    return metrics


def test_missing_parts_are_said_not_crashed_on(tmp_path):
    paths = write_inputs(tmp_path, minimal_metrics(), losses=[])
    (tmp_path / "losses.jsonl").write_text("\n", encoding="utf8")
    code, output = run_report(paths, tmp_path / "r.html", full=False)
    assert code == 0, output
    assert "has no records" in output and "Not in" in output and "old_label_sets, frozen_outputs" in output
    page = Page((tmp_path / "r.html").read_text(encoding="utf8"))
    data = page.sections["data"].text
    assert "No training or development data given (--train, --dev)" in data
    assert "No base description given (--base-info). The metrics name it training/base/model-best." in data
    assert "not recorded in the pipeline's meta" in data
    assert "has no records: no loss curves to draw" in page.sections["losses"].text and "svg" not in page.tags
    metrics = page.sections["metrics"].text
    assert "No old-label sets in the metrics" in metrics and "No agreement sets in the metrics" in metrics
    assert "empty has no gold new-label spans: its recall and F say nothing" in metrics
    assert "empty: no gold new-label spans" in page.sections["confusion"].text
    assert "No disagreement lists" in page.sections["disagreements"].text
    assert "No frozen-components check" in page.sections["frozen"].text
    assert not [cell for table in page.sections["metrics"].tables for cell in table.highlighted()]  # F 0 is not best
    assert "patterns" not in metrics


@pytest.mark.parametrize("steps", [(0, 10), (0,)])
def test_losses_without_rehearsal(tmp_path, steps):
    losses = [{"epoch": 0, "step": s, "score": 0.0, "losses": {"ner": 0.0}, "rehearsal_losses": {}} for s in steps]
    section = render(tmp_path, None, losses).sections["losses"]
    assert "No rehearsal losses were logged" in section.text and section.tags.count("svg") == 2
    assert "Loss on the new-label examples" in section.text and "Dev score" in section.text


def test_failed_learning_is_said_at_the_top_and_no_failed_score_is_highlighted(tmp_path):
    metrics = make_metrics()
    for entry in metrics["new_label_sets"].values():
        for system in ("patterns", "model", "shipped"):
            entry[system].update(f=3.6, per_label={"GADGET": prf(5.0, 2.8, 3.6)})
    _, warnings, _ = side_by_side.learning_problems(metrics, "checked_dev", 10.0)
    metrics["learning"].update(failed=True, warnings=warnings)
    warning = "The model learned almost nothing of GADGET: F 3.6 on checked_dev"
    page = render(tmp_path, metrics)
    assert page.top_text.index("Learning failed.") < page.top_text.index(SECTIONS["data"][3:])
    assert "package builds no wheel of this pipeline" in page.top_text
    assert warning in page.top_text and "Learning worked" not in page.text
    new_label_tables = [t for t in page.sections["metrics"].tables if "gold new-label spans" in t.caption]
    assert len(new_label_tables) == 2 and not [c for t in new_label_tables for c in t.highlighted()]


def test_package_builds_nothing_when_learning_failed_unless_told_to_ship(tmp_path):
    metrics = make_metrics()
    metrics["new_label_sets"]["checked_dev"]["model"]["per_label"]["GADGET"] = prf(5.0, 2.8, 3.6)
    _, warnings, _ = side_by_side.learning_problems(metrics, "checked_dev", 10.0)
    metrics["learning"].update(failed=True, warnings=warnings)
    failed, worked = tmp_path / "failed.json", tmp_path / "worked.json"
    failed.write_text(dumps(validated(metrics)), encoding="utf8")
    worked.write_text(dumps(validated(make_metrics())), encoding="utf8")

    code, out = run_cli(check_learning.main, [failed])  # the default is vars.failed_learning's: stop
    assert code == 1 and "learned almost nothing of GADGET: F 3.6 on checked_dev" in out
    assert "nothing packaged" in out and "--vars.failed_learning ship" in out
    code, out = run_cli(check_learning.main, [failed, "--on-failure", "ship"])
    assert code == 0 and "packaging anyway" in out and "learned almost nothing of GADGET" in out
    assert run_cli(check_learning.main, [worked])[0] == 0
    code, out = run_cli(check_learning.main, [tmp_path / "missing.json"])
    assert code == 1 and "missing.json: file not found" in out

    # the metrics must be of the pipeline as it is now: assembled again since, they judge nothing
    pipeline = tmp_path / "pipeline"
    pipeline.mkdir()
    (pipeline / "meta.json").write_text('{"name": "one"}', encoding="utf8")
    code, out = run_cli(check_learning.main, [worked, "--pipeline", pipeline])  # written before evaluate said which
    assert code == 1 and "does not say which pipeline it measured" in out
    measured = make_metrics()
    measured["shipped_checksum"] = get_checksum(pipeline)
    worked.write_text(dumps(validated(measured)), encoding="utf8")
    assert run_cli(check_learning.main, [worked, "--pipeline", pipeline])[0] == 0
    (pipeline / "meta.json").write_text('{"name": "two"}', encoding="utf8")
    code, out = run_cli(check_learning.main, [worked, "--pipeline", pipeline])
    assert code == 1 and "it changed since evaluate measured it" in out and "project run evaluate" in out


def test_renders_real_evaluate_output(tmp_path):
    """scoring.evaluate() on tiny rule-based pipelines, completed as evaluate.py does, gives a page."""

    def ruler_pipeline(patterns):
        nlp = spacy.blank("en")
        nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"}).add_patterns(patterns)
        return nlp

    old = [{"label": "PER", "pattern": "Alice Smith"}, {"label": "ORG", "pattern": "Acme Corp"}]
    base = ruler_pipeline(old + [{"label": "LOC", "pattern": "Paris"}])
    gadgets = [{"label": "GADGET", "pattern": "iPhone X"}, {"label": "GADGET", "pattern": "Pixel 7"}]
    shipped = ruler_pipeline(old + gadgets)
    shipped.meta["ner_update"] = {"recipe": "second_ner"}
    patterns = ruler_pipeline([{"label": "GADGET", "pattern": "iphone x"}])

    def gold(text, spans):
        doc = base.make_doc(text)
        doc.ents = [doc.char_span(s, e, label=label) for s, e, label in spans]
        return doc

    new_sets = {
        "dev": [
            gold("I bought an iPhone X today.", [(12, 20, "GADGET")]),
            gold("The Pixel 7 and the PS5.", [(4, 11, "GADGET"), (20, 23, "GADGET")]),
        ]
    }
    old_sets = {
        "heldout": [
            gold("Alice Smith moved to Paris.", [(0, 11, "PER"), (21, 26, "LOC")]),
            gold("Acme Corp <b>hires</b>.", [(0, 9, "ORG")]),
        ]
    }
    agreement = {"domain": ["Bob met Alice Smith in Paris."]}
    raw = scoring.evaluate(base, shipped, patterns, new_sets, old_sets, agreement, {}, progress=False)
    metrics = side_by_side.complete_metrics(raw, "base", "shipped", "dev", 10.0)
    page = render(tmp_path, json.loads(dumps(metrics)))
    dev = page.sections["metrics"].table("dev: 2 docs, 3 gold new-label spans")
    assert dev.row("shipped")[1:4] == ["100.0", "66.7", "80.0"] and ("shipped", 3, "80.0") in dev.highlighted()
    assert "PS5" in page.sections["errors"].text and "Paris LOC" in page.sections["disagreements"].text
    assert "identical" in page.sections["frozen"].text
    # the stand-in "model" (the shipped pipeline without its entity_ruler) finds nothing: said at the top
    assert "Learning failed. The model learned almost nothing of GADGET: F 0.0 on dev" in page.top_text


def bad_inputs():
    metrics = make_metrics()
    wrong_type = copy.deepcopy(metrics)
    wrong_type["new_label_sets"]["dev"]["model"]["f"] = "high"
    bad_span = copy.deepcopy(metrics)
    bad_span["errors"]["dev"]["examples"][1]["gold"] = [[4, 400, "GADGET"]]
    old = copy.deepcopy(metrics)  # as evaluate wrote it before it judged learning and relabelling
    del old["learning"], old["new_label_sets"]["dev"]["relabel"]
    unknown = {**metrics, "new_label_set": {}}
    return [
        ("metrics.json", None, "file not found"),
        ("metrics.json", "{not json", "invalid JSON at line 1"),
        ("metrics.json", "[1, 2]", "expected a JSON object"),
        ("metrics.json", '{"pipeline": ["ner"]}', "not the output of evaluate.py"),
        (
            "metrics.json",
            json.dumps(wrong_type),
            "new_label_sets.dev.model.f: input should be a valid number, got 'high'",
        ),  # fmt: skip
        ("metrics.json", json.dumps(bad_span), "errors.dev.examples[1]: gold[0]: span 4-400 is outside the text"),
        (
            "metrics.json",
            json.dumps(old),
            "new_label_sets.dev.relabel: missing; learning: missing (written by another version of evaluate? run `python -m spacy project run evaluate`",
        ),  # fmt: skip
        ("metrics.json", json.dumps(unknown), "new_label_set: not a field of this file"),
        ("losses.jsonl", None, "file not found"),
        (
            "losses.jsonl",
            '{"step": 1, "losses": {"ner": 1.0}}\n{"step": "two"}\n',
            "line 2: step: input should be a valid integer, got 'two'",
        ),  # fmt: skip
        ("losses.jsonl", '{"step": 1}\n[oops\n', "line 2: invalid JSON"),
        ("base_model.json", '{"pipeline": "ner"}', "pipeline: input should be a valid array, got 'ner'"),
        ("train.spacy", "not a docbin", "not a readable .spacy (DocBin) file"),
        ("dev.spacy", None, "file not found"),
    ]


@pytest.mark.parametrize("name,content,expected", bad_inputs())
def test_bad_input_fails_naming_the_file_and_writes_nothing(tmp_path, name, content, expected):
    paths = write_inputs(tmp_path)
    if content is None:
        paths[name].unlink()
    else:
        paths[name].write_text(content, encoding="utf8")
    out = tmp_path / "r.html"
    code, output = run_report(paths, out)
    assert code == 1
    assert f"{paths[name]}: " in output and expected in output
    assert not out.exists()


def test_output_must_not_overwrite_an_input(tmp_path):
    paths = write_inputs(tmp_path)
    code, output = run_report(paths, paths["metrics.json"])
    assert code == 1 and "would overwrite an input" in output
    assert srsly.read_json(paths["metrics.json"]) == make_metrics()


# ---------------------------------------------------------------- a real browser


def chromium_command(user_data_dir: Path, screenshot: Path, page: Path) -> list | None:
    binaries = ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
    binary = next((b for b in binaries if b and Path(b).exists()), None)
    if binary is None:
        return None
    return [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={user_data_dir}", "--window-size=1280,2000", f"--screenshot={screenshot}", page.as_uri(),
    ]  # fmt: skip


def test_page_renders_in_headless_chromium(tmp_path):
    from PIL import Image  # comes with matplotlib

    paths = write_inputs(tmp_path)
    page = tmp_path / "report.html"
    assert run_report(paths, page)[0] == 0
    shot = tmp_path / "shot.png"
    command = chromium_command(tmp_path / "chromium-profile", shot, page)
    if command is None:
        pytest.skip(
            "Chromium not found (/usr/bin/chromium or chromium on PATH): install it (apt-get install chromium) to render the report in a browser"
        )
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0 and shot.exists(), f"chromium failed ({result.returncode}): {result.stderr[-2000:]}"
    with Image.open(shot) as image:
        pixels = image.convert("RGB")
    assert pixels.size == (1280, 2000)
    colors = pixels.getcolors(maxcolors=1 << 24)
    non_white = sum(n for n, rgb in colors if min(rgb) < 235)
    share = non_white / (1280 * 2000)
    assert share > 0.05, f"the page looks blank: only {share:.1%} of the pixels are not white"
    assert len(colors) > 100, f"the page looks blank: only {len(colors)} distinct colours"
