"""Bootstrapping: entity annotations from patterns over raw texts, streaming.

Every unique text is matched with spaCy's `entity_ruler` (on the engine's
workers) and sorted, per input file, into annotations (matched texts, then
texts without a match as negatives), rehearsal texts and held-out texts.
Sampling is deterministic: a text's rank is a hash of the seed and the text, so
the same inputs give the same outputs, and memory is bounded by the caps (and
the set of texts seen), not by the size of the input. Deduplication and
sampling stay in the calling process, so the outputs are the same whatever
engine runs the matching. A library: prints nothing but a progress bar.
"""

import hashlib
import heapq
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import srsly
from tqdm import tqdm

from ner_update.common import expand_text_files, optional_path
from ner_update.files import write_atomic
from ner_update.inputs.patterns import load_patterns, pattern_pipeline, patterns_file
from ner_update.inputs.texts import excluded_texts, iter_numbered_texts
from ner_update.scale.engine import EngineOptions, Job, open_engine, shards_of
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
        """Keep `item` if its rank `key` is among the lowest seen; count it either way."""
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
    patterns_path = patterns_file(patterns_value)
    excluded_paths = [p for p in (optional_path(v, "file to exclude") for v in exclude) if p is not None]
    patterns = load_patterns(patterns_path) if patterns_path is not None else []
    pattern_pipeline(lang, patterns)  # fails here, not in a worker, on an unknown language or bad pattern
    paths = list(dict.fromkeys(p.resolve() for p in expand_text_files(texts))) if texts else []
    return paths, patterns, excluded_texts(excluded_paths)


def write_outputs(
    outputs: Dict[str, list], output_path: Path, rehearsal_path: Optional[Path], heldout_path: Optional[Path]
) -> None:
    """The annotations (a JSON list) and, where a path is given, the rehearsal and held-out texts (JSONL)."""
    write_atomic(output_path, srsly.json_dumps(outputs["annotations"], indent=2))
    for path, name in ((rehearsal_path, "rehearsal"), (heldout_path, "heldout")):
        if path is not None:
            write_atomic(path, "".join(srsly.json_dumps(r) + "\n" for r in outputs[name]))


FILE_COLUMNS = (
    "texts",
    "with a match",
    "matched kept",
    "matched over the cap",
    "negatives kept",
    "rehearsal texts",
    "held-out texts",
)


def file_rows(tally: Tally) -> List[tuple]:
    """Per input file: its name and its counts of FILE_COLUMNS."""
    return [(Path(f).name, *(c[k] for k in FILE_COLUMNS)) for f, c in tally.per_file.items()]


def pattern_rows(tally: Tally, patterns: List[dict]) -> List[tuple]:
    """Per pattern: its id, its label and how many times it matched."""
    return [(p["id"], p["label"], tally.per_pattern.get(p["id"], 0)) for p in patterns]
