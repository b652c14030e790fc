"""Bootstrap entity annotations from Matcher patterns over raw texts.

Runs token patterns and phrase patterns (EntityRuler JSONL: one
{"label": ..., "pattern": ...} per line) over raw texts with only the tokenizer,
keeps the longest match where matches overlap, and writes the annotations in
the spaCy course format: [[text, {"entities": [[start, end, label]]}], ...].
"""
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import spacy
import srsly
import typer
from spacy.matcher import Matcher, PhraseMatcher
from spacy.util import filter_spans
from wasabi import msg

from common import InputError, read_texts, write_atomic


def load_patterns(path: Path) -> List[dict]:
    """Read EntityRuler-style patterns, failing on the first malformed line."""
    patterns = []
    try:
        lines = list(srsly.read_jsonl(path))
    except ValueError as err:
        raise InputError(f"{path}: invalid JSONL: {err}") from None
    for i, record in enumerate(lines, start=1):
        if not isinstance(record, dict) or "pattern" not in record:
            raise InputError(f"{path}: line {i}: expected {{\"label\": ..., \"pattern\": ...}}, got {record!r}")
        label = record.get("label")
        if not isinstance(label, str) or not label.strip() or label != label.strip():
            raise InputError(f"{path}: line {i}: empty or malformed label {label!r}")
        if not isinstance(record["pattern"], (str, list)) or not record["pattern"]:
            raise InputError(f"{path}: line {i}: a pattern is a non-empty string (phrase) or list of token dicts")
        patterns.append({"label": label, "pattern": record["pattern"], "id": f"line {i}"})
    if not patterns:
        raise InputError(f"{path}: no patterns")
    return patterns


def build_matchers(nlp, patterns: List[dict]) -> Tuple[Matcher, PhraseMatcher]:
    """One Matcher/PhraseMatcher key per pattern line, so matches can be counted per pattern."""
    matcher = Matcher(nlp.vocab, validate=True)
    phrase_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    for p in patterns:
        if isinstance(p["pattern"], str):
            phrase_matcher.add(p["id"], [nlp.make_doc(p["pattern"])])
        else:
            try:
                matcher.add(p["id"], [p["pattern"]])
            except (ValueError, KeyError) as err:
                raise InputError(f"{p['id']}: invalid token pattern: {err}") from None
    return matcher, phrase_matcher


def annotate(nlp, patterns: List[dict], texts: List[str]) -> Tuple[List[list], Counter, Counter, int]:
    """Match every text with only the tokenizer; resolve overlaps longest-first.

    Returns the course-format records, kept matches per label and per pattern
    id, and how many overlapping matches were dropped.
    """
    matcher, phrase_matcher = build_matchers(nlp, patterns)
    label_of: Dict[str, str] = {p["id"]: p["label"] for p in patterns}
    records = []
    per_label: Counter = Counter()
    per_pattern: Counter = Counter()
    dropped = 0
    for doc in nlp.tokenizer.pipe(texts, batch_size=256):
        matches = matcher(doc, as_spans=True) + phrase_matcher(doc, as_spans=True)
        kept = sorted(filter_spans(matches), key=lambda s: s.start)
        dropped += len(matches) - len(kept)
        for span in kept:
            per_label[label_of[span.label_]] += 1
            per_pattern[span.label_] += 1
        ents = [[s.start_char, s.end_char, label_of[s.label_]] for s in kept]
        records.append([doc.text, {"entities": ents}])
    return records, per_label, per_pattern, dropped


def main(
    texts_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Raw texts: .txt (one per line), .json (list of strings) or .jsonl ({\"text\": ...} per line)"),
    patterns_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Patterns, JSONL: one {\"label\", \"pattern\"} per line; a pattern is a list of token dicts or a phrase string"),
    output_path: Path = typer.Argument(..., dir_okay=False, help="Where to write the annotations (course format, .json)"),
    lang: str = typer.Option("en", "--lang", help="Language of the blank tokenizer"),
):
    """Label raw texts with Matcher patterns; longest match wins."""
    try:
        texts, skipped = read_texts(texts_path)
        patterns = load_patterns(patterns_path)
    except InputError as err:
        msg.fail(str(err), exits=1)
    unique = list(dict.fromkeys(texts))
    try:
        records, per_label, per_pattern, dropped = annotate(spacy.blank(lang), patterns, unique)
    except InputError as err:
        msg.fail(f"{patterns_path}: {err}", exits=1)
    write_atomic(output_path, srsly.json_dumps(records, indent=2))
    n_none = sum(1 for _, ann in records if not ann["entities"])
    msg.good(f"Wrote {len(records)} texts to {output_path}")
    msg.info(f"{len(texts) - len(unique)} duplicate texts merged, {skipped} blank lines skipped, "
             f"{dropped} overlapping matches resolved (longest kept)")
    msg.table(sorted(per_label.items()), header=("label", "matches"), divider=True)
    rows = [(p["id"], p["label"], per_pattern.get(p["id"], 0)) for p in patterns]
    msg.table(rows, header=("pattern", "label", "matches"), divider=True)
    unused = [r[0] for r in rows if r[2] == 0]
    if unused:
        msg.warn(f"{len(unused)} patterns matched nothing: {', '.join(unused)}")
    msg.info(f"{n_none} of {len(records)} texts got no match")


if __name__ == "__main__":
    typer.run(main)
