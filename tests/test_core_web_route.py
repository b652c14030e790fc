"""The README's "Using en_core_web_sm instead" route, on a tiny pipeline shaped like en_core_web_sm 3.8.

The base is built here, offline, and installed as a package, so that the base var is a
package name as it is for en_core_web_sm: tok2vec (shared by tagger and parser), tagger
(fine-grained tags), parser, senter (disabled, with its own tok2vec), attribute_ruler
(TAG -> POS from a tag map), lemmatizer (rule mode, tables from spacy-lookups-data) and a ner
with its own tok2vec, labels PERSON/ORG/GPE. Then the scripts run in the project's order,
everything under tmp_path: rehearsal -> make_config -> spacy train (--code) -> assemble ->
evaluate (--label-map) -> spacy package -> pip install --target -> load in a clean process.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import spacy
import srsly
from spacy.cli.init_config import fill_config
from spacy.cli.train import train
from spacy.tokens import Doc, DocBin

import assemble
import convert
import evaluate
import functions  # noqa: F401  (what `--code scripts/functions.py` does for `spacy train`)
import make_config
import rehearsal
from conftest import ROOT, run_cli
from tiny import gadget_records, install_wheel, old_label_sentences, tok2vec_block

LABEL_MAP = "PERSON:PER,ORG:ORG,GPE:LOC,LOC:LOC,FAC:LOC"
ONTONOTES = {"PER": "PERSON", "ORG": "ORG", "LOC": "GPE"}  # tiny.py's slots -> en_core_web_sm's labels
BASE_NAME = "core_web_tiny"  # installed as en_core_web_tiny, the stand-in for en_core_web_sm
FROZEN = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")

# Penn Treebank tags for the words of tiny.py's templates; other words: NNP if capitalized, else NN
WORD_TAGS = {
    "the": "DT",
    "a": "DT",
    "in": "IN",
    "for": "IN",
    "at": "IN",
    "by": "IN",
    "from": "IN",
    "on": "IN",
    "that": "IN",
    "to": "IN",
    "works": "VBZ",
    "moved": "VBD",
    "opened": "VBD",
    "met": "VBD",
    "was": "VBD",
    "read": "VBN",
    "flew": "VBD",
    "said": "VBD",
    "expected": "VBD",
    "will": "MD",
    "hire": "VB",
    "more": "JJR",
    "new": "JJ",
    "last": "JJ",
    "people": "NNS",
    "We": "PRP",
    "Nobody": "NN",
    "Yesterday": "NN",
    "Monday": "NNP",
}
TAG_MAP = {
    "DT": "DET",
    "IN": "ADP",
    "VBZ": "VERB",
    "VBD": "VERB",
    "VBN": "VERB",
    "VB": "VERB",
    "MD": "AUX",
    "JJ": "ADJ",
    "JJR": "ADJ",
    "NN": "NOUN",
    "NNS": "NOUN",
    "NNP": "PROPN",
    "PRP": "PRON",
    ".": "PUNCT",
}

CORE_WEB_CONFIG = """
[paths]
train = null
dev = null
tag_map = null

