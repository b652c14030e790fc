"""The static vectors the default base's ner reads, made from the Brown
clusters in spacy-lookups-data."""

import os
import subprocess
import sys

import numpy
import spacy

import cluster_vectors as command
from conftest import ROOT, run_cli
from ner_update.base import gazetteers
from ner_update.base.vectors import cluster_table, cluster_vectors


def similarity(vectors, a: str, b: str) -> float:
    x, y = vectors[spacy.strings.get_string_id(a)], vectors[spacy.strings.get_string_id(b)]
    return float(x @ y / numpy.linalg.norm(x) / numpy.linalg.norm(y))


def test_words_of_a_cluster_share_a_row_and_near_clusters_get_near_vectors():
    # paths are stored low bit first: 0b0110 and 0b1110 share their first three branches
    clusters = {"Lisbon": 0b0110, "Madrid": 0b0110, "Paris": 0b1110, "running": 0b0001, "the": 0b1001}
    vectors = cluster_vectors(clusters, width=32, prefixes=[2, 3])
    assert vectors.shape == (4, 32) and vectors.n_keys == 5
    assert numpy.array_equal(
        vectors[spacy.strings.get_string_id("Lisbon")], vectors[spacy.strings.get_string_id("Madrid")]
    )
    assert similarity(vectors, "Lisbon", "Paris") > similarity(vectors, "Lisbon", "running") + 0.3
    # the same every time (a fixed seed)
    again = cluster_vectors(clusters, width=32, prefixes=[2, 3])
    assert again.to_bytes(exclude=["strings"]) == vectors.to_bytes(exclude=["strings"])


def test_gazetteer_words_get_their_lists_vectors_added_and_unclustered_ones_get_a_vector():
    clusters = {"Lisbon": 0b0110, "Madrid": 0b0110, "bath": 0b0001, "Bath": 0b0110, "the": 0b1001}
    plain = cluster_vectors(clusters, width=32, prefixes=[2])
    gazetteers = {"city": {"Lisbon", "Bath", "Dundee", "Leinster"}, "region": {"Leinster"}, "last_name": {"Farage"}}
    vectors = cluster_vectors(clusters, width=32, prefixes=[2], gazetteers=gazetteers)
    get = {w: vectors[spacy.strings.get_string_id(w)] for w in ["Lisbon", "Madrid", "Bath", "Dundee", "the", "bath"]}
    # the clusters' rows are unchanged and come first; words in no list keep them
    assert numpy.array_equal(vectors.data[: plain.shape[0]], plain.data)
    assert numpy.array_equal(get["Madrid"], plain[spacy.strings.get_string_id("Madrid")])
    assert numpy.array_equal(get["the"], plain[spacy.strings.get_string_id("the")])
    # a listed word: its cluster's vector plus the list's, shared by words of the same cluster and lists
    assert not numpy.array_equal(get["Lisbon"], get["Madrid"])
    assert numpy.array_equal(get["Lisbon"], get["Bath"])
    assert numpy.allclose(get["Lisbon"] - get["Madrid"], get["Dundee"])  # Dundee: no cluster, the city list only
    # in no cluster: a vector all the same; in two lists: both added
    for form in ["Dundee", "DUNDEE", "dundee", "Farage", "farage"]:
        assert vectors.find(key=form) >= 0, form
    leinster, farage = (vectors[spacy.strings.get_string_id(w)] for w in ["Leinster", "Farage"])
    region = leinster - get["Dundee"]  # Leinster: the city and the region lists
    assert numpy.linalg.norm(region) > 0.5 and not numpy.allclose(region, farage)
    # a lower-case form that is a clustered (common) word keeps its cluster's vector alone
    assert numpy.array_equal(get["bath"], plain[spacy.strings.get_string_id("bath")])
    assert vectors.shape[0] == plain.shape[0] + 4  # Lisbon/Bath, Dundee, Leinster, Farage
    again = cluster_vectors(clusters, width=32, prefixes=[2], gazetteers=gazetteers)
    assert again.to_bytes(exclude=["strings"]) == vectors.to_bytes(exclude=["strings"])


