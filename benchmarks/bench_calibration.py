"""Wall time of the calibration report of the baseline, and what one seed costs.

Usage: python benchmarks/bench_calibration.py [--seeds N] [--workers W ...]
Prints, per worker count, the wall time of a fresh report over N seeds (through the sweep
engine, as `computesim calibrate` runs it), then the split of one seed between the run and
the measures, and the wall time of a rerun that reuses every finished run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.calibration import (
    DEFAULT_SCENARIO,
    load_targets,
    measure_run,
    plan_calibration,
    run_calibration,
)
from sim.config import load_scenario
from sim.results_store import ResultsStore
from sim.runner import simulate
from sim.sweep import executor_for


def time_report(seeds: int, workers: int, folder: Path) -> float:
    """Seconds for a report over ``seeds`` seeds on ``workers`` processes into ``folder``."""
    calibration = plan_calibration(load_scenario(DEFAULT_SCENARIO), load_targets(), seeds)
    engine = "serial" if workers == 1 else "process"
    start = time.perf_counter()
    with executor_for(engine, workers) as pool:
        run_calibration(calibration, ResultsStore(folder), pool, progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=8, help="seeds per report (default 8)")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            folder = Path(tmp) / f"w{workers}"
            seconds = time_report(args.seeds, workers, folder)
            print(f"report, {args.seeds} seeds, {workers} worker(s): {seconds:6.1f} s")
        again = time_report(args.seeds, args.workers[-1], folder)
        print(f"rerun reusing every run:              {again:6.1f} s")
    scenario = load_scenario(DEFAULT_SCENARIO)
    targets = load_targets()
    calibration = plan_calibration(scenario, targets, 1)
    task = calibration.sweep.tasks[0]
    start = time.perf_counter()
    result = simulate(task.scenario, task.seed, task.months)
    ran = time.perf_counter()
    measure_run(targets, result.tables, scenario.run.start)
    done = time.perf_counter()
    print(
        f"one seed: run {ran - start:.2f} s ({task.months} months), "
        f"{len(targets)} measures {done - ran:.2f} s"
    )


if __name__ == "__main__":
    main()
