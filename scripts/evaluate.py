"""Evaluate the updated pipeline against the base, side by side.

- new labels (in the updated ner, not in the base's): P/R/F per label on the
  new-label dev set;
- old labels on held-out gold (EWT test part B): P/R/F per label against gold,
  and agreement with the base pipeline's own predictions (the base's
  predictions taken as the reference);
- how many new-label entities each pipeline predicts on part B, where there are
  none in the gold data;
- whether the frozen components' outputs are identical, token by token.
Writes metrics JSON and a displaCy page of base vs updated on sample texts.
"""
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

import warnings

import srsly
import typer
from spacy import displacy
from spacy.language import Language
from spacy.pipeline import EntityRecognizer
from spacy.tokens import Doc, DocBin
from wasabi import msg

from common import load_base, write_atomic

SpanKey = Tuple[int, int, str]
TOKEN_ATTRS = ("tag_", "pos_", "morph", "lemma_", "dep_", "head.i", "is_sent_start")


def parse_label_map(value: str) -> Dict[str, str]:
    """'PERSON:PER,GPE:LOC' -> {'PERSON': 'PER', 'GPE': 'LOC'}; ValueError if malformed."""
    mapping = {}
    for item in filter(str.strip, value.split(",")):
        source, sep, target = (part.strip() for part in item.partition(":"))
        if not sep or not source or not target:
            raise ValueError(f"label map item {item.strip()!r} is not LABEL:GOLD_LABEL (e.g. 'PERSON:PER,GPE:LOC')")
        mapping[source] = target
    return mapping


def spans(doc: Doc, labels: Set[str], label_map: Optional[Dict[str, str]] = None) -> Set[SpanKey]:
    label_map = label_map or {}
    result = set()
    for ent in doc.ents:
        label = label_map.get(ent.label_, ent.label_)
        if label in labels:
            result.add((ent.start_char, ent.end_char, label))
    return result


def missing_ranges(doc: Doc) -> List[Tuple[int, int]]:
    """Character ranges of tokens whose entity annotation is missing."""
    return [(t.idx, t.idx + len(t)) for t in doc if t.ent_iob == 0]


def prf(pairs: Iterable[Tuple[Set[SpanKey], Set[SpanKey], List[Tuple[int, int]]]], labels: Iterable[str]) -> Dict[str, Dict[str, float]]:
    """P/R/F per label and micro-averaged ('ALL') over (reference, predicted, ignore) triples."""
    counts = {label: Counter() for label in list(labels) + ["ALL"]}
    for ref, pred, ignore in pairs:
        pred = {s for s in pred if not any(s[0] < e and b < s[1] for b, e in ignore)}
        for key, kinds in (("tp", ref & pred), ("fp", pred - ref), ("fn", ref - pred)):
            for s in kinds:
                counts[s[2]][key] += 1
                counts["ALL"][key] += 1
    scores = {}
    for label, c in counts.items():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        scores[label] = {"p": round(100 * p, 2), "r": round(100 * r, 2), "f": round(100 * f, 2), "support": c["tp"] + c["fn"]}
    return scores


def predict(nlp: Language, texts: List[str], batch_size: int = 64) -> List[Doc]:
    return list(nlp.pipe(texts, batch_size=batch_size))


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


OLD_COLORS = {"PER": "#aa9cfc", "PERSON": "#aa9cfc", "ORG": "#7aecec", "LOC": "#ff9561", "GPE": "#feca74"}
NEW_COLORS = ["#9be564", "#f7d046", "#f48fb1", "#4dd0e1"]


def render_page(samples: List[Tuple[str, Doc, Doc]], new_labels: List[str]) -> str:
    """An HTML page with a row per sample: source, base entities, updated entities."""
    colors = {**OLD_COLORS, **{label: NEW_COLORS[i % len(NEW_COLORS)] for i, label in enumerate(new_labels)}}
    options = {"colors": colors}
    rows = "".join(
        f"<tr><td class='src'>{source}</td><td>{displacy.render(base_doc, style='ent', options=options)}</td>"
        f"<td>{displacy.render(updated_doc, style='ent', options=options)}</td></tr>"
        for source, base_doc, updated_doc in samples
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Entities: base vs updated</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
        "td,th{border-bottom:1px solid #ddd;padding:.4em;vertical-align:top;text-align:left}"
        "td .entities{line-height:2.2 !important}.src{color:#666;white-space:nowrap}</style></head><body>"
        f"<h1>Entities: base vs updated</h1><p>New labels: {', '.join(new_labels) or 'none'}.</p>"
        f"<table><tr><th>text from</th><th>base</th><th>updated</th></tr>{rows}</table></body></html>"
    )


