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
from typing import List, Optional

import typer
from wasabi import msg

from ner_update.base.build import build, held_out_scores, training_jobs, write_description
from ner_update.base.training import TrainingError
from ner_update.common import exits_on_input_error
from ner_update.pipelines import is_default_base
from ner_update.runs import run_command


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
        info = write_description(base_model, info_path)
        msg.good(f"Base pipeline '{base_model}' loads: {info['pipeline']}, entity labels {info['ner_labels']}")
        return
    written = [output_dir, Path(default), info_path, *(output_dir / f"metrics_{path.stem}.json" for path in heldout)]
    jobs = training_jobs(config_path, ner_config_path, output_dir, pretrained, written)
    try:
        build(jobs, Path(default), gpu_id, [str(a) for a in ctx.args], say=msg.info)
    except TrainingError as err:
        msg.fail(str(err), exits=1)
    for path, table in held_out_scores(Path(default), heldout, gpu_id):
        title = f"Base ner on {path} (held out)"
        msg.table(table, header=("entities", "P", "R", "F"), aligns=("l", "r", "r", "r"), title=title)
    write_description(base_model, info_path)
    msg.good(f"Base pipeline in {default}; scores on the held-out sets in {output_dir}/metrics_*.json")


if __name__ == "__main__":
    run_command(main, extra_args=True)
