"""Build the default base pipeline, or check that the configured one loads.

With `base_model` set to the default path, trains configs/base.cfg on UD
English-EWT dev + Universal NER (choosing the best checkpoint on part A) and
scores it on the held-out part B. With any other base (such as
en_core_web_sm), only checks that it can be loaded.
"""
from pathlib import Path

import srsly
import typer
from spacy.cli._util import parse_config_overrides
from spacy.cli.evaluate import evaluate
from spacy.cli.train import train
from wasabi import msg
from weasel.util import get_checksum

from common import DEFAULT_BASE, load_base, write_atomic


def describe_base(base_model: str) -> dict:
    """Name, pipeline, entity labels and a fingerprint of the base's files.

    Later steps depend on this record, so they re-run when the base changes.
    """
    nlp = load_base(base_model)
    labels = list(nlp.get_pipe("ner").labels) if "ner" in nlp.pipe_names else []
    return {"base_model": base_model, "pipeline": nlp.pipe_names, "ner_labels": labels,
            "version": nlp.meta.get("version"), "fingerprint": get_checksum(nlp.path)}


def main(
    ctx: typer.Context,
    base_model: str = typer.Argument(..., help="The base pipeline the update uses: a package name or a path"),
    config_path: Path = typer.Option(Path("configs/base.cfg"), "--config", exists=True, dir_okay=False, help="Config of the default base"),
    output_dir: Path = typer.Option(Path("training/base"), "--output", file_okay=False, help="Where the default base is trained"),
    heldout: Path = typer.Option(Path("corpus/ewt_heldout.spacy"), "--heldout", help="Gold held-out corpus (EWT test part B) to score the base on"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
    check_only: bool = typer.Option(False, "--check-only", help="Only check that the base loads; never train"),
    info_path: Path = typer.Option(Path("training/base_model.json"), "--info", dir_okay=False, help="Where to write the base's name, pipeline, labels and fingerprint"),
):
    """Build the default base, or check the configured one. Extra --section.key
    options override the config, e.g. --training.max_steps 100."""
    default = (output_dir / "model-best").as_posix()
    if check_only or Path(base_model).as_posix() not in (default, DEFAULT_BASE):
        info = describe_base(base_model)
        write_atomic(info_path, srsly.json_dumps(info, indent=2))
        msg.good(f"Base pipeline '{base_model}' loads: {info['pipeline']}, entity labels {info['ner_labels']}")
        return
    overrides = parse_config_overrides(ctx.args)
    train(config_path, output_dir, use_gpu=gpu_id, overrides=overrides)
    evaluate(default, heldout, output=output_dir / "metrics_part_b.json", use_gpu=gpu_id)
    write_atomic(info_path, srsly.json_dumps(describe_base(base_model), indent=2))
    msg.good(f"Base pipeline in {default}; scores on held-out part B in {output_dir / 'metrics_part_b.json'}")


if __name__ == "__main__":
    app = typer.Typer(add_completion=False)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(main)
    app()
