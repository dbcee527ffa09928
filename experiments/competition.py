"""Labs compete: a price war as capabilities converge, who gains when a lab overbuilds on
purpose with resale of idle contracted capacity on, and a lab that owns capacity (Stargate)
against a pure renter through a boom and a bust (issue 15)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from sim.config import load_scenario
from sim.ensemble import derive_seeds, run_ensemble
from sim.gallery import BuildContext, Experiment, GalleryFigure, run_standalone
from sim.plots import fan_chart, new_figure, save_figure

HERE = Path(__file__).resolve().parent
LEADER = "frontier-leader"
PARAMS = {
    "scenario": "experiments/baseline.toml",
    "seeds": 6,
    "base_seed": 2031,
    "price war: months": 36,
    "price war: competition.spillover_per_month": 1.0,
    "price war: labs.*.contract_coverage": 1.3,
    "overbuild: months": 60,
    f"overbuild: labs.{LEADER}.optimism": 3.0,
    f"overbuild: labs.{LEADER}.contract_coverage": 1.6,
    "stargate: scenario": "sim/scenarios/stargate.toml",
    "stargate: months": 60,
    "stargate: demand.regime": "bust",
    "stargate: demand.bust_month": 30,
    "stargate: demand.bust_decline_per_month": 0.03,
}
ROOT = HERE.parent


def lab_series(agents: pd.DataFrame) -> pd.DataFrame:
    """Per run and month: the labs' revenue-weighted pricing margin and the leader's share."""
    labs = agents[agents["agent_type"] == "Lab"].copy()
    labs["weighted"] = labs["gross_margin"] * labs["revenue_usd"]
    grouped = labs.groupby(["seed", "step", "date"])
    out = (grouped["weighted"].sum() / grouped["revenue_usd"].sum()).rename("margin")
    leader = labs[labs["agent_id"] == LEADER].set_index(["seed", "step", "date"])["market_share"]
    return pd.concat([out, leader.rename("leader_share")], axis=1).reset_index()


def result_by_party(agents: pd.DataFrame, last: int) -> pd.Series:
    """Retained earnings at month ``last`` by party group (mean over seeds), USD."""
    end = agents[agents["step"] == last].copy()
    end["party"] = end["agent_type"].map(
        {"Lab": "other labs", "Cloud": "clouds", "ChipVendor": "vendors", "Investor": "investors"}
    )
    end.loc[end["agent_id"] == LEADER, "party"] = LEADER
    return end.groupby(["seed", "party"])["retained_usd"].sum().groupby("party").mean()


def leader_series(agents: pd.DataFrame) -> pd.DataFrame:
    """Per run and month: the leader's book equity, whether it has defaulted, and the share
    of its compute on capacity it owns."""
    lead = agents[agents["agent_id"] == LEADER]
    cols = ["seed", "step", "date", "equity_usd", "defaulted", "infrastructure_share"]
    return lead[cols].reset_index(drop=True)


def two_fan_panels(
    table: pd.DataFrame,
    panels: tuple[tuple[str, str, str], tuple[str, str, str]],
    path: Path,
    legend_loc: str,
    margin_line: float | None = None,
) -> None:
    """Two fan charts side by side, one band per ``world`` of ``table`` (blue, red): each
    panel is (column, title, y label); ``margin_line`` draws a dashed reference on the left."""
    fig, axes = new_figure(1, 2, size=(12, 4.8))
    for (label, group), colour in zip(table.groupby("world"), ("#1f77b4", "#d62728"), strict=True):
        for ax, (column, title, ylabel) in zip(axes[0], panels, strict=True):
            fan_chart(
                group, "date", column, title=title, ylabel=ylabel, ax=ax, colour=colour, label=label
            )
    if margin_line is not None:
        axes[0, 0].axhline(margin_line, color="black", ls="--", lw=1, label=f"{margin_line:.0%}")
    for ax in axes[0]:
        ax.legend(loc=legend_loc)
    save_figure(fig, path)


def stargate_against_renter(out: Path, ctx: BuildContext, seeds: list[int]) -> None:
    """The Stargate lab (owns part of its capacity) against the same lab as a pure renter,
    through a boom and a bust; writes stargate.csv and stargate.png."""
    bust = {
        k.split(": ")[1]: v
        for k, v in PARAMS.items()
        if k.startswith("stargate: ") and k.split(": ")[1].startswith("demand.")
    }
    months = PARAMS["stargate: months"]
    worlds = (
        ("pure renter", load_scenario(HERE / "baseline.toml").with_overrides(bust)),
        ("Stargate lab", load_scenario(ROOT / PARAMS["stargate: scenario"]).with_overrides(bust)),
    )
    series = []
    for label, scenario in worlds:
        _, tables = run_ensemble(scenario, seeds, months, workers=ctx.workers, keep=("agents",))
        series.append(leader_series(tables["agents"]).assign(world=label))
        ctx.progress(f"stargate: {label} done")
    table = pd.concat(series)
    table.to_csv(out / "stargate.csv", index=False)
    two_fan_panels(
        table.assign(equity_bn=table["equity_usd"] / 1e9),
        (
            (
                "equity_bn",
                "The leader's book equity (boom, then a bust from month 30)",
                "USD billion",
            ),
            ("infrastructure_share", "Share of the leader's compute on capacity it owns", "share"),
        ),
        out / "stargate.png",
        legend_loc="upper left",
    )


def build(out: Path, ctx: BuildContext) -> None:
    base = load_scenario(HERE / "baseline.toml")
    seeds = derive_seeds(PARAMS["base_seed"], PARAMS["seeds"])
    war = base.with_overrides(
        {k.split(": ")[1]: v for k, v in PARAMS.items() if k.startswith("price war: ") and "." in k}
    )
    months = PARAMS["price war: months"]
    series = []
    for label, scenario in (("baseline", base), ("capabilities converge", war)):
        _, tables = run_ensemble(scenario, seeds, months, workers=ctx.workers, keep=("agents",))
        series.append(lab_series(tables["agents"]).assign(world=label))
        ctx.progress(f"price war: {label} done")
    wars = pd.concat(series)
    wars.to_csv(out / "price_war.csv", index=False)
    two_fan_panels(
        wars,
        (
            ("margin", "Labs' gross margin (revenue-weighted)", "share of the service price"),
            ("leader_share", "The leader's share of end users", "share"),
        ),
        out / "price_war.png",
        legend_loc="lower left",
        margin_line=0.25,
    )

    purpose = base.with_overrides(
        {k.split(": ")[1]: v for k, v in PARAMS.items() if k.startswith("overbuild: ") and "." in k}
    )
    months = PARAMS["overbuild: months"]
    results, models = {}, []
    for label, scenario in (("baseline", base), ("overbuild on purpose", purpose)):
        _, tables = run_ensemble(
            scenario, seeds, months, workers=ctx.workers, keep=("model", "agents")
        )
        results[label] = result_by_party(tables["agents"], months - 1)
        models.append(tables["model"].assign(world=label))
        ctx.progress(f"overbuild: {label} done")
    gains = (results["overbuild on purpose"] - results["baseline"]).rename("gain_usd")
    gains.to_csv(out / "overbuild_gains.csv")
    model = pd.concat(models)
    spot = (
        model[model["step"] >= 24].groupby("world")["spot_price_usd_per_gpu_hour"].mean()
    ).rename("spot_years_3_5")
    spot.to_csv(out / "overbuild_spot.csv")
    fig, axes = new_figure(1, 2, size=(12, 4.8))
    for (label, group), colour in zip(model.groupby("world"), ("#1f77b4", "#d62728"), strict=True):
        fan_chart(
            group,
            "date",
            "spot_price_usd_per_gpu_hour",
            title="Compute price, resale on",
            ylabel="USD per H100-eq GPU-hour",
            ax=axes[0, 0],
            colour=colour,
            label=label,
        )
    axes[0, 0].legend(loc="upper right")
    (gains / 1e9).plot.bar(ax=axes[0, 1], rot=0, color="#d62728")
    axes[0, 1].axhline(0, color="black", lw=1)
    axes[0, 1].set(
        title=f"Who gains: retained earnings at month {months} vs baseline",
        ylabel="USD billion (mean over seeds)",
    )
    save_figure(fig, out / "overbuild_gains.png")
    stargate_against_renter(out, ctx, seeds)


EXPERIMENT = Experiment(
    name="competition",
    title="Labs compete: price wars, overbuilding on purpose, a lab that becomes a cloud",
    section="Competition",
    description="Labs price as a markup over their own marginal cost; end users choose labs by a "
    "logit on capability and price with switching costs. Left: when followers' capabilities "
    "converge on the leader's (spill-over 1) and labs hold idle contracted capacity, margins "
    "fall in a price war. Right: the leading lab signs for far more capacity than it needs, "
    "idle capacity is resold on spot, and the figure shows who gains from the glut. Last: the "
    "leading lab as a pure renter against the same lab that owns part of its capacity through "
    "a cloud it capitalises (Stargate: $19B of equity and $38B of project debt over four "
    "years, its own needs served first, the surplus sold on spot), through a boom and then a "
    "bust in which demand falls 3% a month from month 30.",
    figures=(
        GalleryFigure(
            "price_war.png",
            "With capabilities converged, the labs' revenue-weighted gross margin falls from "
            "about 45% to below 25% within 24 months; in the baseline it stays near 45%.",
        ),
        GalleryFigure(
            "overbuild_gains.png",
            "Overbuild on purpose with resale on: the spot price in years 3–5 (left) and the "
            "change in retained earnings by party against the baseline (right).",
        ),
        GalleryFigure(
            "stargate.png",
            "Through the bust the leading lab defaults in all 6 seeds either way: the named "
            "take-or-pay commitments of the default world (about $650B) outrun its revenue "
            "once demand falls. As a pure renter it fails in months 42–44; as the Stargate "
            "lab, which at most runs 5–15% of its compute on capacity it owns, a little "
            "earlier (months 40–41), since it also carries its cloud's project debt. Owning "
            "capacity does not save it here.",
        ),
    ),
    params=PARAMS,
    build=build,
    data_files=("price_war.csv", "overbuild_gains.csv", "overbuild_spot.csv", "stargate.csv"),
)

if __name__ == "__main__":
    sys.exit(run_standalone(EXPERIMENT))
