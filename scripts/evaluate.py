"""Evaluate the shipped pipeline side by side with the patterns, the model and the base.

Systems: `patterns` (the entity_ruler alone, tokenizer only), `base` (the
pipeline before the update), `model` (the shipped pipeline with its
entity_rulers switched off: what was learned) and `shipped` (the pipeline as
packaged).

- new-label sets (gold new-label spans, e.g. a name-disjoint dev split and a
  hand-checked real-text set): P/R/F per new label, a confusion table (which
  label, or none, each gold span received) and the shipped pipeline's errors;
- old-label sets (held-out gold with the old labels, e.g. two domains):
  old-label F against gold, agreement with the base's own predictions, and new
  labels predicted there (false alarms: the gold has none);
- agreement texts (held-out raw texts of the user's domain, no gold): agreement
  with the base and new-label entities predicted;
- whether the frozen components' outputs are identical on the first old-label set.

Scores use spaCy's `get_ner_prf`, which ignores predictions over tokens whose
gold annotation is missing. Writes one JSON file that `report` renders.
"""

from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import srsly
import typer
from spacy.language import Language
from spacy.pipeline import EntityRecognizer, EntityRuler
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from tqdm import tqdm
from wasabi import msg

import functions  # noqa: F401  (registers the components a shipped pipeline may use)
from bootstrap import load_patterns, pattern_pipeline
from common import InputError, iter_texts, load_base, optional_path, write_atomic

TOKEN_ATTRS = ("tag_", "pos_", "morph", "lemma_", "dep_", "head.i", "is_sent_start")
MAX_EXAMPLES = 150


def parse_label_map(value: str) -> Dict[str, str]:
    """'PERSON:PER,GPE:LOC' -> {'PERSON': 'PER', 'GPE': 'LOC'}; ValueError if malformed."""
    mapping = {}
    for item in filter(str.strip, value.split(",")):
        source, sep, target = (part.strip() for part in item.partition(":"))
        if not sep or not source or not target:
            raise ValueError(f"label map item {item.strip()!r} is not LABEL:GOLD_LABEL (e.g. 'PERSON:PER,GPE:LOC')")
        mapping[source] = target
    return mapping


def parse_named_paths(values: List[str], option: str) -> Dict[str, Path]:
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


def restricted(doc: Doc, labels: Set[str], label_map: Optional[Dict[str, str]] = None) -> Doc:
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
    predicted: List[Doc], reference: List[Doc], labels: Set[str], label_map: Optional[Dict[str, str]] = None
) -> Dict:
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


def gold_restricted(docs: List[Doc], labels: Set[str]) -> List[Doc]:
    """Gold docs with only `labels` kept; tokens of other entities become O, missing stays missing."""
    out = []
    for doc in docs:
        copy = doc.copy()
        keep = [Span(copy, e.start, e.end, label=e.label_) for e in doc.ents if e.label_ in labels]
        drop = [Span(copy, e.start, e.end) for e in doc.ents if e.label_ not in labels]
        copy.set_ents(keep, outside=drop, default="unmodified")
        out.append(copy)
    return out


def token_diffs(a: List[Doc], b: List[Doc]) -> Dict[str, int]:
    """How many tokens differ per attribute between two runs over the same texts."""
    diffs = {attr: 0 for attr in TOKEN_ATTRS}
    for doc_a, doc_b in zip(a, b):
        for ta, tb in zip(doc_a, doc_b):
            for attr in TOKEN_ATTRS:
                va = ta.head.i if attr == "head.i" else str(getattr(ta, attr))
                vb = tb.head.i if attr == "head.i" else str(getattr(tb, attr))
                diffs[attr] += va != vb
    return diffs


def ner_labels(nlp: Language) -> Set[str]:
    """Entity labels of every entity recognizer and entity_ruler in the pipeline."""
    labels: Set[str] = set()
    for _, proc in nlp.pipeline:
        if isinstance(proc, (EntityRecognizer, EntityRuler)):
            labels.update(proc.labels)
    return labels


def model_only(nlp: Language) -> List[str]:
    """Names of the entity_rulers to switch off to see the learned part alone."""
    return [name for name, proc in nlp.pipeline if isinstance(proc, EntityRuler)]


def spans_of(doc: Doc, labels: Set[str], label_map: Optional[Dict[str, str]] = None) -> List[list]:
    label_map = label_map or {}
    result = []
    for ent in doc.ents:
        label = label_map.get(ent.label_, ent.label_)
        if label in labels:
            result.append([ent.start_char, ent.end_char, label])
    return result


