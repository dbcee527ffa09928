"""Technology cost curves and reference prices: pure functions of the configuration.

Newer chips give more compute per dollar every year (``technology.compute_per_dollar_growth_
per_year``), so the list price of an H100-equivalent, the facility cost per GPU and the full
cost of a new GPU-hour all fall with time; old capacity loses value (economic obsolescence).
Steps are months from the start of the run (negative for GPUs bought before it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from sim.config import MarketConfig, Scenario, TechnologyConfig


def improvement(tech: TechnologyConfig, step: int) -> float:
    """How many times more compute a dollar buys at ``step`` than at the start."""
    return tech.compute_per_dollar_growth_per_year ** (step / 12.0)


def chip_price(cfg: Scenario, step: int) -> float:
    """Average vendor list price of an H100-equivalent at ``step``, USD (weighted by the
    vendors' order shares)."""
    specs = cfg.chip_vendors
    total = sum([s.order_share for s in specs])
    base = sum([s.unit_price_usd * s.order_share for s in specs]) / total
    return base / improvement(cfg.technology, step)


def facility_cost(tech: TechnologyConfig, step: int) -> float:
    """Non-chip capex per H100-equivalent at ``step``, USD (falls with density)."""
    return tech.facility_capex_usd_per_gpu / improvement(tech, step)


def full_cost(cfg: Scenario, step: int) -> float:
    """Full cost of a new GPU-hour at ``step``, USD: depreciation of chips and facility, a
    return on capital on half the capex (average over life), and cash operating cost."""
    tech = cfg.technology
    chip, facility = chip_price(cfg, step), facility_cost(tech, step)
    monthly = (
        chip / tech.chip_life_months
        + facility / tech.facility_life_months
        + tech.cost_of_capital_per_year / 12 * (chip + facility) / 2
    )
    return monthly / cfg.market.hours_per_month + tech.operating_cost_usd_per_gpu_hour


def full_cost_path(cfg: Scenario, step: int, months: int) -> NDArray[np.float64]:
    """The full cost of a new GPU-hour 1 … ``months`` months after ``step``, as multiples of
    its full cost at ``step`` (:func:`full_cost`): the capital part falls with compute per
    dollar, the cash operating cost does not. What a GPU bought at ``step`` expects its
    price to do when the newest vintage sets the price (Salter 1960).

    A read-only array, worked out once per scenario object, month and length (every cloud
    asks for the same path each month; :data:`_PATHS`)."""
    key = (id(cfg), step, months)
    kept = _PATHS.get(key)
    if kept is not None and kept[0] is cfg:
        return kept[1]
    tech = cfg.technology
    k = np.arange(1, months + 1)
    now = full_cost(cfg, step)
    operating = tech.operating_cost_usd_per_gpu_hour
    capital = (now - operating) * tech.compute_per_dollar_growth_per_year ** (-k / 12.0)
    path = (capital + operating) / now
    path.flags.writeable = False
    if len(_PATHS) >= _PATHS_KEPT:
        _PATHS.clear()
    _PATHS[key] = (cfg, path)
    return path


_PATHS: dict[tuple[int, int, int], tuple[Scenario, NDArray[np.float64]]] = {}
""":func:`full_cost_path`'s answers by (id of the scenario, month, length), each with its
scenario (a hit must be that very object: an id can be reused once an object is gone)."""
_PATHS_KEPT = 4096
"""At most this many answers are kept; then they are all forgotten (a run asks ~120)."""


def contract_price(market: MarketConfig, spot: float, history: Sequence[float]) -> float:
    """Price of a new term contract, USD/GPU-hour: the contract ratio times a blend (in logs)
    of today's spot price and its 12-month average (adaptive expectations, weighted by
    ``contract_expectation_weight``)."""
    recent = list(history[-12:]) or [spot]
    expected = sum(recent) / len(recent)
    w = market.contract_expectation_weight
    return market.contract_price_ratio * spot ** (1 - w) * expected**w
