"""The Python API of computesim: scenarios, parameters, runs, ensembles and sweeps.

Everything the ``computesim`` command does is reachable from Python through these names,
which the :mod:`sim` package exports::

    import sim

    sim.scenarios()                          # ['baseline', 'stargate', ...]
    world = sim.load("baseline", overrides={"demand.regime": "plateau"})
    run = sim.run(world, seed=7, months=24)  # run.model: one row per month, indexed by date
    fan = sim.ensemble("baseline", seeds=8, months=24, workers=2)
    result = sim.sweep({...}, out="results/sweeps/mine", workers=2)
    result.stats("systemic_cascade")         # mean, sd, quantiles and n per point

Money is in US dollars, prices in USD per GPU-hour, capacity in H100-equivalent GPUs, time
in months (see :func:`params` for every parameter's unit, bounds and source).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import ValidationError

from sim.config import ConfigError, Scenario, format_validation_error, load_scenario
from sim.config import parameter_table as _parameter_table
from sim.ensemble import derive_seeds, process_pool, run_ensemble
from sim.results_store import ResultsStore
from sim.runner import RunResult, read_run, simulate
from sim.surgery import deal_surgery
from sim.sweep import (
    InlineExecutor,
    Sweep,
    SweepSpec,
    dask_executor,
    expand_sweep,
    load_sweep,
    run_sweep,
)

if TYPE_CHECKING:
    import xarray
    from matplotlib.figure import Figure

__all__ = [
    "Ensemble",
    "Run",
    "SweepResult",
    "dashboard",
    "ensemble",
    "load",
    "open_run",
    "open_sweep",
    "params",
    "run",
    "scenarios",
    "surgery",
    "sweep",
]

SCENARIO_FOLDER = "scenarios"
"""The folder of the ``sim`` package whose ``*.toml`` files are the shipped scenarios (package
data, not a subpackage: ``sim.scenarios`` is the function)."""

Engine = Literal["process", "serial", "dask"]

_QUANTILES = (0.05, 0.5, 0.95)


# --------------------------------------------------------------------------------------
# Scenarios and parameters
# --------------------------------------------------------------------------------------
def scenarios() -> list[str]:
    """Names of the scenarios shipped inside the package, for :func:`load` (sorted)."""
    folder = resources.files("sim").joinpath(SCENARIO_FOLDER)
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def params() -> pd.DataFrame:
    """Every scalar parameter: ``path`` (dotted, ``labs[]`` for per-agent fields),
    ``default``, ``unit``, ``bounds``, ``source`` and ``meaning``, one row each."""
    table = pd.DataFrame(_parameter_table())
    return table.rename(columns={"parameter": "path"})[
        ["path", "default", "unit", "bounds", "source", "meaning"]
    ]


def load(
    name_or_path: str | Path | Scenario, overrides: Mapping[str, Any] | None = None
) -> Scenario:
    """A validated scenario: a shipped one by name (see :func:`scenarios`), a TOML file by
    path, or a :class:`~sim.config.Scenario` as is; then ``overrides`` applied (dotted paths,
    e.g. ``{"demand.regime": "bust", "labs.*.optimism": 1.3}``).

    Raises :class:`~sim.config.ConfigError` naming the field and allowed range on bad input.
    """
    if isinstance(name_or_path, Scenario):
        scenario = name_or_path
    elif isinstance(name_or_path, str) and name_or_path in scenarios():
        with _packaged(name_or_path) as path:
            scenario = load_scenario(path)
    elif Path(name_or_path).is_file():
        scenario = load_scenario(name_or_path)
    else:
        raise ConfigError(
            f"scenario '{name_or_path}' is neither a shipped scenario ("
            f"{', '.join(scenarios())}) nor a TOML file. Nothing was run or written."
        )
    return scenario.with_overrides(overrides) if overrides else scenario


def _packaged(name: str) -> AbstractContextManager[Path]:
    """A real path to a shipped scenario file (extracted if the package is zipped)."""
    return resources.as_file(resources.files("sim").joinpath(SCENARIO_FOLDER, f"{name}.toml"))


# --------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------
@dataclass
class Run:
    """What one run produced. Tables are pandas DataFrames; money in USD, prices in USD per
    GPU-hour, capacity in H100-equivalent GPUs.

    ``model`` is the world's monthly time series indexed by ``date`` (month start);
    ``agents``, ``flows``, ``accruals``, ``events``, ``debtrank`` and ``exposures`` are the
    long tables of :func:`sim.runner.simulate`; ``summary`` holds the run's scalar outputs.
    """

    result: RunResult
    scenario: Scenario
    seed: int

    @property
    def summary(self) -> pd.Series:
        """Scalar outputs of the run (see ``sim.runner.SUMMARY_FIELDS``), by name."""
        return pd.Series(self.result.summary, name="value", dtype=float)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name, as written by ``computesim run``."""
        return self.result.tables

    @property
    def model(self) -> pd.DataFrame:
        """The world's time series, one row per month, indexed by ``date``."""
        return self.result.tables["model"].set_index("date")

    @property
    def agents(self) -> pd.DataFrame:
        """Each agent's balance sheet and state, one row per agent and month."""
        return self.result.tables["agents"]

    @property
    def flows(self) -> pd.DataFrame:
        """Every payment of the ledger (USD), one row per month, payer, payee and kind (see
        ``allocations`` for what a grouped payment paid of each instrument). A run opened
        from a folder written without ``--detail`` computes it again (:func:`open_run`)."""
        return self.result.tables["flows"]

    @property
    def accruals(self) -> pd.DataFrame:
        """Amounts accrued (owed) but not yet paid, by month (USD); computed again like
        ``flows`` for a run folder written without ``--detail``."""
        return self.result.tables["accruals"]

    @property
    def allocations(self) -> pd.DataFrame:
        """What each grouped payment in ``flows`` paid of each instrument (USD); computed
        again like ``flows`` for a run folder written without ``--detail``."""
        return self.result.tables["allocations"]

    @property
    def events(self) -> pd.DataFrame:
        """Defaults, write-offs, rescues and other events, one row each."""
        return self.result.tables["events"]

    @property
    def debtrank(self) -> pd.DataFrame:
        """DebtRank of each agent by month (share of system equity at risk)."""
        return self.result.tables["debtrank"]

    @property
    def exposures(self) -> pd.DataFrame:
        """Who owes whom (USD) at the end of each month."""
        return self.result.tables["exposures"]

    def overview(self, title: str | None = None) -> Figure:
        """The overview figure of ``computesim run``: four panels over time (capacity and
        need, utilisation, compute price, money per month)."""
        from sim.overview import overview_figure  # plotting: imported only to draw

        return overview_figure(
            self.result.tables["model"], title or f"{self.scenario.name}, seed {self.seed}"
        )


