"""Run one world and keep what it produced: tables, a summary, and the config behind them."""

from __future__ import annotations

import gc
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.config import ConfigError, Scenario
from sim.ledger import ASSETS, EQUITY, LIABILITIES, Flow, Line
from sim.metrics import (
    concentration_series,
    investor_returns,
    revenue_provenance,
    round_trip_revenue_share,
    total_losses,
)
from sim.model import MODEL_REPORTERS, ComputeMarket

MODEL_VERSION = "0.67.0"
"""Bumped when a change alters results; part of every sweep run id."""

ROUND_TRIP_SERIES: tuple[str, ...] = ("revenue_received_usd", "round_trip_revenue_usd")
"""Columns added to the model and agents tables from the flow log (see
:func:`sim.metrics.revenue_provenance`): sellers' revenue received, and its round-trip part."""

SERIES_FIELDS: tuple[str, ...] = (*MODEL_REPORTERS, *ROUND_TRIP_SERIES)
"""Columns of the model time-series table besides ``step`` and ``date``."""

SUMMARY_UNITS: dict[str, str] = {
    "months": "months",
    "final_installed_gpus": "GPUs (H100-equivalent)",
    "final_need_gpus": "GPUs (H100-equivalent)",
    "mean_utilisation": "share of capacity (0–1)",
    "min_utilisation": "share of capacity (0–1)",
    "final_spot_price_usd_per_gpu_hour": "USD per GPU-hour",
    "max_spot_price_usd_per_gpu_hour": "USD per GPU-hour",
    "min_spot_price_usd_per_gpu_hour": "USD per GPU-hour",
    "price_fall_from_peak": "share of the peak price (0–1)",
    "defaults": "firms",
    "lab_defaults": "labs",
    "cloud_defaults": "clouds",
    "largest_monthly_defaults": "firms in one month",
    "cascade_depth": "rounds of the cascade",
    "rescues": "rescues",
    "systemic_cascade": "1 if systemic, else 0",
    "losses_usd": "USD",
    "money_moved_usd": "USD",
    "lab_revenue_usd": "USD",
    "cloud_revenue_usd": "USD",
    "vendor_revenue_usd": "USD",
    "reported_revenue_usd": "USD",
    "final_lab_valuation_usd": "USD",
    "round_trip_share": "share of revenue (0–1)",
    "cloud_round_trip_usd": "USD",
    "vendor_round_trip_usd": "USD",
    "organic_cloud_revenue_usd": "USD",
    "organic_vendor_revenue_usd": "USD",
    "organic_revenue_usd": "USD",
    "capex_usd": "USD",
    "peak_debt_usd": "USD",
    "final_sentiment": "sentiment index (1 = neutral)",
    "final_cloud_hhi": "HHI (0–1)",
    "final_lab_hhi": "HHI (0–1)",
    "investor_moic": "multiple of invested capital",
}
"""The scalar outputs of one run (see :func:`summarise`), in order, each with its unit (USD
amounts are totals over the run unless the name says final or peak), for axis labels."""

SUMMARY_FIELDS: tuple[str, ...] = tuple(SUMMARY_UNITS)
"""Scalar outputs of one run (see :func:`summarise`): the keys of :data:`SUMMARY_UNITS`."""


TABLES: tuple[str, ...] = (
    "model",
    "agents",
    "flows",
    "accruals",
    "allocations",
    "journal",
    "kinds",
    "lines",
    "events",
    "debtrank",
    "exposures",
)
"""The tables of a run, by name (the keys of :attr:`RunResult.tables`)."""


@dataclass
class RunResult:
    """What one run produced: summary scalars and the tables of :data:`TABLES` (a dict when
    simulated; read on first use when opened from a run folder, :func:`read_run`)."""

    summary: dict[str, float]
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    scenario: Scenario | None = None
    seed: int = 0


