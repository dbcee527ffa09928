"""`computesim calibrate`: the calibration report of a scenario over seeds (issue 12) — its parser.

Runs the scenario once per seed through the sweep engine (a local process pool, Dask, or in
this process), keeping each run's measured targets in ``--out`` as it finishes, so an
interrupted report resumes and a rerun with more seeds only runs the new ones. Prints, per
target, the acceptable range, the model's median and 90% interval over the seeds, whether the
median is in range and the ratio model ÷ record, then the count in range. The exit code is 0
whether targets are in range or not: it is a report, not a test.

This module only builds the parser, so that ``computesim calibrate --help`` answers without
importing the simulation; :mod:`sim.calibration_commands` does the work once the command line
is parsed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
        "in range or not. With --fit FIT.toml: fit the fit file's estimated parameters to its "
        "selected targets by simulated moments (Optuna; common random numbers: the same seeds "
        "for every candidate), then check the default and the fitted world over every target "
        "(the ones the fit did not see reported apart), optionally screen which parameters the "
        "data pin down (--screen), and write the record (fit.json, trials.csv, report.csv) and "
        "a scenario with the best values (fitted.toml) to --out. An interrupted fit resumes "
        "when rerun with the same --out.",
        epilog="examples: computesim calibrate experiments/baseline.toml --seeds 8 --workers 2 "
        "--csv calibration.csv | computesim calibrate --fit experiments/calibration/fit.toml "
        "--trials 30 --seeds 3 --select 2025 --screen 4 --workers 2",
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
        default=None,
        help=f"number of seeds, 1–10000 (default {DEFAULT_SEEDS}; with --fit: seeds per "
        "candidate, 1–1000, default the fit file's)",
    )
    p.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change one parameter of the scenario before the report, by its dotted path "
        "(e.g. --set investment.opening_pipeline_install_months=4; repeatable): a variant's "
        "runs are its own (never reused for another variant); not with --fit",
    )
    p.add_argument(
        "--targets",
        type=Path,
        default=None,
        help="targets TOML (default: experiments/calibration/targets.toml; with --fit: the "
        "fit file's)",
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
    p.add_argument(
        "--select",
        default=None,
        metavar="SELECTOR",
        help="only the targets this selector picks: comma-separated years (2025: targets whose "
        "last month is in 2025), spans of last months (2025-01..2025-12, ..2025-12) or globs "
        "on target ids (leader-*); a leading - excludes (default: all; with --fit: the fit "
        "file's `select`)",
    )
    fit = p.add_argument_group("fitting (with --fit)")
    fit.add_argument(
        "--fit",
        type=Path,
        default=None,
        metavar="FIT.toml",
        help="fit the parameters of this fit file (e.g. experiments/calibration/fit.toml) by "
        "simulated moments; SCENARIO, if given, replaces the fit file's scenario",
    )
    fit.add_argument(
        "--trials", type=int, default=None, help="candidates to evaluate (default: the fit file's)"
    )
    fit.add_argument(
        "--screen",
        type=int,
        default=0,
        metavar="N",
        help="after the fit, a Morris screen of the distance with N trajectories ((P+1)·N "
        "candidates for P parameters), 0 or 2–100 (default 0: none)",
    )
    fit.add_argument(
        "--no-check",
        action="store_true",
        help="skip the out-of-sample check (the default and fitted worlds over every target)",
    )
    fit.add_argument(
        "--write-scenario",
        type=Path,
        default=None,
        metavar="PATH.toml",
        help="also write the scenario with the best values here (always written as "
        "fitted.toml in --out); each value's comment gives its source, 'fitted to … moments "
        "(date)'",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler="sim.calibration_commands:cmd_calibrate")
