"""Benchmark recipes for adding an entity type to a trained pipeline.

Trains every recipe on the same base, data and seeds in one run and prints one
table (also written as Markdown and JSON): new-label P/R/F on dev, old-label F
on held-out gold (EWT test part B), agreement with the base's old-label
predictions, whether frozen components are unchanged, training time and
words/s, inference speed relative to the base (measured in this run), and size
on disk. Also measures, in the same run, `convert` against a minimal
make_doc + char_span loop, and rehearsal annotation with only the needed
components against the full pipeline.
"""
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import spacy
import srsly
import typer
from spacy.cli.train import train
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.util import load_config
from thinc.api import Config
from wasabi import msg

import convert
import evaluate
import functions  # noqa: F401  (registers the gadget.* functions used by the configs)
import rehearsal
from common import load_base, write_atomic
from make_config import adapt_config

def rehearsal_settings(silver: float, teacher: float, merge: bool) -> Dict:
    """Overrides of configs/config.cfg that select a rehearsal variant."""
    return {"training.before_update.silver_ratio": silver, "training.before_update.teacher_ratio": teacher,
            "corpora.train.merge_base_ents": merge}


# name -> (description, overrides of configs/config.cfg); "two_ner" builds its own config
RECIPES: Dict[str, Tuple[str, Dict]] = {
    "anchor": ("new-label data only, no rehearsal (explosion/projects ner_demo_update)", rehearsal_settings(0, 0, False)),
    "default": ("this project's default (configs/config.cfg as checked in)", {}),
    "silver": ("silver blend 1:1 only", rehearsal_settings(1, 0, False)),
    "merged": ("base's old-label predictions merged into the new-label docs only", rehearsal_settings(0, 0, True)),
    "merged_silver": ("merged + silver blend 1:1", rehearsal_settings(1, 0, True)),
    "teacher": ("teacher-student rehearsal 1:1 only", rehearsal_settings(0, 1, False)),
    "merged_teacher": ("merged + teacher-student 1:1", rehearsal_settings(0, 1, True)),
    "all_1to1": ("merged + silver blend 1:1 + teacher-student 1:1", rehearsal_settings(1, 1, True)),
    "two_ner": ("base ner frozen + a second ner for the new labels only (explosion/projects ner_double)", {}),
}


def two_ner_config(cfg: Config, ner_model: Dict) -> Config:
    """All base components frozen; a new ner (own tok2vec) after the base's ner."""
    cfg = Config(cfg).copy()
    cfg["nlp"]["pipeline"] = list(cfg["nlp"]["pipeline"]) + ["new_ner"]
    cfg["components"]["new_ner"] = {"factory": "ner", "model": ner_model}
    cfg["training"]["frozen_components"] = [n for n in cfg["nlp"]["pipeline"] if n != "new_ner"]
    cfg["training"]["before_update"]["silver_ratio"] = 0.0
    cfg["training"]["before_update"]["teacher_ratio"] = 0.0
    cfg["corpora"]["train"]["merge_base_ents"] = False
    return cfg


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


def words_per_second(nlp: Language, texts: List[str], repeats: int = 2) -> float:
    """Best of `repeats` runs of nlp.pipe over the texts, after a warm-up run."""
    list(nlp.pipe(texts[:50]))
    n_words = 0
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        n_words = sum(len(doc) for doc in nlp.pipe(texts, batch_size=64))
        best = min(best, time.perf_counter() - start)
    return n_words / best


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def convert_ratio(course_file: Path, repeats: int) -> Dict[str, float]:
    """Throughput of convert's checked path relative to a minimal loop on course-format data."""
    nlp = spacy.blank("en")
    n_records = len(srsly.read_json(course_file))

    def minimal() -> bytes:
        docbin = DocBin()
        for text, ann in srsly.read_json(course_file):
            doc = nlp.make_doc(text)
            doc.ents = [doc.char_span(s, e, label=label) for s, e, label in ann["entities"]]
            docbin.add(doc)
        return docbin.to_bytes()

    def checked() -> bytes:
        report = convert.Report()
        recs = convert.load_records([course_file], nlp, report)
        train_recs, dev_recs = convert.split_records(recs, 0.2, 0, by_entity=True)
        return convert.to_docbin(train_recs).to_bytes() + convert.to_docbin(dev_recs).to_bytes()

    minimal(), checked()  # warm up
    t_min, t_conv = best_time(minimal, repeats), best_time(checked, repeats)
    return {"records": n_records, "minimal_s": t_min, "convert_s": t_conv, "ratio": t_min / t_conv}


