"""Bootstrap entity annotations from patterns over raw texts, streaming.

Runs spaCy's `entity_ruler` (EntityRuler JSONL patterns: token patterns or
phrases, matched case-insensitively; longest match wins where matches overlap)
over any number of raw text files with only the tokenizer, and sorts every
unique text into one of four outputs:

- annotations (course format): every text with a match (up to --max-matched
  per file), plus texts without a match as negatives, --negative-ratio per
  matched text (up to --max-negatives per file);
- rehearsal texts (JSONL): texts without a match, for silver and teacher
  rehearsal in the user's own domain;
- held-out texts (JSONL): texts without a match kept apart, to measure how well
  the updated pipeline agrees with the base in the user's domain.

Texts of --exclude files (e.g. a hand-checked evaluation set) are skipped and
counted. Sampling is deterministic: a text's rank is a hash of the seed and the
text, so the same inputs give the same outputs, and memory is bounded by the
caps (and the set of texts seen), not by the size of the input. The matching
runs on the engine (--engine, --workers: scripts/ner_update/scale/engine.py); deduplication and
sampling stay in this process, so the outputs are the same whatever runs it.
The work is in scripts/ner_update/inputs/bootstrapping.py.
"""

from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from ner_update.common import InputError
from ner_update.inputs.bootstrapping import (
    FILE_COLUMNS,
    SHARD_SIZE,
    Sampling,
    Tally,
    bootstrap,
    file_rows,
    pattern_rows,
    read_inputs,
    write_outputs,
)
from ner_update.inputs.guards import refuse_overwriting_inputs
from ner_update.runs import run_command
from ner_update.scale.engine import Engine, EngineError, EngineOption, SchedulerOption, WorkersOption, engine_options


def main(
    texts_paths: List[str] = typer.Argument(
        ...,
        help="Raw texts: .txt (one per line), .json (list) or .jsonl ({'text': ...}), or folders of them; "
        "'' (empty): none, and every output is written empty",
    ),
    patterns_value: str = typer.Option(
        ..., "--patterns", help="Patterns, JSONL: one {'label', 'pattern'} per line; '': none (nothing is matched)"
    ),
    output_path: Path = typer.Option(..., "--output", dir_okay=False, help="Annotations (course format, .json)"),
    rehearsal_path: Optional[Path] = typer.Option(
        None, "--rehearsal-output", dir_okay=False, help="Texts without a match for rehearsal (.jsonl)"
    ),
    heldout_path: Optional[Path] = typer.Option(
        None, "--heldout-output", dir_okay=False, help="Texts without a match held out to measure agreement (.jsonl)"
    ),
    exclude: List[str] = typer.Option(
        [], "--exclude", help="Files whose texts are never used (evaluation sets); repeatable; '' is ignored"
    ),
    negative_ratio: float = typer.Option(
        1.0, "--negative-ratio", min=0.0, help="Texts without a match per matched text"
    ),
    max_matched: int = typer.Option(5000, "--max-matched", min=0, help="Cap on matched texts kept per input file"),
    max_negatives: int = typer.Option(5000, "--max-negatives", min=0, help="Cap on negatives kept per input file"),
    n_rehearsal: int = typer.Option(2000, "--rehearsal-texts", min=0, help="Rehearsal texts kept per input file"),
    n_heldout: int = typer.Option(500, "--heldout-texts", min=0, help="Held-out texts kept per input file"),
    seed: int = typer.Option(0, "--seed", help="Seed of the sampling"),
    lang: str = typer.Option("en", "--lang", help="Language of the blank tokenizer"),
    engine: EngineOption = Engine.local,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = "",
    shard_size: int = typer.Option(SHARD_SIZE, "--shard-size", min=1, help="Texts per task sent to a worker"),
):
    """Label raw texts with patterns and sample annotations, rehearsal and held-out texts."""
    sampling = Sampling(seed, negative_ratio, max_matched, max_negatives, n_rehearsal, n_heldout)
    try:
        options = engine_options(engine, workers, scheduler, shard_size)
        refuse_overwriting_inputs([output_path, rehearsal_path, heldout_path], [*texts_paths, patterns_value, *exclude])
        paths, patterns, excluded = read_inputs(texts_paths, patterns_value, exclude, lang)
        outputs, tally = bootstrap(lang, patterns, paths, excluded, sampling, options)
    except (InputError, EngineError) as err:
        msg.fail(str(err), exits=1)
    write_outputs(outputs, output_path, rehearsal_path, heldout_path)
    if not paths:
        msg.info("No raw texts (vars.raw_texts is empty): nothing bootstrapped, the outputs are written empty")
    else:
        print_counts(tally, patterns)
    msg.good(f"Wrote {len(outputs['annotations'])} annotated texts to {output_path}")


def print_counts(tally: Tally, patterns: List[dict]) -> None:
    """Tables of texts per file, matches per label and per pattern."""
    msg.table(file_rows(tally), header=("file", *FILE_COLUMNS), divider=True)
    msg.info(", ".join(f"{v} {k}" for k, v in sorted(tally.counts.items())) or "no text skipped")
    if not patterns:
        msg.info("No patterns (vars.patterns is empty): texts sampled for rehearsal and held-out agreement only")
        return
    msg.table(sorted(tally.per_label.items()), header=("label", "matches"), divider=True)
    rows = pattern_rows(tally, patterns)
    msg.table(rows, header=("pattern", "label", "matches"), divider=True)
    unused = [r[0] for r in rows if r[2] == 0]
    if len(unused) == len(rows):
        msg.warn("The patterns matched no text: 0 bootstrapped annotations (training uses your annotations alone)")
    elif unused:
        msg.warn(f"{len(unused)} patterns matched nothing: {', '.join(unused)}")


if __name__ == "__main__":
    run_command(main)
