"""The gazetteers of place and person names the default base's vectors mark."""

import pytest

from ner_update.base import gazetteers


def test_a_name_gives_its_capitalised_words_of_letters():
    names = ["Bay of Plenty", "Stoke-on-Trent", "O'Brien", "Zürich", "Route 66", "x"]
    assert gazetteers.name_words(names) == {"Bay", "Plenty", "Stoke", "Trent", "Brien", "Zürich", "Route"}


def test_the_lists_hold_places_and_people_from_the_installed_packages():
    words = gazetteers.gazetteer_words(15000)
    assert list(words) == list(gazetteers.GAZETTEERS)
    assert {"Turkmenistan", "Leinster", "Dakota"} <= words["region"]
    assert {"Lisbon", "Dundee"} <= words["city"]
    assert {"Aoife", "Mary"} <= words["first_name"] and "Okonkwo" in words["last_name"]
    assert "of" not in words["region"] and all(len(w) > 1 and w[0].isupper() for ws in words.values() for w in ws)
    # more cities with a lower population bound
    assert words["city"] < gazetteers.gazetteer_words(5000)["city"]


def test_a_population_bound_without_a_city_list_is_refused():
    with pytest.raises(ValueError, match="min_city_population must be one of"):
        gazetteers.gazetteer_words(2000)
