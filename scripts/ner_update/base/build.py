"""Building the default base: the two trainings (configs/base.cfg's syntax, configs/base_ner.cfg's
ner, the latter from the `pretrain` step's weights if any) joined into one pipeline and scored on
held-out sets; and the record of any base (name, pipeline, labels, fingerprint) later steps depend on.
"""

from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import spacy
import srsly
from spacy.cli.evaluate import evaluate
from weasel.util import get_checksum

from ner_update.base import gazetteers
from ner_update.base.training import log_path, train_in_parallel
from ner_update.common import InputError
from ner_update.files import atomic_dir, refuse_symlinks, write_atomic
from ner_update.registered import REGISTERED_DIR, load_base, registered

registered("word_parts")  # registers the default base ner's embedding

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


def write_description(base_model: str, info_path: Path) -> dict:
    """describe_base, written to `info_path` as JSON; the description."""
    info = describe_base(base_model)
    write_atomic(info_path, srsly.json_dumps(info, indent=2))
    return info


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


def training_jobs(
    config_path: Path, ner_config_path: Path, output_dir: Path, pretrained: str, outputs: List[Path]
) -> List[tuple]:
    """(config, output folder, extra `spacy train` args) of the syntax and the ner trainings;
    InputError if the pretrained record is unusable or an output (of `outputs`, the trainings'
    folders and logs) is a symbolic link."""
    ner_args = ner_training_args(Path(pretrained) if pretrained.strip() else None)
    jobs = [(config_path, output_dir / "syntax", []), (ner_config_path, output_dir / "ner", ner_args)]
    # the logs and spacy train's outputs would be written through a link planted in their place
    refuse_symlinks(outputs + [path for _, out, _ in jobs for path in (out, log_path(out))])
    return jobs


def build(
    jobs: List[tuple], output: Path, gpu_id: int, overrides: List[str], say: Callable[[str], None] = lambda _: None
) -> None:
    """Train the two configs at once (their progress passed to `say`) and join them into `output`;
    TrainingError if a training fails, InputError if they cannot be joined."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # the ner trains on its dev data too (configs/base_ner.cfg): no checkpoint to choose
    train_in_parallel(jobs, gpu_id, overrides, say=say)
    join(jobs[0][1] / "model-best", jobs[1][1] / "model-last", output)


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


def held_out_scores(output: Path, heldout: List[Path], gpu_id: int) -> Iterator[Tuple[Path, list]]:
    """Score the pipeline in `output` on each held-out set (writing metrics_<name>.json beside it);
    (the set, entity_score_rows) for each, as it is scored."""
    for path in heldout:
        scores = evaluate(output.as_posix(), path, output=output.parent / f"metrics_{path.stem}.json", use_gpu=gpu_id)
        yield path, entity_score_rows(scores)
