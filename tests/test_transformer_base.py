"""A transformer base (its ner listening to a `transformer` component), built here offline from a tiny,
randomly initialised BERT: the default recipe's tagger listens to the frozen transformer, with no second
copy of it. Needs spacy-transformers (requirements-transformers.txt; torch is large, so CI may skip it)."""

from pathlib import Path

import pytest
import spacy
from spacy.cli.init_config import fill_config
from spacy.cli.train import train

from test_update import OLD, prepare_data, recipe_config, run_update
from tiny import old_label_sentences, write_old_label_corpus

pytest.importorskip("spacy_transformers", reason="spacy-transformers is not installed (requirements-transformers.txt)")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")
torch = pytest.importorskip("torch", reason="torch is not installed")

WORDS = "alice smith bob jones works for globex in paris acme corp bought a the and of to is new".split()
CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"

BASE_CONFIG = """
[paths]
train = null
dev = null

[nlp]
lang = "en"
pipeline = ["transformer", "ner"]

[components]

[components.transformer]
factory = "transformer"
max_batch_items = 4096

[components.transformer.model]
@architectures = "spacy-transformers.TransformerModel.v3"
name = "{hf}"
tokenizer_config = {{"use_fast": true}}

[components.transformer.model.get_spans]
@span_getters = "spacy-transformers.strided_spans.v1"
window = 64
stride = 48

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
hidden_width = 32
maxout_pieces = 2
use_upper = true

[components.ner.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
pooling = {{"@layers":"reduce_mean.v1"}}

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}

[training]
max_steps = 60
eval_frequency = 30

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.005
"""


def tiny_bert(path: Path) -> Path:
    """A one-layer BERT, 16 wide, randomly initialised, with a small wordpiece vocabulary: no download."""
    path.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *CHARS, *(f"##{c}" for c in CHARS), *WORDS]
    (path / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf8")
    transformers.BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True).save_pretrained(path)
    config = transformers.BertConfig(
        vocab_size=len(dict.fromkeys(vocab)),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
    )
    transformers.BertModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def transformer_base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("transformer_base")
    write_old_label_corpus(root / "train.spacy", 200, seed=1)
    write_old_label_corpus(root / "dev.spacy", 40, seed=2)
    config = root / "base.cfg"
    config.write_text(BASE_CONFIG.format(hf=tiny_bert(root / "hf").as_posix()), encoding="utf8")
    fill_config(config, config, silent=True)
    train(
        config, root / "out", overrides={"paths.train": str(root / "train.spacy"), "paths.dev": str(root / "dev.spacy")}
    )
    return root / "out" / "model-last"


def test_the_tagger_listens_to_the_frozen_transformer_without_a_copy(transformer_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("transformer_update")
    cfg = recipe_config(root, transformer_base, "new_label_tagger", "")
    features = cfg["components"]["new_labels"]["model"]["tok2vec"]
    assert features["upstream"] == "transformer" and features["upstream_factory"] == "transformer"
    assert features["width"] == 16 and "ner_tok2vec" not in cfg["nlp"]["pipeline"]
    assert cfg["training"]["annotating_components"] == ["transformer"]
    assert not (root / "recipe_base").exists()  # nothing rewritten, nothing copied
    corpus = prepare_data(root, transformer_base)
    updated = run_update(root / "run", transformer_base, corpus, "new_label_tagger")
    before, after = spacy.load(transformer_base), spacy.load(updated)
    assert [name for name, _ in after.pipeline].count("transformer") == 1
    # the same weights (its bytes differ only by the temporary path spacy-transformers writes into the HF config)
    weights = [nlp.get_pipe("transformer").model.transformer.state_dict() for nlp in (before, after)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
    assert after.get_pipe("ner").model.to_bytes() == before.get_pipe("ner").model.to_bytes()
    texts = [t for t, _ in old_label_sentences(40, seed=13)]
    old = [[(e.start, e.end, e.label_) for e in d.ents] for d in before.pipe(texts)]
    new = [[(e.start, e.end, e.label_) for e in d.ents if e.label_ in OLD] for d in after.pipe(texts)]
    assert sum(a == b for a, b in zip(old, new)) >= 0.9 * len(texts)  # old labels kept where no new label wins
    tagger_bytes = len(after.get_pipe("new_labels").model.to_bytes())
    assert tagger_bytes < 2_000_000  # the learned part's own weights only: no transformer inside it
