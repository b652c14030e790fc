"""Write the default base's static vectors: Brown clusters of spacy-lookups-data, with words of
place and person names marked (scripts/ner_update/base/vectors.py says how), as a blank pipeline
for `[initialize] vectors` (configs/base.cfg, base_ner.cfg, base_pretrain.cfg).
"""

from pathlib import Path

import typer
from wasabi import msg

from ner_update.base.gazetteers import CITY_POPULATIONS
from ner_update.base.vectors import build_vectors, checked_prefixes, write_vectors
from ner_update.common import InputError
from ner_update.files import refuse_symlinks
from ner_update.runs import run_command


def main(
    output_dir: Path = typer.Argument(..., file_okay=False, help="Where to write the vectors (a blank pipeline)"),
    lang: str = typer.Option("en", "--lang", help="Language of the cluster table"),
    width: int = typer.Option(64, "--width", min=1, help="Width of each vector"),
    prefixes: str = typer.Option("4,6,10", "--prefixes", help="Path prefix lengths that share a vector part"),
    seed: int = typer.Option(0, "--seed", help="Seed of the random vector parts"),
    use_gazetteers: bool = typer.Option(
        True,
        "--gazetteers/--no-gazetteers",
        help="Mark the words of place and person names (scripts/ner_update/base/gazetteers.py)",
    ),
    min_city_population: int = typer.Option(
        5000,
        "--min-city-population",
        help=f"Cities in the gazetteer: at least this many people, one of {CITY_POPULATIONS}",
    ),
):
    """Write static vectors made from spacy-lookups-data's Brown clusters and
    gazetteers of place and person names, for `[initialize] vectors`
    (configs/base.cfg, base_ner.cfg, base_pretrain.cfg)."""
    try:
        lengths = checked_prefixes(prefixes, use_gazetteers, min_city_population)
        refuse_symlinks([output_dir])
        vectors, gazetteers = build_vectors(lang, width, lengths, seed, use_gazetteers, min_city_population)
    except (InputError, ImportError) as err:
        msg.fail(str(err), exits=1)
    write_vectors(output_dir, lang, vectors)
    msg.good(f"Wrote {vectors.n_keys} words' vectors ({vectors.shape[0]} rows, width {width}) to {output_dir}")
    if gazetteers:
        sizes = ", ".join(f"{name} {len(words)}" for name, words in gazetteers.items())
        msg.info(f"Gazetteer words marked: {sizes}")


if __name__ == "__main__":
    run_command(main)
