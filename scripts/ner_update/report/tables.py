"""The report's tables as data: cells with their text and what they mean (a number, the
best F, the base agreeing with itself, a hit or a miss of the confusion table).

A library: prints nothing and writes no markup (templates/macros.html.jinja draws a
`Table`). Numbers are shown with one decimal; None is shown as "—".
"""

from collections.abc import Iterable
from dataclasses import dataclass

from ner_update.evaluation.metrics_schema import PRF, NewLabelSet, OldLabelSet, OldSystem, Scores

NEW_SYSTEMS = ("patterns", "model", "shipped")
OLD_SYSTEMS = ("base", "model", "shipped", "patterns")
MIN_F = 10.0  # a new-label F below this is a failure, never highlighted as best (evaluate's --min-f)
MAX_NAMES = 25  # rows per false positive / false negative table


def num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


@dataclass
class Cell:
    text: str
    header: bool = False  # a row header (the system, the label)
    number: bool = False
    f: bool = False  # an F column
    best: bool = False  # highlighted: the best in its column
    itself: bool = False  # the base's agreement with itself (greyed)
    mark: str = ""  # confusion: hit, miss, part or wrong
    code: bool = False  # a file name or attribute

    @property
    def classes(self) -> str:
        flags = (self.f and "f", self.itself and "itself", self.number and "num", self.best and "best", self.mark)
        return " ".join(flag for flag in flags if flag)


@dataclass
class Head:
    text: str
    colspan: int = 1
    rowspan: int = 1


@dataclass
class Table:
    head: list[list[Head]]
    rows: list[list[Cell]]
    caption: str = ""
    kind: str = ""  # scores, names, data, kv or confusion (the CSS class)


def th(text: object) -> Cell:
    return Cell(str(text), header=True)


def count(value: object) -> Cell:
    return Cell("—" if value is None else str(value), number=True)


def score(value: float | None, best: bool = False, f: bool = False, itself: bool = False) -> Cell:
    return Cell(num(value), number=True, f=f, best=best, itself=itself)


def simple_head(*names: str) -> list[list[Head]]:
    return [[Head(name) for name in names]]


def prf_head(groups: list[str]) -> list[list[Head]]:
    """'system' over two rows, then P/R/F under each group's name."""
    top = [Head("system", rowspan=2)] + [Head(name, colspan=3) for name in groups]
    return [top, [Head(letter) for _ in groups for letter in "PRF"]]


def best_of(values: dict[str, float | None], exclude: Iterable[str] = (), floor: float = 0.0) -> set[str]:
    """The systems with the highest value, ties included, if it is above `floor` (a failed score is never best)."""
    candidates = {k: v for k, v in values.items() if v is not None and k not in exclude}
    top = max(candidates.values(), default=None)
    return {k for k, v in candidates.items() if top and top > floor and v == top}


def _label_f(scores: Scores | None, label: str) -> PRF | None:
    return scores.per_label.get(label) if scores is not None else None


def new_label_table(name: str, entry: NewLabelSet, floor: float = MIN_F) -> Table:
    """P/R/F per system and new label; the best F is highlighted unless it is below `floor` (failed)."""
    systems = {s: getattr(entry, s) for s in NEW_SYSTEMS if getattr(entry, s) is not None}
    labels = sorted({label for scores in systems.values() for label in scores.per_label})
    best_all = best_of({s: scores.f for s, scores in systems.items()}, floor=floor)
    best_label = {
        label: best_of({s: getattr(_label_f(scores, label), "f", None) for s, scores in systems.items()}, floor=floor)
        for label in labels
    }
    rows = []
    for s, scores in systems.items():
        row = [th(s), score(scores.p), score(scores.r), score(scores.f, s in best_all, f=True)]
        for label in labels:
            prf = _label_f(scores, label)
            row += [score(prf and prf.p), score(prf and prf.r), score(prf and prf.f, s in best_label[label], f=True)]
        rows.append(row)
    caption = f"{name}: {entry.docs} docs, {support(entry)} gold new-label spans"
    return Table(prf_head(["all new labels", *labels]), rows, caption, "scores")


def support(entry: NewLabelSet) -> int:
    """Gold new-label spans of a set (the same for every system)."""
    return entry.shipped.support


def relabel_table(name: str, entry: NewLabelSet) -> Table | None:
    """Where a base entity overlaps a gold new-label span: how often the new label wins;
    elsewhere: agreement with the base over all its labels."""
    if not entry.relabel:
        return None
    rows = []
    for s, r in entry.relabel.items():
        under = ", ".join(f"{label} {n}" for label, n in r.base_labels.items()) or "—"
        agree = entry.old_label_agreement.get(s)
        rows.append(
            [th(s), count(f"{r.relabelled} of {r.overlapped}"), score(r.rate), Cell(under), score(agree and agree.f)]
        )
    head = simple_head(
        "system",
        "gold new-label spans a base entity overlaps, labelled right",
        "%",
        "the base's labels there",
        "agreement with the base elsewhere (F, all its labels)",
    )
    return Table(head, rows, f"{name}: does the new label win where the base read something else?", "scores")


