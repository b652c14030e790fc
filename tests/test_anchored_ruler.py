"""The recipes' entity_ruler (ner_update_entity_ruler): spaCy's, with the same
matches, but each token pattern tried only on docs that hold its anchor text."""

import pickle

import pytest
import spacy
import srsly

from conftest import ROOT
from ner_update.registered import register_all

register_all()  # registers ner_update_entity_ruler

PATTERNS = [
    {
        "label": "GADGET",
        "pattern": [{"LOWER": "apple", "OP": "?"}, {"LOWER": {"REGEX": "^iphones?$"}}, {"IS_DIGIT": True, "OP": "?"}],
    },
    {
        "label": "GADGET",
        "pattern": [{"LOWER": {"IN": ["galaxy", "pixel"]}}, {"LOWER": {"REGEX": r"^s?\d+$"}, "OP": "*"}],
    },
    {"label": "GADGET", "pattern": [{"ORTH": "Xbox"}, {"LOWER": "one", "OP": "?"}]},
    {"label": "MODEL", "pattern": [{"SHAPE": "XXdd"}]},  # no text anchor: tried everywhere
    {"label": "GADGET", "pattern": [{"LOWER": "steam"}, {"LOWER": "deck"}], "id": "deck"},
    {"label": "GADGET", "pattern": "kindle oasis"},
]
TEXTS = [
    "My Apple iPhone 12 fell, so I got a Galaxy S9 and a Pixel 7 instead.",
    "The xbox one and the Xbox One are not the same string.",
    "An RX78 or a Steam Deck, or the Kindle Oasis?",
    "Nothing to see here, only iphones and galaxies.",
    "No gadget in this one.",
    "",
]


def entities(factory: str, patterns=PATTERNS, texts=TEXTS):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe(factory, config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    ruler.add_patterns(patterns)
    return nlp, [[(e.start, e.end, e.label_, e.ent_id_) for e in doc.ents] for doc in nlp.pipe(texts)]


def test_same_entities_as_spacys_entity_ruler():
    _, expected = entities("entity_ruler")
    nlp, found = entities("ner_update_entity_ruler")
    assert found == expected
    assert any(found) and ("deck" in {e[3] for doc in found for e in doc})


def test_same_entities_as_spacys_on_the_demo_patterns_and_texts():
    path = ROOT / "assets" / "gadget_patterns.jsonl"
    raw = ROOT / "assets" / "raw_texts" / "gadget_texts.txt"
    if not path.exists() or not raw.exists():
        pytest.skip("the demo's patterns or texts are not in assets/")
    patterns = [srsly.json_loads(line) for line in path.read_text(encoding="utf8").splitlines() if line]
    texts = [line for line in raw.read_text(encoding="utf8").splitlines() if line.strip()]
    assert entities("ner_update_entity_ruler", patterns, texts)[1] == entities("entity_ruler", patterns, texts)[1]


def test_same_token_tags_as_spacys_with_and_without_earlier_entities():
    """Every token's entity tag too, on docs a ner has tagged (the ruler only
    skips re-assigning doc.ents where nothing matched and every token is
    tagged already) and on untagged docs (there spaCy's marks tokens O)."""

    def tags(factory: str, preset: bool) -> list:
        nlp = spacy.blank("en")
        nlp.add_pipe(factory, config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True}).add_patterns(PATTERNS)
        out = []
        for text in TEXTS:
            doc = nlp.make_doc(text)
            if preset and len(doc) > 1:  # an entity overlapping a match, the rest tagged O
                doc.set_ents([doc.char_span(0, len(doc[0].text), label="ORG")], default="outside")
            out.append([(t.ent_iob_, t.ent_type_) for t in nlp.get_pipe(factory)(doc)])
        return out

    for preset in (True, False):
        assert tags("ner_update_entity_ruler", preset) == tags("entity_ruler", preset)
    no_match = TEXTS.index("No gadget in this one.")
    assert tags("ner_update_entity_ruler", True)[no_match][0] == ("B", "ORG")
    assert {tag for tag in tags("ner_update_entity_ruler", False)[no_match]} == {("O", "")}


def test_saved_loaded_pickled_and_removed_like_spacys(tmp_path):
    nlp, found = entities("ner_update_entity_ruler")
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in loaded.pipe(TEXTS)] == [
        [e[:3] for e in doc] for doc in found
    ]
    copy = pickle.loads(pickle.dumps(loaded))
    assert [(e.text, e.label_) for e in copy("a Steam Deck").ents] == [("Steam Deck", "GADGET")]
    ruler = loaded.get_pipe("entity_ruler" if "entity_ruler" in loaded.pipe_names else "ner_update_entity_ruler")
    ruler.remove("deck")
    assert not loaded("a Steam Deck").ents and loaded("a Pixel 7").ents
