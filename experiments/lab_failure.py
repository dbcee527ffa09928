"""The leading lab fails to pay: the cascade experiment's shock with rescues off, on the
capital market of issue 14 — its valuation from expected cash flows collapses, no investor
will fund it at a price that meets their hurdle, its rounds fail, its take-or-pay bills go
unpaid, and the losses land on its clouds, their lenders and the vendors who financed them.

Run alone: ``python experiments/lab_failure.py`` builds the figures; ``python
experiments/lab_failure.py --check`` prints the issue's "Must show" figures (in how many of
the 10 seeds the leader defaults; what its unpaid take-or-pay cost the clouds).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from sim.config import Scenario, load_scenario
from sim.ensemble import derive_seeds, run_ensemble
from sim.gallery import BuildContext, Experiment, GalleryFigure, run_standalone
from sim.metrics import loss_events
from sim.plots import new_figure, save_figure

HERE = Path(__file__).resolve().parent
LEADER = "frontier-leader"
PARAMS = {
    "scenario": "experiments/baseline.toml",
    "shock.lab": LEADER,
    "shock.month": 12,
    "shock.revenue_shortfall": 0.8,
    "shock.sentiment_drop": 0.9,
    "cascade.rescue": False,
    "seeds": 10,
    "base_seed": 2026,
    "months": 72,
}
LEAST_SEEDS_WITH_DEFAULT = 0
"""The caption's claim: the leader defaults in at least this many of the seeds (issue 14's
"Must show" asks for at least half; not met on the world that ships, see below).

History: 9 of 10 on the capital-markets branch alone, where a lab's lost demand went nowhere;
0 of 10 from 0.18.1 to 0.22.0, once customers chose labs (issue 15) and came back. Diagnosis
at 0.22.0: the capital market did refuse it (valuation 0 for 6–10 months, no round priced),
but its costs were a twentieth of the calibrated leader's (2025 burn $0.38B against OpenAI's
≈ $9B) and fell 80% with its revenue the same month, so its opening $9.5–10B outlasted the
drought. At 0.26.1 (labs-only world) its costs calibrated (training compute 2× serving, other
costs 70% of revenue, sticky on the way down: ``Lab.operating_costs``) made it default in 7 of
10 seeds (months 22–58; clouds wrote off $0.2–2.9B of its unpaid take-or-pay each time).

On the merged world with the outside demand (0.26.2 = scale 0.23.0 + this branch) the
leader's cost parameters are back at their estimates (calibrated, they overshoot its 2026 burn
there and make it default in the baseline), and the shock makes 8–9 other parties default in
every seed ($144–200B of losses) but not the leader: 0 of 10. Its bills in the year after are
1.3–1.7× its revenue, its cash ≈ $10B at the shock never falls below $5.6B, the vendor's
strategic tranches ($13–15B) keep coming. Why the clouds fail there is not analysed here."""
MOST_BILLS_TO_REVENUE = 1.7
"""The caption's claim: the leader's compute bills in the year after the shock are less than
this multiple of its revenue in every seed."""
LEAST_CASH_USD = 5.5e9
"""The caption's claim: the leader's cash never falls below this after the shock."""


def scenario() -> Scenario:
    """The cascade experiment's shock (same parameters), rescues off."""
    return load_scenario(HERE / "baseline.toml").with_overrides(
        {k: v for k, v in PARAMS.items() if k.startswith(("shock.", "cascade."))}
    )


FUNDING_MONTHS = 12
"""Months after the shock over which the leader's funding and bills are summed."""


def funding_after_shock(flows: pd.DataFrame, seed: int) -> dict[str, float]:
    """USD the leader received in the ``FUNDING_MONTHS`` from the shock, by source: priced
    rounds, strategic stakes (deals' equity tranches), and loans (venture debt and notes)."""
    start = PARAMS["shock.month"]
    f = flows[
        (flows["seed"] == seed)
        & (flows["payee"] == LEADER)
        & flows["step"].between(start, start + FUNDING_MONTHS - 1)
    ]
    equity = f[f["kind"] == "equity_investment"]
    rounds = equity["instrument"] == "round"
    return {
        "rounds_usd": float(equity.loc[rounds, "amount"].sum()),
        "strategic_equity_usd": float(equity.loc[~rounds, "amount"].sum()),
        "loans_usd": float(f.loc[f["kind"] == "loan_advance", "amount"].sum()),
    }


