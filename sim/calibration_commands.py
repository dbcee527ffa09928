"""What `computesim calibrate` does once the command line is parsed: the calibration report,
or with ``--fit`` the fit, its out-of-sample check, the screen and the record.

Kept apart from :mod:`sim.calibration_cli`, which only builds the parser, so that its
``--help`` answers without importing pandas, the runner or the fitting code.
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
from sim.calibration_cli import DEFAULT_SEEDS
from sim.config import ConfigError, load_scenario, parse_settings
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


def cmd_calibrate(args: argparse.Namespace) -> int:
    if args.list_measures:
        for name, m in sorted(MEASURES.items()):
            units = " | ".join(u for u, (d, _) in UNITS.items() if d == m.dimension)
            print(f"{name:<20} {m.timing:<6} [{units}]  {m.doc}")
        return 0
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {args.workers}). Nothing was run.")
    if args.fit is not None:
        if args.set:
            raise ConfigError(
                "--set cannot be used with --fit (the fit file names the parameters it "
                "varies; put fixed changes in its scenario). Nothing was run or written."
            )
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
    settings = parse_settings(args.set)
    if settings:
        scenario = scenario.with_overrides(settings)
    targets_path = args.targets or DEFAULT_TARGETS
    targets = load_targets(targets_path)
    if args.select is not None:
        targets = select_targets(targets, args.select)
    calibration = plan_calibration(
        scenario,
        targets,
        args.seeds,
        base_seed=args.seed,
        scenario_path=scenario_path,
        settings=settings,
    )
    out = args.out or Path("results") / "calibration" / scenario.name
    store = ResultsStore(out)
    with sigterm_as_interrupt(), executor_for(args.engine, args.workers) as pool:
        outcome = run_calibration(
            calibration, store, pool, force=args.force, progress=not args.no_progress
        )
    report = outcome.report
    print(
        f"calibration of {scenario.name} ({_shown(scenario_path)}"
        f"{''.join(f', {k} = {v!r}' for k, v in settings.items())}) against "
        f"{_shown(targets_path)}: "
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
    fit = load_fit(
        args.fit,
        scenario=args.scenario,
        targets=args.targets,
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
