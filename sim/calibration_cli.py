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
from sim.fitting import (
    format_out_of_sample,
    format_screen,
    identification_screen,
    load_fit,
    out_of_sample,
    run_fit,
    sample_counts,
    save_screen,
    select_targets,
    write_fitted_scenario,
)
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
    p.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    if args.list_measures:
        for name, m in sorted(MEASURES.items()):
            units = " | ".join(u for u, (d, _) in UNITS.items() if d == m.dimension)
            print(f"{name:<20} {m.timing:<6} [{units}]  {m.doc}")
        return 0
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {args.workers}). Nothing was run.")
    if args.fit is not None:
        return cmd_fit(args)
    for option in ("trials", "write_scenario"):
        if getattr(args, option) is not None:
            flag = "--" + option.replace("_", "-")
            raise ConfigError(f"{flag} needs --fit FIT.toml. Nothing was run or written.")
    if args.screen or args.no_check:
        raise ConfigError(
            "--screen and --no-check need --fit FIT.toml. Nothing was run or written."
        )
    if args.seeds is None:
        args.seeds = DEFAULT_SEEDS
    if args.csv is not None and args.csv.suffix.lower() != ".csv":
        raise ConfigError(f"--csv must name a .csv file (got '{args.csv}'). Nothing was run.")
    # everything is validated before any run or any file
    scenario_path = args.scenario or DEFAULT_SCENARIO
    scenario = load_scenario(scenario_path)
    targets = load_targets(args.targets)
    if args.select is not None:
        targets = select_targets(targets, args.select)
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


def cmd_fit(args: argparse.Namespace) -> int:
    """``computesim calibrate --fit``: the fit, its out-of-sample check, the screen, the record."""
    if args.seeds is not None and not 1 <= args.seeds <= 1000:
        raise ConfigError(
            f"--seeds must be between 1 and 1000 with --fit (got {args.seeds}). "
            "Nothing was run or written."
        )
    if args.trials is not None and not 1 <= args.trials <= 100_000:
        raise ConfigError(
            f"--trials must be between 1 and 100000 (got {args.trials}). Nothing "
            "was run or written."
        )
    if args.screen != 0 and not 2 <= args.screen <= 100:
        raise ConfigError(
            f"--screen must be 0 or between 2 and 100 (got {args.screen}; Morris needs 2 "
            "trajectories for a confidence interval). Nothing was run or written."
        )
    for option, path in (("--csv", args.csv), ("--write-scenario", args.write_scenario)):
        want = ".csv" if option == "--csv" else ".toml"
        if path is not None and path.suffix.lower() != want:
            raise ConfigError(
                f"{option} must name a {want} file (got '{path}'). Nothing was run or written."
            )
    targets = args.targets if args.targets != DEFAULT_TARGETS else None
    fit = load_fit(
        args.fit,
        scenario=args.scenario,
        targets=targets,
        select=args.select,
        seeds=args.seeds,
        trials=args.trials,
    )
    if args.screen and len(fit.parameters) < 2:
        raise ConfigError(
            "--screen needs a fit of at least 2 parameters. Nothing was run or written."
        )
    out = args.out or Path("results") / "fit" / fit.spec.fit.name
    print(
        f"fit {fit.spec.fit.name} ({_shown(fit.path)}): {len(fit.parameters)} parameters of "
        f"{fit.scenario.name} on {len(fit.fitted_on)} of {len(fit.targets)} targets "
        f"(selector '{fit.spec.fit.select or 'all'}'), seeds {fit.seeds[0]}–{fit.seeds[-1]} for "
        f"every candidate, {fit.spec.fit.trials} trials, sampler {fit.spec.fit.sampler}; "
        f"folder {out}"
    )
    written = []
    with sigterm_as_interrupt(), executor_for(args.engine, args.workers) as pool:
        outcome = run_fit(fit, out, pool, force=args.force, progress=not args.no_progress)
        if outcome.interrupted:
            print("interrupted: finished trials are kept; rerun the same command to resume")
            return 130
        record = outcome.record
        best = outcome.best
        assert best is not None
        print(
            f"trials: {outcome.new_trials} new, {record['trials_complete']} in the study; "
            f"distance default {outcome.default.distance:.4g} ({outcome.default.in_range} of "
            f"{len(fit.fitted_on)} in range) → best {best.distance:.4g} ({best.in_range} in "
            f"range)"
        )
        for path, value in best.params.items():
            was = fit.defaults[path]
            print(f"  {path} = {value:.4g}   (was {'varies' if was is None else f'{was:g}'})")
        written.append(write_fitted_scenario(fit, record, out / "fitted.toml"))
        if args.write_scenario is not None:
            written.append(write_fitted_scenario(fit, record, args.write_scenario))
        if not args.no_check:
            table = out_of_sample(fit, best.params, out, pool)
            print(
                f"out-of-sample check: the default and the fitted world over all "
                f"{len(fit.targets)} targets, {fit.spec.fit.check_seeds} seeds"
            )
            print(format_out_of_sample(table))
            table.to_csv(out / "report.csv", index=False)
            sample_counts(table).to_csv(out / "counts.csv", index=False)
            written += [out / "report.csv", out / "counts.csv"]
            if args.csv is not None:
                args.csv.parent.mkdir(parents=True, exist_ok=True)
                table.to_csv(args.csv, index=False)
                written.append(args.csv)
        if args.screen:
            try:
                screen = identification_screen(
                    fit, out, pool, trajectories=args.screen, progress=not args.no_progress
                )
            except KeyboardInterrupt:
                print("interrupted: the screen's finished runs are kept; rerun to resume")
                return 130
            print(format_screen(screen))
            written += save_screen(screen, out)
    print(f"wrote {out / 'fit.json'}, {out / 'trials.csv'}, " + ", ".join(map(str, written)))
    return 0
