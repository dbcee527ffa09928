"""The "Must show" figures of issue 13 (distress), printed.

Usage: python benchmarks/distress_figures.py [--workers N] [--cascade-seeds N]
                                            [--connectivity-seeds N] [--baseline-seeds N]

1. Over the cascade experiment (its scenarios, with and without rescues, its seeds and
   months) and the connectivity sweep (its fixed shock, every partners-per-lab value, seeds
   derived from its base seed): every default in a clearing round ≥ 2 has strictly positive
   losses (loss rows of the events table) from parties that defaulted in an earlier round
   of the same month. Prints the count of such defaults and of exceptions (must be 0).
   In the shipped worlds lenders restructure a borrower hit by a defaulter rather than call
   its loans (continuing is worth more than a fire sale), so round ≥ 2 defaults are rare
   there; the check is also run on the same cascade and connectivity worlds with lenders
   that call (``LENDERS_CALL``: no going-concern months, no fire-sale discount, so calling
   recovers as much as continuing), where they occur.
2. Baseline, seeds 1–5 (120 months): the longest run of consecutive months in which a
   borrower (debt > 0) that has not defaulted has negative book equity (must be ≤ 6); the
   share of months in which a neocloud's cash ÷ debt is below 0.3 (must be ≥ 90%); each
   hyperscaler's cash at the end against its starting cash plus retained profits after
   payouts (within a factor of 2), and its cash-flow identity over the run (start, retained
   profit, depreciation and impairment, capex, net borrowing, other, end; and the end cash
   in months of its last year's capex): for a firm that builds, cash at the end is below
   start + retained by the capex that depreciation and borrowing did not fund
   (end ÷ (start + retained) = 1 − (capex − depreciation − net borrowing − other) ÷ (start +
   retained)); and what meeting 0.5 would take: the payouts cut by Δ = start + retained −
   2 × end (``payout_cut_for_half``), leaving end + Δ of cash (``end_months_if_half``, in
   months of the run's average capex).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import load_scenario
from sim.ensemble import derive_seeds, run_ensemble
from sim.metrics import longest_run
from sim.phases.resolve import CONTAGION_LOSSES

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "experiments"))

import cascade  # noqa: E402  (experiments/cascade.py: its scenarios and seeds)


def later_round_defaults(events: pd.DataFrame) -> tuple[int, list[tuple]]:
    """Defaults in round ≥ 2, and those without a loss from an earlier-round defaulter of
    the same month (seed, month, party, round)."""
    count, bad = 0, []
    for seed, ev in events.groupby("seed"):
        defaults = ev[ev["event"].str.startswith("default")]
        first = defaults.groupby(["step", "defaulter"])["round"].min()
        losses = ev[ev["event"].isin(CONTAGION_LOSSES) & (ev["amount_lost"] > 0)]
        for (step, party), round_ in first.items():
            if round_ < 2:
                continue
            count += 1
            mine = losses[(losses["step"] == step) & (losses["creditor"] == party)]
            earlier = np.array(
                [first.get((step, s), round_) < round_ for s in mine["defaulter"]], dtype=bool
            )
            if not mine.loc[earlier, "amount_lost"].sum() > 0:
                bad.append((seed, int(step), party, int(round_)))
    return count, bad


LENDERS_CALL = {
    "distress.continuation_horizon_months": 0,
    "cascade.fire_sale_discount": 0.0,
}
"""Lenders that call a breaching borrower's loans: with no months of going-concern income
and no fire-sale discount, continuing recovers no more than calling, so a borrower that lost
money to a defaulter and breaches its equity covenant is accelerated and cleared in the next
round of the same month (``MarketAgent.respond_to_breach``)."""


def contagion_check(
    workers: int, cascade_seeds: int, connectivity_seeds: int, calling_seeds: int = 0
) -> None:
    rows = []
    for tag, extra, n_cascade, n_connectivity in (
        ("", {}, cascade_seeds, connectivity_seeds),
        (", lenders call", LENDERS_CALL, min(cascade_seeds, calling_seeds), calling_seeds),
    ):
        rows += cascade_rows(workers, n_cascade, extra, tag)
        rows += connectivity_rows(workers, n_connectivity, extra, tag)
    print("defaults in clearing round >= 2, and those without a loss from an earlier round:")
    total = exceptions = 0
    for label, count, bad in rows:
        total, exceptions = total + count, exceptions + len(bad)
        print(f"  {label:60s} {count:5d} later-round defaults, {len(bad)} exceptions {bad[:3]}")
    print(f"  all: {total} later-round defaults checked, {exceptions} exceptions")


def cascade_rows(workers: int, n_seeds: int, extra: dict, tag: str) -> list[tuple]:
    """The cascade experiment's two worlds (``extra`` overrides on top)."""
    if not n_seeds:
        return []
    base, rescued = cascade.scenarios()
    seeds = derive_seeds(cascade.PARAMS["base_seed"], n_seeds)
    months = cascade.PARAMS["months"]
    rows = []
    for label, scenario in (("cascade", base), ("cascade with rescues", rescued)):
        _, tables = run_ensemble(
            scenario.with_overrides(extra), seeds, months, workers=workers, keep=("events",)
        )
        rows.append((label + tag, *later_round_defaults(tables["events"])))
    return rows


