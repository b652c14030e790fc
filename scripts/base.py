"""Build the default base pipeline, or check that the configured one loads.

With `base_model` set to the default path, trains two configs at once, one
per CPU core, and joins them into one pipeline:
- configs/base.cfg: tok2vec, tagger, morphologizer, parser and lemmatizer on UD
  English-EWT dev (best checkpoint on EWT test part A);
- configs/base_ner.cfg: a PER/ORG/LOC ner with its own tok2vec on EWT dev and
  test part A (Universal NER) and the Broad Twitter Corpus' training and dev
  tweets, so it knows web text; a fixed number of steps, its last (averaged)
  weights kept;
then scores the joined pipeline on each held-out set. With any other base (such
as en_core_web_sm), only checks that it can be loaded.
"""

from pathlib import Path
from typing import List, Optional, Tuple

import spacy
import srsly
import typer
from spacy.cli.evaluate import evaluate
from wasabi import msg
from weasel.util import get_checksum

from ner_update.base import gazetteers
from ner_update.base.training import TrainingError, log_path, train_in_parallel
from ner_update.common import (
    InputError,
    atomic_dir,
    exits_on_input_error,
    is_default_base,
    load_base,
    refuse_symlinks,
    write_atomic,
)
from ner_update.registered import REGISTERED_DIR, registered

registered("word_parts")  # registers the default base ner's embedding


def describe_base(base_model: str) -> dict:
    """Name, pipeline, entity labels and a fingerprint of the base's files.

    Later steps depend on this record, so they re-run when the base changes.
    """
    nlp = load_base(base_model)
    labels = list(nlp.get_pipe("ner").labels) if "ner" in nlp.pipe_names else []
    return {
        "base_model": base_model,
        "pipeline": nlp.pipe_names,
        "ner_labels": labels,
        "version": nlp.meta.get("version"),
        "fingerprint": get_checksum(nlp.path),
    }


# what the default base learned from, in the pipeline's meta (and so in the
# shipped pipeline's), with gazetteers.SOURCES when its vectors carry them
DATA_SOURCES = [
    {
        "name": "UD English-EWT",
        "url": "https://github.com/UniversalDependencies/UD_English-EWT",
        "license": "CC BY-SA 4.0",
    },
    {
        "name": "Universal NER, English-EWT",
        "url": "https://github.com/UniversalNER/UNER_English-EWT",
        "license": "CC BY-SA 4.0",
    },
    {"name": "Broad Twitter Corpus", "url": "https://github.com/GateNLP/broad_twitter_corpus", "license": "CC BY 4.0"},
    {
        "name": "spacy-lookups-data (Brown clusters)",
        "url": "https://github.com/explosion/spacy-lookups-data",
        "license": "MIT",
    },
]


def ner_training_args(pretrained: Optional[Path]) -> List[str]:
    """The ner's extra `spacy train` arguments: its init callback's code, and
    the pretrained weights the `pretrain` step recorded in `pretrained` (if any)."""
    args = ["--code", str(REGISTERED_DIR / "base_training.py")]
    if pretrained is None:
        return args
    if not pretrained.is_file():
        raise InputError(f"{pretrained}: not found (run the `pretrain` step first, or leave --pretrained out)")
    try:
        weights = srsly.read_json(pretrained).get("weights")
    except (ValueError, AttributeError):
        raise InputError(f'{pretrained}: not the `pretrain` step\'s record (JSON with "weights")') from None
    if weights and not Path(weights).is_file():
        raise InputError(f"{pretrained}: names weights {weights}, which do not exist (run `pretrain` again)")
    return args + (["--paths.pretrained", str(weights)] if weights else [])


def join(syntax_path: Path, ner_path: Path, output: Path) -> None:
    """The syntax pipeline with the ner of the other one added at the end,
    and the ner's static vectors (it reads them; the syntax may not). Two
    different vector tables cannot be joined: InputError."""
    nlp = spacy.load(syntax_path)
    ner_nlp = spacy.load(ner_path)
    if not nlp.vocab.vectors.shape[0]:
        nlp.vocab.vectors = ner_nlp.vocab.vectors
    elif ner_nlp.vocab.vectors.shape[0] and nlp.vocab.vectors.to_bytes(exclude=["strings"]) != (
        ner_nlp.vocab.vectors.to_bytes(exclude=["strings"])
    ):
        raise InputError(
            f"{syntax_path} and {ner_path} were trained with different static vectors: train both with the "
            "same [paths] vectors"
        )
    nlp.add_pipe("ner", source=ner_nlp)
    nlp.meta["name"] = "base"
    with_gazetteers = nlp.vocab.vectors.name == gazetteers.GAZETTEER_TABLE
    nlp.meta["sources"] = DATA_SOURCES + (gazetteers.SOURCES if with_gazetteers else [])
    with atomic_dir(output) as tmp:
        nlp.to_disk(tmp)


