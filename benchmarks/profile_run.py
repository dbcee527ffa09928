"""Where one run's time goes: cProfile of the default world (or a scaled one), the top
functions by own time and by cumulative time, and the run's postings.

Usage: python benchmarks/profile_run.py [--months M] [--scale S] [--top N] [--sort tottime|cumtime]
                                       [--phases]

The profiler roughly doubles the run's time; the shares, call counts and the order of the
functions are what it is for (bench_run.py measures the time itself). ``--phases`` prints
instead the CPU time of each phase of the month over the run, without the profiler (a timer
around each phase of ``sim.phases.MONTH``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

import sim.model
from sim.config import Scenario, load_scenario
from sim.phases import MONTH, Phase
from sim.runner import run_model

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "experiments" / "baseline.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=120, help="months to run")
    parser.add_argument("--scale", type=int, default=1, help="copies of the default world")
    parser.add_argument("--seed", type=int, default=1, help="the run's seed")
    parser.add_argument("--top", type=int, default=30, help="functions to print per table")
    parser.add_argument(
        "--sort", default="both", choices=["tottime", "cumtime", "both"], help="order of the table"
    )
    parser.add_argument(
        "--phases", action="store_true", help="CPU per phase of the month, without the profiler"
    )
    args = parser.parse_args()
    scenario = load_scenario(BASELINE)
    if args.scale > 1:
        scenario = scenario.scaled(args.scale)
    if args.phases:
        print_phase_times(scenario, args.seed, args.months)
        return

    start = time.process_time()
    run_model(scenario, args.seed, args.months)
    bare = time.process_time() - start

    profiler = cProfile.Profile()
    profiler.enable()
    model = run_model(scenario, args.seed, args.months)
    profiler.disable()
    ledger = model.books.ledger
    print(
        f"{len(model.all_agents)} agents, {args.months} months: model {bare:.2f} s CPU without "
        f"the profiler; {ledger.n_postings:,} flow postings, {len(ledger.accruals()):,} "
        f"accruals, {len(ledger.allocations()):,} allocation rows"
    )
    stats = pstats.Stats(profiler)
    stats.strip_dirs()
    for key in ("tottime", "cumtime") if args.sort == "both" else (args.sort,):
        print(f"\n--- top {args.top} by {key} ---")
        stats.sort_stats(key).print_stats(args.top)


def print_phase_times(scenario: Scenario, seed: int, months: int) -> None:
    """One run with a CPU timer around each phase of the month; the phases by time."""
    spent = dict.fromkeys((phase.name for phase in MONTH), 0.0)

    def timed(phase: Phase) -> Phase:
        def run(world: sim.model.ComputeMarket, t: int) -> None:
            start = time.process_time()
            phase.run(world, t)
            spent[phase.name] += time.process_time() - start

        return Phase(phase.name, run)

    sim.model.MONTH = tuple(timed(phase) for phase in MONTH)  # the model reads it each month
    try:
        start = time.process_time()
        run_model(scenario, seed, months)
        total = time.process_time() - start
    finally:
        sim.model.MONTH = MONTH
    print(f"{months} months, seed {seed}: model {total:.2f} s CPU with a timer per phase")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:8s} {seconds:6.3f} s  {seconds / total:6.1%}")


if __name__ == "__main__":
    main()