def confusion(gold: List[Doc], predicted: List[Doc], labels: Set[str]) -> Dict[str, Dict[str, int]]:
    """For each gold span of `labels`: the label of the predicted span with the same
    boundaries, 'partial LABEL' if a predicted span only overlaps it, or 'none'."""
    table: Dict[str, Counter] = {}
    for g, p in zip(gold, predicted):
        for ent in g.ents:
            if ent.label_ not in labels:
                continue
            same = [e for e in p.ents if (e.start, e.end) == (ent.start, ent.end)]
            overlap = [e for e in p.ents if e.start < ent.end and ent.start < e.end]
            got = same[0].label_ if same else f"partial {overlap[0].label_}" if overlap else "none"
            table.setdefault(ent.label_, Counter())[got] += 1
    return {label: dict(counts.most_common()) for label, counts in sorted(table.items())}


def errors(gold: List[Doc], predicted: List[Doc], labels: Set[str]) -> Dict:
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


def away_from(docs: List[Doc], gold: List[Doc], labels: Set[str]) -> List[Doc]:
    """Copies of `docs` with only the entities of `labels` that overlap no gold entity."""
    out = []
    for doc, ref in zip(docs, gold):
        taken = {i for e in ref.ents for i in range(e.start, e.end)}
        copy = Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
        ents = [Span(copy, e.start, e.end, label=e.label_) for e in doc.ents if e.label_ in labels]
        copy.set_ents([e for e in ents if not taken.intersection(range(e.start, e.end))], default="outside")
        out.append(copy)
    return out


def relabel(base: List[Doc], predicted: List[Doc], gold: List[Doc], old: Set[str]) -> Dict:
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


def disagreements(base: List[Doc], predicted: List[Doc], labels: Set[str], label_map: Dict[str, str]) -> List[Dict]:
    """Texts where the old-label entities differ from the base's."""
    found = []
    for b, p in zip(base, predicted):
        base_spans, pred_spans = spans_of(b, labels, label_map), spans_of(p, labels, label_map)
        if base_spans != pred_spans and len(found) < MAX_EXAMPLES:
            found.append({"text": b.text, "base": base_spans, "shipped": pred_spans})
    return found


def run_pipeline(
    nlp: Language, texts: List[str], desc: str, disable: Tuple[str, ...] = (), progress: bool = True
) -> List[Doc]:
    with nlp.select_pipes(disable=list(disable)):
        docs = nlp.pipe(texts, batch_size=64)
        return list(tqdm(docs, total=len(texts), desc=desc, unit="doc", disable=None if progress else True))