def connectivity_rows(workers: int, n_seeds: int, extra: dict, tag: str) -> list[tuple]:
    """The connectivity sweep: its fixed shock, every partners-per-lab value."""
    if not n_seeds:
        return []
    rows = []
    sweep_file = ROOT / "experiments" / "sweeps" / "connectivity.toml"
    sweep = tomllib.loads(sweep_file.read_text())
    scenario = load_scenario(sweep_file.parent / sweep["sweep"]["scenario"]).with_overrides(
        sweep["fixed"]
    )
    (vary,) = sweep["parameters"]["vary"]
    seeds = derive_seeds(sweep["sweep"]["base_seed"], n_seeds)
    for value in vary["values"]:
        _, tables = run_ensemble(
            scenario.with_overrides({vary["path"]: value, **extra}),
            seeds,
            sweep["sweep"]["months"],
            workers=workers,
            keep=("events",),
        )
        label = f"connectivity {vary['path']}={value}{tag}"
        rows.append((label, *later_round_defaults(tables["events"])))
    return rows


def baseline_check(workers: int, n_seeds: int) -> None:
    scenario = load_scenario(ROOT / "experiments" / "baseline.toml")
    _, tables = run_ensemble(
        scenario,
        list(range(1, n_seeds + 1)),
        workers=workers,
        keep=("agents", "flows", "accruals", "events"),
    )
    agents = tables["agents"]
    live = agents[~agents["defaulted"].astype(bool)]
    borrowers = live.assign(negative=(live["equity_usd"] < 0) & (live["debt_usd"] > 0)).sort_values(
        ["seed", "agent_id", "step"]
    )
    streaks = borrowers.groupby(["seed", "agent_id"])["negative"].apply(lambda f: longest_run(f)[0])
    worst = streaks.sort_values(ascending=False).head(3)
    print(f"baseline seeds 1-{n_seeds}, {int(agents['step'].max()) + 1} months:")
    print(
        f"  longest run of negative equity of a borrower that has not defaulted: "
        f"{int(streaks.max())} months (worst: {dict(worst)})"
    )
    # zombies: negative equity is cured by a restructuring within the month, so the month-end
    # equity above cannot see it; count the breaches themselves (equity covenant, any decision)
    events = tables["events"]
    breaches = events[
        events["event"].str.startswith("covenant_")
        & events["instrument"].astype(str).str.contains("equity")
    ]
    defaulted = set(
        zip(
            agents.loc[agents["defaulted"].astype(bool), "seed"],
            agents.loc[agents["defaulted"].astype(bool), "agent_id"],
            strict=True,
        )
    )
    zombie_run, restructured = 0, 0
    for (seed, party), rows in breaches.groupby(["seed", "defaulter"]):
        if (seed, party) in defaulted:
            continue
        steps = sorted(set(rows["step"]))
        flags = pd.Series([step in set(steps) for step in range(int(steps[0]), int(steps[-1]) + 1)])
        zombie_run = max(zombie_run, longest_run(flags)[0])
        months = rows.loc[rows["event"] == "covenant_restructure", "step"].nunique()
        restructured = max(restructured, int(months))
    print(
        f"  longest run of consecutive months with an equity-covenant breach (negative equity "
        f"at book or market value before the lenders' decision) of a borrower that never "
        f"defaulted: {zombie_run} months; most months in which one such borrower was "
        f"restructured: {restructured}"
    )
    neo = live[(live["archetype"] == "neocloud") & (live["debt_usd"] > 0)]
    ratio = neo["cash_usd"] / neo["debt_usd"]
    print(
        f"  neocloud months with cash / debt < 0.3: {(ratio < 0.3).mean():.1%} of "
        f"{len(ratio)} (median ratio {ratio.median():.3f}, 90th percentile "
        f"{ratio.quantile(0.9):.3f})"
    )
    hyper = agents[agents["archetype"] == "hyperscaler"].sort_values("step")
    flows = tables["flows"]
    print(
        "  hyperscalers: cash at the end ÷ (starting cash + retained profits after payouts, "
        "stake marks excluded)"
    )
    ratios = []
    for (seed, name), rows in hyper.groupby(["seed", "agent_id"]):
        start, end = rows.iloc[0], rows.iloc[-1]
        # retained profits without the unrealised gains of marking stakes (not cash)
        retained = (end["retained_usd"] - start["retained_usd"]) - (
            end["stakes_usd"] - start["stakes_usd"]
        )
        expected = start["cash_usd"] + retained
        ratios.append(end["cash_usd"] / expected if expected > 0 else float("nan"))
        paid = flows[(flows["seed"] == seed) & (flows["payer"] == name)]
        payouts = paid[paid["kind"].isin(["payout", "dividend"])]["amount"].sum()
        print(
            f"    seed {seed} {name:18s} start ${start['cash_usd'] / 1e9:7.1f}B  end "
            f"${end['cash_usd'] / 1e9:7.1f}B  start+retained ${expected / 1e9:7.1f}B  ratio "
            f"{end['cash_usd'] / expected if expected > 0 else float('nan'):.3f}  paid out "
            f"${payouts / 1e9:7.1f}B"
        )
    inside = all(0.5 <= r <= 2.0 for r in ratios)
    print(
        f"  hyperscalers' ratio {min(ratios):.3f}-{max(ratios):.3f}: within a factor of 2 in "
        f"{'every' if inside else 'NOT every'} case"
    )
    print(
        "  hyperscalers' cash-flow identity, USD billion over the run (end = start + retained "
        "+ depreciation and impairment - capex + net borrowing + other):"
    )
    print(cash_identity(hyper, flows, tables["accruals"]).to_string(index=False))


