"""Train the default base's components: `spacy train` processes side by side
(one per core), each logging to a file, with their progress shown while they run."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, TextIO

# One thread per training process (two run at once on two cores); the
# figures do not depend on it, but the speed does.
THREADS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")}
# a row of spaCy's console table: epoch, step, then losses and scores
STEP_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+\S")


class TrainingError(Exception):
    """A training process failed (the message names its log)."""


def log_path(output: Path) -> Path:
    """Where the log of a training into `output` goes."""
    return output.parent / f"{output.name}.log"


def last_step(log: Path) -> Optional[int]:
    """The step of the last row spaCy's console logger wrote to `log`, or None before the first."""
    try:
        lines = log.read_text(encoding="utf8", errors="replace").splitlines()
    except OSError:
        return None
    steps = [int(m.group(2)) for m in map(STEP_ROW.match, lines) if m]
    return steps[-1] if steps else None


def watch(procs: List[tuple], every: float = 30.0, say: Callable[[str], None] = lambda _: None) -> None:
    """Wait for every (name, log path, process, max steps or None), passing `say` each one's newest
    step as it logs one."""
    shown: Dict[str, Optional[int]] = {}
    start = time.monotonic()
    while True:
        running = [proc.poll() is None for _, _, proc, _ in procs]
        for name, log, _, max_steps in procs:
            step = last_step(log)
            if step is not None and step != shown.get(name):
                shown[name] = step
                total = f" of {max_steps}" if max_steps else ""
                say(f"[{time.monotonic() - start:.0f} s] {name}: step {step}{total} (log: {log})")
        if not any(running):
            return
        time.sleep(every)


def max_steps_of(config: Path, overrides: List[str]) -> Optional[int]:
    """training.max_steps, as the overrides leave it (None when it cannot be read)."""
    from spacy.cli._util import parse_config_overrides
    from spacy.util import load_config

    try:
        given = parse_config_overrides(list(overrides))  # a copy: it pops what it reads
        if "training.max_steps" in given:
            return int(given["training.max_steps"]) or None
        return int(load_config(config, interpolate=False)["training"]["max_steps"]) or None
    except (OSError, KeyError, ValueError, TypeError):
        return None


def train_in_parallel(
    jobs: List[tuple],
    gpu_id: int,
    overrides: List[str],
    every: float = 30.0,
    say: Callable[[str], None] = lambda _: None,
) -> None:
    """Run `spacy train` for each (config, output, extra args) at once, passing `say` their progress;
    TrainingError if any fails."""
    procs, logs = [], []
    try:
        for config, output, extra in jobs:
            cmd = [
                sys.executable,
                "-m",
                "spacy",
                "train",
                str(config),
                "--output",
                str(output),
                "--gpu-id",
                str(gpu_id),
            ]
            log: TextIO = open(log_path(output), "w", encoding="utf8")
            logs.append(log)
            env = {**THREADS, **os.environ}  # a thread count the user set wins
            proc = subprocess.Popen([*cmd, *extra, *overrides], stdout=log, stderr=subprocess.STDOUT, env=env)
            procs.append((str(config), log_path(output), proc, max_steps_of(Path(config), overrides)))
            say(f"Training {config} -> {output} (log: {log.name})")
        watch(procs, every, say)
    finally:
        for log in logs:
            log.close()
    failed = [f"{name} (see {log})" for name, log, proc, _ in procs if proc.wait() != 0]
    if failed:
        raise TrainingError(f"Training failed: {', '.join(failed)}")
