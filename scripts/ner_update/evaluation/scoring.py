"""Scoring for `evaluate` and `benchmark`: patterns, model and shipped pipeline
side by side against gold and against the base. A library: prints nothing
(the progress bars aside). What each metric means is in evaluate.py.

Scores use spaCy's `get_ner_prf`, which ignores predictions over tokens whose
gold annotation is missing.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from spacy.language import Language
from spacy.pipeline import EntityRecognizer, EntityRuler, SpanRuler
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, Span
from spacy.training import Example
from tqdm import tqdm

TOKEN_ATTRS = ("tag_", "pos_", "morph", "lemma_", "dep_", "head.i", "is_sent_start")
MAX_EXAMPLES = 150


def parse_label_map(value: str) -> dict[str, str]:
    """'PERSON:PER,GPE:LOC' -> {'PERSON': 'PER', 'GPE': 'LOC'}; ValueError if malformed."""
    mapping = {}
    for item in filter(str.strip, value.split(",")):
        source, sep, target = (part.strip() for part in item.partition(":"))
        if not sep or not source or not target:
            raise ValueError(f"label map item {item.strip()!r} is not LABEL:GOLD_LABEL (e.g. 'PERSON:PER,GPE:LOC')")
        mapping[source] = target
    return mapping


# The old-label sets' gold labels (Universal NER on EWT, the Broad Twitter Corpus) and how
# OntoNotes labels (en_core_web_*) read in them
GOLD_OLD_LABELS = ("LOC", "ORG", "PER")
ONTONOTES_MAP = {"PERSON": "PER", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC", "ORG": "ORG"}


def label_map_for(value: str, base_labels: Iterable[str], gold_labels: Iterable[str] = GOLD_OLD_LABELS) -> dict:
    """The old-label map: `value` when given; else none when the base's labels are the gold's, the
    OntoNotes map when they are OntoNotes' (PERSON, GPE, ORG); ValueError saying what to set otherwise."""
    if value.strip():
        return parse_label_map(value)
    base, gold = set(base_labels), set(gold_labels)
    if base <= gold:
        return {}
    if {"PERSON", "GPE", "ORG"} <= base and set(ONTONOTES_MAP.values()) <= gold:
        return dict(ONTONOTES_MAP)
    raise ValueError(
        f"the base's entity labels ({', '.join(sorted(base))}) are neither the gold's ({', '.join(sorted(gold))}) "
        "nor OntoNotes': set vars.old_label_map to say which base label is which gold label, e.g. "
        "--vars.old_label_map 'PERSON:PER,GPE:LOC,ORG:ORG'"
    )


def parse_named_paths(values: list[str], option: str) -> dict[str, Path]:
    """['dev=corpus/dev.spacy', ...] -> {'dev': Path(...)}; ValueError if malformed or missing."""
    result = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{option} {value!r} is not NAME=PATH")
        if not Path(path).exists():
            raise ValueError(f"{option} {name}: {path} does not exist")
        result[name] = Path(path)
    return result


def restricted(doc: Doc, labels: set[str], label_map: dict[str, str] | None = None) -> Doc:
    """A copy of `doc` whose entities are only those with (mapped) labels in `labels`."""
    label_map = label_map or {}
    copy = Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
    ents = []
    for ent in doc.ents:
        label = label_map.get(ent.label_, ent.label_)
        if label in labels:
            ents.append(Span(copy, ent.start, ent.end, label=label))
    copy.set_ents(ents, default="outside")
    return copy


def score(
    predicted: list[Doc], reference: list[Doc], labels: set[str], label_map: dict[str, str] | None = None
) -> dict:
    """P/R/F (percent) overall and per label, with spaCy's get_ner_prf."""
    examples = [Example(restricted(p, labels, label_map), r) for p, r in zip(predicted, reference)]
    prf = get_ner_prf(examples)
    per_type = prf.get("ents_per_type") or {}
    # get_ner_prf gives None when neither side has an entity: nothing was missed or wrong
    result = {
        "p": round(100 * (prf["ents_p"] if prf["ents_p"] is not None else 1.0), 2),
        "r": round(100 * (prf["ents_r"] if prf["ents_r"] is not None else 1.0), 2),
        "f": round(100 * (prf["ents_f"] if prf["ents_f"] is not None else 1.0), 2),
        "per_label": {
            label: {k: round(100 * per_type.get(label, {}).get(k, 0.0), 2) for k in ("p", "r", "f")}
            for label in sorted(labels)
        },
    }
    result["support"] = sum(1 for r in reference for e in r.ents if e.label_ in labels)
    return result


