"""Deal surgery: rerun a world with one named deal removed or changed, with common random
numbers, and report what the deal did to revenues, valuations, defaults, losses and
circularity.

Both variants run with the same seeds; the demand shocks are drawn from the model's random
generator in the same order whatever the deals, so differences between paired runs are the
deal's effect, not noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError, Scenario
from sim.ensemble import derive_seeds, parallel_map
from sim.metrics import run_circularity
from sim.runner import simulate

OUTCOMES = (
    "lab_revenue_usd",
    "cloud_revenue_usd",
    "vendor_revenue_usd",
    "reported_revenue_usd",
    "final_lab_valuation_usd",
    "defaults",
    "losses_usd",
    "round_trip_share",
    "cloud_round_trip_usd",
    "vendor_round_trip_usd",
    "organic_cloud_revenue_usd",
    "organic_vendor_revenue_usd",
    "organic_revenue_usd",
    "circular_share",
    "excess_share",
    "finn_index",
)


def operate(scenario: Scenario, deal: str, change: Mapping[str, Any] | None = None) -> Scenario:
    """The scenario with ``deal`` removed (``change`` None) or its fields changed
    (e.g. ``{"amount_usd": 60e9}``)."""
    if deal not in {d.name for d in scenario.deals}:
        have = ", ".join(d.name for d in scenario.deals) or "none"
        raise ConfigError(f"no deal named '{deal}' (have: {have}). Nothing was run or written.")
    if change is None:
        return scenario.without_deal(deal)
    return scenario.with_overrides({f"deals.{deal}.{k}": v for k, v in change.items()})


def outcomes(scenario: Scenario, seed: int, months: int | None) -> dict[str, float]:
    """The outcomes of one run that a deal can move."""
    result = simulate(scenario, seed, months)
    circ = run_circularity(result.tables["flows"], count_cycles=False)  # cycles not kept
    row = {k: result.summary[k] for k in OUTCOMES if k in result.summary}
    row.update(
        circular_share=float(circ["circular_share"]),
        excess_share=float(circ["excess_share"]),
        finn_index=float(circ["finn_index"]),
    )
    return row


def outcomes_task(args: tuple[Scenario, int, int | None]) -> dict[str, float]:
    """:func:`outcomes` for one (scenario, seed, months) task, for process pools."""
    return outcomes(*args)


def _paired(args: tuple[Scenario, Scenario, int, int | None]) -> tuple[dict, dict]:
    original, altered, seed, months = args
    return outcomes(original, seed, months), outcomes(altered, seed, months)


def deal_surgery(
    scenario: Scenario,
    deal: str,
    change: Mapping[str, Any] | None = None,
    *,
    runs: int = 5,
    base_seed: int = 1,
    months: int | None = None,
    workers: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired runs of the scenario as it is and with the deal removed (or changed).

    Removing (``change`` None): columns ``with_deal`` (the scenario as it is) and
    ``without_deal``, effect = with − without, the deal's effect. Changing: columns
    ``changed`` and ``original`` (the scenario as it is), effect = changed − original, the
    change's effect. Returns the per-run table (seed, outcome, the two columns, effect) and a
    summary per outcome: the two means, the mean effect and its 95% interval.
    """
    altered = operate(scenario, deal, change)
    seeds = derive_seeds(base_seed, runs)
    tasks = [(scenario, altered, s, months) for s in seeds]
    pairs = parallel_map(_paired, tasks, workers)
    # (label of the varied side, label of the reference side), and which run is which
    if change is None:
        treated, reference, flip = "with_deal", "without_deal", False
    else:
        treated, reference, flip = "changed", "original", True
    rows = []
    for s, (original, modified) in zip(seeds, pairs, strict=True):
        a, b = (modified, original) if flip else (original, modified)
        for k in OUTCOMES:
            rows.append(
                {"seed": s, "outcome": k, treated: a[k], reference: b[k], "effect": a[k] - b[k]}
            )
    per_run = pd.DataFrame(rows)
    summary = per_run.groupby("outcome", sort=False).agg(
        **{treated: (treated, "mean"), reference: (reference, "mean")},
        effect=("effect", "mean"),
        effect_sd=("effect", "std"),
        runs=("effect", "size"),
    )
    half = 1.96 * summary["effect_sd"].fillna(0.0) / np.sqrt(summary["runs"])
    summary["effect_low"] = summary["effect"] - half
    summary["effect_high"] = summary["effect"] + half
    return per_run, summary.drop(columns="effect_sd").reset_index()