def entity_score_rows(scores: dict) -> List[Tuple[str, str, str, str]]:
    """(label, P, R, F) in percent for each entity label, then all labels."""

    def row(name: str, s: dict) -> Tuple[str, str, str, str]:
        return (name, *(f"{100 * (s.get(k) or 0.0):.1f}" for k in ("p", "r", "f")))

    per_type = scores.get("ents_per_type") or {}
    overall = {k: scores.get(f"ents_{k}") for k in ("p", "r", "f")}
    return [row(label, per_type[label]) for label in sorted(per_type)] + [row("all", overall)]


def build(jobs: List[tuple], output: Path, heldout: List[Path], gpu_id: int, overrides: List[str]) -> None:
    """Train the two configs at once, join them into `output`, score it on
    each held-out set (metrics_<name>.json beside it) and print the ner's scores."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # the ner trains on its dev data too (configs/base_ner.cfg): no checkpoint to choose
    try:
        train_in_parallel(jobs, gpu_id, overrides)
        join(jobs[0][1] / "model-best", jobs[1][1] / "model-last", output)
    except (InputError, TrainingError) as err:
        msg.fail(str(err), exits=1)
    for path in heldout:
        scores = evaluate(output.as_posix(), path, output=output.parent / f"metrics_{path.stem}.json", use_gpu=gpu_id)
        table = entity_score_rows(scores)
        title = f"Base ner on {path} (held out)"
        msg.table(table, header=("entities", "P", "R", "F"), aligns=("l", "r", "r", "r"), title=title)


@exits_on_input_error
def main(
    ctx: typer.Context,
    base_model: str = typer.Argument(..., help="The base pipeline the update uses: a package name or a path"),
    config_path: Path = typer.Option(
        Path("configs/base.cfg"),
        "--config",
        exists=True,
        dir_okay=False,
        help="Config of the default base's tagger, morphologizer, parser and lemmatizer",
    ),
    ner_config_path: Path = typer.Option(
        Path("configs/base_ner.cfg"),
        "--ner-config",
        exists=True,
        dir_okay=False,
        help="Config of the default base's ner",
    ),
    output_dir: Path = typer.Option(
        Path("training/base"),
        "--output",
        file_okay=False,
        help="Where the default base is trained (model-best is the joined pipeline)",
    ),
    heldout: List[Path] = typer.Option(
        [], "--heldout", help="Held-out gold corpus to score the base on, writing metrics_<name>.json; repeatable"
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
    pretrained: str = typer.Option(
        "",
        "--pretrained",
        help="The `pretrain` step's record (pretrain.json): start the ner from its weights; '' a random start",
    ),
    check_only: bool = typer.Option(False, "--check-only", help="Only check that the base loads; never train"),
    info_path: Optional[Path] = typer.Option(
        None,
        "--info",
        dir_okay=False,
        help="Where to write the base's name, pipeline, labels and fingerprint (default: base_model.json beside the output folder)",
    ),
):
    """Build the default base, or check the configured one. Extra --section.key
    options override both configs, e.g. --training.max_steps 100."""
    default = (output_dir / "model-best").as_posix()
    info_path = info_path or output_dir.parent / "base_model.json"
    if check_only or not is_default_base(base_model, output_dir):
        info = describe_base(base_model)
        write_atomic(info_path, srsly.json_dumps(info, indent=2))
        msg.good(f"Base pipeline '{base_model}' loads: {info['pipeline']}, entity labels {info['ner_labels']}")
        return
    written = [output_dir, Path(default), info_path, *(output_dir / f"metrics_{path.stem}.json" for path in heldout)]
    try:
        ner_args = ner_training_args(Path(pretrained) if pretrained.strip() else None)
        jobs = [(config_path, output_dir / "syntax", []), (ner_config_path, output_dir / "ner", ner_args)]
        # the logs and spacy train's outputs would be written through a link planted in their place
        refuse_symlinks(written + [path for _, out, _ in jobs for path in (out, log_path(out))])
    except InputError as err:
        msg.fail(str(err), exits=1)
    build(jobs, Path(default), heldout, gpu_id, [str(a) for a in ctx.args])
    write_atomic(info_path, srsly.json_dumps(describe_base(base_model), indent=2))
    msg.good(f"Base pipeline in {default}; scores on the held-out sets in {output_dir}/metrics_*.json")


if __name__ == "__main__":
    app = typer.Typer(add_completion=False)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(main)
    app()
