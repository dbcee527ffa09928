"""What `computesim run` and `surgery` do, once the command line is parsed.

Kept apart from :mod:`sim.cli`, which only builds the parser, so that ``computesim run
--help`` (and any command's help) answers without importing the simulation: this module
imports the runner, and with it Mesa, pandas and SciPy, only when a command runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sim import api, runner
from sim.cli import MAX_MONTHS
from sim.config import ConfigError, parse_settings
from sim.surgery import deal_surgery, operate


def check_months(months: int | None) -> None:
    """Refuse a ``--months`` outside 1 … :data:`MAX_MONTHS`."""
    if months is not None and not 1 <= months <= MAX_MONTHS:
        raise ConfigError(
            f"--months must be between 1 and {MAX_MONTHS} (got {months}). Nothing was run or "
            "written."
        )


def cmd_run(args: argparse.Namespace) -> int:
    scenario = api.load(args.scenario)
    settings = parse_settings(args.set)
    title = scenario.name  # the figure says which parameters --set changed
    if settings:
        scenario = scenario.with_overrides(settings)
        title += " (" + ", ".join(f"{k} = {v}" for k, v in settings.items()) + ")"
    if args.seed is not None and args.seed < 0:
        raise ConfigError(
            f"--seed must be an integer >= 0 (got {args.seed}). Nothing was run or written."
        )
    check_months(args.months)
    seed = scenario.run.seed if args.seed is None else args.seed
    months = scenario.run.months if args.months is None else args.months
    out = args.out or Path("results") / scenario.name
    runner.check_out_folder(out)
    with runner.run_folder(out, scenario.name, force=args.force) as staging:
        run = api.run(
            scenario, seed=seed, months=months, audit=args.audit, progress=not args.no_progress
        )
        written = runner.write_run(run.result, staging, detail=args.detail)
        picture = args.picture and not args.no_picture
        if picture:
            from sim.overview import save_png  # plotting: imported only to draw

            png = save_png(
                run.overview(f"{title}, seed {seed}: overview"), staging / "overview.png"
            )
            os.chmod(png, runner.FILE_MODE)
    print(format_summary(run.result.summary, run.tables["model"]))
    tables = ", ".join(p.stem for p in written if p.suffix == ".parquet")
    drawn = " overview.png;" if picture else ""
    print(
        f"wrote {out}/ ({tables} .parquet; config.json; summary.json;{drawn} {runner.RUN_MARKER})"
    )
    return 0


def format_summary(s: dict[str, float], model) -> str:
    first, last = model.iloc[0], model.iloc[-1]
    return "\n".join(
        [
            f"months run            {int(s['months'])} "
            f"({first['date']:%Y-%m} to {last['date']:%Y-%m})",
            f"installed capacity    {first['installed_gpus'] / 1e6:,.2f}M -> "
            f"{last['installed_gpus'] / 1e6:,.2f}M H100-eq GPUs",
            f"utilisation           mean {100 * s['mean_utilisation']:.0f}%, "
            f"min {100 * s['min_utilisation']:.0f}%",
            f"compute price         {first['spot_price_usd_per_gpu_hour']:.2f} -> "
            f"{s['final_spot_price_usd_per_gpu_hour']:.2f} USD/GPU-hour "
            f"(peak {s['max_spot_price_usd_per_gpu_hour']:.2f})",
            f"defaults              {int(s['defaults'])} (labs {int(s['lab_defaults'])}, "
            f"clouds {int(s['cloud_defaults'])}); losses ${s['losses_usd'] / 1e9:,.1f}B",
            f"money moved           ${s['money_moved_usd'] / 1e9:,.0f}B in "
            f"{int(s['months'])} months; lab revenue ${s['lab_revenue_usd'] / 1e9:,.0f}B; "
            f"capex ${s['capex_usd'] / 1e9:,.0f}B",
        ]
    )


def cmd_surgery(args: argparse.Namespace) -> int:
    scenario = api.load(args.scenario)
    change = parse_settings(args.set, example="amount_usd=60e9") if args.set else None
    operate(scenario, args.deal, change)  # validate before any work
    if args.runs < 1 or args.workers < 1:
        raise ConfigError("--runs and --workers must be >= 1. Nothing was run or written.")
    check_months(args.months)
    out = args.out or Path("results") / "surgery" / args.deal
    runner.check_out_folder(out)
    per_run, summary = deal_surgery(
        scenario,
        args.deal,
        change,
        runs=args.runs,
        base_seed=args.seed,
        months=args.months,
        workers=args.workers,
    )
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("surgery_runs.csv", per_run), ("surgery_summary.csv", summary)):
        runner.write_atomically(out / name, lambda p, f=frame: f.to_csv(p, index=False))
    if change is None:
        first, second = "with_deal", "without_deal"
        print(f"deal {args.deal} removed; {args.runs} paired runs; effect = with − without")
    else:
        first, second = "changed", "original"
        print(
            f"deal {args.deal} changed ({', '.join(args.set)}); {args.runs} paired runs; "
            "effect = changed − original"
        )
    for row in summary.to_dict(orient="records"):
        print(
            f"  {row['outcome']:<26} {first.replace('_deal', '')} {row[first]:>14.4g}  "
            f"{second.replace('_deal', '')} {row[second]:>14.4g}  effect {row['effect']:>12.4g}"
            f"  [{row['effect_low']:.4g}, {row['effect_high']:.4g}]"
        )
    print(f"wrote {out}/surgery_runs.csv and surgery_summary.csv")
    return 0
