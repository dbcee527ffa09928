"""Every speed figure of issue 20 in one report: model time of the default world and of
worlds 2×, 5×, 10× and 20× its size (as ratios, with the fitted exponent of time in agents),
the whole `computesim run` command (and `--help`, `run --help`), the bytes of a run folder,
and then the sweep figures of ``bench_sweep.py`` (runs per hour on 1 and 2 workers, the
overhead per run against bare model calls, bytes per sweep run).

Usage: python benchmarks/bench_run.py [--repeat N] [--months M] [--scale-months M]
       [--scales 1,2,5,10,20] [--no-command] [--sweep-runs N | --no-sweep]

Model time is CPU time of this process (time.process_time: less disturbed than wall time by
other work on a shared machine), best of the repeats; it covers building the world and
stepping it, and no table. The scaled worlds run --scale-months months (default 36: a 20×
world for 120 months takes minutes); their ratios are to the default world over the same
months. "linear" would be ratio = scale; the exponent b fits time ∝ agents^b by least
squares on the logs. The scaled worlds are copies of the default side by side, each with
its own demand and deals (until 2026-11-26 the copies shared one world's demand and deals,
and at 2× every neocloud defaulted within 36 months); they trade across copies on the spot
market, so postings per agent still differ; the time per posting is printed beside each
ratio as the steadier measure of the bookkeeping's scaling.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_sweep import report as sweep_report
from interpreter import describe

from sim.config import Scenario, load_scenario
from sim.runner import run_model

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "experiments" / "baseline.toml"
COMPUTESIM = Path(sys.executable).with_name("computesim")


def world(scale: int) -> Scenario:
    """The baseline × ``scale`` (:meth:`Scenario.scaled`: ``scale`` copies of the world, each
    lab partnered with the named clouds of its own copy)."""
    scenario = load_scenario(BASELINE)
    return scenario.scaled(scale) if scale > 1 else scenario


def time_run(scale: int, months: int, repeat: int) -> tuple[int, int, float]:
    """(agents, postings, best CPU seconds) of ``repeat`` runs of the baseline × ``scale``."""
    scenario = world(scale)
    best = math.inf
    agents = postings = 0
    for _ in range(repeat):
        start = time.process_time()
        model = run_model(scenario, 1, months)
        best = min(best, time.process_time() - start)
        agents = len(model.all_agents)
        postings = model.books.ledger.n_postings + len(model.books.ledger.accruals())
    return agents, postings, best


def command_seconds(args: list[str], repeat: int) -> tuple[float, float]:
    """Best (wall, CPU) seconds of ``computesim ARGS`` in a fresh process (imports
    included); CPU is the child's user + system time, less disturbed by a busy machine."""
    best_wall = best_cpu = math.inf
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [str(COMPUTESIM), *args], check=True, capture_output=True, env={**os.environ}
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per world; the best counts")
    parser.add_argument("--months", type=int, default=120, help="months of the default run")
    parser.add_argument("--scale-months", type=int, default=36, help="months of scaled runs")
    parser.add_argument("--scales", default="1,2,5,10,20", help="world sizes, comma-separated")
    parser.add_argument("--no-command", action="store_true", help="skip the whole-command part")
    parser.add_argument(
        "--sweep-runs", type=int, default=4, help="runs per engine of the sweep part (default 4)"
    )
    parser.add_argument("--no-sweep", action="store_true", help="skip the sweep part")
    args = parser.parse_args()

    agents, postings, seconds = time_run(1, args.months, args.repeat)
    print(f"interpreter: {describe()}")
    print(
        f"default world: {agents} agents, {args.months} months, {postings:,} postings: "
        f"model {seconds:.2f} s CPU ({args.months / seconds:.0f} months/s; goal 0.25 s)"
    )

    scales = [int(s) for s in args.scales.split(",")]
    rows = []
    for scale in scales:
        repeat = args.repeat if scale <= 2 else 1
        rows.append((scale, *time_run(scale, args.scale_months, repeat)))
    base = rows[0][3]
    print(f"scaling ({args.scale_months} months; time ratio to {scales[0]}x; linear = scale):")
    for scale, n, posts, sec in rows:
        print(
            f"  {scale:>3}x  agents={n:<5} postings={posts:<9,} model {sec:7.2f} s  "
            f"ratio {sec / base:6.2f}  (per agent {sec / base / (n / rows[0][1]):.2f}; "
            f"{posts / n:,.0f} postings per agent, {1e6 * sec / posts:.0f} us per posting)"
        )
    if len(rows) > 1:
        x = np.log([r[1] for r in rows])
        y = np.log([r[3] for r in rows])
        exponent = float(np.polyfit(x, y, 1)[0])
        print(f"  fitted exponent: time ~ agents^{exponent:.2f}")
        if len(rows) > 2:
            top = float(np.polyfit(x[-2:], y[-2:], 1)[0])
            print(f"  between the two largest worlds: ^{top:.2f}")

    if not args.no_command:
        commands(args.repeat, seconds)
    if not args.no_sweep:
        print("sweeps (bench_sweep.py):")
        sweep_report(args.sweep_runs, args.months)


def commands(repeat: int, seconds: float) -> None:
    """Whole-command times (a fresh process, imports included) and run folder bytes;
    ``seconds`` is the default run's model CPU time, for the ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        common = ["run", "baseline", "--no-progress", "--force", "--out", str(out)]
        listed = command_seconds(["--help"], repeat)
        helped = command_seconds(["run", "--help"], repeat)
        drawn = command_seconds([*common, "--picture"], 1)
        picture_bytes = folder_bytes(out)
        whole = command_seconds(common, 1)
        default_bytes = folder_bytes(out)
        command_seconds([*common, "--detail"], 1)
        detail_bytes = folder_bytes(out)
    print(
        f"`computesim --help`: {listed[1]:.2f} s CPU ({listed[0]:.2f} s wall); "
        f"`computesim run --help`: {helped[1]:.2f} s CPU ({helped[0]:.2f} s wall)"
    )
    print(
        f"`computesim run baseline`: {whole[1]:.2f} s CPU ({whole[1] / seconds:.1f}x the model's "
        f"CPU time; {whole[0]:.2f} s wall); with --picture {drawn[1]:.2f} s CPU "
        f"({drawn[0]:.2f} s wall)"
    )
    print(
        f"run folder: {default_bytes / 1000:,.0f} kB by default (goal 250 kB), "
        f"{picture_bytes / 1000:,.0f} kB with --picture, {detail_bytes / 1000:,.0f} kB with "
        "--detail"
    )


if __name__ == "__main__":
    main()
