"""Benchmark recipes for adding an entity type to a trained pipeline.

Every recipe runs on the same base, data and seeds, two runs at a time (one per
CPU core), and is evaluated like `evaluate` does: new-label P/R/F on the
name-disjoint dev split and on the hand-checked real-text set; old-label F
against gold and agreement with the base on the held-out sets of both domains
(EWT, tweets) and on held-out texts of the user's domain; new-label entities
predicted where the gold has none; whether frozen outputs are unchanged;
training time; inference speed relative to the base, timed back to back; size.

Recipes are trainings (anchors and rehearsal variants) and, for the default
training, every way `assemble` combines rules and model. Also measures
`convert` against a minimal make_doc + char_span loop, and rehearsal
annotation with only the needed components against the full pipeline.
"""

import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import spacy
import srsly
import typer
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.util import load_config
from thinc.api import Config
from wasabi import msg

import assemble
import convert
import evaluate
import rehearsal
from bootstrap import load_patterns, pattern_pipeline
from common import InputError, load_base, write_atomic
from make_config import adapt_config

SCRIPTS = Path(__file__).parent


def rehearsal_settings(silver: float, teacher: float, merge: bool) -> Dict:
    """Overrides of configs/config.cfg that select a rehearsal variant."""
    return {
        "training.before_update.silver_ratio": silver,
        "training.before_update.teacher_ratio": teacher,
        "merge": merge,
    }


# trainings: name -> (description, overrides of configs/config.cfg)
TRAININGS: Dict[str, Tuple[str, Dict]] = {
    "anchor": (
        "explosion/projects ner_demo_update: all but ner frozen, new-label data only",
        rehearsal_settings(0, 0, False),
    ),
    "ner_double": (
        "explosion/projects ner_double: base frozen, a fresh second ner for the new labels only",
        {"ner_double": True},
    ),
    "default": ("this project's configs/config.cfg as checked in", {}),
    "rehearsal": ("merged base entities + silver 2:1 + teacher-student 1:1", rehearsal_settings(2, 1, True)),
    "silver": ("silver blend 1:1 only", rehearsal_settings(1, 0, False)),
    "merged": ("base's old-label predictions merged into the new-label docs only", rehearsal_settings(0, 0, True)),
    "merged_silver": ("merged + silver 1:1", rehearsal_settings(1, 0, True)),
    "teacher": ("teacher-student 1:1 only", rehearsal_settings(0, 1, False)),
    "merged_teacher": ("merged + teacher-student 1:1", rehearsal_settings(0, 1, True)),
    "all_1to1": ("merged + silver 1:1 + teacher-student 1:1", rehearsal_settings(1, 1, True)),
}
# recipe -> (training, combine mode); the trainings are shipped as ner_only, ner_double as trained
RECIPES: Dict[str, Tuple[str, str]] = {
    **{name: (name, "ner_only") for name in TRAININGS},
    "ner_double": ("ner_double", "as_trained"),
    "patterns_on_base": ("none", "rules_on_base"),
    **{
        f"rehearsal+{mode}": ("rehearsal", mode) for mode in assemble.MODES if mode not in ("ner_only", "rules_on_base")
    },
    **{f"default+{mode}": ("default", mode) for mode in assemble.MODES if mode not in ("ner_only", "rules_on_base")},
}


def ner_double_config(cfg: Config, ner_model: Dict) -> Config:
    """All base components frozen; a fresh ner (own tok2vec) after the base's ner, new-label data only."""
    cfg = Config(cfg).copy()
    cfg["nlp"]["pipeline"] = list(cfg["nlp"]["pipeline"]) + ["new_ner"]
    cfg["components"]["new_ner"] = {"factory": "ner", "model": ner_model}
    cfg["training"]["frozen_components"] = [n for n in cfg["nlp"]["pipeline"] if n != "new_ner"]
    cfg["training"]["before_update"]["silver_ratio"] = 0.0
    cfg["training"]["before_update"]["teacher_ratio"] = 0.0
    cfg["corpora"]["train"]["base_ents_path"] = None
    cfg["corpora"]["dev"]["base_ents_path"] = None
    return cfg


