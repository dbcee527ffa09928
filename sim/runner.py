"""Run one world and keep what it produced: tables, a summary, and the config behind them."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.config import Scenario
from sim.metrics import (
    concentration_series,
    investor_returns,
    revenue_provenance,
    round_trip_revenue_share,
    total_losses,
)
from sim.model import MODEL_REPORTERS, ComputeMarket

MODEL_VERSION = "0.5.0"
"""Bumped when a change alters results; part of every sweep run id."""

ROUND_TRIP_SERIES: tuple[str, ...] = ("revenue_received_usd", "round_trip_revenue_usd")
"""Columns added to the model and agents tables from the flow log (see
:func:`sim.metrics.revenue_provenance`): sellers' revenue received, and its round-trip part."""

SERIES_FIELDS: tuple[str, ...] = (*MODEL_REPORTERS, *ROUND_TRIP_SERIES)
"""Columns of the model time-series table besides ``step`` and ``date``."""

SUMMARY_FIELDS: tuple[str, ...] = (
    "months",
    "final_installed_gpus",
    "final_need_gpus",
    "mean_utilisation",
    "min_utilisation",
    "final_spot_price_usd_per_gpu_hour",
    "max_spot_price_usd_per_gpu_hour",
    "min_spot_price_usd_per_gpu_hour",
    "price_fall_from_peak",
    "defaults",
    "lab_defaults",
    "cloud_defaults",
    "largest_monthly_defaults",
    "cascade_depth",
    "rescues",
    "systemic_cascade",
    "losses_usd",
    "money_moved_usd",
    "lab_revenue_usd",
    "cloud_revenue_usd",
    "vendor_revenue_usd",
    "reported_revenue_usd",
    "final_lab_valuation_usd",
    "round_trip_share",
    "cloud_round_trip_usd",
    "vendor_round_trip_usd",
    "organic_cloud_revenue_usd",
    "organic_vendor_revenue_usd",
    "organic_revenue_usd",
    "capex_usd",
    "peak_debt_usd",
    "final_sentiment",
    "final_cloud_hhi",
    "final_lab_hhi",
    "investor_moic",
)
"""Scalar outputs of one run (see :func:`summarise`)."""


@dataclass
class RunResult:
    """What one run produced: summary scalars and the four tables."""

    summary: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
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
    model = ComputeMarket(scenario, rng=seed, audit=audit)
    steps = scenario.run.months if months is None else months
    for _ in range(steps):
        model.step()
        if on_step is not None:
            on_step(model.month)
    tables = {
        "model": model.model_table(),
        "agents": model.agent_table(),
        "flows": model.books.ledger.flows(),
        "accruals": model.books.ledger.accruals(),
        "events": model.events_table(),
        "debtrank": model.debtrank_table(),
        "exposures": model.exposures_table(),
    }
    add_round_trip_revenue(tables)
    return RunResult(summarise(model, tables), tables, scenario, seed)


def add_round_trip_revenue(tables: dict[str, pd.DataFrame]) -> None:
    """Add :data:`ROUND_TRIP_SERIES` to the agents table (per seller and month; 0 for
    parties that sold nothing) and to the model table (all sellers together)."""
    revenue = revenue_provenance(tables["flows"], tables["accruals"]).rename(
        columns={"round_trip_usd": "round_trip_revenue_usd"}
    )
    agents = tables["agents"].merge(revenue, on=["step", "agent_id"], how="left")
    agents[list(ROUND_TRIP_SERIES)] = agents[list(ROUND_TRIP_SERIES)].fillna(0.0)
    tables["agents"] = agents
    monthly = revenue.groupby("step")[list(ROUND_TRIP_SERIES)].sum()
    model = tables["model"]
    for column in ROUND_TRIP_SERIES:
        model[column] = model["step"].map(monthly[column]).fillna(0.0).astype(float)


