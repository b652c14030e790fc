"""An embedding that also reads the words run together in a token:
`@BBCNews` ("BBC", "News"), `#BillClinton` (the tokenizer splits off the
`#`: "Bill", "Clinton"), `@Fremantle_FC` ("Fremantle", "FC").

A handle or hashtag is one token that no table has seen, so the ner's usual
features (the norm, prefix, suffix and shape of the whole token, and its static
vector) say little about it: an organisation's handle reads like a person's.
Its parts are ordinary words: `ner_update.WordPartsEmbed.v1` is spaCy's
MultiHashEmbed.v2 plus, for each token of letters, digits and underscores
made of several parts (or of one part under an `@`), the static vectors of
its parts: their mean and the last part's ("Centre", "FC", "News" say
organisation), projected by a learned matrix. Every other token gets zeros
there: a plain word's own static vector already says what its parts would.
It needs a table of word vectors (the `vectors` step's), not floret's.

Self-contained for `--code` and `spacy package --code`: imports only spaCy,
thinc and numpy.
"""

from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple, cast

import numpy
from spacy.ml.featureextractor import FeatureExtractor
from spacy.ml.staticvectors import StaticVectors
from spacy.strings import get_string_id
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import (
    HashEmbed,
    Maxout,
    Model,
    chain,
    concatenate,
    get_array_module,
    list2ragged,
    ragged2list,
    with_array,
)
from thinc.initializers import glorot_uniform_init
from thinc.types import Floats2d, Ints2d, Ragged


def _char_kind(char: str) -> str:
    return "upper" if char.isupper() else "digit" if char.isdigit() else "lower"


def _split_run(run: str) -> List[str]:
    """Split letters and digits where a new word starts: between letters and
    digits, at a capital after a lower-case letter, and at the last capital of
    a run that a lower-case letter follows ("BBCNews": "BBC", "News")."""
    parts, start = [], 0
    for i in range(1, len(run)):
        prev, kind = _char_kind(run[i - 1]), _char_kind(run[i])
        after = _char_kind(run[i + 1]) if i + 1 < len(run) else None
        if (
            (kind != prev and "digit" in (kind, prev))
            or (prev, kind) == ("lower", "upper")
            or (prev == kind == "upper" and after == "lower")
        ):
            parts.append(run[start:i])
            start = i
    parts.append(run[start:])
    return parts


@lru_cache(maxsize=65536)
def split_parts(text: str) -> Tuple[str, ...]:
    """The words run together in `text`, a token of letters, digits and
    underscores after an optional `@` or `#`: "@BBCNews" -> ("BBC", "News"),
    "BillClinton" -> ("Bill", "Clinton"), "@Fremantle_FC" -> ("Fremantle",
    "FC"), "@reddit" -> ("reddit",). () for a plain word (one part, no `@`)
    and for a token with any other character ("U.S.", "e-mail", "n't")."""
    body = text[1:] if text[:1] in ("@", "#") else text
    if not body.replace("_", "").isalnum():
        return ()
    parts = tuple(part for run in body.split("_") if run for part in _split_run(run))
    return parts if len(parts) > 1 or text[:1] == "@" else ()


def _part_rows(vectors, parts: Sequence[str]) -> Dict[str, int]:
    """{part: its row in the vectors table, trying the part as written, in
    lower case and capitalised; -1 where none has a vector}."""
    rows = {}
    for part in parts:
        found = (vectors.key2row.get(get_string_id(form), -1) for form in (part, part.lower(), part.capitalize()))
        rows[part] = next((row for row in found if row >= 0), -1)
    return rows


def PartVectors(nO: Optional[int] = None) -> Model[List[Doc], Ragged]:
    """Each token's parts' static vectors, [mean of the parts found, last
    part's], projected to nO by a learned matrix; zeros for plain words."""
    return Model(
        "part_vectors", _part_vectors_forward, init=_part_vectors_init, params={"W": None}, dims={"nO": nO, "nM": None}
    )


def _part_vectors_init(model: Model, X: Optional[List[Doc]] = None, Y: Optional[Ragged] = None) -> Model:
    if X is not None and len(X):
        vectors = X[0].vocab.vectors
        if vectors.mode != "default":
            raise ValueError(
                f"ner_update.WordPartsEmbed.v1 looks words up in a table of word vectors; this vocab's vectors "
                f"are in '{vectors.mode}' mode: use spacy.MultiHashEmbed.v2 with them"
            )
        model.set_dim("nM", 2 * vectors.shape[1])
    if Y is not None:
        model.set_dim("nO", Y.data.shape[1])
    if not model.has_dim("nM") or not model.has_dim("nO"):
        raise ValueError("PartVectors needs sample docs (with their vectors table) and an output width to initialise")
    model.set_param("W", glorot_uniform_init(model.ops, (model.get_dim("nO"), model.get_dim("nM"))))
    return model


def _part_vectors_forward(model: Model, docs: List[Doc], is_train: bool):
    lengths = model.ops.asarray1i([len(doc) for doc in docs])
    width = model.get_dim("nM") // 2
    token_parts = [split_parts(token.text) for doc in docs for token in doc]
    V = numpy.zeros((len(token_parts), 2 * width), dtype="float32")
    vectors = docs[0].vocab.vectors if docs else None
    # a table of word vectors of the width the layer was initialised with (else: zeros)
    if vectors is not None and vectors.mode == "default" and vectors.shape[0] and vectors.shape[1] == width:
        rows = _part_rows(vectors, sorted({part for parts in token_parts for part in parts}))
        needed = sorted({row for row in rows.values() if row >= 0})
        if needed:
            # only the rows needed leave the table (on the GPU too)
            table = vectors.data[get_array_module(vectors.data).asarray(needed)]
            table = numpy.asarray(table.get() if hasattr(table, "get") else table)
            local = {row: i for i, row in enumerate(needed)}
            for i, parts in enumerate(token_parts):
                found = [local[rows[part]] for part in parts if rows[part] >= 0]
                if found:
                    V[i, :width] = table[found].mean(axis=0)
                if parts and rows[parts[-1]] >= 0:
                    V[i, width:] = table[local[rows[parts[-1]]]]
    V = model.ops.asarray2f(V)
    output = Ragged(model.ops.gemm(V, model.get_param("W"), trans2=True), lengths)

    def backprop(d_output: Ragged) -> List[Doc]:
        model.inc_grad("W", model.ops.gemm(cast(Floats2d, d_output.data), V, trans1=True))
        return []

    return output, backprop


@registry.architectures("ner_update.WordPartsEmbed.v1")
def word_parts_embed(width: int, attrs: List[str], rows: List[int]) -> Model[List[Doc], List[Floats2d]]:
    """spaCy's MultiHashEmbed.v2 with static vectors (the same tables and
    seeds), plus the parts' vectors (PartVectors), which its maxout mixing
    layer reads too."""
    if len(rows) != len(attrs):
        raise ValueError(f"Mismatched lengths: {len(rows)} rows vs {len(attrs)} attrs")
    embeddings = [HashEmbed(width, n_rows, column=i, seed=8 + i, dropout=0.0) for i, n_rows in enumerate(rows)]
    features = chain(
        FeatureExtractor(attrs), cast(Model[List[Ints2d], Ragged], list2ragged()), with_array(concatenate(*embeddings))
    )
    inputs = concatenate(features, StaticVectors(width, dropout=0.0), PartVectors(width))
    mix = with_array(Maxout(width, width * (len(rows) + 2), nP=3, dropout=0.0, normalize=True))
    return chain(inputs, mix, ragged2list())
