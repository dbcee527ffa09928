"""Print every "Must show" figure of issue 16 (investment and supply).

    .venv/bin/python benchmarks/issue16_must_show.py [--seeds 5] [--glut-seeds 10] [--set K=V ...]

``--set`` applies dotted-path overrides (``Scenario.with_overrides``) to every world the script
runs, to check a candidate parameter value before it goes into the scenario files.

Baseline, seeds 1..N: the share of months with an effective order-to-delivery lag (GPUs on order
÷ GPUs delivered that month, Little's law) of at most 12 months, in 2025-26 and over the whole
run; the leading vendor's revenue in NVIDIA's fiscal 2026 (Feb 2025 - Jan 2026) against its
calibrated data-centre revenue ($193.7B ± 30%); the spot price in October 2025 ($1.70-3.00).
The glut stop: in every month after six months of spot below 0.8 × full cost, the GPUs ordered
by the clouds in a glut beyond what their contracts needed (net of what is installed and on
order) and beyond the contracts signed that month. The endogenous glut: boom demand, no
bust, pre-emption weights 0, 0.25, 0.5, the scenario's and 2: runs where spot stays below full
cost for six months or more (the issue: "pre-emption above a threshold", at least half of 10
seeds), the defaults before the longest such run began (the builders must still be
standing), the month of the first default and the peak of GPUs on order.
The named network: hyperscaler-a's share of neocloud-leader's compute revenue in 2025 (its
sales to the buyers beyond the labs counted) and
hyperscaler-bbb's backlog at the end of 2025.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from sim.config import ConfigError, Scenario, load_scenario, parse_settings
from sim.metrics import longest_run
from sim.model import ComputeMarket
from sim.phases import MONTH, MonthState
from sim.runner import simulate

BASELINE = "experiments/baseline.toml"
ENDOGENOUS_GLUT = "experiments/endogenous_glut.toml"
"""Boom demand, no bust; clouds match rivals' pipelines; vendors book up to 12 months of output."""
OVERRIDES: dict[str, object] = {}
"""Dotted-path overrides from ``--set``, applied to every scenario the script loads."""


def scenario_of(path: str) -> Scenario:
    """The scenario at ``path`` with ``--set``'s overrides."""
    return load_scenario(path).with_overrides(OVERRIDES) if OVERRIDES else load_scenario(path)


def baseline_figures(seeds: int) -> None:
    scenario = scenario_of(BASELINE)
    print("baseline                      lag<=12 2025-26  lag<=12 all  vendor FY26 $B  Oct-25 $/h")
    for seed in range(1, seeds + 1):
        tables = simulate(scenario, seed).tables
        m = tables["model"]
        lag = m["gpus_on_order"] / m["chip_deliveries_gpus"].replace(0.0, np.nan)
        ok = (lag <= 12).to_numpy()  # no delivery at all counts as a miss
        a = tables["agents"]
        vendor = a[(a["agent_id"] == "vendor-leader") & a["step"].between(1, 12)]
        price = float(m.loc[m["step"] == 9, "spot_price_usd_per_gpu_hour"].iloc[0])
        print(
            f"  seed {seed:<22} {ok[:24].mean():>14.0%} {ok.mean():>12.0%} "
            f"{vendor['revenue_usd'].sum() / 1e9:>15.1f} {price:>11.2f}"
        )
    print("  (calibrated: vendor FY26 $193.7B, ±30% = 135.6-251.8; Oct-2025 price 1.70-3.00)")


def glut_stop(seeds: int, scenario_file: str = "experiments/telecom_bust.toml") -> None:
    """Step a world with gluts (the telecom bust) phase by phase and check each cloud's orders
    in its glut months against what its contracts needed when it decided.

    The state is read at the decision: just before the invest phase (after the month's chip
    deliveries) and just after it (before the resolve phase can end contracts of buyers that
    default later in the month). Read across the whole month instead, chips delivered late
    (online at once) count twice, as installed and as still on order, and a contract that a
    defaulting buyer ends the same month looks as if it never covered anything."""
    scenario = scenario_of(scenario_file)
    print(f"glut stop ({scenario.name})     glut cloud-months  ordered in glut  beyond contracts")
    horizon = scenario.technology.build_lag_months
    total_beyond = 0.0
    for seed in range(1, seeds + 1):
        model = ComputeMarket(scenario, rng=seed)
        months = beyond = ordered = 0.0
        for _ in range(scenario.run.months):
            t = model.month
            model.month_state = MonthState()
            before: dict[str, float] = {}
            for phase in MONTH:
                if phase.name == "invest":
                    before = {c.name: c.pipeline_gpus(t) for c in model.clouds}
                phase.run(model, t)
                if phase.name != "invest":
                    continue
                for c in model.clouds:
                    if c.defaulted or not c.in_glut(t):
                        continue
                    months += 1
                    new = sum(
                        o.units
                        for o in model.books.instruments.orders
                        if o.buyer == c.name and o.order_step == t
                    )
                    # orders tied to contracts signed this month are covered by them (a
                    # purchase commitment's matching chips, a warrant's purchases)
                    signed = [
                        k
                        for k in model.books.instruments.contracts
                        if k.seller == c.name and k.signed == t
                    ]
                    existing = model.contracted_gpus(seller=c.name, step=t + horizon) - sum(
                        k.gpus for k in signed if k.in_force(t + horizon)
                    )
                    need = (
                        existing
                        - (c.installed_gpus(t) - c.retiring_gpus(t, horizon))
                        - before[c.name]
                    )
                    ordered += new
                    beyond += max(0.0, new - max(0.0, need) - sum(k.gpus for k in signed))
            model.month += 1
        total_beyond += beyond
        print(f"  seed {seed:<22} {months:>17.0f} {ordered:>16,.0f} {beyond:>17,.0f}")
    print(f"  all seeds: {total_beyond:,.0f} GPUs ordered in a glut beyond contracts")


