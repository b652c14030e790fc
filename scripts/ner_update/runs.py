"""The weasel run a command belongs to, and one run at a time writing into a project.

weasel runs each line of a step as a child process in the project folder and keeps no lock of its own:
two `spacy project run` at once in one project write the same outputs, and project.lock then records one
run's settings beside the other run's outputs, a skip that lasts. So every command starts with
`claim_project`: the first command of a weasel run writes that run (the weasel process: its pid, start
time and command line) to .project-run.json in the project; a command of another run that is still alive
stops there, before it writes anything, with a message naming the run. A run that ended, or was killed,
holds nothing. Commands run by hand, not by weasel, are not held (nor are spaCy's own commands, such as
`spacy train`, which a weasel step may run).
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
class Run:
    """A weasel process: its pid, when it started (so a reused pid is not taken for it) and its command line."""

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
        return shlex.split(out.stdout) if out.returncode == 0 and out.stdout.strip() else None
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
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return None if fields[0] == "Z" else fields[19]  # a zombie has ended
        out = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, IndexError, subprocess.SubprocessError):
        return None


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
    """Record `run` as the one writing into the project `folder`; InputError if another live run holds it."""
    if run is None or fcntl is None:
        return
    try:
        handle = (folder / RUN_FILE).open("a+", encoding="utf8")
    except OSError:  # a project folder this process cannot write to: the step's own writes will say so
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # held for a moment: between reading the holder and writing this run
        handle.seek(0)
        try:
            holder = Run(**srsly.json_loads(handle.read()))
        except (ValueError, TypeError):
            holder = None  # none yet, or unreadable: taken over
        if holder is not None and holder != run and start_time(holder.pid) == holder.started:
            raise InputError(
                f"another run is writing into this project: `{holder.command}` (pid {holder.pid}). Wait for it "
                "to end, or run in a copy of the project: two runs at once would leave each other's outputs "
                "behind, recorded as up to date"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(srsly.json_dumps(asdict(run)))


def run_command(main: Callable, extra_args: bool = False) -> None:
    """Run a command's main with typer once this process's weasel run holds the project (or exit 1)."""
    import typer

    exits_on_input_error(lambda: claim_project(Path.cwd(), weasel_run()))()
    app = typer.Typer(add_completion=False)
    settings = {"allow_extra_args": True, "ignore_unknown_options": True} if extra_args else {}
    app.command(context_settings=settings)(main)
    app()
