"""Cascades: the leading lab's revenue falls short of its projections; who fails, how far the
failure spreads, who bears the losses — with and without rescues."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from sim.config import load_scenario
from sim.ensemble import derive_seeds, run_ensemble
from sim.gallery import BuildContext, Experiment, GalleryFigure, run_standalone
from sim.metrics import loss_events, losses_by
from sim.plots import (
    cascade_timeline,
    exposure_network,
    fan_chart,
    market_panels,
    new_figure,
    save_figure,
)
from sim.runner import simulate

HERE = Path(__file__).resolve().parent
PARAMS = {
    "scenario": "experiments/baseline.toml",
    "shock.lab": "frontier-leader",
    "shock.month": 12,
    # 0.64: 0.8 -> 0.85. The calibrated leader burns $23B in 2026 (record 17-25; $41B at
    # 0.61), so an 80% shortfall left it solvent in 6 of the 10 seeds; the experiment asks
    # what its failure does, and at 85% it fails in 7 (at 90% in all 10)
    "shock.revenue_shortfall": 0.85,
    "shock.sentiment_drop": 0.9,
    "rescue budget share (with rescues)": 0.1,
    "seeds": 10,
    "base_seed": 2026,
    "months": 72,
    "exposure network month": 36,
}


def scenarios():
    base = load_scenario(HERE / "baseline.toml").with_overrides(
        {k: v for k, v in PARAMS.items() if k.startswith("shock.")}
        | {"cascade.debtrank_months": (PARAMS["exposure network month"],)}
    )
    rescued = base.with_overrides(
        {
            "cascade.rescue": True,
            "cascade.rescue_budget_share": PARAMS["rescue budget share (with rescues)"],
        }
    )
    return base, rescued


def build(out: Path, ctx: BuildContext) -> None:
    base, rescued = scenarios()
    seeds = derive_seeds(PARAMS["base_seed"], PARAMS["seeds"])
    months = PARAMS["months"]
    keep = ("model", "events")
    s0, t0 = run_ensemble(
        base,
        seeds,
        months,
        workers=ctx.workers,
        keep=keep,
        on_done=lambda: ctx.progress("run without rescues done"),
    )
    s1, t1 = run_ensemble(
        rescued,
        seeds,
        months,
        workers=ctx.workers,
        keep=keep,
        on_done=lambda: ctx.progress("run with rescues done"),
    )
    pd.concat([s0.assign(rescues_enabled=False), s1.assign(rescues_enabled=True)]).to_csv(
        out / "summary.csv", index=False
    )
    events = pd.concat(
        [t0["events"].assign(rescues_enabled=False), t1["events"].assign(rescues_enabled=True)]
    )
    events.to_parquet(out / "events.parquet", index=False)

    one = simulate(base, seeds[0], months)
    one_rescued = simulate(rescued, seeds[0], months)
    types = dict(
        zip(one.tables["agents"]["agent_id"], one.tables["agents"]["agent_type"], strict=False)
    )
    save_figure(
        cascade_timeline(
            one.tables["events"],
            types,
            months,
            title="Defaults and losses without rescues (one seed)",
        ),
        out / "timeline_without_rescues.png",
    )
    save_figure(
        cascade_timeline(
            one_rescued.tables["events"],
            types,
            months,
            title="Defaults and losses with rescues (same seed)",
        ),
        out / "timeline_with_rescues.png",
    )
    save_figure(
        market_panels(
            one_rescued.tables["model"],
            title="The market after the shock, with rescues (solid) and without (dashed), "
            "same seed",
            reference=one.tables["model"],
            reference_label="no rescues",
        ),
        out / "market_with_and_without_rescues.png",
    )

    fig, axes = new_figure(1, 2, size=(12, 5))
    for table, label, colour in ((t0, "no rescues", "#d62728"), (t1, "with rescues", "#1f77b4")):
        ev = table["events"]
        monthly = []
        for seed in seeds:
            e = ev[ev["seed"] == seed]
            d = e[e["event"].str.startswith("default")].groupby("step").size()
            loss = loss_events(e)
            lost = loss.groupby("step")["amount_lost"].sum()
            frame = pd.DataFrame({"step": range(months)})
            frame["defaults"] = frame["step"].map(d).fillna(0).cumsum()
            frame["losses"] = frame["step"].map(lost).fillna(0).cumsum()
            monthly.append(frame.assign(seed=seed))
        runs = pd.concat(monthly)
        fan_chart(
            runs,
            "step",
            "defaults",
            ax=axes[0, 0],
            title="Defaults, cumulative",
            ylabel="parties in default",
            colour=colour,
            label=label,
        )
        fan_chart(
            runs,
            "step",
            "losses",
            ax=axes[0, 1],
            title="Losses, cumulative",
            ylabel="USD billion",
            scale=1e-9,
            colour=colour,
            label=label,
        )
    for ax in axes[0]:
        ax.axvline(PARAMS["shock.month"], color="black", ls=":", lw=1)
        ax.set_xlabel("month (dotted: the shortfall begins)")
    save_figure(fig, out / "defaults_and_losses.png")

    exposures = one.tables["exposures"]
    failed = {
        a
        for a in one.tables["events"].query("event.str.startswith('default')", engine="python")[
            "defaulter"
        ]
    }
    save_figure(
        exposure_network(
            exposures,
            types,
            defaulted=failed,
            title=f"Who is exposed to whom at month "
            f"{PARAMS['exposure network month']} (× = defaults later)",
        ),
        out / "exposure_network.png",
    )

    table = losses_by(one.tables["events"], types) / 1e9
    fig, axes = new_figure()
    if table.empty:
        axes[0, 0].text(0.5, 0.5, "no losses", ha="center", transform=axes[0, 0].transAxes)
    else:
        table.plot.bar(stacked=True, ax=axes[0, 0], rot=0)
        axes[0, 0].legend(title="instrument")  # not the column's name, instrument_kind
    axes[0, 0].set(
        title="Who bore the losses, through which instrument (no rescues, one seed)",
        ylabel="USD billion",
        xlabel="type of the party that lost",
    )
    save_figure(fig, out / "losses_by_type.png")
    table.to_csv(out / "losses_by_type.csv")


EXPERIMENT = Experiment(
    name="cascade",
    title="A shortfall at the leading lab, with and without rescues",
    section="Cascades",
    description="From month 12 the leading lab's end-user demand is 85% below what it "
    "projected and investor sentiment drops by 90%. Its take-or-pay contracts stay; the "
    "capacity built for it becomes a glut. Every month every borrower's covenants are "
    "tested (debt service coverage, loan-to-value on its GPUs at the secondary price and on "
    "its backlog weighted by its buyers' runway, equity at book and market value) and its "
    "lenders waive, restructure or call its loans, whichever recovers most; lenders price "
    "each loan by the borrower's leverage and customer concentration, and a neocloud repays "
    "its dear debt from cash it does not need. What is still owed is cleared by seniority "
    "(Eisenberg–Noe with priority ranks and Rogers–Veraart default costs): a defaulter's "
    "cash pays its secured lenders first, then senior unsecured, then trade and take-or-pay "
    "creditors. Its estate pays its secured lenders first from its GPUs, sold at a price its "
    "own sale depresses, which marks every other holder's GPUs down the same month; sellers "
    "of its terminated contracts claim on the estate. A party defaults in a later round of "
    "a month only through a loss from an earlier-round defaulter of that month (every "
    "default row carries its cause; events.parquet). With rescues, a partner — or a "
    "consortium of partners, each paying in proportion to the loss it avoids — buys new "
    "equity in a distressed counterparty only when what it puts at risk is less than the "
    "loss the default would cost it (its claims × loss given default plus the margin on "
    "the sales it would lose), within a budget of 10% of its equity over the run; a lender "
    "is never rescuing its own borrower just to be repaid with its own money. In the "
    "default world (MODEL_VERSION 0.64) the leading lab defaults without rescues in 7 of "
    "the 10 seeds (9 of 10 at 0.54 with an 80% shortfall, which fails the calibrated leader "
    "of 0.64 in only 4), seven to nine months after the shock: its bills run "
    "at several times its revenue, its rounds fail and its cash runs out; the clouds that "
    "sold it take-or-pay capacity bear losses from its default.",
    figures=(
        GalleryFigure(
            "timeline_without_rescues.png",
            "Each default by month and round (top) "
            "and the month's losses by who bore them (bottom), without rescues. Every default "
            "in a round after the first follows a loss from an earlier-round defaulter of its "
            "month.",
        ),
        GalleryFigure(
            "timeline_with_rescues.png",
            "The same seed with rescues; every rescue is an equity injection by a partner "
            "other than the distressed party. Rescues help little: over the 10 seeds they "
            "lower the count of defaults in 1, raise it in 1 and leave it in 8 (summary.csv; "
            "MODEL_VERSION 0.64; 3, 2 and 5 at 0.61; 2, 4 and 4 at 0.58; 2, 3 and 5 at 0.54; "
            "2, 4 and 4 at 0.49; 4, 2 and 4 at 0.44). Partners keep the leading lab alive in "
            "3 of the 7 seeds where it defaults without rescues; in most seeds where a "
            "partner keeps it alive, more of the small labs "
            "fail than without rescues: the rescued lab keeps the users its rivals would have "
            "taken over, and they run out of money first (the zombie congestion of Caballero, "
            "Hoshi and Kashyap 2008; events.parquet).",
        ),
        GalleryFigure(
            "market_with_and_without_rescues.png",
            "The same seed's market with and without rescues: price against full cost, "
            "capacity against need, utilisation and defaults (the dashboard's market page).",
        ),
        GalleryFigure(
            "defaults_and_losses.png",
            "Cumulative defaults and losses over seeds, with and without rescues.",
        ),
        GalleryFigure(
            "exposure_network.png",
            "Exposures before the cascade: loans, stakes "
            "and contract backlog, arrow creditor → debtor sized by amount; crosses "
            "mark the parties that default later.",
        ),
        GalleryFigure(
            "losses_by_type.png",
            "Losses by the type of party that bore them and by instrument (no rescues).",
        ),
    ),
    params=PARAMS,
    build=build,
    data_files=("summary.csv", "events.parquet", "losses_by_type.csv"),
)

if __name__ == "__main__":
    sys.exit(run_standalone(EXPERIMENT))