def run(
    scenario: str | Path | Scenario = "baseline",
    *,
    seed: int | None = None,
    months: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    audit: bool = False,
    progress: bool = False,
) -> Run:
    """Run one world: ``scenario`` (shipped name, TOML path or Scenario, see :func:`load`)
    with ``seed`` (default: the scenario's) for ``months`` months (default: the
    scenario's, 1–600). ``audit`` checks the books against the instruments every month;
    ``progress`` shows a progress bar on standard error."""
    world = load(scenario, overrides)
    seed = world.run.seed if seed is None else _checked("seed", seed, 0, 2**63 - 1)
    months = world.run.months if months is None else _checked("months", months, 1, 600)
    from tqdm import tqdm

    with tqdm(
        total=months,
        desc=f"{world.name} seed {seed}",
        unit="month",
        disable=not progress,
        file=sys.stderr,
    ) as bar:
        result = simulate(world, seed, months, audit=audit, on_step=lambda _: bar.update())
    return Run(result, world, seed)


def open_run(folder: str | Path) -> Run:
    """The run in ``folder``, the ``--out`` of a ``computesim run``: its summary, scenario
    and seed, and its tables, each read on first use. The posting-level tables (``flows``,
    ``accruals``, ``allocations``, ``journal``) are read if the run was written with
    ``--detail``; otherwise the first of them asked for runs the folder's world again from
    its ``config.json`` (the model is deterministic: a few seconds for a default run; the
    summary is checked against the folder's), which needs the same ``MODEL_VERSION`` as the
    folder's. Raises :class:`~sim.config.ConfigError` for a folder that holds no finished
    run, or when a detail table cannot be had (naming ``--detail``)."""
    result = read_run(folder)
    if result.scenario is None:
        raise ConfigError(f"'{folder}/config.json' holds no scenario: not a run folder.")
    return Run(result, result.scenario, result.seed)


