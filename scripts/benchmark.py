"""Benchmark recipes (configs/recipes/*.cfg) for adding entity types to a base.

Every recipe runs on the same base, data and seeds, two trainings at a time
(one per CPU core), and its best checkpoint, which is the shipped pipeline, is
evaluated like `evaluate` does: new-label P/R/F on the name-disjoint dev split
and the hand-checked real-text set; how often the new label wins where the base
had an entity over a gold new-label span (relabel); agreement with the base over
all its labels away from gold new-label spans and on the held-out sets (EWT,
tweets, texts of your domain); old-label F against gold; inference speed
relative to the base, timed back to back; size relative to the base.
"""

import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import spacy
import srsly
import typer
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.util import load_config
from wasabi import MarkdownRenderer, msg

from ner_update.common import (
    InputError,
    exits_on_input_error,
    load_base,
    load_base_meta,
    optional_path,
    resolve_base_name,
    write_atomic,
)
from ner_update.evaluation import scoring
from ner_update.inputs.patterns import load_patterns, pattern_pipeline
from ner_update.registered import REGISTERED_DIR, register_all
from ner_update.update import decoding
from ner_update.update.recipes import adapt_config, drop_training_strings, recipe_base

SCRIPTS = Path(__file__).parent
RECIPES = SCRIPTS.parent / "configs" / "recipes"
# the targets a recipe is measured against (issue: new label wins, nothing forgotten, base speed and size)
TARGETS = {"agreement": 98.0, "f_gap": 1.0, "speed": 0.9, "size": 1.1}


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


def speed_vs_base(shipped: Language, base: Language, texts: List[str], rounds: int = 5) -> float:
    """The base's time over the shipped pipeline's on the same texts: the
    median of `rounds` pairs timed back to back in alternating order, after a
    warm-up, so that both see the same machine load."""
    for nlp in (shipped, base):
        list(nlp.pipe(texts[:50]))
    ratios = []
    for i in range(rounds):
        seconds = {}
        for name, nlp in (("shipped", shipped), ("base", base))[:: 1 if i % 2 == 0 else -1]:
            start = time.perf_counter()
            for _ in nlp.pipe(texts, batch_size=64):
                pass
            seconds[name] = time.perf_counter() - start
        ratios.append(seconds["base"] / seconds["shipped"])
    return statistics.median(ratios)


def time_one(job: Dict) -> Dict:
    """Speed of one run's shipped pipeline relative to the base's."""
    register_all()  # components of the recipes' pipelines

    base = load_base(job["base_model"])
    shipped = spacy.load(Path(job["out"]) / "model-best")
    texts = [d.text for d in DocBin().from_disk(next(iter(job["sets"]["old"].values()))).get_docs(base.vocab)]
    return {"speed_vs_base": speed_vs_base(shipped, base, texts)}


def train_one(job: Dict) -> Dict:
    """Run `spacy train` in a subprocess (its own registry state); return the job with its time."""
    out = Path(job["out"])
    args = [f"--{k}={v if v is not None else 'null'}" for k, v in job["overrides"].items()]
    cmd = [sys.executable, "-m", "spacy", "train", str(out / "config.cfg"), "--output", str(out)]
    cmd += ["--code", str(REGISTERED_DIR / "functions.py"), *args]
    start = time.perf_counter()
    with open(out / "train.log", "w", encoding="utf8") as log:
        result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f"training {job['recipe']} (seed {job['seed']}) failed: see {out / 'train.log'}")
    return {**job, "train_seconds": time.perf_counter() - start}