def training_config(template: Config, name: str, ner_model: Dict, paths: Dict[str, str]) -> Tuple[Config, Dict]:
    """The config and the overrides of one training. A recipe that names `merge`
    sets the base-entity paths itself, whatever the checked-in config says."""
    overrides = dict(TRAININGS[name][1])
    if overrides.pop("ner_double", False):
        return ner_double_config(template, ner_model), {}
    if "merge" in overrides:
        merge = overrides.pop("merge")
        overrides["corpora.train.base_ents_path"] = paths["paths.train_base_ents"] if merge else None
        overrides["corpora.dev.base_ents_path"] = paths["paths.dev_base_ents"] if merge else None
    return template, overrides


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


def words_per_second(nlp: Language, texts: List[str], repeats: int = 2) -> float:
    """Best of `repeats` runs of nlp.pipe over the texts, after a warm-up run."""
    list(nlp.pipe(texts[:50]))
    n_words, best = 0, float("inf")
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
    return {
        "texts": len(texts),
        "components": needed,
        "full_s": t_full,
        "needed_s": t_needed,
        "ratio": t_full / t_needed,
    }


def train_one(job: Dict) -> Dict:
    """Run `spacy train` in a subprocess (its own registry state); return the job with its time."""
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    args = [f"--{k}={v if v is not None else 'null'}" for k, v in job["overrides"].items()]
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "train",
        str(out / "config.cfg"),
        "--output",
        str(out),
        "--code",
        str(SCRIPTS / "functions.py"),
        *args,
    ]
    start = time.perf_counter()
    with open(out / "train.log", "w", encoding="utf8") as log:
        result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f"training {job['training']} (seed {job['seed']}) failed: see {out / 'train.log'}")
    return {**job, "train_seconds": time.perf_counter() - start}


def evaluate_one(job: Dict) -> List[Dict]:
    """Assemble and evaluate every recipe that uses one trained model; one row per recipe."""
    import functions  # noqa: F401  (components of assembled pipelines)

    sets = job["sets"]
    base = load_base(job["base_model"])
    patterns = load_patterns(Path(job["patterns"]))
    pattern_nlp = pattern_pipeline(base.lang, patterns)
    new_sets = {n: list(DocBin().from_disk(p).get_docs(base.vocab)) for n, p in sets["new"].items()}
    old_sets = {n: list(DocBin().from_disk(p).get_docs(base.vocab)) for n, p in sets["old"].items()}
    agreement = {n: [r["text"] for r in srsly.read_jsonl(p)] for n, p in sets["agreement"].items()}
    mapping = evaluate.parse_label_map(job["label_map"])
    trained = "out" in job
    losses = list(srsly.read_jsonl(Path(job["out"]) / "losses.jsonl")) if trained else []
    timing_texts = [d.text for d in next(iter(old_sets.values()))]
    rows, cache = [], {}
    for recipe, mode in job["recipes"]:
        updated = spacy.load(Path(job["out"]) / "model-best") if trained else load_base(job["base_model"])
        if mode == "as_trained":
            shipped = updated
        else:
            shipped = assemble.assemble(load_base(job["base_model"]), updated, patterns, mode)
        metrics = evaluate.evaluate(
            base, shipped, pattern_nlp, new_sets, old_sets, agreement, mapping, progress=False, cache=cache
        )
        row = {
            "recipe": recipe,
            "training": job["training"],
            "combine": mode,
            "seed": job["seed"],
            "train_seconds": job.get("train_seconds", 0.0),
            "train_wps": losses[-1]["words"] / job["train_seconds"] if losses and job.get("train_seconds") else 0.0,
            "frozen_unchanged": metrics.get("frozen_outputs", {}).get("identical", True),
        }
        for name, entry in metrics["new_label_sets"].items():
            for key in ("p", "r", "f"):
                row[f"{name}_{key}"] = entry["shipped"][key]
            row[f"{name}_patterns_f"] = entry["patterns"]["f"]
        for group in ("old_label_sets", "agreement_sets"):
            for name, entry in metrics[group].items():
                row[f"{name}_agreement"] = entry["shipped"]["agreement"]["f"]
                row[f"{name}_new_label_predictions"] = entry["shipped"]["new_label_predictions"]
                if "gold" in entry["shipped"]:
                    row[f"{name}_gold_f"] = entry["shipped"]["gold"]["f"]
                    row[f"{name}_base_gold_f"] = entry["base"]["gold"]["f"]
        # base and result timed back to back, so both see the same machine load
        row["inference_rel"] = words_per_second(shipped, timing_texts) / words_per_second(base, timing_texts)
        saved = Path(job["tmp"]) / f"{recipe}-{job['seed']}"
        saved.mkdir(parents=True, exist_ok=True)
        shipped.to_disk(saved)
        row["size_mb"] = dir_size_mb(saved)
        rows.append(row)
    return rows


