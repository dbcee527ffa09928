"""Wall time of one default run, and of a world with 10× as many agents.

Usage: python benchmarks/bench_run.py [--repeat N] [--months M]
Prints one line per world: agents, months, postings, best wall time over the repeats.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sim.config import load_scenario
from sim.model import ComputeMarket

BASELINE = Path(__file__).resolve().parent.parent / "experiments" / "baseline.toml"


def time_run(scale: int, months: int, repeat: int) -> tuple[int, int, float]:
    scenario = load_scenario(BASELINE)
    if scale > 1:
        scenario = scenario.scaled(scale)
    best = float("inf")
    agents = postings = 0
    for _ in range(repeat):
        start = time.perf_counter()
        model = ComputeMarket(scenario, rng=1)
        for _ in range(months):
            model.step()
        best = min(best, time.perf_counter() - start)
        agents, postings = len(model.all_agents), model.books.ledger.n_postings
    return agents, postings, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per world; the best counts")
    parser.add_argument("--months", type=int, default=120, help="months per run")
    args = parser.parse_args()
    for label, scale, repeat in (
        ("default world", 1, args.repeat),
        ("10x agents", 10, max(1, args.repeat // 3)),
    ):
        agents, postings, seconds = time_run(scale, args.months, repeat)
        print(
            f"{label:<14} agents={agents:<5} months={args.months} postings={postings:<8} "
            f"wall={seconds:.2f} s  ({args.months / seconds:.1f} months/s)"
        )


if __name__ == "__main__":
    main()
