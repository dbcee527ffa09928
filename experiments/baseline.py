"""Baseline: the calibrated default world, 2025–2034, over many seeds."""

from __future__ import annotations

import sys
from pathlib import Path

from sim.config import load_scenario
from sim.ensemble import derive_seeds, run_ensemble
from sim.gallery import BuildContext, Experiment, GalleryFigure, run_standalone
from sim.plots import balance_sheets, fan_chart, flow_diagram, new_figure, save_figure
from sim.runner import simulate

HERE = Path(__file__).resolve().parent
PARAMS = {
    "scenario": "experiments/baseline.toml",
    "seeds": 10,
    "base_seed": 2025,
    "months": 120,
    "balance sheet month": 36,
    "flow diagram month": 24,
}


def build(out: Path, ctx: BuildContext) -> None:
    scenario = load_scenario(HERE / "baseline.toml")
    seeds = derive_seeds(PARAMS["base_seed"], PARAMS["seeds"])
    summary, tables = run_ensemble(
        scenario,
        seeds,
        PARAMS["months"],
        workers=ctx.workers,
        on_done=lambda: ctx.progress("baseline run done"),
    )
    model = tables["model"]
    model.to_parquet(out / "model_runs.parquet", index=False)
    summary.to_csv(out / "summary.csv", index=False)

    fig, axes = new_figure()
    fan_chart(
        model,
        "date",
        "installed_gpus",
        title="Installed capacity and labs' need",
        ylabel="million H100-eq GPUs",
        scale=1e-6,
        ax=axes[0, 0],
        label="installed",
        logy=True,
    )
    fan_chart(
        model,
        "date",
        "need_gpus",
        title="Installed capacity and labs' need",
        ylabel="million H100-eq GPUs",
        scale=1e-6,
        ax=axes[0, 0],
        colour="#d62728",
        label="need at the spot price",
        logy=True,
    )
    save_figure(fig, out / "capacity.png")

    fig = fan_chart(
        model,
        "date",
        "utilisation",
        title="Utilisation of installed capacity",
        ylabel="share of installed GPUs in use",
        colour="#2ca02c",
    )
    save_figure(fig, out / "utilisation.png")

    fig, axes = new_figure()
    fan_chart(
        model,
        "date",
        "spot_price_usd_per_gpu_hour",
        title="Compute price and full cost",
        ylabel="USD per H100-eq GPU-hour",
        ax=axes[0, 0],
        label="spot price",
    )
    fan_chart(
        model,
        "date",
        "full_cost_usd_per_gpu_hour",
        title="Compute price and full cost",
        ylabel="USD per H100-eq GPU-hour",
        ax=axes[0, 0],
        colour="#7f7f7f",
        label="full cost of a new GPU-hour",
    )
    save_figure(fig, out / "price.png")

    one = simulate(scenario, seeds[0], PARAMS["months"])
    save_figure(
        balance_sheets(
            one.tables["agents"],
            PARAMS["balance sheet month"],
            title=f"Balance sheets by agent type, month {PARAMS['balance sheet month']} (one seed)",
        ),
        out / "balance_sheets.png",
    )
    types = dict(
        zip(one.tables["agents"]["agent_id"], one.tables["agents"]["agent_type"], strict=False)
    )
    flows = one.tables["flows"]
    month = flows[flows["step"] == PARAMS["flow diagram month"]]
    save_figure(
        flow_diagram(
            month,
            types,
            title=f"Money moved in month {PARAMS['flow diagram month']} (January 2027, one seed)",
        ),
        out / "flows.png",
    )


EXPERIMENT = Experiment(
    name="baseline",
    title="The default world, 2025–2034",
    section="Baseline",
    description="The calibrated default world (experiments/baseline.toml): three frontier labs "
    "and five followers, four hyperscalers, four neoclouds and a lease vehicle, two chip "
    "vendors, nine investors, and the circular deals of docs/calibration.md. Demand grows 12% a "
    "month in 2025, slowing toward 3%; no shock.",
    figures=(
        GalleryFigure(
            "capacity.png",
            "Installed H100-equivalent capacity against what labs "
            "want at the going price (log scale): capacity follows need with the "
            "12-month build lag, overshooting after the 2025 shortage.",
        ),
        GalleryFigure(
            "utilisation.png",
            "Share of installed GPUs in use: near full except "
            "when the first wave of 2025 orders comes online in 2026.",
        ),
        GalleryFigure(
            "price.png",
            "Spot price of a GPU-hour against the full cost of a new "
            "one: scarcity pushes it up in 2025, then it falls with cheaper chips.",
        ),
        GalleryFigure(
            "balance_sheets.png",
            "Who holds what at the start of 2028: assets "
            "(left bars) against liabilities and equity (right bars) by agent type.",
        ),
        GalleryFigure(
            "flows.png",
            "One month of payments among the named agents: revenue "
            "from end users, compute bills, chip payments, debt service, equity.",
        ),
    ),
    params=PARAMS,
    build=build,
    data_files=("model_runs.parquet", "summary.csv"),
)

if __name__ == "__main__":
    sys.exit(run_standalone(EXPERIMENT))