def simulate(
    scenario: Scenario,
    seed: int,
    months: int | None = None,
    *,
    audit: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> RunResult:
    """Run ``scenario`` with ``seed`` for ``months`` (default: the scenario's) and collect."""
    model = run_model(scenario, seed, months, audit=audit, on_step=on_step)
    tables = {
        "model": model.model_table(),
        "agents": model.agent_table(),
        "flows": model.books.ledger.flows(),
        "accruals": model.books.ledger.accruals(),
        "allocations": model.books.ledger.allocations(),
        "journal": model.books.ledger.journal_entries(),
        "kinds": kinds_table(),
        "lines": lines_table(),
        "events": model.events_table(),
        "debtrank": model.debtrank_table(),
        "exposures": model.exposures_table(),
    }
    add_round_trip_revenue(tables)
    return RunResult(summarise(model, tables), tables, scenario, seed)


def run_model(
    scenario: Scenario,
    seed: int,
    months: int | None = None,
    *,
    audit: bool = False,
    on_step: Callable[[int], None] | None = None,
    record_agents: bool = True,
    model_columns: Collection[str] | None = None,
    record_non_cash: bool = True,
) -> ComputeMarket:
    """Build the world and step it ``months`` months (default: the scenario's); no tables.
    Without ``record_agents`` the world keeps no agent rows (its agents table cannot be
    built; nothing else changes); with ``model_columns`` its model table has only those
    columns (:func:`sim.model.model_reporters`; nothing else changes); without
    ``record_non_cash`` its ledger keeps no log of accruals, allocations and journal
    entries (:class:`sim.ledger.Ledger`; those tables cannot be built, nothing else
    changes).

    Python's cycle collector is paused while the world runs (:func:`cycle_collector_paused`)."""
    with cycle_collector_paused():
        model = ComputeMarket(
            scenario,
            rng=seed,
            audit=audit,
            record_agents=record_agents,
            model_columns=model_columns,
            record_non_cash=record_non_cash,
        )
        steps = scenario.run.months if months is None else months
        for _ in range(steps):
            model.step()
            if on_step is not None:
                on_step(model.month)
    return model


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector in the block and restore it after (speed only).

    A run allocates hundreds of thousands of long-lived objects (postings, obligations,
    instruments) and makes no reference cycles worth collecting (a collection after a
    default run finds nothing unreachable), yet the collector traced the growing heap again
    and again: about a tenth of a run's time. Reference counting still frees everything
    that is not in a cycle; whatever the block leaves in cycles is collected once the
    collector runs again. Results do not depend on it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


ROUND_TRIP_FIELDS: frozenset[str] = frozenset(
    {
        "round_trip_share",
        "cloud_round_trip_usd",
        "vendor_round_trip_usd",
        "organic_cloud_revenue_usd",
        "organic_vendor_revenue_usd",
        "organic_revenue_usd",
    }
)
"""Summary outputs that need the round-trip trace of every payment
(:func:`sim.metrics.revenue_provenance`, the dearest part of collecting a run)."""


def simulate_outputs(
    scenario: Scenario,
    seed: int,
    months: int | None,
    summary: Sequence[str],
    series: Sequence[str] = (),
) -> tuple[dict[str, float], dict[str, list[Any]] | None]:
    """Run one world and compute only the summary outputs and model series asked for: what
    a sweep worker keeps. The values are exactly those of :func:`simulate` (same code, same
    tables), but a table no output needs is never built, the world keeps agent rows only for
    :data:`AGENT_TABLE_FIELDS` and a log of the entries that move no cash only for
    :data:`NON_CASH_FIELDS` (and the round trip), and the round-trip trace of the payments
    runs only for :data:`ROUND_TRIP_FIELDS` and the :data:`ROUND_TRIP_SERIES`.

    The world records only the model table's columns those outputs read
    (:func:`model_columns_read`), and is freed before this returns
    (:func:`collect_the_run`).

    Returns ``(summary row, series)``; ``series`` is None when no series is asked for, else
    the columns ``step`` and ``series`` of the model table as lists."""
    unknown = [k for k in summary if k not in SUMMARY_FIELDS]
    unknown += [k for k in series if k not in SERIES_FIELDS]
    if unknown:
        raise ValueError(f"not an output of a run: {', '.join(unknown)}")
    with cycle_collector_paused():
        model = run_model(scenario, seed, months, **world_records(summary, series))
        tables = RunTables(model, round_trip=_traces_round_trip(summary, series))
        row = summarise(model, tables, fields=summary)
        kept = None
        if series:
            kept = tables["model"][["step", *series]].to_dict(orient="list")
        outputs = {k: row[k] for k in summary}
        del model, tables, row
        collect_the_run()
    return outputs, kept


def collect_the_run() -> None:
    """Free a finished world that nothing refers to any more (speed and memory only).

    A world's agents and the model refer to each other, so reference counting cannot free
    it; with the cycle collector paused for the run (:func:`cycle_collector_paused`), all
    it allocated is still in the youngest generation. One collection of that generation
    frees it at once, tracing only the run's own objects. Left to the collector, the world
    was traced while still in use and moved to older generations, to be freed only by a
    full collection that also traces every module loaded: 14-29 ms of collections a
    default run against 11-13 ms now, and a worker's memory grew by 46-69 MB over 16-24
    runs against 1 MB now (measured on 2026-11-27)."""
    gc.collect(0)


def world_records(summary: Sequence[str], series: Sequence[str] = ()) -> dict[str, Any]:
    """What a world records for the ``summary`` outputs and ``series`` (keyword arguments of
    :func:`run_model`): agent rows only for :data:`AGENT_TABLE_FIELDS`, the model table's
    columns they read (:func:`model_columns_read`), and the log of the entries that move
    no cash only for :data:`NON_CASH_FIELDS` and the round trip. A sweep worker's world
    (:func:`simulate_outputs`); ``benchmarks/bench_sweep.py`` times the same world bare."""
    return {
        "record_agents": bool(AGENT_TABLE_FIELDS.intersection(summary)),
        "model_columns": model_columns_read(summary, series),
        "record_non_cash": _traces_round_trip(summary, series)
        or bool(NON_CASH_FIELDS.intersection(summary)),
    }


def _traces_round_trip(summary: Sequence[str], series: Sequence[str]) -> bool:
    """Whether the ``summary`` outputs or ``series`` need the round-trip trace."""
    return bool(ROUND_TRIP_FIELDS.intersection(summary)) or any(
        k in ROUND_TRIP_SERIES for k in series
    )


class RunTables(Mapping[str, pd.DataFrame]):
    """The tables of a finished run (the keys of :func:`simulate`'s), each built on first
    use. With ``round_trip``, ``model`` and ``agents`` carry the :data:`ROUND_TRIP_SERIES`
    columns, as in :func:`simulate`; without, they lack them (and nothing is traced)."""

    def __init__(self, model: ComputeMarket, *, round_trip: bool = True) -> None:
        ledger = model.books.ledger
        self._build: dict[str, Callable[[], pd.DataFrame]] = {
            "model": model.model_table,
            "agents": model.agent_table,
            "flows": ledger.flows,
            "accruals": ledger.accruals,
            "allocations": ledger.allocations,
            "journal": ledger.journal_entries,
            "kinds": kinds_table,
            "lines": lines_table,
            "events": model.events_table,
            "debtrank": model.debtrank_table,
            "exposures": model.exposures_table,
        }
        self._built: dict[str, pd.DataFrame] = {}
        self._round_trip = round_trip

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._built:
            table = self._build[name]()
            if self._round_trip and name in ("model", "agents"):
                revenue = self._revenue()
                if name == "agents":
                    table = agents_with_round_trip(table, revenue)
                else:
                    model_with_round_trip(table, revenue)
            self._built[name] = table
        return self._built[name]

    def _revenue(self) -> pd.DataFrame:
        if "\x00revenue" not in self._built:
            self._built["\x00revenue"] = round_trip_revenue(self["flows"], self["accruals"])
        return self._built["\x00revenue"]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build)

    def __len__(self) -> int:
        return len(self._build)