TITLES = {"gold": "against gold", "agreement": "agreement with the base"}


@dataclass
class OldTables:
    """An old-label or agreement set: its P/R/F table and its F per label (None without labels)."""

    scores: Table
    per_label: Table | None = None


def old_label_tables(name: str, entry: OldLabelSet, with_gold: bool) -> OldTables:
    """P/R/F against gold (if any) and agreement with the base, per system; then F per label.
    The base's agreement with itself is greyed and never the best."""
    systems: dict[str, OldSystem] = {s: getattr(entry, s) for s in OLD_SYSTEMS if getattr(entry, s) is not None}
    scored = {s: system for s, system in systems.items() if s != "patterns"}
    has_gold = with_gold and any(system.gold for system in scored.values())
    groups = (["gold"] if has_gold else []) + ["agreement"]
    best = {k: best_of({s: getattr(getattr(v, k), "f", None) for s, v in scored.items()}, _excluded(k)) for k in groups}
    rows = []
    for s, system in systems.items():
        row = [th(s)]
        for key in groups:
            prf, itself = getattr(system, key), key == "agreement" and s == "base"
            row += [score(prf and prf.p, itself=itself), score(prf and prf.r, itself=itself)]
            row.append(score(prf and prf.f, s in best[key], f=True, itself=itself))
        rows.append(row + [count(system.new_label_predictions)])
    head = prf_head([TITLES[key] for key in groups])
    alarms = " (false alarms: the gold has none)" if has_gold else ""
    head[0].append(Head("new-label entities predicted" + alarms, rowspan=2))
    caption = f"{name}: {entry.docs} docs ({'old-label gold' if has_gold else 'texts without gold'})"
    return OldTables(Table(head, rows, caption, "scores"), per_label_table(name, scored, groups))


def per_label_table(name: str, scored: dict[str, OldSystem], groups: list[str]) -> Table | None:
    """F per old label and system, for each group (gold, agreement); None if no label was scored."""
    labels = sorted(
        {label for v in scored.values() for key in groups for label in getattr(getattr(v, key), "per_label", {})}
    )
    if not labels:
        return None
    rows = [[th(s)] for s in scored]
    for key in groups:
        for label in labels:
            column = {s: getattr(_label_f(getattr(v, key), label), "f", None) for s, v in scored.items()}
            best = best_of(column, _excluded(key))
            for row, s in zip(rows, scored):
                row.append(score(column[s], s in best, itself=key == "agreement" and s == "base"))
    top = [Head("system", rowspan=2)] + [Head(f"F {TITLES[key]}", colspan=len(labels)) for key in groups]
    head = [top, [Head(label) for _ in groups for label in labels]]
    return Table(head, rows, f"{name}: F per old label", "scores")


def _excluded(key: str) -> tuple[str, ...]:
    """For agreement, the base is left out of the best: it agrees with itself."""
    return ("base",) if key == "agreement" else ()


def confusion_table(name: str, table: dict[str, dict[str, int]]) -> Table:
    """Which label (or none) each gold new-label span received; the share received exactly."""
    gold_labels = list(table)
    received = {r for counts in table.values() for r in counts}
    exact = [r for r in gold_labels if r in received]
    exact += sorted(r for r in received if r not in gold_labels and not r.startswith("partial ") and r != "none")
    columns = exact + sorted(r for r in received if r.startswith("partial ")) + (["none"] * ("none" in received))
    rows = []
    for gold in gold_labels:
        counts = table[gold]
        total = sum(counts.values())
        cells = [th(gold)]
        for column in columns:
            n = counts.get(column, 0)
            cells.append(Cell(str(n), number=True, mark=_confusion_mark(gold, column) if n else ""))
        share = 100 * counts.get(gold, 0) / total if total else 0
        rows.append(cells + [count(total), score(share)])
    return Table(simple_head("gold ↓ / predicted →", *columns, "total", "% exact"), rows, name, "confusion")


def _confusion_mark(gold: str, column: str) -> str:
    if column == gold:
        return "hit"
    if column == "none":
        return "miss"
    return "part" if column.startswith("partial ") else "wrong"


def names_table(title: str, pairs: list[tuple[str, int]], limit: int = MAX_NAMES) -> Table:
    """Names and counts, most frequent first, the first `limit` of them."""
    return Table(simple_head(title, "count"), [[Cell(name), count(n)] for name, n in pairs[:limit]], kind="names")


def kv_table(rows: list[tuple[str, Cell]]) -> Table:
    """A two-column table of names and values (its header row is hidden)."""
    return Table(simple_head("", ""), [[Cell(key), value] for key, value in rows], kind="kv")
