"""Print every "Must show" figure of issue 14 (capital markets with prices).

    .venv/bin/python benchmarks/issue14_must_show.py [--skip-failure] [--skip-valuations]

1. The cascade experiment's shock, rescues off, 10 seeds (experiments/lab_failure.py): in how
   many seeds the leading lab defaults, and its unpaid take-or-pay written off by the clouds.
2. The baseline's highest sentiment in 2025-26 (must exceed 1.2) and the telecom bust's fall of
   sentiment within 6 months of the bust and before the first default (must be at least 20%),
   and deal surgery on a large take-or-pay contract: the seller's market cap against its book
   equity (experiments/valuations.py).
3. The gallery figure's calibration points: the model's median over the figure's seeds at each
   2025-26 point (leading lab's valuation, the Oracle-like cloud's and the leading vendor's
   market caps) against the data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "experiments"))

import lab_failure  # noqa: E402
import valuations  # noqa: E402

from sim.config import load_scenario  # noqa: E402
from sim.ensemble import derive_seeds, run_ensemble  # noqa: E402


def calibration_points() -> None:
    """The model's median at each calibration point of the valuations figure (baseline)."""
    params = valuations.PARAMS
    seeds = derive_seeds(params["base_seed"], params["seeds"])
    last = max(valuations.month_of(d) for pts in valuations.POINTS.values() for d, _, _ in pts)
    _, tables = run_ensemble(
        load_scenario(ROOT / params["boom"]), seeds, last + 1, workers=1, keep=("agents",)
    )
    agents = tables["agents"]
    print("\ncalibration points of the valuations figure (baseline, median over seeds)")
    rows = []
    for firm, points in valuations.POINTS.items():
        for date, usd, source in points:
            month = valuations.month_of(date)
            got = agents[(agents["agent_id"] == firm) & (agents["step"] == month)]
            model = float(got["market_value_usd"].median())
            rows.append(
                {
                    "firm": firm,
                    "date": date,
                    "data_usd_bn": usd / 1e9,
                    "model_usd_bn": round(model / 1e9, 1),
                    "model/data": round(model / usd, 2),
                    "source": source,
                }
            )
    print(pd.DataFrame(rows).to_string(index=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-failure", action="store_true")
    parser.add_argument("--skip-valuations", action="store_true")
    args = parser.parse_args()
    status = 0
    if not args.skip_failure:
        print("== the leading lab fails to pay (lab_failure.check) ==")
        status |= lab_failure.check()
    if not args.skip_valuations:
        print("\n== sentiment and deal surgery (valuations.check) ==")
        status |= valuations.check()
        calibration_points()
    return status


if __name__ == "__main__":
    sys.exit(main())
