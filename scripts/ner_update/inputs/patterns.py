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
from ner_update.inputs.regexes import backtracking_problem, matches_any_text

# LENGTH comparisons (spaCy's operators) that hold for every length 0, 1, 2, ...; "<" and "<=" bound it
EVERY_LENGTH = {">=": lambda n: n <= 0, ">": lambda n: n < 0, "!=": lambda n: n < 0}


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
    for regex in _regexes(pattern):
        try:
            re.compile(regex)
        except re.error as err:
            return f"invalid regular expression {regex!r}: {err}"
        slow = backtracking_problem(regex)
        if slow:
            return (
                f"the regular expression {regex!r} can take time that doubles with each character of a token that "
                f"almost matches ({slow}): rewrite it so a text can be cut one way only (^(a+)+$ is ^a+$), "
                "or make the inner part atomic, (?>...), or possessive, a++ (Python 3.11+)"
            )
    if all(isinstance(token, dict) and _every_token_meets(token) for token in pattern):
        return (
            f"the pattern {srsly.json_dumps(pattern)} puts no condition on any token (or only conditions every "
            "token meets: a regular expression that matches any text, a LENGTH true for any length), so it matches "
            'every text: give a token an attribute, e.g. {"LOWER": "iphone"}'
        )
    if all(isinstance(token, dict) and _optional(token.get("OP")) for token in pattern):
        return (
            f'every token of the pattern {srsly.json_dumps(pattern)} is optional (OP "?" or "*"), so it requires '
            'nothing and matches any run of such tokens: make at least one token required (no OP, or OP "+")'
        )
    return None


def _every_token_meets(token: dict) -> bool:
    """Whether every condition of a token pattern holds for any token (true of {} and {"OP": ...})."""
    return all(_always_holds(key, value) for key, value in token.items() if key != "OP")


def _always_holds(key: str, value: object, attribute: str = "") -> bool:
    """Whether the condition `key: value` (of `attribute`, inside a predicate dict) holds for any token."""
    if key == "REGEX":
        return isinstance(value, str) and matches_any_text(value)
    if attribute == "LENGTH" and key in EVERY_LENGTH:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and EVERY_LENGTH[key](value)
    if isinstance(value, dict):  # predicates ({"REGEX": ...}, {">=": ...}) or custom attributes ("_"): all must hold
        return all(_always_holds(k, v, key) for k, v in value.items())
    return False


def _optional(op: object) -> bool:
    """Whether a token's OP lets it match zero tokens: "?", "*", "{0,n}", "{,n}", "{0,}"."""
    counts = re.fullmatch(r"\{(\d*)(,\d*)?\}", op) if isinstance(op, str) else None
    return op in ("?", "*") or bool(counts and int(counts[1] or 0) == 0)


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
