"""Parameter sweeps and Monte Carlo: the sweep file, its sample, and the runner (DESIGN §7).

A sweep file (TOML) names a base scenario, the parameters to vary (a grid, a Latin
hypercube, or a Sobol or Morris design through SALib), how many seeds per point, and which
outputs to keep. The runner takes any :class:`concurrent.futures.Executor` — a local process
pool, a Dask cluster's executor, or the inline one — and hands each run to it; only this
(client) process writes results, through :class:`sim.results_store.ResultsStore`, so a
sweep killed part way loses no finished run and, restarted, does only what is left.

Each run's id hashes (model version, parameters, seed, months); its seed derives from the
base seed and the point's own parameters, so adding points never changes existing runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config import ConfigError, Scenario, format_validation_error, load_scenario, read_toml
from sim.fork_server import forkserver_context
from sim.runner import MODEL_VERSION, SERIES_FIELDS, SUMMARY_FIELDS, simulate_outputs

if TYPE_CHECKING:
    from distributed import LocalCluster

    from sim.results_store import ResultsStore

Method = Literal["grid", "lhs", "sobol", "morris"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Varied(_Section):
    """One parameter of the sweep: a dotted scenario path and its values or range."""

    path: str = Field(min_length=1, description="dotted scenario path, e.g. demand.noise_sd")
    values: tuple[float | int | str | bool, ...] | None = Field(
        None, description="grid: the values to try"
    )
    min: float | None = Field(None, strict=True, description="lhs/sobol/morris: lower bound")
    max: float | None = Field(None, strict=True, description="lhs/sobol/morris: upper bound")
    integer: bool = Field(False, description="round sampled values to integers")


class Parameters(_Section):
    method: Method = "grid"
    samples: int = Field(
        8,
        strict=True,
        ge=1,
        le=100_000,
        description="lhs: points; sobol: N (base "
        "sample, N·(D+2) points); morris: trajectories (N·(D+1) points)",
    )
    morris_levels: int = Field(
        4,
        strict=True,
        ge=2,
        le=20,
        description="morris: levels of the grid each parameter moves on (SALib default 4, "
        "Saltelli et al. 2008)",
    )
    vary: tuple[Varied, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ranges(self) -> Parameters:
        for v in self.vary:
            if self.method == "grid" and not v.values:
                raise ValueError(f"parameters.vary '{v.path}': a grid needs `values`")
            if self.method != "grid" and (v.min is None or v.max is None or v.min >= v.max):
                raise ValueError(
                    f"parameters.vary '{v.path}': method {self.method} needs `min` < `max`"
                )
        if self.method == "morris" and len(self.vary) < 2:
            raise ValueError("parameters.method morris needs at least 2 parameters")
        return self


class Outputs(_Section):
    summary: tuple[str, ...] = Field(min_length=1, description="summary scalars to keep")
    series: tuple[str, ...] = Field((), description="model time series to keep (optional)")

    @model_validator(mode="after")
    def _known(self) -> Outputs:
        for name in self.summary:
            if name not in SUMMARY_FIELDS:
                raise ValueError(
                    f"outputs.summary '{name}' is not an output; allowed: "
                    + ", ".join(SUMMARY_FIELDS)
                )
        for name in self.series:
            if name not in SERIES_FIELDS:
                raise ValueError(
                    f"outputs.series '{name}' is not a series; allowed: " + ", ".join(SERIES_FIELDS)
                )
        return self


class SweepInfo(_Section):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    scenario: str = Field(min_length=1, description="base scenario, relative to the sweep file")
    months: int | None = Field(None, strict=True, ge=1, le=600, description="months per run")
    seeds_per_point: int = Field(1, strict=True, ge=1, le=10_000)
    base_seed: int = Field(1, strict=True, ge=0, le=2**63 - 1)
    description: str = ""


class SweepSpec(_Section):
    """A validated sweep file."""

    sweep: SweepInfo
    fixed: dict[str, Any] = Field(
        default_factory=dict,
        description="overrides applied to the base scenario for every run (dotted paths)",
    )
    parameters: Parameters
    outputs: Outputs


@dataclass(frozen=True)
class RunTask:
    """One run of the sweep: what a worker needs, and nothing it must not see."""

    run_id: str
    point: int
    replicate: int
    seed: int
    months: int
    params: dict[str, Any]
    scenario: Scenario
    summary: tuple[str, ...]
    series: tuple[str, ...]


@dataclass(frozen=True)
class Sweep:
    """A sweep ready to run: its spec, file, base scenario and all its tasks, in order."""

    spec: SweepSpec
    path: Path
    text: str
    points: list[dict[str, Any]]
    tasks: list[RunTask]
    unit_sample: np.ndarray | None  # the SALib/LHS sample in parameter units (for analysis)

    @property
    def problem(self) -> dict[str, Any] | None:
        """The SALib problem (names and bounds), or None for a grid."""
        if self.spec.parameters.method == "grid":
            return None
        return salib_problem(self.spec)


# --------------------------------------------------------------------------------------
def load_sweep(path: str | Path) -> Sweep:
    """Read, validate and expand a sweep file; every point's scenario is validated here,
    before any run starts."""
    path = Path(path)
    data = read_toml(path, "sweep file")
    text = path.read_text(encoding="utf-8")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, f"sweep file {path}")) from None
    base = load_scenario((path.parent / spec.sweep.scenario).resolve())
    return expand_sweep(spec, base, path, text)


def expand_sweep(spec: SweepSpec, base: Scenario, path: Path, text: str) -> Sweep:
    """The sweep of a validated ``spec`` over the ``base`` scenario: every point's scenario
    validated and every run's task (id, seed) made. ``path`` and ``text`` are what the
    manifest records as the sweep's file and its text."""
    if spec.fixed:
        try:
            base = base.with_overrides(spec.fixed)
        except ConfigError as exc:
            raise ConfigError(f"sweep file {path}, [fixed]: {exc}") from None
    points, sample = sample_points(spec)
    months = spec.sweep.months or base.run.months
    tasks = []
    for k, params in enumerate(points):
        try:
            scenario = base.with_overrides(params)
        except ConfigError as exc:
            raise ConfigError(f"sweep file {path}, point {k} {params}: {exc}") from None
        for r in range(spec.sweep.seeds_per_point):
            seed = run_seed(spec.sweep.base_seed, params, r)
            task = RunTask(
                run_id(scenario, seed, months),
                k,
                r,
                seed,
                months,
                params,
                scenario,
                spec.outputs.summary,
                spec.outputs.series,
            )
            tasks.append(task)
    return Sweep(spec, path, text, points, tasks, sample)


