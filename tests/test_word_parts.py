"""The default base ner's embedding reads the words run together in handles and hashtags."""

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.util import load_config
from spacy.vectors import Vectors
from thinc.types import Ragged

from conftest import ROOT, package_code_paths, run_python
from ner_update.registered import registered
from tiny import install_wheel

word_parts = registered("word_parts")


@pytest.mark.parametrize(
    "text, parts",
    [
        ("@BBCNews", ("BBC", "News")),
        ("BillClinton", ("Bill", "Clinton")),
        ("@Fremantle_FC", ("Fremantle", "FC")),
        ("@WritersCentreAU", ("Writers", "Centre", "AU")),
        ("@6PR", ("6", "PR")),
        ("@reddit", ("reddit",)),
        ("London", ()),
        ("NASA", ()),
        ("2014", ()),
        ("!", ()),
        ("#KevChat", ("Kev", "Chat")),
        ("snake_case", ("snake", "case")),
        ("PlayStation4", ("Play", "Station", "4")),
        ("ÉCOLEPolytechnique", ("ÉCOLE", "Polytechnique")),
        # plain words, also with letters beyond ASCII or other characters inside
        ("Zürich", ()),
        ("São", ()),
        ("U.S.", ()),
        ("e-mail", ()),
        ("n't", ()),
        ("'s", ()),
        ("@", ()),
    ],
)
def test_split_parts_splits_handles_and_camel_case_and_leaves_plain_words(text, parts):
    assert word_parts.split_parts(text) == parts


def base_ner_model() -> dict:
    """configs/base_ner.cfg's [components.ner.model] (its tok2vec's embedding is the one tested here)."""
    return load_config(ROOT / "configs" / "base_ner.cfg")["components"]["ner"]["model"]


def base_ner_embedding():
    return spacy.registry.resolve({"embed": base_ner_model()["tok2vec"]["embed"]})["embed"]


def vocab_with_vectors():
    nlp = spacy.blank("en")
    rng = numpy.random.default_rng(0)
    data = rng.standard_normal((3, 4)).astype("float32")
    vectors = Vectors(data=data, keys=[])
    # "news" in lower case only: the lookup falls back to it
    for word, row in (("BBC", 0), ("news", 1), ("London", 2)):
        vectors.add(nlp.vocab.strings.add(word), row=row)
    nlp.vocab.vectors = vectors
    return nlp, data


def test_part_vectors_are_the_parts_mean_and_last_part_and_zero_for_plain_words():
    nlp, data = vocab_with_vectors()
    layer = word_parts.PartVectors(5)
    doc = Doc(nlp.vocab, words=["@BBCNews", "London", "@Nowhere"])
    layer.initialize(X=[doc])
    output, _ = layer([doc], is_train=False)
    W = layer.get_param("W")
    handle = numpy.concatenate([(data[0] + data[1]) / 2, data[1]])
    numpy.testing.assert_allclose(output.data[0], W @ handle, rtol=1e-5)
    # a plain word: its own static vector covers it
    assert not output.data[1].any()
    # parts without vectors: zeros, not an error
    assert not output.data[2].any()


def test_part_vectors_learn_only_their_projection():
    """The gradient goes to the projection (d_output.T @ the parts' vectors); the table is not an input."""
    nlp, data = vocab_with_vectors()
    layer = word_parts.PartVectors(5)
    doc = Doc(nlp.vocab, words=["@BBCNews", "London"])
    layer.initialize(X=[doc])
    output, backprop = layer([doc], is_train=True)
    d_output = Ragged(numpy.ones_like(output.data), output.lengths)
    assert backprop(d_output) == []
    inputs = numpy.zeros((2, 8), dtype="float32")
    inputs[0] = numpy.concatenate([(data[0] + data[1]) / 2, data[1]])
    numpy.testing.assert_allclose(layer.get_grad("W"), d_output.data.T @ inputs, rtol=1e-5)


def test_the_configs_embedding_reads_a_handles_parts():
    """base_ner.cfg's embedding: a handle's output moves with its parts' vectors."""
    nlp, _ = vocab_with_vectors()
    embed = base_ner_embedding()
    docs = [Doc(nlp.vocab, words=["@BBCNews"])]
    embed.initialize(X=docs)
    before = embed.predict(docs)[0]
    nlp.vocab.vectors.data[0] += 1.0  # BBC's row
    assert not numpy.allclose(before, embed.predict(docs)[0])


def test_the_embedding_refuses_floret_vectors():
    nlp = spacy.blank("en")
    floret = numpy.zeros((10, 4), dtype="float32")
    nlp.vocab.vectors = Vectors(mode="floret", data=floret, hash_count=1, minn=2, maxn=3)
    embed = base_ner_embedding()
    with pytest.raises(ValueError, match="'floret' mode: use spacy.MultiHashEmbed.v2"):
        embed.initialize(X=[nlp.make_doc("@BBCNews")])


def test_the_embedding_refuses_rows_that_do_not_match_its_attrs():
    config = {**base_ner_model()["tok2vec"]["embed"], "rows": [5000, 1000]}
    with pytest.raises(ValueError, match="Mismatched lengths: 2 rows vs 4 attrs"):
        spacy.registry.resolve({"embed": config})


def test_a_ner_with_the_embedding_saves_and_loads(tmp_path):
    nlp, _ = vocab_with_vectors()
    model = base_ner_model()
    ner = nlp.add_pipe("ner", config={"model": model})
    ner.add_label("ORG")
    nlp.initialize()
    doc = nlp("@BBCNews reports from London")
    nlp.to_disk(tmp_path / "ner")
    loaded = spacy.load(tmp_path / "ner")
    assert [(e.text, e.label_) for e in loaded("@BBCNews reports from London").ents] == [
        (e.text, e.label_) for e in doc.ents
    ]
    numpy.testing.assert_array_equal(
        loaded.get_pipe("ner").model.get_ref("tok2vec").predict([loaded.make_doc("@BBCNews")])[0],
        nlp.get_pipe("ner").model.get_ref("tok2vec").predict([nlp.make_doc("@BBCNews")])[0],
    )


def test_a_packaged_ner_with_the_embedding_loads_with_only_spacy(tmp_path):
    """project.yml's `package` brings word_parts.py along: the wheel loads where the project is not on the path."""
    nlp, _ = vocab_with_vectors()
    model = base_ner_model()
    nlp.add_pipe("ner", config={"model": model}).add_label("ORG")
    nlp.initialize()
    nlp.to_disk(tmp_path / "ner")
    target = tmp_path / "site"
    install_wheel(tmp_path / "ner", tmp_path / "pkg", target, "parts_ner", package_code_paths())
    code = (
        "import importlib.util, spacy; assert importlib.util.find_spec('word_parts') is None; "
        "nlp = spacy.load('en_parts_ner'); print(nlp.get_pipe('ner').model.get_ref('tok2vec').predict("
        "[nlp.make_doc('@BBCNews')])[0].sum())"
    )
    (printed,) = run_python(code, cwd=tmp_path, path=[target])
    expected = nlp.get_pipe("ner").model.get_ref("tok2vec").predict([nlp.make_doc("@BBCNews")])[0].sum()
    assert float(printed) == pytest.approx(float(expected), rel=1e-5)