[nlp]
lang = "en"
pipeline = ["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "ner"]

[components]

[components.tok2vec]
factory = "tok2vec"

{shared}

[components.tagger]
factory = "tagger"

[components.tagger.model]
@architectures = "spacy.Tagger.v2"

[components.tagger.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 32

[components.parser]
factory = "parser"

[components.parser.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "parser"
hidden_width = 32
maxout_pieces = 2
use_upper = true

[components.parser.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 32

[components.senter]
factory = "senter"

[components.senter.model]
@architectures = "spacy.Tagger.v2"

{senter}

[components.attribute_ruler]
factory = "attribute_ruler"

[components.lemmatizer]
factory = "lemmatizer"
mode = "rule"

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
hidden_width = 32
maxout_pieces = 2
use_upper = true

{ner}

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}

[training]
max_steps = 120
eval_frequency = 60
dropout = 0.1

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.005

[training.score_weights]
ents_f = 0.5
tag_acc = 0.25
dep_uas = 0.25
dep_las = null
dep_las_per_type = null
sents_p = null
sents_r = null
sents_f = null
pos_acc = null
morph_acc = null
morph_per_feat = null
lemma_acc = null
ents_p = null
ents_r = null
ents_per_type = null

[initialize]

[initialize.components]

[initialize.components.attribute_ruler]

[initialize.components.attribute_ruler.tag_map]
@readers = "srsly.read_json.v1"
path = ${paths.tag_map}
"""


def tags_of(words: List[str]) -> List[str]:
    tags = []
    for i, word in enumerate(words):
        if not word[0].isalnum():
            tags.append(".")
        else:
            tags.append(WORD_TAGS.get(word, "NNP" if word[0].isupper() and i > 0 else "NN"))
    return tags


def core_web_doc(nlp, text: str, spans) -> Doc:
    """A gold doc: PTB tags, a flat tree under the first verb, OntoNotes entities."""
    tokens = nlp.make_doc(text)
    words, spaces = [t.text for t in tokens], [bool(t.whitespace_) for t in tokens]
    tags = tags_of(words)
    root = next((i for i, tag in enumerate(tags) if tag.startswith("VB") or tag == "MD"), 0)
    heads = [root] * len(words)
    deps = [
        "ROOT" if i == root else "punct" if tag == "." else "nsubj" if i < root else "dobj"
        for i, tag in enumerate(tags)
    ]
    doc = Doc(nlp.vocab, words=words, spaces=spaces, tags=tags, heads=heads, deps=deps)
    doc.ents = [doc.char_span(s, e, label=ONTONOTES[label]) for s, e, label in spans]
    return doc


def write_core_web_corpus(path: Path, n: int, seed: int) -> None:
    nlp = spacy.blank("en")
    DocBin(docs=[core_web_doc(nlp, text, spans) for text, spans in old_label_sentences(n, seed)]).to_disk(path)


def build_core_web_like(root: Path) -> Path:
    """Train the en_core_web_sm-shaped base for a few steps; save it with senter disabled."""
    root.mkdir(parents=True, exist_ok=True)
    write_core_web_corpus(root / "train.spacy", 200, seed=1)
    write_core_web_corpus(root / "dev.spacy", 30, seed=2)
    srsly.write_json(root / "tag_map.json", {tag: {"POS": pos} for tag, pos in TAG_MAP.items()})
    senter_tok2vec = tok2vec_block("components.senter.model.tok2vec").replace("width = 32", "width = 16")
    text = (
        CORE_WEB_CONFIG.replace("{shared}", tok2vec_block("components.tok2vec.model"))
        .replace("{senter}", senter_tok2vec)
        .replace("{ner}", tok2vec_block("components.ner.model.tok2vec"))
    )
    config = root / "base.cfg"
    config.write_text(text, encoding="utf8")
    fill_config(config, config, silent=True)
    train(
        config,
        root / "out",
        overrides={
            "paths.train": str(root / "train.spacy"),
            "paths.dev": str(root / "dev.spacy"),
            "paths.tag_map": str(root / "tag_map.json"),
        },
    )
    # en_core_web_sm ships senter trained but disabled (the parser sets the sentences)
    nlp = spacy.load(root / "out" / "model-last", disable=["senter"])
    nlp.meta.update(name=BASE_NAME, version="3.8.0")
    nlp.to_disk(root / "base")
    return root / "base"


def ok(main, args, **kwargs) -> str:
    code, output = run_cli(main, args, **kwargs)
    assert code == 0, output
    return output


@pytest.fixture(scope="module")
def route(tmp_path_factory) -> Dict:
    root = tmp_path_factory.mktemp("core_web")
    base_dir = build_core_web_like(root / "build")
    # the base var is a package name, as in `--vars.base_model en_core_web_sm`
    base_site = root / "base_site"
    install_wheel(base_dir, root / "base_pkg", base_site, BASE_NAME)
    sys.path.insert(0, str(base_site))
    base = f"en_{BASE_NAME}"
    try:
        corpus = root / "corpus"
        srsly.write_json(root / "gadgets.json", gadget_records(80, seed=3))
        ok(
            convert.main,
            [
                root / "gadgets.json",
                "--train-output",
                corpus / "train.spacy",
                "--dev-output",
                corpus / "dev.spacy",
                "--split",
                "random",
            ],
        )
        srsly.write_jsonl(root / "raw.jsonl", [{"text": t} for t, _ in old_label_sentences(60, seed=4)])
        out = {
            "rehearsal": ok(
                rehearsal.main,
                [base, corpus / "train.spacy", corpus / "dev.spacy", corpus, "--texts", root / "raw.jsonl"],
            )
        }
        config = root / "training" / "config.cfg"
        out["config"] = ok(make_config.main, [ROOT / "configs" / "config.cfg", base, config])
        train(
            config,
            root / "training" / "updated",
            overrides={
                "paths.train": str(corpus / "train.spacy"),
                "paths.dev": str(corpus / "dev.spacy"),
                "paths.train_base_ents": str(corpus / "train_base_ents.spacy"),
                "paths.dev_base_ents": str(corpus / "dev_base_ents.spacy"),
                "paths.rehearsal": str(corpus / "rehearsal.spacy"),
                "paths.losses": str(root / "training" / "losses.jsonl"),
                "training.max_steps": 40,
                "training.eval_frequency": 20,
                "training.optimizer.learn_rate": 0.002,
            },
        )
        updated = root / "training" / "updated" / "model-last"
        patterns = root / "patterns.jsonl"
        srsly.write_jsonl(
            patterns,
            [
                {"label": "GADGET", "pattern": [{"LOWER": "steam"}, {"LOWER": "deck"}]},
                {"label": "GADGET", "pattern": "kindle oasis"},
            ],
        )
        shipped = {}
        for combine in ("rules_second_ner", "ner_only"):
            shipped[combine] = root / "training" / combine
            out[combine] = ok(assemble.main, [base, updated, patterns, shipped[combine], "--combine", combine])
        # held-out PER/ORG/LOC gold, as the UNER/BTC sets are
        gold = root / "gold.spacy"
        blank = spacy.blank("en")
        gold_docs = []
        for text, spans in old_label_sentences(30, seed=7):
            doc = blank.make_doc(text)
            doc.ents = [doc.char_span(s, e, label=label) for s, e, label in spans]
            gold_docs.append(doc)
        DocBin(docs=gold_docs).to_disk(gold)
        srsly.write_jsonl(root / "domain.jsonl", [{"text": r[0]} for r in gadget_records(20, seed=8)])
        metrics = {}
        for combine, path in shipped.items():
            metrics_path = root / "training" / f"metrics_{combine}.json"
            out[f"evaluate {combine}"] = ok(
                evaluate.main,
                [
                    base,
                    path,
                    patterns,
                    "--output",
                    metrics_path,
                    "--new-label-set",
                    f"dev={corpus / 'dev.spacy'}",
                    "--old-label-set",
                    f"gold={gold}",
                    "--agreement-texts",
                    f"domain={root / 'domain.jsonl'}",
                    "--label-map",
                    LABEL_MAP,
                ],
            )
            metrics[combine] = srsly.read_json(metrics_path)
        site = root / "site"
        install_wheel(
            shipped["rules_second_ner"],
            root / "packages",
            site,
            "gadget_route",
            code_paths=[ROOT / "scripts" / "functions.py"],
        )
        yield {
            "root": root,
            "base": base,
            "base_dir": base_dir,
            "updated": updated,
            "shipped": shipped,
            "metrics": metrics,
            "site": site,
            "output": out,
        }
    finally:
        sys.path.remove(str(base_site))


def test_base_is_shaped_like_en_core_web_sm(route):
    nlp = spacy.load(route["base"])
    assert nlp.component_names == ["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "ner"]
    assert nlp.disabled == ["senter"]
    assert nlp.get_pipe("tok2vec").listening_components == ["tagger", "parser"]
    assert nlp.get_pipe("lemmatizer").mode == "rule"
    assert rehearsal.entity_components(nlp) == ["ner"]  # the ner has its own tok2vec
    doc = nlp("Alice Smith moved to Paris last year.")
    assert all(t.pos_ for t in doc) and all(t.lemma_ for t in doc)


def test_config_and_training_keep_the_pipeline(route):
    assert (
        "frozen ['tok2vec', 'tagger', 'parser', 'senter', 'attribute_ruler', 'lemmatizer']" in route["output"]["config"]
    )
    config = spacy.util.load_config(route["root"] / "training" / "config.cfg", interpolate=False)
    assert config["paths"]["base"] == route["base"]
    assert config["nlp"]["disabled"] == ["senter"]
    assert "replace_listeners" not in config["components"]["ner"]
    base, updated = spacy.load(route["base"]), spacy.load(route["updated"])
    assert updated.component_names == base.component_names
    assert updated.disabled == ["senter"]
    assert "GADGET" in updated.get_pipe("ner").labels
    assert set(base.get_pipe("ner").labels) <= set(updated.get_pipe("ner").labels)


def frozen_state(nlp, name: str):
    proc = nlp.get_pipe(name)
    if name == "attribute_ruler":
        return srsly.json_dumps(proc.patterns, sort_keys=True)
    if name == "lemmatizer":
        return proc.mode, proc.lookups.to_bytes()
    return proc.model.to_bytes()


@pytest.mark.parametrize("which", ["updated", "rules_second_ner", "ner_only"])
def test_frozen_components_are_byte_identical(route, which):
    base = spacy.load(route["base"])
    path = route["updated"] if which == "updated" else route["shipped"][which]
    other = spacy.load(path)
    for name in FROZEN:
        assert frozen_state(other, name) == frozen_state(base, name), name
    assert other.disabled == ["senter"]
    extra = {"rules_second_ner": ["entity_ruler", "entity_snapshot", "new_ner", "new_entities_only"]}.get(which, [])
    assert other.component_names == base.component_names + extra
    if which == "rules_second_ner":  # the base's own ner, untouched; the updated one next to it
        assert other.get_pipe("ner").model.to_bytes() == base.get_pipe("ner").model.to_bytes()
        assert "GADGET" in other.get_pipe("new_ner").labels


def test_evaluate_maps_ontonotes_labels(route):
    for combine, metrics in route["metrics"].items():
        assert metrics["new_labels"] == ["GADGET"], combine
        assert metrics["old_labels"] == ["LOC", "ORG", "PER"]
        assert metrics["base_labels"] == ["LOC", "ORG", "PER"]  # PERSON/ORG/GPE mapped
        gold = metrics["old_label_sets"]["gold"]
        assert gold["base"]["gold"]["f"] > 0, gold["base"]
        assert gold["base"]["agreement"]["f"] == 100.0
        assert metrics["frozen_outputs"]["identical"], metrics["frozen_outputs"]
        assert metrics["frozen_outputs"]["tokens"] > 0
    # rules_second_ner keeps the base's old-label entities exactly
    second = route["metrics"]["rules_second_ner"]
    assert second["old_label_sets"]["gold"]["shipped"]["agreement"]["f"] == 100.0
    assert second["agreement_sets"]["domain"]["shipped"]["agreement"]["f"] == 100.0


def test_installed_package_loads_and_predicts_without_the_project(route, tmp_path):
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": str(route["site"])}
    code = (
        "import importlib.util, json, spacy\n"
        "assert importlib.util.find_spec('functions') is None\n"
        "assert importlib.util.find_spec('en_core_web_tiny') is None\n"
        "nlp = spacy.load('en_gadget_route')\n"
        "doc = nlp('Alice Smith bought a steam deck in Paris.')\n"
        "print(json.dumps({'names': nlp.component_names, 'disabled': nlp.disabled,\n"
        "    'new': sorted(nlp.get_pipe('new_ner').labels), 'ents': [[e.text, e.label_] for e in doc.ents],\n"
        "    'pos': [t.pos_ for t in doc], 'lemmas': [t.lemma_ for t in doc], 'deps': [t.dep_ for t in doc]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    got = srsly.json_loads(result.stdout.strip().splitlines()[-1])
    assert got["names"] == [
        "tok2vec",
        "tagger",
        "parser",
        "senter",
        "attribute_ruler",
        "lemmatizer",
        "ner",
        "entity_ruler",
        "entity_snapshot",
        "new_ner",
        "new_entities_only",
    ]
    assert got["disabled"] == ["senter"]
    assert "GADGET" in got["new"] and {"PERSON", "ORG", "GPE"} <= set(got["new"])
    assert ["steam deck", "GADGET"] in got["ents"]
    assert all(got["pos"]) and all(got["lemmas"]) and all(got["deps"])
