"""`computesim sweep | status | query | sa`: run a sweep file, watch it, query and analyse it.

Engines (all behind one :class:`concurrent.futures.Executor` interface):

* ``process`` (default): a local pool of ``--workers`` processes;
* ``serial``: every run in this process (debugging, profiling);
* ``dask``: a local Dask cluster of ``--workers`` single-threaded worker processes, or, with
  ``--scheduler tcp://host:8786``, an existing Dask cluster (many machines). Dask re-runs a
  task whose worker died (up to ``sim.sweep.ALLOWED_WORKER_DEATHS`` times).

Only this process writes results; a killed sweep resumes when the same command is rerun.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from sim import api
from sim.config import ConfigError
from sim.results_store import ResultsStore
from sim.runner import check_out_folder
from sim.sweep import executor_for, load_sweep, run_sweep


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sweep``, ``status``, ``query`` and ``sa``."""
    sweep = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep (grid, LHS, Sobol, Morris) with seeds per point",
        description="Run every run of a sweep file not yet finished in --out: one Parquet "
        "file per run, written as each finishes. Interrupting (Ctrl-C) loses no finished "
        "run; rerun the same command to resume.",
        epilog="example: computesim sweep experiments/sweeps/connectivity.toml --workers 2",
    )
    sweep.add_argument("sweep_file", type=Path, help="sweep TOML, e.g. experiments/sweeps/X.toml")
    sweep.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    sweep.add_argument(
        "--engine",
        choices=("process", "dask", "serial"),
        default="process",
        help="process: local process pool (default); dask: a local Dask cluster, or the one "
        "at --scheduler; serial: in this process",
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running Dask scheduler, e.g. tcp://host:8786 (implies --engine dask)",
    )
    sweep.add_argument(
        "--out", type=Path, default=None, help="results folder (default results/sweeps/<name>)"
    )
    sweep.add_argument(
        "--force",
        action="store_true",
        help="delete earlier results in --out and redo every run (needed when --out holds "
        "another sweep, or an earlier plan of this one that the sweep file no longer contains)",
    )
    sweep.add_argument(
        "--dry-run", action="store_true", help="validate and print the plan; run nothing"
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=cmd_sweep)

    status = subparsers.add_parser(
        "status",
        help="show done, failed and pending runs of a sweep's results folder",
        description="Counts of the planned runs that are done, failed and pending, and the "
        "last line of each failure's traceback (full tracebacks in DIR/failed/).",
    )
    status.add_argument("dir", type=Path, help="results folder of `computesim sweep`")
    status.set_defaults(handler=cmd_status)

    query = subparsers.add_parser(
        "query",
        help="run SQL (DuckDB) over a sweep's finished runs",
        description="The finished runs are the table `runs` (one row per run: run_id, point, "
        'replicate, seed, months, the parameters as "p:<path>", the kept outputs, seconds); '
        "kept time series are the table `series`.",
        epilog='example: computesim query results/sweeps/connectivity "SELECT '
        '\\"p:network.partners_per_lab\\", avg(systemic_cascade) FROM runs GROUP BY 1 ORDER BY 1"',
    )
    query.add_argument("dir", type=Path, help="results folder of `computesim sweep`")
    query.add_argument(
        "sql", nargs="?", default="SELECT * FROM runs LIMIT 20", help="SQL (default: 20 runs)"
    )
    query.add_argument("--csv", type=Path, default=None, help="also write the result as CSV")
    query.add_argument(
        "--compact", action="store_true", help="first fold the per-run files into one file"
    )
    query.set_defaults(handler=cmd_query)

    sa = subparsers.add_parser(
        "sa",
        help="Morris screen or Sobol indices of a Morris/Sobol sweep's outputs",
        description="Sensitivity analysis (SALib) of a finished sweep whose parameters.method "
        "is morris or sobol: writes sensitivity.csv (indices with 95%% confidence intervals) "
        "and sensitivity.png into --out.",
    )
    sa.add_argument("dir", type=Path, help="results folder of a Morris or Sobol sweep")
    sa.add_argument(
        "--output",
        action="append",
        required=True,
        help="summary output to analyse (repeatable), e.g. --output systemic_cascade",
    )
    sa.add_argument("--out", type=Path, default=None, help="folder for the files (default DIR)")
    sa.set_defaults(handler=cmd_sa)


