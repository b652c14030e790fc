"""The static vectors the default base's ner reads, made from the Brown
clusters in spacy-lookups-data."""

import cluster_vectors
import numpy
import spacy

from conftest import run_cli


def similarity(vectors, a: str, b: str) -> float:
    x, y = vectors[spacy.strings.get_string_id(a)], vectors[spacy.strings.get_string_id(b)]
    return float(x @ y / numpy.linalg.norm(x) / numpy.linalg.norm(y))


def test_words_of_a_cluster_share_a_row_and_near_clusters_get_near_vectors():
    # paths are stored low bit first: 0b0110 and 0b1110 share their first three branches
    clusters = {"Lisbon": 0b0110, "Madrid": 0b0110, "Paris": 0b1110, "running": 0b0001, "the": 0b1001}
    vectors = cluster_vectors.cluster_vectors(clusters, width=32, prefixes=[2, 3])
    assert vectors.shape == (4, 32) and vectors.n_keys == 5
    assert numpy.array_equal(
        vectors[spacy.strings.get_string_id("Lisbon")], vectors[spacy.strings.get_string_id("Madrid")]
    )
    assert similarity(vectors, "Lisbon", "Paris") > similarity(vectors, "Lisbon", "running") + 0.3
    # the same every time (a fixed seed)
    again = cluster_vectors.cluster_vectors(clusters, width=32, prefixes=[2, 3])
    assert again.to_bytes(exclude=["strings"]) == vectors.to_bytes(exclude=["strings"])


def test_command_writes_the_clusters_of_spacy_lookups_data_as_a_loadable_pipeline(tmp_path):
    code, output = run_cli(cluster_vectors.main, [tmp_path / "vectors", "--width", "16"])
    assert code == 0, output
    vectors = spacy.load(tmp_path / "vectors").vocab.vectors
    assert vectors.shape == (999, 16) and vectors.n_keys > 100_000
    # a word's row is its cluster's: places together, apart from function words
    assert vectors.find(key="Lisbon") == vectors.find(key="London") != vectors.find(key="the")
    # cased: the clusters tell a name from a common word
    assert vectors.find(key="Apple") != vectors.find(key="apple")


def test_bad_options_fail_clearly_and_write_nothing(tmp_path):
    out = tmp_path / "vectors"
    code, output = run_cli(cluster_vectors.main, [out, "--prefixes", "4,six"])
    assert code == 1 and "--prefixes: expected comma-separated integers" in output
    code, output = run_cli(cluster_vectors.main, [out, "--prefixes", "4,0"])
    assert code == 1 and "--prefixes: lengths must be 1 or more, got '4,0'" in output
    code, output = run_cli(cluster_vectors.main, [out, "--lang", "yo"])
    assert code == 1 and "spacy-lookups-data has no 'lexeme_cluster' entries for language 'yo'" in output
    assert not out.exists()


def test_an_output_that_is_a_link_is_refused_and_its_target_kept(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("precious", encoding="utf8")
    link = tmp_path / "vectors"
    link.symlink_to(target)
    code, output = run_cli(cluster_vectors.main, [link])
    assert code == 1 and "is a symbolic link" in output
    assert [p.name for p in target.iterdir()] == ["keep.txt"] and link.is_symlink()