def evaluate(
    base: Language,
    shipped: Language,
    patterns: Optional[Language],
    new_sets: Dict[str, List[Doc]],
    old_sets: Dict[str, List[Doc]],
    agreement_sets: Dict[str, List[str]],
    label_map: Dict[str, str],
    progress: bool = True,
    cache: Optional[Dict] = None,
) -> Dict:
    """Every metric of patterns, base, model and shipped; see the module docstring.

    patterns: None without patterns (no "patterns" system in the metrics).
    cache: pass the same dict to several calls with the same base and patterns
    to run those over each set only once.
    """
    cache = {} if cache is None else cache

    def run(nlp: Language, texts: List[str], desc: str, disable: Tuple[str, ...] = ()) -> List[Doc]:
        # the base and the patterns give the same docs for the same set: run them once
        key = (id(nlp), desc.split(":")[0])
        if nlp is shipped:
            return run_pipeline(nlp, texts, desc, disable, progress)
        if key not in cache:
            cache[key] = run_pipeline(nlp, texts, desc, disable, progress)
        return cache[key]

    base_labels = {label_map.get(label, label) for label in ner_labels(base)}
    new_labels = sorted(ner_labels(shipped) - ner_labels(base))
    # the old labels are the gold labels of the old-label sets, or else the base's (mapped) labels
    old_labels = sorted({e.label_ for docs in old_sets.values() for d in docs for e in d.ents} or base_labels)
    new, old = set(new_labels), set(old_labels)
    own = ner_labels(base)  # agreement with the base counts all its labels, unmapped
    rulers = tuple(model_only(shipped))
    metrics: Dict = {
        "new_labels": new_labels,
        "old_labels": old_labels,
        "base_labels": sorted(base_labels),
        "pipeline": shipped.pipe_names,
        "recipe": shipped.meta.get("ner_update", {}).get("recipe"),
        "systems": {
            **({"patterns": "the patterns alone (entity_ruler, tokenizer only)"} if patterns is not None else {}),
            "base": "the base pipeline",
            "model": f"the shipped pipeline without {list(rulers) or 'rules'}"
            if rulers
            else "the shipped pipeline (it has no rules)",
            "shipped": "the shipped pipeline",
        },
        "new_label_sets": {},
        "old_label_sets": {},
        "agreement_sets": {},
        "confusion": {},
        "errors": {},
        "disagreements": {},
    }
    for name, gold in new_sets.items():
        texts = [d.text for d in gold]
        gold = gold_restricted(gold, new)
        runs = {
            "patterns": run(patterns, texts, f"{name}: patterns") if patterns is not None else None,
            "model": run(shipped, texts, f"{name}: model", rulers),
            "shipped": run(shipped, texts, f"{name}: shipped"),
        }
        runs = {system: docs for system, docs in runs.items() if docs is not None}
        metrics["new_label_sets"][name] = {system: score(docs, gold, new) for system, docs in runs.items()}
        metrics["new_label_sets"][name]["docs"] = len(gold)
        # away from the gold new-label spans, do the base's entities (all its labels) stay as they were?
        # where a base entity overlaps one, does the new label win?
        base_docs = run(base, texts, f"{name}: base")
        reference = away_from(base_docs, gold, own)
        metrics["new_label_sets"][name]["old_label_agreement"] = {
            system: score(away_from(runs[system], gold, own), reference, own) for system in ("model", "shipped")
        }
        metrics["new_label_sets"][name]["relabel"] = {
            system: relabel(base_docs, docs, gold, own) for system, docs in runs.items()
        }
        metrics["confusion"][name] = confusion(gold, runs["shipped"], new)
        metrics["errors"][name] = errors(gold, runs["shipped"], new)
    sets = {name: (gold, [d.text for d in gold]) for name, gold in old_sets.items()}
    sets.update({name: (None, texts) for name, texts in agreement_sets.items()})
    frozen_checked = False
    for name, (gold, texts) in sets.items():
        runs = {
            "base": run(base, texts, f"{name}: base"),
            "model": run(shipped, texts, f"{name}: model", rulers),
            "shipped": run(shipped, texts, f"{name}: shipped"),
        }
        if patterns is not None:
            runs["patterns"] = run(patterns, texts, f"{name}: patterns")
        reference = [restricted(d, own) for d in runs["base"]]
        entry: Dict = {"docs": len(texts)}
        for system, docs in runs.items():
            entry[system] = {"new_label_predictions": sum(len(spans_of(d, new)) for d in docs)}
            if system == "patterns":
                continue
            entry[system]["agreement"] = score(docs, reference, own)
            if gold is not None:
                entry[system]["gold"] = score(docs, gold, old, label_map)
        (metrics["old_label_sets"] if gold is not None else metrics["agreement_sets"])[name] = entry
        metrics["disagreements"][name] = disagreements(runs["base"], runs["shipped"], own, {})
        if gold is not None and not frozen_checked:
            diffs = token_diffs(runs["base"], runs["shipped"])
            metrics["frozen_outputs"] = {
                "set": name,
                "identical": not any(diffs.values()),
                "tokens": sum(len(d) for d in gold),
                "differing_tokens": diffs,
            }
            frozen_checked = True
    return metrics


def summary_rows(metrics: Dict) -> List[Tuple]:
    rows = []
    for name, entry in metrics["new_label_sets"].items():
        for system in ("patterns", "model", "shipped"):
            if system not in entry:
                continue
            s = entry[system]
            rows.append((f"{name}: new labels P/R/F", system, f"{s['p']:.1f} / {s['r']:.1f} / {s['f']:.1f}"))
    for group in ("old_label_sets", "agreement_sets"):
        for name, entry in metrics[group].items():
            for system in ("base", "model", "shipped"):
                s = entry[system]
                gold = f"gold F {s['gold']['f']:.1f}, " if "gold" in s else ""
                rows.append(
                    (
                        f"{name}: old labels",
                        system,
                        f"{gold}agreement {s['agreement']['f']:.1f}, new-label entities {s['new_label_predictions']}",
                    )
                )
    return rows


def learning_problems(metrics: Dict, checkpoint_set: str, min_f: float) -> Tuple[str, List[str], List[str]]:
    """The set the checkpoint was picked on (`checkpoint_set`, else dev, else the first new-label set),
    one warning per sign that learning failed (a new label's F of the learned model below
    min_f there, or the shipped pipeline below the patterns alone on a set) and one per
    new label that set has no gold spans of (nothing measured it)."""
    sets = metrics["new_label_sets"]
    name = next((n for n in (checkpoint_set, "dev", *sets) if n in sets), "")
    warnings, unmeasured = [], []
    gold_labels = metrics["confusion"].get(name, {})  # labels with gold spans in the set
    for label, prf in (sets[name]["model"]["per_label"] if name else {}).items():
        if label not in gold_labels:
            unmeasured.append(
                f"{name} has no gold {label} spans: nothing measured {label}, and training picked its checkpoint "
                f'without it. Try: a hand-checked dev set with {label} (vars.checked_dev), or vars.split "random" '
                "(the entity split keeps every record that shares a name in one split)."
            )
        elif prf["f"] < min_f:
            warnings.append(
                f"The model learned almost nothing of {label}: F {prf['f']:.1f} on {name}, the set training picked "
                f"its checkpoint on (below {min_f:g}). Try: more annotations of {label} (a few hundred mentions at "
                "least), a hand-checked dev set (vars.checked_dev) to pick the checkpoint on, more steps "
                '(vars.train_overrides, e.g. "--training.max_steps 4000"), or patterns (vars.patterns).'
            )
    for set_name, entry in sets.items():
        if "patterns" in entry and entry["shipped"]["f"] < entry["patterns"]["f"]:
            warnings.append(
                f"The shipped pipeline scores below the patterns alone on {set_name}: F {entry['shipped']['f']:.1f} "
                f"vs {entry['patterns']['f']:.1f}. Try: more annotations, more steps (vars.train_overrides), "
                "the recipe's rules_win setting (the patterns win over the model), or shipping the patterns alone."
            )
    return name, warnings, unmeasured


