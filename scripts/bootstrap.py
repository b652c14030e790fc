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
caps, not by the size of the input.
"""

import hashlib
import heapq
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import srsly
import typer
from spacy.language import Language
from tqdm import tqdm
from wasabi import msg

from common import (
    InputError,
    expand_text_files,
    iter_numbered_texts,
    iter_texts,
    optional_path,
    write_atomic,
)
from patterns import load_patterns, pattern_pipeline

OUTPUTS = ("annotations", "rehearsal", "heldout")


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


def bootstrap(
    nlp: Language,
    paths: List[Path],
    exclude: Set[str],
    seed: int = 0,
    negative_ratio: float = 1.0,
    max_matched: int = 5000,
    max_negatives: int = 5000,
    n_rehearsal: int = 2000,
    n_heldout: int = 500,
    batch_size: int = 500,
    n_process: int = 1,
    progress: bool = True,
) -> Tuple[Dict[str, list], Counter, Counter, Dict[str, Counter], Counter]:
    """Sort unique texts into annotations, rehearsal and held-out texts.

    Returns the outputs, matches per label and per pattern id, counts per file
    and counts of skipped texts.
    """
    counts: Counter = Counter()
    per_label: Counter = Counter()
    per_pattern: Counter = Counter()
    per_file: Dict[str, Counter] = {}
    matched: Dict[Path, Lowest] = {p: Lowest(max_matched) for p in paths}
    unmatched: Dict[Path, Lowest] = {p: Lowest(max_negatives + n_rehearsal + n_heldout) for p in paths}
    stream = iter_unique(paths, exclude, counts, nlp.max_length)
    texts = ((text, path) for path, text in stream)
    docs = nlp.pipe(texts, as_tuples=True, batch_size=batch_size, n_process=n_process)
    for doc, path in tqdm(docs, desc="bootstrap", unit="text", disable=None if progress else True):
        file_counts = per_file.setdefault(str(path), Counter())
        file_counts["texts"] += 1
        if doc.ents:
            file_counts["with a match"] += 1
            for ent in doc.ents:
                per_label[ent.label_] += 1
                per_pattern[ent.ent_id_] += 1
            record = [doc.text, {"entities": [[e.start_char, e.end_char, e.label_] for e in doc.ents]}]
            matched[path].offer(rank(seed, doc.text), record)
        else:
            unmatched[path].offer(rank(seed + 1, doc.text), doc.text)
    outputs: Dict[str, list] = {name: [] for name in OUTPUTS}
    for path in paths:
        file_counts = per_file.setdefault(str(path), Counter())
        kept = matched[path].items()
        n_neg = min(max_negatives, int(round(negative_ratio * len(kept))))
        pool = unmatched[path].items()
        negatives, rest = pool[:n_neg], pool[n_neg:]
        rehearsal, heldout = rest[:n_rehearsal], rest[n_rehearsal : n_rehearsal + n_heldout]
        # sorted by text: stable output whatever the order of the stream
        outputs["annotations"] += sorted(kept, key=lambda r: r[0]) + sorted(
            ([t, {"entities": []}] for t in negatives), key=lambda r: r[0]
        )
        outputs["rehearsal"] += [{"text": t} for t in sorted(rehearsal)]
        outputs["heldout"] += [{"text": t} for t in sorted(heldout)]
        file_counts.update(
            {
                "matched kept": len(kept),
                "matched over the cap": matched[path].seen - len(kept),
                "negatives kept": len(negatives),
                "rehearsal texts": len(rehearsal),
                "held-out texts": len(heldout),
            }
        )
    return outputs, per_label, per_pattern, per_file, counts


def read_exclusions(paths: List[Path]) -> Set[str]:
    """Texts of annotation or raw-text files that must not be bootstrapped on."""
    texts: Set[str] = set()
    for path in paths:
        counts: Counter = Counter()
        texts.update(iter_texts(path, counts))
    return texts


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
    n_process: int = typer.Option(1, "--n-process", min=1, help="Processes for matching (2 pays off on large inputs)"),
    lang: str = typer.Option("en", "--lang", help="Language of the blank tokenizer"),
):
    """Label raw texts with patterns and sample annotations, rehearsal and held-out texts."""
    try:
        texts = [p for p in (optional_path(v, "raw texts") for v in texts_paths) if p is not None]
        patterns_path = optional_path(patterns_value, "patterns file")
        excluded_paths = [p for p in (optional_path(v, "file to exclude") for v in exclude) if p is not None]
        if patterns_path is not None and patterns_path.is_dir():
            raise InputError(f"{patterns_path}: a folder, not a patterns file")
        patterns = load_patterns(patterns_path) if patterns_path is not None else []
        nlp = pattern_pipeline(lang, patterns)
        paths = list(dict.fromkeys(p.resolve() for p in expand_text_files(texts))) if texts else []
        outputs, per_label, per_pattern, per_file, counts = bootstrap(
            nlp,
            paths,
            read_exclusions(excluded_paths),
            seed,
            negative_ratio,
            max_matched,
            max_negatives,
            n_rehearsal,
            n_heldout,
            n_process=n_process,
        )
    except InputError as err:
        msg.fail(str(err), exits=1)
    write_atomic(output_path, srsly.json_dumps(outputs["annotations"], indent=2))
    for path, name in ((rehearsal_path, "rehearsal"), (heldout_path, "heldout")):
        if path is not None:
            write_atomic(path, "".join(srsly.json_dumps(r) + "\n" for r in outputs[name]))
    if not paths:
        msg.info("No raw texts (vars.raw_texts is empty): nothing bootstrapped, the outputs are written empty")
    else:
        print_counts(per_file, counts, patterns, per_label, per_pattern)
    msg.good(f"Wrote {len(outputs['annotations'])} annotated texts to {output_path}")


def print_counts(
    per_file: Dict[str, Counter], counts: Counter, patterns: List[dict], per_label: Counter, per_pattern: Counter
) -> None:
    """Tables of texts per file, matches per label and per pattern."""
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
