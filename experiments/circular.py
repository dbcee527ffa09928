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
from sim.plots import flow_diagram, new_figure, save_figure
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
    table.to_csv(out / "by_deal_scale.csv", index=False)
    agg = table.groupby("deal_scale").agg(["median", "min", "max"])

    fig, axes = new_figure(1, 3, size=(15, 4.8))
    x = agg.index.to_numpy()

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
        ax.set(title=title, ylabel=ylabel, xlabel="deal money × (1 = the calibrated deals)")
        ax.legend(loc="best", fontsize=7)

    panel(
        axes[0, 0],
        ["reported_revenue_usd", "cloud_revenue_usd", "vendor_revenue_usd"],
        ["all layers", "clouds", "vendors"],
        1e-9,
        "Reported revenue",
        "USD billion",
    )
    panel(
        axes[0, 1],
        ["circular_share", "finn_index"],
        ["circular share of gross flows", "Finn cycling index"],
        1.0,
        "Circular money",
        "share",
    )
    ax = axes[0, 2]
    means = table.groupby("deal_scale")[["defaults", "losses_usd"]].mean()
    ax.plot(x, means["defaults"], marker="o", color="C3", label="defaults (mean over seeds)")
    ax.set(
        title="Fragility after the same shock",
        ylabel="defaults per run",
        xlabel="deal money × (1 = the calibrated deals)",
    )
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
    "world hit by the same shock. Circular share: the gross flow that cycles could cancel, "
    "as a share of gross flows between agents; Finn index: the share of throughflow that "
    "comes back to where it was.",
    figures=(
        GalleryFigure(
            "scale_of_deals.png",
            "More vendor and strategic financing: reported "
            "revenue (left), circular money (middle) and defaults and losses after "
            "the same shock (right).",
        ),
        GalleryFigure(
            "flows_named.png",
            "One month's payments among the named agents only: "
            "compute bills, chip payments, debt service and deal money.",
        ),
        GalleryFigure(
            "surgery.png",
            "Deal surgery: the NVIDIA→OpenAI stake removed, same "
            "seeds; what it adds to each layer's revenue, valuations and losses.",
        ),
    ),
    params=PARAMS,
    build=build,
    data_files=("by_deal_scale.csv", "surgery_summary.csv"),
)

if __name__ == "__main__":
    sys.exit(run_standalone(EXPERIMENT))