def sample_points(spec: SweepSpec) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """The parameter points of the design, in order, and the numeric sample matrix."""
    p = spec.parameters
    names = [v.path for v in p.vary]
    if p.method == "grid":
        combos = itertools.product(*(v.values or () for v in p.vary))
        return [dict(zip(names, c, strict=True)) for c in combos], None
    problem = salib_problem(spec)
    seed = spec.sweep.base_seed % (2**32)
    if p.method == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(names), seed=seed).random(p.samples)
        lo = np.array([v.min for v in p.vary])
        hi = np.array([v.max for v in p.vary])
        sample = lo + unit * (hi - lo)
    elif p.method == "sobol":
        from SALib.sample import sobol

        sample = sobol.sample(problem, p.samples, calc_second_order=False, seed=seed)
    else:
        from SALib.sample import morris

        sample = morris.sample(problem, p.samples, num_levels=p.morris_levels, seed=seed)
    points = []
    for row in sample:
        points.append(
            {
                v.path: (int(np.rint(x)) if v.integer else float(x))
                for v, x in zip(p.vary, row, strict=True)
            }
        )
    return points, sample


def salib_problem(spec: SweepSpec) -> dict[str, Any]:
    vary = spec.parameters.vary
    return {
        "num_vars": len(vary),
        "names": [v.path for v in vary],
        "bounds": [[v.min, v.max] for v in vary],
    }