def test_command_writes_the_clusters_of_spacy_lookups_data_as_a_loadable_pipeline(tmp_path):
    code, output = run_cli(command.main, [tmp_path / "vectors", "--width", "16", "--no-gazetteers"])
    assert code == 0, output
    vectors = spacy.load(tmp_path / "vectors").vocab.vectors
    assert vectors.shape == (999, 16) and vectors.n_keys > 100_000
    # a word's row is its cluster's: places together, apart from function words
    assert vectors.find(key="Lisbon") == vectors.find(key="London") != vectors.find(key="the")
    # cased: the clusters tell a name from a common word
    assert vectors.find(key="Apple") != vectors.find(key="apple")


def test_command_marks_place_and_person_names_the_clusters_lack(tmp_path):
    code, output = run_cli(command.main, [tmp_path / "vectors", "--width", "16"])
    assert code == 0, output
    assert "Gazetteer words marked: region" in output
    vectors = spacy.load(tmp_path / "vectors").vocab.vectors
    assert vectors.n_keys > 400_000 and 999 < vectors.shape[0] < 5000
    for word in ["Turkmenistan", "Leinster", "Aoife", "Okonkwo"]:  # in no Brown cluster
        assert vectors.find(key=word) >= 999, word
    # clustered names get their lists' rows; "the" is in no list and keeps its cluster's
    assert vectors.find(key="Lisbon") >= 999 and vectors.find(key="Mary") >= 999
    assert vectors.find(key="the") < 999
    plain = cluster_vectors(cluster_table("en"), 16, [4, 6, 10])
    assert numpy.array_equal(vectors.data[:999], plain.data)


def test_bad_options_fail_clearly_and_write_nothing(tmp_path):
    out = tmp_path / "vectors"
    code, output = run_cli(command.main, [out, "--prefixes", "4,six"])
    assert code == 1 and "--prefixes: expected comma-separated integers" in output
    code, output = run_cli(command.main, [out, "--prefixes", "4,0"])
    assert code == 1 and "--prefixes: lengths must be 1 or more, got '4,0'" in output
    code, output = run_cli(command.main, [out, "--lang", "yo", "--no-gazetteers"])
    assert code == 1 and "spacy-lookups-data has no 'lexeme_cluster' entries for language 'yo'" in output
    code, output = run_cli(command.main, [out, "--min-city-population", "2000"])
    assert code == 1 and "--min-city-population: expected one of (500, 1000, 5000, 15000), got 2000" in output
    assert not out.exists()


def test_an_output_that_is_a_link_is_refused_and_its_target_kept(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("precious", encoding="utf8")
    link = tmp_path / "vectors"
    link.symlink_to(target)
    code, output = run_cli(command.main, [link])
    assert code == 1 and "is a symbolic link" in output
    assert [p.name for p in target.iterdir()] == ["keep.txt"] and link.is_symlink()


BUILD = """
import hashlib, sys
sys.path.insert(0, {scripts!r})
from ner_update.base.vectors import cluster_vectors
gazetteers = {{"region": {{"Leinster", "Munster", "Ulster", "Connacht", "Kerry"}},
              "city": {{"Dundee", "Kerry", "Perth", "Napier", "Leinster"}},
              "first_name": {{"Aoife", "Kerry", "Perth", "Niamh"}},
              "last_name": {{"Okonkwo", "Napier", "Niamh", "Ulster"}}}}
vectors = cluster_vectors({{"Bob": 1, "the": 2}}, 8, [1], gazetteers=gazetteers)
print(hashlib.md5(vectors.to_bytes(exclude=["strings"])).hexdigest())
"""


def test_the_table_does_not_depend_on_the_order_python_iterates_sets_in():
    # set order changes with PYTHONHASHSEED, so each build runs in its own process
    code = BUILD.format(scripts=str(ROOT / "scripts"))
    digests = {
        subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1 and len(next(iter(digests))) == 32, digests


def test_a_missing_gazetteer_package_fails_clearly_and_writes_nothing(tmp_path, monkeypatch):
    real_find_spec = gazetteers.importlib.util.find_spec
    monkeypatch.setattr(
        gazetteers.importlib.util, "find_spec", lambda name, *a: None if name == "faker" else real_find_spec(name, *a)
    )
    out = tmp_path / "vectors"
    code, output = run_cli(command.main, [out])
    assert code == 1 and "the gazetteers need the package 'faker'" in output and "--no-gazetteers" in output
    assert not out.exists()
