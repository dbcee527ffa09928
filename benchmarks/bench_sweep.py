"""Sweep throughput: runs per second with 1 and 2 workers, and the runner's overhead per run.

Usage: python benchmarks/bench_sweep.py [--runs N] [--months M] [--dask]

The sweep is N runs of the small test world (tests/fixtures/sweeps/small.toml) with varied
demand growth. "direct" calls the model in a loop with no runner; "serial" is the runner in
this process (its overhead per run = results store, Parquet writes, bookkeeping); "process"
adds the pool (task pickling, worker start-up). Overhead per run = (runner wall time − direct
wall time) / N, for the same runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.results_store import ResultsStore
from sim.runner import simulate
from sim.sweep import load_sweep, run_sweep
from sim.sweep_cli import executor_for

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "fixtures" / "sweeps" / "small.toml"


def sweep_file(folder: Path, runs: int, months: int) -> Path:
    path = folder / "bench.toml"
    path.write_text(
        f'[sweep]\nname = "bench"\nscenario = "{SMALL.as_posix()}"\nmonths = {months}\n'
        f'seeds_per_point = {runs}\nbase_seed = 3\n[parameters]\nmethod = "grid"\n'
        'vary = [{path = "demand.noise_sd", values = [0.1]}]\n'
        '[outputs]\nsummary = ["defaults", "mean_utilisation", "losses_usd"]\n'
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=64, help="runs per engine (default 64)")
    parser.add_argument("--months", type=int, default=60, help="months per run (default 60)")
    parser.add_argument("--dask", action="store_true", help="also time a local Dask cluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sweep = load_sweep(sweep_file(folder, args.runs, args.months))
        start = time.perf_counter()
        for task in sweep.tasks:
            simulate(task.scenario, task.seed, task.months)
        direct = time.perf_counter() - start
        print(f"{args.runs} runs of {args.months} months, small world")
        print(f"direct      1 worker   {args.runs / direct:7.1f} runs/s  ({direct:.2f} s)")
        engines = [("serial", 1), ("process", 1), ("process", 2)]
        if args.dask:
            engines.append(("dask", 2))
        for engine, workers in engines:
            store = ResultsStore(folder / f"{engine}-{workers}")
            start = time.perf_counter()
            with executor_for(engine, workers) as pool:
                run_sweep(sweep, store, pool, progress=False)
            wall = time.perf_counter() - start
            overhead = ""
            if workers == 1:
                overhead = f"  overhead {1000 * (wall - direct) / args.runs:6.1f} ms/run"
            print(
                f"{engine:<8} {workers} worker{'s' if workers > 1 else ' '}  "
                f"{args.runs / wall:7.1f} runs/s  ({wall:.2f} s, incl. start-up){overhead}"
            )


if __name__ == "__main__":
    main()