def gold_restricted(docs: list[Doc], labels: set[str]) -> list[Doc]:
    """Gold docs with only `labels` kept; tokens of other entities become O, missing stays missing."""
    out = []
    for doc in docs:
        copy = doc.copy()
        keep = [Span(copy, e.start, e.end, label=e.label_) for e in doc.ents if e.label_ in labels]
        drop = [Span(copy, e.start, e.end) for e in doc.ents if e.label_ not in labels]
        copy.set_ents(keep, outside=drop, default="unmodified")
        out.append(copy)
    return out


def token_diffs(a: list[Doc], b: list[Doc]) -> dict[str, int]:
    """How many tokens differ per attribute between two runs over the same texts."""
    diffs = {attr: 0 for attr in TOKEN_ATTRS}
    for doc_a, doc_b in zip(a, b):
        for ta, tb in zip(doc_a, doc_b):
            for attr in TOKEN_ATTRS:
                va = ta.head.i if attr == "head.i" else str(getattr(ta, attr))
                vb = tb.head.i if attr == "head.i" else str(getattr(tb, attr))
                diffs[attr] += va != vb
    return diffs


def ner_labels(nlp: Language) -> set[str]:
    """Entity labels of every entity recognizer, entity_ruler, span_ruler and
    new-label tagger (its `entity_labels`) in the pipeline."""
    labels: set[str] = set()
    for _, proc in nlp.pipeline:
        if hasattr(proc, "entity_labels"):
            labels.update(proc.entity_labels)
        elif isinstance(proc, (EntityRecognizer, EntityRuler, SpanRuler)):
            labels.update(proc.labels)
    return labels


def model_only(nlp: Language) -> list[str]:
    """Names of the entity_rulers to switch off to see the learned part alone."""
    return [name for name, proc in nlp.pipeline if isinstance(proc, EntityRuler)]


def spans_of(doc: Doc, labels: set[str], label_map: dict[str, str] | None = None) -> list[list]:
    label_map = label_map or {}
    result = []
    for ent in doc.ents:
        label = label_map.get(ent.label_, ent.label_)
        if label in labels:
            result.append([ent.start_char, ent.end_char, label])
    return result


def confusion(gold: list[Doc], predicted: list[Doc], labels: set[str]) -> dict[str, dict[str, int]]:
    """For each gold span of `labels`: the label of the predicted span with the same
    boundaries, 'partial LABEL' if a predicted span only overlaps it, or 'none'."""
    table: dict[str, Counter] = {}
    for g, p in zip(gold, predicted):
        for ent in g.ents:
            if ent.label_ not in labels:
                continue
            same = [e for e in p.ents if (e.start, e.end) == (ent.start, ent.end)]
            overlap = [e for e in p.ents if e.start < ent.end and ent.start < e.end]
            got = same[0].label_ if same else f"partial {overlap[0].label_}" if overlap else "none"
            table.setdefault(ent.label_, Counter())[got] += 1
    return {label: dict(counts.most_common()) for label, counts in sorted(table.items())}


def errors(gold: list[Doc], predicted: list[Doc], labels: set[str]) -> dict:
    """False positives and negatives by name (most frequent first) and example texts."""
    fp, fn = Counter(), Counter()
    examples = []
    for g, p in zip(gold, predicted):
        gold_spans = {tuple(s) for s in spans_of(g, labels)}
        pred_spans = {tuple(s) for s in spans_of(p, labels)}
        fp.update(g.text[s:e] for s, e, _ in pred_spans - gold_spans)
        fn.update(g.text[s:e] for s, e, _ in gold_spans - pred_spans)
        if gold_spans != pred_spans and len(examples) < MAX_EXAMPLES:
            examples.append({"text": g.text, "gold": sorted(gold_spans), "predicted": sorted(pred_spans)})
    return {"false_positives": fp.most_common(), "false_negatives": fn.most_common(), "examples": examples}


def away_from(docs: list[Doc], gold: list[Doc], labels: set[str]) -> list[Doc]:
    """Copies of `docs` with only the entities of `labels` that overlap no gold entity."""
    out = []
    for doc, ref in zip(docs, gold):
        taken = {i for e in ref.ents for i in range(e.start, e.end)}
        copy = Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
        ents = [Span(copy, e.start, e.end, label=e.label_) for e in doc.ents if e.label_ in labels]
        copy.set_ents([e for e in ents if not taken.intersection(range(e.start, e.end))], default="outside")
        out.append(copy)
    return out


