"""Benchmark recipes (configs/recipes/*.cfg) for adding entity types to a base.

Every recipe runs on the same base, data and seeds, two trainings at a time
(one per CPU core), and its best checkpoint, which is the shipped pipeline, is
evaluated like `evaluate` does: new-label P/R/F on the name-disjoint dev split
and the hand-checked real-text set; how often the new label wins where the base
had an entity over a gold new-label span (relabel); agreement with the base over
all its labels away from gold new-label spans and on the held-out sets (EWT,
tweets, texts of your domain); old-label F against gold; inference speed
relative to the base, timed back to back; size relative to the base.
"""

import time
from pathlib import Path

import typer
from wasabi import msg

from ner_update.common import exits_on_input_error
from ner_update.evaluation.benchmark import (
    CONSTRAINTS,
    checked_corpora,
    checked_inputs,
    plan,
    run_jobs,
    shared_inputs,
    versions,
)
from ner_update.evaluation.benchmark_tables import write_tables
from ner_update.pipelines import resolve_base_name
from ner_update.runs import run_command


@exits_on_input_error
def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    corpus_dir: Path = typer.Argument(
        Path("corpus"), exists=True, file_okay=False, help="The corpora the project's steps write"
    ),
    patterns_value: str = typer.Argument(..., help="The patterns (EntityRuler JSONL); '' (empty): none"),
    output_dir: Path = typer.Option(
        Path("training/benchmark"), "--output", file_okay=False, help="Where runs and tables go"
    ),
    recipes: str = typer.Option(
        "new_label_tagger,second_ner,single_ner,new_label_only",
        "--recipes",
        help="Comma-separated recipes (configs/recipes/NAME.cfg)",
    ),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated seeds; every recipe runs once per seed"),
    checkpoint_set: str = typer.Option(
        "checkpoint",
        "--checkpoint-set",
        help="The corpus training chooses checkpoints on (corpus/NAME.spacy and NAME_base_ents.spacy; "
        "`rehearsal` writes them as checkpoint)",
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="Runs at a time (one per CPU core)"),
    max_steps: int = typer.Option(0, "--max-steps", help="Override [training] max_steps (0: the recipe's)"),
    label_map: str = typer.Option("", "--label-map", help="Old-label map for evaluation, as in `evaluate`"),
):
    """Run every recipe on the same base, data and seeds, two at a time; write one table."""
    base_model = resolve_base_name(base_model)
    names = [r for r in recipes.split(",") if r]
    patterns_path = checked_inputs(names, label_map, patterns_value, base_model)
    sets, common = checked_corpora(corpus_dir, checkpoint_set, max_steps)
    jobs = plan(base_model, patterns_path, output_dir, names, [int(s) for s in seeds.split(",")], common)
    shared = shared_inputs(base_model, patterns_path, label_map, sets)
    start = time.perf_counter()
    rows = run_jobs(jobs, shared, workers, say=msg.info)
    installed, differ = versions()
    if differ:
        msg.warn(f"Installed versions differ from {CONSTRAINTS.name}: {', '.join(differ)}")
    extra = {"versions": installed, "seconds": time.perf_counter() - start, "base_model": base_model}
    md_path, json_path = write_tables(output_dir, rows, extra)
    msg.good(f"Wrote {md_path} and {json_path} in {extra['seconds']:.0f} s")


if __name__ == "__main__":
    run_command(main)
