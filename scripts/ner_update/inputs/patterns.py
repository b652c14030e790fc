"""Patterns (EntityRuler JSONL): read, check and run them. A library: prints nothing.

Used by `bootstrap` (to label raw texts), `evaluate` and `benchmark` (the
patterns alone as a system), and `annotate`.
"""

import re
from pathlib import Path
from typing import Iterator, List, Optional

import srsly
from spacy.language import Language

from ner_update.common import LABEL_RULE, InputError, is_valid_label, iter_jsonl, one_line, optional_path


def patterns_file(value: str) -> Optional[Path]:
    """The patterns file a var or option names: None for '' (no patterns); InputError if it does not
    exist or is a folder. Every command that takes patterns asks this."""
    path = optional_path(value, "patterns file")
    if path is not None and path.is_dir():
        raise InputError(f"{path}: a folder, not a patterns file")
    return path


def load_patterns(path: Path) -> List[dict]:
    """Read and check EntityRuler-style patterns; each gets the id "line N" (its line
    in the file, blank lines counted) for per-pattern counts."""
    patterns = []
    for i, record in iter_jsonl(path):
        if not isinstance(record, dict) or "pattern" not in record:
            raise InputError(f'{path}: line {i}: expected {{"label": ..., "pattern": ...}}, got {record!r:.80}')
        problem = pattern_problem(record)
        if problem:
            raise InputError(f"{path}: line {i}: {problem}")
        patterns.append(
            {"label": record["label"], "pattern": record["pattern"], "id": f"line {i}", "source": str(path)}
        )
    if not patterns:
        raise InputError(f'{path}: no patterns (to use none, set vars.patterns to "")')
    return patterns


def pattern_problem(record: dict) -> Optional[str]:
    """What is wrong with one {"label", "pattern"} record, or None."""
    label, pattern = record.get("label"), record["pattern"]
    if not is_valid_label(label):
        return f"empty or malformed label {label!r:.60} ({LABEL_RULE})"
    if isinstance(pattern, str):
        return None if pattern.strip() else "a phrase pattern must not be blank"
    if not isinstance(pattern, list) or not pattern:
        return "a pattern is a non-empty string (phrase) or list of token dicts"
    if all(isinstance(token, dict) and set(token) <= {"OP"} for token in pattern):
        return (
            f"the pattern {srsly.json_dumps(pattern)} puts no condition on any token, so it matches every text: "
            'give a token an attribute, e.g. {"LOWER": "iphone"}'
        )
    for regex in _regexes(pattern):
        try:
            re.compile(regex)
        except re.error as err:
            return f"invalid regular expression {regex!r}: {err}"
    return None


def _regexes(value: object) -> Iterator[str]:
    """Every {"REGEX": ...} value inside a token pattern."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "REGEX" and isinstance(item, str):
                yield item
            else:
                yield from _regexes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _regexes(item)


LANGUAGE_EXAMPLES = "e.g. en, de, fr, xx"


def blank_pipeline(lang: str) -> Language:
    """spacy.blank(lang); InputError naming the language when spaCy has no language of this code, or
    when its tokenizer needs a package that is not installed (spaCy's message says which). The one
    check of a language code: `check-vars` and the steps that take --lang ask it."""
    import spacy
    from spacy.util import get_lang_class

    try:
        get_lang_class(lang)
    except ImportError:
        raise InputError(
            f"unknown language {lang!r}: spaCy has no language with this code ({LANGUAGE_EXAMPLES})"
        ) from None
    try:
        return spacy.blank(lang)
    except ImportError as err:
        raise InputError(f"language {lang!r}: {one_line(err)}") from None


def pattern_pipeline(lang: str, patterns: List[dict]) -> Language:
    """A blank pipeline with only an entity_ruler holding the patterns (validated);
    the tokenizer alone (no entities) without patterns."""
    nlp = blank_pipeline(lang)  # InputError naming an unknown language
    if not patterns:
        return nlp
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "validate": True})
    for p in patterns:
        try:
            ruler.add_patterns([{k: p[k] for k in ("label", "pattern", "id")}])
        except (ValueError, KeyError, re.error) as err:
            raise InputError(f"{p.get('source', 'patterns')}: {p['id']}: invalid pattern: {err}") from None
    return nlp
