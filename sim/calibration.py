"""Calibration report: a scenario's outputs against the 2025–26 record (issue 12).

Targets are data (``experiments/calibration/targets.toml``): each names a *measure* of this
module, the agents it is taken over, a month (``date``) or a span of months (``from``, ``to``),
the recorded value, an acceptable range, a unit and the row of ``../shared/CALIBRATION.md``
it comes from. A measure is a pure function of one run's tables
(:attr:`sim.runner.RunResult.tables`) returning one number in base units (USD, USD per
GPU-hour, a fraction, GPUs, months, a fraction per year); the target's unit scales it.

The runs go through the sweep engine (:mod:`sim.sweep`, :mod:`sim.results_store`): one run
per seed, each kept on disk as it finishes under an id that hashes the scenario, the seed,
the months and the measures, so an interrupted report resumes and a longer one (more seeds)
reuses the runs it already has. :func:`calibration_report` folds the runs into the table:
per target the median over seeds, its 5–95% interval, whether the median is in range and
the ratio model ÷ record.

Sits in the sweeps layer: imports configuration, runs and the sweep engine only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config import ConfigError, Scenario, agent_names
from sim.results_store import ResultsStore
from sim.runner import RunTables, run_model
from sim.sweep import RunTask, Sweep, SweepReport, SweepSpec, run_id, run_sweep

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TARGETS = ROOT / "experiments" / "calibration" / "targets.toml"
"""The default world's calibration targets."""

DEFAULT_SCENARIO = ROOT / "experiments" / "baseline.toml"

Tables = dict[str, pd.DataFrame]
Agents = Sequence[str]

# --------------------------------------------------------------------------------------
# Units: each maps to a dimension and the factor from the base unit of that dimension.
UNITS: dict[str, tuple[str, float]] = {
    "USD billion": ("money", 1e-9),
    "USD per GPU-hour": ("price", 1.0),
    "percent": ("fraction", 100.0),
    "ratio": ("ratio", 1.0),
    "million H100-eq GPUs": ("gpus", 1e-6),
    "months": ("time", 1.0),
    "percent per year": ("rate", 100.0),
    "basis points": ("rate", 1e4),
}
"""Allowed target units: unit → (dimension, factor from the measure's base unit)."""

SOLD = ("compute_due", "prepayment_used", "prepayment_forfeited")
"""Accrual kinds that are compute sold (a cloud's revenue, a lab's compute bill), as in
:func:`sim.runner.summarise`."""

OUTSIDE_SOLD = ("outside_compute",)
"""Flow kinds that are compute sold to the buyers beyond the labs (paid by the world)."""

FINANCING = (
    "founding_capital",
    "equity_investment",
    "loan_advance",
    "vendor_financing",
    "principal",
    "asset_sale",
)
"""Flow kinds that are financing or investing, not operating cash (left out of burn)."""

BORROWING = ("loan_advance", "vendor_financing")


# --------------------------------------------------------------------------------------
# Table helpers (pure)
def _agent_rows(tables: Tables, agents: Sequence[str], first: int, last: int) -> pd.DataFrame:
    a = tables["agents"]
    return a[a["agent_id"].isin(agents) & a["step"].between(first, last)]


def _agent_sum(tables: Tables, agents: Sequence[str], column: str, first: int, last: int) -> float:
    """Sum of an agents-table column over agents and months (a flow)."""
    rows = _agent_rows(tables, agents, first, last)
    if rows.empty:
        return math.nan
    return float(rows[column].sum())


def _agent_at(tables: Tables, agents: Sequence[str], column: str, step: int) -> float:
    """Sum over agents of an agents-table column at the end of month ``step`` (a stock)."""
    rows = _agent_rows(tables, agents, step, step)
    if rows.empty:
        return math.nan
    return float(rows[column].sum())


def _ledger_sum(
    table: pd.DataFrame,
    kinds: Sequence[str],
    first: int,
    last: int,
    *,
    payer: Sequence[str] | None = None,
    payee: Sequence[str] | None = None,
) -> float:
    """Sum of ``amount`` of flow or accrual rows of ``kinds`` in months ``first..last``."""
    rows = table[table["kind"].isin(kinds) & table["step"].between(first, last)]
    if payer is not None:
        rows = rows[rows["payer"].isin(payer)]
    if payee is not None:
        rows = rows[rows["payee"].isin(payee)]
    return float(rows["amount"].sum())


