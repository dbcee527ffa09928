"""`computesim calibrate`: the calibration report of a scenario over seeds (issue 12).

Runs the scenario once per seed through the sweep engine (a local process pool, Dask, or in
this process), keeping each run's measured targets in ``--out`` as it finishes, so an
interrupted report resumes and a rerun with more seeds only runs the new ones. Prints, per
target, the acceptable range, the model's median and 90% interval over the seeds, whether the
median is in range and the ratio model ÷ record, then the count in range. The exit code is 0
whether targets are in range or not: it is a report, not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.calibration import (
    DEFAULT_SCENARIO,
    DEFAULT_TARGETS,
    MEASURES,
    ROOT,
    UNITS,
    format_organic,
    format_report,
    load_targets,
    organic_report,
    plan_calibration,
    run_calibration,
)
from sim.config import ConfigError, load_scenario
from sim.results_store import ResultsStore
from sim.sweep import executor_for
from sim.sweep_cli import sigterm_as_interrupt

DEFAULT_SEEDS = 8


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``calibrate``."""
    p = subparsers.add_parser(
        "calibrate",
        help="compare a scenario's outputs with the 2025–26 record (calibration report)",
        description="Run SCENARIO over --seeds seeds (seeds --seed, --seed+1, ...) through the "
        "sweep engine and compare each calibration target (experiments/calibration/"
        "targets.toml: revenues, burn, valuations, commitments, capex, backlog, debt, vendor "
        "revenue and margins, compute prices, capacity) with the model's median and 90% "
        "interval over the seeds. Runs are kept in --out as they finish: interrupting loses "
        "none, and rerunning (even with more seeds) resumes. Exit code 0 whether targets are "
        "in range or not.",
        epilog="example: computesim calibrate experiments/baseline.toml --seeds 8 --workers 2 "
        "--csv calibration.csv",
    )
    p.add_argument(
        "scenario",
        type=Path,
        nargs="?",
        default=None,
        help="scenario TOML (default: the project's experiments/baseline.toml)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=f"number of seeds, 1–10000 (default {DEFAULT_SEEDS})",
    )
    p.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    p.add_argument(
        "--targets",
        type=Path,
        default=DEFAULT_TARGETS,
        help="targets TOML (default: experiments/calibration/targets.toml)",
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument(
        "--engine",
        choices=("process", "dask", "serial"),
        default="process",
        help="process: local process pool (default); dask: a local Dask cluster; serial: "
        "in this process",
    )
    p.add_argument("--csv", type=Path, default=None, help="also write the report to this CSV")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the per-run results and report.csv (default "
        "results/calibration/<scenario name>)",
    )
    p.add_argument(
        "--force", action="store_true", help="delete earlier runs in --out and redo them all"
    )
    p.add_argument(
        "--list-measures",
        action="store_true",
        help="list the measures and units a target may use, and exit",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    if args.list_measures:
        for name, m in sorted(MEASURES.items()):
            units = " | ".join(u for u, (d, _) in UNITS.items() if d == m.dimension)
            print(f"{name:<20} {m.timing:<6} [{units}]  {m.doc}")
        return 0
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {args.workers}). Nothing was run.")
    if args.csv is not None and args.csv.suffix.lower() != ".csv":
        raise ConfigError(f"--csv must name a .csv file (got '{args.csv}'). Nothing was run.")
    # everything is validated before any run or any file
    scenario_path = args.scenario or DEFAULT_SCENARIO
    scenario = load_scenario(scenario_path)
    targets = load_targets(args.targets)
    calibration = plan_calibration(
        scenario, targets, args.seeds, base_seed=args.seed, scenario_path=scenario_path
    )
    out = args.out or Path("results") / "calibration" / scenario.name
    store = ResultsStore(out)
    with sigterm_as_interrupt(), executor_for(args.engine, args.workers) as pool:
        outcome = run_calibration(
            calibration, store, pool, force=args.force, progress=not args.no_progress
        )
    report = outcome.report
    print(
        f"calibration of {scenario.name} ({_shown(scenario_path)}) against "
        f"{_shown(args.targets)}: "
        f"{len(outcome.values)} seeds, runs of {calibration.sweep.tasks[0].months} months "
        f"from {scenario.run.start}"
    )
    print(format_report(report))
    organic = organic_report(outcome.values, scenario.run.start)
    print(format_organic(organic))
    report.to_csv(out / "report.csv", index=False)
    organic.to_csv(out / "organic.csv", index=False)
    written = [str(out / "report.csv"), str(out / "organic.csv")]
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        report.to_csv(args.csv, index=False)
        written.append(str(args.csv))
    print(
        f"runs: {outcome.sweep.done} done now, {outcome.sweep.skipped} reused, "
        f"{outcome.sweep.failed} failed; wrote {' and '.join(written)}"
    )
    if outcome.missing_seeds:
        print(
            f"missing seeds {', '.join(map(str, outcome.missing_seeds))}: the report covers the "
            f"others; see `computesim status {out}`"
        )
    if outcome.sweep.interrupted:
        print("interrupted: finished runs are kept; rerun the same command to resume")
        return 130
    return 0


def _shown(path: Path) -> str:
    """A path relative to the project when it lies inside it (shorter in messages)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