def bills_to_revenue(accruals: pd.DataFrame, agents: pd.DataFrame, seed: int) -> float:
    """The leader's compute bills (take-or-pay and spot, ``compute_due``) ÷ its revenue over
    the ``FUNDING_MONTHS`` from the shock: how far its commitments outrun its business (the
    scale of what the capital market must fund; ≈ 10 for OpenAI's ≈ $175B a year of
    commitments against ≈ $20B of 2025-26 revenue, CALIBRATION)."""
    start = PARAMS["shock.month"]
    window = slice(start, start + FUNDING_MONTHS - 1)
    a = accruals[(accruals["seed"] == seed) & (accruals["payer"] == LEADER)]
    bills = a.loc[(a["kind"] == "compute_due") & a["step"].between(window.start, window.stop)]
    lead = agents[(agents["seed"] == seed) & (agents["agent_id"] == LEADER)]
    revenue = lead.loc[lead["step"].between(window.start, window.stop), "revenue_usd"].sum()
    return float(bills["amount"].sum() / revenue) if revenue > 0 else float("inf")


def leader_outcomes(
    events: pd.DataFrame,
    agents: pd.DataFrame,
    flows: pd.DataFrame | None = None,
    accruals: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per seed: the month the leader defaulted (NaN if it did not), its failed
    rounds, and what its default cost the clouds (unpaid take-or-pay bills, written off)
    and everybody (all losses, :data:`sim.metrics.LOSS_EVENTS`); with ``flows`` and
    ``accruals``, why it did or did not fail: its cash when the shock came, its lowest cash
    after, what it raised in the year after by source, and its bills against its revenue."""
    clouds = set(agents.loc[agents["agent_type"] == "Cloud", "agent_id"])
    rows = []
    for seed, e in events.groupby("seed"):
        mine = e[e["defaulter"] == LEADER]
        defaults = mine[mine["event"].str.startswith("default")]
        unpaid = loss_events(mine)
        contracts = unpaid[
            (unpaid["instrument_kind"] == "capacity contract") & unpaid["creditor"].isin(clouds)
        ]
        losses = loss_events(e)
        rows.append(
            {
                "seed": seed,
                "leader_default_month": defaults["step"].min() if len(defaults) else None,
                "failed_rounds": int((mine["event"] == "equity_round_failed").sum()),
                "clouds_unpaid_take_or_pay_usd": float(contracts["amount_lost"].sum()),
                "all_losses_usd": float(losses["amount_lost"].sum()),
                "defaults": int(e["event"].str.startswith("default").sum()),
            }
        )
        if flows is not None and accruals is not None:
            lead = agents[(agents["seed"] == seed) & (agents["agent_id"] == LEADER)]
            cash = lead.set_index("step")["cash_usd"]
            shock = PARAMS["shock.month"]
            rows[-1].update(
                {
                    "cash_at_shock_usd": float(cash.get(shock - 1, float("nan"))),
                    "lowest_cash_after_usd": float(cash.loc[shock:].min()),
                    "months_valued_at_zero": int(
                        (lead.set_index("step")["valuation_usd"].loc[shock:] <= 0).sum()
                    ),
                    **funding_after_shock(flows, seed),
                    "bills_to_revenue": bills_to_revenue(accruals, agents, seed),
                }
            )
    return pd.DataFrame(rows)


def run(workers: int = 1, on_done=None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    seeds = derive_seeds(PARAMS["base_seed"], PARAMS["seeds"])
    return run_ensemble(
        scenario(),
        seeds,
        PARAMS["months"],
        workers=workers,
        keep=("events", "agents", "flows", "accruals"),
        on_done=on_done,
    )


def build(out: Path, ctx: BuildContext) -> None:
    _, tables = run(ctx.workers, lambda: ctx.progress("runs done"))
    events, agents = tables["events"], tables["agents"]
    outcomes = leader_outcomes(events, agents, tables["flows"], tables["accruals"])
    outcomes.to_csv(out / "leader_outcomes.csv", index=False)

    fig, axes = new_figure(1, 2, size=(13, 5))
    ax = axes[0, 0]
    lead = agents[agents["agent_id"] == LEADER]
    for seed, run_ in lead.groupby("seed"):
        month = outcomes.set_index("seed").loc[seed, "leader_default_month"]
        style = "-" if pd.isna(month) else "--"
        ax.plot(run_["step"], run_["valuation_usd"] / 1e9, style, lw=1)
    ax.axvline(PARAMS["shock.month"], color="black", ls=":", lw=1)
    ax.set(
        title="The leader's valuation from expected cash flows, each seed (dashed: it defaults)",
        xlabel="month (dotted: the shortfall begins)",
        ylabel="USD billion",
        yscale="symlog",
    )
    ax = axes[0, 1]
    bars = outcomes.sort_values("seed").reset_index(drop=True)
    ax.bar(bars.index, bars["clouds_unpaid_take_or_pay_usd"] / 1e9, color="#d62728")
    ax.set(
        title="Clouds' losses on the leader's unpaid take-or-pay bills, by seed",
        xlabel="seed (index)",
        ylabel="USD billion written off",
    )
    save_figure(fig, out / "leader_failure.png")


def check() -> int:
    """Print the issue's "Must show" figures; exit 1 unless the leader defaults in at least
    half of the seeds and its unpaid take-or-pay is a loss of the clouds."""
    _, tables = run()
    outcomes = leader_outcomes(
        tables["events"], tables["agents"], tables["flows"], tables["accruals"]
    )
    shown = outcomes.assign(seed=outcomes["seed"] % 10_000)
    usd = [c for c in shown.columns if c.endswith("_usd")]
    shown[usd] = (shown[usd] / 1e9).round(2)
    print("(USD columns in billions)")
    print(shown.to_string(index=False))
    failed = int(outcomes["leader_default_month"].notna().sum())
    lost = outcomes.loc[outcomes["leader_default_month"].notna(), "clouds_unpaid_take_or_pay_usd"]
    print(
        f"the leading lab defaults in {failed} of {len(outcomes)} seeds; in those, its clouds "
        f"write off ${lost.median() / 1e9:.2f}B (median) of unpaid take-or-pay bills"
    )
    return 0 if failed >= len(outcomes) / 2 and (lost > 0).all() else 1


EXPERIMENT = Experiment(
    name="lab_failure",
    title="The leading lab fails to pay",
    section="Cascades",
    description="The cascade experiment's shock (in month 12 the leading lab loses 80% of its "
    "customers to its rivals and sentiment drops 90%), rescues off, on a capital market that "
    "prices from expectations: investors value the lab from its projected cash flows at their "
    "hurdle returns, and a lab whose burn outruns its expected growth cannot raise. The question "
    "is whether the leader then fails to pay its take-or-pay bills.",
    figures=(
        GalleryFigure(
            "leader_failure.png",
            f"The leading lab does not default in any of the {PARAMS['seeds']} seeds "
            "(MODEL_VERSION 0.26.2; issue 14 asks for at least half). The shock takes 80% of "
            "its customers and its valuation falls to nothing for months, but in the year "
            f"after it its compute bills are less than {MOST_BILLS_TO_REVENUE:.1f}× its "
            f"revenue, its cash never falls below ${LEAST_CASH_USD / 1e9:.1f}B and the "
            "leading vendor's strategic tranches keep coming (left: its valuation per seed; "
            "right: clouds' losses on its unpaid bills, none). Other parties default instead: "
            "8 or 9 in every seed.",
        ),
    ),
    params=PARAMS,
    build=build,
    data_files=("leader_outcomes.csv",),
)

if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(check())
    sys.exit(run_standalone(EXPERIMENT))
