"""Clouds (hyperscalers and neoclouds): build capacity, sell it under contract and on spot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from sim import costs
from sim.agents.base import Column, MarketAgent
from sim.agents.view import MarketView
from sim.config import CloudSpec
from sim.ledger import Line, to_cents

if TYPE_CHECKING:
    from sim.agents.chip_vendor import ChipVendor
    from sim.agents.investor import Investor


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

    kind: ClassVar[str] = "Cloud"
    columns: ClassVar[dict[str, Column]] = {
        **MarketAgent.columns,
        "gpus_installed": lambda a: a.installed_gpus(a.market.month),
        "gpus_used": lambda a: a.used_gpus,
        "gpus_contracted": lambda a: a.market.contracted_gpus(seller=a.name, step=a.market.month),
    }

    def __init__(self, model: mesa.Model, market: MarketView, name: str, spec: CloudSpec) -> None:
        super().__init__(model, market, name, spec.archetype)
        self.spec = spec
        self.fleet: list[Vintage] = []
        self.used_gpus = 0.0
        self.costs_usd = 0.0
        self.market_need_history: list[float] = []  # total need seen in the market, GPUs
        self.offer_plan: dict[int, float] = {}  # price_driven: GPUs to offer in a month

    @property
    def sells_to_market(self) -> bool:
        """A lease vehicle serves its one lessee; other clouds sell to everyone."""
        return self.spec.archetype != "lease_vehicle"

    # --- capacity ----------------------------------------------------------------------
    def installed_gpus(self, step: int) -> float:
        return sum(v.gpus for v in self.fleet if v.is_online(step))

    def pipeline_gpus(self, step: int) -> float:
        """GPUs ordered or delivered but not yet online."""
        on_order = sum(o.undelivered for o in self.market.open_orders(buyer=self.name))
        built = sum(v.gpus for v in self.fleet if v.online_step > step)
        return on_order + built

    def retiring_gpus(self, step: int, horizon: int) -> float:
        """GPUs that reach the end of their service life within ``horizon`` months."""
        life = self.market.cfg.technology.chip_life_months
        return sum(v.gpus for v in self.fleet if v.online_step + life <= step + horizon)

    def offered_gpus(self, step: int) -> float:
        """GPUs offered to the market: all installed, or under the price-driven rule what was
        decided a build lag ago (the rest stands idle)."""
        installed = self.installed_gpus(step)
        if self.spec.investment_rule != "price_driven":
            return installed
        return min(installed, self.offer_plan.get(step, installed))

    def plan_offer(self, step: int, horizon: int, price: float) -> float:
        """Price-driven rule (the cobweb supply curve, Ezekiel 1938): offer ``c + d·price``
        GPUs in ``horizon`` months; returns the capacity wanted then."""
        spec = self.spec
        offer = max(0.0, spec.price_driven_base_gpus + spec.price_driven_slope_gpus_per_usd * price)
        self.offer_plan[step + horizon] = offer
        return offer

    def fleet_book_cents(self) -> int:
        return sum(v.book_cents for v in self.fleet)

    def start_month(self) -> None:
        """Nothing is used yet this month."""
        self.used_gpus = 0.0

    def record_costs(self, usd: float) -> None:
        """The month's operating costs (USD); debt service is added by :meth:`add_costs`."""
        self.costs_usd = usd

    def add_costs(self, usd: float) -> None:
        self.costs_usd += usd

    def record_use(self, gpus: float) -> None:
        """``gpus`` of this cloud's capacity were used (by a contract, spot, a backstop)."""
        self.used_gpus += gpus

    def receive_chips(self, vintage: Vintage) -> None:
        """Delivered chips join the fleet (online after the build lag)."""
        self.fleet.append(vintage)

    # --- selling -----------------------------------------------------------------------
    def quote_contract_price(self) -> float:
        """Price asked for a new term contract, USD/GPU-hour: the contract ratio times an
        adaptive expectation of the spot price (Nerlove 1958 adaptive expectations)."""
        m = self.market
        return costs.contract_price(m.cfg.market, m.spot_price, m.price_history)

    # --- investment ----------------------------------------------------------------------
    def observe_market_need(self, gpus: float) -> None:
        """The market's total GPU need this month (what the cloud's forecast extrapolates)."""
        self.market_need_history.append(gpus)

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
        market_contracted = self.market.contracted_gpus(step=step + horizon)
        uncontracted = max(0.0, self.forecast_market_need(horizon) - market_contracted)
        return (contracted_then + market_share * uncontracted) * (1.0 + self.spec.reserve_margin)

    def order_gpus(self, step: int, desired: float, horizon: int) -> float:
        """Stock adjustment: desired − (installed − retiring) − weight × supply line, ≥ 0."""
        kept = self.installed_gpus(step) - self.retiring_gpus(step, horizon)
        supply_line = self.pipeline_gpus(step)
        return max(0.0, desired - kept - self.spec.supply_line_weight * supply_line)

    def gpus_to_order(
        self, step: int, horizon: int, market_share: float, unit_cost: float
    ) -> float:
        """GPUs to order this month: the investment rule's wish (Sterman's 1989 anchoring
        and adjustment with a supply line, or the price-driven cobweb), capped by what the
        cloud can fund at ``unit_cost`` USD per GPU (chip plus facility)."""
        if self.spec.investment_rule == "price_driven":
            desired = self.plan_offer(step, horizon, self.market.spot_price)
        else:
            contracted_then = self.market.contracted_gpus(seller=self.name, step=step + horizon)
            desired = self.desired_capacity(step, horizon, contracted_then, market_share)
        return min(
            self.order_gpus(step, desired, horizon),
            max(0.0, self.funding_capacity(step)) / unit_cost,
        )

    def split_order(self, gpus: float, vendors: Sequence[ChipVendor]) -> dict[str, float]:
        """GPUs to order from each vendor: by the vendors' configured order shares."""
        share_total = sum(v.spec.order_share for v in vendors)
        return {v.name: gpus * v.spec.order_share / share_total for v in vendors}

    # --- finance -------------------------------------------------------------------------
    def borrowing_headroom(self, step: int) -> float:
        """USD more that lenders would lend: a share of backlog and of fleet value, less debt."""
        fin = self.market.cfg.finance
        limit = fin.max_loan_to_backlog * self.market.backlog_usd(
            self.name, step
        ) + fin.max_loan_to_fleet * self.market.balance(self.name, Line.FLEET)
        return max(0.0, limit - self.market.debt_usd(self.name))

    def committed_capex(self) -> float:
        """USD still to pay for chips and facilities already ordered."""
        facility = self.market.facility_cost(self.market.month)
        return sum(
            o.undelivered * (o.unit_price_usd + facility)
            for o in self.market.open_orders(buyer=self.name)
        )

    def funding_capacity(self, step: int) -> float:
        """USD the cloud can put into new orders: cash, credit headroom and other income over
        the build lag, less what it has committed and a cash buffer."""
        horizon = self.market.cfg.technology.build_lag_months
        buffer = self.market.cfg.finance.cash_buffer_months * self.costs_usd
        return (
            self.cash
            + self.borrowing_headroom(step)
            + self.spec.other_business_income_usd_per_month * horizon
            - self.committed_capex()
            - buffer
            - self.arrears_usd
        )

    def borrowing_wanted(self, step: int) -> float:
        """USD to borrow now: arrears and a cash buffer, less cash, up to the borrowing
        headroom (a liquidity-need rule as in Caiani et al.'s JMAB ``getLoanRequirement``).
        Chips on order are not borrowed for while they wait: they are drawn on delivery
        (issue 13, ``phases.settle.draw_on_delivery``)."""
        buffer = self.market.cfg.finance.cash_buffer_months * self.costs_usd
        want = self.arrears_usd + buffer - self.cash
        return min(want, self.borrowing_headroom(step)) if want > 0 else 0.0

    def choose_syndicate(
        self, lenders: Sequence[Investor], sentiment: float
    ) -> list[tuple[Investor, float]]:
        """The lenders of a loan and what each offers: the ``finance.syndicate_size`` with
        the largest budgets (at least $1), as a JMAB credit demander picks its suppliers."""
        size = self.market.cfg.finance.syndicate_size
        ranked = sorted(lenders, key=lambda i: (-i.loan_budget(sentiment), i.name))
        return [
            (i, i.loan_budget(sentiment)) for i in ranked[:size] if i.loan_budget(sentiment) >= 1.0
        ]

    def choose_lender(self, lenders: Sequence[Investor]) -> Investor | None:
        """The single lender of a project loan (a lease vehicle's): the one with most cash."""
        ranked = sorted(lenders, key=lambda i: (-i.cash, i.name))
        return ranked[0] if ranked else None

    def bid_for_fleet(self, price_usd: float) -> bool:
        """Buy a defaulter's fleet at ``price_usd``? Yes if the cash is there (the buyer of
        last resort in Shleifer–Vishny 1992 fire sales is the industry peer with cash)."""
        return self.cash >= price_usd

    # --- accounting policy -----------------------------------------------------------------
    def depreciate(self, step: int) -> int:
        """Straight-line depreciation of online vintages; GPUs retire at the end of their
        life. Returns the cents written off the fleet."""
        tech = self.market.cfg.technology
        total = 0
        for v in self.fleet:
            if step < v.online_step:
                continue
            chip = min(v.chip_book_cents, -(-v.chip_cost_cents // tech.chip_life_months))
            facility = min(
                v.facility_book_cents, -(-v.facility_cost_cents // tech.facility_life_months)
            )
            if step >= v.online_step + tech.chip_life_months:
                chip, v.gpus = v.chip_book_cents, 0.0
            v.chip_book_cents -= chip
            v.facility_book_cents -= facility
            total += chip + facility
        self.fleet = [v for v in self.fleet if v.gpus > 0 or v.book_cents > 0]
        return total

    def impair(self, step: int) -> int:
        """Write the fleet down to its economic value where that is below book value (IAS 36
        value in use); returns the cents written off.

        The value of a GPU is its expected cash margin over its remaining service life,
        discounted at the cost of capital: the price it can earn (contract price for the
        contracted share, spot for the rest) following the spot price's own 12-month trend
        (falling no faster than technology), minus the cash operating cost. New chips that
        give more compute per dollar push that trend down: economic obsolescence.
        """
        tech, hours = self.market.cfg.technology, self.market.cfg.market.hours_per_month
        life = tech.chip_life_months
        spot = self.market.spot_price
        recent = list(self.market.price_history[-13:])
        trend = (math.log(recent[-1] / recent[0]) / (len(recent) - 1)) if len(recent) > 1 else 0.0
        trend = min(0.0, max(trend, -math.log(tech.compute_per_dollar_growth_per_year) / 12))
        months = np.arange(1, life + 1)
        discount = (1 + tech.cost_of_capital_per_year) ** (-months / 12)
        installed = self.installed_gpus(step)
        contracts = self.market.contracts_of(self.name, step)
        held = sum(c.gpus for c in contracts)
        c_price = sum(c.gpus * c.price_usd_per_gpu_hour for c in contracts) / held if held else 0.0
        share = min(1.0, held / installed) if installed > 0 else 0.0
        price = share * c_price + (1 - share) * spot
        margin = (
            np.maximum(price * np.exp(trend * months) - tech.operating_cost_usd_per_gpu_hour, 0.0)
            * hours
            * discount
        )
        value_by_remaining = np.concatenate([[0.0], np.cumsum(margin)])
        total = 0
        for v in self.fleet:
            if v.gpus <= 0:
                continue
            remaining = min(life, max(0, v.online_step + life - max(step, v.online_step)))
            value = to_cents(v.gpus * value_by_remaining[remaining])
            excess = v.book_cents - value
            if excess <= 0:
                continue
            from_chips = min(excess, v.chip_book_cents)
            v.chip_book_cents -= from_chips
            v.facility_book_cents -= excess - from_chips
            total += excess
        return total

    def give_up_fleet(self) -> list[Vintage]:
        """Hand the whole fleet over (seized and sold in a default)."""
        fleet, self.fleet = self.fleet, []
        return fleet
