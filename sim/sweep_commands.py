"""What `computesim sweep | status | query | sa` do, once the command line is parsed.

Kept apart from :mod:`sim.sweep_cli`, which only builds their parsers, so that their
``--help`` answers without importing pandas, the runner or the results store.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from sim import api
from sim.config import ConfigError
from sim.results_store import ResultsStore
from sim.runner import check_out_folder
from sim.sweep import executor_for, load_sweep, run_sweep
from sim.sweep_cli import sigterm_as_interrupt


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
