"""Running the recipe benchmark: every recipe (configs/recipes/*.cfg) trained on the same base,
data and seeds, `workers` trainings at a time, and each run's shipped pipeline evaluated as
`evaluate` does, timed against the base and weighed against it. The tables are in
benchmark_tables.py. Progress goes to the `say` callback; problems with the inputs raise InputError.
"""

import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import spacy
import srsly
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.util import load_config

from ner_update.common import InputError
from ner_update.evaluation import scoring
from ner_update.inputs.patterns import load_patterns, pattern_pipeline, patterns_file
from ner_update.pipelines import load_base_meta
from ner_update.registered import REGISTERED_DIR, load_base, register_all
from ner_update.update import decoding
from ner_update.update.recipes import adapt_config, drop_training_strings, recipe_base

ROOT = Path(__file__).resolve().parents[3]
RECIPES = ROOT / "configs" / "recipes"
CONSTRAINTS = ROOT / "constraints.txt"


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


def versions(constraints: Path = CONSTRAINTS) -> Tuple[str, List[str]]:
    """The installed versions of the pinned packages, as one line for the tables, and those that
    differ from `constraints` ("name installed (pinned wanted)")."""
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
    text = ", ".join(found) + (f"; differing from {constraints.name}: {', '.join(differ)}" if differ else "")
    return text, differ


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


def run_jobs(
    jobs: List[Dict], shared: Dict, workers: int, say: Callable[[str], None] = lambda text: None
) -> List[Dict]:
    """Train every job, `workers` at a time, then evaluate each; one row per job. Each run trained,
    evaluated and timed is said with the seconds since the start."""
    rows: List[Dict] = []
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        trained = []
        for i, job in enumerate(pool.map(train_one, jobs), start=1):
            elapsed = time.perf_counter() - start
            say(f"[{elapsed:.0f} s] trained {job['recipe']} seed {job['seed']} ({i}/{len(jobs)})")
            trained.append({**shared, **job})
        for row in pool.map(evaluate_one, trained):
            rows.append(row)
            say(f"[{time.perf_counter() - start:.0f} s] evaluated {row['recipe']} seed {row['seed']}")
    for row, job in zip(rows, trained):  # one at a time: a timing must not share the cores with other work
        row.update(time_one(job))
        say(f"[{time.perf_counter() - start:.0f} s] timed {row['recipe']} seed {row['seed']}")
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


def checked_corpora(corpus_dir: Path, checkpoint_set: str, max_steps: int = 0) -> Tuple[Dict, Dict]:
    """`corpora`, with `max_steps` (0: the recipe's) among the overrides and the checked sets
    that are empty (no such set) left out; InputError naming the corpora that are missing."""
    sets, common = corpora(corpus_dir, checkpoint_set)
    if max_steps:
        common["training.max_steps"] = max_steps
    paths = {p for group in sets.values() for p in group.values()} | {p for p in common.values() if isinstance(p, str)}
    missing = sorted(p for p in paths if not Path(p).exists())
    if missing:
        raise InputError(f"Missing corpora: {', '.join(missing)} (run the project's `all` workflow first)")
    for name in ("checked_test", "checked_other"):  # no such checked set (its var is ""): convert wrote it empty
        if not len(DocBin().from_disk(sets["new"][name])):
            del sets["new"][name]
    return sets, common


def checked_inputs(names: List[str], label_map: str, patterns_value: str, base_model: str) -> Optional[Path]:
    """The patterns' path (None: none); InputError on an unknown recipe, a bad label map (or none
    derivable from the base's labels, as each evaluation derives it) or patterns file."""
    unknown = [r for r in names if not (RECIPES / f"{r}.cfg").exists()]
    if unknown:
        raise InputError(f"Unknown recipes {unknown}; choose from {sorted(p.stem for p in RECIPES.glob('*.cfg'))}")
    try:
        scoring.label_map_for(label_map, load_base_meta(base_model).get("labels", {}).get("ner", []))
        patterns_path = patterns_file(patterns_value)
        if patterns_path is not None:
            load_patterns(patterns_path)
    except ValueError as err:  # InputError is one
        raise InputError(str(err)) from None
    return patterns_path


def shared_inputs(base_model: str, patterns_path: Optional[Path], label_map: str, sets: Dict) -> Dict:
    """What every run's evaluation reads besides its own job: the base (and its size), patterns, label map, sets."""
    folder = Path(spacy.util.get_package_path(base_model)) if spacy.util.is_package(base_model) else Path(base_model)
    return {
        "base_model": base_model,
        "patterns": str(patterns_path) if patterns_path else "",
        "label_map": label_map,
        "sets": sets,
        "base_mb": dir_size_mb(folder),
    }