def _checked(name: str, value: int, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"`{name}` must be an integer between {low} and {high} (got {value!r}). "
            "Nothing was run or written."
        )
    return value


# --------------------------------------------------------------------------------------
# Ensembles and deal surgery
# --------------------------------------------------------------------------------------
@dataclass
class Ensemble:
    """Many runs of one world with different seeds.

    ``summary`` has one row per seed (column ``seed`` plus the scalar outputs); ``model``
    stacks every run's monthly time series with a ``seed`` column.
    """

    scenario: Scenario
    seeds: list[int]
    summary: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def model(self) -> pd.DataFrame:
        """Every run's monthly time series, stacked, with a ``seed`` column."""
        return self.tables["model"]

    def fan_chart(
        self, column: str = "spot_price_usd_per_gpu_hour", *, ylabel: str | None = None
    ) -> Figure:
        """Median of a model column over the seeds with 50% and 90% bands, by month."""
        from sim.plots import fan_chart  # plotting: imported only to draw

        return fan_chart(
            self.model,
            "date",
            column,
            title=f"{self.scenario.name}: {column}",
            ylabel=ylabel or column,
        )


def ensemble(
    scenario: str | Path | Scenario = "baseline",
    *,
    seeds: int | Sequence[int] = 8,
    months: int | None = None,
    workers: int = 1,
    overrides: Mapping[str, Any] | None = None,
    keep: tuple[str, ...] = ("model",),
) -> Ensemble:
    """Run ``scenario`` once per seed. ``seeds`` is a list of seeds, or a count ``n``: then
    ``n`` independent seeds are derived from the scenario's own seed. ``workers`` processes
    run in parallel; ``keep`` names the tables to keep from each run."""
    world = load(scenario, overrides)
    if isinstance(seeds, int):
        seed_list = derive_seeds(world.run.seed, _checked("seeds", seeds, 1, 100_000))
    else:
        seed_list = [_checked("seed", int(s), 0, 2**63 - 1) for s in seeds]
    if months is not None:
        _checked("months", months, 1, 600)
    _checked("workers", workers, 1, 1024)
    summary, tables = run_ensemble(world, seed_list, months, workers=workers, keep=keep)
    return Ensemble(world, seed_list, summary, tables)


