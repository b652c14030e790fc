r"""Two questions about a pattern's regular expression, asked by `patterns.pattern_problem`.
A library: prints nothing.

- Does it match any text? spaCy's Matcher tests a REGEX with `search`, so a regex
  that finds the empty string anywhere (`.*`, `^.*$`, `x?`) holds for every token:
  tried on a few probe texts.
- Can its matching time double with each character (catastrophic backtracking)?
  A heuristic on Python's own parse tree of the regex (`re._parser`): inside a part repeated without bound (`+`, `*`, `{n,}`),
  a part that matches more or less (a quantifier, or an alternative that may be
  empty) where the next character could also be its own, or two alternatives
  that can start with the same character, give the engine more than one way to
  cut the same text, and on a text that almost matches it tries them all:
  `^(a+)+$`, `(a|a)*`, `(a|aa)+$`, `(\w+\s?)*$`. Nesting that cuts one way
  only, such as `(\d+\.)+`, passes. Atomic groups `(?>...)` and possessive
  quantifiers (`a++`, Python 3.11+) never backtrack: not looked into. It
  compares characters, not whole texts, so it may refuse a harmless regex (say
  `(ab?)+b`); backreferences count as "any character", scoped flags `(?i:...)`
  are ignored (a global `(?i)` is not).
"""

import re
import string
from itertools import combinations
from re import _compiler as sre_compile  # Python 3.11+ (the project's floor): re's own parse tree
from re import _constants as sre_constants
from re import _parser as sre_parse
from typing import FrozenSet, Optional, Tuple

PROBE_TEXTS = ("", "a", "Z9", "🙂", " ", "\n", "Ab-1.x")
PROBE_CHARS = frozenset(string.printable + "éßΩ🙂\u00a0")
_C = sre_constants
REPEATS = (_C.MAX_REPEAT, _C.MIN_REPEAT)  # the ones that backtrack
POSSESSIVE = (getattr(_C, "POSSESSIVE_REPEAT", None),)
ONE_CHARACTER = (_C.LITERAL, _C.NOT_LITERAL, _C.ANY, _C.IN)
ZERO_WIDTH = (_C.AT, _C.ASSERT, _C.ASSERT_NOT)

First = Tuple[FrozenSet[str], bool]  # the (probe) characters a match can start with; whether it can be empty


def matches_any_text(regex: str) -> bool:
    """Whether `re.compile(regex).search` finds a match in every probe text (empty, letters, emoji, space)."""
    compiled = re.compile(regex)
    return all(compiled.search(text) for text in PROBE_TEXTS)


def backtracking_problem(regex: str) -> Optional[str]:
    """How the (valid) regex can backtrack catastrophically, or None: see the module docstring."""
    parsed = sre_parse.parse(regex)
    return _ambiguity(list(parsed), frozenset(), False, parsed.state)


def _ambiguity(items: list, follow: FrozenSet[str], in_loop: bool, state) -> Optional[str]:
    """The first ambiguity in `items` inside a part repeated without bound (`in_loop`);
    `follow`: the characters that can come after `items`."""
    for i, (op, av) in enumerate(items):
        rest, rest_can_be_empty = _first(items[i + 1 :], state)
        after = rest | follow if rest_can_be_empty else rest
        found = None
        if op in REPEATS:
            low, high, body = av
            first = _first(body, state)[0]
            if in_loop and low != high and first & after:
                return "a quantifier inside a repeated part, where the character after it could be the quantifier's too"
            found = _ambiguity(list(body), first | after, in_loop or high == _C.MAXREPEAT, state)
        elif op == _C.SUBPATTERN:
            found = _ambiguity(list(av[-1]), after, in_loop, state)
        elif op == _C.BRANCH:
            if in_loop and _overlapping(av[1], after, state):
                return "alternatives that can match the same text, inside a repeated part"
            found = next(filter(None, (_ambiguity(list(b), after, in_loop, state) for b in av[1])), None)
        if found:  # characters, anchors, lookarounds, atomic groups, possessive quantifiers: nothing to find
            return found
    return None


def _overlapping(branches: list, after: FrozenSet[str], state) -> bool:
    """Whether two alternatives can start the same text. Words (`pro|plus|max`): exactly, one is a
    prefix of another (`a|aa`); otherwise by their first characters, and an empty one by what follows."""
    words = [_literal_text(branch) for branch in branches]
    if all(words):
        return any(a.startswith(b) or b.startswith(a) for a, b in combinations(words, 2))
    firsts = [_first(branch, state) for branch in branches]
    return any(
        a & b or (a_empty and (b_empty or b & after)) or (b_empty and a & after)
        for (a, a_empty), (b, b_empty) in combinations(firsts, 2)
    )


def _literal_text(items) -> str:
    """The text a sequence of plain characters matches ("" if it has anything else, or nothing)."""
    return "".join(chr(av) for op, av in items) if all(op == _C.LITERAL for op, _ in items) else ""


def _first(items, state) -> First:
    """Which probe characters a match of the sequence `items` can start with, and whether it can be empty."""
    chars: FrozenSet[str] = frozenset()
    for op, av in items:
        if op in ZERO_WIDTH:
            continue
        if op in ONE_CHARACTER:
            one = sre_compile.compile(sre_parse.SubPattern(state, [(op, av)]))
            return chars | {ch for ch in PROBE_CHARS if one.fullmatch(ch)}, False
        if op == _C.SUBPATTERN:
            part, can_be_empty = _first(av[-1], state)
        elif op == _C.BRANCH:
            parts = [_first(branch, state) for branch in av[1]]
            part, can_be_empty = frozenset().union(*(p[0] for p in parts)), any(p[1] for p in parts)
        elif op in REPEATS or op in POSSESSIVE:
            part, body_can_be_empty = _first(av[2], state)
            can_be_empty = av[0] == 0 or body_can_be_empty
        elif op == getattr(_C, "ATOMIC_GROUP", None):
            part, can_be_empty = _first(av, state)
        else:  # a backreference or a conditional group: anything
            return PROBE_CHARS, True
        chars |= part
        if not can_be_empty:
            return chars, False
    return chars, True