def _backlog(
    tables: Tables,
    step: int,
    *,
    creditors: Agents | None = None,
    debtors: Agents | None = None,
) -> float:
    """Take-or-pay value still to come under contracts at month ``step`` (exposures table;
    NaN if no snapshot was taken that month)."""
    ex = tables["exposures"]
    rows = ex[ex["step"] == step]
    if rows.empty:
        return math.nan
    if creditors is not None:
        rows = rows[rows["creditor"].isin(creditors)]
    if debtors is not None:
        rows = rows[rows["debtor"].isin(debtors)]
    return float(rows["backlog_usd"].sum())


def _model_at(tables: Tables, column: str, step: int) -> float:
    m = tables["model"]
    rows = m.loc[m["step"] == step, column]
    return float(rows.iloc[0]) if len(rows) else math.nan


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 and math.isfinite(den) else math.nan


# --------------------------------------------------------------------------------------
# Measures: (tables, agents, of, first, last) -> value in the base unit of the dimension.
def revenue(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Revenue of labs (from end users) or vendors (chips invoiced) over the months, USD."""
    return _agent_sum(tables, agents, "revenue_usd", first, last)


def run_rate(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Revenue run-rate: 12 × the month's revenue, USD per year."""
    return 12.0 * _agent_at(tables, agents, "revenue_usd", last)


def run_rate_share(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """The agents' share of the run-rate of the group ``of`` in the month (fraction)."""
    return _ratio(
        _agent_at(tables, agents, "revenue_usd", last), _agent_at(tables, of, "revenue_usd", last)
    )


def revenue_share(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """The agents' share of the group ``of``'s revenue over the months (fraction)."""
    return _ratio(revenue(tables, agents, of, first, last), revenue(tables, of, of, first, last))


def cloud_revenue(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Compute sold by clouds (billed, or drawn from a prepayment, and sold to or used
    in-house for the buyers beyond the labs) over the months, USD."""
    return _ledger_sum(tables["accruals"], SOLD, first, last, payee=agents) + _ledger_sum(
        tables["flows"], OUTSIDE_SOLD, first, last, payee=agents
    )


def buyer_share(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Share of the clouds' compute revenue billed to the buyers ``of`` (fraction)."""
    accr = tables["accruals"]
    return _ratio(
        _ledger_sum(accr, SOLD, first, last, payee=agents, payer=of),
        cloud_revenue(tables, agents, of, first, last),
    )


def lab_gross_margin(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """1 − compute billed to the labs ÷ their revenue over the months (fraction)."""
    compute = _ledger_sum(tables["accruals"], SOLD, first, last, payer=agents)
    return 1.0 - _ratio(compute, revenue(tables, agents, of, first, last))


def lab_serving_margin(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """1 − cost of serving ÷ revenue over the months (fraction): each month's compute billed
    to the labs × the share of their GPUs that served users (the rest trained models), the
    gross margin as labs report it (cost of revenue is inference compute; training compute
    is research and development, below the gross margin)."""
    acc = tables["accruals"]
    billed = acc[
        acc["kind"].isin(SOLD) & acc["payer"].isin(agents) & acc["step"].between(first, last)
    ]
    bills = billed.groupby(["payer", "step"])["amount"].sum()
    rows = _agent_rows(tables, agents, first, last).set_index(["agent_id", "step"])
    used = rows["gpus_used"].where(rows["gpus_used"] > 0)
    served = (rows["gpus_served"] / used).fillna(0.0).clip(0.0, 1.0)
    served.index = served.index.set_names(["payer", "step"])
    cost = float((bills * served.reindex(bills.index, fill_value=0.0)).sum())
    return 1.0 - _ratio(cost, revenue(tables, agents, of, first, last))


def vendor_gross_margin(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """1 − cost of goods paid ÷ chips invoiced over the months (fraction)."""
    cogs = _ledger_sum(tables["flows"], ("cost_of_goods",), first, last, payer=agents)
    return 1.0 - _ratio(cogs, revenue(tables, agents, of, first, last))


def cash_burn(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Operating cash out minus operating cash in over the months, USD (positive = burn);
    capital raised or repaid (equity, loans, principal, asset sales) is left out."""
    flows = tables["flows"]
    operating = flows[~flows["kind"].isin(FINANCING) & flows["step"].between(first, last)]
    out = operating.loc[operating["payer"].isin(agents), "amount"].sum()
    cash_in = operating.loc[operating["payee"].isin(agents), "amount"].sum()
    return float(out - cash_in)


def net_income(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Change in retained earnings over the months, USD (before the first month: zero)."""
    end = _agent_at(tables, agents, "retained_usd", last)
    before = _agent_at(tables, agents, "retained_usd", first - 1) if first > 0 else 0.0
    return end - before


def valuation(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Equity valuation the market marks the agents at, end of the month, USD."""
    return _agent_at(tables, agents, "valuation_usd", last)


def debt(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Debt outstanding at the end of the month, USD."""
    return _agent_at(tables, agents, "debt_usd", last)


def borrowing(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """New loans advanced to the agents (by lenders or vendors) over the months, USD."""
    return _ledger_sum(tables["flows"], BORROWING, first, last, payee=agents)


def interest_rate(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Interest accrued ÷ average debt over the months, per year (fraction)."""
    interest = _ledger_sum(tables["accruals"], ("interest_due",), first, last, payer=agents)
    rows = _agent_rows(tables, agents, first, last)
    mean_debt = float(rows.groupby("step")["debt_usd"].sum().mean()) if len(rows) else math.nan
    return _ratio(interest * 12.0 / (last - first + 1), mean_debt)


def rate_spread(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """The agents' interest rate minus the reference borrowers' ``of`` (fraction per year)."""
    return interest_rate(tables, agents, of, first, last) - interest_rate(
        tables, of, of, first, last
    )


def commitments(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Take-or-pay value the labs still owe under their contracts at the month, USD."""
    return _backlog(tables, last, debtors=agents)


def backlog(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Take-or-pay revenue still to come to the clouds under contracts at the month, USD."""
    return _backlog(tables, last, creditors=agents)


def capex(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Capital spending of the clouds over the months: chips invoiced plus facilities, and a
    hyperscaler's capex for its businesses outside AI compute (the record counts all capex),
    USD."""
    chips = _ledger_sum(tables["accruals"], ("chip_invoice_due",), first, last, payer=agents)
    facilities = _ledger_sum(
        tables["flows"], ("facility_capex", "other_business_capex"), first, last, payer=agents
    )
    return chips + facilities


def units_delivered(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Accelerators (H100-eq) the vendors delivered over the months."""
    return _agent_sum(tables, agents, "units_delivered", first, last)


def gpus_used(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """GPUs (H100-eq) the labs use in the month."""
    return _agent_at(tables, agents, "gpus_used", last)


def spot_price(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Spot price of an H100-eq GPU-hour in the month, USD."""
    return _model_at(tables, "spot_price_usd_per_gpu_hour", last)


def price_change(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Spot price in the last month ÷ spot price in the first (ratio)."""
    column = "spot_price_usd_per_gpu_hour"
    return _ratio(_model_at(tables, column, last), _model_at(tables, column, first))


def lead_time(tables: Tables, agents: Agents, of: Agents, first: int, last: int) -> float:
    """Average GPUs on order ÷ average GPUs delivered per month over the months (months)."""
    m = tables["model"]
    rows = m[m["step"].between(first, last)]
    return _ratio(float(rows["gpus_on_order"].mean()), float(rows["chip_deliveries_gpus"].mean()))


MeasureFn = Callable[[Tables, Sequence[str], Sequence[str], int, int], float]


@dataclass(frozen=True)
class Measure:
    """A named measure: its function, whether it is taken at a month or over months, its
    dimension (see :data:`UNITS`), and what agents it needs."""

    fn: MeasureFn
    timing: Literal["date", "period"]
    dimension: str
    agents: bool = True  # needs `agents`
    of: bool = False  # needs `of`
    snapshot: bool = False  # needs an exposures snapshot at its month

    @property
    def doc(self) -> str:
        return " ".join((self.fn.__doc__ or "").split("\n\n")[0].split())


MEASURES: dict[str, Measure] = {
    "revenue": Measure(revenue, "period", "money"),
    "run_rate": Measure(run_rate, "date", "money"),
    "run_rate_share": Measure(run_rate_share, "date", "fraction", of=True),
    "revenue_share": Measure(revenue_share, "period", "fraction", of=True),
    "cloud_revenue": Measure(cloud_revenue, "period", "money"),
    "buyer_share": Measure(buyer_share, "period", "fraction", of=True),
    "lab_gross_margin": Measure(lab_gross_margin, "period", "fraction"),
    "lab_serving_margin": Measure(lab_serving_margin, "period", "fraction"),
    "vendor_gross_margin": Measure(vendor_gross_margin, "period", "fraction"),
    "cash_burn": Measure(cash_burn, "period", "money"),
    "net_income": Measure(net_income, "period", "money"),
    "valuation": Measure(valuation, "date", "money"),
    "debt": Measure(debt, "date", "money"),
    "borrowing": Measure(borrowing, "period", "money"),
    "interest_rate": Measure(interest_rate, "period", "rate"),
    "rate_spread": Measure(rate_spread, "period", "rate", of=True),
    "commitments": Measure(commitments, "date", "money", snapshot=True),
    "backlog": Measure(backlog, "date", "money", snapshot=True),
    "capex": Measure(capex, "period", "money"),
    "units_delivered": Measure(units_delivered, "period", "gpus"),
    "gpus_used": Measure(gpus_used, "date", "gpus"),
    "spot_price": Measure(spot_price, "date", "price", agents=False),
    "price_change": Measure(price_change, "period", "ratio", agents=False),
    "lead_time": Measure(lead_time, "period", "time", agents=False),
}
"""Every measure a target may name."""


# --------------------------------------------------------------------------------------
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class Target(BaseModel):
    """One calibration target (a row of the targets file)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=60)
    quantity: str = Field(min_length=1, description="what is measured, in words")
    measure: str = Field(description="a name of MEASURES")
    agents: tuple[str, ...] = Field((), description="agents the measure is taken over")
    of: tuple[str, ...] = Field((), description="the whole, the buyers or the reference")
    date: str | None = Field(None, pattern=MONTH, description="month of a stock or price")
    from_: str | None = Field(None, alias="from", pattern=MONTH, description="first month")
    to: str | None = Field(None, pattern=MONTH, description="last month (inclusive)")
    value: float = Field(allow_inf_nan=False, description="recorded figure, in `unit`")
    low: float = Field(allow_inf_nan=False, description="acceptable range, low end")
    high: float = Field(allow_inf_nan=False, description="acceptable range, high end")
    unit: str
    source: str = Field(min_length=1, description="CALIBRATION.md section / figure")

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        measure = MEASURES.get(self.measure)
        if measure is None:
            raise ValueError(
                f"measure '{self.measure}' is unknown; allowed: {', '.join(sorted(MEASURES))}"
            )
        if self.unit not in UNITS:
            raise ValueError(f"unit '{self.unit}' is unknown; allowed: {', '.join(UNITS)}")
        dimension = UNITS[self.unit][0]
        if dimension != measure.dimension:
            fits = [u for u, (d, _) in UNITS.items() if d == measure.dimension]
            raise ValueError(
                f"unit '{self.unit}' does not fit measure '{self.measure}'; use {' or '.join(fits)}"
            )
        if not self.low <= self.value <= self.high:
            raise ValueError(
                f"the range must hold the value: low {self.low:g} <= value {self.value:g} "
                f"<= high {self.high:g}"
            )
        if measure.timing == "date" and (self.date is None or self.from_ or self.to):
            raise ValueError(f"measure '{self.measure}' is taken at a month: give `date` only")
        if measure.timing == "period":
            if self.date is not None or self.from_ is None or self.to is None:
                raise ValueError(
                    f"measure '{self.measure}' is taken over months: give `from` and `to`"
                )
            if self.to < self.from_:
                raise ValueError(f"`to` ({self.to}) is before `from` ({self.from_})")
        if measure.agents and not self.agents:
            raise ValueError(f"measure '{self.measure}' needs `agents`")
        if measure.of and not self.of:
            raise ValueError(f"measure '{self.measure}' needs `of`")
        return self

    @property
    def spec(self) -> Measure:
        return MEASURES[self.measure]

    @property
    def months(self) -> tuple[str, str]:
        """First and last month (YYYY-MM) of the measure; equal for a dated one."""
        if self.date is not None:
            return self.date, self.date
        assert self.from_ is not None and self.to is not None
        return self.from_, self.to

    def steps(self, start: str) -> tuple[int, int]:
        """First and last model step of the measure for a run that starts at ``start``."""
        first, last = self.months
        return month_index(first, start), month_index(last, start)

    def measure_on(self, tables: Tables, start: str) -> float:
        """The model's value of this target in one run, in the target's unit."""
        first, last = self.steps(start)
        value = self.spec.fn(tables, self.agents, self.of, first, last)
        return value * UNITS[self.unit][1]


class TargetsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: tuple[Target, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TargetsFile:
        seen: set[str] = set()
        for t in self.targets:
            if t.id in seen:
                raise ValueError(f"target id '{t.id}' appears twice; ids must be unique")
            seen.add(t.id)
        return self


def month_index(month: str, start: str) -> int:
    """Months from ``start`` to ``month`` (both YYYY-MM): the model step of that month."""
    y, m = (int(x) for x in month.split("-"))
    y0, m0 = (int(x) for x in start.split("-"))
    return (y - y0) * 12 + (m - m0)


def load_targets(path: str | Path = DEFAULT_TARGETS) -> tuple[Target, ...]:
    """Read and validate a targets file (TOML with ``[[targets]]`` tables)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"targets file '{path}' does not exist (give a TOML file with [[targets]] tables, "
            f"e.g. {DEFAULT_TARGETS.relative_to(ROOT)}). Nothing was run or written."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"targets file '{path}' is not valid TOML: {exc}. Nothing was run or written."
        ) from None
    try:
        return TargetsFile.model_validate(data).targets
    except ValidationError as exc:
        raise ConfigError(_targets_error(exc, data, path)) from None


def _targets_error(exc: ValidationError, data: dict[str, Any], path: Path) -> str:
    """One paragraph naming each bad target (index and id), the field and what is allowed."""
    rows = data.get("targets")
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(x) for x in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):
            k = loc[1]
            row = rows[k] if isinstance(rows, list) and isinstance(rows[k], dict) else {}
            name = f"target {k} (id '{row['id']}')" if "id" in row else f"target {k}"
            where = name + "".join(f", field `{x}`" for x in loc[2:])
        if err["type"] == "value_error":
            parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        elif err["type"] == "missing":
            parts.append(f"{where} is required but missing")
        elif err["type"] == "extra_forbidden":
            parts.append(f"{where} is not a known field (allowed: {', '.join(TARGET_FIELDS)})")
        else:
            parts.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    return f"invalid targets file {path}: " + "; ".join(parts) + ". Nothing was run or written."


TARGET_FIELDS = (
    "id",
    "quantity",
    "measure",
    "agents",
    "of",
    "date",
    "from",
    "to",
    "value",
    "low",
    "high",
    "unit",
    "source",
)


def scenario_agents(scenario: Scenario) -> list[str]:
    """Names of every agent the scenario creates."""
    specs = [*scenario.labs, *scenario.clouds, *scenario.chip_vendors, *scenario.investors]
    return [name for spec in specs for name in agent_names(spec.name, spec.count)]


def check_targets(targets: Sequence[Target], scenario: Scenario) -> int:
    """Check the targets against a scenario (agents exist, months are in the run's future)
    and return the months a run needs to measure them all."""
    names = set(scenario_agents(scenario))
    start = scenario.run.start
    for t in targets:
        unknown = [a for a in (*t.agents, *t.of) if a not in names]
        if unknown:
            raise ConfigError(
                f"target '{t.id}': agent(s) {', '.join(unknown)} are not in scenario "
                f"'{scenario.name}'; its agents are {', '.join(sorted(names))}. Nothing was run "
                "or written."
            )
        first, _ = t.steps(start)
        if first < 0:
            raise ConfigError(
                f"target '{t.id}': month {t.months[0]} is before the run starts ({start}); "
                "targets must fall on or after the first month. Nothing was run or written."
            )
    return max(t.steps(start)[1] for t in targets) + 1


def snapshot_months(targets: Sequence[Target], start: str) -> list[int]:
    """Months at which the measures need the exposures (contract backlog) snapshot."""
    return sorted({t.steps(start)[1] for t in targets if t.spec.snapshot})


def measure_run(targets: Sequence[Target], tables: Tables, start: str) -> dict[str, float]:
    """Every target's model value in one run (target id → value in the target's unit)."""
    return {t.id: t.measure_on(tables, start) for t in targets}


# --------------------------------------------------------------------------------------
# Organic against reported revenue (no record to meet: shown beside the targets)
LAYERS = {"labs": "Lab", "clouds": "Cloud", "vendors": "ChipVendor"}
"""The layers whose revenue the report splits into organic and round trip, by agent type."""

ORGANIC_YEARS = 2
"""Calendar years from the start of the run shown in the organic-revenue table."""


def layer_revenue(tables: Tables) -> dict[str, float]:
    """Each layer's reported revenue and its round-trip part in each of the first
    :data:`ORGANIC_YEARS` years, USD: labs from end users, clouds compute sold (billed or
    drawn from a prepayment), vendors chips invoiced; round trip as in the run summary
    (:func:`sim.metrics.revenue_provenance`). Keys ``organic:<layer>:<year>:reported`` and
    ``organic:<layer>:<year>:round_trip`` (year 0 is the first)."""
    agents = tables["agents"]
    out: dict[str, float] = {}
    for year in range(ORGANIC_YEARS):
        first, last = 12 * year, 12 * year + 11
        rows = agents[agents["step"].between(first, last)]
        for layer, role in LAYERS.items():
            mine = rows[rows["agent_type"] == role]
            if layer == "clouds":
                names = tuple(mine["agent_id"].unique())
                reported = _ledger_sum(tables["accruals"], SOLD, first, last, payee=names)
            else:
                reported = float(mine["revenue_usd"].sum())
            out[f"organic:{layer}:{year}:reported"] = reported
            out[f"organic:{layer}:{year}:round_trip"] = float(mine["round_trip_revenue_usd"].sum())
    return out


def organic_report(values: pd.DataFrame, start: str) -> pd.DataFrame:
    """Median over seeds of each layer's reported, round-trip and organic revenue (reported −
    round trip) per year, USD billion, and the round-trip share of reported revenue."""
    rows = []
    first_year = int(start[:4])
    for year in range(ORGANIC_YEARS):
        for layer in LAYERS:
            key = f"organic:{layer}:{year}"
            if f"{key}:reported" not in values:
                continue
            reported = values[f"{key}:reported"].astype(float)
            trip = values[f"{key}:round_trip"].astype(float)
            rows.append(
                {
                    "layer": layer,
                    "year": first_year + year,
                    "reported_usd_bn": float(reported.median()) / 1e9,
                    "round_trip_usd_bn": float(trip.median()) / 1e9,
                    "organic_usd_bn": float((reported - trip).median()) / 1e9,
                    "round_trip_share": float((trip / reported.where(reported > 0)).median()),
                }
            )
    return pd.DataFrame(rows)


def format_organic(table: pd.DataFrame) -> str:
    """The organic-revenue table as text."""
    lines = [
        "reported against organic revenue (model medians; round trip = the seller's own money "
        "or credits coming back)",
        f"{'layer':<8} {'year':<5} {'reported':>10} {'round trip':>11} {'organic':>10} "
        f"{'share':>7}",
    ]
    for r in table.itertuples():
        lines.append(
            f"{r.layer:<8} {r.year:<5} {r.reported_usd_bn:>9.1f}B {r.round_trip_usd_bn:>10.2f}B "
            f"{r.organic_usd_bn:>9.1f}B {r.round_trip_share:>7.1%}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Runs through the sweep engine
SERIES_COLUMNS = {
    "Lab": ("revenue_usd", "valuation_usd", "gpus_used"),
    "ChipVendor": ("revenue_usd", "units_delivered"),
    "Cloud": ("debt_usd",),
}
"""Agents-table columns kept per month for the fan charts, by agent type."""

MODEL_SERIES = ("spot_price_usd_per_gpu_hour", "installed_gpus")


def monthly_series(tables: Tables, agents: Sequence[str]) -> dict[str, list[Any]]:
    """The monthly series the calibration figures draw, for the named agents: columns
    ``step``, the model's ``MODEL_SERIES`` and ``<agent>:<column>`` per agent."""
    model = tables["model"]
    out: dict[str, list[Any]] = {"step": model["step"].tolist()}
    for col in MODEL_SERIES:
        out[col] = model[col].tolist()
    a = tables["agents"]
    for agent in agents:
        rows = a[a["agent_id"] == agent].set_index("step").reindex(model["step"])
        if rows.empty or rows["agent_type"].isna().all():
            continue
        kind = str(rows["agent_type"].dropna().iloc[0])
        for col in SERIES_COLUMNS.get(kind, ()):
            out[f"{agent}:{col}"] = rows[col].tolist()
    return out


def calibration_run(task: RunTask, targets: tuple[Target, ...]) -> dict[str, Any]:
    """Run one seed of the calibration (in a worker) and measure every target."""
    start = time.perf_counter()
    tables = RunTables(run_model(task.scenario, task.seed, task.months))  # only those read
    values = measure_run(targets, tables, task.scenario.run.start)
    values.update(layer_revenue(tables))
    agents = sorted({a for t in targets for a in (*t.agents, *t.of)})
    return {
        "summary": values,
        "series": monthly_series(tables, agents),
        "seconds": time.perf_counter() - start,
    }


def measures_digest(targets: Sequence[Target]) -> str:
    """Hash of what the measured values depend on besides the run: each target's measure,
    agents and months, and the source of this module (a changed measure reruns)."""
    rows = [
        (t.id, t.measure, t.agents, t.of, t.months, t.unit)
        for t in sorted(targets, key=lambda t: t.id)
    ]
    digest = hashlib.sha256(json.dumps(rows).encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Calibration:
    """A calibration ready to run: its sweep (one point per seed) and its targets."""

    sweep: Sweep
    targets: tuple[Target, ...]
    scenario: Scenario
    seeds: tuple[int, ...]

    @property
    def run_fn(self) -> Callable[[RunTask], dict[str, Any]]:
        return functools.partial(calibration_run, targets=self.targets)

    @property
    def run_ids(self) -> list[str]:
        return [t.run_id for t in self.sweep.tasks]


def plan_calibration(
    scenario: Scenario,
    targets: Sequence[Target],
    seeds: int,
    *,
    base_seed: int = 1,
    scenario_path: str | Path = "scenario",
    settings: Mapping[str, Any] | None = None,
) -> Calibration:
    """The calibration of ``scenario`` over seeds ``base_seed … base_seed + seeds − 1``, as
    a sweep over ``run.seed``; each run lasts until the last target's month. ``settings``
    are the command line's overrides already applied to ``scenario`` (``--set``), recorded
    in the plan; the runs' ids hash the resolved world, so a variant never reuses another's
    runs."""
    if not 1 <= seeds <= 10_000:
        raise ConfigError(f"--seeds must be between 1 and 10000 (got {seeds}). Nothing was run.")
    if base_seed < 0:
        raise ConfigError(f"--seed must be >= 0 (got {base_seed}). Nothing was run.")
    targets = tuple(targets)
    months = check_targets(targets, scenario)
    needed = snapshot_months(targets, scenario.run.start)
    snapshots = sorted({*scenario.cascade.debtrank_months, *needed})
    fixed = {"cascade.debtrank_months": snapshots}
    base = scenario.with_overrides(fixed)
    seed_list = tuple(range(base_seed, base_seed + seeds))
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"calibration-{scenario.name}")[:100]
    spec = SweepSpec.model_validate(
        {
            "sweep": {
                "name": name,
                "scenario": str(scenario_path),
                "months": months,
                "seeds_per_point": 1,
                "base_seed": base_seed,
                "description": "calibration report: one run per seed, targets measured",
            },
            "fixed": fixed,
            "parameters": {"method": "grid", "vary": [{"path": "run.seed", "values": seed_list}]},
            "outputs": {"summary": ["lab_revenue_usd"]},
        }
    )
    digest = measures_digest(targets)
    tasks = []
    points = []
    for k, seed in enumerate(seed_list):
        params = {"run.seed": seed}
        points.append(params)
        world = base.with_overrides(params)
        rid = hashlib.sha256(f"{run_id(world, seed, months)}:{digest}".encode()).hexdigest()[:20]
        tasks.append(RunTask(rid, k, 0, seed, months, params, world, ("lab_revenue_usd",), ()))
    text = (
        f'# generated by `computesim calibrate`\n[sweep]\nname = "{name}"\n'
        f'scenario = "{scenario_path}"\nmonths = {months}\nseeds = {list(seed_list)}\n'
        f'targets = {len(targets)}\nmeasures_digest = "{digest}"\n'
        f'[fixed]\n"cascade.debtrank_months" = {snapshots}\n'
    )
    if settings:
        text += "[settings]  # --set\n" + "".join(
            f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in settings.items()
        )
    sweep = Sweep(spec, Path(scenario_path), text, points, tasks, None)
    return Calibration(sweep, targets, scenario, seed_list)


def run_values(calibration: Calibration, runs: pd.DataFrame) -> pd.DataFrame:
    """The finished runs of this calibration (one row per seed: ``seed`` and a column per
    target id), from a results store's ``runs`` table."""
    mine = runs[runs["run_id"].isin(calibration.run_ids)]
    organic = [c for c in mine.columns if str(c).startswith("organic:")]
    cols = ["seed", *(t.id for t in calibration.targets if t.id in mine.columns), *organic]
    return mine[cols].sort_values("seed", ignore_index=True)


# --------------------------------------------------------------------------------------
REPORT_COLUMNS = (
    "id",
    "quantity",
    "unit",
    "date",
    "value",
    "low",
    "high",
    "median",
    "p05",
    "p95",
    "in_range",
    "ratio",
    "seeds",
    "measure",
    "agents",
    "source",
)


def calibration_report(targets: Sequence[Target], values: pd.DataFrame) -> pd.DataFrame:
    """Per target, over the runs in ``values`` (a column per target id, a row per seed): the
    range, the model's median and 5–95% interval, whether the median is in range, and the
    ratio median ÷ recorded value. A target no run measured has NaN and is not in range."""
    rows = []
    for t in targets:
        col = values[t.id] if t.id in values.columns else pd.Series(dtype=float)
        x = col.to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        if x.size:
            median, p05, p95 = (float(v) for v in np.quantile(x, [0.5, 0.05, 0.95]))
        else:
            median = p05 = p95 = math.nan
        first, last = t.months
        rows.append(
            {
                "id": t.id,
                "quantity": t.quantity,
                "unit": t.unit,
                "date": first if first == last else f"{first}..{last}",
                "value": t.value,
                "low": t.low,
                "high": t.high,
                "median": median,
                "p05": p05,
                "p95": p95,
                "in_range": bool(x.size) and t.low <= median <= t.high,
                "ratio": median / t.value if t.value != 0 and x.size else math.nan,
                "seeds": int(x.size),
                "measure": t.measure,
                "agents": " ".join(t.agents),
                "source": t.source,
            }
        )
    return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def in_range_count(report: pd.DataFrame) -> int:
    """Targets whose model median lies in the acceptable range."""
    return int(report["in_range"].sum())


def within_factor_2_count(ratios: pd.Series) -> int:
    """Targets whose model ÷ record ratio lies within a factor of 2 (0.5–2; issue 17's
    "none off by more than a factor of 2")."""
    return int(ratios.between(0.5, 2.0).sum())


def format_number(x: float) -> str:
    """A figure for the table: 3 significant digits, or ``—`` when missing."""
    if not math.isfinite(x):
        return "—"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-2):
        return f"{x:.2e}"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def format_report(report: pd.DataFrame) -> str:
    """The report as a plain-text table: target, range, median, 90% interval, in range, ratio."""
    header = ("target", "unit", "when", "range", "median", "90% interval", "in", "model÷rec")
    lines = []
    for r in report.itertuples():
        lines.append(
            (
                r.id,
                r.unit,
                r.date,
                f"{format_number(r.low)}–{format_number(r.high)}",
                format_number(r.median),
                f"{format_number(r.p05)}–{format_number(r.p95)}",
                "✓" if r.in_range else "✗",
                format_number(r.ratio),
            )
        )
    widths = [max(len(h), *(len(row[k]) for row in lines)) for k, h in enumerate(header)]
    right = {3, 4, 5, 7}

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if k in right else c.ljust(w)
            for k, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    seeds = int(report["seeds"].max()) if len(report) else 0
    out = [fmt(header), fmt(["-" * w for w in widths]), *(fmt(row) for row in lines)]
    out.append(
        f"{in_range_count(report)} of {len(report)} targets in range "
        f"(model median over {seeds} seeds)"
    )
    return "\n".join(out)


# --------------------------------------------------------------------------------------
@dataclass
class CalibrationOutcome:
    """What :func:`run_calibration` produced: the report, the per-seed values, the sweep
    report (runs done, skipped, failed) and the seeds still missing."""

    report: pd.DataFrame
    values: pd.DataFrame
    sweep: SweepReport
    missing_seeds: tuple[int, ...]


def run_calibration(
    calibration: Calibration,
    store: ResultsStore,
    executor: Executor,
    *,
    force: bool = False,
    progress: bool = True,
) -> CalibrationOutcome:
    """Run the calibration's seeds not yet in ``store`` on ``executor`` (through
    :func:`sim.sweep.run_sweep`, so parallel and resumable) and build the report from every
    finished run of this calibration."""
    done = run_sweep(
        calibration.sweep,
        store,
        executor,
        run_fn=calibration.run_fn,
        force=force,
        progress=progress,
    )
    runs = store.results() if store.done_ids() else pd.DataFrame(columns=["run_id", "seed"])
    values = run_values(calibration, runs)
    missing = tuple(sorted(set(calibration.seeds) - set(values["seed"].astype(int))))
    return CalibrationOutcome(
        calibration_report(calibration.targets, values), values, done, missing
    )