def rehearsal_ratio(nlp: Language, texts: List[str], repeats: int) -> Dict[str, float]:
    """Annotation throughput with only the components the ner needs vs the full pipeline."""
    needed = rehearsal.entity_components(nlp)
    t_full = best_time(lambda: list(nlp.pipe(texts, batch_size=256)), repeats)
    with nlp.select_pipes(enable=needed):
        t_needed = best_time(lambda: list(nlp.pipe(texts, batch_size=256)), repeats)
    return {"texts": len(texts), "components": needed, "full_s": t_full, "needed_s": t_needed, "ratio": t_full / t_needed}


def run_recipe(name: str, cfg: Config, out: Path, seed: int, overrides: Dict, base: Language,
               dev_gold: List[Doc], heldout_gold: List[Doc], mapping: Dict[str, str]) -> Dict:
    out.mkdir(parents=True, exist_ok=True)
    cfg.to_disk(out / "config.cfg")
    start = time.perf_counter()
    train(out / "config.cfg", out, overrides={**overrides, "system.seed": seed, "paths.losses": str(out / "losses.jsonl")})
    train_seconds = time.perf_counter() - start
    losses = list(srsly.read_jsonl(out / "losses.jsonl"))
    updated = spacy.load(out / "model-best")
    metrics, _ = evaluate.compare(base, updated, dev_gold, heldout_gold, mapping)
    new = metrics["updated"]["new_labels_dev"]["ALL"]
    texts = [d.text for d in heldout_gold]
    return {
        "recipe": name, "seed": seed,
        "new_p": new["p"], "new_r": new["r"], "new_f": new["f"],
        "old_gold_f": metrics["updated"]["old_labels_gold"]["ALL"]["f"],
        "base_old_gold_f": metrics["base"]["old_labels_gold"]["ALL"]["f"],
        "agreement_f": metrics["updated"]["old_labels_agreement"]["ALL"]["f"],
        "new_label_predictions_heldout": metrics["updated"]["new_label_predictions_heldout"],
        "frozen_unchanged": metrics["frozen_outputs"]["identical"],
        "train_seconds": train_seconds,
        "train_wps": losses[-1]["words"] / train_seconds if losses else 0.0,
        # base and result timed back to back, so both see the same machine load
        "inference_rel": words_per_second(updated, texts) / words_per_second(base, texts),
        "size_mb": dir_size_mb(out / "model-best"),
    }


