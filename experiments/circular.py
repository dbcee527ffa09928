"""Circularity: scale the vendor and strategic financing deals and watch reported revenue,
circular money and fragility move together; one month's money among the named agents; and
deal surgery on the largest deal."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from sim.config import Scenario, load_scenario, validate_scenario
from sim.ensemble import derive_seeds, parallel_map
from sim.gallery import BuildContext, Experiment, GalleryFigure, run_standalone
from sim.metrics import payment_provenance, round_trip_by_party
from sim.plots import (
    flow_diagram,
    layer_links,
    money_layers,
    new_figure,
    round_trip_shares,
    save_figure,
)
from sim.runner import simulate
from sim.surgery import deal_surgery, outcomes_task

HERE = Path(__file__).resolve().parent
PARAMS = {
    "scenario": "experiments/baseline.toml (its [[deals]] scaled)",
    "deal scale": (0.0, 0.5, 1.0, 2.0, 4.0),
    "seeds per scale": 6,
    "base_seed": 2030,
    "months": 60,
    "common shock": "frontier-leader demand −60% from month 30, sentiment −50%",
    "flow diagram month": 24,
    "money year": 1,
    "surgery deal": "nvidia-openai-stake",
    "surgery runs": 4,
}
SHOCK = {
    "shock.lab": "frontier-leader",
    "shock.month": 30,
    "shock.revenue_shortfall": 0.6,
    "shock.sentiment_drop": 0.5,
}


def scaled_deals(scenario: Scenario, factor: float) -> Scenario:
    """The scenario with every deal's money (and vehicle debt) multiplied by ``factor``."""
    data = scenario.model_dump(mode="python")
    for deal in data["deals"]:
        deal["amount_usd"] *= factor
        deal["debt_usd"] *= factor
    return validate_scenario(data, source=f"{scenario.name} with deals ×{factor}")


def build(out: Path, ctx: BuildContext) -> None:
    base = load_scenario(HERE / "baseline.toml").with_overrides(SHOCK)
    seeds = derive_seeds(PARAMS["base_seed"], PARAMS["seeds per scale"])
    tasks, keys = [], []
    for factor in PARAMS["deal scale"]:
        scenario = scaled_deals(base, factor)
        for seed in seeds:
            tasks.append((scenario, seed, PARAMS["months"]))
            keys.append((factor, seed))
    results = parallel_map(outcomes_task, tasks, ctx.workers)
    table = pd.DataFrame(
        [{"deal_scale": f, "seed": s, **r} for (f, s), r in zip(keys, results, strict=True)]
    )
    for layer in ("cloud", "vendor"):
        table[f"{layer}_round_trip_share"] = (
            table[f"{layer}_round_trip_usd"] / table[f"{layer}_revenue_usd"]
        ).fillna(0.0)
    table.to_csv(out / "by_deal_scale.csv", index=False)
    agg = table.groupby("deal_scale").agg(["median", "min", "max"])

    fig, axes = new_figure(2, 2, size=(13, 9))
    x = agg.index.to_numpy()
    xlabel = "deal money × (1 = the calibrated deals)"

    def panel(ax, cols, labels, scale, title, ylabel):
        for col, label in zip(cols, labels, strict=True):
            ax.plot(x, agg[(col, "median")] * scale, marker="o", label=f"{label} (median)")
            ax.fill_between(
                x,
                agg[(col, "min")] * scale,
                agg[(col, "max")] * scale,
                alpha=0.2,
                label=f"{label} (range over seeds)",
            )
        ax.set(title=title, ylabel=ylabel, xlabel=xlabel)
        ax.legend(loc="best", fontsize=7)

    panel(
        axes[0, 0],
        ["round_trip_share", "cloud_round_trip_share", "vendor_round_trip_share"],
        ["all sellers (headline)", "clouds", "vendors"],
        100.0,
        "Round trip: sellers' own money or credits coming back as revenue",
        "% of revenue",
    )
    panel(
        axes[0, 1],
        ["reported_revenue_usd", "organic_revenue_usd"],
        ["reported, all layers", "organic (reported − round trip)"],
        1e-9,
        "Reported against organic revenue",
        "USD billion over the run",
    )
    panel(
        axes[1, 0],
        ["circular_share", "finn_index"],
        [
            "gross flow cycles could cancel (incl. lend-and-repay)",
            "Finn cycling index (incl. financing cycles)",
        ],
        1.0,
        "Cycles in all payments, financing included",
        "share",
    )
    ax = axes[1, 1]
    means = table.groupby("deal_scale")[["defaults", "losses_usd"]].mean()
    ax.plot(x, means["defaults"], marker="o", color="C3", label="defaults (mean over seeds)")
    ax.set(title="Fragility after the same shock", ylabel="defaults per run", xlabel=xlabel)
    twin = ax.twinx()
    twin.plot(
        x,
        means["losses_usd"] / 1e9,
        marker="s",
        ls="--",
        color="C4",
        label="losses (mean), right axis",
    )
    twin.set_ylabel("losses per run, USD billion")
    handles = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8)
    save_figure(fig, out / "scale_of_deals.png")

    one = simulate(load_scenario(HERE / "baseline.toml"), seeds[0], PARAMS["months"])
    types = dict(
        zip(one.tables["agents"]["agent_id"], one.tables["agents"]["agent_type"], strict=False)
    )
    flows = one.tables["flows"]
    month = flows[
        (flows["step"] == PARAMS["flow diagram month"])
        & ~flows["payer"].str.startswith("world:")
        & ~flows["payee"].str.startswith("world:")
    ]
    save_figure(
        flow_diagram(
            month,
            types,
            title=f"Money among the named agents, month "
            f"{PARAMS['flow diagram month']} (no outside flows)",
        ),
        out / "flows_named.png",
    )
    save_figure(
        round_trip_shares(
            # the run's own round-trip columns, not a second trace of its flows
            round_trip_by_party(
                one.tables["agents"].rename(columns={"round_trip_revenue_usd": "round_trip_usd"})
            ),
            types,
            title=f"Revenue that is the party's own money coming back, {PARAMS['months']} months",
        ),
        out / "round_trip_revenue.png",
    )

    year = PARAMS["money year"]
    provenance = payment_provenance(flows)
    links = layer_links(provenance[provenance["step"].between(12 * year, 12 * year + 11)], types)
    links.to_csv(out / "money_by_layer.csv", index=False)
    save_figure(
        money_layers(
            links,
            title=f"Where one year's money goes (months {12 * year}–{12 * year + 11} of the "
            "baseline), and what comes back",
        ),
        out / "money_by_layer.png",
    )

    _, summary = deal_surgery(
        load_scenario(HERE / "baseline.toml"),
        PARAMS["surgery deal"],
        runs=PARAMS["surgery runs"],
        months=PARAMS["months"],
        workers=ctx.workers,
    )
    summary.to_csv(out / "surgery_summary.csv", index=False)
    money = summary[summary["outcome"].str.endswith("_usd")].set_index("outcome")
    fig, axes = new_figure()
    ax = axes[0, 0]
    ys = range(len(money))
    ax.barh(list(ys), money["effect"] / 1e9, color="#9467bd", label="mean effect")
    ax.errorbar(
        money["effect"] / 1e9,
        list(ys),
        xerr=[
            (money["effect"] - money["effect_low"]) / 1e9,
            (money["effect_high"] - money["effect"]) / 1e9,
        ],
        fmt="none",
        color="black",
        label="95% interval",
    )
    ax.set_yticks(list(ys), [o.removesuffix("_usd").replace("_", " ") for o in money.index])
    ax.set(
        title=f"Deal surgery: what {PARAMS['surgery deal']} adds (with − without, "
        f"{PARAMS['surgery runs']} paired runs)",
        xlabel="USD billion over the run",
    )
    ax.legend(loc="lower right")
    save_figure(fig, out / "surgery.png")


