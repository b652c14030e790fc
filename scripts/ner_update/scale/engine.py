"""Run a job over shards of items on one machine or on a Dask cluster. A library: prints nothing.

The steps that read raw text (`bootstrap`, `rehearsal`, `annotate`, `apply`) cut
their input into shards (lists of texts, a few thousand each) and hand them to
`runner.map(job, shards)` (`with open_engine(options) as runner`), which yields
each shard's results in input order, whatever ran it:

- `local`, 1 worker: in this process, no pool;
- `local`, N workers: N processes (spawn start method) of a
  `concurrent.futures.ProcessPoolExecutor`, each of which ends itself within a
  second of this process's end (`kill -9` leaves the pool no chance to stop them);
- `dask`: the workers of a `distributed` cluster, a local one with N worker
  processes started here, or an existing one (`scheduler` address).

A `Job` names a set-up function and its (small, picklable) arguments, never a
loaded pipeline: each worker process calls the set-up once, keeps what it
returns (a function over a shard's items, holding the loaded pipeline) and
reuses it for every later shard of that job. At most `2 x workers` shards are in
flight, so memory is bounded by the shard size, not by the input. A shard is
processed the same way (same items, same batches) whatever the engine and the
number of workers, so the results are the same.
"""

import hashlib
import os
import pickle
import resource
import sys
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from itertools import islice
from multiprocessing import get_context
from typing import Annotated, Any, Callable, Deque, Dict, Iterable, Iterator, Optional, Tuple

import typer

DASK_REQUIREMENTS = "requirements-distributed.txt"
SHARD_BATCHES = 8  # batches of nlp.pipe per task sent to a worker (annotate, rehearsal)


class Engine(str, Enum):
    local = "local"
    dask = "dask"


class EngineError(RuntimeError):
    """The engine cannot start (Dask missing, scheduler unreachable); the message says what to do."""


@dataclass(frozen=True)
class EngineOptions:
    """Where shards run: `engine`, `workers` (processes; for dask, of the local cluster started here),
    `scheduler` (address of an existing Dask cluster) and `shard_size` (items per shard)."""

    engine: Engine = Engine.local
    workers: int = 1
    scheduler: Optional[str] = None
    shard_size: int = 2000

    def __post_init__(self) -> None:
        if self.workers < 1 or self.shard_size < 1:
            raise ValueError("workers and shard_size must be at least 1")
        if self.scheduler and Engine(self.engine) is not Engine.dask:
            raise ValueError(
                "a scheduler address needs the dask engine (--vars.engine dask, or --engine dask for a script)"
            )


ENGINE_HELP = "Where to run: local (this machine, --workers processes) or dask (a Dask cluster)"
WORKERS_HELP = "Processes: local ones (1: this process), or the workers of the local Dask cluster started here"
SCHEDULER_HELP = "Address of an existing Dask scheduler (tcp://host:8786) instead of a local cluster"
# the three options as every command that reads raw text takes them
EngineOption = Annotated[Engine, typer.Option("--engine", help=ENGINE_HELP)]
WorkersOption = Annotated[int, typer.Option("--workers", min=1, help=WORKERS_HELP)]
SchedulerOption = Annotated[str, typer.Option("--scheduler", help=SCHEDULER_HELP)]


def engine_options(engine: Engine, workers: int, scheduler: str = "", shard_size: int = 2000) -> EngineOptions:
    """EngineOptions from a command's options; EngineError if dask is chosen and not installed,
    ValueError for an inconsistent choice."""
    options = EngineOptions(Engine(engine), workers, scheduler.strip() or None, shard_size)
    if options.engine is Engine.dask:
        import_dask()
    return options


@dataclass(frozen=True)
class Job:
    """What a worker does: `setup(*args)`, called once per worker process, returns a function
    from a shard's items to one result per item. `setup` must be a module-level function of a
    module the workers can import; `args` are small and picklable (a pipeline's path, patterns)."""

    setup: Callable[..., Callable[[list], list]]
    args: Tuple = ()

    def key(self) -> str:
        return hashlib.sha1(pickle.dumps((self.setup, self.args))).hexdigest()


@dataclass
class ShardResult:
    """One shard's items and results, with the process that ran it, that process's peak RSS (bytes)
    and the CPU time it has used so far (seconds)."""

    index: int
    items: list
    results: list
    pid: int = 0
    peak_rss: int = 0
    cpu_seconds: float = 0.0


_RUNNERS: Dict[str, Callable[[list], list]] = {}
_LOCK = threading.Lock()  # a dask worker with several threads runs one shard at a time per process