def round_trip_revenue(flows: pd.DataFrame, accruals: pd.DataFrame) -> pd.DataFrame:
    """Revenue received and its round-trip part per (step, seller), named as the
    :data:`ROUND_TRIP_SERIES` (see :func:`sim.metrics.revenue_provenance`)."""
    return revenue_provenance(flows, accruals).rename(
        columns={"round_trip_usd": "round_trip_revenue_usd"}
    )


def agents_with_round_trip(agents: pd.DataFrame, revenue: pd.DataFrame) -> pd.DataFrame:
    """The agents table with :data:`ROUND_TRIP_SERIES` per seller and month (0 for parties
    that sold nothing)."""
    agents = agents.merge(revenue, on=["step", "agent_id"], how="left")
    agents[list(ROUND_TRIP_SERIES)] = agents[list(ROUND_TRIP_SERIES)].fillna(0.0)
    return agents


def model_with_round_trip(model: pd.DataFrame, revenue: pd.DataFrame) -> None:
    """Add :data:`ROUND_TRIP_SERIES` to the model table (all sellers together), in place."""
    monthly = revenue.groupby("step")[list(ROUND_TRIP_SERIES)].sum()
    for column in ROUND_TRIP_SERIES:
        model[column] = model["step"].map(monthly[column]).fillna(0.0).astype(float)


def add_round_trip_revenue(tables: dict[str, pd.DataFrame]) -> None:
    """Add :data:`ROUND_TRIP_SERIES` to the agents table (per seller and month; 0 for
    parties that sold nothing) and to the model table (all sellers together)."""
    revenue = round_trip_revenue(tables["flows"], tables["accruals"])
    tables["agents"] = agents_with_round_trip(tables["agents"], revenue)
    model_with_round_trip(tables["model"], revenue)


def kinds_table() -> pd.DataFrame:
    """How every kind of posting in ``flows`` and ``accruals`` hits the books: the line it
    debits and credits on the payer's side and on the payee's side (empty for a party outside
    the system), whether it moves cash, and the table its rows are in.

    A debit raises an asset line and lowers a liability or equity line; a credit does the
    opposite. With this table, ``flows``, ``accruals`` and ``journal`` rebuild every line of
    every agent's books (``cash_usd`` … ``retained_usd`` in ``agents``); ``lines`` gives the
    side of each line.
    """
    rows = []
    for flow in Flow:
        t = flow.treatment
        rows.append(
            {
                "kind": flow.label,
                "payer_debit": t.payer_debit.value if t.payer_debit else "",
                "payer_credit": t.payer_credit.value if t.payer_credit else "",
                "payee_debit": t.payee_debit.value if t.payee_debit else "",
                "payee_credit": t.payee_credit.value if t.payee_credit else "",
                "moves_cash": t.moves_cash,
                "table": "flows" if t.moves_cash else "accruals",
            }
        )
    return pd.DataFrame(rows)


def lines_table() -> pd.DataFrame:
    """Every balance-sheet line: its side (asset, liability or equity) and its column in the
    ``agents`` table. A debit raises an asset and lowers a liability or equity line."""
    side = {
        **dict.fromkeys(ASSETS, "asset"),
        **dict.fromkeys(LIABILITIES, "liability"),
        **dict.fromkeys(EQUITY, "equity"),
    }
    return pd.DataFrame(
        [{"line": line.value, "side": side[line], "column": f"{line.value}_usd"} for line in Line]
    )


def summarise(
    model: ComputeMarket,
    tables: Mapping[str, pd.DataFrame],
    fields: Collection[str] | None = None,
) -> dict[str, float]:
    """Scalars describing a run (money in USD, prices in USD per GPU-hour), in the order of
    :data:`SUMMARY_FIELDS`; with ``fields``, only the groups of outputs that hold one of
    them are computed (and only the tables those groups read are touched)."""
    out: dict[str, float] = {}
    for group in _SUMMARY_GROUPS:
        if fields is None or not group.fields.isdisjoint(fields):
            out.update(group.compute(model, tables))
    return {k: out[k] for k in SUMMARY_FIELDS if k in out}


