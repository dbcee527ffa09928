"""Sweep throughput: runs per hour on 1 and 2 workers, the runner's overhead per run against
bare model calls, and the bytes a sweep keeps per run.

Usage: python benchmarks/bench_sweep.py [--runs N] [--pool-runs P] [--months M]
       [--world default|small] [--dask]

The sweep is N runs (seeds) of one world (default: experiments/baseline.toml, the default
world) keeping five summary outputs. "bare" steps the model in a loop, its world recording
what a sweep worker's world records for those outputs (:func:`sim.runner.world_records`), and
builds no table (:func:`sim.runner.run_model`), each world freed after its run as a sweep
worker frees it (:func:`sim.runner.collect_the_run`): the floor. "simulate" is a full run with
every table and the whole summary (what the sweep worker did before it computed only what
it keeps). "serial"
is the sweep runner in this process (the worker's outputs, the results store, its Parquet
writes); "process" adds the pool (worker start-up, task pickling). Overhead per run =
(runner time − bare time) / N, also as a share of the bare run; it is measured in CPU time of
this process for the in-process engines (for the serial runner also directly: its CPU time
outside the model calls of the same runs) (bare, simulate, serial: less disturbed by other
work on a shared machine); for the pools in wall time and in CPU time of this process and
its workers together ("runs/h with a free core per worker" = workers × 3600 × N ÷ that CPU
time: what the pool would do on an otherwise idle machine). Compare figures from one
invocation, not across invocations. Within one, too, the pools run minutes after the bare
runs, with both cores busy: their "overhead" holds the machine's drift between the two. On
2026-11-28 it was 30-37% in every invocation, while a 1-worker pool's runs took 0.90-1.15×
the CPU of in-process runs alternating with them in the same minutes (six runs each, four
rounds): the machine's drift, not the pool. ``paired.py`` times two versions at the same
moments.

The pools run ``--pool-runs`` runs (default N). A pool's wall time includes its start-up,
printed apart — the fork server's imports of the model, paid once per process, so by the
first pool only — and, at the end, a worker idle while the other finishes the last run
(about half a run): fixed costs of a sweep, which a sweep of a few hundred runs makes small.
A long sweep's rate is the figure users of sweeps, Sobol screens and calibration fits see.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from interpreter import describe

from sim import runner
from sim.results_store import ResultsStore
from sim.runner import (
    collect_the_run,
    cycle_collector_paused,
    run_model,
    simulate,
    world_records,
)
from sim.sweep import executor_for, load_sweep, run_sweep

ROOT = Path(__file__).resolve().parent.parent
WORLDS = {
    "default": ROOT / "experiments" / "baseline.toml",
    "small": ROOT / "tests" / "fixtures" / "sweeps" / "small.toml",
}
KEPT = (
    "defaults",
    "mean_utilisation",
    "losses_usd",
    "final_spot_price_usd_per_gpu_hour",
    "capex_usd",
)
"""The summary outputs the benchmark's sweep keeps (also ``instructions.py --sweep``'s)."""


def sweep_file(folder: Path, scenario: Path, runs: int, months: int) -> Path:
    path = folder / "bench.toml"
    kept = ", ".join(f'"{k}"' for k in KEPT)
    path.write_text(
        f'[sweep]\nname = "bench"\nscenario = "{scenario.as_posix()}"\nmonths = {months}\n'
        f'seeds_per_point = {runs}\nbase_seed = 3\n[parameters]\nmethod = "grid"\n'
        'vary = [{path = "demand.noise_sd", values = [0.1]}]\n'
        f"[outputs]\nsummary = [{kept}]\n"
    )
    return path


@contextlib.contextmanager
def _model_timer() -> Iterator[list[float]]:
    """CPU seconds this process spends inside :func:`sim.runner.run_model` in the block (the
    sweep's worker calls it through ``sim.runner``): what the serial runner costs beyond the
    model is then timed in the same runs, free of run-to-run noise in the model's time."""
    spent = [0.0]
    original = runner.run_model

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - start

    runner.run_model = timed
    try:
        yield spent
    finally:
        runner.run_model = original


def _workers_cpu(pool: Executor) -> float:
    """User + system CPU seconds used so far by a process pool's workers (read from
    ``/proc``; the fork server's workers are not this process's children, so
    ``getrusage`` does not see them); 0 for other executors or off Linux."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for process in getattr(pool, "_processes", {}).values():
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def start_workers(pool: Executor, workers: int) -> float:
    """Start a process pool's ``workers`` worker processes — the fork server first, which
    imports the model once (:data:`sim.fork_server.WORKER_PRELOAD`), then each worker forked
    from it — and wait until ``workers`` trivial tasks are answered; returns the
    :func:`time.perf_counter` reading then. A sweep pays this start-up once, however many
    runs it makes: the runs after it come at a long sweep's rate. Other executors return
    at once."""
    if isinstance(pool, ProcessPoolExecutor):
        # each submit finds no idle worker and starts one, up to ``workers``: each forked
        # from the fork server once it has imported the model
        for answer in [pool.submit(os.getpid) for _ in range(workers)]:
            answer.result()
    return time.perf_counter()


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="runs per engine (default 8)")
    parser.add_argument("--months", type=int, default=120, help="months per run (default 120)")
    parser.add_argument("--world", choices=sorted(WORLDS), default="default")
    parser.add_argument(
        "--pool-runs",
        type=int,
        default=None,
        help="runs of each pool's sweep (default: --runs); a long sweep's rate needs a few hundred",
    )
    parser.add_argument("--dask", action="store_true", help="also time a local Dask cluster")
    args = parser.parse_args()
    report(args.runs, args.months, args.world, dask=args.dask, pool_runs=args.pool_runs)


def report(
    n: int,
    months: int,
    world: str = "default",
    *,
    dask: bool = False,
    pool_runs: int | None = None,
) -> None:
    """Print the sweep figures for ``n`` runs of ``months`` months of ``world`` (see the
    module's docstring), the pools' for ``pool_runs`` runs (default ``n``); also called by
    ``bench_run.py``, which prints every figure of issue 20 in one run."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sweep = load_sweep(sweep_file(folder, WORLDS[world], n, months))
        pooled = sweep
        if pool_runs is not None and pool_runs != n:
            (folder / "pooled").mkdir()
            pooled = load_sweep(sweep_file(folder / "pooled", WORLDS[world], pool_runs, months))
        wall, cpu = time.perf_counter(), time.process_time()
        records = world_records(KEPT)  # what the sweep's worlds record
        for task in sweep.tasks:
            # each world freed as a sweep worker frees it (the collection is part of a run)
            with cycle_collector_paused():
                run_model(task.scenario, task.seed, task.months, **records)
                collect_the_run()
        bare, bare_cpu = time.perf_counter() - wall, time.process_time() - cpu
        cpu = time.process_time()
        for task in sweep.tasks:
            simulate(task.scenario, task.seed, task.months)
        full_cpu = time.process_time() - cpu
        print(f"{n} runs of {months} months, {world} world, keeping 5 outputs")
        print(f"interpreter: {describe()}")
        print(
            f"bare model      1 worker   {3600 * n / bare_cpu:8.0f} runs/h CPU  "
            f"({bare_cpu / n:.2f} s CPU/run, {bare / n:.2f} s wall)"
        )
        print(
            f"simulate        1 worker   {3600 * n / full_cpu:8.0f} runs/h CPU  "
            f"({full_cpu / n:.2f} s CPU/run; every table and output: "
            f"+{100 * (full_cpu - bare_cpu) / bare_cpu:.0f}% over bare)"
        )
        engines = [("serial", 1), ("process", 1), ("process", 2)]
        if dask:
            engines.append(("dask", 2))
        for engine, workers in engines:
            store = ResultsStore(folder / f"{engine}-{workers}")
            start, cpu = time.perf_counter(), time.process_time()
            runs = sweep if engine == "serial" else pooled
            with executor_for(engine, workers) as pool, _model_timer() as in_model:
                ready = start_workers(pool, workers) - start
                run_sweep(runs, store, pool, progress=False)
                workers_cpu = _workers_cpu(pool)
            wall, used = time.perf_counter() - start, time.process_time() - cpu
            pool_cpu = used + workers_cpu  # this process and its workers
            plural = "s" if workers > 1 else " "
            if engine == "serial":
                per_run = (used - bare_cpu) / n
                direct = (used - in_model[0]) / n  # the runner's own work, timed around it
                print(
                    f"serial sweep    1 worker   {3600 * n / used:8.0f} runs/h CPU  "
                    f"(overhead {1000 * per_run:.0f} ms CPU/run = "
                    f"{100 * per_run * n / bare_cpu:.1f}% of a bare run; outside the model "
                    f"in the same runs {1000 * direct:.0f} ms CPU/run = "
                    f"{100 * direct * n / in_model[0]:.1f}% of their model time)"
                )
                continue
            m = len(runs.tasks)
            line = (
                f"{engine + ' sweep':<15} {workers} worker{plural}  {3600 * m / wall:8.0f} runs/h "
                f"wall ({m} runs, {wall:.2f} s incl. start-up; {pool_cpu:.2f} s CPU in all "
                f"processes = {workers * 3600 * m / pool_cpu:.0f} runs/h with a free core per "
                "worker"
            )
            if engine == "process":
                # the fork server is started once per process: the first pool pays for it
                line += f"; start-up {ready:.2f} s, {3600 * m / (wall - ready):.0f} runs/h after it"
                per_run_cpu = pool_cpu / m - bare_cpu / n
                line += (
                    f"; CPU overhead {1000 * per_run_cpu:.0f} ms/run = "
                    f"{100 * per_run_cpu * n / bare_cpu:.1f}%"
                )
            if workers == 1:
                per_run = wall / m - bare / n
                line += f"; overhead {1000 * per_run:.0f} ms/run = {100 * per_run * n / bare:.1f}%"
            else:
                line += f"; {(bare / n) / (wall / m):.2f}x the bare 1-worker wall rate"
            print(line + ")")
        store = ResultsStore(folder / "serial-1")
        print(
            f"bytes per sweep run: {folder_bytes(store.runs) / n:,.0f} (runs/), "
            f"{folder_bytes(store.root) / n:,.0f} with manifest and plan"
        )


if __name__ == "__main__":
    main()