def peak_rss() -> int:
    """This process's peak resident memory in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def run_job(job: Job, items: list) -> Tuple[list, int, int, float]:
    """Run `job` over one shard in this process (set up on first use); results, pid, peak RSS, CPU time."""
    with _LOCK:
        key = job.key()
        if key not in _RUNNERS:
            _RUNNERS[key] = job.setup(*job.args)
        results = _RUNNERS[key](items)
    if len(results) != len(items):
        raise RuntimeError(f"{job.setup.__name__} returned {len(results)} results for {len(items)} items")
    return results, os.getpid(), peak_rss(), time.process_time()


def end_with_parent(parent: int) -> None:
    """A pool worker's initializer: end this process once `parent` (the one that started the pool) is
    gone. A parent killed with kill -9 cannot shut its pool down, and its workers would otherwise finish
    the shards already sent for nobody, then wait on the dead pool's queues for ever. A daemon thread
    polls the parent's pid (a process whose parent dies is handed to another): portable, and it gets
    its turn while the worker runs Python code or waits on a queue. (Linux's PR_SET_PDEATHSIG would
    tie the worker to the thread that started it, not to the process.)"""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def shards_of(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of `size` items (the last may be shorter), read lazily."""
    iterator = iter(items)
    while True:
        shard = list(islice(iterator, size))
        if not shard:
            return
        yield shard


class _Done:
    """A finished result with the Future interface, for the in-process engine."""

    def __init__(self, value) -> None:
        self.value = value

    def result(self):
        return self.value


class Runner:
    """Maps jobs over shards with one engine; made by `open_engine`."""

    def __init__(self, submit: Callable[[Job, list], Any], window: int, workers: int) -> None:
        self._submit = submit
        self.window = window
        self.workers = workers

    def map(
        self, job: Job, shards: Iterable[list], skip: Callable[[int], bool] = lambda index: False
    ) -> Iterator[ShardResult]:
        """Each shard's results in input order; at most `window` shards are in flight.
        Shards whose index (position in `shards`) `skip` accepts are read but neither run nor yielded."""
        pending: Deque[Tuple[int, list, Any]] = deque()
        for index, items in enumerate(shards):
            if skip(index):
                continue
            pending.append((index, items, self._submit(job, items)))
            if len(pending) >= self.window:
                yield self._collect(*pending.popleft())
        while pending:
            yield self._collect(*pending.popleft())

    @staticmethod
    def _collect(index: int, items: list, future) -> ShardResult:
        return ShardResult(index, items, *future.result())


@contextmanager
def open_engine(options: EngineOptions) -> Iterator[Runner]:
    """A Runner for these options; pools and clusters started here are shut down on exit."""
    engine = Engine(options.engine)
    if engine is Engine.dask:
        with _dask_runner(options) as runner:
            yield runner
    elif options.workers == 1:
        yield Runner(lambda job, items: _Done(run_job(job, items)), window=1, workers=1)
    else:
        pool = ProcessPoolExecutor(
            max_workers=options.workers,
            mp_context=get_context("spawn"),
            initializer=end_with_parent,
            initargs=(os.getpid(),),
        )
        try:
            yield Runner(lambda job, items: pool.submit(run_job, job, items), 2 * options.workers, options.workers)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def import_dask():
    """The distributed module, or EngineError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise EngineError(
            f"--engine dask needs Dask, which is not installed: python -m pip install -r {DASK_REQUIREMENTS} "
            "(or use the local engine, which needs nothing extra: --vars.engine local, or --engine local for a script)"
        ) from None
    return distributed


@contextmanager
def _dask_runner(options: EngineOptions) -> Iterator[Runner]:
    distributed = import_dask()
    cluster = None
    try:
        if options.scheduler:
            client = distributed.Client(options.scheduler, timeout="30s")
        else:
            # a worker's statistical profiler keeps up to 1,000 one-second cycles of
            # stack samples (tens of MiB per worker, growing over a long run's first
            # 17 minutes) and costs CPU: off in the workers started here
            import dask.config  # installed with distributed

            with dask.config.set({"distributed.worker.profile.enabled": False}):
                cluster = distributed.LocalCluster(
                    n_workers=options.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # any free port: never clashes with another cluster
                    silence_logs=40,  # logging.ERROR
                )
            client = distributed.Client(cluster)
    except OSError as err:
        raise EngineError(f"cannot reach the Dask scheduler {options.scheduler or '(local)'}: {err}") from None
    try:
        threads = sum(client.nthreads().values()) or 1
        submit = lambda job, items: client.submit(run_job, job, items, pure=False)  # noqa: E731
        yield Runner(submit, window=2 * threads, workers=threads)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
