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
"""

import hashlib
import heapq
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import srsly
import typer
from tqdm import tqdm
from wasabi import msg

from ner_update.common import (
    InputError,
    excluded_texts,
    expand_text_files,
    iter_numbered_texts,
    optional_path,
    write_atomic,
)
from ner_update.inputs.guards import refuse_overwriting_inputs
from ner_update.inputs.patterns import load_patterns, pattern_pipeline
from ner_update.scale.engine import (
    Engine,
    EngineError,
    EngineOption,
    EngineOptions,
    Job,
    SchedulerOption,
    WorkersOption,
    engine_options,
    open_engine,
    shards_of,
)
from ner_update.scale.jobs import MAX_LENGTH, pattern_matches_job

OUTPUTS = ("annotations", "rehearsal", "heldout")
SHARD_SIZE = 5000  # texts per task: the tokenizer and the patterns are fast


def rank(seed: int, text: str) -> int:
    """A deterministic pseudo-random rank of a text."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\n{text}".encode("utf8"), digest_size=8).digest(), "big")


class Lowest:
    """Keeps the `size` items of lowest rank seen so far (bounded memory)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.heap: List[Tuple[int, int, object]] = []  # max-heap by negated rank
        self.seen = 0

    def offer(self, key: int, item: object) -> None:
        self.seen += 1
        if self.size <= 0:
            return
        entry = (-key, self.seen, item)
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, entry)
        elif -self.heap[0][0] > key:
            heapq.heapreplace(self.heap, entry)

    def items(self, n: Optional[int] = None) -> List[object]:
        """The n lowest-ranked items (all kept if n is None), lowest rank first."""
        ordered = [item for _, _, item in sorted(self.heap, key=lambda e: (-e[0], e[1]))]
        return ordered if n is None else ordered[:n]


def iter_unique(
    paths: List[Path], exclude: Set[str], counts: Counter, max_length: Optional[int] = None
) -> Iterator[Tuple[Path, str]]:
    """(file, text) for every text seen for the first time and not excluded; InputError
    for a text over max_length."""
    seen: Set[bytes] = set()
    for path in paths:
        for _, text in iter_numbered_texts(path, counts, max_length):
            key = hashlib.blake2b(text.encode("utf8"), digest_size=12).digest()
            if text in exclude:
                counts["excluded (evaluation texts)"] += 1
            elif key in seen:
                counts["duplicates merged"] += 1
            else:
                seen.add(key)
                yield path, text


@dataclass(frozen=True)
class Sampling:
    """How many texts of each kind are kept per input file, and the seed that ranks them."""

    seed: int = 0
    negative_ratio: float = 1.0
    max_matched: int = 5000
    max_negatives: int = 5000
    n_rehearsal: int = 2000
    n_heldout: int = 500


@dataclass
class Tally:
    """Matches per label and per pattern id, counts per file, and counts of skipped texts."""

    per_label: Counter = field(default_factory=Counter)
    per_pattern: Counter = field(default_factory=Counter)
    per_file: Dict[str, Counter] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)


def match_texts(
    job: Job, paths: List[Path], exclude: Set[str], sampling: Sampling, options: EngineOptions, progress: bool
) -> Tuple[Dict[Path, Lowest], Dict[Path, Lowest], Tally]:
    """Run the patterns over every unique text (with the engine); keep the lowest-ranked matched and
    unmatched texts per file."""
    tally = Tally()
    matched = {p: Lowest(sampling.max_matched) for p in paths}
    pool_size = sampling.max_negatives + sampling.n_rehearsal + sampling.n_heldout
    unmatched = {p: Lowest(pool_size) for p in paths}
    shards = shards_of(iter_unique(paths, exclude, tally.counts, MAX_LENGTH), options.shard_size)
    bar = tqdm(desc="bootstrap", unit="text", disable=None if progress else True)
    with bar, open_engine(options) as runner:
        for result in runner.map(job, shards):
            bar.update(len(result.items))
            for (path, text), ents in zip(result.items, result.results):
                file_counts = tally.per_file.setdefault(str(path), Counter())
                file_counts["texts"] += 1
                if not ents:
                    unmatched[path].offer(rank(sampling.seed + 1, text), text)
                    continue
                file_counts["with a match"] += 1
                for _, _, label, pattern_id in ents:
                    tally.per_label[label] += 1
                    tally.per_pattern[pattern_id] += 1
                record = [text, {"entities": [[start, end, label] for start, end, label, _ in ents]}]
                matched[path].offer(rank(sampling.seed, text), record)
    return matched, unmatched, tally


def select_outputs(
    paths: List[Path], matched: Dict[Path, Lowest], unmatched: Dict[Path, Lowest], sampling: Sampling, tally: Tally
) -> Dict[str, list]:
    """Annotations (matched texts, then negatives), rehearsal and held-out texts, per file, sorted by text."""
    outputs: Dict[str, list] = {name: [] for name in OUTPUTS}
    n_rehearsal, n_heldout = sampling.n_rehearsal, sampling.n_heldout
    for path in paths:
        kept = matched[path].items()
        n_neg = min(sampling.max_negatives, int(round(sampling.negative_ratio * len(kept))))
        pool = unmatched[path].items()
        negatives, rest = pool[:n_neg], pool[n_neg:]
        rehearsal, heldout = rest[:n_rehearsal], rest[n_rehearsal : n_rehearsal + n_heldout]
        # sorted by text: stable output whatever the order of the stream
        outputs["annotations"] += sorted(kept, key=lambda r: r[0]) + sorted(
            ([t, {"entities": []}] for t in negatives), key=lambda r: r[0]
        )
        outputs["rehearsal"] += [{"text": t} for t in sorted(rehearsal)]
        outputs["heldout"] += [{"text": t} for t in sorted(heldout)]
        tally.per_file.setdefault(str(path), Counter()).update(
            {
                "matched kept": len(kept),
                "matched over the cap": matched[path].seen - len(kept),
                "negatives kept": len(negatives),
                "rehearsal texts": len(rehearsal),
                "held-out texts": len(heldout),
            }
        )
    return outputs


def bootstrap(
    lang: str,
    patterns: List[dict],
    paths: List[Path],
    exclude: Set[str],
    sampling: Sampling = Sampling(),
    options: EngineOptions = EngineOptions(),
    progress: bool = True,
) -> Tuple[Dict[str, list], Tally]:
    """Sort unique texts into annotations, rehearsal and held-out texts; the outputs and the counts.
    The patterns run in the engine's workers (pattern_pipeline: the tokenizer and an entity_ruler)."""
    job = pattern_matches_job(lang, patterns)
    matched, unmatched, tally = match_texts(job, paths, exclude, sampling, options, progress)
    return select_outputs(paths, matched, unmatched, sampling, tally), tally


