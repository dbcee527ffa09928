"""The `computesim` command: run | params, plus sweep, status, query, sa, calibrate and gallery.

Bad input gives a one-paragraph error naming the field and what is allowed, exit code 2,
no traceback, and nothing written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sim import (
    api,
    calibration_cli,
    dash_cli,
    discover_cli,
    export_cli,
    gallery,
    runner,
    sweep_cli,
)
from sim.config import ConfigError, parameter_table
from sim.surgery import deal_surgery, operate

EXIT_BAD_INPUT = 2

MAX_MONTHS = 600
"""Longest run `run` and `surgery` accept (the bound of ``run.months``)."""

PLUGINS = (sweep_cli, calibration_cli, discover_cli, export_cli, gallery, dash_cli)
"""Modules that add their own subcommands with ``add_subcommands(subparsers)``. They are
imported with this module, so a broken one fails loudly instead of hiding its command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="computesim",
        description="Agent-based market simulation of the AI compute ecosystem: labs, clouds, "
        "chip vendors and investors trading capacity contracts and capital, month by month.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run one scenario and write its tables, summary and overview figure",
        description="Run one scenario. Writes model, agents, kinds, lines, events, debtrank and "
        "exposures (zstd .parquet; with --detail also flows, accruals and journal, one row per "
        "posting), config.json (resolved config and seed), summary.json, overview.png (unless "
        "--no-picture) and, last, run.json (the completion marker) into --out, "
        "and prints a short summary. The folder is written beside --out and renamed into "
        "place when complete: an interrupted run leaves --out as it was. An --out holding a "
        "run of the same scenario is replaced whole; one holding anything else is refused "
        "unless --force.",
    )
    run.add_argument(
        "scenario",
        help="a shipped scenario (baseline, telecom_bust) or a scenario TOML file, e.g. "
        "experiments/baseline.toml",
    )
    run.add_argument(
        "--out", type=Path, default=None, help="output folder (default: results/<scenario name>)"
    )
    run.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    run.add_argument(
        "--months",
        type=int,
        default=None,
        help=f"months to run, 1 to {MAX_MONTHS} (default: the scenario's)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="replace --out even if it holds a run of another scenario or other files",
    )
    run.add_argument(
        "--audit",
        action="store_true",
        help="check the books against the instruments after every month (slower)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--detail",
        action="store_true",
        help="also write the posting-level tables flows, accruals and journal (about 1 MB "
        "for a default run; the summary and the other tables are the same without them)",
    )
    run.add_argument(
        "--no-picture",
        action="store_true",
        help="do not draw overview.png (saves the plotting import and about 0.5 s)",
    )
    run.set_defaults(handler=cmd_run)
    surgery = sub.add_parser(
        "surgery",
        help="rerun a scenario with one deal removed or changed (common random numbers)",
        description="Deal surgery: paired runs with and without a named deal (or with some of "
        "its fields changed), same seeds, and the difference in revenues, valuations, "
        "defaults, losses and circularity. Writes surgery_runs.csv and surgery_summary.csv.",
    )
    surgery.add_argument(
        "scenario", help="a shipped scenario (e.g. baseline) or a scenario TOML with [[deals]]"
    )
    surgery.add_argument("--deal", required=True, help="name of the deal to operate on")
    surgery.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of the deal instead of removing it, e.g. "
        "--set amount_usd=60e9 (repeatable)",
    )
    surgery.add_argument("--runs", type=int, default=5, help="paired runs (default 5)")
    surgery.add_argument("--seed", type=int, default=1, help="base seed (default 1)")
    surgery.add_argument(
        "--months",
        type=int,
        default=None,
        help=f"months per run, 1 to {MAX_MONTHS} (default: the scenario's)",
    )
    surgery.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    surgery.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the CSV files (default results/surgery/<deal>)",
    )
    surgery.set_defaults(handler=cmd_surgery)
    params = sub.add_parser(
        "params", help="list every parameter with unit, default, bounds and source"
    )
    params.add_argument("--markdown", action="store_true", help="print a Markdown table")
    params.set_defaults(handler=cmd_params)
    for plugin in PLUGINS:
        plugin.add_subcommands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        message = " ".join(str(exc).split())  # one paragraph, whatever raised it
        if "Nothing was run" not in message:
            message = f"{message.rstrip('.')}. Nothing was run or written."
        print(f"computesim: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # the reader went away (`computesim params | head`): stop quietly, and point stdout
        # at /dev/null so the interpreter's final flush does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def check_months(months: int | None) -> None:
    """Refuse a ``--months`` outside 1 … :data:`MAX_MONTHS`."""
    if months is not None and not 1 <= months <= MAX_MONTHS:
        raise ConfigError(
            f"--months must be between 1 and {MAX_MONTHS} (got {months}). Nothing was run or "
            "written."
        )


def cmd_run(args: argparse.Namespace) -> int:
    scenario = api.load(args.scenario)
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
        if not args.no_picture:
            from sim.overview import save_png  # plotting: imported only to draw

            png = save_png(
                run.overview(f"{scenario.name}, seed {seed}: overview"), staging / "overview.png"
            )
            os.chmod(png, runner.FILE_MODE)
    print(format_summary(run.result.summary, run.tables["model"]))
    tables = ", ".join(p.stem for p in written if p.suffix == ".parquet")
    picture = "" if args.no_picture else " overview.png;"
    print(
        f"wrote {out}/ ({tables} .parquet; config.json; summary.json;{picture} {runner.RUN_MARKER})"
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
    change = _parse_settings(args.set) if args.set else None
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


def _parse_settings(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        field, sep, raw = item.partition("=")
        if not sep or not field:
            raise ConfigError(f"--set takes FIELD=VALUE, got '{item}'. Nothing was run or written.")
        try:
            out[field] = float(raw)
        except ValueError:
            out[field] = raw
    return out


def cmd_params(args: argparse.Namespace) -> int:
    rows = parameter_table()
    if args.markdown:
        print("| parameter | default | unit | bounds | source |")
        print("|---|---|---|---|---|")
        for r in rows:
            cells = [f"`{r['parameter']}`", r["default"], r["unit"], r["bounds"], r["source"]]
            print("| " + " | ".join(cells) + " |")
    else:
        for r in rows:
            head = f"{r['parameter']:<52} {r['default']:>14} {r['unit']:<24}"
            print(f"{head} {r['bounds']:<18} {r['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
