"""`apply`'s library: a pipeline's entities over raw texts, as sharded, resumable span records. Prints nothing.

The input files are read in order (a folder's files sorted by name), every
non-blank text in file order, and cut into shards of `shard_size` texts: shard
k holds texts k*size .. (k+1)*size-1 of that stream, whatever the engine. Shard
k is written to `shard-0000k.jsonl`, one record per text:

    {"text": ..., "spans": [{"start", "end", "label", "text"}], "source": file name, "line": n}

A shard is written to a hidden temporary file, flushed to disk and renamed into
place, so a shard file that exists is complete. `manifest.json` records what
the shards were made from (pipeline and input files with their content md5,
shard size); a rerun with the same manifest skips the shards that exist and
writes the rest, and a rerun with other settings or an edited input fails
instead of mixing outputs (or, asked to replace them, deletes the old shards
first: only in a folder whose manifest says it is apply's output). The output
folder is never an input or inside one. The inputs are read once before anything is written: a bad file or
record fails with its name and line and leaves no output.
"""

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import srsly
from spacy.util import get_package_path, is_package

from ner_update.common import InputError, expand_text_files
from ner_update.files import atomic_path, content_md5
from ner_update.inputs.guards import refuse_overwriting_inputs
from ner_update.inputs.texts import iter_numbered_texts
from ner_update.pipelines import pipeline_problem, resolve_base_name
from ner_update.scale.engine import EngineOptions, ShardResult, open_engine, shards_of
from ner_update.scale.jobs import MAX_LENGTH, pipeline_spans_job

MANIFEST = "manifest.json"
MANIFEST_KEYS = {"model", "model_md5", "inputs", "shard_size", "texts"}  # what plan() writes
SHARD_PREFIX = "shard-"


def shard_path(output_dir: Path, index: int) -> Path:
    return output_dir / f"{SHARD_PREFIX}{index:05d}.jsonl"


@dataclass
class Plan:
    """The input files, their texts counted (and checked), and what a run over them is made from."""

    files: List[Path]
    n_texts: int
    skipped: Counter = field(default_factory=Counter)
    manifest: Dict = field(default_factory=dict)
    inputs: List[Path] = field(default_factory=list)  # as given: files and folders

    @property
    def n_shards(self) -> int:
        size = self.manifest["shard_size"]
        return (self.n_texts + size - 1) // size


@dataclass
class Summary:
    texts: int = 0
    spans: int = 0
    shards_written: int = 0
    shards_kept: int = 0
    labels: Counter = field(default_factory=Counter)
    worker_peak_rss: Dict[int, int] = field(default_factory=dict)  # pid -> bytes
    worker_cpu_seconds: Dict[int, float] = field(default_factory=dict)  # pid -> CPU time used by the process


def iter_records(files: List[Path], counts: Counter) -> Iterator[Tuple[str, int, str]]:
    """(file name, line or record number, text) of every non-blank text, in order."""
    for path in files:
        for line, text in iter_numbered_texts(path, counts, MAX_LENGTH):
            yield path.name, line, text


def model_folder(model: str) -> Path:
    """The folder of a pipeline given as a path or an installed package; InputError if neither, or
    if the folder is not a loadable pipeline (pipelines.pipeline_problem)."""
    name = resolve_base_name(model)
    if Path(name).is_dir():
        problem = pipeline_problem(Path(name))
        if problem is not None:
            raise InputError(f"{model}: not a loadable pipeline folder: {problem}")
        return Path(name)
    if is_package(name):
        return get_package_path(name)
    raise InputError(f"{model}: no pipeline folder or installed package of this name")


def plan(model: str, inputs: List[Path], shard_size: int) -> Plan:
    """Check every input text (InputError naming file and line) and describe the run."""
    files = list(dict.fromkeys(expand_text_files(inputs)))
    names = [path.name for path in files]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise InputError(f"two input files are named {clashes[0]}: records name their file by name only")
    skipped: Counter = Counter()
    n_texts = sum(1 for _ in iter_records(files, skipped))
    manifest = {
        "model": model,
        "model_md5": content_md5(model_folder(model)),
        "inputs": [{"file": path.name, "md5": content_md5(path)} for path in files],
        "shard_size": shard_size,
        "texts": n_texts,
    }
    return Plan(files, n_texts, skipped, manifest, list(inputs))


