"""Made-up data and a tiny base pipeline (tok2vec + tagger + ner) built in seconds.

The base knows PER/ORG/LOC; the update teaches it GADGET. The new-label
sentences also name people and places, unannotated, as real data would.
"""

import random
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import spacy
from spacy.cli.init_config import fill_config
from spacy.cli.package import package
from spacy.cli.train import train
from spacy.tokens import Doc, DocBin

PEOPLE = [
    "Alice Smith",
    "Bob Jones",
    "Carla Diaz",
    "David Kim",
    "Emma Stone",
    "Farid Khan",
    "Grace Lee",
    "Hugo Martin",
    "Ines Costa",
    "Jack White",
    "Kiri Tane",
    "Laura Gomez",
    "Marco Rossi",
    "Nina Petrova",
    "Omar Haddad",
    "Paula Silva",
]
ORGS = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Inc",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Industries",
]
PLACES = [
    "Paris",
    "Berlin",
    "Tokyo",
    "Lima",
    "Oslo",
    "Nairobi",
    "Toronto",
    "Madrid",
    "Cairo",
    "Sydney",
    "Denver",
    "Lisbon",
]
GADGETS = [
    "iPhone X",
    "Pixel 7",
    "Galaxy S9",
    "PS5",
    "Kindle Oasis",
    "Xbox One",
    "iPad Air",
    "Steam Deck",
    "Surface Pro 7",
    "Apple Watch",
    "Nokia 3310",
    "MacBook Pro",
    "Fitbit Charge 4",
    "GoPro Hero 9",
    "Moto G7",
    "Switch Lite",
]

OLD_TEMPLATES = [
    "{PER} works for {ORG} in {LOC}.",
    "{PER} moved to {LOC} last year.",
    "{ORG} opened a new office in {LOC}.",
    "Yesterday {PER} met {PER2} at the station.",
    "The report from {ORG} was read by {PER}.",
    "We flew from {LOC} to {LOC2} on Monday.",
    "{PER} said that {ORG} will hire more people.",
    "Nobody in {LOC} expected the news.",
]
GADGET_TEMPLATES = [
    "{PER} bought a {GADGET} in {LOC}.",
    "The {GADGET} is much better than I expected.",
    "is the {GADGET} worth it?",
    "My {GADGET} stopped working after a week.",
    "{PER} prefers the {GADGET} to the {GADGET2}.",
    "I need a new phone, any tips?",
    "Should I buy the {GADGET} now or wait?",
    "{ORG} sells the {GADGET} in {LOC} for less.",
]


def fill(template: str, rng: random.Random) -> Tuple[str, List[Tuple[int, int, str]]]:
    """Fill a template; return the text and the spans of every slot."""
    slots = {
        "PER": PEOPLE,
        "PER2": PEOPLE,
        "ORG": ORGS,
        "LOC": PLACES,
        "LOC2": PLACES,
        "GADGET": GADGETS,
        "GADGET2": GADGETS,
    }
    text, spans, rest = "", [], template
    while "{" in rest:
        before, _, after = rest.partition("{")
        slot, _, rest = after.partition("}")
        text += before
        value = rng.choice(slots[slot])
        spans.append((len(text), len(text) + len(value), slot.rstrip("2")))
        text += value
    return text + rest, spans


def old_label_sentences(n: int, seed: int) -> List[Tuple[str, List[Tuple[int, int, str]]]]:
    rng = random.Random(seed)
    return [fill(rng.choice(OLD_TEMPLATES), rng) for _ in range(n)]


def gadget_records(n: int, seed: int) -> List[list]:
    """Course-format GADGET records; other entities deliberately unannotated."""
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        text, spans = fill(rng.choice(GADGET_TEMPLATES), rng)
        records.append([text, {"entities": [[s, e, label] for s, e, label in spans if label == "GADGET"]}])
    return records


def _tags(doc: Doc) -> List[str]:
    return ["PUNCT" if t.is_punct else "PROPN" if t.text[0].isupper() and t.i > 0 else "X" for t in doc]


def write_old_label_corpus(path: Path, n: int, seed: int) -> None:
    nlp = spacy.blank("en")
    docs = []
    for text, spans in old_label_sentences(n, seed):
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label=label) for s, e, label in spans]
        for token, tag in zip(doc, _tags(doc)):
            token.tag_ = tag
        docs.append(doc)
    DocBin(docs=docs).to_disk(path)


TINY_CONFIG = """
[paths]
train = null
dev = null

[nlp]
lang = "en"
pipeline = ["tok2vec", "tagger", "ner"]

[components]

[components.tok2vec]
factory = "tok2vec"

{shared_tok2vec}

[components.tagger]
factory = "tagger"

[components.tagger.model]
@architectures = "spacy.Tagger.v2"

[components.tagger.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 32

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
hidden_width = 32
maxout_pieces = 2
use_upper = true

{ner_tok2vec}

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}

[training]
max_steps = 150
eval_frequency = 50
dropout = 0.1

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.005
"""


def tok2vec_block(section: str) -> str:
    """A small Tok2Vec.v2 model config under `section`."""
    return f"""[{section}]
@architectures = "spacy.Tok2Vec.v2"

[{section}.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 32
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [500, 100, 100, 100]
include_static_vectors = false

[{section}.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 32
depth = 1
window_size = 1
maxout_pieces = 2"""


LISTENER = """[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 32"""


def build_tiny_base(root: Path, listening_ner: bool = False) -> Path:
    """Train a tiny base with PER/ORG/LOC; return the model-last path."""
    root.mkdir(parents=True, exist_ok=True)
    write_old_label_corpus(root / "train.spacy", 200, seed=1)
    write_old_label_corpus(root / "dev.spacy", 40, seed=2)
    config = root / "base.cfg"
    ner_tok2vec = LISTENER if listening_ner else tok2vec_block("components.ner.model.tok2vec")
    text = TINY_CONFIG.replace("{shared_tok2vec}", tok2vec_block("components.tok2vec.model")).replace(
        "{ner_tok2vec}", ner_tok2vec
    )
    config.write_text(text, encoding="utf8")
    fill_config(config, config, silent=True)
    train(
        config, root / "out", overrides={"paths.train": str(root / "train.spacy"), "paths.dev": str(root / "dev.spacy")}
    )
    return root / "out" / "model-last"


def install_wheel(pipeline: Path, packages: Path, target: Path, name: str, code_paths=()) -> None:
    """Package a pipeline as a wheel and pip-install it into `target` (--target: the same in a
    virtualenv, the system Python and CI); load it with PYTHONPATH=target."""
    packages.mkdir(parents=True, exist_ok=True)
    package(
        pipeline,
        packages,
        name=name,
        version="0.0.1",
        code_paths=list(code_paths),
        create_wheel=True,
        create_sdist=False,
        force=True,
        silent=True,
    )
    wheel = next(packages.rglob("*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
