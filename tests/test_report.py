"""report: every section on the page, numbers in the tables, SVG loss curves, displaCy, escaping,
no external resources, missing parts, real evaluate() output, bad input, and a headless-Chromium render."""

import copy
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin

import report
from conftest import run_cli

SECTION_IDS = ["data", "metrics", "losses", "confusion", "errors", "disagreements", "frozen"]
TRICKY = "My <b>iPhone X</b> & Alice's PS5 broke."  # markup in a text must be shown, not interpreted


def prf(p: float, r: float, f: float) -> dict:
    return {"p": p, "r": r, "f": f}


def make_metrics() -> dict:
    """A metrics dict with the schema of scoring.evaluate() plus the two paths main() adds."""
    per_old = {"LOC": prf(80.0, 75.0, 77.42), "ORG": prf(60.0, 50.0, 54.55), "PER": prf(90.0, 85.0, 87.43)}
    agreement = {"LOC": prf(92.0, 90.0, 90.99), "ORG": prf(88.0, 85.0, 86.47), "PER": prf(97.0, 96.0, 96.5)}
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
            "dev": {
                "patterns": {**prf(91.3, 52.17, 66.4), "per_label": {"GADGET": prf(91.3, 52.17, 66.4)}, "support": 46},
                "model": {**prf(78.57, 71.74, 75.0), "per_label": {"GADGET": prf(78.57, 71.74, 75.0)}, "support": 46},
                "shipped": {**prf(81.4, 76.09, 78.65), "per_label": {"GADGET": prf(81.4, 76.09, 78.65)}, "support": 46},
                "docs": 40,
            },
            "checked_dev": {
                "patterns": {**prf(88.0, 44.0, 58.67), "per_label": {"GADGET": prf(88.0, 44.0, 58.67)}, "support": 25},
                "model": {**prf(70.0, 56.0, 62.22), "per_label": {"GADGET": prf(70.0, 56.0, 62.22)}, "support": 25},
                "shipped": {**prf(72.73, 64.0, 68.09), "per_label": {"GADGET": prf(72.73, 64.0, 68.09)}, "support": 25},
                "docs": 30,
            },
        },
        "old_label_sets": {
            "ewt_test": {
                "docs": 120,
                "base": {
                    "new_label_predictions": 0,
                    "agreement": {
                        **prf(100.0, 100.0, 100.0),
                        "per_label": {k: prf(100.0, 100.0, 100.0) for k in per_old},
                        "support": 210,
                    },
                    "gold": {**prf(81.2, 77.7, 79.41), "per_label": per_old, "support": 230},
                },
                "model": {
                    "new_label_predictions": 3,
                    "agreement": {**prf(93.1, 91.2, 92.14), "per_label": agreement, "support": 210},
                    "gold": {**prf(79.9, 76.1, 77.95), "per_label": per_old, "support": 230},
                },
                "shipped": {
                    "new_label_predictions": 4,
                    "agreement": {**prf(94.5, 92.0, 93.23), "per_label": agreement, "support": 210},
                    "gold": {**prf(80.6, 77.0, 78.76), "per_label": per_old, "support": 230},
                },
                "patterns": {"new_label_predictions": 2},
            }
        },
        "agreement_sets": {
            "domain": {
                "docs": 200,
                "base": {
                    "new_label_predictions": 0,
                    "agreement": {**prf(100.0, 100.0, 100.0), "per_label": {}, "support": 80},
                },
                "model": {
                    "new_label_predictions": 17,
                    "agreement": {**prf(95.2, 93.8, 94.49), "per_label": {}, "support": 80},
                },
                "shipped": {
                    "new_label_predictions": 21,
                    "agreement": {**prf(96.1, 95.0, 95.55), "per_label": {}, "support": 80},
                },
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
            "differing_tokens": {
                "tag_": 0,
                "pos_": 0,
                "morph": 0,
                "lemma_": 0,
                "dep_": 0,
                "head.i": 0,
                "is_sent_start": 0,
            },
        },
        "base_model": "training/base/model-best",
        "shipped_model": "training/pipeline",
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
    srsly.write_json(
        paths["base_model.json"],
        {
            "base_model": "training/base/model-best",
            "pipeline": ["tok2vec", "tagger", "ner"],
            "ner_labels": ["LOC", "ORG", "PER"],
            "version": "0.0.0",
            "fingerprint": "0123abcd",
        },
    )
    write_corpus(
        paths["train.spacy"],
        [
            ("I love my iPhone X today.", [(10, 18, "GADGET")]),
            ("Is the PS5 worth it?", [(7, 10, "GADGET")]),
            ("Hello there.", []),
        ],
    )
    write_corpus(paths["dev.spacy"], [("Grace bought a Pixel 7.", [(0, 5, "PER"), (15, 22, "GADGET")])])
    return paths


def run_report(paths: dict, out: Path, full: bool = True):
    args = [paths["metrics.json"], paths["losses.jsonl"], out]
    if full:
        args += ["--base-info", paths["base_model.json"], "--train", paths["train.spacy"], "--dev", paths["dev.spacy"]]
    return run_cli(report.main, args)


@pytest.fixture
def page(tmp_path) -> str:
    paths = write_inputs(tmp_path)
    code, output = run_report(paths, tmp_path / "out" / "report.html")
    assert code == 0, output
    return (tmp_path / "out" / "report.html").read_text(encoding="utf8")


def nums(*values: int) -> str:
    """Numeric table cells in a row."""
    return "".join(f"<td class='num'>{v}</td>" for v in values)


def section(page: str, key: str) -> str:
    """The markup of one <section id=key>."""
    start = page.index(f"<section id='{key}'>")
    return page[start : page.index("</section>", start)]


def test_every_section_is_on_the_page(page):
    assert page.startswith("<!DOCTYPE html>")
    for key in SECTION_IDS:
        assert f"<section id='{key}'>" in page and f"href='#{key}'" in page


def test_data_base_and_recipe(page):
    data = section(page, "data")
    # train: 3 docs, 1 without entities, 2 spans (GADGET 2); dev: 1 doc, 2 spans (GADGET 1, PER 1)
    assert "<td>train</td>" in data and nums(3, 1, 2, 2, 0) in data
    assert "<td>dev</td>" in data and nums(1, 0, 2, 1, 1) in data
    assert "0123abcd" in data and "tok2vec, tagger, ner" in data and "LOC, ORG, PER" in data
    assert "configs/recipes/second_ner.cfg" in data and "tok2vec → tagger → ner → entity_ruler" in data


def test_scores_side_by_side_with_best_f_highlighted(page):
    scores = section(page, "metrics")
    for value in ("66.4", "75.0", "78.7", "91.3", "52.2", "58.7", "68.1"):  # new-label sets, one decimal
        assert f">{value}</td>" in scores
    assert "<td class='f num best'>78.7</td>" in scores and "<td class='f num best'>68.1</td>" in scores
    assert "<td class='f num best'>66.4</td>" not in scores
    assert "46 gold new-label spans" in scores and "ewt_test: 120 docs" in scores
    # old labels: base has the best gold F; agreement best leaves the base (100, itself) out
    assert "<td class='f num best'>79.4</td>" in scores and "<td class='f num best'>93.2</td>" in scores
    assert "<td class='f itself num'>100.0</td>" in scores
    assert (
        "domain: 200 docs" in scores
        and "<td class='f num best'>95.5</td>" in scores
        and "<td class='num'>21</td>" in scores
    )


def test_loss_curves_are_inline_svg_with_a_line_per_series(page):
    losses = section(page, "losses")
    assert losses.count("<svg") == 3
    for series in ("ner", "ner_silver", "ner_teacher", "dev score"):
        assert losses.count(f"data-series='{series}'") == 1
        assert f"class='legend'>{series}</text>" in losses
    assert "class='tick'" in losses and ">step</text>" in losses
    assert "(log scale)" in losses  # silver (~20-170) and teacher (<0.05) share the rehearsal chart
    points = losses.split("data-series='ner' points='")[1].split("'")[0].split()
    assert len(points) == len(make_losses())


def test_confusion_errors_disagreements_and_frozen_check(page):
    confusion = section(page, "confusion")
    assert "<td class='num hit'>35</td>" in confusion and "<td class='num miss'>7</td>" in confusion
    assert "partial GADGET" in confusion and "<td class='num wrong'>1</td>" in confusion
    errors = section(page, "errors")
    assert errors.index("Surface") < errors.index("Apple") and "Nokia 3310" in errors and "Moto G7" in errors
    assert '<mark class="entity"' in errors and 'class="entities"' in errors
    assert errors.count("<div class='viewname'>gold</div>") == 2 and "No texts with errors" in errors
    disagreements = section(page, "disagreements")
    assert disagreements.count("<div class='viewname'>shipped</div>") == 2 and " flew to " in disagreements
    assert "every text" in disagreements  # the empty `domain` list
    frozen = section(page, "frozen")
    assert "identical" in frozen and "2345 tokens" in frozen and "head.i" in frozen


def test_text_is_escaped(page):
    assert "<b>" not in page and "</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in section(page, "errors")
    assert "&lt;b&gt;" in section(page, "disagreements")


def test_no_external_resources(page):
    lowered = page.lower()
    for needle in ("src=", "<link", "@import", "url(", "<script", "<iframe", "<img"):
        assert needle not in lowered
    assert lowered.replace("http://www.w3.org/2000/svg", "").count("http") == 0


def test_examples_are_capped(tmp_path):
    metrics = make_metrics()
    metrics["disagreements"]["ewt_test"] = metrics["disagreements"]["ewt_test"] * 30
    paths = write_inputs(tmp_path, metrics)
    code, output = run_cli(
        report.main, [paths["metrics.json"], paths["losses.jsonl"], tmp_path / "r.html", "--max-examples", "5"]
    )
    assert code == 0, output
    disagreements = section((tmp_path / "r.html").read_text(encoding="utf8"), "disagreements")
    assert disagreements.count("<div class='viewname'>base</div>") == 5 and "the first 5 of 60" in disagreements


def test_missing_parts_are_said_not_crashed_on(tmp_path):
    metrics = {
        "new_labels": ["GADGET"],
        "new_label_sets": {"empty": {"docs": 0, "patterns": {**prf(0.0, 0.0, 0.0), "per_label": {}, "support": 0}}},
        "confusion": {"empty": {}},
        "errors": {"empty": {"false_positives": [], "false_negatives": [], "examples": []}},
        "recipe": None,
    }
    paths = write_inputs(tmp_path, metrics, losses=[])
    (tmp_path / "losses.jsonl").write_text("\n", encoding="utf8")
    code, output = run_report(paths, tmp_path / "r.html", full=False)
    assert code == 0, output
    assert "has no records" in output
    page = (tmp_path / "r.html").read_text(encoding="utf8")
    assert "No base description given" in section(page, "data") and "No training or development data" in page
    assert "not recorded in the pipeline's meta" in page
    assert "has no records: no loss curves" in section(page, "losses") and "<svg" not in page
    assert "No old-label sets" in page and "No agreement sets" in page
    assert "empty: no gold new-label spans" in section(page, "confusion")
    assert "No disagreement lists" in page and "No frozen-components check" in page
    assert "class='f num best'" not in page  # an F of 0 is nobody's best
    assert "empty has no gold new-label spans" in section(page, "metrics")


@pytest.mark.parametrize("steps", [(0, 10), (0,)])
def test_losses_without_rehearsal(tmp_path, steps):
    losses = [{"epoch": 0, "step": s, "score": 0.0, "losses": {"ner": 0.0}, "rehearsal_losses": {}} for s in steps]
    paths = write_inputs(tmp_path, losses=losses)
    code, output = run_report(paths, tmp_path / "r.html", full=False)
    assert code == 0, output
    losses_html = section((tmp_path / "r.html").read_text(encoding="utf8"), "losses")
    assert "No rehearsal losses were logged" in losses_html and losses_html.count("<svg") == 2
    assert losses_html.count("<circle") == 2 * len(steps)  # loss and score, all zero, one point per step


def test_renders_real_evaluate_output(tmp_path):
    """scoring.evaluate() on tiny rule-based pipelines gives metrics the report renders."""
    import scoring

    def ruler_pipeline(patterns):
        nlp = spacy.blank("en")
        nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"}).add_patterns(patterns)
        return nlp

    old = [{"label": "PER", "pattern": "Alice Smith"}, {"label": "ORG", "pattern": "Acme Corp"}]
    base = ruler_pipeline(old + [{"label": "LOC", "pattern": "Paris"}])
    shipped = ruler_pipeline(
        old + [{"label": "GADGET", "pattern": "iPhone X"}, {"label": "GADGET", "pattern": "Pixel 7"}]
    )
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
    metrics = scoring.evaluate(
        base, shipped, patterns, new_sets, old_sets, {"domain": ["Bob met Alice Smith in Paris."]}, {}
    )
    metrics.update(base_model="base", shipped_model="shipped")
    paths = write_inputs(tmp_path, json.loads(srsly.json_dumps(metrics)))
    code, output = run_report(paths, tmp_path / "r.html")
    assert code == 0, output
    page = (tmp_path / "r.html").read_text(encoding="utf8")
    assert "<td class='f num best'>80.0</td>" in section(page, "metrics")  # shipped: P 100, R 66.7 on dev
    assert "PS5" in section(page, "errors") and "Paris" in section(page, "disagreements")
    assert "identical" in section(page, "frozen")


def bad_inputs():
    metrics = make_metrics()
    wrong_type = copy.deepcopy(metrics)
    wrong_type["new_label_sets"]["dev"]["model"]["f"] = "high"
    bad_span = copy.deepcopy(metrics)
    bad_span["errors"]["dev"]["examples"][1]["gold"] = [[4, 400, "GADGET"]]
    return [
        ("metrics.json", None, "file not found"),
        ("metrics.json", "{not json", "invalid JSON at line 1"),
        ("metrics.json", "[1, 2]", "expected a JSON object"),
        ("metrics.json", '{"pipeline": ["ner"]}', "not the output of evaluate.py"),
        ("metrics.json", json.dumps(wrong_type), "new_label_sets.dev.model.f: expected a number, got 'high'"),
        ("metrics.json", json.dumps(bad_span), "errors.dev.examples[1].gold[0]: span 4-400 is outside the text"),
        ("losses.jsonl", None, "file not found"),
        ("losses.jsonl", '{"step": 1, "losses": {"ner": 1.0}}\n{"step": "two"}\n', "line 2.step: expected an integer"),
        ("losses.jsonl", '{"step": 1}\n[oops\n', "line 2: invalid JSON"),
        ("base_model.json", '{"pipeline": "ner"}', "pipeline: expected a list"),
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
    assert str(paths[name]) in output and expected in output
    assert not out.exists()


def test_output_must_not_overwrite_an_input(tmp_path):
    paths = write_inputs(tmp_path)
    code, output = run_report(paths, paths["metrics.json"])
    assert code == 1 and "would overwrite an input" in output
    assert srsly.read_json(paths["metrics.json"]) == make_metrics()


# ---------------------------------------------------------------- a real browser


def chromium_command(user_data_dir: Path, screenshot: Path, page: Path) -> list | None:
    binary = next(
        (
            b
            for b in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
            if b and Path(b).exists()
        ),
        None,
    )
    if binary is None:
        return None
    return [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={user_data_dir}", "--window-size=1280,2000", f"--screenshot={screenshot}", page.as_uri(),
    ]  # fmt: skip


def png_rows(path: Path) -> tuple[int, int, list[bytes], int]:
    """Decode an 8-bit, non-interlaced PNG with the standard library: (width, height, rows, bytes per pixel)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    width, height, depth, color_type, _, _, interlace = header
    assert depth == 8 and interlace == 0, f"unsupported PNG: depth {depth}, interlace {interlace}"
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    raw, stride = zlib.decompress(idat), width * bpp
    prev, rows = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
        elif kind == 4:
            for i in range(stride):
                a, b = (line[i - bpp] if i >= bpp else 0), prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def test_page_renders_in_headless_chromium(tmp_path):
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
    width, height, rows, bpp = png_rows(shot)
    assert (width, height) == (1280, 2000)
    colors, non_white = set(), 0
    for row in rows:
        for i in range(0, len(row), bpp):
            pixel = row[i : i + min(bpp, 3)]
            colors.add(pixel)
            non_white += min(pixel) < 235
    share = non_white / (width * height)
    assert share > 0.05, f"the page looks blank: only {share:.1%} of the pixels are not white"
    assert len(colors) > 100, f"the page looks blank: only {len(colors)} distinct colours"