def summarize(rows: List[Dict]) -> List[Dict]:
    """Mean and sample standard deviation per recipe, in recipe order."""
    summary = []
    for name in dict.fromkeys(r["recipe"] for r in rows):
        runs = [r for r in rows if r["recipe"] == name]
        entry = {
            "recipe": name,
            "training": runs[0]["training"],
            "combine": runs[0]["combine"],
            "seeds": [r["seed"] for r in runs],
            "frozen_unchanged": all(r["frozen_unchanged"] for r in runs),
        }
        for key in runs[0]:
            if (
                key in entry
                or key in ("seed", "recipe", "training", "combine")
                or not isinstance(runs[0][key], (int, float))
            ):
                continue
            values = [r[key] for r in runs]
            entry[key] = statistics.mean(values)
            entry[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        summary.append(entry)
    return summary


COLUMNS = [
    ("dev F", "dev_f"),
    ("real P", "checked_dev_p"),
    ("real R", "checked_dev_r"),
    ("real F", "checked_dev_f"),
    ("EWT F", "ewt_gold_f"),
    ("BTC F", "btc_gold_f"),
    ("agr EWT", "ewt_agreement"),
    ("agr BTC", "btc_agreement"),
    ("agr domain", "domain_agreement"),
    ("new on EWT", "ewt_new_label_predictions"),
    ("new on BTC", "btc_new_label_predictions"),
    ("train s", "train_seconds"),
    ("infer vs base", "inference_rel"),
    ("MB", "size_mb"),
]


def table_rows(summary: List[Dict]) -> Tuple[Tuple[str, ...], List[Tuple]]:
    def cell(entry: Dict, key: str) -> str:
        if key not in entry:
            return "–"
        fmt = (
            "{:.2f}"
            if key == "inference_rel"
            else "{:.0f}"
            if "predictions" in key or key == "train_seconds"
            else "{:.1f}"
        )
        if key == "size_mb":
            return fmt.format(entry[key])
        return f"{fmt.format(entry[key])} ± {fmt.format(entry[key + '_sd'])}"

    header = ("recipe", *(c for c, _ in COLUMNS), "frozen same")
    rows = [(e["recipe"], *(cell(e, k) for _, k in COLUMNS), "yes" if e["frozen_unchanged"] else "NO") for e in summary]
    return header, rows


def goal(summary: List[Dict]) -> List[Dict]:
    """Where each recipe stands against the goal: agreement >= 95 on EWT and BTC and
    real-text F within 1 point of the best recipe's."""
    best = max(e.get("checked_dev_f", 0.0) for e in summary)
    result = []
    for e in summary:
        agreement = min(e.get("ewt_agreement", 0.0), e.get("btc_agreement", 0.0))
        gap = best - e.get("checked_dev_f", 0.0)
        result.append(
            {
                "recipe": e["recipe"],
                "min_agreement": agreement,
                "f_gap_to_best": gap,
                "meets_goal": agreement >= 95 and gap <= 1.0,
            }
        )
    return result


def markdown(header, rows, summary: List[Dict], goals: List[Dict], extra: Dict) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    lines.append("")
    descriptions = {
        **{n: d for n, (d, _) in TRAININGS.items()},
        **{f"default+{m}": f"the default training, shipped as `{m}`" for m in assemble.MODES},
        "anchor+rules_win_second_ner": "the anchor training (no rehearsal), shipped as `rules_win_second_ner`",
        "patterns_on_base": "the patterns as an entity_ruler after the untouched base's ner (no training)",
    }
    lines += [f"- `{e['recipe']}`: {descriptions.get(e['recipe'], '')}" for e in summary]
    lines.append("")
    lines.append(
        f"Mean ± sample standard deviation over seeds {summary[0]['seeds'] if summary else []}. "
        "dev: the name-disjoint dev split; real: the hand-checked real-text set; agr: F of the shipped "
        "pipeline's old-label entities against the base's own predictions; new on EWT/BTC: new-label "
        "entities predicted where the gold has none."
    )
    lines.append(
        "\n| recipe | lowest agreement (EWT, BTC) | real F behind the best | meets the goal |\n|---|---|---|---|"
    )
    lines += [
        f"| {g['recipe']} | {g['min_agreement']:.1f} | {g['f_gap_to_best']:.1f} | {'yes' if g['meets_goal'] else 'no'} |"
        for g in goals
    ]
    c, r = extra["convert"], extra["rehearsal"]
    lines.append(
        f"\n| throughput | plain way | this project | ratio |\n|---|---|---|---|\n"
        f"| convert ({c['records']} records) vs make_doc + char_span loop | {c['minimal_s'] * 1000:.1f} ms | "
        f"{c['convert_s'] * 1000:.1f} ms | {c['ratio']:.2f}x |\n"
        f"| rehearsal annotation ({r['texts']} texts) with {r['components']} vs full pipeline | "
        f"{r['full_s']:.2f} s | {r['needed_s']:.2f} s | {r['ratio']:.2f}x |"
    )
    lines.append(f"\nPackages: {extra['versions']}")
    return "\n".join(lines) + "\n"


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
        msg.warn(
            f"Installed versions differ from {constraints.name}: {', '.join(differ)}; figures may differ from "
            "the published ones (python -m pip install -r requirements.txt -c constraints.txt)"
        )
    return ", ".join(found) + (f"; differing from {constraints.name}: {', '.join(differ)}" if differ else "")


def main(
    base_model: str = typer.Argument(..., help="Base pipeline: package name or path"),
    corpus_dir: Path = typer.Argument(
        Path("corpus"),
        exists=True,
        file_okay=False,
        help="Folder with the corpora the project's steps write (train/dev, *_base_ents, rehearsal, checked_dev, ewt/btc held-out, domain_heldout)",
    ),
    patterns_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The patterns (EntityRuler JSONL)"),
    output_dir: Path = typer.Option(
        Path("training/benchmark"), "--output", file_okay=False, help="Where runs, benchmark.md and benchmark.json go"
    ),
    config_path: Path = typer.Option(
        Path("configs/config.cfg"), "--config", exists=True, dir_okay=False, help="The update config"
    ),
    base_config: Path = typer.Option(
        Path("configs/base_ner.cfg"),
        "--base-config",
        exists=True,
        dir_okay=False,
        help="Config whose ner model the ner_double recipe's fresh ner uses",
    ),
    recipes: str = typer.Option(",".join(RECIPES), "--recipes", help="Comma-separated recipes to run"),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated seeds; every recipe runs once per seed"),
    workers: int = typer.Option(2, "--workers", min=1, help="Runs at a time (one per CPU core)"),
    max_steps: Optional[int] = typer.Option(
        None, "--max-steps", help="Override [training] max_steps (default: the config's)"
    ),
    eval_frequency: Optional[int] = typer.Option(None, "--eval-frequency", help="Override [training] eval_frequency"),
    label_map: str = typer.Option("", "--label-map", help="Old-label map for evaluation, as in `evaluate`"),
    repeats: int = typer.Option(5, "--repeats", help="Timing repeats for the throughput ratios (best is kept)"),
):
    """Run every recipe on the same base, data and seeds, two at a time; print one table."""
    chosen = [r for r in recipes.split(",") if r]
    unknown = [r for r in chosen if r not in RECIPES]
    if unknown:
        msg.fail(f"Unknown recipes {unknown}; choose from {list(RECIPES)}", exits=1)
    try:
        evaluate.parse_label_map(label_map)
        load_patterns(patterns_path)
    except (ValueError, InputError) as err:
        msg.fail(str(err), exits=1)
    base = load_base(base_model)
    template = adapt_config(load_config(config_path, interpolate=False), base, base_model)
    ner_model = load_config(base_config, interpolate=False)["components"]["ner"]["model"]
    paths = {
        "paths.train": corpus_dir / "train.spacy",
        "paths.dev": corpus_dir / "dev.spacy",
        "paths.train_base_ents": corpus_dir / "train_base_ents.spacy",
        "paths.dev_base_ents": corpus_dir / "dev_base_ents.spacy",
        "paths.rehearsal": corpus_dir / "rehearsal.spacy",
    }
    common = {k: str(v) for k, v in paths.items()}
    if max_steps is not None:
        common["training.max_steps"] = max_steps
    if eval_frequency is not None:
        common["training.eval_frequency"] = eval_frequency
    sets = {
        "new": {"dev": str(corpus_dir / "dev.spacy"), "checked_dev": str(corpus_dir / "checked_dev.spacy")},
        "old": {"ewt": str(corpus_dir / "ewt_heldout.spacy"), "btc": str(corpus_dir / "btc_heldout.spacy")},
        "agreement": {"domain": str(corpus_dir / "domain_heldout.jsonl")},
    }
    missing = [p for group in sets.values() for p in group.values() if not Path(p).exists()]
    if missing:
        msg.fail(f"Missing corpora: {', '.join(missing)} (run the project's `all` workflow first)", exits=1)
    seed_list = [int(s) for s in seeds.split(",")]
    shared = {
        "base_model": base_model,
        "patterns": str(patterns_path),
        "label_map": label_map,
        "sets": sets,
        "tmp": str(output_dir / "shipped"),
    }
    by_training: Dict[str, List[Tuple[str, str]]] = {}
    for recipe in chosen:
        training, mode = RECIPES[recipe]
        by_training.setdefault(training, []).append((recipe, mode))
    train_jobs, eval_jobs = [], []
    for seed in seed_list:
        for training, recipe_modes in by_training.items():
            if training == "none":  # nothing to train: the patterns on the untouched base
                eval_jobs.append({**shared, "training": "none", "seed": seed, "recipes": recipe_modes})
                continue
            cfg, overrides = training_config(template, training, ner_model, common)
            out = output_dir / "runs" / training / str(seed)
            out.mkdir(parents=True, exist_ok=True)
            cfg.to_disk(out / "config.cfg")
            train_jobs.append(
                {
                    **shared,
                    "training": training,
                    "seed": seed,
                    "out": str(out),
                    "recipes": recipe_modes,
                    "overrides": {
                        **common,
                        **overrides,
                        "system.seed": seed,
                        "paths.losses": str(out / "losses.jsonl"),
                    },
                }
            )
    rows: List[Dict] = []
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        trained = pool.map(train_one, train_jobs)
        for i, job in enumerate(trained, start=1):
            msg.info(
                f"[{time.perf_counter() - start:.0f} s] trained {job['training']} seed {job['seed']} "
                f"({i}/{len(train_jobs)}) in {job['train_seconds']:.0f} s"
            )
            eval_jobs.append(job)
        for rows_of_job in pool.map(evaluate_one, eval_jobs):
            rows += rows_of_job
            msg.info(
                f"[{time.perf_counter() - start:.0f} s] evaluated {[r['recipe'] for r in rows_of_job]} "
                f"seed {rows_of_job[0]['seed']}"
            )
    order = {name: i for i, name in enumerate(chosen)}
    rows.sort(key=lambda r: (order[r["recipe"]], r["seed"]))
    texts = (
        [r["text"] for r in srsly.read_jsonl(corpus_dir / "ewt_rehearsal.jsonl")]
        if (corpus_dir / "ewt_rehearsal.jsonl").exists()
        else []
    )
    extra = {
        "convert": convert_ratio(corpus_dir / "bootstrapped.json", repeats),
        "rehearsal": rehearsal_ratio(
            base,
            texts or [d.text for d in DocBin().from_disk(corpus_dir / "dev.spacy").get_docs(base.vocab)],
            max(1, repeats // 2),
        ),
        "versions": versions(),
        "seconds": time.perf_counter() - start,
    }
    summary = summarize(rows)
    goals = goal(summary)
    header, table = table_rows(summary)
    msg.table(table, header=header, divider=True)
    report = markdown(header, table, summary, goals, extra)
    write_atomic(output_dir / "benchmark.md", report)
    write_atomic(
        output_dir / "benchmark.json",
        srsly.json_dumps({"runs": rows, "summary": summary, "goal": goals, **extra}, indent=2),
    )
    msg.good(f"Wrote {output_dir / 'benchmark.md'} and {output_dir / 'benchmark.json'} in {extra['seconds']:.0f} s")


if __name__ == "__main__":
    typer.run(main)