def metrics_row(metrics: Dict) -> Dict[str, float]:
    """The figures of one evaluated run that the table shows."""
    row: Dict[str, float] = {"frozen_unchanged": metrics.get("frozen_outputs", {}).get("identical", True)}
    for name, entry in metrics["new_label_sets"].items():
        for key in ("p", "r", "f"):
            row[f"{name}_{key}"] = entry["shipped"][key]
        if "patterns" in entry:
            row[f"{name}_patterns_f"] = entry["patterns"]["f"]
        row[f"{name}_model_f"] = entry["model"]["f"]
        row[f"{name}_relabel"] = entry["relabel"]["shipped"]["rate"]
        row[f"{name}_agreement"] = entry["old_label_agreement"]["shipped"]["f"]
    for group in ("old_label_sets", "agreement_sets"):
        for name, entry in metrics[group].items():
            row[f"{name}_agreement"] = entry["shipped"]["agreement"]["f"]
            if "gold" in entry["shipped"]:
                row[f"{name}_gold_f"] = entry["shipped"]["gold"]["f"]
    return row


def evaluate_one(job: Dict) -> Dict:
    """Evaluate one trained recipe's shipped pipeline; one row."""
    register_all()  # components of the recipes' pipelines

    sets = job["sets"]
    base = load_base(job["base_model"])
    patterns = pattern_pipeline(base.lang, load_patterns(Path(job["patterns"]))) if job["patterns"] else None
    new_sets = {n: list(DocBin().from_disk(p).get_docs(base.vocab)) for n, p in sets["new"].items()}
    old_sets = {n: list(DocBin().from_disk(p).get_docs(base.vocab)) for n, p in sets["old"].items()}
    agreement = {n: [r["text"] for r in srsly.read_jsonl(p)] for n, p in sets["agreement"].items()}
    shipped = spacy.load(Path(job["out"]) / "model-best")
    chosen: Dict[str, float] = {}
    if decoding.tagger_name(shipped):  # as `assemble` does: the decoding chosen on the checkpoint set
        checkpoint = list(DocBin().from_disk(job["overrides"]["paths.dev"]).get_docs(shipped.vocab))
        chosen, _ = decoding.tune(shipped, checkpoint)
    mapping = scoring.label_map_for(job["label_map"], scoring.ner_labels(base))
    metrics = scoring.evaluate(base, shipped, patterns, new_sets, old_sets, agreement, mapping, progress=False)
    # as `assemble` writes it: against a base that has not seen the evaluation texts
    # (the strings they added to both vocabs would otherwise count as the base's)
    drop_training_strings(shipped, load_base(job["base_model"]))
    with tempfile.TemporaryDirectory() as tmp:
        shipped.to_disk(tmp)
        size = dir_size_mb(Path(tmp)) / job["base_mb"]
    row = {"recipe": job["recipe"], "seed": job["seed"], "train_seconds": job["train_seconds"], **chosen}
    return {**row, **metrics_row(metrics), "size_vs_base": size}