def summarise(model: ComputeMarket, tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Scalars describing a run (money in USD, prices in USD per GPU-hour)."""
    m = tables["model"]
    ev = tables["events"]
    agents = {a.name: a for a in model.all_agents}
    defaulted = [a for a in agents.values() if a.defaulted]
    price = m["spot_price_usd_per_gpu_hour"]
    peak_at = int(price.idxmax())
    exposed = [a for a in agents.values() if a.kind != "Investor"]
    systemic = model.cfg.cascade.systemic_share
    default_rows = ev[ev["event"].str.startswith("default")]
    monthly = default_rows.groupby("step").size()
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
        "defaults": float(len(defaulted)),
        "lab_defaults": float(sum(a.kind == "Lab" for a in defaulted)),
        "cloud_defaults": float(sum(a.kind == "Cloud" for a in defaulted)),
        "largest_monthly_defaults": float(monthly.max()) if len(monthly) else 0.0,
        "cascade_depth": float(default_rows["round"].max()) if len(default_rows) else 0.0,
        "rescues": float((ev["event"] == "rescue").sum()),
        "systemic_cascade": float(sum(a.defaulted for a in exposed) >= systemic * len(exposed)),
        "losses_usd": total_losses(ev),
        "money_moved_usd": float(tables["flows"]["amount"].sum()),
        "lab_revenue_usd": float(m["lab_revenue_usd"].sum()),
        **_revenues(tables),
        "capex_usd": float(m["capex_usd"].sum()),
        "peak_debt_usd": float(m["total_debt_usd"].max()),
        "final_sentiment": float(m["sentiment"].iloc[-1]),
        **_concentration_and_returns(tables),
    }


def _concentration_and_returns(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Market concentration at the end (HHI, 0–1) and the investors' multiple on invested
    capital over the run (all investors together; NaN if none invested)."""
    agents = tables["agents"]
    last = concentration_series(agents[agents["step"] == agents["step"].max()]).iloc[-1]
    returns = investor_returns(tables["flows"], agents)
    invested = float(returns["invested_usd"].sum()) if len(returns) else 0.0
    value = float((returns["returned_usd"] + returns["held_usd"]).sum()) if len(returns) else 0.0
    return {
        "final_cloud_hhi": float(last["cloud_hhi"]),
        "final_lab_hhi": float(last["lab_hhi"]),
        "investor_moic": value / invested if invested > 0 else math.nan,
    }


def _revenues(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Revenue each layer reports over the run (USD): labs from end users; clouds from
    compute sold (billed, or drawn from a prepayment); vendors from chips sold."""
    accr = tables["accruals"]
    lab = float(tables["model"]["lab_revenue_usd"].sum())
    sold = ("compute_due", "prepayment_used", "prepayment_forfeited")
    cloud = float(accr.loc[accr["kind"].isin(sold), "amount"].sum())
    vendor = float(accr.loc[accr["kind"] == "chip_invoice_due", "amount"].sum())
    agents = tables["agents"]
    last = agents[(agents["step"] == agents["step"].max()) & (agents["agent_type"] == "Lab")]
    by_role = agents.groupby("agent_type")["round_trip_revenue_usd"].sum()
    cloud_trip = float(by_role.get("Cloud", 0.0))
    vendor_trip = float(by_role.get("ChipVendor", 0.0))
    received = agents[["revenue_received_usd", "round_trip_revenue_usd"]].rename(
        columns={"round_trip_revenue_usd": "round_trip_usd"}
    )
    return {
        "cloud_revenue_usd": cloud,
        "vendor_revenue_usd": vendor,
        "reported_revenue_usd": lab + cloud + vendor,
        "final_lab_valuation_usd": float(last["valuation_usd"].sum()),
        "round_trip_share": round_trip_revenue_share(received),
        "cloud_round_trip_usd": cloud_trip,
        "vendor_round_trip_usd": vendor_trip,
        "organic_cloud_revenue_usd": cloud - cloud_trip,
        "organic_vendor_revenue_usd": vendor - vendor_trip,
        "organic_revenue_usd": lab + cloud + vendor - cloud_trip - vendor_trip,
    }


def write_run(result: RunResult, out_dir: str | Path) -> list[Path]:
    """Write the tables (Parquet), the resolved config with its seed and the summary (JSON).

    Each file is written to a temporary name and moved into place, so a crash never leaves a
    half-written file behind.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in result.tables.items():
        written.append(
            write_atomically(
                out / f"{name}.parquet", lambda p, df=df: df.to_parquet(p, index=False)
            )
        )
    config = {
        "seed": result.seed,
        "model_version": MODEL_VERSION,
        "scenario": result.scenario.model_dump(mode="json") if result.scenario else None,
    }
    written.append(
        write_atomically(
            out / "config.json", lambda p: Path(p).write_text(json.dumps(config, indent=2) + "\n")
        )
    )
    written.append(
        write_atomically(
            out / "summary.json",
            lambda p: Path(p).write_text(json.dumps(result.summary, indent=2) + "\n"),
        )
    )
    return written


def write_atomically(path: Path, write: Callable[[str], object]) -> Path:
    """Call ``write(temporary path)`` in ``path``'s folder, then rename into place, so a
    crash leaves the whole file or none; returns ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
