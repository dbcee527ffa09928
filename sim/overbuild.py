"""Overbuild metrics (pure functions on a run's model table; DESIGN §5).

Columns used: ``installed_gpus``, ``need_gpus``, ``need_at_full_cost_gpus``, ``utilisation``,
``spot_price_usd_per_gpu_hour``, ``full_cost_usd_per_gpu_hour``, ``fleet_book_usd``,
``impairment_cumulative_usd``, ``gpus_on_order``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


def overbuild_series(model: pd.DataFrame) -> pd.DataFrame:
    """Per month: capacity against demand served at a cost-covering price, the spot price
    against full cost, stranded book value and capacity on order.

    - ``overbuild_ratio``: installed GPUs ÷ GPUs the labs would use if compute were priced at
      full cost (> 1 means more capacity than can be paid for at a price that covers cost);
    - ``price_to_full_cost``: spot price ÷ full cost of a new GPU-hour (< 1: selling at a loss);
    - ``stranded_book_usd``: value written off so far plus the book value of idle capacity;
    - ``on_order_to_installed``: capacity on order ÷ installed capacity.
    """
    out = pd.DataFrame({"step": model["step"]})
    if "date" in model:
        out["date"] = model["date"]
    out["overbuild_ratio"] = model["installed_gpus"] / model["need_at_full_cost_gpus"]
    out["utilisation"] = model["utilisation"]
    out["price_to_full_cost"] = (
        model["spot_price_usd_per_gpu_hour"] / model["full_cost_usd_per_gpu_hour"]
    )
    out["stranded_book_usd"] = model["impairment_cumulative_usd"] + model["fleet_book_usd"] * (
        1.0 - model["utilisation"].clip(0.0, 1.0)
    )
    out["on_order_to_installed"] = model["gpus_on_order"] / model["installed_gpus"]
    return out


@dataclass(frozen=True)
class BustOutcome:
    """How a bust played out after demand stopped growing at ``bust_month``."""

    price_fall: float  # 1 − price(bust + window) / price(bust)
    trough_utilisation: float  # lowest utilisation within `horizon` months of the bust
    peak_overbuild_ratio: float
    impairment_usd: float  # written off from the bust month on


def bust_outcome(
    model: pd.DataFrame, bust_month: int, window: int = 24, horizon: int = 60
) -> BustOutcome:
    """Outcomes to compare with the telecom bust (price −60 to −85% over two years;
    utilisation toward 35%)."""
    if not 0 <= bust_month < len(model) - window:
        raise ValueError(
            f"bust_month must be between 0 and {len(model) - window - 1} for a run of "
            f"{len(model)} months and a window of {window}, got {bust_month}"
        )
    price = model["spot_price_usd_per_gpu_hour"].to_numpy()
    after = model.iloc[bust_month : bust_month + horizon + 1]
    series = overbuild_series(after)
    impaired = model["impairment_cumulative_usd"]
    return BustOutcome(
        price_fall=float(1.0 - price[bust_month + window] / price[bust_month]),
        trough_utilisation=float(after["utilisation"].min()),
        peak_overbuild_ratio=float(series["overbuild_ratio"].max()),
        impairment_usd=float(impaired.iloc[-1] - impaired.iloc[bust_month]),
    )