# --------------------------------------------------------------------------------------
def cmd_sweep(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {args.workers}). Nothing was run.")
    engine = "dask" if args.scheduler else args.engine
    if args.scheduler and args.engine not in ("dask", "process"):
        raise ConfigError("--scheduler needs --engine dask. Nothing was run or written.")
    sweep = load_sweep(args.sweep_file)  # validates every point before any work
    out = args.out or Path("results") / "sweeps" / sweep.spec.sweep.name
    check_out_folder(out)
    store = ResultsStore(out)
    if args.dry_run:
        return _print_plan(sweep, store, args.force)
    with sigterm_as_interrupt(), executor_for(engine, args.workers, args.scheduler) as pool:
        report = run_sweep(sweep, store, pool, force=args.force, progress=not args.no_progress)
    status = store.status()
    print(
        f"sweep {sweep.spec.sweep.name}: {report.done} runs done and {report.failed} failed "
        f"in {report.seconds:.1f} s ({report.skipped} already finished); now "
        f"{status['done']} done, {status['failed']} failed, {status['pending']} pending of "
        f"{status['planned']}"
    )
    if report.interrupted:
        print("interrupted: finished runs are kept; rerun the same command to resume")
    if status["failed"]:
        print(f"failed runs: see `computesim status {out}` and {out}/failed/")
    print(f'results in {out}/ — try: computesim query {out} "SELECT * FROM runs LIMIT 5"')
    return 130 if report.interrupted else 0


def _print_plan(sweep: Any, store: Any, force: bool) -> int:
    done = set() if force else store.done_ids()
    distinct = {t.run_id for t in sweep.tasks}
    todo = len(distinct - done)
    spec = sweep.spec
    print(
        f"sweep {spec.sweep.name}: {len(sweep.points)} points × {spec.sweep.seeds_per_point} "
        f"seeds = {len(distinct)} distinct runs of {sweep.tasks[0].months} months "
        f"({spec.parameters.method}); {todo} to run, {len(distinct) - todo} already finished"
    )
    for v in spec.parameters.vary:
        values = v.values if v.values is not None else f"[{v.min}, {v.max}]"
        print(f"  {v.path}: {values}")
    print(f"outputs: {', '.join(spec.outputs.summary)}; results would go to {store.root}/")
    return 0


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so a terminated sweep stops cleanly between writes."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    store = api.open_sweep(args.dir).store
    manifest = store.manifest()
    s = store.status()
    print(
        f"sweep {manifest.get('sweep_name')} in {args.dir}: {s['done']} done, {s['failed']} "
        f"failed, {s['pending']} pending of {s['planned']} planned runs"
    )
    for path in sorted(store.failed.glob("*.json")):
        record = json.loads(path.read_text())
        last = record["traceback"].strip().splitlines()[-1]
        print(f"  failed {record['run_id']} point {record['point']} seed {record['seed']}: {last}")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    result = api.open_sweep(args.dir)
    if args.compact:
        print(f"compacted into {result.store.compact()}", file=sys.stderr)
    try:
        frame = result.query(args.sql)
    except ConfigError:
        raise
    except Exception as exc:  # DuckDB's own message names the problem
        raise ConfigError(f"query failed: {str(exc).splitlines()[0]}") from None
    with pd.option_context("display.max_columns", 30, "display.width", 160):
        print(frame.to_string(index=False, max_rows=60))
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


def cmd_sa(args: argparse.Namespace) -> int:
    from sim.sensitivity import write_analysis  # SALib and plotting: imported only for `sa`

    store = ResultsStore(args.dir)
    csv, png = write_analysis(store, args.output, args.out or args.dir)
    with pd.option_context("display.width", 160, "display.precision", 4):
        print(pd.read_csv(csv).to_string(index=False))
    print(f"wrote {csv} and {png}")
    return 0
