"""Where a sweep's results live: one Parquet file per run, written atomically.

Layout of a results folder::

    manifest.json          the sweep file, package versions, git revision, the sample
    plan.parquet           every planned run: run_id, point, replicate, seed, parameters
    runs/<run_id>.parquet  one finished run: its parameters, seed and kept summary outputs
    series/<run_id>.parquet  its kept time series (if any were asked for)
    failed/<run_id>.json   a run that raised: parameters, seed and the traceback
    compact.parquet        after `computesim query --compact`: the runs folded into one file

Only the client process writes, each file to a temporary name then ``os.replace``, so a
killed sweep leaves whole files or none. DuckDB reads the folder as a table (``runs``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from sim.config import ConfigError
from sim.runner import MODEL_VERSION, write_atomically

if TYPE_CHECKING:
    from sim.sweep import RunTask, Sweep

PACKAGES = (
    "mesa",
    "numpy",
    "pandas",
    "pyarrow",
    "pydantic",
    "SALib",
    "dask",
    "distributed",
    "duckdb",
)


def write_small_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write one run's row (or its series) as zstd Parquet without the serialised Arrow and
    pandas schemas and column statistics: on a one-row file they were three quarters of its
    7.7 kB. Parquet's column types carry what the store reads back (the same frame, and the
    same columns in DuckDB's union of the runs)."""
    frame.to_parquet(
        path, index=False, compression="zstd", store_schema=False, write_statistics=False
    )