def surgery(
    scenario: str | Path | Scenario,
    deal: str,
    change: Mapping[str, Any] | None = None,
    *,
    runs: int = 5,
    seed: int = 1,
    months: int | None = None,
    workers: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deal surgery: paired runs (same seeds) with ``deal`` and without it (``change``
    None) or with some of its fields changed. Returns the per-run table and the summary per
    outcome (mean with, without, effect = with − without and its 95% interval)."""
    return deal_surgery(
        load(scenario),
        deal,
        change,
        runs=_checked("runs", runs, 1, 100_000),
        base_seed=seed,
        months=months,
        workers=_checked("workers", workers, 1, 1024),
    )


# --------------------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------------------
def _sweep_of(spec: Mapping[str, Any] | str | Path | SweepSpec | Sweep) -> Sweep:
    """A ready sweep from a dict (the TOML file's tables), a sweep file, or a validated
    spec. A dict's ``sweep.scenario`` is a shipped scenario name or a path (relative to the
    working directory)."""
    if isinstance(spec, Sweep):
        return spec
    if isinstance(spec, str | Path):
        return load_sweep(spec)
    if not isinstance(spec, SweepSpec):
        try:
            spec = SweepSpec.model_validate(dict(spec))
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, "sweep spec")) from None
    text = json.dumps(spec.model_dump(mode="json", exclude_unset=True), indent=1)
    return expand_sweep(spec, load(spec.sweep.scenario), Path("<dict>"), text)


def sweep(
    spec: Mapping[str, Any] | str | Path | SweepSpec | Sweep,
    *,
    out: str | Path | None = None,
    workers: int = 1,
    engine: Engine = "process",
    force: bool = False,
    progress: bool = True,
    executor: Executor | None = None,
) -> SweepResult:
    """Run a sweep and return its results.

    ``spec`` is a dict with the tables of a sweep file (``sweep``, ``fixed``,
    ``parameters``, ``outputs``), the path of a sweep TOML file, or a validated
    :class:`~sim.sweep.SweepSpec` / :class:`~sim.sweep.Sweep`. The same sweep written as a
    dict or as a file gives the same run ids. Results go to ``out`` (default
    ``results/sweeps/<name>``); runs already finished there are skipped, so a call resumes
    an interrupted sweep. ``engine`` is ``process`` (``workers`` local processes),
    ``serial`` (this process) or ``dask`` (a local Dask cluster); or pass any
    :class:`concurrent.futures.Executor` as ``executor``.
    """
    ready = _sweep_of(spec)
    _checked("workers", workers, 1, 1024)
    store = ResultsStore(out or Path("results") / "sweeps" / ready.spec.sweep.name)
    if executor is not None:
        run_sweep(ready, store, executor, force=force, progress=progress)
    elif engine == "serial":
        run_sweep(ready, store, InlineExecutor(), force=force, progress=progress)
    elif engine == "process":
        with process_pool(workers) as pool:
            run_sweep(ready, store, pool, force=force, progress=progress)
    elif engine == "dask":
        with dask_executor(workers) as pool:  # the CLI's local cluster (imports Dask)
            run_sweep(ready, store, pool, force=force, progress=progress)
    else:
        raise ConfigError(
            f"engine must be one of process, serial, dask (got {engine!r}). Nothing was run."
        )
    return SweepResult(store)


def dashboard(scenario: str | Path | None = None, seed: int | None = None) -> Any:
    """The interactive dashboard (``computesim dash``) as a solara element: make it the last
    expression of a Jupyter cell to show it. ``scenario``: a scenario TOML (default the
    baseline); ``seed``: default the scenario's. Needs the optional extra ``dash``."""
    try:
        from sim.dashboards import dashboard as page  # optional extra: imported when asked
    except ImportError as exc:
        raise ConfigError(
            f"the dashboard needs the optional extra 'dash' ({exc.name} is missing): "
            "pip install -e '.[dash]'"
        ) from exc
    return page(scenario, seed)


def open_sweep(folder: str | Path) -> SweepResult:
    """The results of a sweep already run into ``folder`` (its ``--out``)."""
    store = ResultsStore(folder)
    store.manifest()  # a clear error if this is not a results folder
    return SweepResult(store)


class SweepResult:
    """A sweep's results folder, read with DuckDB and pandas.

    ``runs``: one row per finished run (``point``, ``replicate``, ``seed``, the swept
    parameters as ``p:<path>`` columns and the kept summary outputs); ``series``: the kept
    monthly series, one row per run and month (``step``), with ``point`` and
    ``replicate``.
    """

    def __init__(self, store: ResultsStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        s = self.status()
        return (
            f"SweepResult({str(self.store.root)!r}: {s['done']} done, {s['failed']} failed, "
            f"{s['pending']} pending of {s['planned']})"
        )

    @property
    def folder(self) -> Path:
        """The results folder."""
        return self.store.root

    @property
    def manifest(self) -> dict[str, Any]:
        """The sweep's manifest: its spec, versions, git revision and design."""
        return self.store.manifest()

    def status(self) -> dict[str, int]:
        """Counts of planned, done, failed and pending runs."""
        return self.store.status()

    def query(self, sql: str) -> pd.DataFrame:
        """Run DuckDB SQL over the tables ``runs`` and (if series were kept) ``series``."""
        return self.store.query(sql)

    @property
    def runs(self) -> pd.DataFrame:
        """Every finished run, ordered by point and replicate."""
        return self.store.results()

    @property
    def parameters(self) -> list[str]:
        """Swept parameter paths (``p:`` columns of :attr:`runs`, without the prefix)."""
        plan = self.store.plan()
        return [c[2:] for c in plan.columns if c.startswith("p:")]

    @property
    def outputs(self) -> list[str]:
        """Names of the kept summary outputs."""
        keep = {"run_id", "point", "replicate", "seed", "months", "seconds"}
        return [c for c in self.runs.columns if c not in keep and not c.startswith("p:")]

    @property
    def series(self) -> pd.DataFrame:
        """Kept monthly series of every finished run (empty if none were kept)."""
        if not any(self.store.series.glob("*.parquet")):
            return pd.DataFrame(columns=["run_id", "point", "replicate", "step"])
        return self.query(
            "SELECT r.point, r.replicate, s.* FROM series s JOIN runs r USING (run_id) "
            "ORDER BY r.point, r.replicate, s.step"
        )

    def stats(
        self,
        outputs: str | Sequence[str] | None = None,
        *,
        series: bool = False,
        quantiles: Sequence[float] = _QUANTILES,
    ) -> pd.DataFrame:
        """Per point (and per month ``step`` when ``series``): ``mean``, ``sd``, the
        ``quantiles`` (columns ``q05``, ``q50`` …) and ``n`` of each output, in long form
        (one row per point, [step,] output), with the point's parameters as columns."""
        table = self.series if series else self.runs
        keys = ["point", "step"] if series else ["point"]
        if outputs is None:
            skip = {"run_id", "point", "replicate", "seed", "months", "seconds", "step"}
            outputs = [c for c in table.columns if c not in skip and not c.startswith("p:")]
        elif isinstance(outputs, str):
            outputs = [outputs]
        missing = [o for o in outputs if o not in table.columns]
        if missing:
            raise ConfigError(
                f"output(s) {', '.join(missing)} not kept by this sweep; kept: "
                f"{', '.join(c for c in table.columns if c not in keys)}"
            )
        long = table.melt(id_vars=keys, value_vars=list(outputs), var_name="output")
        long["value"] = long["value"].astype(float)
        grouped = long.groupby([*keys, "output"], sort=True)["value"]
        out = grouped.agg(mean="mean", sd="std", n="count")
        for q in quantiles:
            out[f"q{round(100 * q):02d}"] = grouped.quantile(q)
        out = out[["mean", "sd", *[f"q{round(100 * q):02d}" for q in quantiles], "n"]]
        out = out.reset_index()
        points = self.store.plan().drop_duplicates("point")
        params = points[["point", *[c for c in points.columns if c.startswith("p:")]]]
        return params.merge(out, on="point", how="right")

    def to_xarray(self) -> xarray.Dataset:
        """The sweep as an :class:`xarray.Dataset` (needs the ``xarray`` extra).

        Summary outputs have dimensions (point, replicate), kept series (point, replicate,
        month); the swept parameters are coordinates along ``point`` (named by their path);
        ``seed`` and ``run_id`` are variables; the manifest's fields are attributes (nested
        ones as JSON text). Runs not finished are NaN.
        """
        try:
            import xarray as xr
        except ImportError as exc:  # optional extra
            raise ImportError("to_xarray needs xarray: pip install 'computesim[xarray]'") from exc
        plan = self.store.plan()
        points = sorted(plan["point"].unique())
        replicates = sorted(plan["replicate"].unique())
        runs = self.runs.set_index(["point", "replicate"])
        index = pd.MultiIndex.from_product([points, replicates], names=["point", "replicate"])
        runs = runs.reindex(index)
        shape = (len(points), len(replicates))
        data: dict[str, Any] = {}
        for name in self.outputs:
            values = runs[name].astype(float).to_numpy().reshape(shape)
            data[name] = (("point", "replicate"), values)
        planned = plan.drop_duplicates(["point", "replicate"]).set_index(["point", "replicate"])
        planned = planned.reindex(index)
        data["seed"] = (("point", "replicate"), planned["seed"].to_numpy().reshape(shape))
        data["run_id"] = (
            ("point", "replicate"),
            planned["run_id"].astype(str).to_numpy().reshape(shape),
        )
        series = self.series
        if len(series):
            months = sorted(series["step"].unique())
            cube = series.set_index(["point", "replicate", "step"]).reindex(
                pd.MultiIndex.from_product(
                    [points, replicates, months], names=["point", "replicate", "step"]
                )
            )
            for name in [c for c in series.columns if c not in ("run_id", "point", "replicate")]:
                if name == "step":
                    continue
                values = cube[name].astype(float).to_numpy()
                data[name] = (("point", "replicate", "month"), values.reshape((*shape, -1)))
        first = plan.drop_duplicates("point").set_index("point").reindex(points)
        coords: dict[str, Any] = {"point": points, "replicate": replicates}
        for column in [c for c in plan.columns if c.startswith("p:")]:
            coords[column[2:]] = ("point", first[column].to_numpy())
        if len(series):
            coords["month"] = months
        attrs = {
            key: value
            if isinstance(value, str | int | float) and not isinstance(value, bool)
            else json.dumps(value, default=str)
            for key, value in self.manifest.items()
            if value is not None
        }
        return xr.Dataset(data, coords=coords, attrs=attrs)