def read_manifest(manifest_path: Path) -> Optional[Dict]:
    """The manifest of an earlier run, None if there is none; InputError if it is not a readable JSON object."""
    if not manifest_path.exists():
        return None
    try:
        found = srsly.read_json(manifest_path) if manifest_path.is_file() else None
    except ValueError:
        found = None
    if not isinstance(found, dict) or set(found) != MANIFEST_KEYS:
        raise InputError(f"{manifest_path}: not a readable manifest of apply's (truncated, or another tool's)")
    return found


def finished_shards(output_dir: Path, plan_: Plan, replace: bool = False) -> set:
    """Indexes of the shards already written for this plan. If the folder holds another run's shards:
    InputError, or (replace, and its manifest says it is apply's output) they and the manifest are
    deleted and nothing is finished."""
    refuse_overwriting_inputs([output_dir], [*plan_.inputs, *plan_.files])
    inside = next((f for f in plan_.files if output_dir.resolve() in f.resolve().parents), None)
    if inside is not None:
        raise InputError(f"{output_dir}: the output folder holds an input ({inside}); write it elsewhere")
    manifest_path = output_dir / MANIFEST
    found = read_manifest(manifest_path)
    shards = sorted(output_dir.glob(f"{SHARD_PREFIX}*.jsonl")) if output_dir.is_dir() else []
    if found is None and shards:
        raise InputError(f"{output_dir} holds shards without a {MANIFEST}: not apply's output, so nothing is replaced")
    if found is not None and found != plan_.manifest:
        changed = sorted(k for k in set(found) | set(plan_.manifest) if found.get(k) != plan_.manifest.get(k))
        problem = f"{output_dir} holds the output of another run (different {', '.join(changed)})"
        if not replace:
            raise InputError(f"{problem}: remove the folder, write to another one, or pass --replace")
        for path in [*shards, manifest_path]:
            path.unlink(missing_ok=True)
        return set()
    return {i for i in range(plan_.n_shards) if shard_path(output_dir, i).exists()}


def write_durably(path: Path, content: str) -> None:
    """Write `path` atomically and flushed to disk: it exists only once it is complete."""
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())


def shard_records(result: ShardResult) -> List[dict]:
    return [
        {"text": text, "spans": spans, "source": source, "line": line}
        for (source, line, text), spans in zip(result.items, result.results)
    ]


def apply(
    model: str,
    plan_: Plan,
    output_dir: Path,
    options: EngineOptions,
    progress: Optional[Callable[[int], None]] = None,
    replace: bool = False,
) -> Summary:
    """Run `model` over the planned texts with the engine; write the missing shards, keep the others.
    `progress` is called with the number of texts done (those of the kept shards first); `replace`:
    see finished_shards."""
    done = finished_shards(output_dir, plan_, replace)
    output_dir.mkdir(parents=True, exist_ok=True)
    for leftover in output_dir.glob(f".{SHARD_PREFIX}*.tmp"):  # an interrupted write
        leftover.unlink()
    write_durably(output_dir / MANIFEST, srsly.json_dumps(plan_.manifest, indent=2) + "\n")
    size = plan_.manifest["shard_size"]
    summary = Summary(shards_kept=len(done))
    summary.texts = sum(min(size, plan_.n_texts - i * size) for i in done)
    if progress is not None and summary.texts:
        progress(summary.texts)
    shards = shards_of(iter_records(plan_.files, Counter()), size)
    with open_engine(options) as runner:
        for result in runner.map(pipeline_spans_job(model, with_text=True), shards, skip=done.__contains__):
            records = shard_records(result)
            write_durably(shard_path(output_dir, result.index), "".join(srsly.json_dumps(r) + "\n" for r in records))
            summary.texts += len(records)
            summary.shards_written += 1
            summary.spans += sum(len(r["spans"]) for r in records)
            summary.labels.update(s["label"] for r in records for s in r["spans"])
            summary.worker_peak_rss[result.pid] = max(summary.worker_peak_rss.get(result.pid, 0), result.peak_rss)
            summary.worker_cpu_seconds[result.pid] = result.cpu_seconds
            if progress is not None:
                progress(len(records))
    return summary