def read_inputs(
    texts_paths: List[str], patterns_value: str, exclude: List[str], lang: str
) -> Tuple[List[Path], List[dict], Set[str]]:
    """The raw-text files, the checked patterns and the excluded texts; InputError for a bad one."""
    texts = [p for p in (optional_path(v, "raw texts") for v in texts_paths) if p is not None]
    patterns_path = optional_path(patterns_value, "patterns file")
    excluded_paths = [p for p in (optional_path(v, "file to exclude") for v in exclude) if p is not None]
    if patterns_path is not None and patterns_path.is_dir():
        raise InputError(f"{patterns_path}: a folder, not a patterns file")
    patterns = load_patterns(patterns_path) if patterns_path is not None else []
    pattern_pipeline(lang, patterns)  # fails here, not in a worker, on an unknown language or bad pattern
    paths = list(dict.fromkeys(p.resolve() for p in expand_text_files(texts))) if texts else []
    return paths, patterns, excluded_texts(excluded_paths)


def write_outputs(outputs: Dict[str, list], output_path: Path, rehearsal_path, heldout_path) -> None:
    write_atomic(output_path, srsly.json_dumps(outputs["annotations"], indent=2))
    for path, name in ((rehearsal_path, "rehearsal"), (heldout_path, "heldout")):
        if path is not None:
            write_atomic(path, "".join(srsly.json_dumps(r) + "\n" for r in outputs[name]))


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
    per_file, counts, per_label, per_pattern = tally.per_file, tally.counts, tally.per_label, tally.per_pattern
    columns = (
        "texts",
        "with a match",
        "matched kept",
        "matched over the cap",
        "negatives kept",
        "rehearsal texts",
        "held-out texts",
    )
    rows = [(Path(f).name, *(c[k] for k in columns)) for f, c in per_file.items()]
    msg.table(rows, header=("file", *columns), divider=True)
    msg.info(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no text skipped")
    if not patterns:
        msg.info("No patterns (vars.patterns is empty): texts sampled for rehearsal and held-out agreement only")
        return
    msg.table(sorted(per_label.items()), header=("label", "matches"), divider=True)
    pattern_rows = [(p["id"], p["label"], per_pattern.get(p["id"], 0)) for p in patterns]
    msg.table(pattern_rows, header=("pattern", "label", "matches"), divider=True)
    unused = [r[0] for r in pattern_rows if r[2] == 0]
    if len(unused) == len(pattern_rows):
        msg.warn("The patterns matched no text: 0 bootstrapped annotations (training uses your annotations alone)")
    elif unused:
        msg.warn(f"{len(unused)} patterns matched nothing: {', '.join(unused)}")


if __name__ == "__main__":
    typer.run(main)
