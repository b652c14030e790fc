"""The weasel run a command belongs to, and one run at a time writing into a project.

weasel runs each line of a step as a child process in the project folder and keeps no lock of its own:
two `spacy project run` at once in one project write the same outputs, and project.lock then records one
run's settings beside the other run's outputs, a skip that lasts. So every command of the project starts
with `claim_project`: it writes its weasel run (the weasel process: pid, start time, command line), itself
and the project's real path to .project-run.json in the project; a command of another run stops there,
before it writes anything, with a message naming the run, while that run's weasel process or its last
command is alive. A run that ended, or was killed, holds nothing; a claim copied along with the project
holds nothing in the copy. A step that runs spaCy's own commands (`spacy train`, `spacy package`) runs a
project command first (`check_vars.py`), which claims the project for it. Commands run by hand, not by
weasel, are not held. Without flock (Windows) nothing is held.
"""

import os
import shlex
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, List, Optional

import srsly

from ner_update.common import InputError, exits_on_input_error

try:
    import fcntl
except ImportError:  # Windows: no flock, and no run is held
    fcntl = None

RUN_FILE = ".project-run.json"


@dataclass(frozen=True)
class Process:
    """A process: its pid and when it started (so a reused pid is not taken for it)."""

    pid: int
    started: str


@dataclass(frozen=True)
class Run:
    """A weasel process and its command line."""

    pid: int
    started: str
    command: str


def command_line_of(pid: int) -> Optional[List[str]]:
    """A process's arguments (/proc on Linux, `ps` elsewhere), or None."""
    proc = Path(f"/proc/{pid}/cmdline")
    try:
        if proc.is_file():
            return [arg.decode("utf8", "replace") for arg in proc.read_bytes().split(b"\0") if arg]
        out = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
        return out.stdout.split() if out.returncode == 0 and out.stdout.strip() else None  # words, as `ps` gives them
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def parent_command_line() -> Optional[List[str]]:
    """The parent process's arguments, or None."""
    return command_line_of(os.getppid())


def start_time(pid: int) -> Optional[str]:
    """When a process started (clock ticks since boot on Linux, `ps`'s lstart elsewhere), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat")
        if stat.is_file():
            fields = stat.read_bytes().rsplit(b")", 1)[1].split()  # after the name, which may hold ")" or spaces
            return None if fields[0] == b"Z" else fields[19].decode()  # a zombie has ended
        out = subprocess.run(["ps", "-o", "stat=,lstart=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
        state, _, started = out.stdout.strip().partition(" ")
        return None if not state or state.startswith("Z") else started.strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return None


def alive(pid: int, started: str) -> bool:
    return start_time(pid) == started


def is_weasel_run(command_line: List[str]) -> bool:
    """`spacy project run ...`, `python -m weasel run ...` or `weasel run ...`."""
    words = [Path(arg).name for arg in command_line]
    pairs = list(zip(words, words[1:]))
    return ("project", "run") in pairs or any(w in ("weasel", "weasel.exe") and n == "run" for w, n in pairs)


def weasel_run() -> Optional[Run]:
    """The weasel run this process is a step of, or None (run by hand, or the parent cannot be read)."""
    pid = os.getppid()
    command_line = command_line_of(pid)
    started = start_time(pid)
    if not command_line or started is None or not is_weasel_run(command_line):
        return None
    return Run(pid, started, shlex.join(command_line))


def claim_project(folder: Path, run: Optional[Run]) -> None:
    """Record `run` (and this process) as the one writing into the project `folder`; InputError if a live
    other run holds it."""
    if run is None or fcntl is None:
        return
    project = os.path.realpath(folder)
    me = Process(os.getpid(), start_time(os.getpid()) or "")
    try:
        handle = (folder / RUN_FILE).open("a+", encoding="utf8")
    except OSError:  # a project folder this process cannot write to: the step's own writes will say so
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)  # held for a moment: between reading the holder and writing this run
        except OSError:  # a file system without flock (some network mounts): not held
            return
        handle.seek(0)
        try:
            claim = srsly.json_loads(handle.read())
            holder, step = Run(**claim["run"]), Process(**claim["step"])
        except (ValueError, TypeError, KeyError):
            claim, holder, step = {}, None, None  # none yet, or unreadable: taken over
        if claim.get("project") == project and holder is not None and holder != run:
            if alive(holder.pid, holder.started) or alive(step.pid, step.started):
                raise InputError(
                    f"another run is writing into this project: `{holder.command}` (pid {holder.pid}). Wait for "
                    "it to end, or run in a copy of the project: two runs at once would leave each other's "
                    "outputs behind, recorded as up to date"
                )
        handle.seek(0)
        handle.truncate()
        handle.write(srsly.json_dumps({"project": project, "run": asdict(run), "step": asdict(me)}))


def run_command(main: Callable, extra_args: bool = False) -> None:
    """Run a command's main with typer once this process's weasel run holds the project (or exit 1)."""
    import typer

    exits_on_input_error(lambda: claim_project(Path.cwd(), weasel_run()))()
    app = typer.Typer(add_completion=False)
    settings = {"allow_extra_args": True, "ignore_unknown_options": True} if extra_args else {}
    app.command(context_settings=settings)(main)
    app()
