"""Prints every "Must show" figure of issue 15 (labs compete), measured on the baseline.

Usage: python experiments/competition_checks.py [--seeds N] [--only 1234] [--opportunity-cost]

1. circular deals ×0 against ×4: total lab revenue over 60 months (all deals, as the issue
   asks, and the circular kinds alone, the named take-or-pay commitments as they are);
2. price war: the labs' share-weighted gross margin over 24 months with full capability
   convergence and idle capacity;
3. the cascade experiment's shock: the share of the leader's lost revenue that rivals gain;
4. overbuild on purpose with resale on (and contracts repriced, config ``repricing``), from
   a little (the leader signs for more of its projected need) to all out: mean spot price
   in years 3–5, the leader's 60-month result against the baseline, whether it defaults,
   where its resold capacity goes, and why;
5. a lab that becomes a cloud (Stargate) against the pure renter through a boom and a bust:
   defaults, the leader's share of compute on its own capacity, its equity at month 60;
6. the seeds' two enterprise joint ventures: services the vehicles bought from the labs,
   profit paid to their owners, and the labs' enterprise customers against the baseline.
Not a gallery experiment (no ``EXPERIMENT``); ``experiments/competition.py`` draws the figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from sim.config import Scenario, load_scenario, validate_scenario
from sim.ensemble import derive_seeds
from sim.metrics import overbuild_outcome
from sim.runner import simulate

HERE = Path(__file__).resolve().parent
LEADER = "frontier-leader"
CASCADE_SHOCK = {
    "shock.lab": LEADER,
    "shock.month": 12,
    "shock.revenue_shortfall": 0.85,  # as experiments/cascade.py (0.8 until MODEL_VERSION 0.63)
    "shock.sentiment_drop": 0.9,
}
OVERBUILD_WORLDS: list[tuple[str, dict[str, float]]] = [
    ("baseline", {}),
    ("coverage 1", {f"labs.{LEADER}.contract_coverage": 1.0}),
    ("coverage 1.3", {f"labs.{LEADER}.contract_coverage": 1.3}),
    ("coverage 1.6", {f"labs.{LEADER}.contract_coverage": 1.6}),
    ("all out", {f"labs.{LEADER}.optimism": 3.0, f"labs.{LEADER}.contract_coverage": 1.6}),
]
"""The overbuild worlds of experiments/competition.py: the leader signs for more of its
projected need at its own optimism (the baseline's coverage is 0.8), or all out."""
HOURS = 730.0
"""GPU-hours per GPU per month (``market.hours_per_month``'s default)."""
PRICE_WAR = {
    "competition.spillover_per_month": 1.0,  # full convergence: followers level at once
    "labs.*.contract_coverage": 1.3,  # idle contracted capacity
}


PURCHASES = ("capacity_commitment",)
"""Deal kinds that are purchase commitments (the named network of issue 16: take-or-pay
contracts a lab signs with a cloud), not money that goes round a circle; issue 15's line
was written before they were deals, and scaling them ×4 (≈ $2.4T for the leader) measures
overbuilding as much as circular financing."""


def scaled_deals(scenario: Scenario, factor: float, skip: tuple[str, ...] = ()) -> Scenario:
    """Every deal's money (and vehicle debt) × ``factor`` (as experiments/circular.py),
    except deals of the kinds in ``skip``."""
    data = scenario.model_dump(mode="python")
    for deal in data["deals"]:
        if deal["kind"] in skip:
            continue
        deal["amount_usd"] *= factor
        deal["debt_usd"] *= factor
    return validate_scenario(data, source=f"{scenario.name} with deals ×{factor}")


def lab_rows(agents: pd.DataFrame) -> pd.DataFrame:
    return agents[agents["agent_type"] == "Lab"]


def circular(base: Scenario, seeds: list[int], skip: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per seed, total lab revenue over 60 months with the deals ×0 and ×4 (the kinds in
    ``skip`` left as they are), the change, and the leader's contracts repriced (×4)."""
    rows = []
    for seed in seeds:
        row = {"seed": seed}
        for factor in (0.0, 4.0):
            run = simulate(scaled_deals(base, factor, skip), seed, months=60)
            row[f"x{factor:g}"] = run.summary["lab_revenue_usd"]
            row[f"repriced x{factor:g}"] = run.tables["model"]["contracts_repriced"].sum()
        rows.append(row)
    table = pd.DataFrame(rows)
    table["change"] = table["x4"] / table["x0"] - 1.0
    return table


def weighted_margin(agents: pd.DataFrame) -> pd.Series:
    """Labs' revenue-weighted gross margin (the margin they price at), by month."""
    labs = lab_rows(agents)
    if "gross_margin" not in labs:
        return pd.Series(dtype=float)
    w = labs["revenue_usd"]
    return (labs["gross_margin"] * w).groupby(labs["step"]).sum() / w.groupby(labs["step"]).sum()


def price_war(base: Scenario, seeds: list[int]) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        for label, scenario in (("baseline", base), ("price war", base.with_overrides(PRICE_WAR))):
            m = weighted_margin(simulate(scenario, seed, months=25).tables["agents"])
            rows.append(
                {"seed": seed, "world": label, "month 0": m.iloc[0], "month 24": m.iloc[24]}
            )
    return pd.DataFrame(rows)


def cascade(base: Scenario, seeds: list[int], months: int = 72) -> pd.DataFrame:
    rows = []
    start = CASCADE_SHOCK["shock.month"]
    for seed in seeds:
        rev = {}
        for label, scenario in (("calm", base), ("shock", base.with_overrides(CASCADE_SHOCK))):
            labs = lab_rows(simulate(scenario, seed, months=months).tables["agents"])
            after = labs[labs["step"] >= start]
            rev[label] = after.groupby("agent_id")["revenue_usd"].sum()
        lost = rev["calm"][LEADER] - rev["shock"][LEADER]
        gained = (rev["shock"].drop(LEADER) - rev["calm"].drop(LEADER)).sum()
        rows.append({"seed": seed, "leader lost": lost, "rivals gained": gained})
    table = pd.DataFrame(rows)
    table["share to rivals"] = table["rivals gained"] / table["leader lost"]
    return table


def overbuild(base: Scenario, seeds: list[int], months: int = 60) -> pd.DataFrame:
    """Per seed and world (the baseline, the leader signing for more of its projected need,
    all out: :data:`OVERBUILD_WORLDS`): the spot price in years 3-5, the
    leader's 60-month result, what it committed, where its resold capacity went, and why
    (:func:`overbuild_row`)."""
    rows = []
    for label, overrides in OVERBUILD_WORLDS:
        for seed in seeds:
            run = simulate(base.with_overrides(overrides), seed, months=months)
            rows.append({"seed": seed, "world": label, **overbuild_row(run.tables, months)})
    return pd.DataFrame(rows)


def overbuild_row(tables: dict[str, pd.DataFrame], months: int) -> dict[str, float]:
    """The overbuild figures of one run: the spot price in years 3-5 and the leader's result
    (:func:`sim.metrics.overbuild_outcome`, as in experiments/competition.py's overbuild.csv) and,
    means over years 3-5 (GPUs), what is built, what is contracted, what reaches spot, what
    the leader uses and resells, and the vendors' output against their ceiling."""
    model, agents = tables["model"], tables["agents"]
    later = model[model["step"] >= 24]
    leader = agents[(agents["agent_id"] == LEADER) & (agents["step"] >= 24)]
    return {
        **overbuild_outcome(tables, LEADER, months),
        **compute_costs(tables),
        "installed": later["installed_gpus"].mean(),
        "contracted": later["contracted_gpus"].mean(),
        "spot supply": later["spot_supply_gpus"].mean(),
        "leader used": leader["gpus_used"].mean(),
        "leader need": leader["need_gpus"].mean(),
        "leader resold": leader["resold_gpus"].mean(),
        "deliveries": later["chip_deliveries_gpus"].mean(),
        "vendor ceiling": later["vendor_ceiling_units"].mean(),
        "on order": later["gpus_on_order"].mean(),
        "contracts repriced": float(model["contracts_repriced"].sum()),
    }


def compute_costs(tables: dict[str, pd.DataFrame], since: int = 24) -> dict[str, float]:
    """What the leader and its rival labs paid per GPU-hour they used from month ``since``
    (compute bills: contracts, spot and resale, ÷ GPU-hours used; USD): whether the glut
    lowers the overbuilding lab's own cost, and whether it raises its rivals'."""
    bills = tables["accruals"]
    bills = bills[(bills["kind"] == "compute_due") & (bills["step"] >= since)]
    labs = lab_rows(tables["agents"])
    labs = labs[labs["step"] >= since]
    used = labs.groupby("agent_id")["gpus_used"].sum() * HOURS
    paid = bills.groupby("payer")["amount"].sum().reindex(used.index, fill_value=0.0)
    rivals = used.index != LEADER
    return {
        "leader cost per GPU-hour": float(paid[LEADER] / used[LEADER]) if used[LEADER] else 0.0,
        "rivals' cost per GPU-hour": float(paid[rivals].sum() / used[rivals].sum()),
    }


COSTS = ["spot years 3-5", "leader cost per GPU-hour", "rivals' cost per GPU-hour"]
"""The columns of :func:`overbuild` that say who pays what per GPU-hour in years 3-5 (USD)."""

MECHANISM = [
    "installed",
    "contracted",
    "spot supply",
    "leader used",
    "leader need",
    "leader resold",
    "deliveries",
    "vendor ceiling",
    "on order",
]
"""The columns of :func:`overbuild` that say why the spot price moves (GPUs, years 3-5)."""

MONEY = [
    "leader peak backlog",
    "leader compute bills",
    "resold to labs",
    "resold to outside",
    "leader revenue",
    "leader retained",
    "leader value at 60",
]
"""The columns of :func:`overbuild` in USD: what the leader committed and paid, where its
resold capacity went, and its 60-month result."""


STARGATE_BUST = {
    "demand.regime": "bust",
    "demand.bust_month": 30,
    "demand.bust_decline_per_month": 0.03,
}


def stargate(base: Scenario, seeds: list[int], months: int = 60) -> pd.DataFrame:
    owner = load_scenario(HERE.parent / "sim" / "scenarios" / "stargate.toml")
    rows = []
    for seed in seeds:
        for label, scenario in (("pure renter", base), ("Stargate lab", owner)):
            agents = simulate(scenario.with_overrides(STARGATE_BUST), seed, months).tables["agents"]
            lead = agents[agents["agent_id"] == LEADER].set_index("step")
            rows.append(
                {
                    "seed": seed,
                    "world": label,
                    "defaulted": bool(lead["defaulted"].max()),
                    "owned share at 60": float(lead["infrastructure_share"].iloc[-1]),
                    "equity at 60": float(lead["equity_usd"].iloc[-1]),
                }
            )
    return pd.DataFrame(rows)


def joint_ventures(base: Scenario, seeds: list[int], months: int = 60) -> pd.DataFrame:
    jv = load_scenario(HERE.parent / "sim" / "scenarios" / "enterprise_jv.toml")
    rows = []
    for seed in seeds:
        shares = {}
        for label, scenario in (("baseline", base), ("JVs", jv)):
            run = simulate(scenario, seed, months)
            labs = lab_rows(run.tables["agents"])
            shares[label] = labs[labs["step"] == months - 1].set_index("agent_id")["market_share"]
            flows = run.tables["flows"]
        vehicles = flows["payer"].str.startswith("jv-vehicle")
        bought = flows[vehicles & (flows["kind"] == "compute_payment")]
        paid = flows[vehicles & (flows["kind"] == "dividend")]
        rows.append(
            {
                "seed": seed,
                "services bought": bought["amount"].sum(),
                "profit paid": paid["amount"].sum(),
                "leader share change": shares["JVs"][LEADER] - shares["baseline"][LEADER],
                "challenger share change": shares["JVs"]["frontier-challenger"]
                - shares["baseline"]["frontier-challenger"],
            }
        )
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument(
        "--only", default="123456", help="which checks to run, e.g. 14 (default: all)"
    )
    parser.add_argument(
        "--opportunity-cost",
        action="store_true",
        help="labs long on contracts price at what resale fetches (lab_pricing.opportunity_cost)",
    )
    args = parser.parse_args()
    base = load_scenario(HERE / "baseline.toml")
    if args.opportunity_cost:
        base = base.with_overrides({"lab_pricing.opportunity_cost": True})
    seeds = derive_seeds(2027, args.seeds)
    pd.set_option("display.width", 140)
    if "1" in args.only:
        print("1. circular deals ×0 against ×4: lab revenue over 60 months, USD")
        table = circular(base, seeds)
        print(table.to_string(index=False))
        print(f"   mean change ×4 vs ×0: {table['change'].mean():+.2%} (must be ≥ 1% in size)")
        only = circular(base, seeds, skip=PURCHASES)
        print("   the circular kinds only (the named take-or-pay commitments as they are):")
        print(only.to_string(index=False))
        print(f"   mean change ×4 vs ×0: {only['change'].mean():+.2%}\n")
    if "2" in args.only:
        print("2. price war: labs' revenue-weighted pricing margin (< 25% by month 24)")
        war = price_war(base, seeds)
        print(war.groupby("world")[["month 0", "month 24"]].mean().to_string(), "\n")
    if "3" in args.only:
        print("3. cascade shock: rivals' share of the leader's lost revenue (must be ≥ 0.5)")
        cas = cascade(base, seeds)
        print(cas.to_string(index=False))
        print(f"   mean share to rivals: {cas['share to rivals'].mean():.2f}\n")
    if "5" in args.only:
        print("5. Stargate lab against the pure renter through a boom and a bust (from month 30)")
        sg = stargate(base, seeds)
        print(
            sg.groupby("world")[["defaulted", "owned share at 60", "equity at 60"]]
            .agg({"defaulted": "sum", "owned share at 60": "median", "equity at 60": "median"})
            .to_string(),
            "\n",
        )
    if "6" in args.only:
        print("6. the seeds' two enterprise JVs against the baseline (60 months)")
        jvs = joint_ventures(base, seeds)
        print(jvs.to_string(index=False), "\n")
    if "4" not in args.only:
        return 0
    print("4. overbuild on purpose (resale on): spot years 3–5, leader's 60-month result")
    ob = overbuild(base, seeds)
    order = list(dict.fromkeys(ob["world"]))
    by = ob.groupby("world", sort=False)
    means = by[["spot years 3-5", "leader defaulted", "default month"]].mean()
    base_row = ob[ob["world"] == "baseline"].set_index("seed")
    for label in order:
        mine = ob[ob["world"] == label].set_index("seed")
        means.loc[label, "spot vs baseline"] = (
            mine["spot years 3-5"] / base_row["spot years 3-5"] - 1
        ).mean()
        means.loc[label, "leader retained vs baseline (B)"] = (
            mine["leader retained"] - base_row["leader retained"]
        ).mean() / 1e9
        # the shareholders' result: the market value at month 60 (0 once defaulted), which
        # retained earnings that stop at a default do not show
        means.loc[label, "leader value at 60 vs baseline (B)"] = (
            mine["leader value at 60"] - base_row["leader value at 60"]
        ).mean() / 1e9
    print(means.to_string(float_format="{:.3f}".format))
    print(
        "   (a defaulted lab's retained earnings stop at its default: not a gain, its "
        "shareholders are wiped out)"
    )
    print("   money (means over seeds, USD billion):")
    print((by[MONEY].mean() / 1e9).to_string(float_format="{:.1f}".format))
    print("   who pays what per GPU-hour used in years 3-5 (means over seeds, USD):")
    print(by[COSTS].mean().to_string(float_format="{:.3f}".format))
    print("   the leader's share of the compute used in years 3-5:")
    share = by["leader share of compute used years 3-5"].mean()
    print(share.to_string(float_format="{:.3f}".format))
    print("   why (means over years 3-5, million GPUs):")
    print((by[MECHANISM].mean() / 1e6).to_string(float_format="{:.3f}".format))
    print("   contracts repriced over the run (config repricing; means over seeds):")
    print(by["contracts repriced"].mean().to_string(float_format="{:.1f}".format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
