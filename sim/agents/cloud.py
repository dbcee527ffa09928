"""Clouds (hyperscalers and neoclouds): build capacity, sell it under contract and on spot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.agents.base import MarketAgent
from sim.config import CloudSpec
from sim.ledger import Line

if TYPE_CHECKING:
    from sim.model import ComputeMarket


@dataclass
class Vintage:
    """GPUs delivered together: online from ``online_step``, depreciated straight-line.

    Book values are in integer cents, the unit of the ledger, so the fleet on the books equals
    the sum of vintages exactly.
    """

    delivered_step: int
    online_step: int
    gpus: float  # H100-equivalents still in service
    chip_cost_cents: int
    facility_cost_cents: int
    chip_book_cents: int
    facility_book_cents: int

    def is_online(self, step: int) -> bool:
        return step >= self.online_step and self.gpus > 0

    @property
    def book_cents(self) -> int:
        return self.chip_book_cents + self.facility_book_cents


class Cloud(MarketAgent):
    """A seller of GPU capacity. Orders chips when contracted plus forecast demand exceed
    what it has and has on order (a stock-adjustment rule with a supply-line weight)."""

    kind = "Cloud"

    def __init__(self, model: ComputeMarket, name: str, spec: CloudSpec) -> None:
        super().__init__(model, name, spec.archetype)
        self.spec = spec
        self.fleet: list[Vintage] = []
        self.used_gpus = 0.0
        self.spot_sold_gpus = 0.0
        self.revenue_usd = 0.0
        self.costs_usd = 0.0
        self.market_need_history: list[float] = []  # total need seen in the market, GPUs
        self.offer_plan: dict[int, float] = {}  # price_driven: GPUs to offer in a month

    # --- capacity ----------------------------------------------------------------------
    def installed_gpus(self, step: int) -> float:
        return sum(v.gpus for v in self.fleet if v.is_online(step))

    def pipeline_gpus(self, step: int) -> float:
        """GPUs ordered or delivered but not yet online."""
        on_order = sum(o.undelivered for o in self.model.book.open_orders(buyer=self.name))
        built = sum(v.gpus for v in self.fleet if v.online_step > step)
        return on_order + built

    def retiring_gpus(self, step: int, horizon: int) -> float:
        """GPUs that reach the end of their service life within ``horizon`` months."""
        life = self.model.cfg.technology.chip_life_months
        return sum(v.gpus for v in self.fleet if v.online_step + life <= step + horizon)

    def offered_gpus(self, step: int) -> float:
        """GPUs offered to the market: all installed, or under the price-driven rule what was
        decided a build lag ago (the rest stands idle)."""
        installed = self.installed_gpus(step)
        if self.spec.investment_rule != "price_driven":
            return installed
        return min(installed, self.offer_plan.get(step, installed))

    def plan_offer(self, step: int, horizon: int, price: float) -> float:
        """Price-driven rule (the cobweb supply curve): offer ``c + d·price`` GPUs in
        ``horizon`` months; returns the capacity wanted then."""
        spec = self.spec
        offer = max(0.0, spec.price_driven_base_gpus + spec.price_driven_slope_gpus_per_usd * price)
        self.offer_plan[step + horizon] = offer
        return offer

    def fleet_book_cents(self) -> int:
        return sum(v.book_cents for v in self.fleet)

    def utilisation(self, step: int) -> float:
        installed = self.installed_gpus(step)
        return self.used_gpus / installed if installed > 0 else 0.0

    # --- decisions -----------------------------------------------------------------------
    def forecast_market_need(self, horizon: int) -> float:
        """Trend extrapolation of the market's GPU need ``horizon`` months ahead."""
        hist = self.market_need_history
        if not hist:
            return 0.0
        window = min(self.spec.forecast_window_months, len(hist) - 1)
        growth = 0.0
        if window >= 1 and hist[-1 - window] > 0:
            growth = (hist[-1] / hist[-1 - window]) ** (1.0 / window) - 1.0
        return hist[-1] * (1.0 + max(growth, -0.5)) ** horizon

    def desired_capacity(
        self, step: int, horizon: int, contracted_then: float, market_share: float
    ) -> float:
        """GPUs wanted online at ``step + horizon``: contracted backlog plus this cloud's share of
        the forecast uncontracted need, plus a reserve margin."""
        market_contracted = self.model.total_contracted(step + horizon)
        uncontracted = max(0.0, self.forecast_market_need(horizon) - market_contracted)
        return (contracted_then + market_share * uncontracted) * (1.0 + self.spec.reserve_margin)

    def order_gpus(self, step: int, desired: float, horizon: int) -> float:
        """Stock adjustment: desired − (installed − retiring) − weight × supply line, ≥ 0."""
        kept = self.installed_gpus(step) - self.retiring_gpus(step, horizon)
        supply_line = self.pipeline_gpus(step)
        return max(0.0, desired - kept - self.spec.supply_line_weight * supply_line)

    def borrowing_headroom(self, step: int) -> float:
        """USD more that lenders would lend: a share of backlog and of fleet value, less debt."""
        fin = self.model.cfg.finance
        hours = self.model.cfg.market.hours_per_month
        limit = fin.max_loan_to_backlog * self.model.book.backlog_usd(
            self.name, step, hours
        ) + fin.max_loan_to_fleet * self.model.ledger.balance(self.name, Line.FLEET)
        return max(0.0, limit - self.model.book.debt_usd(self.name))

    def committed_capex(self) -> float:
        """USD still to pay for chips and facilities already ordered."""
        facility = self.model.facility_cost_per_gpu
        return sum(
            o.undelivered * (o.unit_price_usd * (1 - o.vendor_financed_share) + facility)
            for o in self.model.book.open_orders(buyer=self.name)
        )

    def funding_capacity(self, step: int) -> float:
        """USD the cloud can put into new orders: cash, credit headroom and other income over
        the build lag, less what it has committed and a cash buffer."""
        horizon = self.model.cfg.technology.build_lag_months
        buffer = self.model.cfg.finance.cash_buffer_months * self.costs_usd
        return (
            self.cash
            + self.borrowing_headroom(step)
            + self.spec.other_business_income_usd_per_month * horizon
            - self.committed_capex()
            - buffer
            - self.arrears_usd
        )
