"""Pretraining the default base ner's features: the texts it reads, the
weights it hands to `base`, and that the ner starts from them."""

from collections import Counter

import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin
from spacy.training.initialize import init_nlp
from spacy.util import load_config

import base
import pretrain
from conftest import ROOT, run_cli
from ner_update.base import build, pretraining
from ner_update.registered import registered

registered("base_training")  # registers the ner's corpus reader and init callback


def test_pretraining_config_has_the_ner_features_architecture():
    """The weights fit the ner only if both configs build the same tok2vec."""
    pre = load_config(ROOT / "configs" / "base_pretrain.cfg")["components"]["tok2vec"]["model"]
    ner = load_config(ROOT / "configs" / "base_ner.cfg")["components"]["ner"]["model"]["tok2vec"]
    assert pre == ner


def test_texts_are_distinct_and_leave_out_held_out_ones(tmp_path):
    vocab = spacy.blank("en").vocab
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    DocBin(docs=[Doc(vocab, words=w.split()) for w in ("A tweet here", "An EWT sentence")]).to_disk(corpus / "a.spacy")
    raw = tmp_path / "raw.txt"
    raw.write_text("A comment\n\nA tweet here\nThe checked text\nA comment\n", encoding="utf8")
    held = tmp_path / "checked.jsonl"
    srsly.write_jsonl(held, [{"text": "The checked text", "spans": []}])
    counts = Counter()
    texts = pretraining.pretraining_texts([corpus], [raw], [held], counts)
    assert texts == ["A tweet here", "An EWT sentence", "A comment"]
    assert counts["held-out texts left out"] == 1 and counts["repeated texts left out"] == 2


def test_another_base_records_nothing_to_pretrain(tmp_path):
    out = tmp_path / "pretrain"
    code, output = run_cli(pretrain.main, ["en_core_web_sm", "--output", out, "--base-dir", tmp_path / "base"])
    assert code == 0, output
    assert srsly.read_json(out / "pretrain.json")["weights"] is None
    assert not (out / "weights").exists()
    # and `base` then trains the ner from a random start
    assert "--paths.pretrained" not in build.ner_training_args(out / "pretrain.json")


def test_ner_starts_from_the_pretrained_weights(tmp_path, cluster_vectors_dir):
    """The weights `spacy pretrain` writes for base_pretrain.cfg's tok2vec become
    the start of the ner's own token-to-vector layer; without them it is random."""
    pre = load_config(ROOT / "configs" / "base_pretrain.cfg")
    nlp = spacy.load(cluster_vectors_dir)  # the tok2vec reads static vectors
    tok2vec = nlp.add_pipe("tok2vec", config={"model": pre["components"]["tok2vec"]["model"]})
    nlp.initialize()
    for node in tok2vec.model.walk():  # unlike any random start
        for name in node.param_names:
            if node.has_param(name):
                node.set_param(name, node.get_param(name) + 0.5)
    weights = tmp_path / "model2.bin"
    weights.write_bytes(tok2vec.model.to_bytes())
    record = tmp_path / "pretrain.json"
    srsly.write_json(record, {"weights": str(weights)})
    args = build.ner_training_args(record)
    assert args[args.index("--paths.pretrained") + 1] == str(weights)

    corpus = tmp_path / "train.spacy"
    DocBin(docs=[Doc(nlp.vocab, words=["Bob", "visited", "Boston"], ents=["B-PER", "O", "B-LOC"])]).to_disk(corpus)
    paths = {
        **{f"paths.{name}": str(corpus) for name in ("train", "dev", "ewt_train", "ewt_dev")},
        "paths.vectors": str(cluster_vectors_dir),
    }
    for pretrained, same in ((str(weights), True), (None, False)):
        config = load_config(ROOT / "configs" / "base_ner.cfg", overrides={**paths, "paths.pretrained": pretrained})
        inner = init_nlp(config).get_pipe("ner").model.get_ref("tok2vec").layers[0]
        assert (inner.to_bytes() == weights.read_bytes()) is same