def endogenous_glut(seeds: int) -> None:
    glut = scenario_of(ENDOGENOUS_GLUT)
    print("endogenous glut (boom, no bust)    longest run of spot < full cost, months")
    for weight in sorted({0.0, 0.25, 0.5, glut.investment.preemption_weight, 2.0}):
        scenario = glut.with_overrides({"investment.preemption_weight": weight})
        runs, starts, before, total, first, peak, queue = [], [], [], [], [], [], []
        for seed in range(1, seeds + 1):
            result = simulate(scenario, seed)
            m = result.tables["model"]
            price, cost = m["spot_price_usd_per_gpu_hour"], m["full_cost_usd_per_gpu_hour"]
            below = (price < cost).to_numpy()
            months, start = longest_run(below)
            runs.append(months)
            starts.append(start)
            # the builders still standing when the price falls: defaults before the glut
            before.append(
                int(m.loc[m["step"] < start, "new_defaults"].sum()) if start is not None else None
            )
            total.append(int(result.summary["defaults"]))
            defaults = m.loc[m["new_defaults"] > 0, "step"]
            first.append(int(defaults.iloc[0]) if len(defaults) else None)
            peak.append(round(float(m["gpus_on_order"].max()) / 1e6, 1))
            # the finite order book: the longest vendor queue, in months of its output
            a = result.tables["agents"]
            queue.append(
                round(float(a.loc[a["agent_type"] == "ChipVendor", "queue_months"].max()), 1)
            )
        hits = sum(r >= 6 for r in runs)
        print(f"  pre-emption {weight:<4} runs {runs}: {hits} of {seeds} with >= 6 months")
        print(f"    month each longest run began {starts}")
        print(f"    defaults before the glut began {before}; in the whole run {total}")
        # why a stronger weight can give fewer gluts: the builders over-extend sooner and
        # default illiquid before the price falls, and a defaulter's orders are cancelled
        print(f"    month of the first default {first}; peak GPUs on order, millions {peak}")
        print(f"    longest vendor queue, months of its output {queue}")


def named_network(seeds: int) -> None:
    scenario = scenario_of(BASELINE)
    print("named network                 hyperscaler-a share of neocloud-leader 2025  bbb backlog")
    for seed in range(1, seeds + 1):
        tables = simulate(scenario, seed, 12).tables
        acc = tables["accruals"]
        # compute sold: billed, or drawn from a prepayment (as the calibration's buyer_share)
        sold = acc["kind"].isin(("compute_due", "prepayment_used", "prepayment_forfeited"))
        sales = acc[(acc["payee"] == "neocloud-leader") & sold]
        flows = tables["flows"]  # and what the buyers beyond the labs paid it (scale issue)
        outside = flows[
            (flows["payee"] == "neocloud-leader") & (flows["kind"] == "outside_compute")
        ]
        total = float(sales["amount"].sum()) + float(outside["amount"].sum())
        share = float(sales.loc[sales["payer"] == "hyperscaler-a", "amount"].sum()) / total
        model = ComputeMarket(scenario, rng=seed)
        for _ in range(12):
            model.step()
        backlog = model.backlog_usd("hyperscaler-bbb", 11)
        print(f"  seed {seed:<22} {share:>44.0%} {backlog / 1e9:>10.1f}B")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--glut-seeds", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], metavar="K=V", help="override")
    parser.add_argument(
        "--only", choices=("baseline", "glut-stop", "endogenous", "network"), action="append"
    )
    args = parser.parse_args()
    try:
        OVERRIDES.update(parse_settings(args.set))
    except ConfigError as exc:
        parser.error(str(exc))
    pd.set_option("display.width", 200)
    only = set(args.only or ("baseline", "glut-stop", "endogenous", "network"))
    if "baseline" in only:
        baseline_figures(args.seeds)
    if "glut-stop" in only:
        glut_stop(args.seeds)
    if "endogenous" in only:
        endogenous_glut(args.glut_seeds)
    if "network" in only:
        named_network(args.seeds)


if __name__ == "__main__":
    main()
