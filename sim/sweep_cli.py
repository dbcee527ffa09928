"""`computesim sweep | status | query | sa`: run a sweep file, watch it, query and analyse it.

Engines (all behind one :class:`concurrent.futures.Executor` interface):

* ``process`` (default): a local pool of ``--workers`` processes;
* ``serial``: every run in this process (debugging, profiling);
* ``dask``: a local Dask cluster of ``--workers`` single-threaded worker processes, or, with
  ``--scheduler tcp://host:8786``, an existing Dask cluster (many machines). Dask re-runs a
  task whose worker died (up to ``sim.sweep.ALLOWED_WORKER_DEATHS`` times).

Only this process writes results; a killed sweep resumes when the same command is rerun.

This module builds the commands' parsers; :mod:`sim.sweep_commands` does them.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

COMMANDS = "sim.sweep_commands"
"""The module whose functions do these commands, imported only when one runs (it imports
pandas, the runner and the results store), so that their ``--help`` answers at once."""


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
    sweep.set_defaults(handler=f"{COMMANDS}:cmd_sweep", prepare=start_workers_early)

    status = subparsers.add_parser(
        "status",
        help="show done, failed and pending runs of a sweep's results folder",
        description="Counts of the planned runs that are done, failed and pending, and the "
        "last line of each failure's traceback (full tracebacks in DIR/failed/).",
    )
    status.add_argument("dir", type=Path, help="results folder of `computesim sweep`")
    status.set_defaults(handler=f"{COMMANDS}:cmd_status")

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
    query.set_defaults(handler=f"{COMMANDS}:cmd_query")

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
    sa.set_defaults(handler=f"{COMMANDS}:cmd_sa")


def start_workers_early(args: argparse.Namespace) -> None:
    """A sweep on a local process pool: start the pool's fork server before this process
    imports the runner (:func:`sim.fork_server.start_fork_server`), so that the server's
    imports of the model and this process's run at once, on two cores. Nothing for a dry
    run, the serial engine or Dask."""
    if args.engine == "process" and args.scheduler is None and not args.dry_run:
        from sim.fork_server import start_fork_server

        start_fork_server()


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