def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    shipped_model: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="The pipeline to ship (from `assemble`)"
    ),
    patterns_value: str = typer.Argument(..., help="The patterns (EntityRuler JSONL); '' (empty): none"),
    output_path: Path = typer.Option(
        Path("training/metrics.json"), "--output", dir_okay=False, help="Where to write the metrics"
    ),
    new_label_sets: List[str] = typer.Option(
        [], "--new-label-set", help="NAME=PATH of a .spacy set with gold new-label spans; repeatable"
    ),
    old_label_sets: List[str] = typer.Option(
        [], "--old-label-set", help="NAME=PATH of a held-out .spacy set with gold old-label spans; repeatable"
    ),
    agreement_texts: List[str] = typer.Option(
        [],
        "--agreement-texts",
        help="NAME=PATH of held-out raw texts (.txt/.json/.jsonl) to measure agreement with the base on; repeatable",
    ),
    label_map: str = typer.Option(
        "",
        "--label-map",
        help="Map the pipelines' old labels onto the gold labels, e.g. 'PERSON:PER,GPE:LOC,LOC:LOC,FAC:LOC,ORG:ORG' for en_core_web_sm",
    ),
    lang: str = typer.Option("en", "--lang", help="Language of the patterns' tokenizer"),
    checkpoint_set: str = typer.Option(
        "checked_dev", "--checkpoint-set", help="The new-label set training picked its checkpoint on (else dev)"
    ),
    min_f: float = typer.Option(
        10.0, "--min-f", help="A new label's F below this on the checkpoint set: learning failed"
    ),
):
    """Score patterns, model and shipped pipeline on new labels, and old-label retention, side by side."""
    try:
        mapping = parse_label_map(label_map)
        new_paths = parse_named_paths(new_label_sets, "--new-label-set")
        old_paths = parse_named_paths(old_label_sets, "--old-label-set")
        text_paths = parse_named_paths(agreement_texts, "--agreement-texts")
        patterns_path = optional_path(patterns_value, "patterns file")
        patterns = pattern_pipeline(lang, load_patterns(patterns_path)) if patterns_path else None
        agreement = {name: list(iter_texts(path, Counter())) for name, path in text_paths.items()}
    except (ValueError, InputError) as err:
        msg.fail(str(err), exits=1)
    base = load_base(base_model)
    shipped = load_base(str(shipped_model))
    new_sets = {name: list(DocBin().from_disk(p).get_docs(base.vocab)) for name, p in new_paths.items()}
    for sets, paths in ((new_sets, new_paths), (agreement, text_paths)):
        for name in [name for name, items in sets.items() if not items]:
            msg.info(f"{name}: {paths[name]} is empty (no such set, e.g. an input turned off): left out")
            del sets[name]
    old_sets = {name: list(DocBin().from_disk(p).get_docs(base.vocab)) for name, p in old_paths.items()}
    metrics = evaluate(base, shipped, patterns, new_sets, old_sets, agreement, mapping)
    metrics.update(base_model=base_model, shipped_model=str(shipped_model))
    picked_on, failures, unmeasured = learning_problems(metrics, checkpoint_set, min_f)
    warnings = failures + unmeasured
    metrics["learning"] = {"checkpoint_set": picked_on, "min_f": min_f, "failed": bool(failures), "warnings": warnings}
    write_atomic(output_path, srsly.json_dumps(metrics, indent=2))
    msg.table(summary_rows(metrics), header=("set", "system", "scores"), divider=True)
    frozen = metrics.get("frozen_outputs")
    if frozen:
        msg.info(
            f"Frozen components' outputs on {frozen['set']}: "
            f"{'identical' if frozen['identical'] else 'DIFFERENT: ' + str(frozen['differing_tokens'])}"
        )
    for warning in warnings:
        msg.warn(warning)
    msg.good(f"Wrote {output_path}" + (" (learning failed: see the warnings)" if failures else ""))


if __name__ == "__main__":
    typer.run(main)