def test_missing_weights_fail_before_training(tmp_path):
    record = tmp_path / "pretrain.json"
    srsly.write_json(record, {"weights": str(tmp_path / "gone.bin")})
    code, output = run_cli(
        base.main, [tmp_path / "base" / "model-best", "--output", tmp_path / "base", "--pretrained", record]
    )
    assert code == 1 and "gone.bin, which do not exist" in output
    assert not (tmp_path / "base").exists()


def test_pretrain_writes_weights_that_base_reads(tmp_path, cluster_vectors_dir):
    """A one-epoch run on a few texts: the record names the last epoch's weights."""
    config = load_config(ROOT / "configs" / "base_pretrain.cfg", interpolate=False)
    config["pretraining"]["max_epochs"] = 1
    config["paths"]["vectors"] = str(cluster_vectors_dir)
    config_path = tmp_path / "pretrain.cfg"
    config.to_disk(config_path)
    raw = tmp_path / "texts.txt"
    raw.write_text("\n".join(f"comment number {i} about a phone and a console" for i in range(40)), encoding="utf8")
    out = tmp_path / "pretrain"
    base_dir = tmp_path / "base"
    args = [base_dir / "model-best", "--config", config_path, "--texts", raw, "--output", out, "--base-dir", base_dir]
    code, output = run_cli(pretrain.main, args)
    assert code == 0, output
    record = srsly.read_json(out / "pretrain.json")
    assert record["weights"] == (out / "weights" / "model0.bin").as_posix() and record["texts"] == 40
    assert not (out / "texts.jsonl").exists()
    assert build.ner_training_args(out / "pretrain.json")[-1] == record["weights"]


def test_missing_texts_fail_with_their_name_and_write_nothing(tmp_path):
    out, base_dir = tmp_path / "pretrain", tmp_path / "base"
    args = [base_dir / "model-best", "--texts", str(tmp_path / "gone.txt"), "--output", out, "--base-dir", base_dir]
    code, output = run_cli(pretrain.main, args)
    assert code == 1 and "gone.txt" in output
    assert not out.exists()


def test_a_broken_record_fails_with_its_name(tmp_path):
    record = tmp_path / "pretrain.json"
    record.write_text("[1, 2", encoding="utf8")
    code, output = run_cli(
        base.main, [tmp_path / "base" / "model-best", "--output", tmp_path / "base", "--pretrained", record]
    )
    assert code == 1 and "pretrain.json: not the `pretrain` step's record" in output
    assert not (tmp_path / "base").exists()


def test_weights_pretrained_for_another_architecture_fail_with_what_to_do(tmp_path, cluster_vectors_dir):
    """Weights `pretrain` wrote for last version's embedding (the cluster vectors, without the
    handles' parts) no longer fit the ner: say so."""
    pre = load_config(ROOT / "configs" / "base_pretrain.cfg")["components"]["tok2vec"]["model"]
    pre["embed"] = {
        "@architectures": "spacy.MultiHashEmbed.v2",
        **{key: pre["embed"][key] for key in ("width", "attrs", "rows")},
        "include_static_vectors": True,
    }
    nlp = spacy.load(cluster_vectors_dir)
    tok2vec = nlp.add_pipe("tok2vec", config={"model": pre})
    nlp.initialize()
    weights = tmp_path / "model0.bin"
    weights.write_bytes(tok2vec.model.to_bytes())
    corpus = tmp_path / "train.spacy"
    DocBin(docs=[Doc(nlp.vocab, words=["Bob", "visited", "Boston"], ents=["B-PER", "O", "B-LOC"])]).to_disk(corpus)
    overrides = {
        **{f"paths.{name}": str(corpus) for name in ("train", "dev", "ewt_train", "ewt_dev")},
        "paths.vectors": str(cluster_vectors_dir),
        "paths.pretrained": str(weights),
    }
    config = load_config(ROOT / "configs" / "base_ner.cfg", overrides=overrides)
    with pytest.raises(ValueError, match="do not fit ner's token-to-vector layer.*run `pretrain` again"):
        init_nlp(config)
