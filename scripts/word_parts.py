"""An embedding that also reads the words run together in a token:
`@BBCNews` ("BBC", "News"), `#BillClinton` (the tokenizer splits off the
`#`: "Bill", "Clinton"), `@Fremantle_FC` ("Fremantle", "FC").

A handle or hashtag is one token that no table has seen, so the ner's usual
features (the norm, prefix, suffix and shape of the whole token, and its static
vector) say little about it: an organisation's handle reads like a person's.
Its parts are ordinary words: `ner_update.WordPartsEmbed.v1` is spaCy's
MultiHashEmbed.v2 plus, for each token made of several parts (or of one part
under an `@`), the static vectors of its parts: their mean and the last
part's ("Centre", "FC", "News" say organisation), projected by a learned
matrix. A plain word gets zeros there: its own static vector already says
what its parts would.

Self-contained for `--code` and `spacy package --code`: imports only spaCy,
thinc and numpy.
"""

import re
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple, cast

import numpy
from spacy.ml.featureextractor import FeatureExtractor
from spacy.ml.staticvectors import StaticVectors
from spacy.strings import get_string_id
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import HashEmbed, Maxout, Model, chain, concatenate, list2ragged, ragged2list, with_array
from thinc.initializers import glorot_uniform_init
from thinc.types import Floats2d, Ints2d, Ragged

# an acronym before a capitalised word, a (capitalised) lower-case run, an acronym, digits
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


@lru_cache(maxsize=65536)
def word_parts(text: str) -> Tuple[str, ...]:
    """The words run together in `text` ("@BBCNews" -> ("BBC", "News")); ()
    for a plain word (its only part is itself) or a token with no letters or
    digits."""
    parts = tuple(_PART.findall(text.lstrip("@#")))
    return () if parts == (text,) else parts


def _part_rows(vectors, parts: Sequence[str]) -> Dict[str, int]:
    """{part: its row in the vectors table, trying the part as written, in
    lower case and capitalised; -1 where none has a vector}."""
    forms = [(part, part.lower(), part.capitalize()) for part in parts]
    keys = numpy.asarray([get_string_id(form) for triple in forms for form in triple], dtype="uint64")
    found = numpy.asarray(vectors.find(keys=keys)).reshape(-1, 3) if len(keys) else numpy.zeros((0, 3), dtype="int")
    rows = {}
    for part, triple in zip(parts, found):
        hits = triple[triple >= 0]
        rows[part] = int(hits[0]) if len(hits) else -1
    return rows


def PartVectors(nO: Optional[int] = None) -> Model[List[Doc], Ragged]:
    """Each token's parts' static vectors, [mean of the parts found, last
    part's], projected to nO by a learned matrix; zeros for plain words."""
    return Model(
        "part_vectors", _part_vectors_forward, init=_part_vectors_init, params={"W": None}, dims={"nO": nO, "nM": None}
    )


def _part_vectors_init(model: Model, X: Optional[List[Doc]] = None, Y: Optional[Ragged] = None) -> Model:
    if X is not None and len(X):
        model.set_dim("nM", 2 * X[0].vocab.vectors.shape[1])
    if Y is not None:
        model.set_dim("nO", Y.data.shape[1])
    if not model.has_dim("nM") or not model.has_dim("nO"):
        raise ValueError("PartVectors needs sample docs (with their vectors table) and an output width to initialise")
    model.set_param("W", glorot_uniform_init(model.ops, (model.get_dim("nO"), model.get_dim("nM"))))
    return model


def _part_vectors_forward(model: Model, docs: List[Doc], is_train: bool):
    lengths = model.ops.asarray1i([len(doc) for doc in docs])
    width = model.get_dim("nM") // 2
    token_parts = [word_parts(token.text) for doc in docs for token in doc]
    V = numpy.zeros((len(token_parts), 2 * width), dtype="float32")
    vectors = docs[0].vocab.vectors if docs else None
    # a table of rows keyed by word (not floret's subword table) of the width initialised with
    if vectors is not None and vectors.mode == "default" and vectors.shape[0] and vectors.shape[1] == width:
        data = model.ops.to_numpy(vectors.data)
        rows = _part_rows(vectors, sorted({p for parts in token_parts for p in parts}))
        for i, parts in enumerate(token_parts):
            found = [rows[p] for p in parts if rows[p] >= 0]
            if found:
                V[i, :width] = data[found].mean(axis=0)
            if parts and rows[parts[-1]] >= 0:
                V[i, width:] = data[rows[parts[-1]]]
    V = model.ops.asarray2f(V)
    output = Ragged(model.ops.gemm(V, model.get_param("W"), trans2=True), lengths)

    def backprop(d_output: Ragged) -> List[Doc]:
        model.inc_grad("W", model.ops.gemm(cast(Floats2d, d_output.data), V, trans1=True))
        return []

    return output, backprop


@registry.architectures("ner_update.WordPartsEmbed.v1")
def word_parts_embed(width: int, attrs: List[str], rows: List[int]) -> Model[List[Doc], List[Floats2d]]:
    """spaCy's MultiHashEmbed.v2 with static vectors (the same tables, seeds
    and mixing layer), plus the parts' vectors (PartVectors)."""
    if len(rows) != len(attrs):
        raise ValueError(f"Mismatched lengths: {len(rows)} rows vs {len(attrs)} attrs")
    embeddings = [HashEmbed(width, n_rows, column=i, seed=8 + i, dropout=0.0) for i, n_rows in enumerate(rows)]
    features = chain(
        FeatureExtractor(attrs), cast(Model[List[Ints2d], Ragged], list2ragged()), with_array(concatenate(*embeddings))
    )
    inputs = concatenate(features, StaticVectors(width, dropout=0.0), PartVectors(width))
    mix = with_array(Maxout(width, width * (len(rows) + 2), nP=3, dropout=0.0, normalize=True))
    return chain(inputs, mix, ragged2list())