CAPEX_KINDS = ("chip_invoice_due", "facility_capex", "asset_sale")
"""What a cloud pays for GPUs and their data centres: chip invoices (accrued on delivery),
facility bills and fleets bought from defaulters (the payer is the buyer)."""


def cash_identity(
    agents: pd.DataFrame, flows: pd.DataFrame, accruals: pd.DataFrame
) -> pd.DataFrame:
    """Each agent's cash at the end from its balance sheet, USD billion: the cash at the
    start, plus the retained profit without stake marks (the measure's "retained profits
    after payouts"), plus the depreciation and impairment charged in it (capex less the
    change of the fleet's book value: costs that use no cash), less capex
    (:data:`CAPEX_KINDS`), plus net borrowing (the change of debt), plus the rest (paid-in
    capital, payables and receivables, prepayments, stakes bought). An identity of the
    balance sheet (cash = liabilities + equity − other assets), so ``end`` is exact; it
    shows why a firm that builds ends with less cash than it started with plus what it
    retained: the capex its depreciation and borrowing did not fund. The last columns are the
    capex of the run's last 12 months and the cash at the end in months of the run's average
    capex (does cash pile up beyond what the firm's building needs?)."""
    capex_rows = pd.concat([flows, accruals])
    capex_rows = capex_rows[capex_rows["kind"].isin(CAPEX_KINDS)]
    paid = capex_rows.groupby(["seed", "payer"])["amount"].sum()
    last_year = capex_rows[capex_rows["step"] > capex_rows["step"].max() - 12]
    paid_last_year = last_year.groupby(["seed", "payer"])["amount"].sum()
    rows = []
    for (seed, name), frame in agents.sort_values("step").groupby(["seed", "agent_id"]):
        start, end = frame.iloc[0], frame.iloc[-1]

        def change(column: str, start=start, end=end) -> float:
            return float(end[column] - start[column])

        retained = change("retained_usd") - change("stakes_usd")
        capex = float(paid.get((seed, name), 0.0))
        depreciation = capex - change("fleet_usd")
        borrowing = change("debt_usd")
        other = change("cash_usd") - (retained + depreciation - capex + borrowing)
        rows.append(
            {
                "seed": seed,
                "agent": name,
                "start": start["cash_usd"],
                "retained": retained,
                "depreciation": depreciation,
                "capex": capex,
                "net_borrowing": borrowing,
                "other": other,
                "end": end["cash_usd"],
                "end/(start+retained)": end["cash_usd"] / (start["cash_usd"] + retained),
                "capex_last_year": float(paid_last_year.get((seed, name), 0.0)),
                "end_in_months_of_capex": end["cash_usd"] / (capex / len(frame))
                if capex > 0
                else float("nan"),
                # what the ratio of 0.5 asks: paying out Δ less raises the end cash and
                # start + retained alike, (end + Δ) / (start + retained + Δ) = 0.5
                "payout_cut_for_half": max(
                    0.0, start["cash_usd"] + retained - 2.0 * end["cash_usd"]
                ),
            }
        )
        cut = rows[-1]["payout_cut_for_half"]
        rows[-1]["end_months_if_half"] = (
            (end["cash_usd"] + cut) / (capex / len(frame)) if capex > 0 else float("nan")
        )
    table = pd.DataFrame(rows)
    ratios = [  # the rest in USD billion
        "end/(start+retained)",
        "end_in_months_of_capex",
        "end_months_if_half",
    ]
    usd = [c for c in table.columns if c not in ("seed", "agent", *ratios)]
    table[usd] = (table[usd] / 1e9).round(1)
    table[ratios] = table[ratios].round(2)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cascade-seeds", type=int, default=cascade.PARAMS["seeds"])
    parser.add_argument("--connectivity-seeds", type=int, default=12)
    parser.add_argument(
        "--calling-seeds",
        type=int,
        default=3,
        help="seeds per world of the cascade and connectivity worlds with lenders that call",
    )
    parser.add_argument("--baseline-seeds", type=int, default=5)
    parser.add_argument("--skip-contagion", action="store_true")
    args = parser.parse_args()
    if args.baseline_seeds:
        baseline_check(args.workers, args.baseline_seeds)
    if not args.skip_contagion:
        contagion_check(
            args.workers, args.cascade_seeds, args.connectivity_seeds, args.calling_seeds
        )


if __name__ == "__main__":
    main()