def summarize(rows: List[Dict]) -> List[Dict]:
    """Mean and spread (sample standard deviation) per recipe, in recipe order."""
    keys = ["new_p", "new_r", "new_f", "old_gold_f", "agreement_f", "new_label_predictions_heldout",
            "train_seconds", "train_wps", "inference_rel", "size_mb"]
    summary = []
    for name in dict.fromkeys(r["recipe"] for r in rows):
        runs = [r for r in rows if r["recipe"] == name]
        entry = {"recipe": name, "description": RECIPES[name][0], "seeds": [r["seed"] for r in runs],
                 "frozen_unchanged": all(r["frozen_unchanged"] for r in runs), "base_old_gold_f": runs[0]["base_old_gold_f"]}
        for key in keys:
            values = [r[key] for r in runs]
            entry[key] = statistics.mean(values)
            entry[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        summary.append(entry)
    return summary


def table_rows(summary: List[Dict]) -> Tuple[Tuple[str, ...], List[Tuple]]:
    def ms(entry, key, fmt="{:.1f}"):
        return f"{fmt.format(entry[key])} ± {fmt.format(entry[key + '_sd'])}"

    header = ("recipe", "new P", "new R", "new F", "old F (gold)", "agreement", "new-label on B", "frozen same",
              "train s", "train wps", "infer vs base", "MB")
    rows = [
        (e["recipe"], ms(e, "new_p"), ms(e, "new_r"), ms(e, "new_f"), ms(e, "old_gold_f"), ms(e, "agreement_f"),
         ms(e, "new_label_predictions_heldout", "{:.0f}"), "yes" if e["frozen_unchanged"] else "NO",
         ms(e, "train_seconds", "{:.0f}"), ms(e, "train_wps", "{:.0f}"), ms(e, "inference_rel", "{:.2f}"), f"{e['size_mb']:.1f}")
        for e in summary
    ]
    return header, rows


def markdown(header, rows, summary: List[Dict], extra: Dict) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    lines.append("")
    lines += [f"- `{e['recipe']}`: {e['description']}" for e in summary]
    lines.append("")
    base_f = summary[0]["base_old_gold_f"] if summary else 0
    lines.append(f"Base old-label F on held-out gold: {base_f:.1f}. Mean ± sample standard deviation over seeds "
                 f"{summary[0]['seeds'] if summary else []}; \"new-label on B\" counts new-label entities predicted on "
                 "part B, which has none in its gold data.")
    c, r = extra["convert"], extra["rehearsal"]
    lines.append(f"\n| throughput | plain way | this project | ratio | target |\n|---|---|---|---|---|\n"
                 f"| convert ({c['records']} records) vs make_doc + char_span loop | {c['minimal_s'] * 1000:.1f} ms | "
                 f"{c['convert_s'] * 1000:.1f} ms | {c['ratio']:.2f}x | >= 0.8x |\n"
                 f"| rehearsal annotation ({r['texts']} texts) with {r['components']} vs full pipeline | "
                 f"{r['full_s']:.2f} s | {r['needed_s']:.2f} s | {r['ratio']:.2f}x | >= 2x |")
    return "\n".join(lines) + "\n"


def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    corpus_dir: Path = typer.Argument(Path("corpus"), exists=True, file_okay=False, help="Folder with train/dev, *_base_ents, rehearsal and ewt_heldout .spacy files"),
    output_dir: Path = typer.Option(Path("training/benchmark"), "--output", file_okay=False, help="Where runs, benchmark.md and benchmark.json go"),
    config_path: Path = typer.Option(Path("configs/config.cfg"), "--config", exists=True, dir_okay=False, help="The update config"),
    base_config: Path = typer.Option(Path("configs/base.cfg"), "--base-config", exists=True, dir_okay=False, help="Config whose ner model the two-NER recipe's new ner uses"),
    recipes: str = typer.Option(",".join(RECIPES), "--recipes", help="Comma-separated recipes to run"),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated seeds; every recipe runs once per seed"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override [training] max_steps (default: the config's)"),
    eval_frequency: Optional[int] = typer.Option(None, "--eval-frequency", help="Override [training] eval_frequency"),
    course_file: Path = typer.Option(Path("corpus/bootstrapped.json"), "--course-file", exists=True, dir_okay=False, help="Course-format annotations to time convert on"),
    rehearsal_texts: Path = typer.Option(Path("corpus/ewt_rehearsal.jsonl"), "--rehearsal-texts", exists=True, dir_okay=False, help="Texts to time rehearsal annotation on"),
    label_map: str = typer.Option("", "--label-map", help="Old-label map for evaluation, as in `evaluate`"),
    repeats: int = typer.Option(5, "--repeats", help="Timing repeats for the throughput ratios (best is kept)"),
):
    """Run every recipe on the same base, data and seeds; print one table."""
    unknown = [r for r in recipes.split(",") if r not in RECIPES]
    if unknown:
        msg.fail(f"Unknown recipes {unknown}; choose from {list(RECIPES)}", exits=1)
    base = load_base(base_model)
    template = adapt_config(load_config(config_path, interpolate=False), base, base_model)
    paths = {"paths.train": corpus_dir / "train.spacy", "paths.dev": corpus_dir / "dev.spacy",
             "paths.train_base_ents": corpus_dir / "train_base_ents.spacy", "paths.dev_base_ents": corpus_dir / "dev_base_ents.spacy",
             "paths.rehearsal": corpus_dir / "rehearsal.spacy"}
    common_overrides = {k: str(v) for k, v in paths.items()}
    if max_steps is not None:
        common_overrides["training.max_steps"] = max_steps
    if eval_frequency is not None:
        common_overrides["training.eval_frequency"] = eval_frequency
    dev_gold = list(DocBin().from_disk(corpus_dir / "dev.spacy").get_docs(base.vocab))
    heldout_gold = list(DocBin().from_disk(corpus_dir / "ewt_heldout.spacy").get_docs(base.vocab))
    try:
        mapping = evaluate.parse_label_map(label_map)
    except ValueError as err:
        msg.fail(f"--label-map: {err}", exits=1)
    ner_model = load_config(base_config, interpolate=False)["components"]["ner"]["model"]

    rows = []
    for name in recipes.split(","):
        cfg = two_ner_config(template, ner_model) if name == "two_ner" else template
        for seed in [int(s) for s in seeds.split(",")]:
            msg.divider(f"{name}, seed {seed}")
            rows.append(run_recipe(name, cfg, output_dir / name / str(seed), seed, {**common_overrides, **RECIPES[name][1]},
                                   base, dev_gold, heldout_gold, mapping))
    texts = [t["text"] for t in srsly.read_jsonl(rehearsal_texts)]
    extra = {"convert": convert_ratio(course_file, repeats), "rehearsal": rehearsal_ratio(base, texts, max(1, repeats // 2))}
    summary = summarize(rows)
    header, table = table_rows(summary)
    msg.table(table, header=header, divider=True)
    report = markdown(header, table, summary, extra)
    print(report[report.index("| throughput"):])
    write_atomic(output_dir / "benchmark.md", report)
    write_atomic(output_dir / "benchmark.json", srsly.json_dumps({"runs": rows, "summary": summary, **extra}, indent=2))
    msg.good(f"Wrote {output_dir / 'benchmark.md'} and {output_dir / 'benchmark.json'}")


if __name__ == "__main__":
    typer.run(main)
