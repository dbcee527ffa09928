"""Calibration: the default world against the 2025–26 record (issue 12).

The calibration report of ``computesim calibrate`` for the baseline, as figures: the table,
each target's model ÷ record, and fan charts over seeds of the dated series (lab revenues,
valuations, the compute price, vendor revenue, capacity) with the recorded figures and their
acceptable ranges drawn on them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sim.calibration import (
    UNITS,
    Target,
    format_number,
    in_range_count,
    load_targets,
    plan_calibration,
    run_calibration,
)
from sim.config import load_scenario
from sim.fitting import counts_figure, screen_figure
from sim.gallery import BuildContext, Experiment, GalleryFigure, run_standalone
from sim.plots import (
    SERIES_COLOURS,
    calibration_marks,
    calibration_ratios,
    calibration_table,
    fan_chart,
    new_figure,
    save_figure,
)
from sim.results_store import ResultsStore
from sim.runner import MODEL_VERSION
from sim.sweep import executor_for

HERE = Path(__file__).resolve().parent
FIT_RECORD = HERE / "calibration" / "fit-record"
"""The record of the last fit (`computesim calibrate --fit experiments/calibration/fit.toml`),
copied here from its --out folder: fit.json, counts.csv, report.csv, screen.csv, fitted.toml."""
PARAMS = {
    "scenario": "experiments/baseline.toml",
    "targets": "experiments/calibration/targets.toml",
    "seeds": 8,
    "first seed": 1,
}


def build(out: Path, ctx: BuildContext) -> None:
    scenario = load_scenario(HERE / "baseline.toml")
    targets = load_targets(HERE / "calibration" / "targets.toml")
    calibration = plan_calibration(
        scenario,
        targets,
        PARAMS["seeds"],
        base_seed=PARAMS["first seed"],
        scenario_path=PARAMS["scenario"],
    )
    store = ResultsStore(out / "runs")
    engine = "process" if ctx.workers > 1 else "serial"
    with executor_for(engine, ctx.workers) as pool:
        outcome = run_calibration(calibration, store, pool, progress=False)
    ctx.progress(f"calibration: {in_range_count(outcome.report)} in range")
    report = outcome.report
    report.to_csv(out / "calibration_report.csv", index=False)
    save_figure(
        calibration_table(report, title="Calibration of the baseline", fmt=format_number),
        out / "calibration_table.png",
    )
    save_figure(
        calibration_ratios(report, title="Baseline ÷ the 2025–26 record"),
        out / "calibration_ratios.png",
    )

    series = store.query("SELECT * FROM series")
    seeds = dict(zip(calibration.run_ids, calibration.seeds, strict=True))
    series = series[series["run_id"].isin(seeds)].assign(seed=lambda d: d["run_id"].map(seeds))
    start = pd.Timestamp(scenario.run.start + "-01")
    series["date"] = [start + pd.DateOffset(months=int(s)) for s in series["step"]]
    series.to_parquet(out / "calibration_series.parquet", index=False)
    by_id = {t.id: t for t in targets}

    def marks(ids: Sequence[str], per_month: bool = False) -> pd.DataFrame:
        return target_marks([by_id[i] for i in ids if i in by_id], start, per_month)

    # --- lab revenues: run-rates, with a year's revenue drawn as its mean run-rate
    fig, axes = new_figure()
    ax = axes[0, 0]
    title = "Lab revenue run-rate (12 × monthly revenue)"
    ylabel = "USD billion per year (log scale)"
    labs = (
        ("frontier-leader", "leader (OpenAI-like)"),
        ("frontier-challenger", "challenger (Anthropic-like)"),
    )
    for k, (agent, label) in enumerate(labs):
        colour = SERIES_COLOURS[k]
        run_rate = series.assign(y=12 * series[f"{agent}:revenue_usd"])
        fan_chart(
            run_rate,
            "date",
            "y",
            title=title,
            ylabel=ylabel,
            scale=1e-9,
            ax=ax,
            colour=colour,
            label=f"{label}, model median",
            logy=True,
        )
        ids = [
            t.id for t in targets if t.agents == (agent,) and t.measure in ("run_rate", "revenue")
        ]
        calibration_marks(
            ax,
            marks(ids, per_month=True),
            colour=colour,
            label=f"{label}, recorded: run-rate ◆ or year's revenue - - (range)",
            scale=12e-9,
        )
    save_figure(fig, out / "lab_revenue.png")

    # --- valuations at the rounds
    fig, axes = new_figure()
    ax = axes[0, 0]
    for k, (agent, label) in enumerate(labs):
        colour = SERIES_COLOURS[k]
        fan_chart(
            series,
            "date",
            f"{agent}:valuation_usd",
            title="Lab valuations",
            ylabel="USD billion (log scale)",
            scale=1e-9,
            ax=ax,
            colour=colour,
            label=f"{label}, model median",
            logy=True,
        )
        ids = [t.id for t in targets if t.measure == "valuation" and t.agents == (agent,)]
        calibration_marks(
            ax, marks(ids), colour=colour, label=f"{label}, recorded round (range)", scale=1e-9
        )
    save_figure(fig, out / "valuations.png")

    # --- compute price
    fig, axes = new_figure()
    ax = axes[0, 0]
    fan_chart(
        series,
        "date",
        "spot_price_usd_per_gpu_hour",
        title="Compute price",
        ylabel="USD per H100-eq GPU-hour",
        ax=ax,
        label="spot price, model median",
    )
    ids = [t.id for t in targets if t.measure == "spot_price"]
    calibration_marks(ax, marks(ids), colour="black", label="recorded rental price (range)")
    save_figure(fig, out / "price.png")

    # --- vendor revenue: run-rates, with a fiscal year drawn as its mean run-rate
    fig, axes = new_figure()
    ax = axes[0, 0]
    vendors = (
        ("vendor-leader", "vendor-leader (NVIDIA-like)"),
        ("vendor-second", "vendor-second (AMD-like)"),
    )
    for k, (agent, label) in enumerate(vendors):
        colour = SERIES_COLOURS[k + 2]
        revenue = series[f"{agent}:revenue_usd"]
        run_rate = series.assign(y=12 * revenue.where(revenue > 0))  # none before deliveries
        fan_chart(
            run_rate,
            "date",
            "y",
            title="Chip vendor revenue run-rate (12 × monthly)",
            ylabel="USD billion per year (log scale)",
            scale=1e-9,
            ax=ax,
            colour=colour,
            label=f"{label}, model median",
            logy=True,
        )
        ids = [t.id for t in targets if t.measure == "revenue" and t.agents == (agent,)]
        calibration_marks(
            ax,
            marks(ids, per_month=True),
            colour=colour,
            label=f"{label}, recorded year's revenue (range)",
            scale=12e-9,
        )
    save_figure(fig, out / "vendor_revenue.png")

    # --- capacity: the leader's GPUs in use, and all installed GPUs
    fig, axes = new_figure()
    ax = axes[0, 0]
    fan_chart(
        series,
        "date",
        "installed_gpus",
        title="Capacity",
        ylabel="million H100-eq GPUs",
        scale=1e-6,
        ax=ax,
        colour=SERIES_COLOURS[4],
        label="installed, all clouds, model median",
        logy=False,
    )
    fan_chart(
        series,
        "date",
        "frontier-leader:gpus_used",
        title="Capacity",
        ylabel="million H100-eq GPUs",
        scale=1e-6,
        ax=ax,
        colour=SERIES_COLOURS[0],
        label="used by the leader, model median",
        logy=False,
    )
    ids = [t.id for t in targets if t.measure == "gpus_used"]
    calibration_marks(
        ax,
        marks(ids),
        colour=SERIES_COLOURS[0],
        label="leader, recorded GW as H100-eq (range)",
        scale=1e-6,
    )
    save_figure(fig, out / "capacity.png")
    fit_figures(FIT_RECORD, out)


def fit_figures(record: Path, out: Path) -> None:
    """The out-of-sample check and the identification screen of the recorded fit (no runs:
    the record is read as committed; its model version is in the titles)."""
    info = json.loads((record / "fit.json").read_text())
    counts = pd.read_csv(record / "counts.csv")
    counts.to_csv(out / "fit_counts.csv", index=False)
    years = sorted({str(y) for y in pd.read_csv(record / "report.csv").query("fitted_on")["year"]})
    stale = "" if info["model_version"] == MODEL_VERSION else f", now {MODEL_VERSION}: rerun it"
    made = f"fit of {info['date'][:10]}, model {info['model_version']}{stale}"
    save_figure(
        counts_figure(
            counts,
            title=f"Fitted on the {', '.join(years)} targets, checked on all ({made})",
        ),
        out / "fit_out_of_sample.png",
    )
    screen = pd.read_csv(record / "screen.csv")
    save_figure(
        screen_figure(screen, title=f"What the {', '.join(years)} targets pin down ({made})"),
        out / "fit_screen.png",
    )


def target_marks(targets: Sequence[Target], start: pd.Timestamp, per_month: bool) -> pd.DataFrame:
    """Targets as marks for :func:`sim.plots.calibration_marks`, in base units (USD, GPUs…):
    the month(s) as dates; ``per_month`` divides a span's figure by its months (a year's
    revenue → its mean monthly revenue, drawn × 12 as a run-rate)."""
    rows = []
    for t in targets:
        first, last = t.steps(start.strftime("%Y-%m"))
        months = last - first + 1 if (per_month and t.spec.timing == "period") else 1
        factor = 1.0 / (months * _unit_factor(t))
        if per_month and t.measure == "run_rate":
            factor /= 12.0  # a run-rate is 12 × a month: drawn back at × 12
        rows.append(
            {
                "start": start + pd.DateOffset(months=first),
                # a span is drawn to the end of its last month; a month at its first day
                "end": start + pd.DateOffset(months=last + (t.spec.timing == "period")),
                "value": t.value * factor,
                "low": t.low * factor,
                "high": t.high * factor,
            }
        )
    return pd.DataFrame(rows, columns=["start", "end", "value", "low", "high"])


def _unit_factor(t: Target) -> float:
    return UNITS[t.unit][1]


EXPERIMENT = Experiment(
    name="calibration",
    title="Calibration: the default world against the 2025–26 record",
    section="Calibration",
    description="The report of `computesim calibrate experiments/baseline.toml --seeds 8`: "
    "every target of experiments/calibration/targets.toml (from shared/CALIBRATION.md) "
    "against the model's median and 90% interval over seeds 1–8. It is low on purpose: it is "
    "the yardstick for the economic changes to come (tests/test_calibration.py keeps the "
    "count from falling).",
    figures=(
        GalleryFigure(
            "calibration_table.png",
            "The calibration table: each target's acceptable range, the model's median and "
            "90% interval over the seeds, in range or not, and the ratio model ÷ record.",
        ),
        GalleryFigure(
            "calibration_ratios.png",
            "Model ÷ record for every target (log scale): grey bars are the acceptable "
            "ranges, dots the model medians with their 90% intervals over seeds.",
        ),
        GalleryFigure(
            "lab_revenue.png",
            "Revenue run-rates of the two leading labs over seeds, with the recorded "
            "run-rates (diamonds, with ranges) and each year's recorded revenue drawn as its "
            "mean run-rate (dashed, range shaded).",
        ),
        GalleryFigure(
            "valuations.png",
            "Valuations of the two leading labs over seeds, with their recorded rounds.",
        ),
        GalleryFigure(
            "price.png",
            "Spot price of a GPU-hour over seeds, with the recorded H100 rental prices.",
        ),
        GalleryFigure(
            "vendor_revenue.png",
            "Chip vendors' revenue run-rates over seeds (none before the first deliveries, "
            "six months after the first orders), with each recorded fiscal year drawn as its "
            "mean run-rate.",
        ),
        GalleryFigure(
            "capacity.png",
            "Installed H100-equivalent GPUs and those the leader uses, with the leader's "
            "recorded compute (GW converted at 1 GW ≈ 1.0 million H100-eq, range 0.6–1.2).",
        ),
        GalleryFigure(
            "fit_out_of_sample.png",
            "Out of sample: the estimated parameters of experiments/calibration/fit.toml "
            "fitted to the 2025 targets only (simulated method of moments, Optuna's TPE, the "
            "same seeds for every candidate), then the default world (the fit's first trial) "
            "and the fit's best over every target, 8 seeds: the 2025 targets the fit saw, and "
            "the 2026 and 2027 targets it did not. Read from the fit's record in "
            "experiments/calibration/fit-record (no runs); the title gives its date and model "
            "version.",
        ),
        GalleryFigure(
            "fit_screen.png",
            "Identification: a Morris screen of the fit's distance over the fitted parameters, "
            "each moved over its search range. Blue: parameters the 2025 targets pin down (μ* "
            "at least 10% of the largest and above its 95% interval); orange: a large μ* "
            "still within its 95% interval (more trajectories needed); grey: parameters the "
            "targets barely move, whose fitted values mean little. Dots: σ, non-linearity and "
            "interaction.",
        ),
    ),
    params=PARAMS,
    build=build,
    data_files=("calibration_report.csv", "calibration_series.parquet", "fit_counts.csv"),
)

if __name__ == "__main__":
    sys.exit(run_standalone(EXPERIMENT))