def compare(base: Language, updated: Language, dev_gold: List[Doc], heldout_gold: List[Doc], mapping: Dict[str, str]) -> Tuple[Dict, Dict]:
    """All metrics of base vs updated; also returns the predicted docs per pipeline."""
    new_labels = sorted(set(_ner_labels(updated)) - set(_ner_labels(base)))
    old_labels = sorted({e.label_ for d in heldout_gold for e in d.ents})
    dev_texts = [d.text for d in dev_gold]
    heldout_texts = [d.text for d in heldout_gold]
    # the base has none of the new labels: its dev predictions for them are empty without running it
    runs = {"base": {"dev": [base.make_doc(t) for t in dev_texts], "heldout": predict(base, heldout_texts)},
            "updated": {"dev": predict(updated, dev_texts), "heldout": predict(updated, heldout_texts)}}
    metrics: Dict = {"new_labels": new_labels, "old_labels": old_labels}
    for name, run in runs.items():
        metrics[name] = {
            "new_labels_dev": prf(((spans(g, set(new_labels)), spans(p, set(new_labels)), []) for g, p in zip(dev_gold, run["dev"])), new_labels),
            "old_labels_gold": prf(((spans(g, set(old_labels)), spans(p, set(old_labels), mapping), missing_ranges(g)) for g, p in zip(heldout_gold, run["heldout"])), old_labels),
            "old_labels_agreement": prf(((spans(b, set(old_labels), mapping), spans(p, set(old_labels), mapping), []) for b, p in zip(runs["base"]["heldout"], run["heldout"])), old_labels),
            "new_label_predictions_heldout": sum(1 for d in run["heldout"] for e in d.ents if e.label_ in new_labels),
        }
    diffs = token_diffs(runs["base"]["heldout"], runs["updated"]["heldout"])
    metrics["frozen_outputs"] = {"identical": not any(diffs.values()), "tokens": sum(len(d) for d in heldout_gold), "differing_tokens": diffs}
    base_f = metrics["base"]["old_labels_gold"]["ALL"]["f"]
    metrics["retention"] = round(metrics["updated"]["old_labels_gold"]["ALL"]["f"] / base_f, 4) if base_f else None
    return metrics, runs


def _ner_labels(nlp: Language) -> List[str]:
    """Entity labels of every entity recognizer in the pipeline."""
    return sorted({label for _, proc in nlp.pipeline if isinstance(proc, EntityRecognizer) for label in proc.labels})


def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    updated_model: Path = typer.Argument(..., exists=True, file_okay=False, help="The updated pipeline"),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="New-label dev corpus (.spacy, gold new labels)"),
    heldout_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Held-out gold for the old labels (EWT test part B)"),
    output_path: Path = typer.Option(Path("training/metrics.json"), "--output", dir_okay=False, help="Where to write the metrics"),
    html_path: Path = typer.Option(Path("training/entities.html"), "--html", dir_okay=False, help="Where to write the displaCy page"),
    label_map: str = typer.Option("", "--label-map", help="Map the pipelines' old labels onto the held-out gold labels, e.g. 'PERSON:PER,GPE:LOC,LOC:LOC,FAC:LOC,ORG:ORG' for en_core_web_sm"),
    n_samples: int = typer.Option(12, "--samples", help="Texts shown on the displaCy page (half dev, half part B)"),
):
    """Score new labels and old-label retention of base vs updated; check frozen outputs."""
    try:
        mapping = parse_label_map(label_map)
    except ValueError as err:
        msg.fail(f"--label-map: {err}", exits=1)
    base = load_base(base_model)
    updated = load_base(str(updated_model))
    dev_gold = list(DocBin().from_disk(dev_path).get_docs(base.vocab))
    heldout_gold = list(DocBin().from_disk(heldout_path).get_docs(base.vocab))
    metrics, runs = compare(base, updated, dev_gold, heldout_gold, mapping)
    metrics.update(base_model=base_model, updated_model=str(updated_model))
    new_labels, old_labels = metrics["new_labels"], metrics["old_labels"]
    diffs = metrics["frozen_outputs"]["differing_tokens"]
    write_atomic(output_path, srsly.json_dumps(metrics, indent=2))

    rows = []
    for label in new_labels + ["ALL"]:
        b, u = metrics["base"]["new_labels_dev"][label], metrics["updated"]["new_labels_dev"][label]
        rows.append((f"new-label dev: {label} P/R/F", f"{b['p']:.1f}/{b['r']:.1f}/{b['f']:.1f}", f"{u['p']:.1f}/{u['r']:.1f}/{u['f']:.1f}"))
    for label in old_labels + ["ALL"]:
        b, u = metrics["base"]["old_labels_gold"][label], metrics["updated"]["old_labels_gold"][label]
        rows.append((f"part B gold: {label} F", f"{b['f']:.1f}", f"{u['f']:.1f}"))
    rows.append(("part B agreement with base (F)", "100.0", f"{metrics['updated']['old_labels_agreement']['ALL']['f']:.1f}"))
    rows.append(("new-label entities predicted on part B", metrics["base"]["new_label_predictions_heldout"], metrics["updated"]["new_label_predictions_heldout"]))
    rows.append(("frozen components' outputs identical", "", "yes" if metrics["frozen_outputs"]["identical"] else f"NO: {diffs}"))
    msg.table(rows, header=("", "base", "updated"), divider=True, aligns=("l", "r", "r"))
    if metrics["retention"] is not None:
        msg.info(f"Old-label F on held-out gold kept: {100 * metrics['retention']:.1f}% of the base's")

    half = n_samples // 2
    samples = [("dev", b, u) for b, u in zip(predict(base, [d.text for d in dev_gold[:half]]), runs["updated"]["dev"][:half])]
    sents = [s.text for d in heldout_gold for s in d.sents if s.ents][: n_samples - half]  # with gold entities
    samples += [("part B", b, u) for b, u in zip(predict(base, sents), predict(updated, sents))]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W006\]")  # a sample text without entities is fine
        write_atomic(html_path, render_page(samples, new_labels))
    msg.good(f"Wrote {output_path} and {html_path}")


if __name__ == "__main__":
    typer.run(main)
