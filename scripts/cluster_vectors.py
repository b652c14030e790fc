"""Static word vectors for the default base (its tok2vec and ner), from the
Brown clusters that spacy-lookups-data ships (its `lexeme_cluster` table:
190k English words in 999 clusters, from spaCy v2.2's English models).

A word's cluster is a path in a binary tree, stored as an integer whose low
bits are the first branches. Each word gets the vector of its cluster; a
cluster's vector is the sum of one fixed random vector per prefix of its path
(lengths 4, 6, 10 and the whole path), so clusters that share a branch get
similar vectors: what kind of word a token is, learned from far more text
than the project's labelled data ("Lisbon" shares its cluster with London,
Paris and Tokyo). One row per cluster, so the table is small.
"""

from pathlib import Path
from typing import Dict, List, Tuple, Union

import numpy
import spacy
import typer
from spacy.lookups import load_lookups
from spacy.strings import get_string_id
from spacy.vectors import Vectors
from wasabi import msg

from common import InputError, atomic_dir, refuse_symlinks


def cluster_table(lang: str) -> Dict[int, int]:
    """{word's string hash: cluster} for the words spacy-lookups-data has
    clustered (its tables are keyed by hash; cluster 0: none)."""
    table = load_lookups(lang, ["lexeme_cluster"], strict=False).get_table("lexeme_cluster", {})
    clusters = {key: cluster for key, cluster in table.items() if cluster}
    if not clusters:
        raise InputError(f"spacy-lookups-data has no 'lexeme_cluster' entries for language '{lang}'")
    return clusters


def cluster_vectors(clusters: Dict[Union[str, int], int], width: int, prefixes: List[int], seed: int = 0) -> Vectors:
    """Vectors with one row per cluster and one key per word (a string or its
    hash; see the module's docstring)."""
    ids = sorted(set(clusters.values()))
    rng = numpy.random.default_rng(seed)
    basis: Dict[Tuple[int, int], numpy.ndarray] = {}
    data = numpy.zeros((len(ids), width), dtype="float32")
    scale = 1.0 / numpy.sqrt(width * (len(prefixes) + 1))
    for row, cluster in enumerate(ids):
        # the prefixes, then the whole path (0: all bits)
        for length in [*prefixes, 0]:
            key = (length, cluster & ((1 << length) - 1) if length else cluster)
            if key not in basis:
                basis[key] = rng.standard_normal(width).astype("float32") * scale
            data[row] += basis[key]
    vectors = Vectors(data=data, keys=[], name="brown_clusters")
    row_of = {cluster: row for row, cluster in enumerate(ids)}
    for key in sorted(clusters, key=get_string_id):
        vectors.add(get_string_id(key), row=row_of[clusters[key]])
    return vectors


def parse_prefixes(text: str) -> List[int]:
    """The lengths in `text` ("4,6,10" -> [4, 6, 10]); InputError unless each is an integer of 1 or more."""
    try:
        lengths = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"--prefixes: expected comma-separated integers, got {text!r}") from None
    if any(n < 1 for n in lengths):
        raise InputError(f"--prefixes: lengths must be 1 or more, got {text!r}")
    return lengths


def main(
    output_dir: Path = typer.Argument(..., file_okay=False, help="Where to write the vectors (a blank pipeline)"),
    lang: str = typer.Option("en", "--lang", help="Language of the cluster table"),
    width: int = typer.Option(64, "--width", min=1, help="Width of each vector"),
    prefixes: str = typer.Option("4,6,10", "--prefixes", help="Path prefix lengths that share a vector part"),
    seed: int = typer.Option(0, "--seed", help="Seed of the random vector parts"),
):
    """Write static vectors made from spacy-lookups-data's Brown clusters, for
    `[initialize] vectors` (configs/base.cfg, base_ner.cfg, base_pretrain.cfg)."""
    try:
        lengths = parse_prefixes(prefixes)
        refuse_symlinks([output_dir])
        vectors = cluster_vectors(cluster_table(lang), width, lengths, seed)
    except InputError as err:
        msg.fail(str(err), exits=1)
    nlp = spacy.blank(lang)
    nlp.vocab.vectors = vectors
    with atomic_dir(output_dir) as tmp:
        nlp.to_disk(tmp)
    msg.good(f"Wrote {vectors.n_keys} words' vectors ({vectors.shape[0]} clusters, width {width}) to {output_dir}")


if __name__ == "__main__":
    typer.run(main)