def _market(model: ComputeMarket, tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Outputs of the model table alone: capacity, utilisation, prices, money, sentiment."""
    m = tables["model"]
    price = m["spot_price_usd_per_gpu_hour"]
    peak_at = int(price.idxmax())
    return {
        "months": float(len(m)),
        "final_installed_gpus": float(m["installed_gpus"].iloc[-1]),
        "final_need_gpus": float(m["need_gpus"].iloc[-1]),
        "mean_utilisation": float(m["utilisation"].mean()),
        "min_utilisation": float(m["utilisation"].min()),
        "final_spot_price_usd_per_gpu_hour": float(price.iloc[-1]),
        "max_spot_price_usd_per_gpu_hour": float(price.max()),
        "min_spot_price_usd_per_gpu_hour": float(price.min()),
        "price_fall_from_peak": float(1 - price.iloc[peak_at:].min() / price.iloc[peak_at]),
        "lab_revenue_usd": float(m["lab_revenue_usd"].sum()),
        "capex_usd": float(m["capex_usd"].sum()),
        "peak_debt_usd": float(m["total_debt_usd"].max()),
        "final_sentiment": float(m["sentiment"].iloc[-1]),
    }


def _defaults(model: ComputeMarket, tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Defaults, cascades, rescues and losses (the agents' flags and the events table)."""
    ev = tables["events"]
    agents = {a.name: a for a in model.all_agents}
    defaulted = [a for a in agents.values() if a.defaulted]
    exposed = [a for a in agents.values() if a.kind != "Investor"]
    systemic = model.cfg.cascade.systemic_share
    default_rows = ev[ev["event"].str.startswith("default")]
    monthly = default_rows.groupby("step").size()
    return {
        "defaults": float(len(defaulted)),
        "lab_defaults": float(sum(a.kind == "Lab" for a in defaulted)),
        "cloud_defaults": float(sum(a.kind == "Cloud" for a in defaulted)),
        "largest_monthly_defaults": float(monthly.max()) if len(monthly) else 0.0,
        "cascade_depth": float(default_rows["round"].max()) if len(default_rows) else 0.0,
        "rescues": float((ev["event"] == "rescue").sum()),
        "systemic_cascade": float(sum(a.defaulted for a in exposed) >= systemic * len(exposed)),
        "losses_usd": total_losses(ev),
    }


def _money_moved(model: ComputeMarket, tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    return {"money_moved_usd": float(tables["flows"]["amount"].sum())}


def _concentration(model: ComputeMarket, tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Market concentration at the end (HHI, 0–1)."""
    agents = tables["agents"]
    last = concentration_series(agents[agents["step"] == agents["step"].max()]).iloc[-1]
    return {"final_cloud_hhi": float(last["cloud_hhi"]), "final_lab_hhi": float(last["lab_hhi"])}


def _returns(model: ComputeMarket, tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """The investors' multiple on invested capital over the run (all investors together;
    NaN if none invested)."""
    returns = investor_returns(tables["flows"], tables["agents"])
    invested = float(returns["invested_usd"].sum()) if len(returns) else 0.0
    value = float((returns["returned_usd"] + returns["held_usd"]).sum()) if len(returns) else 0.0
    return {"investor_moic": value / invested if invested > 0 else math.nan}


def _sales(model: ComputeMarket, tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Revenue each layer reports over the run (USD): labs from end users; clouds from
    compute sold (billed, or drawn from a prepayment); vendors from chips sold; and the
    labs' valuation at the end."""
    accr = tables["accruals"]
    lab = float(tables["model"]["lab_revenue_usd"].sum())
    sold = ("compute_due", "prepayment_used", "prepayment_forfeited")
    agents = tables["agents"]
    clouds = agents.loc[agents["agent_type"] == "Cloud", "agent_id"].unique()
    # compute sold by clouds; a lab's resale of idle contracted capacity is not cloud revenue
    cloud = float(accr.loc[accr["kind"].isin(sold) & accr["payee"].isin(clouds), "amount"].sum())
    flows = tables["flows"]  # and what the buyers beyond the labs paid them (the world's money)
    outside = (flows["kind"] == "outside_compute") & flows["payee"].isin(clouds)
    cloud += float(flows.loc[outside, "amount"].sum())
    vendor = float(accr.loc[accr["kind"] == "chip_invoice_due", "amount"].sum())
    last = agents[(agents["step"] == agents["step"].max()) & (agents["agent_type"] == "Lab")]
    return {
        "cloud_revenue_usd": cloud,
        "vendor_revenue_usd": vendor,
        "reported_revenue_usd": lab + cloud + vendor,
        "final_lab_valuation_usd": float(last["valuation_usd"].sum()),
    }


def _round_trip(model: ComputeMarket, tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """The round-trip part of the revenue received (from the agents table's round-trip
    columns) and the organic rest of the reported revenue, USD."""
    sales = _sales(model, tables)
    lab = float(tables["model"]["lab_revenue_usd"].sum())
    cloud, vendor = sales["cloud_revenue_usd"], sales["vendor_revenue_usd"]
    agents = tables["agents"]
    by_role = agents.groupby("agent_type")["round_trip_revenue_usd"].sum()
    cloud_trip = float(by_role.get("Cloud", 0.0))
    vendor_trip = float(by_role.get("ChipVendor", 0.0))
    received = agents[["revenue_received_usd", "round_trip_revenue_usd"]].rename(
        columns={"round_trip_revenue_usd": "round_trip_usd"}
    )
    return {
        "round_trip_share": round_trip_revenue_share(received),
        "cloud_round_trip_usd": cloud_trip,
        "vendor_round_trip_usd": vendor_trip,
        "organic_cloud_revenue_usd": cloud - cloud_trip,
        "organic_vendor_revenue_usd": vendor - vendor_trip,
        "organic_revenue_usd": lab + cloud + vendor - cloud_trip - vendor_trip,
    }


class _Group(NamedTuple):
    """Summary outputs computed together: ``fields``, by ``compute`` from the run's tables,
    of which it reads ``tables`` and, of the model table, the ``columns``."""

    fields: frozenset[str]
    compute: Callable[[ComputeMarket, Mapping[str, pd.DataFrame]], dict[str, float]]
    tables: frozenset[str]
    columns: frozenset[str] = frozenset()


_SUMMARY_GROUPS: tuple[_Group, ...] = (
    _Group(
        frozenset(
            {
                "months",
                "final_installed_gpus",
                "final_need_gpus",
                "mean_utilisation",
                "min_utilisation",
                "final_spot_price_usd_per_gpu_hour",
                "max_spot_price_usd_per_gpu_hour",
                "min_spot_price_usd_per_gpu_hour",
                "price_fall_from_peak",
                "lab_revenue_usd",
                "capex_usd",
                "peak_debt_usd",
                "final_sentiment",
            }
        ),
        _market,
        frozenset({"model"}),
        frozenset(
            {
                "spot_price_usd_per_gpu_hour",
                "installed_gpus",
                "need_gpus",
                "utilisation",
                "lab_revenue_usd",
                "capex_usd",
                "total_debt_usd",
                "sentiment",
            }
        ),
    ),
    _Group(
        frozenset(
            {
                "defaults",
                "lab_defaults",
                "cloud_defaults",
                "largest_monthly_defaults",
                "cascade_depth",
                "rescues",
                "systemic_cascade",
                "losses_usd",
            }
        ),
        _defaults,
        frozenset({"events"}),
    ),
    _Group(frozenset({"money_moved_usd"}), _money_moved, frozenset({"flows"})),
    _Group(
        frozenset(
            {
                "cloud_revenue_usd",
                "vendor_revenue_usd",
                "reported_revenue_usd",
                "final_lab_valuation_usd",
            }
        ),
        _sales,
        frozenset({"model", "agents", "flows", "accruals"}),
        frozenset({"lab_revenue_usd"}),
    ),
    # the round trip is traced through the flows and the accruals (RunTables)
    _Group(
        ROUND_TRIP_FIELDS,
        _round_trip,
        frozenset({"model", "agents", "flows", "accruals"}),
        frozenset({"lab_revenue_usd"}),
    ),
    _Group(frozenset({"final_cloud_hhi", "final_lab_hhi"}), _concentration, frozenset({"agents"})),
    _Group(frozenset({"investor_moic"}), _returns, frozenset({"flows", "agents"})),
)
"""Summary outputs in groups that share their work, each with the function computing it,
the tables it reads and the columns of the model table it reads. Together they give every
field of :data:`SUMMARY_FIELDS` exactly once."""


def _fields_reading(table: str) -> frozenset[str]:
    """The summary outputs whose group reads ``table``."""
    return frozenset().union(*(g.fields for g in _SUMMARY_GROUPS if table in g.tables))


ALWAYS_RECORDED: frozenset[str] = frozenset({"spot_price_usd_per_gpu_hour"})
"""Model table columns every world records: a table has a row per month even when no
output reads a column of it (the spot price: a reporter that only reads a number)."""


def model_columns_read(summary: Iterable[str], series: Iterable[str] = ()) -> frozenset[str]:
    """The model table's columns that the ``summary`` outputs and ``series`` read: each
    output's group's columns (:data:`_SUMMARY_GROUPS`), the series that are reporters (the
    :data:`ROUND_TRIP_SERIES` are traced from the payments afterwards), and
    :data:`ALWAYS_RECORDED`."""
    wanted = set(summary)
    columns = set(ALWAYS_RECORDED)
    for group in _SUMMARY_GROUPS:
        if wanted & group.fields:
            columns |= group.columns
    columns.update(k for k in series if k not in ROUND_TRIP_SERIES)
    return frozenset(columns)


AGENT_TABLE_FIELDS: frozenset[str] = _fields_reading("agents")
"""Summary outputs whose group reads the agents table: a sweep that keeps none of them runs
its worlds without agent rows (:func:`simulate_outputs`; about 3% of a default run)."""

NON_CASH_FIELDS: frozenset[str] = _fields_reading("accruals")
"""Summary outputs whose group reads the accruals (the revenue the sellers report, and its
round-trip part: :data:`ROUND_TRIP_FIELDS`, also traced through the accruals); no group
reads the allocations or the journal. A sweep that keeps none of them, nor a round-trip
series, runs its worlds without a log of the entries that move no cash
(:class:`sim.ledger.Ledger`; about 3% of a default run)."""


DETAIL_TABLES: tuple[str, ...] = ("flows", "accruals", "allocations", "journal")
"""Tables of every posting (flows: about 24,000 rows in a default run, one per month, payer,
payee and kind of payment; accruals about 100,000, one per instrument; allocations: what
each grouped payment paid of each instrument): written only when asked for
(``computesim run --detail``). Every other table, the summary and the round-trip columns
are computed from them in memory either way."""

PARQUET_COMPRESSION = "zstd"
PARQUET_LEVEL = 9
"""zstd level of the run folder's Parquet files (smaller than the default snappy by 10–25%
on these tables; reading is as fast)."""


def write_table(df: pd.DataFrame, path: str | Path, name: str = "") -> None:
    """Write table ``name`` (by default the file's stem) as zstd Parquet, exactly:
    :func:`read_table` gives the frame back.

    - A ``*_usd`` column whose every value is a whole number of cents (balances, bills,
      payments: the ledger counts in cents) is written as integer cents, ``*_cents``
      (:data:`CENTS_KEY` lists them); a column of another table that can be computed from
      the others (:data:`DERIVED`) keeps only the values that differ from that computation
      (:data:`DERIVED_KEY`), and none when all agree: 215 -> 166 kB for a default run's
      agents table.
    - Float and integer columns are byte-stream-split (their bytes grouped by position,
      which zstd compresses about 10% better on balance sheets and prices), the others
      dictionary-encoded; without the serialised Arrow and pandas schemas (Parquet's own
      column types say everything these tables need, and the two copies of the schema were
      19 kB of the 48 kB model table) and without column statistics (min and max per
      column: 9 kB of a default run's tables, and of no use to a reader of files of one row
      group)."""
    columns = list(df.columns)
    df, derived = _without_derived(df, name or Path(path).stem)
    df, cents = _in_cents(df)
    split = [c for c in df.columns if df[c].dtype.kind in "fi"]
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    with pq.ParquetWriter(
        path,
        table.schema,
        compression=PARQUET_COMPRESSION,
        compression_level=PARQUET_LEVEL,
        use_byte_stream_split=split or False,
        use_dictionary=[c for c in df.columns if c not in split],
        store_schema=False,
        write_statistics=False,
    ) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata(
            {
                COLUMNS_KEY: json.dumps(columns),
                CENTS_KEY: json.dumps(cents),
                DERIVED_KEY: json.dumps(derived),
            }
        )


COLUMNS_KEY, CENTS_KEY, DERIVED_KEY = "computesim.columns", "computesim.cents", "computesim.derived"
"""Keys of a run folder table's Parquet metadata (JSON lists): the columns in memory, in
order; the ``*_usd`` columns written as integer cents (``*_cents``); the columns of
:data:`DERIVED` written only where they differ from their computation."""


def _retained(df: pd.DataFrame) -> pd.Series:
    """Retained earnings: book equity less paid-in capital, in cents (the ledger's equity
    lines are these two; exact)."""
    cents = (df["equity_usd"] * 100).round() - (df["paid_in_usd"] * 100).round()
    return cents / 100


def _market_value(df: pd.DataFrame) -> pd.Series:
    """What holders mark a stake to, where it is not a listed price or a trade: a lab's
    valuation, any other party's book equity (at least 0)
    (:meth:`~sim.agents.MarketAgent.market_value`)."""
    others = df["equity_usd"].clip(lower=0.0)
    return df["valuation_usd"].where(df["agent_type"] == "Lab", others)


DERIVED: dict[str, dict[str, Callable[[pd.DataFrame], pd.Series]]] = {
    "agents": {"retained_usd": _retained, "market_value_usd": _market_value},
}
"""Columns of a table that a run folder stores only where they differ from a computation
on the table's other columns (all of which it stores)."""


def _without_derived(df: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str]]:
    """``df`` with each :data:`DERIVED` column of table ``name`` blanked (NaN) where its
    computation gives the same value, dropped where it does everywhere; and the columns so
    treated (not one that holds a NaN its computation does not give: the reader could not
    tell it from a blank)."""
    treated = []
    for column, compute in DERIVED.get(name, {}).items():
        if column not in df.columns:
            continue
        value = compute(df)
        if (df[column].isna() & value.notna()).any():
            continue
        same = df[column].to_numpy() == value.to_numpy()
        df = df.drop(columns=column) if same.all() else df.assign(**{column: df[column].mask(same)})
        treated.append(column)
    return df, treated


def _in_cents(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``df`` with every ``*_usd`` float column whose values are all whole cents (no NaN)
    as integer cents named ``*_cents``, in its place; and the columns so written."""
    cents = []
    renamed = {}
    for column in df.columns:
        if not column.endswith("_usd") or df[column].dtype.kind != "f":
            continue
        usd = df[column].to_numpy()
        whole = np.round(usd * 100)
        if np.isfinite(usd).all() and (np.abs(whole) < 2**53).all() and (whole / 100 == usd).all():
            df = df.assign(**{column: whole.astype(np.int64)})
            renamed[column] = column.removesuffix("_usd") + "_cents"
            cents.append(column)
    return df.rename(columns=renamed), cents


FILE_ORDER: dict[str, tuple[str, ...]] = {"agents": ("agent_id", "step")}
"""Tables written to a run folder in another row order than in memory: the agents table
agent by agent, each agent's months in order (every column then holds one balance sheet's
history in a row, which zstd compresses 13% better: 237 -> 206 kB for a default run).
:func:`read_table` gives back the order in memory, :data:`MEMORY_ORDER`."""

MEMORY_ORDER: dict[str, tuple[str, ...]] = {"agents": ("step", "agent_type", "agent_id")}
"""The row order of the tables of :data:`FILE_ORDER` in memory (see
:meth:`sim.model.ComputeMarket.agent_table`)."""


def write_run(result: RunResult, out_dir: str | Path, *, detail: bool = False) -> list[Path]:
    """Write the tables (zstd Parquet), the resolved config with its seed and the summary
    (JSON). The posting-level tables of :data:`DETAIL_TABLES` are written only with
    ``detail`` (:func:`read_run` computes them again from the folder when asked for); the
    tables of :data:`FILE_ORDER` are written in that row order.

    Each file is written to a temporary name and moved into place, so a crash never leaves a
    half-written file behind.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in result.tables.items():
        if name in DETAIL_TABLES and not detail:
            continue
        if name in FILE_ORDER:
            df = df.sort_values(list(FILE_ORDER[name]), kind="stable", ignore_index=True)
        written.append(
            write_atomically(
                out / f"{name}.parquet", lambda p, df=df, name=name: write_table(df, p, name)
            )
        )
    config = {
        "seed": result.seed,
        "months": int(result.summary.get("months", 0)),
        "model_version": MODEL_VERSION,
        "scenario": result.scenario.model_dump(mode="json") if result.scenario else None,
    }
    written.append(
        write_atomically(
            out / "config.json",
            # one value a line, without indentation (4 kB less than indent=1)
            lambda p: Path(p).write_text(
                json.dumps(config, indent=0, separators=(",", ":")) + "\n"
            ),
        )
    )
    written.append(
        write_atomically(
            out / "summary.json",
            lambda p: Path(p).write_text(json.dumps(result.summary, indent=2) + "\n"),
        )
    )
    return written


def read_table(path: str | Path) -> pd.DataFrame:
    """One table of a run folder as it was in memory (rows of the tables of
    :data:`FILE_ORDER` put back in :data:`MEMORY_ORDER`)."""
    path = Path(path)
    df = pd.read_parquet(path)
    meta = pq.read_schema(path).metadata or {}
    if COLUMNS_KEY.encode() in meta:  # written by write_table: cents and derived columns
        for column in json.loads(meta[CENTS_KEY.encode()]):
            cents = column.removesuffix("_usd") + "_cents"
            df[cents] = df[cents].to_numpy().astype(np.float64) / 100
            df = df.rename(columns={cents: column})
        for column in json.loads(meta[DERIVED_KEY.encode()]):
            value = DERIVED[path.stem][column](df)
            df[column] = value if column not in df.columns else df[column].fillna(value)
        df = df[json.loads(meta[COLUMNS_KEY.encode()])]
    if path.stem in MEMORY_ORDER:
        df = df.sort_values(list(MEMORY_ORDER[path.stem]), kind="stable", ignore_index=True)
    return df


def read_run(folder: str | Path) -> RunResult:
    """A finished run folder (written by ``computesim run`` or :func:`write_run` inside
    :func:`run_folder`) as a :class:`RunResult`: summary and scenario read now, each table
    read on first use (:class:`FolderTables`). Raises :class:`ConfigError` if ``folder`` is
    not a finished run folder."""
    folder = Path(folder)
    if not (folder / RUN_MARKER).is_file() or not (folder / "config.json").is_file():
        raise ConfigError(
            f"'{folder}' is not a finished run folder (no {RUN_MARKER} or config.json): give "
            "the --out of a `computesim run`."
        )
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    scenario = Scenario.model_validate(config["scenario"]) if config.get("scenario") else None
    tables = FolderTables(folder, config, summary)
    return RunResult(summary, tables, scenario, int(config["seed"]))


class FolderTables(Mapping[str, pd.DataFrame]):
    """The tables of a run folder (:data:`TABLES`), each read on first use. A detail table
    the folder lacks (:data:`DETAIL_TABLES`, written only with ``--detail``) is computed
    again: the folder's world is run once more from its ``config.json`` (scenario, seed,
    months; the model is deterministic), and that run's summary must equal the folder's
    ``summary.json``. A run of another ``MODEL_VERSION`` cannot be recomputed: asking it for
    a detail table it lacks raises :class:`ConfigError` naming ``--detail``."""

    def __init__(self, folder: Path, config: Mapping[str, Any], summary: Mapping[str, float]):
        self.folder = folder
        self._config = config
        self._summary = summary
        self._read: dict[str, pd.DataFrame] = {}
        self._rerun: RunResult | None = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise KeyError(name)
        if name not in self._read:
            path = self.folder / f"{name}.parquet"
            if path.is_file():
                self._read[name] = read_table(path)
            elif name in DETAIL_TABLES:
                self._read[name] = self.recomputed().tables[name]
            else:
                raise ConfigError(
                    f"'{self.folder}' has no {name}.parquet: the run folder is incomplete; "
                    "run it again with `computesim run`."
                )
        return self._read[name]

    def recomputed(self) -> RunResult:
        """The folder's run computed again (once), checked against its summary."""
        if self._rerun is not None:
            return self._rerun
        version = self._config.get("model_version")
        again = "write the run again with `computesim run SCENARIO --detail` to keep them"
        if version != MODEL_VERSION:
            raise ConfigError(
                f"'{self.folder}' was written without --detail (no flows, accruals, allocations "
                f"or journal) by model version {version}, and this is {MODEL_VERSION}, which "
                f"cannot compute the same run again: {again}."
            )
        if not self._config.get("scenario"):
            raise ConfigError(f"'{self.folder}/config.json' holds no scenario: {again}.")
        scenario = Scenario.model_validate(self._config["scenario"])
        result = simulate(scenario, int(self._config["seed"]), int(self._config["months"]))
        if not _same_summary(result.summary, self._summary):
            raise ConfigError(
                f"'{self.folder}' was written without --detail, and running its config again "
                f"gives another summary than its summary.json (the code changed without a new "
                f"model version?): {again}."
            )
        self._rerun = result
        return result

    def __iter__(self) -> Iterator[str]:
        return iter(TABLES)

    def __len__(self) -> int:
        return len(TABLES)


def _same_summary(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Equal summaries (NaN equal to NaN)."""
    if a.keys() != b.keys():
        return False
    return all(
        x == y or (math.isnan(x) and math.isnan(y))
        for x, y in zip(a.values(), (b[k] for k in a), strict=True)
    )


FILE_MODE = 0o644
"""Output files are readable by everyone, writable by their owner (``mkstemp`` makes 0600)."""

FOLDER_MODE = 0o755
"""Output folders likewise (``mkdtemp`` makes 0700)."""

RUN_MARKER = "run.json"
"""Written last into a finished run folder: which scenario, seed and months it holds."""


def write_atomically(path: Path, write: Callable[[str], object]) -> Path:
    """Call ``write(temporary path)`` in ``path``'s folder, then rename into place, so a
    crash leaves the whole file or none; the file is readable by others (0644). Returns
    ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# --------------------------------------------------------------------------------------
# Run folders: whole or not at all
# --------------------------------------------------------------------------------------
def check_run_folder(out: Path, scenario_name: str, *, force: bool = False) -> None:
    """Refuse an ``--out`` that cannot take this run, before any work.

    ``out`` may be missing, empty, or hold a finished run of the same scenario (it is then
    replaced whole). A file, a folder holding a run of another scenario, or a folder holding
    anything else is refused with :class:`ConfigError` unless ``force`` (which replaces it).
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(
            f"--out '{out}' is a file, not a folder: give a folder for the run's tables. "
            "Nothing was run or written."
        )
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        raise ConfigError(
            f"--out '{out}' is the current folder or one above it, which a run would replace "
            "whole: give a folder of its own, e.g. results/<name>. Nothing was run or written."
        )
    if not out.is_dir() or force or not any(out.iterdir()):
        return
    held = run_folder_scenario(out)
    if held is None:
        raise ConfigError(
            f"--out '{out}' is not a run folder (it holds other files and no {RUN_MARKER}): "
            "choose another --out, or pass --force to replace the folder and everything in "
            "it. Nothing was run or written."
        )
    if held != scenario_name:
        raise ConfigError(
            f"--out '{out}' holds a run of scenario '{held}', not '{scenario_name}': choose "
            "another --out, or pass --force to replace it. Nothing was run or written."
        )


def run_folder_scenario(folder: Path) -> str | None:
    """Name of the scenario whose run ``folder`` holds, or None if it holds no run (a folder
    written before completion markers is recognised by its ``config.json``)."""
    for name, key in ((RUN_MARKER, "scenario"), ("config.json", "scenario")):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, dict):
            value = value.get("name")
        if isinstance(value, str):
            return value
    return None


@contextmanager
def run_folder(out: Path, scenario_name: str, *, force: bool = False) -> Iterator[Path]:
    """A staging folder next to ``out``, moved into place as ``out`` when the block ends.

    Checks ``out`` (:func:`check_run_folder`) and creates the staging folder before the block
    runs, so an unusable ``--out`` is found before any simulation. On success a completion
    marker (:data:`RUN_MARKER`) is written last and the staging folder replaces ``out``
    whole; on any error (or Ctrl-C) the staging folder is deleted and ``out`` is untouched.
    """
    check_run_folder(out, scenario_name, force=force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as exc:
        raise ConfigError(
            f"--out '{out}' cannot be written ({exc.strerror}): choose a folder you can "
            "write to. Nothing was run or written."
        ) from None
    try:
        yield staging
        marker = {"scenario": scenario_name, "complete": True, "model_version": MODEL_VERSION}
        config = staging / "config.json"
        if config.is_file():
            saved = json.loads(config.read_text())
            marker.update(seed=saved.get("seed"), months=saved.get("months"))
        marker["files"] = sorted(p.name for p in staging.iterdir())
        write_atomically(
            staging / RUN_MARKER, lambda p: Path(p).write_text(json.dumps(marker, indent=2))
        )
        os.chmod(staging, FOLDER_MODE)
        _swap_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename ``staging`` to ``out``; an existing ``out`` is moved aside first, then deleted."""
    if not out.exists():
        os.rename(staging, out)
        return
    aside = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    try:
        os.rename(out, aside / out.name)
        os.rename(staging, out)
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def check_out_folder(out: Path) -> None:
    """Refuse an ``--out`` that is a file or lies below one, before any work."""
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ConfigError(
                    f"--out '{out}': '{folder}' is a file, not a folder. Nothing was run or "
                    "written."
                )
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ConfigError(
                    f"--out '{out}': '{folder}' cannot be written. Nothing was run or written."
                )
            return