def relabel(base: list[Doc], predicted: list[Doc], gold: list[Doc], old: set[str]) -> dict:
    """Of the gold new-label spans that a base entity overlaps, how many the
    system labels exactly right (the new label wins where the base was wrong)."""
    overlapped = right = 0
    by_label: Counter = Counter()
    for b, p, g in zip(base, predicted, gold):
        found = {(e.start, e.end, e.label_) for e in p.ents}
        for ent in g.ents:
            under = [e.label_ for e in b.ents if e.label_ in old and e.start < ent.end and ent.start < e.end]
            if under:
                overlapped += 1
                by_label.update(under[:1])
                right += (ent.start, ent.end, ent.label_) in found
    rate = round(100 * right / overlapped, 2) if overlapped else 100.0
    return {"overlapped": overlapped, "relabelled": right, "rate": rate, "base_labels": dict(by_label.most_common())}


def disagreements(base: list[Doc], predicted: list[Doc], labels: set[str], label_map: dict[str, str]) -> list[dict]:
    """Texts where the old-label entities differ from the base's."""
    found = []
    for b, p in zip(base, predicted):
        base_spans, pred_spans = spans_of(b, labels, label_map), spans_of(p, labels, label_map)
        if base_spans != pred_spans and len(found) < MAX_EXAMPLES:
            found.append({"text": b.text, "base": base_spans, "shipped": pred_spans})
    return found


def run_pipeline(
    nlp: Language, texts: list[str], desc: str, disable: tuple[str, ...] = (), progress: bool = True
) -> list[Doc]:
    with nlp.select_pipes(disable=list(disable)):
        docs = nlp.pipe(texts, batch_size=64)
        return list(tqdm(docs, total=len(texts), desc=desc, unit="doc", disable=None if progress else True))


class Runner:
    """Runs pipelines over texts; the base and the patterns give the same docs for the same set,
    so their runs are cached (the shipped pipeline's are not: it runs with and without its rules)."""

    def __init__(self, shipped: Language, progress: bool = True, cache: dict | None = None):
        self.shipped, self.progress = shipped, progress
        self.cache = {} if cache is None else cache

    def __call__(self, nlp: Language, texts: list[str], desc: str, disable: tuple[str, ...] = ()) -> list[Doc]:
        if nlp is self.shipped:
            return run_pipeline(nlp, texts, desc, disable, self.progress)
        key = (id(nlp), desc.split(":")[0])
        if key not in self.cache:
            self.cache[key] = run_pipeline(nlp, texts, desc, disable, self.progress)
        return self.cache[key]


def systems(patterns: Language | None, rulers: tuple[str, ...]) -> dict[str, str]:
    """What each system is, in words."""
    return {
        **({"patterns": "the patterns alone (entity_ruler, tokenizer only)"} if patterns is not None else {}),
        "base": "the base pipeline",
        "model": f"the shipped pipeline without {list(rulers)}" if rulers else "the shipped pipeline (it has no rules)",
        "shipped": "the shipped pipeline",
    }


@dataclass
class Pipelines:
    base: Language
    shipped: Language
    patterns: Language | None  # None without patterns

    @property
    def rulers(self) -> tuple[str, ...]:
        """The shipped pipeline's entity_rulers: switched off, it is the `model` system."""
        return tuple(model_only(self.shipped))


def new_label_set(
    run: Runner, pipes: Pipelines, name: str, gold: list[Doc], new: set[str], own: set[str]
) -> tuple[dict, dict, dict]:
    """A new-label set's entry (scores per system, agreement away from gold, relabelling),
    its confusion table and its errors."""
    texts = [d.text for d in gold]
    gold = gold_restricted(gold, new)
    runs = {
        "patterns": run(pipes.patterns, texts, f"{name}: patterns") if pipes.patterns is not None else None,
        "model": run(pipes.shipped, texts, f"{name}: model", pipes.rulers),
        "shipped": run(pipes.shipped, texts, f"{name}: shipped"),
    }
    runs = {system: docs for system, docs in runs.items() if docs is not None}
    entry: dict = {system: score(docs, gold, new) for system, docs in runs.items()}
    entry["docs"] = len(gold)
    # away from the gold new-label spans, do the base's entities (all its labels) stay as they were?
    # where a base entity overlaps one, does the new label win?
    base_docs = run(pipes.base, texts, f"{name}: base")
    reference = away_from(base_docs, gold, own)
    entry["old_label_agreement"] = {
        system: score(away_from(runs[system], gold, own), reference, own) for system in ("model", "shipped")
    }
    entry["relabel"] = {system: relabel(base_docs, docs, gold, own) for system, docs in runs.items()}
    return entry, confusion(gold, runs["shipped"], new), errors(gold, runs["shipped"], new)