EXPERIMENT = Experiment(
    name="circular",
    title="How much of the money goes round",
    section="Circularity",
    description="The calibrated deals of docs/calibration.md (NVIDIA's stakes in OpenAI, Anthropic "
    "and CoreWeave, the CoreWeave backstop, the xAI lease vehicle, Microsoft's credits and "
    "stake, AMD-style vendor financing) scaled from none to four times their size, each "
    "world hit by the same shock. Round trip (the headline): the part of a seller's revenue "
    "that traces back to money or credits it put in itself, through any chain (proportional "
    "tracing); lend-and-repay cycles are financing, not round trip. The gross-flow measures "
    "count every cycle, financing included: the gross flow that cycles could cancel, and "
    "Finn's index, the share of throughflow that comes back to where it was.",
    figures=(
        GalleryFigure(
            "scale_of_deals.png",
            "More vendor and strategic financing: the round-trip share of revenue grows "
            "with deal money, from zero without deals (top left); reported against organic "
            "revenue (top right); cycles in all payments, financing included (bottom left); "
            "defaults and losses after the same shock (bottom right).",
        ),
        GalleryFigure(
            "money_by_layer.png",
            "One year's money from end users, investors and deal makers through labs and "
            "clouds to vendors; the red hatched part of a band is the receiving layer's own "
            "money or credits coming back.",
        ),
        GalleryFigure(
            "flows_named.png",
            "One month's payments among the named agents only: "
            "compute bills, chip payments, debt service and deal money.",
        ),
        GalleryFigure(
            "round_trip_revenue.png",
            "Round trip by party (one seed, the calibrated deals, no shock): the share of each "
            "seller's revenue (compute and chips, in cash or in shares) that is its own money "
            "or credits coming back, traced pro rata through every payment.",
        ),
        GalleryFigure(
            "surgery.png",
            "Deal surgery: the NVIDIA→OpenAI stake removed, same "
            "seeds; what it adds to each layer's revenue, valuations and losses.",
        ),
    ),
    params=PARAMS,
    build=build,
    data_files=("by_deal_scale.csv", "money_by_layer.csv", "surgery_summary.csv"),
)

if __name__ == "__main__":
    sys.exit(run_standalone(EXPERIMENT))
