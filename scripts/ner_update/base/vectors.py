"""Static word vectors for the default base (its tok2vec and ner), from the
Brown clusters that spacy-lookups-data ships (its `lexeme_cluster` table:
190k English words in 999 clusters, from spaCy v2.2's English models).

A word's cluster is a path in a binary tree, stored as an integer whose low
bits are the first branches. Each word gets the vector of its cluster; a
cluster's vector is the sum of one fixed random vector per prefix of its path
(lengths 4, 6, 10 and the whole path), so clusters that share a branch get
similar vectors: what kind of word a token is, learned from far more text
than the project's labelled data ("Lisbon" shares its cluster with London,
Paris and Tokyo).

With gazetteers (scripts/ner_update/base/gazetteers.py: {name: words}), a word in any of them
also gets one fixed random vector per gazetteer it is in, added to its
cluster's (or to zeros, for words the clusters lack: "Turkmenistan"). A word
is marked as written, in upper case, and in lower case where the lower-case
form is not a clustered word ("leinster" yes, "bath" no). One row per cluster
and set of gazetteers, so the table stays small.
"""

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Set, Tuple, Union

import numpy
import spacy
from spacy.lookups import load_lookups
from spacy.strings import get_string_id
from spacy.vectors import Vectors

from ner_update.base.gazetteers import CITY_POPULATIONS, GAZETTEER_TABLE, gazetteer_words
from ner_update.common import InputError
from ner_update.files import atomic_dir


def cluster_table(lang: str) -> Dict[int, int]:
    """{word's string hash: cluster} for the words spacy-lookups-data has
    clustered (its tables are keyed by hash; cluster 0: none)."""
    table = load_lookups(lang, ["lexeme_cluster"], strict=False).get_table("lexeme_cluster", {})
    clusters = {key: cluster for key, cluster in table.items() if cluster}
    if not clusters:
        raise InputError(f"spacy-lookups-data has no 'lexeme_cluster' entries for language '{lang}'")
    return clusters


def cluster_vectors(
    clusters: Dict[Union[str, int], int],
    width: int,
    prefixes: List[int],
    seed: int = 0,
    gazetteers: Optional[Mapping[str, Set[str]]] = None,
) -> Vectors:
    """Vectors with one key per word (a string or its hash) and one row per
    cluster and set of gazetteers (see the module's docstring)."""
    ids = sorted(set(clusters.values()))
    rng = numpy.random.default_rng(seed)
    basis: Dict[Tuple[int, int], numpy.ndarray] = {}
    cluster_rows = numpy.zeros((len(ids), width), dtype="float32")
    scale = 1.0 / numpy.sqrt(width * (len(prefixes) + 1))
    for row, cluster in enumerate(ids):
        # the prefixes, then the whole path (0: all bits)
        for length in [*prefixes, 0]:
            key = (length, cluster & ((1 << length) - 1) if length else cluster)
            if key not in basis:
                basis[key] = rng.standard_normal(width).astype("float32") * scale
            cluster_rows[row] += basis[key]
    row_of = {cluster: row for row, cluster in enumerate(ids)}
    cluster_of = {get_string_id(key): row_of[cluster] for key, cluster in clusters.items()}
    marks = gazetteer_marks(gazetteers or {}, set(cluster_of))
    # a row per (cluster row or -1, gazetteer bits), the clusters' own rows first
    combos = {(row, 0): row for row in range(len(ids))}
    for key in sorted(marks):
        combo = (cluster_of.get(key, -1), marks[key])
        combos.setdefault(combo, len(combos))
    gazetteer_rng = numpy.random.default_rng([seed, 1])
    mark_vectors = gazetteer_rng.standard_normal((len(gazetteers or {}), width)).astype("float32")
    mark_vectors /= numpy.sqrt(width)
    data = numpy.zeros((len(combos), width), dtype="float32")
    for (row, bits), out in combos.items():
        data[out] = cluster_rows[row] if row >= 0 else 0.0
        for i in range(len(mark_vectors)):
            if bits & (1 << i):
                data[out] += mark_vectors[i]
    vectors = Vectors(data=data, keys=[], name=GAZETTEER_TABLE if gazetteers else "brown_clusters")
    for key in sorted(set(cluster_of) | set(marks)):
        vectors.add(key, row=combos[(cluster_of.get(key, -1), marks.get(key, 0))])
    return vectors


def gazetteer_marks(gazetteers: Mapping[str, Set[str]], clustered: Set[int]) -> Dict[int, int]:
    """{word's string hash: a bit per gazetteer it is in (in the order given)}:
    each word as written, in upper case, and in lower case unless that form is
    a clustered word (a common word: "bath")."""
    marks: Dict[int, int] = {}
    for i, words in enumerate(gazetteers.values()):
        for word in words:
            forms = {word, word.upper()}
            if get_string_id(word.lower()) not in clustered:
                forms.add(word.lower())
            for form in forms:
                key = get_string_id(form)
                marks[key] = marks.get(key, 0) | (1 << i)
    return marks


def parse_prefixes(text: str) -> List[int]:
    """The lengths in `text` ("4,6,10" -> [4, 6, 10]); InputError unless each is an integer of 1 or more."""
    try:
        lengths = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"--prefixes: expected comma-separated integers, got {text!r}") from None
    if any(n < 1 for n in lengths):
        raise InputError(f"--prefixes: lengths must be 1 or more, got {text!r}")
    return lengths


def checked_prefixes(prefixes: str, use_gazetteers: bool, min_city_population: int) -> List[int]:
    """The prefix lengths of "4,6,10"; InputError for a bad one or a city population with no list."""
    lengths = parse_prefixes(prefixes)
    if use_gazetteers and min_city_population not in CITY_POPULATIONS:
        raise InputError(f"--min-city-population: expected one of {CITY_POPULATIONS}, got {min_city_population}")
    return lengths


def build_vectors(
    lang: str, width: int, lengths: List[int], seed: int, use_gazetteers: bool, min_city_population: int
) -> Tuple[Vectors, Dict[str, Set[str]]]:
    """The vectors of `lang`'s clusters and the gazetteers they mark ({} without); InputError when
    there are no clusters, ImportError for a missing gazetteer package."""
    clusters = cluster_table(lang)
    gazetteers = gazetteer_words(min_city_population) if use_gazetteers else {}
    return cluster_vectors(clusters, width, lengths, seed, gazetteers), gazetteers


def write_vectors(output_dir: Path, lang: str, vectors: Vectors) -> None:
    """A blank `lang` pipeline with these vectors, written to `output_dir` (replacing it) when complete."""
    nlp = spacy.blank(lang)
    nlp.vocab.vectors = vectors
    with atomic_dir(output_dir) as tmp:
        nlp.to_disk(tmp)