def old_label_set(
    run: Runner,
    pipes: Pipelines,
    name: str,
    gold: list[Doc] | None,
    texts: list[str],
    labels: dict[str, set[str]],
    label_map: dict[str, str],
) -> tuple[dict, dict[str, list[Doc]]]:
    """An old-label set's entry (gold is None for raw texts: agreement only) and the systems' docs.
    `labels`: new, old (the gold's) and own (the base's, unmapped)."""
    runs = {
        "base": run(pipes.base, texts, f"{name}: base"),
        "model": run(pipes.shipped, texts, f"{name}: model", pipes.rulers),
        "shipped": run(pipes.shipped, texts, f"{name}: shipped"),
    }
    if pipes.patterns is not None:
        runs["patterns"] = run(pipes.patterns, texts, f"{name}: patterns")
    own = labels["own"]
    reference = [restricted(d, own) for d in runs["base"]]
    entry: dict = {"docs": len(texts)}
    for system, docs in runs.items():
        entry[system] = {"new_label_predictions": sum(len(spans_of(d, labels["new"])) for d in docs)}
        if system == "patterns":
            continue
        entry[system]["agreement"] = score(docs, reference, own)
        if gold is not None:
            entry[system]["gold"] = score(docs, gold, labels["old"], label_map)
    return entry, runs


def frozen_outputs(name: str, gold: list[Doc], runs: dict[str, list[Doc]]) -> dict:
    """Whether the frozen components' token annotations are the base's on an old-label set."""
    diffs = token_diffs(runs["base"], runs["shipped"])
    return {
        "set": name,
        "identical": not any(diffs.values()),
        "tokens": sum(len(d) for d in gold),
        "differing_tokens": diffs,
    }


def evaluate(
    base: Language,
    shipped: Language,
    patterns: Language | None,
    new_sets: dict[str, list[Doc]],
    old_sets: dict[str, list[Doc]],
    agreement_sets: dict[str, list[str]],
    label_map: dict[str, str],
    progress: bool = True,
    cache: dict | None = None,
) -> dict:
    """Every metric of patterns, base, model and shipped; see the module docstring and
    metrics_schema.Metrics (side_by_side.complete_metrics adds base_model, shipped_model and learning).

    patterns: None without patterns (no "patterns" system in the metrics).
    cache: pass the same dict to several calls with the same base and patterns
    to run those over each set only once.
    """
    run, pipes = Runner(shipped, progress, cache), Pipelines(base, shipped, patterns)
    base_labels = {label_map.get(label, label) for label in ner_labels(base)}
    new_labels = sorted(ner_labels(shipped) - ner_labels(base))
    # the old labels are the gold labels of the old-label sets, or else the base's (mapped) labels
    old_labels = sorted({e.label_ for docs in old_sets.values() for d in docs for e in d.ents} or base_labels)
    # agreement with the base counts all its labels, unmapped
    labels = {"new": set(new_labels), "old": set(old_labels), "own": ner_labels(base)}
    metrics: dict = {
        "new_labels": new_labels,
        "old_labels": old_labels,
        "base_labels": sorted(base_labels),
        "pipeline": shipped.pipe_names,
        "recipe": shipped.meta.get("ner_update", {}).get("recipe"),
        "systems": systems(patterns, pipes.rulers),
        "new_label_sets": {},
        "old_label_sets": {},
        "agreement_sets": {},
        "confusion": {},
        "errors": {},
        "disagreements": {},
    }
    for name, gold in new_sets.items():
        entry, table, found = new_label_set(run, pipes, name, gold, labels["new"], labels["own"])
        metrics["new_label_sets"][name], metrics["confusion"][name], metrics["errors"][name] = entry, table, found
    sets = {name: (gold, [d.text for d in gold]) for name, gold in old_sets.items()}
    sets.update({name: (None, texts) for name, texts in agreement_sets.items()})
    for name, (gold, texts) in sets.items():
        entry, runs = old_label_set(run, pipes, name, gold, texts, labels, label_map)
        (metrics["old_label_sets"] if gold is not None else metrics["agreement_sets"])[name] = entry
        metrics["disagreements"][name] = disagreements(runs["base"], runs["shipped"], labels["own"], {})
        if gold is not None and "frozen_outputs" not in metrics:  # on the first old-label set
            metrics["frozen_outputs"] = frozen_outputs(name, gold, runs)
    return metrics