def summarize(rows: List[Dict]) -> List[Dict]:
    """Mean and sample standard deviation per recipe, in recipe order."""
    summary = []
    for name in dict.fromkeys(r["recipe"] for r in rows):
        runs = [r for r in rows if r["recipe"] == name]
        entry: Dict = {"recipe": name, "seeds": [r["seed"] for r in runs]}
        entry["frozen_unchanged"] = all(r["frozen_unchanged"] for r in runs)
        for key, value in runs[0].items():
            if key in ("recipe", "seed", "frozen_unchanged") or not isinstance(value, (int, float)):
                continue
            values = [r[key] for r in runs]
            entry[key] = statistics.mean(values)
            entry[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        summary.append(entry)
    return summary


COLUMNS = [
    ("test P", "checked_test_p", "{:.1f}"),
    ("test R", "checked_test_r", "{:.1f}"),
    ("test F", "checked_test_f", "{:.1f}"),
    ("test F no rules", "checked_test_model_f", "{:.1f}"),
    ("other P", "checked_other_p", "{:.1f}"),
    ("other R", "checked_other_r", "{:.1f}"),
    ("other F", "checked_other_f", "{:.1f}"),
    ("other F patterns", "checked_other_patterns_f", "{:.1f}"),
    ("dev F", "dev_f", "{:.1f}"),
    ("relabel test", "checked_test_relabel", "{:.1f}"),
    ("agr test", "checked_test_agreement", "{:.1f}"),
    ("agr other", "checked_other_agreement", "{:.1f}"),
    ("agr EWT", "ewt_agreement", "{:.1f}"),
    ("agr BTC", "btc_agreement", "{:.1f}"),
    ("agr domain", "domain_agreement", "{:.1f}"),
    ("speed", "speed_vs_base", "{:.2f}"),
    ("size", "size_vs_base", "{:.2f}"),
    ("rule odds", "rule_odds", "{:.0f}"),
    ("min conf", "min_confidence", "{:.2f}"),
    ("train s", "train_seconds", "{:.0f}"),
]
AGREEMENTS = ("checked_test_agreement", "checked_other_agreement", "ewt_agreement", "btc_agreement", "domain_agreement")


def goals(summary: List[Dict]) -> List[Dict]:
    """Each recipe against the targets: real-text F within 1 point of the best
    recipe's, agreement >= 98 everywhere, >= 0.9x the base's speed, <= 1.1x its size."""
    key = next((k for k in ("checked_other_f", "checked_test_f") if any(k in e for e in summary)), "dev_f")
    best = max(e.get(key, 0.0) for e in summary)
    result = []
    for e in summary:
        lowest = min(e.get(k, 100.0) for k in AGREEMENTS)
        gap = best - e.get(key, 0.0)
        met = {
            "f": gap <= TARGETS["f_gap"],
            "agreement": lowest >= TARGETS["agreement"],
            "speed": e["speed_vs_base"] >= TARGETS["speed"],
            "size": e["size_vs_base"] <= TARGETS["size"],
        }
        result.append({"recipe": e["recipe"], "f_gap_to_best": gap, "lowest_agreement": lowest, "met": met})
    return result


def markdown(summary: List[Dict], goal_rows: List[Dict], base_model: str, extra: Dict) -> str:
    md = MarkdownRenderer()
    md.add(md.title(2, f"Recipes on {base_model}"))
    header = ["recipe", *(c for c, _, _ in COLUMNS), "frozen same"]
    rows = []
    for e in summary:
        cells = [f"{fmt.format(e[k])} ± {fmt.format(e[k + '_sd'])}" if k in e else "–" for _, k, fmt in COLUMNS]
        rows.append([md.code(e["recipe"]), *cells, "yes" if e["frozen_unchanged"] else "NO"])
    md.add(md.table(rows, header, aligns=("l", *("r" for _ in COLUMNS), "l")))
    md.add(
        f"Mean ± sample standard deviation over seeds {summary[0]['seeds'] if summary else []}. real: the "
        "test part of the hand-checked set (vars.checked_dev), which chose nothing (no rules: the shipped pipeline "
        "with its entity_ruler off); other: the hand-checked set of other sites (vars.checked_other), which chose "
        "nothing either (patterns: the patterns alone); dev: the name-disjoint dev split; relabel: of the gold new-label spans "
        "that a base entity overlaps, % labelled exactly right; agr: F of the shipped pipeline's entities of "
        "all the base's labels against the base's own (on real text: away from gold new-label spans); speed "
        "and size relative to the base."
    )
    targets = ["recipe", "real F behind the best", "lowest agreement", "F", "agreement", "speed", "size"]
    rows = [
        [md.code(g["recipe"]), f"{g['f_gap_to_best']:.1f}", f"{g['lowest_agreement']:.1f}"]
        + ["yes" if g["met"][k] else "no" for k in ("f", "agreement", "speed", "size")]
        for g in goal_rows
    ]
    md.add(md.table(rows, targets))
    md.add(f"Packages: {extra['versions']}")
    return md.text + "\n"


def versions(constraints: Path = SCRIPTS.parent / "constraints.txt") -> str:
    """The installed versions of the pinned packages; warns where they differ from constraints.txt."""
    from importlib.metadata import PackageNotFoundError, version

    pinned = {}
    if constraints.exists():
        for line in constraints.read_text(encoding="utf8").splitlines():
            name, sep, wanted = line.strip().partition("==")
            if sep and not line.startswith("#"):
                pinned[name] = wanted
    found, differ = [], []
    for name, wanted in sorted(pinned.items()):
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        found.append(f"{name} {installed}")
        if installed != wanted:
            differ.append(f"{name} {installed} (pinned {wanted})")
    if differ:
        msg.warn(f"Installed versions differ from {constraints.name}: {', '.join(differ)}")
    return ", ".join(found) + (f"; differing from {constraints.name}: {', '.join(differ)}" if differ else "")


def plan(
    base_model: str, patterns_path: Optional[Path], output_dir: Path, names: List[str], seeds: List[int], common: Dict
) -> List[Dict]:
    """Write each recipe's config (and its shared-feature base); one job per recipe and seed."""
    jobs = []
    for name in names:
        recipe = load_config(RECIPES / f"{name}.cfg", interpolate=False)
        nlp, source = recipe_base(recipe, base_model, output_dir / "recipe_base" / name)
        cfg = adapt_config(recipe, nlp, source, str(patterns_path) if patterns_path else None)
        for seed in seeds:
            out = output_dir / "runs" / name / str(seed)
            out.mkdir(parents=True, exist_ok=True)
            cfg.to_disk(out / "config.cfg")
            overrides = {**common, "system.seed": seed, "paths.losses": str(out / "losses.jsonl")}
            jobs.append({"recipe": name, "seed": seed, "out": str(out), "overrides": overrides})
    return jobs


def run_jobs(jobs: List[Dict], shared: Dict, workers: int) -> List[Dict]:
    """Train every job, `workers` at a time, then evaluate each; one row per job."""
    rows: List[Dict] = []
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        trained = []
        for i, job in enumerate(pool.map(train_one, jobs), start=1):
            elapsed = time.perf_counter() - start
            msg.info(f"[{elapsed:.0f} s] trained {job['recipe']} seed {job['seed']} ({i}/{len(jobs)})")
            trained.append({**shared, **job})
        for row in pool.map(evaluate_one, trained):
            rows.append(row)
            msg.info(f"[{time.perf_counter() - start:.0f} s] evaluated {row['recipe']} seed {row['seed']}")
    for row, job in zip(rows, trained):  # one at a time: a timing must not share the cores with other work
        row.update(time_one(job))
        msg.info(f"[{time.perf_counter() - start:.0f} s] timed {row['recipe']} seed {row['seed']}")
    return rows


def corpora(corpus_dir: Path, checkpoint_set: str) -> Tuple[Dict, Dict]:
    """The evaluation sets, and the corpora paths every training gets as overrides."""
    sets = {
        "new": {name: str(corpus_dir / f"{name}.spacy") for name in ("dev", "checked_test", "checked_other")},
        "old": {"ewt": str(corpus_dir / "ewt_heldout.spacy"), "btc": str(corpus_dir / "btc_heldout.spacy")},
        "agreement": {"domain": str(corpus_dir / "domain_heldout.jsonl")},
    }
    names = ("train", "train_base_ents", "rehearsal")
    common: Dict = {f"paths.{n}": str(corpus_dir / f"{n}.spacy") for n in names}
    common["paths.dev"] = str(corpus_dir / f"{checkpoint_set}.spacy")
    common["paths.dev_base_ents"] = str(corpus_dir / f"{checkpoint_set}_base_ents.spacy")
    return sets, common


def checked_inputs(names: List[str], label_map: str, patterns_value: str, base_model: str) -> Optional[Path]:
    """Fail with a message on an unknown recipe, a bad label map (or none derivable from the base's
    labels, as each evaluation derives it) or patterns file; the patterns' path."""
    unknown = [r for r in names if not (RECIPES / f"{r}.cfg").exists()]
    if unknown:
        msg.fail(f"Unknown recipes {unknown}; choose from {sorted(p.stem for p in RECIPES.glob('*.cfg'))}", exits=1)
    try:
        scoring.label_map_for(label_map, load_base_meta(base_model).get("labels", {}).get("ner", []))
        patterns_path = optional_path(patterns_value, "patterns file")
        if patterns_path is not None:
            load_patterns(patterns_path)
    except (ValueError, InputError) as err:
        msg.fail(str(err), exits=1)
    return patterns_path


@exits_on_input_error
def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    corpus_dir: Path = typer.Argument(
        Path("corpus"), exists=True, file_okay=False, help="The corpora the project's steps write"
    ),
    patterns_value: str = typer.Argument(..., help="The patterns (EntityRuler JSONL); '' (empty): none"),
    output_dir: Path = typer.Option(
        Path("training/benchmark"), "--output", file_okay=False, help="Where runs and tables go"
    ),
    recipes: str = typer.Option(
        "new_label_tagger,second_ner,single_ner,new_label_only",
        "--recipes",
        help="Comma-separated recipes (configs/recipes/NAME.cfg)",
    ),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated seeds; every recipe runs once per seed"),
    checkpoint_set: str = typer.Option(
        "checkpoint",
        "--checkpoint-set",
        help="The corpus training chooses checkpoints on (corpus/NAME.spacy and NAME_base_ents.spacy; "
        "`rehearsal` writes them as checkpoint)",
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="Runs at a time (one per CPU core)"),
    max_steps: int = typer.Option(0, "--max-steps", help="Override [training] max_steps (0: the recipe's)"),
    label_map: str = typer.Option("", "--label-map", help="Old-label map for evaluation, as in `evaluate`"),
):
    """Run every recipe on the same base, data and seeds, two at a time; write one table."""
    base_model = resolve_base_name(base_model)
    names = [r for r in recipes.split(",") if r]
    patterns_path = checked_inputs(names, label_map, patterns_value, base_model)
    sets, common = corpora(corpus_dir, checkpoint_set)
    if max_steps:
        common["training.max_steps"] = max_steps
    paths = {p for group in sets.values() for p in group.values()} | {p for p in common.values() if isinstance(p, str)}
    missing = sorted(p for p in paths if not Path(p).exists())
    if missing:
        msg.fail(f"Missing corpora: {', '.join(missing)} (run the project's `all` workflow first)", exits=1)
    for name in ("checked_test", "checked_other"):  # no such checked set (its var is ""): convert wrote it empty
        if not len(DocBin().from_disk(sets["new"][name])):
            del sets["new"][name]
    jobs = plan(base_model, patterns_path, output_dir, names, [int(s) for s in seeds.split(",")], common)
    base_mb = dir_size_mb(
        Path(spacy.util.get_package_path(base_model)) if spacy.util.is_package(base_model) else Path(base_model)
    )
    shared = {
        "base_model": base_model,
        "patterns": str(patterns_path) if patterns_path else "",
        "label_map": label_map,
        "sets": sets,
        "base_mb": base_mb,
    }
    start = time.perf_counter()
    rows = run_jobs(jobs, shared, workers)
    summary = summarize(rows)
    goal_rows = goals(summary)
    extra = {"versions": versions(), "seconds": time.perf_counter() - start, "base_model": base_model}
    write_atomic(output_dir / "benchmark.md", markdown(summary, goal_rows, base_model, extra))
    data = {"runs": rows, "summary": summary, "goals": goal_rows, "targets": TARGETS, **extra}
    write_atomic(output_dir / "benchmark.json", srsly.json_dumps(data, indent=2))
    msg.good(f"Wrote {output_dir / 'benchmark.md'} and {output_dir / 'benchmark.json'} in {extra['seconds']:.0f} s")


if __name__ == "__main__":
    typer.run(main)
