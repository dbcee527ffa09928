"""Overbuild: demand stops growing in 2027 while capacity is still on order; and a lab that
overbuilds on purpose."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import load_scenario
from sim.ensemble import derive_seeds, run_ensemble
from sim.gallery import BuildContext, Experiment, GalleryFigure, run_standalone
from sim.metrics import longest_run, overbuild_series
from sim.plots import fan_chart, new_figure, save_figure

HERE = Path(__file__).resolve().parent
PARAMS = {
    "scenario": "experiments/telecom_bust.toml (baseline + bust in month 30)",
    "seeds": 20,
    "base_seed": 2027,
    "months": 84,
    "overbuild on purpose: lab": "frontier-leader",
    "overbuild on purpose: optimism": 3.0,
    "overbuild on purpose: contract coverage": 1.6,
    "overbuild on purpose: seeds": 10,
    "overbuild on purpose: months": 60,
    "endogenous glut: scenario": "experiments/endogenous_glut.toml (boom, no bust)",
    "endogenous glut: seeds": 10,
    "endogenous glut: months": 120,
}


def build(out: Path, ctx: BuildContext) -> None:
    bust = load_scenario(HERE / "telecom_bust.toml")
    seeds = derive_seeds(PARAMS["base_seed"], PARAMS["seeds"])
    summary, tables = run_ensemble(
        bust,
        seeds,
        PARAMS["months"],
        workers=ctx.workers,
        on_done=lambda: ctx.progress("bust run done"),
    )
    model = tables["model"]
    series = pd.concat([overbuild_series(g).assign(seed=s) for s, g in model.groupby("seed")])
    model.to_parquet(out / "bust_runs.parquet", index=False)
    summary.to_csv(out / "bust_summary.csv", index=False)
    bust_date = model["date"].iloc[bust.demand.bust_month]

    fig, axes = new_figure()
    ax = axes[0, 0]
    fan_chart(
        model,
        "date",
        "installed_gpus",
        title="Capacity and demand after the bust",
        ylabel="million H100-eq GPUs",
        scale=1e-6,
        ax=ax,
        label="installed capacity",
    )
    fan_chart(
        model,
        "date",
        "need_gpus",
        title="Capacity and demand after the bust",
        ylabel="million H100-eq GPUs",
        scale=1e-6,
        ax=ax,
        colour="#d62728",
        label="demand at the spot price",
    )
    fan_chart(
        model,
        "date",
        "need_at_full_cost_gpus",
        title="Capacity and demand after the bust",
        ylabel="million H100-eq GPUs",
        scale=1e-6,
        ax=ax,
        colour="#7f7f7f",
        label="demand at a cost-covering price",
    )
    ax.axvline(bust_date, color="black", ls=":", label="demand stops growing")
    ax.legend(loc="upper left", fontsize=7, ncols=2)
    save_figure(fig, out / "capacity_demand.png")

    fig = fan_chart(
        model,
        "date",
        "utilisation",
        title="Utilisation after the bust",
        ylabel="share of installed GPUs in use",
        colour="#2ca02c",
    )
    fig.axes[0].axhline(0.35, color="black", ls="--", lw=1, label="telecom 2001: ≈ 35% of lit")
    fig.axes[0].legend(loc="lower left")
    save_figure(fig, out / "utilisation.png")

    fig, axes = new_figure()
    fan_chart(
        model,
        "date",
        "spot_price_usd_per_gpu_hour",
        title="The price crash",
        ylabel="USD per H100-eq GPU-hour",
        ax=axes[0, 0],
        label="spot price",
    )
    fan_chart(
        model,
        "date",
        "full_cost_usd_per_gpu_hour",
        title="The price crash",
        ylabel="USD per H100-eq GPU-hour",
        ax=axes[0, 0],
        colour="#7f7f7f",
        label="full cost of a new GPU-hour",
    )
    save_figure(fig, out / "price.png")

    fig, axes = new_figure()
    fan_chart(
        model.assign(imp=model["impairment_cumulative_usd"]),
        "date",
        "imp",
        title="Write-downs: fleets impaired to economic value",
        ylabel="USD billion",
        scale=1e-9,
        ax=axes[0, 0],
        colour="#8c564b",
        label="cumulative impairment",
    )
    fan_chart(
        series.assign(date=model["date"].to_numpy()),
        "date",
        "stranded_book_usd",
        title="Write-downs: fleets impaired to economic value",
        ylabel="USD billion",
        scale=1e-9,
        ax=axes[0, 0],
        colour="#e377c2",
        label="stranded value (written off + idle book value)",
    )
    save_figure(fig, out / "writedowns.png")

    # Who made money, and who holds the market: the same seeds without the bust.
    base = load_scenario(HERE / "baseline.toml")
    s_calm, _ = run_ensemble(
        base,
        seeds,
        PARAMS["months"],
        workers=ctx.workers,
        keep=(),
        on_done=lambda: ctx.progress("no-bust run done"),
    )
    returns = pd.concat(
        [summary.assign(world="bust in 2027"), s_calm.assign(world="no bust (baseline)")]
    )
    returns.to_csv(out / "returns_and_concentration.csv", index=False)
    draw_returns(returns, out / "returns_and_concentration.png")

    # Overbuild on purpose: one lab commits to far more capacity than it needs.
    lab = PARAMS["overbuild on purpose: lab"]
    purpose = base.with_overrides(
        {
            f"labs.{lab}.optimism": PARAMS["overbuild on purpose: optimism"],
            f"labs.{lab}.contract_coverage": PARAMS["overbuild on purpose: contract coverage"],
        }
    )
    seeds2 = derive_seeds(PARAMS["base_seed"] + 1, PARAMS["overbuild on purpose: seeds"])
    months = PARAMS["overbuild on purpose: months"]
    s_base, t_base = run_ensemble(
        base, seeds2, months, workers=ctx.workers, keep=("model", "agents")
    )
    s_purp, t_purp = run_ensemble(
        purpose, seeds2, months, workers=ctx.workers, keep=("model", "agents")
    )
    fig, axes = new_figure(1, 2, size=(12, 5))
    fan_chart(
        t_base["model"],
        "date",
        "spot_price_usd_per_gpu_hour",
        ax=axes[0, 0],
        title="Compute price",
        ylabel="USD per H100-eq GPU-hour",
        label="baseline",
    )
    fan_chart(
        t_purp["model"],
        "date",
        "spot_price_usd_per_gpu_hour",
        ax=axes[0, 0],
        title="Compute price",
        ylabel="USD per H100-eq GPU-hour",
        colour="#d62728",
        label=f"{lab} overbuilds on purpose",
    )
    rows = []
    for label, s, t in (("baseline", s_base, t_base), ("overbuild on purpose", s_purp, t_purp)):
        agents, model = t["agents"], t["model"]
        end = agents[(agents["agent_id"] == lab) & (agents["step"] == months - 1)]
        rows.append(
            {
                "variant": label,
                "cloud revenue": s["cloud_revenue_usd"].median() / 1e9,
                "vendor revenue": s["vendor_revenue_usd"].median() / 1e9,
                "capex": s["capex_usd"].median() / 1e9,
                "lab retained earnings": end["retained_usd"].median() / 1e9,
                # not drawn: the thesis check (is the glut cheaper, does the lab gain?)
                "spot price years 3-5": model.loc[
                    model["step"] >= 24, "spot_price_usd_per_gpu_hour"
                ].mean(),
                "seeds in which the lab defaulted": float(end["defaulted"].sum()),
            }
        )
    table = pd.DataFrame(rows).set_index("variant")
    drawn = table.drop(columns=["spot price years 3-5", "seeds in which the lab defaulted"])
    drawn.T.plot.bar(ax=axes[0, 1], rot=0, color=["#1f77b4", "#d62728"])
    axes[0, 1].set(
        title=f"Suppliers over {months} months (median of {len(seeds2)} seeds)",
        ylabel="USD billion",
    )
    save_figure(fig, out / "overbuild_on_purpose.png")
    table.to_csv(out / "overbuild_on_purpose.csv")
    endogenous_glut(out, ctx)


def endogenous_glut(out: Path, ctx: BuildContext) -> pd.DataFrame:
    """Boom demand and no bust: the same seeds without and with strong pre-emption (clouds
    match rivals' announced pipelines). Writes the spot price over full cost for both and,
    per seed, the longest run of months with spot below full cost."""
    glut = load_scenario(HERE / "endogenous_glut.toml")
    seeds = derive_seeds(PARAMS["base_seed"] + 2, PARAMS["endogenous glut: seeds"])
    months = PARAMS["endogenous glut: months"]
    strong = glut.investment.preemption_weight
    fig, axes = new_figure()
    rows = []
    for weight, colour in ((0.0, "#1f77b4"), (strong, "#d62728")):
        world = glut.with_overrides({"investment.preemption_weight": weight})
        _, tables = run_ensemble(world, seeds, months, workers=ctx.workers, keep=("model",))
        model = tables["model"]
        model = model.assign(
            ratio=model["spot_price_usd_per_gpu_hour"] / model["full_cost_usd_per_gpu_hour"]
        )
        fan_chart(
            model,
            "date",
            "ratio",
            title="Boom demand, no bust: spot price over the full cost of a new GPU-hour",
            ylabel="spot ÷ full cost",
            ax=axes[0, 0],
            colour=colour,
            label=f"pre-emption weight {weight:g}",
        )
        for seed, g in model.groupby("seed"):
            below = (g["spot_price_usd_per_gpu_hour"] < g["full_cost_usd_per_gpu_hour"]).to_numpy()
            rows.append(
                {
                    "preemption_weight": weight,
                    "seed": seed,
                    "longest_months_below_full_cost": longest_run(below)[0],
                }
            )
    axes[0, 0].axhline(1.0, color="black", ls="--", lw=1, label="full cost")
    axes[0, 0].legend(loc="upper right")
    save_figure(fig, out / "endogenous_glut.png")
    table = pd.DataFrame(rows)
    table.to_csv(out / "endogenous_glut.csv", index=False)
    return table


def draw_returns(runs: pd.DataFrame, path: Path) -> None:
    """Investors' multiple on invested capital and the clouds' concentration, per seed."""
    worlds = ["no bust (baseline)", "bust in 2027"]
    colours = ["#1f77b4", "#d62728"]
    fig, axes = new_figure(1, 2, size=(11, 4.8))
    panels = (
        ("investor_moic", "Investors' multiple on invested capital", "× money put in", 1.0),
        ("final_cloud_hhi", "Concentration of cloud capacity at the end", "HHI (0–1)", None),
    )
    for ax, (column, title, ylabel, line) in zip(axes[0], panels, strict=True):
        parts = [runs.loc[runs["world"] == w, column].dropna().to_numpy() for w in worlds]
        box = ax.boxplot(parts, tick_labels=worlds, widths=0.5, patch_artist=True)
        for patch, colour in zip(box["boxes"], colours, strict=True):
            patch.set(facecolor=colour, alpha=0.35)
        for k, (values, colour) in enumerate(zip(parts, colours, strict=True)):
            ax.plot(np.full(len(values), k + 1.0), values, "o", color=colour, ms=4, alpha=0.8)
        if line is not None:
            ax.axhline(line, color="black", ls="--", lw=1, label="money back (1×)")
            ax.legend(loc="upper right")
        ax.set(title=f"{title} ({len(parts[0])} seeds)", ylabel=ylabel)
    save_figure(fig, path)


EXPERIMENT = Experiment(
    name="overbuild",
    title="The compute glut: demand stops growing in mid-2027",
    section="Overbuild",
    description="The telecom-bust settings (experiments/telecom_bust.toml): demand stops "
    "growing at month 30 while labs extrapolate the boom (optimism 1.3), clouds neglect half "
    "of what they have on order and borrow 1.5× their backlog. Nothing is scripted after the "
    "bust: the glut, the price crash and the write-downs come from the agents' decisions "
    "with the delivery and build lags. Second part: the leading lab commits to far more "
    "capacity than it needs (the 'overbuild on purpose' theory). Third part: the glut "
    "with no bust at all, from competitive pre-emption (experiments/endogenous_glut.toml).",
    figures=(
        GalleryFigure(
            "capacity_demand.png",
            "Capacity keeps arriving for a year after demand "
            "stops growing; from 2029 there is more capacity than labs would use at a "
            "price that covers full cost.",
        ),
        GalleryFigure(
            "utilisation.png", "Utilisation falls toward the 35% the telecom networks saw in 2001."
        ),
        GalleryFigure(
            "price.png",
            "The spot price falls below full cost, toward the cash operating cost ($0.30/hr).",
        ),
        GalleryFigure(
            "writedowns.png",
            "Fleets written down to their economic value, and "
            "the stranded book value (written off plus idle book value).",
        ),
        GalleryFigure(
            "overbuild_on_purpose.png",
            "A lab that signs for far more capacity than it needs, with idle contracted "
            "capacity resold on spot (left: the compute price; right: suppliers' revenue and "
            "capex and the lab's own retained earnings). In the default world, whose named "
            "contracts already commit the leader to about $730B, the extra commitments do "
            "lower the price: in years 3–5 it is about a twentieth below the baseline's "
            "(MODEL_VERSION 0.64: 5%; 11% at 0.61, 10% at 0.58, 23% lower at 0.44, 6% lower at "
            "0.37, 0–5% above at 0.32–0.36). The lab survives in all 10 seeds (9 of 10 at 0.61, "
            "all 10 at 0.58; it defaulted in all 10 until 0.57, when a lab long on contracts "
            "began to get them repriced toward spot), but "
            "its retained earnings at month 60 are about $190B below the baseline leader's "
            "(median over seeds; $370B at 0.61): no gain in cash. In this model overbuilding "
            "on purpose does "
            "not pay the lab (the competition experiment shows it by degree, and why).",
        ),
        GalleryFigure(
            "endogenous_glut.png",
            "A glut with no bust: boom demand, vendors that book up to 12 months of their "
            "output and expand as fast as asked, and clouds that order "
            "what their cash and the credit their lenders commit pay for. When clouds keep "
            "their share of rivals' announced pipelines (pre-emption weight 1) the spot price "
            "stays below the full cost of a new GPU-hour for 6 months or more in 7 of the 10 "
            "seeds (6–14 months); without pre-emption it never falls below full cost in any "
            "seed: competition for the boom can make a glut while demand still grows "
            "(MODEL_VERSION 0.65; 7 of 10 at 0.64 (7–14 months), 6 of 10 at 0.61, 5 at 0.58, "
            "1 at 0.54, 2 at 0.49: since 0.57 a lab long on "
            "contracts gets them repriced toward spot and no longer keeps the builders' "
            "customers by default, and since 0.55 lenders restructure builders a few million "
            "short of a month's bills instead of letting them fail). The named contracts now come "
            "online in phases: with Azure's and Oracle's commitments at full rate from their "
            "first month (0.48.0) the same world had a glut in 9 of seeds 1-10 at weights "
            "0.5-6; phased, in 4 at 0.5-1 and 2 at 2-6 at 0.49, and in 1, 2 and 4 of seeds "
            "1-10 at 0.25, 0.5 and 1 at 0.54, and in 0, 2 and 5 of seeds 1-10 at 0.25, 0.5 and "
            "1-2 at 0.61, and in 0, 0, 0 and 7 of seeds 1-10 at 0, 0.25, 0.5 and 1-2 at 0.64 "
            "(benchmarks/issue16_must_show.py).",
        ),
        GalleryFigure(
            "returns_and_concentration.png",
            "Who made money, to the end of 2031: with the same seeds, investors get about "
            "2× their money back (held claims at their marks) without the bust and about 1× "
            "with it (left); the bust leaves cloud capacity more concentrated, as the failed "
            "neoclouds' fleets are sold off (right).",
        ),
    ),
    params=PARAMS,
    build=build,
    data_files=(
        "bust_runs.parquet",
        "bust_summary.csv",
        "overbuild_on_purpose.csv",
        "returns_and_concentration.csv",
        "endogenous_glut.csv",
    ),
)

if __name__ == "__main__":
    sys.exit(run_standalone(EXPERIMENT))