def _canonical(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def run_seed(base_seed: int, params: dict[str, Any], replicate: int) -> int:
    """Seed of one run: from the base seed, the point's own parameters and the replicate,
    through :class:`numpy.random.SeedSequence` (stable when other points are added)."""
    key = int(hashlib.sha256(_canonical(params).encode()).hexdigest()[:8], 16)
    state = np.random.SeedSequence([base_seed, key, replicate]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def run_id(scenario: Scenario, seed: int, months: int) -> str:
    """Id of a run: a hash of (model version, the run's full resolved parameters, seed,
    months). Any change to the base scenario, the fixed overrides or the point's parameters
    gives a new id, so a restarted sweep never reuses a run made with other inputs."""
    blob = json.dumps(
        {
            "model": MODEL_VERSION,
            "params": scenario.model_dump(mode="json"),
            "seed": seed,
            "months": months,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


# --------------------------------------------------------------------------------------
def default_run_fn(task: RunTask) -> dict[str, Any]:
    """Run one task in a worker; return its summary row and requested series. Only what the
    sweep keeps is computed (:func:`sim.runner.simulate_outputs`): no table that none of
    the kept outputs reads is built."""
    start = time.perf_counter()
    row, series = simulate_outputs(task.scenario, task.seed, task.months, task.summary, task.series)
    return {"summary": row, "series": series, "seconds": time.perf_counter() - start}


PARENT_POLL_SECONDS = 0.5
"""How often a sweep worker checks that the sweep process is still alive (seconds)."""


def sweep_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes (started by a fork server) that exit when this process
    dies, however it dies (SIGKILL included): see :func:`exit_with_parent`."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=forkserver_context(),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )


def exit_with_parent(parent_pid: int, poll_seconds: float = PARENT_POLL_SECONDS) -> None:
    """Worker initializer: end this worker within ``poll_seconds`` of ``parent_pid``'s death.

    The worker's own parent is the fork server, not the sweep process, so neither
    ``os.getppid()`` nor ``PR_SET_PDEATHSIG`` sees the sweep die; a daemon thread watches
    the sweep's pid, passed in explicitly, instead.
    """

    def watch() -> None:
        while _alive(parent_pid):
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, dead but not yet reaped, is not alive)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (not Linux): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class InlineExecutor(Executor):
    """Runs each task at once in this process (``--engine serial``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # recorded by the runner as a failed run
            future.set_exception(exc)
        return future


@dataclass
class SweepReport:
    """What one invocation of :func:`run_sweep` did (runs, and wall time in seconds)."""

    total: int  # distinct runs (a design that repeats a point repeats no run)
    skipped: int
    done: int
    failed: int
    seconds: float
    interrupted: bool = False


def run_sweep(
    sweep: Sweep,
    store: ResultsStore,
    executor: Executor,
    *,
    run_fn: Callable[[RunTask], dict[str, Any]] = default_run_fn,
    force: bool = False,
    progress: bool = True,
    max_in_flight: int = 64,
    on_result: Callable[[RunTask, bool], None] | None = None,
) -> SweepReport:
    """Run every task of ``sweep`` not yet finished in ``store`` on ``executor``.

    At most ``max_in_flight`` runs are submitted at a time (so a sweep of a million runs
    does not build a million futures). Results are written by this process as each run
    finishes; a run that raises is recorded with its traceback and the sweep goes on. On
    KeyboardInterrupt (Ctrl-C, or SIGTERM through the CLI) the runs not yet finished are
    cancelled and the report says so: rerunning the same command resumes.
    ``on_result(task, ok)`` is called after each run is recorded (for progress reports).
    """
    from tqdm import tqdm

    store.open(sweep, force=force)
    finished = store.done_ids()
    unique = {t.run_id: t for t in reversed(sweep.tasks)}  # a repeated point runs once
    todo = [t for t in sweep.tasks if t.run_id not in finished and unique[t.run_id] is t]
    skipped = len(unique) - len(todo)
    start = time.perf_counter()
    done = failed = 0
    interrupted = False
    bar = tqdm(
        total=len(unique),
        initial=skipped,
        desc=f"sweep {sweep.spec.sweep.name}",
        unit="run",
        disable=not progress,
        dynamic_ncols=True,
    )
    bar.set_postfix(done=skipped, failed=0)
    pending: dict[Future, RunTask] = {}
    queue: Iterator[RunTask] = iter(todo)

    def refill() -> None:
        for task in itertools.islice(queue, max(0, max_in_flight - len(pending))):
            pending[executor.submit(run_fn, task)] = task

    try:
        refill()
        while pending:
            finished_now, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in finished_now:
                task = pending.pop(future)
                try:
                    result = future.result()
                except Exception:
                    store.write_failure(task, traceback.format_exc())
                    failed += 1
                    ok = False
                else:
                    store.write_run(task, result)
                    done += 1
                    ok = True
                bar.set_postfix(done=skipped + done, failed=failed, refresh=False)
                bar.update()
                if on_result is not None:
                    on_result(task, ok)
            refill()
    except KeyboardInterrupt:
        interrupted = True
        for future in pending:
            future.cancel()
    finally:
        bar.close()
    return SweepReport(len(unique), skipped, done, failed, time.perf_counter() - start, interrupted)


# --------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------
ALLOWED_WORKER_DEATHS = 3
"""How often Dask re-runs a task whose worker died (the scheduler's allowed-failures)."""


@contextlib.contextmanager
def executor_for(engine: str, workers: int, scheduler: str | None = None) -> Iterator[Executor]:
    """The executor of ``engine``, shut down (pending runs cancelled) on exit."""
    if engine == "serial":
        yield InlineExecutor()
        return
    if engine == "process":
        pool = sweep_pool(workers)
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return
    with dask_executor(workers, scheduler) as pool:
        yield pool


def local_dask_cluster(workers: int) -> LocalCluster:
    """A local Dask cluster of ``workers`` single-threaded worker processes, without the
    dashboard. The scheduler still serves a few HTTP routes (health, metrics), by default on
    port 8787 even with the dashboard off; here on a free port of the loopback interface,
    so that two clusters started at once (two sweeps, two test workers) do not collide and
    Dask warns of no port in use. Dask is imported here."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=50,
    )


@contextlib.contextmanager
def dask_executor(workers: int, scheduler: str | None = None) -> Iterator[Executor]:
    """A Dask executor: on the cluster at ``scheduler``, else on a new local cluster of
    ``workers`` single-threaded worker processes (each watched by a nanny that restarts it).
    Dask is imported here, when a Dask engine is asked for: importing it takes about a second."""
    import dask
    from distributed import Client

    with dask.config.set(
        {
            "distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS,
        }
    ):
        if scheduler:
            try:
                client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise ConfigError(
                    f"--scheduler '{scheduler}': no Dask scheduler answered ({exc}). Start one "
                    "with `dask scheduler` and workers with `dask worker ADDRESS`. Nothing "
                    "was run or written."
                ) from None
            cluster = None
        else:
            cluster = local_dask_cluster(workers)
            client = Client(cluster)
        try:
            # pure=False: every submission is its own task (no result sharing by key)
            yield client.get_executor(pure=False)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