class ResultsStore:
    """A sweep's results folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.series = self.root / "series"
        self.failed = self.root / "failed"
        self.manifest_path = self.root / "manifest.json"
        self.compact_path = self.root / "compact.parquet"

    # --- writing (client only) ---------------------------------------------------------
    def open(self, sweep: Sweep, *, force: bool = False) -> None:
        """Create the folder and write the manifest and plan.

        The folder knows its plan. A folder that holds another sweep (a different name in its
        manifest), or another plan of this sweep (a changed sweep file whose runs are not a
        superset of the planned ones, or that keeps other outputs), is refused unless
        ``force``; ``force`` deletes every earlier result, so all runs are redone. A plan
        that only adds runs (more points or seeds, same outputs) extends the folder: every
        earlier run is still in the plan, so nothing is mixed.
        """
        if self.manifest_path.is_file() and not force:
            earlier = self.manifest().get("sweep_name")
            if earlier != sweep.spec.sweep.name:
                raise ConfigError(
                    f"--out '{self.root}' holds results of sweep '{earlier}', not "
                    f"'{sweep.spec.sweep.name}': choose another --out, or pass --force to "
                    "delete them. Nothing was run or written."
                )
            self._check_same_plan(sweep)
        if force:
            for folder in (self.runs, self.series, self.failed):
                shutil.rmtree(folder, ignore_errors=True)
            self.compact_path.unlink(missing_ok=True)
        for folder in (self.runs, self.series, self.failed):
            folder.mkdir(parents=True, exist_ok=True)
        manifest = {
            "sweep_name": sweep.spec.sweep.name,
            "sweep_file": str(sweep.path),
            "sweep_toml": sweep.text,
            "model_version": MODEL_VERSION,
            "packages": {p: _version(p) for p in PACKAGES},
            "python": platform.python_version(),
            "git_revision": _git_revision(),
            "runs_planned": len({t.run_id for t in sweep.tasks}),
            "outputs": {
                "summary": list(sweep.spec.outputs.summary),
                "series": list(sweep.spec.outputs.series),
            },
            "method": sweep.spec.parameters.method,
            "morris_levels": sweep.spec.parameters.morris_levels,
            "problem": sweep.problem,
            "points": sweep.points,
            "sample": None if sweep.unit_sample is None else sweep.unit_sample.tolist(),
        }
        write_atomically(
            self.manifest_path,
            lambda p: Path(p).write_text(json.dumps(manifest, indent=1, default=str)),
        )
        plan = pd.DataFrame(
            [
                {
                    "run_id": t.run_id,
                    "point": t.point,
                    "replicate": t.replicate,
                    "seed": t.seed,
                    **{f"p:{k}": v for k, v in t.params.items()},
                }
                for t in sweep.tasks
            ]
        )
        write_atomically(self.root / "plan.parquet", lambda p: plan.to_parquet(p, index=False))

    def _check_same_plan(self, sweep: Sweep) -> None:
        """Refuse a plan that would mix with the one in this folder (see :meth:`open`)."""
        manifest = self.manifest()
        new = {t.run_id for t in sweep.tasks}
        try:
            old = set(self.plan()["run_id"])
        except (OSError, ValueError, KeyError):
            old = set()
        outputs = {
            "summary": list(sweep.spec.outputs.summary),
            "series": list(sweep.spec.outputs.series),
        }
        kept = manifest.get("outputs", outputs)
        if old <= new and kept == outputs:
            return
        why = (
            f"it keeps other outputs ({kept} there, {outputs} now)"
            if kept != outputs
            else f"{len(old - new)} of its {len(old)} planned runs are not in this file's plan "
            f"of {len(new)} runs (a changed parameter, seed, months or base scenario)"
        )
        raise ConfigError(
            f"--out '{self.root}' holds another plan of sweep '{sweep.spec.sweep.name}' "
            f"(from an earlier version of the sweep file): {why}. To go on, pass --force to "
            "delete the earlier results and run this plan, or give another --out (e.g. "
            f"--out {self.root}-2) to keep both. Nothing was run or written."
        )

    def write_run(self, task: RunTask, result: dict[str, Any]) -> None:
        row = {
            "run_id": task.run_id,
            "point": task.point,
            "replicate": task.replicate,
            "seed": task.seed,
            "months": task.months,
            **{f"p:{k}": v for k, v in task.params.items()},
            **result["summary"],
            "seconds": result.get("seconds", float("nan")),
        }
        if result.get("series"):
            series = pd.DataFrame(result["series"]).assign(run_id=task.run_id)
            write_atomically(
                self.series / f"{task.run_id}.parquet", lambda p: write_small_table(series, p)
            )
        frame = pd.DataFrame([row])
        write_atomically(
            self.runs / f"{task.run_id}.parquet", lambda p: write_small_table(frame, p)
        )
        (self.failed / f"{task.run_id}.json").unlink(missing_ok=True)

    def write_failure(self, task: RunTask, tb: str) -> None:
        record = {
            "run_id": task.run_id,
            "point": task.point,
            "replicate": task.replicate,
            "seed": task.seed,
            "params": task.params,
            "traceback": tb,
        }
        write_atomically(
            self.failed / f"{task.run_id}.json",
            lambda p: Path(p).write_text(json.dumps(record, indent=1, default=str)),
        )

    # --- reading -----------------------------------------------------------------------
    def done_ids(self) -> set[str]:
        """Ids of the finished runs (per-run files and the compacted file)."""
        ids = {p.stem for p in self.runs.glob("*.parquet")} if self.runs.is_dir() else set()
        if self.compact_path.is_file():
            ids |= set(pq.read_table(self.compact_path, columns=["run_id"])["run_id"].to_pylist())
        return ids

    def failed_ids(self) -> set[str]:
        return {p.stem for p in self.failed.glob("*.json")} if self.failed.is_dir() else set()

    def plan(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / "plan.parquet")

    def manifest(self) -> dict[str, Any]:
        if not self.manifest_path.is_file():
            raise ConfigError(
                f"'{self.root}' is not a sweep results folder (no manifest.json); give the "
                "--out folder of a `computesim sweep`."
            )
        return json.loads(self.manifest_path.read_text())

    def status(self) -> dict[str, int]:
        """Counts of done, failed and pending runs of the plan."""
        self.manifest()  # a clear error if this is not a results folder
        planned = set(self.plan()["run_id"])
        done = self.done_ids() & planned
        failed = (self.failed_ids() & planned) - done
        return {
            "planned": len(planned),
            "done": len(done),
            "failed": len(failed),
            "pending": len(planned - done - failed),
        }

    def results(self) -> pd.DataFrame:
        """All finished runs as one table, ordered by point and replicate."""
        return self.query("SELECT * FROM runs ORDER BY point, replicate, run_id")

    def query(self, sql: str) -> pd.DataFrame:
        """Run SQL over the finished runs of the plan, visible as the table ``runs``, and
        their kept time series, ``series`` (DuckDB). A run file outside the folder's plan
        (left by an older plan) is never seen."""
        import duckdb

        con = duckdb.connect()
        try:
            plan = (self.root / "plan.parquet").as_posix()
            con.execute(
                f"CREATE VIEW plan_ids AS SELECT DISTINCT run_id FROM read_parquet('{plan}')"
            )
            con.execute(
                f"CREATE VIEW runs AS SELECT * FROM ({self._runs_source()}) "
                "WHERE run_id IN (SELECT run_id FROM plan_ids)"
            )
            if any(self.series.glob("*.parquet")):
                glob = (self.series / "*.parquet").as_posix()
                con.execute(
                    f"CREATE VIEW series AS SELECT * FROM read_parquet('{glob}', "
                    "union_by_name=true) WHERE run_id IN (SELECT run_id FROM plan_ids)"
                )
            return con.execute(sql).df()
        finally:
            con.close()

    def _runs_source(self) -> str:
        """SQL for all finished runs: the compacted file plus the per-run files not in it."""
        files = (self.runs / "*.parquet").as_posix()
        has_files = self.runs.is_dir() and any(self.runs.glob("*.parquet"))
        if self.compact_path.is_file():
            compact = f"read_parquet('{self.compact_path.as_posix()}')"
            if not has_files:
                return f"SELECT * FROM {compact}"
            return (
                f"SELECT * FROM {compact} UNION ALL BY NAME SELECT * FROM read_parquet("
                f"'{files}', union_by_name=true) WHERE run_id NOT IN (SELECT run_id FROM "
                f"{compact})"
            )
        if not has_files:
            raise ConfigError(f"no finished runs in '{self.root}' yet")
        return f"SELECT * FROM read_parquet('{files}', union_by_name=true)"

    def compact(self) -> Path:
        """Fold the per-run files into one ``compact.parquet`` and delete them.

        Safe to interrupt: the new file replaces the old atomically before any per-run file
        is deleted, and a run present in both is read once. Restarts still skip every run.
        """
        import duckdb

        tmp = self.root / ".compact.parquet.tmp"
        con = duckdb.connect()
        try:
            con.execute(
                f"COPY ({self._runs_source()} ORDER BY point, replicate, run_id) TO "
                f"'{tmp.as_posix()}' (FORMAT parquet)"
            )
        finally:
            con.close()
        os.replace(tmp, self.compact_path)
        for path in self.runs.glob("*.parquet"):
            path.unlink()
        return self.compact_path


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
