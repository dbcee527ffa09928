"""Clouds (hyperscalers and neoclouds): build capacity, sell it under contract and on spot."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from sim import costs
from sim.agents.base import Column, MarketAgent
from sim.agents.view import MarketView
from sim.config import CloudSpec, TechnologyConfig
from sim.ledger import CENTS_PER_USD, EXACT_INT, Line, to_cents

if TYPE_CHECKING:
    from sim.agents.chip_vendor import ChipVendor
    from sim.agents.investor import Investor


class Vintage:
    """GPUs delivered together: online from ``online_step``, depreciated straight-line.

    Book values are in integer cents, the unit of the ledger, so the fleet on the books equals
    the sum of vintages exactly. The chip and facility costs are properties: writing one (a
    facility bill paid, a fire sale's new cost) forgets the monthly charges worked out from
    them (:meth:`monthly_charges`).
    """

    __slots__ = (
        "_charges",
        "_chip_cost_cents",
        "_facility_cost_cents",
        "chip_book_cents",
        "delivered_step",
        "facility_book_cents",
        "gpus",
        "online_step",
    )
    _FIELDS = (
        "delivered_step",
        "online_step",
        "gpus",
        "chip_cost_cents",
        "facility_cost_cents",
        "chip_book_cents",
        "facility_book_cents",
    )

    def __init__(
        self,
        delivered_step: int,
        online_step: int,
        gpus: float,
        chip_cost_cents: int,
        facility_cost_cents: int,
        chip_book_cents: int,
        facility_book_cents: int,
    ) -> None:
        self.delivered_step = delivered_step
        self.online_step = online_step
        # H100-equivalents still in service: a Python float, whatever the caller computed it
        # with (sim.instruments' docstring)
        self.gpus = float(gpus)
        self._chip_cost_cents = chip_cost_cents
        self._facility_cost_cents = facility_cost_cents
        self.chip_book_cents = chip_book_cents
        self.facility_book_cents = facility_book_cents
        # (technology, chip charge, facility charge) of monthly_charges, or None: speed only,
        # not a term of the vintage
        self._charges: tuple[TechnologyConfig, int, int] | None = None

    @property
    def chip_cost_cents(self) -> int:
        return self._chip_cost_cents

    @chip_cost_cents.setter
    def chip_cost_cents(self, cents: int) -> None:
        self._chip_cost_cents = cents
        self._charges = None

    @property
    def facility_cost_cents(self) -> int:
        return self._facility_cost_cents

    @facility_cost_cents.setter
    def facility_cost_cents(self, cents: int) -> None:
        self._facility_cost_cents = cents
        self._charges = None

    def monthly_charges(self, tech: TechnologyConfig) -> tuple[int, int]:
        """Straight-line depreciation a month of the chips and of the facility, cents: each
        cost over its life in months (``tech``'s), rounded up. Kept until a cost is written
        (dividing integers above 2**30 cents is one of the dearer steps of a month), for the
        same ``tech`` object."""
        kept = self._charges
        if kept is not None and kept[0] is tech:
            return kept[1], kept[2]
        chip = -(-self._chip_cost_cents // tech.chip_life_months)
        facility = -(-self._facility_cost_cents // tech.facility_life_months)
        self._charges = (tech, chip, facility)
        return chip, facility

    def is_online(self, step: int) -> bool:
        return step >= self.online_step and self.gpus > 0

    @property
    def book_cents(self) -> int:
        return self.chip_book_cents + self.facility_book_cents

    def __eq__(self, other: object) -> bool:
        if type(other) is not Vintage:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        terms = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS)
        return f"Vintage({terms})"


class Cloud(MarketAgent):
    """A seller of GPU capacity. Orders chips when contracted plus forecast demand exceed
    what it has and has on order (a stock-adjustment rule with a supply-line weight), the
    forecast taken at a price that covers cost and scaled by the expected return of a new GPU
    (``expected_return``), or at today's price (``stock_adjustment``)."""

    kind: ClassVar[str] = "Cloud"
    columns: ClassVar[dict[str, Column]] = {
        **MarketAgent.columns,
        "gpus_installed": lambda a: a.installed_gpus(a.market.month),
        "gpus_used": lambda a: a.used_gpus,
        "gpus_contracted": lambda a: a.market.contracted_gpus(seller=a.name, step=a.market.month),
        # 1.0 in a glut month, else 0.0 (a number: other agents' rows are NaN, as in Parquet)
        "in_glut": lambda a: float(a.in_glut(a.market.month)),
    }

    def __init__(self, model: mesa.Model, market: MarketView, name: str, spec: CloudSpec) -> None:
        super().__init__(model, market, name, spec.archetype)
        self.spec = spec
        self.fleet: list[Vintage] = []
        self.used_gpus = 0.0
        self.costs_usd = 0.0
        self.market_need_history: list[float] = []  # total need seen in the market, GPUs
        self.need_at_cover_history: list[float] = []  # the same at the full-cost price, GPUs
        # a hyperscaler's own AI workloads (the scale issue), GPUs, at the spot price and at
        # the full-cost price
        self.own_need_history: list[float] = []
        self.own_need_at_cover_history: list[float] = []
        self.offer_plan: dict[int, float] = {}  # price_driven: GPUs to offer in a month
        # installed_gpus by month, each kept until a vintage online that month joins the
        # fleet or one in service retires (a vintage leaving has no GPUs: in no answer)
        self._installed_at: dict[int, float] = {}
        # the vintages with GPUs, their online months and GPUs (_in_service), with the fleet
        # list and its length they were taken from
        self._kept_in_service: (
            tuple[list[Vintage], int, list[Vintage], np.ndarray, np.ndarray] | None
        ) = None
        # what its open orders come to, kept while they are unchanged (MarketView.orders_version)
        self._on_order: tuple[object, float] | None = None
        self._due_by_month: tuple[tuple[object, ...], list[float]] | None = None
        # capex_shortfall_usd's answers while its open orders are unchanged, by (income,
        # order_usd and its type)
        self._shortfalls: tuple[tuple[object, ...], dict[tuple[object, ...], float]] | None = None
        # contracted_income_usd's last answer, by its contracts' version, month and
        # installed GPUs
        self._contracted_income: tuple[tuple[object, ...], float] | None = None
        # committed delayed-draw capex credit: USD each lender has committed and the cloud
        # has not drawn yet (off the balance sheet until drawn, as a bank's undrawn line)
        self.committed_credit: dict[str, float] = {}

    @property
    def sells_to_market(self) -> bool:
        """A lease vehicle serves its one lessee; other clouds sell to everyone."""
        return self.spec.archetype != "lease_vehicle"

    @property
    def runs_own_workloads(self) -> bool:
        """A hyperscaler runs AI workloads of its own (search, ads, copilots, its models);
        neoclouds and lease vehicles only sell capacity."""
        return self.spec.archetype == "hyperscaler" and not self.defaulted

    def own_workload_weight(self, step: int) -> float:
        """This hyperscaler's weight in the hyperscalers' own AI workloads at ``step``: with
        ``outside.own_workloads_by_income`` the monthly income of its other businesses
        (search, ads, software, retail: the workloads serve them), else its installed GPUs.
        By the installed fleet (the rule until MODEL_VERSION 0.38.1), a cloud building for a
        lab's contract takes a growing share of the others' own workloads and builds for
        that too: the Oracle-like cloud's own-need forecast reached 29M GPUs by month 29 of
        the baseline. Our own estimate: own AI workloads in proportion to the business they
        serve."""
        if self.market.cfg.outside.own_workloads_by_income:
            return self.spec.other_business_income_usd_per_month
        return self.installed_gpus(step)

    def in_house_gpus(self, wanted: float, free: float) -> float:
        """GPUs of its own AI workloads the hyperscaler runs this month on its ``free``
        (uncontracted) capacity when they want ``wanted`` at today's price: all it can, the
        rest it rents on the spot market. Its own use is worth the spot price to it (the
        opportunity cost of not selling the GPU-hour), so it serves itself first and sells
        what is left — the vertically integrated firm's internal transfer at the market
        price (Hirshleifer 1956); contracted capacity is never taken back."""
        if not self.runs_own_workloads:
            return 0.0
        return max(0.0, min(wanted, free))

    # --- capacity ----------------------------------------------------------------------
    def installed_gpus(self, step: int) -> float:
        # each answer kept until the GPUs it adds change (receive_chips, depreciate,
        # give_up_fleet: the only writers of the fleet and its GPUs)
        installed = self._installed_at.get(step)
        if installed is None:
            # sum() of the GPUs of the vintages with GPUs online at step (Vintage.is_online),
            # in fleet order: the same floats in the same order as a scan of the fleet
            _, online, gpus = self._in_service()
            installed = sum(gpus[online <= step].tolist())
            self._installed_at[step] = installed
        return installed

    def pipeline_gpus(self, step: int) -> float:
        """GPUs ordered or delivered but not yet online."""
        version = self.market.orders_version(self.name)
        if self._on_order is not None and self._on_order[0] == version:
            on_order = self._on_order[1]
        else:
            on_order = sum([o.undelivered for o in self.market.open_orders(buyer=self.name)])
            self._on_order = (version, on_order)
        # sum() of the GPUs of the vintages not yet online, in fleet order, from the kept
        # vintages in service (a vintage without GPUs adds 0.0, which changes neither a
        # compensated sum nor its compensation: the same double as a scan of the fleet)
        _, online, gpus = self._in_service()
        built = sum(gpus[online > step].tolist(), 0.0)
        return on_order + built

    def retiring_gpus(self, step: int, horizon: int) -> float:
        """GPUs that reach the end of their service life within ``horizon`` months."""
        life = self.market.cfg.technology.chip_life_months
        # as pipeline_gpus reads them: the kept vintages in service, in fleet order
        _, online, gpus = self._in_service()
        return sum(gpus[online + life <= step + horizon].tolist(), 0.0)

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
        """The fleet's book value, integer cents (the sum of its vintages' ``book_cents``)."""
        return sum([v.chip_book_cents + v.facility_book_cents for v in self.fleet])

    def start_month(self) -> None:
        """Nothing is used yet this month."""
        self.used_gpus = 0.0

    def record_costs(self, usd: float) -> None:
        """The month's operating costs (USD); debt service is added by :meth:`add_costs`."""
        self.costs_usd = usd

    def add_costs(self, usd: float) -> None:
        self.costs_usd += usd

    def record_use(self, gpus: float) -> None:
        """``gpus`` of this cloud's capacity were used (by a contract, spot, a backstop); kept
        as a Python float (see :mod:`sim.instruments`)."""
        self.used_gpus += float(gpus)

    def receive_chips(self, vintage: Vintage) -> None:
        """Delivered chips join the fleet (online after the build lag)."""
        self.fleet.append(vintage)
        if vintage.gpus > 0:  # in the installed GPUs from its online month on
            online = vintage.online_step
            for step in [step for step in self._installed_at if step >= online]:
                del self._installed_at[step]

    # --- selling -----------------------------------------------------------------------
    def quote_contract_price(self) -> float:
        """Price asked for a new term contract, USD/GPU-hour: the contract ratio times an
        adaptive expectation of the spot price (Nerlove 1958 adaptive expectations)."""
        m = self.market
        return costs.contract_price(m.cfg.market, m.spot_price, m.price_history)

    # --- investment ----------------------------------------------------------------------
    def observe_market_need(self, gpus: float, outside_gpus: float = 0.0) -> None:
        """The market's total GPU need this month at this month's spot price (what the
        cloud's forecast extrapolates): the labs' ``gpus`` and the ``outside_gpus`` of the
        buyers beyond them; and what it would be at a price that just covers the full cost
        of a new GPU-hour (each moved along its demand curve of constant elasticity)."""
        self.market_need_history.append(gpus + outside_gpus)
        m = self.market
        spot = m.spot_price
        cover = m.full_cost(m.month)
        at_cover = gpus + outside_gpus
        if spot > 0 and cover > 0:
            at_cover = (
                gpus * (cover / spot) ** m.cfg.demand.price_elasticity
                + outside_gpus * (cover / spot) ** m.cfg.outside.price_elasticity
            )
        self.need_at_cover_history.append(at_cover)

    def observe_own_need(self, gpus: float) -> None:
        """What the hyperscaler's own AI workloads wanted this month at the spot price (GPUs),
        and at a price that just covers the full cost of a new GPU-hour (along the outside
        demand's curve)."""
        self.own_need_history.append(gpus)
        m = self.market
        spot, cover = m.spot_price, m.full_cost(m.month)
        at_cover = gpus
        if spot > 0 and cover > 0:
            at_cover = gpus * (cover / spot) ** m.cfg.outside.price_elasticity
        self.own_need_at_cover_history.append(at_cover)

    def forecast_own_need(self, horizon: int) -> float:
        """Trend extrapolation of the hyperscaler's own workloads ``horizon`` months ahead, at
        a cost-covering price under ``expected_return``, at today's price otherwise (the same
        rule as :meth:`forecast_market_need`); 0 for a cloud without workloads of its own.
        A firm builds for its own use as for a contract: it is demand it does not have to
        win (the make side of Williamson's make-or-buy)."""
        hist = (
            self.own_need_at_cover_history
            if self.spec.investment_rule == "expected_return"
            else self.own_need_history
        )
        return self._extrapolate(hist, horizon)

    def forecast_market_need(self, horizon: int) -> float:
        """Trend extrapolation of the market's GPU need ``horizon`` months ahead: at a price
        that covers cost under ``expected_return`` (a fall in price is not read as growth),
        at today's price otherwise."""
        hist = (
            self.need_at_cover_history
            if self.spec.investment_rule == "expected_return"
            else self.market_need_history
        )
        return self._extrapolate(hist, horizon)

    def _extrapolate(self, hist: list[float], horizon: int) -> float:
        """The last value of ``hist`` grown at its average monthly growth over the forecast
        window (no faster fall than −50% a month), ``horizon`` months on."""
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
        """GPUs wanted online at ``step + horizon``: contracted backlog and its own workloads'
        forecast (:meth:`forecast_own_need`) plus this cloud's share of the forecast
        uncontracted need on the market, plus a reserve margin."""
        market_contracted = self.market.contracted_gpus(step=step + horizon)
        uncontracted = max(0.0, self.forecast_market_need(horizon) - market_contracted)
        own = self.forecast_own_need(horizon)
        return (contracted_then + own + market_share * uncontracted) * (
            1.0 + self.spec.reserve_margin
        )

    def order_gpus(self, step: int, desired: float, horizon: int) -> float:
        """Stock adjustment: desired − (installed − retiring) − weight × supply line, ≥ 0."""
        kept = (
            self.installed_gpus(step)
            - self.retiring_gpus(step, horizon)
            + self.bought_gpus(step + horizon)
        )
        supply_line = self.pipeline_gpus(step)
        return max(0.0, desired - kept - self.spec.supply_line_weight * supply_line)

    def expected_price(self) -> float:
        """The spot price the cloud expects, USD/GPU-hour: a blend in logs of today's price
        and its 12-month average (adaptive expectations, Nerlove 1958, with the market's
        ``contract_expectation_weight``)."""
        m = self.market
        recent = list(m.price_history[-12:]) or [m.spot_price]
        w = m.cfg.market.contract_expectation_weight
        return m.spot_price ** (1 - w) * (sum(recent) / len(recent)) ** w

    def tobin_q(self, step: int, unit_cost: float) -> float:
        """Tobin's q of a new GPU bought at ``unit_cost`` USD (chip and facility): the
        present value of its expected cash margin over its service life, over its cost.

        ECONOMICS.md §4: ``Σ_k max(p̂_k u − c_op, 0) h / (1 + r)^k``, with u the expected
        utilisation, c_op the cash operating cost, h hours a month, r the cloud's own cost of
        capital (its borrowing rate, at least the world's cost of capital). The expected
        price p̂_k follows the full cost of a new GPU-hour k months on
        (:func:`costs.full_cost_path`): the newest vintage sets the price and older ones earn
        a quasi-rent over their cash cost until it falls below it, when they stand idle
        (Salter 1960, *Productivity and Technical Change*, ch. 4-5: the vintage model). The
        full cost falls with compute per dollar in its capital part and not in its cash
        operating cost. Before MODEL_VERSION 0.64 p̂_k fell at the full rate of compute per
        dollar (1.4× a year: a price 7.5× lower at the end of a 6-year life, below the cash
        cost from about year 4) and a margin below the cash cost counted as a loss, so q was
        0.4-0.5 in 2025 at a spot price 1.7× the full cost and about 0 by 2030 (a cloud
        saw no return in building at any price then)."""
        cfg = self.market.cfg
        tech, inv = cfg.technology, cfg.investment
        rate = max(self.spec.interest_rate_per_year, tech.cost_of_capital_per_year)
        discount = _discount_factors(tech.chip_life_months, rate)
        price = self.expected_price() * costs.full_cost_path(cfg, step, tech.chip_life_months)
        margin = np.maximum(
            price * inv.expected_utilisation - tech.operating_cost_usd_per_gpu_hour, 0.0
        ) * (cfg.market.hours_per_month)
        return float((margin * discount).sum()) / unit_cost if unit_cost > 0 else 0.0

    def in_glut(self, step: int) -> bool:
        """Has the spot price been below ``glut_price_ratio`` × the full cost of a new
        GPU-hour in each of the last ``glut_months`` months? Then the cloud builds only for
        its contracts (Dosi et al.'s K+S: expansion investment follows expected demand, and a
        price below cost for that long is no demand to build for; the threshold is issue 16's)."""
        inv = self.market.cfg.investment
        history = self.market.price_history
        if len(history) < inv.glut_months:
            return False
        first = len(history) - inv.glut_months
        return all(
            history[k] < inv.glut_price_ratio * self.market.full_cost(k)
            for k in range(first, len(history))
        )

    def glut_capacity(self, step: int, horizon: int) -> float:
        """GPUs wanted online at ``step + horizon`` in a glut (:meth:`in_glut`): the capacity
        its contracts in force then take, and no reserve margin. A reserve is capacity
        built to sell on spot, and the spot price has been below ``glut_price_ratio`` × the
        full cost of a new GPU-hour for ``glut_months`` months: a GPU built for it is
        expected to lose money (Dosi et al.'s K+S: expansion follows expected demand; Tobin
        1969: no investment at q < 1). Contracts are take-or-pay at their own price, so
        capacity they take is still worth building. A hyperscaler's own workloads are worth
        the spot price to it (:meth:`in_house_gpus`), so in a glut it rents for them on spot
        rather than build."""
        return self.market.contracted_gpus(seller=self.name, step=step + horizon)

    def rivals_pipeline_gpus(self) -> float:
        """GPUs in rivals' announced pipelines: on order, delivered but still being built
        into data centres (a data-centre project is announced when it is ordered and counts
        until it is online), and, with ``preemption.counts_backlog``, the contracted
        capacity they have sold and not yet ordered (:meth:`MarketView.unbuilt_backlog_gpus`:
        a commitment is announced the day it is signed, as Oracle's $455B RPO in September
        2025 for capacity online in 2027-30, and its later phases are capacity the rival
        will build). Until MODEL_VERSION 0.51 only orders and builds counted, so the later
        phases of a phased commitment were invisible to pre-emption until ordered."""
        m = self.market
        on_order = sum(o.undelivered for o in m.open_orders() if o.buyer != self.name)
        pipeline = on_order + m.building_gpus(exclude=self.name)
        if m.cfg.preemption.counts_backlog:
            pipeline += m.unbuilt_backlog_gpus(exclude=self.name)
        return pipeline

    def preemptive_gpus(self, market_share: float) -> float:
        """Capacity built to keep pace with rivals' announced pipelines: ``preemption_weight``
        × s/(1 − s) × rivals' pipelines (:meth:`rivals_pipeline_gpus`), s the cloud's market
        share (Spence 1977, Dixit 1980: capacity committed ahead of demand to pre-empt
        rivals — a share-of-the-boom rule). Until MODEL_VERSION 0.33 only rivals' chips on
        order counted, so a rival's project dropped out of sight on delivery, half a build
        lag before its capacity reached the market."""
        weight = self.market.cfg.investment.preemption_weight
        if weight <= 0 or market_share >= 1:
            return 0.0
        return weight * market_share / (1 - market_share) * self.rivals_pipeline_gpus()

    def desired_by_expected_return(
        self, step: int, horizon: int, market_share: float, unit_cost: float
    ) -> float:
        """GPUs wanted online at ``step + horizon`` under ``expected_return``: the contracted
        backlog and its own workloads' forecast (:meth:`forecast_own_need`, built as for a
        contract), plus the share ``1 + b(q − 1)`` (between 0 and 1) of the cloud's share of the
        forecast uncontracted need at a cost-covering price (Tobin's q investment, ECONOMICS.md
        §4), plus its pre-emptive capacity (:meth:`preemptive_gpus`), plus the reserve margin.

        Pre-emptive capacity is not scaled by q: a commitment to capacity ahead of rivals is
        worth its strategic value, not the stand-alone return of the GPU (Spence 1977; Dixit
        1980: the incumbent accepts a capacity it would not build alone to keep the market's
        growth from its rivals). Until MODEL_VERSION 0.48 it was scaled by q's share, which is
        zero at q below ``1 − 1/b`` (q ≈ 0.4–0.7 at the 2025–26 prices: a GPU valued on a
        price falling with compute per dollar), so pre-emption never acted in the boom; a
        glut (:meth:`in_glut`) still stops it."""
        contracted_then = self.market.contracted_gpus(seller=self.name, step=step + horizon)
        market_contracted = self.market.contracted_gpus(step=step + horizon)
        uncontracted = max(0.0, self.forecast_market_need(horizon) - market_contracted)
        q = self.tobin_q(step, unit_cost)
        built = min(1.0, max(0.0, 1.0 + self.market.cfg.investment.q_sensitivity * (q - 1.0)))
        speculative = built * (market_share * uncontracted) + self.preemptive_gpus(market_share)
        own = self.forecast_own_need(horizon)
        return (contracted_then + own + speculative) * (1.0 + self.spec.reserve_margin)

    def gpus_to_order(
        self, step: int, horizon: int, market_share: float, unit_cost: float
    ) -> float:
        """GPUs to order this month: the investment rule's wish (expected return, Sterman's
        1989 anchoring and adjustment with a supply line, or the price-driven cobweb), capped
        by what the cloud can fund at ``unit_cost`` USD per GPU (chip plus facility). After a
        glut (:meth:`in_glut`) the first two order only what their contracts need beyond
        what is installed, bought and on order (the whole supply line)."""
        rule = self.spec.investment_rule
        contracted_then = self.market.contracted_gpus(seller=self.name, step=step + horizon)
        if rule == "price_driven":
            desired = self.plan_offer(step, horizon, self.market.spot_price)
        elif self.in_glut(step):
            # in a glut only the contracts count, net of everything on order (the whole
            # supply line: neglecting part of it would re-order what a cancellation removed)
            wanted = self.glut_capacity(step, horizon) - self.bought_gpus(step + horizon)
            wanted -= self.installed_gpus(step) - self.retiring_gpus(step, horizon)
            wanted -= self.pipeline_gpus(step)
            return min(max(0.0, wanted), max(0.0, self.funding_capacity(step)) / unit_cost)
        elif rule == "expected_return":
            desired = self.desired_by_expected_return(step, horizon, market_share, unit_cost)
        else:
            desired = self.desired_capacity(step, horizon, contracted_then, market_share)
        return min(
            self.order_gpus(step, desired, horizon),
            max(0.0, self.funding_capacity(step)) / unit_cost,
        )

    def gpus_to_cancel(self, step: int, horizon: int, unit_cost: float) -> float:
        """GPUs on order to cancel this month: in a glut (:meth:`in_glut`), what the supply
        line holds beyond what its contracts need, if a GPU taken is worth less than the fee
        saved by cancelling it — Tobin's q below 1 − fee share × chip share of the cost
        (the same expected-return test as ordering, ECONOMICS.md §4; the fee is
        ``investment.cancellation_fee_share``)."""
        inv = self.market.cfg.investment
        if not inv.cancellation or self.spec.investment_rule == "price_driven":
            return 0.0
        if not self.in_glut(step):
            return 0.0
        facility = self.market.facility_cost(step)
        chip_share = max(0.0, unit_cost - facility) / unit_cost if unit_cost > 0 else 1.0
        if self.tobin_q(step, unit_cost) >= 1.0 - inv.cancellation_fee_share * chip_share:
            return 0.0
        desired = self.glut_capacity(step, horizon)
        kept = self.installed_gpus(step) - self.retiring_gpus(step, horizon)
        on_order = sum([o.undelivered for o in self.market.open_orders(buyer=self.name)])
        excess = kept + on_order - desired
        return min(on_order, max(0.0, excess))

    def bought_gpus(self, step: int) -> float:
        """GPUs the cloud has bought from other clouds under contracts in force at ``step``."""
        return self.market.contracted_gpus(buyer=self.name, step=step)

    def overflow_wanted(self, step: int, horizon: int, shortfall_gpus: float) -> float:
        """Buy or build: GPUs of capacity to contract from another cloud now, when this
        month's orders fell ``shortfall_gpus`` short of what the cloud wanted (vendors put it
        on allocation, or it could not fund them) — capacity it cannot build within the build
        lag ``horizon``, less what it already buys for then. Only a hyperscaler buys overflow
        (Williamson 1975's make-or-buy: buy when building is slower than the need; the
        Microsoft–CoreWeave contracts, CALIBRATION: 62–67% of CoreWeave's revenue)."""
        if (
            self.defaulted
            or self.spec.archetype != "hyperscaler"
            or not self.market.cfg.investment.overflow_buying
        ):
            return 0.0
        bought_then = self.bought_gpus(step + horizon)
        bought_now = self.bought_gpus(step)
        return max(0.0, shortfall_gpus - max(0.0, bought_then - bought_now))

    def capacity_gap_gpus(
        self, step: int, lead: int, market_share: float, unit_cost: float
    ) -> float:
        """GPUs the hyperscaler's investment rule wants online at ``step + lead`` beyond what
        it will have installed and bought then: capacity it cannot build in time, as its
        own chips take the build lag (the make-or-buy of Williamson 1975; the Microsoft–
        CoreWeave contracts: capacity bought while Microsoft's own data centres were being
        built). The same desired capacity it orders chips for
        (:meth:`desired_by_expected_return`, :meth:`desired_capacity`), taken at the
        contract lead; in a glut (:meth:`in_glut`) only its contracts count. 0 for a cloud
        that does not buy overflow, or under the price-driven rule."""
        if (
            self.defaulted
            or self.spec.archetype != "hyperscaler"
            or not self.market.cfg.investment.overflow_buying
            or self.spec.investment_rule == "price_driven"
        ):
            return 0.0
        then = step + lead
        if self.in_glut(step):
            desired = self.glut_capacity(step, lead)
        elif self.spec.investment_rule == "expected_return":
            desired = self.desired_by_expected_return(step, lead, market_share, unit_cost)
        else:
            contracted = self.market.contracted_gpus(seller=self.name, step=then)
            desired = self.desired_capacity(step, lead, contracted, market_share)
        return max(0.0, desired - self.installed_gpus(then) - self.bought_gpus(then))

    def spare_for_contract(self, start: int, term_months: int) -> float:
        """GPUs a neocloud offers under a term contract from ``start`` over ``term_months``:
        the ``overflow.contracted_share`` of the capacity it will have online (delivered
        chips whose data centres are finished by then) less what its contracts in force
        take, in the tightest month of the term (a contract signed earlier may start later:
        what it sells must still be there then). A neocloud prefers a long take-or-pay
        contract to the spot market: it fixes the price of a GPU over most of its life and
        is what its project lenders advance against (Joskow 1987: long contracts protect
        relationship-specific investment; CALIBRATION: CoreWeave 96% of revenue contracted,
        lenders' delayed-draw facilities secured by the contracts). 0 for other clouds."""
        if self.defaulted or self.spec.archetype != "neocloud":
            return 0.0
        m = self.market
        share = m.cfg.overflow.contracted_share
        end = start + term_months
        # contracted GPUs rise only when a contract starts: the tightest month is the
        # term's first or a later contract's start
        steps = {start} | {
            k.start
            for k in m.contracts_of(self.name)
            if k.seller == self.name and start < k.start < end
        }
        return max(
            0.0,
            min(
                share * self.installed_gpus(s) - m.contracted_gpus(seller=self.name, step=s)
                for s in steps
            ),
        )

    def commitment_value(
        self, gpus: float, price: float, start: int, term_months: int, step: int, unit_cost: float
    ) -> tuple[float, float]:
        """(expected profit, exposure) of a capacity commitment for ``gpus`` at ``price``
        USD/GPU-hour over ``term_months`` from ``start``, USD at ``step``: the present value
        of the take-or-pay revenue less the cash operating cost and the capital for the GPUs
        (``unit_cost`` each, the part of their life the term uses), discounted at the cloud's
        cost of capital; the exposure is the capital sunk for the buyer."""
        cfg = self.market.cfg
        tech, mkt = cfg.technology, cfg.market
        months = np.arange(max(start, step), start + term_months) - step
        rate = max(self.spec.interest_rate_per_year, tech.cost_of_capital_per_year)
        discount = (1 + rate) ** (-months / 12)
        billed = mkt.take_or_pay_share * price - tech.operating_cost_usd_per_gpu_hour
        margin = float((gpus * billed * mkt.hours_per_month * discount).sum())
        exposure = gpus * unit_cost
        used = min(1.0, len(months) / tech.chip_life_months)
        return margin - exposure * used, exposure

    def buyer_default_probability(self, buyer: MarketAgent) -> float:
        """The yearly default probability this cloud expects of a commitment's buyer: for a
        cloud, its borrowing spread over the risk-free rate ÷ the loss given default (the
        credit triangle, Hull's "spread ≈ PD × LGD"); for a lab, which borrows at no quoted
        rate, ``investment.buyer_default_probability_per_year``."""
        inv = self.market.cfg.investment
        if isinstance(buyer, Cloud):
            spread = max(0.0, buyer.spec.interest_rate_per_year - inv.risk_free_rate_per_year)
            return min(1.0, spread / max(inv.exposure_loss_given_default, 1e-9))
        return inv.buyer_default_probability_per_year

    def grants_repricing(self, price: float, ask: float, buyer_power: float) -> float:
        """The new price (USD per GPU-hour) the cloud agrees to for a contract at ``price``
        when its buyer asks for ``ask``: the Nash bargaining solution between the two
        prices, with the buyer's bargaining weight ``buyer_power`` (0–1), its share of the
        cloud's contracted capacity. A seller that depends on one buyer for most of its
        backlog cannot afford to lose it, and concedes most of the gap; a buyer that is a
        small customer gets little (countervailing power: Galbraith 1952, Snyder 1996; the
        asymmetric Nash solution, Binmore, Rubinstein and Wolinsky 1986). Never above
        ``price``, never below ``ask``."""
        if ask >= price:
            return price
        power = min(max(buyer_power, 0.0), 1.0)
        return price - power * (price - ask)

    def accepts_commitment(
        self,
        buyer_default_per_year: float,
        buyer_value_usd: float,
        gpus: float,
        price: float,
        start: int,
        term_months: int,
        step: int,
        unit_cost: float,
    ) -> bool:
        """Sign a capacity commitment with a buyer (a lab or a cloud)? Only if the expected
        profit on the tied sales exceeds the cost of the exposure: the capital sunk for the
        buyer × its default probability over the term × the loss given default, and only if
        that capital is within the cloud's risk limit (``exposure_limit_to_funding`` × its
        funding capacity, the new contract's borrowing base counted). Counterparty exposure
        priced as expected loss (Merton 1974's credit risk, in its actuarial form); the limit
        is a large-exposure rule. ``buyer_default_per_year`` is the buyer's yearly default
        probability (:meth:`buyer_default_probability`), ``buyer_value_usd`` the contract's
        take-or-pay value."""
        if self.defaulted or gpus <= 0:
            return False
        cfg = self.market.cfg
        inv = cfg.investment
        profit, exposure = self.commitment_value(gpus, price, start, term_months, step, unit_cost)
        default = 1.0 - (1.0 - buyer_default_per_year) ** (term_months / 12)
        cost = default * inv.exposure_loss_given_default * exposure
        funding = self.funding_capacity(step) + cfg.finance.max_loan_to_backlog * buyer_value_usd
        return profit > cost and exposure <= inv.exposure_limit_to_funding * max(0.0, funding)

    def suppliers(self, lines: Sequence[Sequence[ChipVendor]]) -> list[ChipVendor]:
        """The vendors it orders chips from: of each product line (``lines``: the vendors
        in business built from one ``chip_vendors`` entry, interchangeable copies, in
        creation order), the ``sourcing.suppliers_per_line`` it knows — the line's vendors
        from its own place in the market's creation order (Mesa's ``unique_id``) on, so
        that the buyers of a line are shared evenly over its vendors. A firm buys from the
        few suppliers it knows, not from every one in the market (Dosi, Fagiolo and
        Roventini 2010, the K+S model); in the default world every line has one vendor and
        a cloud knows them all. When its vendor fails, the next of the line takes its place
        (the line passed is of the vendors still in business)."""
        known = self.market.cfg.sourcing.suppliers_per_line
        chosen: list[ChipVendor] = []
        for line in lines:
            n = len(line)
            chosen.extend(line[(self.unique_id + i) % n] for i in range(min(known, n)))
        return chosen

    def split_order(self, gpus: float, vendors: Sequence[ChipVendor]) -> dict[str, float]:
        """GPUs to order from each of ``vendors`` (its :meth:`suppliers`): by the vendors'
        configured order shares."""
        share_total = sum(v.spec.order_share for v in vendors)
        return {v.name: gpus * v.spec.order_share / share_total for v in vendors}

    # --- finance -------------------------------------------------------------------------
    @property
    def issues_bonds(self) -> bool:
        """An investment-grade hyperscaler borrows against its cash flow in the bond market
        (``bonds.enabled``); neoclouds and lease vehicles borrow against collateral."""
        return self.spec.archetype == "hyperscaler" and self.market.cfg.bonds.enabled

    def borrowing_headroom(self, step: int) -> float:
        """USD more that lenders would lend: a share of backlog and of fleet value, less debt;
        for a bond issuer (:attr:`issues_bonds`) at least ``bonds.max_debt_to_income_years``
        of its other businesses' yearly income, less debt (unsecured credit is sized on cash
        flow, as rating agencies cap debt ÷ EBITDA for an investment-grade rating)."""
        fin = self.market.cfg.finance
        limit = fin.max_loan_to_backlog * self.market.collateral_backlog_usd(
            self.name, step
        ) + fin.max_loan_to_fleet * self.market.balance(self.name, Line.FLEET)
        if self.issues_bonds:
            years = self.market.cfg.bonds.max_debt_to_income_years
            limit = max(limit, years * 12.0 * self.spec.other_business_income_usd_per_month)
        return max(0.0, limit - self.market.debt_usd(self.name))

    def capex_rate_usd(self, step: int) -> float:
        """USD a month of capex (chips and facilities at cost) delivered to the cloud over
        the 12 months to ``step``."""
        first = step - 11
        cents = sum(
            [
                v._chip_cost_cents + v._facility_cost_cents  # the properties' slots (hot)
                for v in self.fleet
                if first <= v.delivered_step <= step
            ]
        )
        return cents / 100.0 / 12.0

    def retained_income_usd_per_month(self) -> float:
        """USD a month of its other businesses' income the cloud keeps for its capex: that
        income, less those businesses' own capex (``other_business_capex_usd_per_month``),
        less the share it pays out (``cash.payout_share_*`` of its archetype; a firm
        funds investment from retained earnings first, Myers and Majluf 1984)."""
        spec = self.spec
        net = spec.other_business_income_usd_per_month - spec.other_business_capex_usd_per_month
        return net * (1.0 - self.payout_share())

    def payout_share(self) -> float:
        """A hyperscaler's payout ratio, or a neocloud's (``cash.payout_share_*``)."""
        cash = self.market.cfg.cash
        if self.archetype == "hyperscaler":
            return cash.payout_share_hyperscaler
        return cash.payout_share_neocloud

    def cash_to_keep_usd(self) -> float:
        """A payout leaves its cash buffer against this month's costs and the cash its
        ordered chips and facilities need (:meth:`capex_shortfall_usd`, the one rule for
        the cash its capex needs: funding, credit, payout and prepayment all use it)."""
        return self.cash_buffer_usd(self.costs_usd) + self.capex_shortfall_usd(self.market.month)

    def excess_cash_payout_usd(self, step: int, paid_usd: float) -> float:
        """USD of cash beyond its target holding a hyperscaler returns to shareholders this
        month (buybacks) beside the ``paid_usd`` of its payout ratio: ``cash.
        excess_cash_payout_share`` of the cash left beyond ``bonds.target_cash_capex_months``
        of its capex of the last 12 months (:meth:`capex_rate_usd`) and the cash it keeps
        for its buffer and ordered capex (:meth:`cash_to_keep_usd`). Firms return toward a
        target cash holding and pay out the excess (Opler, Pinkowitz, Stulz and Williamson
        1999; Jensen 1986: free cash flow beyond profitable investment is paid out or
        wasted); the target is the one its borrowing restores (:meth:`borrowing_wanted`),
        so it never borrows to pay out. Neoclouds pay nothing out; a payout ratio of profit
        alone lets the depreciation cash and retained profit of a hyperscaler that stopped
        building pile up (the baseline's big three held $520-750B at the end of seed 1,
        with no capex in its last year, until MODEL_VERSION 0.46.3). Never beyond its book
        equity with ``paid_usd`` (:meth:`distributable_usd`)."""
        share = self.market.cfg.cash.excess_cash_payout_share
        if self.defaulted or self.archetype != "hyperscaler" or share <= 0 or self.equity <= 0:
            return 0.0
        target = (
            self.market.cfg.bonds.target_cash_capex_months * self.capex_rate_usd(step)
            + self.cash_to_keep_usd()
        )
        excess = share * (self.cash - paid_usd - target)
        return max(0.0, min(excess, self.distributable_usd() - paid_usd))

    def funding_capacity(self, step: int, *, new_credit: bool = True) -> float:
        """USD the cloud can put into new orders: cash, its committed credit not yet drawn
        (:attr:`committed_credit`) and the credit lenders would commit this month (with
        ``new_credit``), less a cash buffer, its arrears and the most it will be short of
        for the chips it has ordered in any month until what it orders now is delivered,
        its other income counted as it comes (:meth:`capex_shortfall_usd`).

        Chips and their facilities are paid for on delivery; credit is what lenders have
        committed to lend then (a delayed-draw facility, :meth:`credit_commitment_wanted`)
        plus what a syndicate would commit this month within its borrowing headroom
        (:meth:`MarketView.credit_offered_usd`): a firm plans on the finance it has
        arranged, not on a limit nobody will fill (the financing constraint of investment,
        Fazzari, Hubbard and Petersen 1988; JMAB's firms size investment by the credit the
        banks grant, Caiani et al. 2016; committed lines as liquidity insurance, Holmström
        and Tirole 1998)."""
        buffer = self.market.cfg.finance.cash_buffer_months * self.costs_usd
        undrawn = self.undrawn_credit_usd()
        credit = 0.0
        if new_credit:
            room = max(0.0, self.borrowing_headroom(step) - undrawn)
            credit = min(room, self.market.credit_offered_usd())
        return (
            self.cash
            + undrawn
            + credit
            - self.capex_shortfall_usd(step)
            - buffer
            - self.arrears_usd
        )

    def capex_shortfall_usd(self, step: int, order_usd: float = 0.0) -> float:
        """The most, in USD, that the chips and facilities it has ordered (and ``order_usd``
        more, due a delivery lag from now) exceed the other income it retains
        (:meth:`retained_income_usd_per_month`) in any month until then: Σ due by month k −
        income × k, largest over k = 0 … delivery lag (at least 0). A cash-flow projection
        of the build, as lenders size a construction loan (Yescombe, Principles of Project
        Finance, 2014, ch. 10). The one estimate of the cash its capex needs: what it can
        order (:meth:`funding_capacity`), the credit it arranges
        (:meth:`credit_commitment_wanted`) and borrows (:meth:`borrowing_wanted`), and what
        it keeps back from a payout (:meth:`cash_to_keep_usd`) and a prepayment
        (:meth:`prepayment_wanted`). Until MODEL_VERSION 0.38 the payout and prepayment
        kept a build lag's share of all ordered capex instead (a second estimate)."""
        lag = self.market.cfg.technology.delivery_lag_months
        income = self.retained_income_usd_per_month()
        facility = self.market.facility_cost(self.market.month)
        key = (self.market.orders_version(self.name), step, lag, facility)
        if self._shortfalls is None or self._shortfalls[0] != key:
            self._shortfalls = (key, {})
        answers = self._shortfalls[1]
        asked = (income, order_usd, type(order_usd))
        answer = answers.get(asked)
        if answer is not None:  # the same orders, income and order: the same answer
            return answer
        if self._due_by_month is not None and self._due_by_month[0] == key:
            due = self._due_by_month[1]  # its open orders are unchanged
        else:
            due = [0.0] * (lag + 1)
            for o in self.market.open_orders(buyer=self.name):
                # the month it falls due, clipped to 0 … lag (min and max without their calls)
                k = o.delivery_step - step
                k = 0 if k < 0 else lag if k > lag else k
                due[k] += o.undelivered * (o.unit_price_usd + facility)
            self._due_by_month = (key, due)
        answer = float(_largest_shortfall(due, order_usd, income))
        answers[asked] = answer
        return answer

    def capex_cash_needed_usd(self, step: int) -> float:
        """USD of its own cash the chips and facilities it has ordered need: the capex
        shortfall (:meth:`capex_shortfall_usd`) less the credit its lenders have committed
        to lend on delivery and it has not drawn (:meth:`undrawn_credit_usd`), at least 0.
        A committed delayed-draw line is funding the borrower can count on (Holmström and
        Tirole 1998: committed lines as liquidity insurance; Sufi 2009), so what it covers
        needs no cash held beside dearer debt. Funding capacity, the credit it arranges and
        a bond issuer's borrowing net the undrawn line the same way."""
        return max(0.0, self.capex_shortfall_usd(step) - self.undrawn_credit_usd())

    def undrawn_credit_usd(self) -> float:
        """USD its lenders have committed to lend on delivery and it has not drawn."""
        return sum(self.committed_credit.values())

    def credit_commitment_wanted(self, step: int, order_usd: float) -> float:
        """USD of committed credit to arrange (positive) or to give back (negative)
        now that it orders ``order_usd`` more: enough that its cash and the commitments cover
        the most it will be short of for what it has ordered (:meth:`capex_shortfall_usd`),
        its cash buffer and its arrears,
        within its borrowing headroom (what its collateral supports beside the commitments
        it holds). A delayed-draw term loan is committed when the build is ordered and drawn
        as chips arrive (data-centre project finance; Yescombe, Principles of Project
        Finance, 2014, ch. 14); a line it no longer needs is given back, as borrowers cut
        unused commitments that cost a fee (Sufi 2009). A bond issuer (:attr:`issues_bonds`)
        without ``project_finance`` arranges none: an AA firm funds its capex from retained
        income and unsecured bonds (:meth:`borrowing_wanted`), not non-recourse project
        loans, which are for builders whose collateral is the project (Yescombe 2014, ch. 1;
        Esty 2004)."""
        undrawn = self.undrawn_credit_usd()
        if self.issues_bonds and not self.spec.project_finance:
            return -undrawn
        need = (
            self.capex_shortfall_usd(step, order_usd)
            + self.market.cfg.finance.cash_buffer_months * self.costs_usd
            + self.arrears_usd
            - self.cash
        )
        room = max(0.0, self.borrowing_headroom(step) - undrawn)
        return min(max(0.0, need) - undrawn, room)

    def opening_project_finance_usd(
        self, pipeline_cost_usd: float, own_funding_usd: float, gearing: float
    ) -> float:
        """USD of delayed-draw term loans it had arranged before the run for the chips it
        ordered then (``pipeline_cost_usd``): the part its own funding
        (``own_funding_usd``, :meth:`funding_capacity`) does not cover, at most the debt
        share ``gearing`` of the build's cost that project-finance lenders lend on a
        contracted build (Yescombe, Principles of Project Finance, 2014, ch. 12: 70–90%
        debt; the rest is the sponsor's equity). A cloud whose cash covers its orders
        arranges none (the pecking order, Myers and Majluf 1984)."""
        if pipeline_cost_usd <= 0 or gearing <= 0:
            return 0.0
        return max(
            0.0, min(gearing * pipeline_cost_usd, pipeline_cost_usd - max(0.0, own_funding_usd))
        )

    def commit_credit(self, lender: str, usd: float) -> None:
        """``lender`` commits ``usd`` more to the cloud's capex credit line."""
        self.committed_credit[lender] = self.committed_credit.get(lender, 0.0) + usd

    def release_credit(self, usd: float) -> None:
        """Give back ``usd`` of the undrawn commitments, from every lender in proportion."""
        undrawn = self.undrawn_credit_usd()
        if undrawn <= 0:
            return
        keep = max(0.0, 1.0 - usd / undrawn)
        self.committed_credit = {
            k: v * keep for k, v in self.committed_credit.items() if v * keep >= 1.0
        }

    def draw_credit(self, lender: str, usd: float) -> None:
        """``usd`` of ``lender``'s commitment is drawn (it is now a loan)."""
        left = self.committed_credit.get(lender, 0.0) - usd
        if left >= 1.0:
            self.committed_credit[lender] = left
        else:
            self.committed_credit.pop(lender, None)

    def contracted_income_usd(self, step: int) -> float:
        """USD of cash a month its buyers owe it whatever they use: the take-or-pay share
        of its contracts in force at ``step`` as the seller (compute credits, paid in
        shares, bring no cash), on the part of their capacity it has online (buyers are
        billed on the capacity available, as in the operate phase)."""
        installed = self.installed_gpus(step)
        key = (self.market.contracts_version(self.name), step, installed)
        if self._contracted_income is not None and self._contracted_income[0] == key:
            return self._contracted_income[1]  # the same contracts and capacity
        hours = self.market.cfg.market.hours_per_month
        sold = self.market.sales_in_force(self.name, step)
        # sum() of those contracts' GPUs in the same order, as the market keeps it
        reserved = self.market.contracted_gpus(seller=self.name, step=step)
        income = 0.0
        if reserved > 0:
            # buyers owe for the capacity the cloud can provide (operate's availability): a
            # contract whose capacity is still being built brings no cash yet
            available = min(1.0, installed / reserved)
            income = available * sum(
                [
                    c.gpus * c.price_usd_per_gpu_hour * hours * c.take_or_pay_share
                    for c in sold
                    if not c.in_kind
                ]
            )
        self._contracted_income = (key, income)
        return income

    def cash_buffer_usd(self, costs_usd: float, *, debt_service_reserve: bool = True) -> float:
        """USD of cash the cloud keeps against a shortfall: ``finance.cash_buffer_months``
        of the monthly ``costs_usd`` its take-or-pay income does not cover. Firms hoard
        cash against the part of their costs their cash flow may not meet (Holmström and
        Tirole 1998's liquidity demand; Almeida, Campello and Weisbach 2004); costs that
        buyers are bound to pay for need no buffer of the cloud's own, so a neocloud with a
        contracted book holds little cash beside its debt (CoreWeave, 2025: about $1-2B of
        cash against $18-25B of debt). With ``debt_service_reserve`` the buffer is at least
        that many months of its debt service."""
        months = self.market.cfg.finance.cash_buffer_months
        uncovered = max(0.0, costs_usd - self.contracted_income_usd(self.market.month))
        if not debt_service_reserve:
            return months * uncovered
        # at least a debt-service reserve: project-finance lenders require cash for the
        # coming months' interest and principal whoever the buyers are (a DSRA; Yescombe,
        # Principles of Project Finance, 2014, ch. 14), so a builder whose contracts cover
        # its costs still holds cash while its chip and facility bills are drawn on loans
        debt_service = self.market.debt_service_usd(self.name)
        return months * max(uncovered, debt_service)

    def borrowing_wanted(self, step: int) -> float:
        """USD to borrow now: arrears and a cash buffer (:meth:`cash_buffer_usd`), less
        cash, up to the borrowing headroom (a liquidity-need rule as in Caiani et al.'s
        JMAB ``getLoanRequirement``). A cloud that borrows against collateral does not
        borrow for chips on order while they wait: they are drawn on delivery (issue 13,
        ``phases.settle.draw_on_delivery``). A bond issuer (:attr:`issues_bonds`) also
        keeps cash for the capex it has ordered beyond the income it retains
        (:meth:`capex_shortfall_usd`), less the credit its lenders have committed and it
        has not drawn: the pecking order (Myers and Majluf 1984: retained earnings first,
        then debt) with a target of liquidity for planned investment, as JMAB's firms
        borrow for the investment their internal funds do not cover (Caiani et al. 2016),
        and at least ``bonds.target_cash_capex_months`` of its recent capex
        (:meth:`capex_rate_usd`) as cash, the target holding firms return to (Opler,
        Pinkowitz, Stulz and Williamson 1999)."""
        want = self.arrears_usd + self.cash_buffer_usd(self.costs_usd) - self.cash
        room = self.borrowing_headroom(step)
        if self.issues_bonds:
            undrawn = self.undrawn_credit_usd()
            target = self.market.cfg.bonds.target_cash_capex_months * self.capex_rate_usd(step)
            want += max(self.capex_shortfall_usd(step) - undrawn, target)
            room -= undrawn
        return min(want, room) if want > 0 and room > 0 else 0.0

    def prepayment_wanted(
        self, dearest_rate: float, deposit_rate: float, share: float, debt_service_usd: float
    ) -> float:
        """USD of its loans to repay early out of cash this month, when its dearest loan
        costs more (``dearest_rate``, per year) than cash earns (``deposit_rate``): all of
        its debt if the cash beyond a buffer of its operating costs covers it (once repaid,
        no debt service needs a buffer; ``debt_service_usd`` is this month's), otherwise
        ``share`` of the cash beyond its buffer (:meth:`cash_buffer_usd`, the buffer
        :meth:`borrowing_wanted` borrows up to). Holding cash
        while owing dearer debt loses money every month; firms fund themselves from
        retained earnings before debt (the pecking order of Myers and Majluf 1984). Chips
        still in the queue need no cash now: they are drawn on delivery
        (``phases.settle.draw_on_delivery``), and what its lenders have committed to lend
        on delivery needs no cash of its own either (:meth:`capex_cash_needed_usd`): cash
        held against capex a committed delayed-draw line will fund is swept into the dear
        debt (the cash sweep of project finance, Yescombe, Principles of Project Finance,
        2014, ch. 14; until MODEL_VERSION 0.46 the cloud kept cash for the whole
        shortfall beside an undrawn line that covered it)."""
        if self.defaulted or dearest_rate <= deposit_rate or share <= 0:
            return 0.0
        # the chips and facilities it has ordered need cash beyond the income it retains and
        # the credit committed to it (delivered chips are drawn on that credit first)
        spare = self.cash - self.arrears_usd - self.capex_cash_needed_usd(self.market.month)
        debt = self.market.debt_usd(self.name)
        once_repaid = max(0.0, self.costs_usd - debt_service_usd)
        if spare - self.cash_buffer_usd(once_repaid, debt_service_reserve=False) >= debt:
            return debt
        return max(0.0, share * (spare - self.cash_buffer_usd(self.costs_usd)))

    def revolver_draw_wanted(self, owed_usd: float, drawn_usd: float, headroom_usd: float) -> float:
        """USD to draw on its committed revolving credit facility now that ``owed_usd`` of
        bills are due: what its cash does not cover, within the facility's limit
        (``revolver.limit_months_of_costs`` × its monthly cash costs) less what is drawn
        (``drawn_usd``) and within its borrowing headroom (``headroom_usd``, the base an
        asset-based revolver lends against). A firm draws its committed line rather than
        miss a payment (Holmström and Tirole 1998: credit lines as liquidity insurance;
        Sufi 2009: lines are drawn when cash flow falls short); never for a lease vehicle,
        whose cash is its project's, nor after it has defaulted."""
        cfg = self.market.cfg.revolver
        if self.defaulted or not self.sells_to_market or not cfg.enabled:
            return 0.0
        limit = cfg.limit_months_of_costs * self.costs_usd - drawn_usd
        return max(0.0, min(owed_usd - self.cash, limit, headroom_usd))

    def choose_syndicate(
        self, lenders: Sequence[Investor], sentiment: float
    ) -> list[tuple[Investor, float]]:
        """The lenders of a loan and what each offers: the ``finance.syndicate_size`` with
        the largest budgets (at least $1), as a JMAB credit demander picks its suppliers."""
        size = self.market.cfg.finance.syndicate_size
        offers = [(i, i.loan_budget(sentiment)) for i in lenders]  # each budget asked once
        offers.sort(key=lambda offer: (-offer[1], offer[0].name))
        return [(i, budget) for i, budget in offers[:size] if budget >= 1.0]

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
        chip_life = tech.chip_life_months
        total = 0
        emptied = False  # a vintage with no GPUs and no book value left (dropped below)
        retired = False  # a vintage in service retired: its GPUs leave the installed
        for v in self.fleet:
            online = v.online_step
            if step < online:
                if v.chip_book_cents + v.facility_book_cents <= 0 and not v.gpus > 0:
                    emptied = True
                continue
            # a month's charge (the cost over the life, rounded up), at most what is left
            chip_book, facility_book = v.chip_book_cents, v.facility_book_cents
            kept = v._charges  # Vintage.monthly_charges's check, inlined (hot)
            if kept is not None and kept[0] is tech:
                chip, facility = kept[1], kept[2]
            else:
                chip, facility = v.monthly_charges(tech)
            if step >= online + chip_life:  # retired: all that is left
                chip = chip_book
                if v.gpus > 0:
                    retired = True
                v.gpus = 0.0
            elif chip_book < chip:
                chip = chip_book
            if facility_book < facility:
                facility = facility_book
            chip_book -= chip
            facility_book -= facility
            v.chip_book_cents = chip_book
            v.facility_book_cents = facility_book
            total += chip + facility
            if chip_book + facility_book <= 0 and not v.gpus > 0:  # the books first: cheaper
                emptied = True
        if retired or emptied:
            # the vintages in service are those kept (brought up to date) that did not
            # retire: online + life after this month (only a retirement takes GPUs away)
            vintages, online_steps, gpus = self._in_service()
            if retired:
                stays = online_steps + chip_life > step
                vintages = list(itertools.compress(vintages, stays.tolist()))
                online_steps, gpus = online_steps[stays], gpus[stays]
            if emptied:
                self.fleet = [
                    v
                    for v in self.fleet
                    if v.gpus > 0 or v.chip_book_cents + v.facility_book_cents > 0
                ]
            self._kept_in_service = (self.fleet, len(self.fleet), vintages, online_steps, gpus)
        if retired:
            self._installed_at.clear()
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
        discount = _discount_factors(life, tech.cost_of_capital_per_year)
        installed = self.installed_gpus(step)
        contracts = self.market.sales_in_force(self.name, step)
        # sum() of those contracts' GPUs in the same order, as the market keeps it
        held = self.market.contracted_gpus(seller=self.name, step=step)
        c_price = (
            sum([c.gpus * c.price_usd_per_gpu_hour for c in contracts]) / held if held else 0.0
        )
        share = min(1.0, held / installed) if installed > 0 else 0.0
        price = share * c_price + (1 - share) * spot
        margin = (
            np.maximum(price * _trend_path(trend, life) - tech.operating_cost_usd_per_gpu_hour, 0.0)
            * hours
            * discount
        )
        value_by_remaining = np.concatenate([[0.0], margin.cumsum()])
        fleet, online, gpus = self._in_service()
        if not fleet:
            return 0
        ends = online + life
        # each vintage's value in cents at once: to_cents(gpus × value of its remaining
        # months), the same products rounded half to even as round() does. Months left:
        # life from online to online + life, min(life, max(0, end − max(step, online))),
        # which is the same integer as min(max(end − step, 0), life)
        remaining = np.minimum(np.maximum(ends - step, 0), life)
        value = gpus * value_by_remaining[remaining]
        # not (max × 100 < 2**53): a NaN or an infinity fails it too
        if not value.max() * CENTS_PER_USD < EXACT_INT:
            values = [to_cents(float(x)) for x in value]  # to_cents's errors, exact ints
        else:
            values = np.rint(value * CENTS_PER_USD).astype(np.int64).tolist()
        total = 0
        for v, cents in zip(fleet, values, strict=True):
            chip_book = v.chip_book_cents
            excess = chip_book + v.facility_book_cents - cents  # book_cents, inlined
            if excess <= 0:
                continue
            from_chips = excess if excess < chip_book else chip_book
            v.chip_book_cents = chip_book - from_chips
            v.facility_book_cents -= excess - from_chips
            total += excess
        return total

    def _in_service(self) -> tuple[list[Vintage], np.ndarray, np.ndarray]:
        """The vintages with GPUs, in fleet order, with each one's online month and GPUs as
        arrays: the fleet :meth:`impair` values and :meth:`installed_gpus` counts. Kept
        with the fleet list they were taken from and extended by the vintages appended
        since; the writers of the fleet and its GPUs keep them true: :meth:`receive_chips`
        appends, :meth:`depreciate` takes the vintages that retire out (and files them
        with the new list when it drops empty vintages), :meth:`give_up_fleet` leaves a new
        list, whose vintages are then taken anew."""
        kept = self._kept_in_service
        fleet = self.fleet
        if kept is None or kept[0] is not fleet:
            kept = (fleet, 0, [], np.zeros(0, dtype=np.int64), np.zeros(0))
        seen = kept[1]
        if seen != len(fleet):
            added = [v for v in fleet[seen:] if v.gpus > 0]
            kept = self._kept_in_service = (
                fleet,
                len(fleet),
                kept[2] + added,
                np.concatenate([kept[3], np.array([v.online_step for v in added], dtype=np.int64)]),
                np.concatenate([kept[4], np.array([v.gpus for v in added], dtype=float)]),
            )
        return kept[2], kept[3], kept[4]

    def give_up_fleet(self) -> list[Vintage]:
        """Hand the whole fleet over (seized and sold in a default)."""
        fleet, self.fleet = self.fleet, []
        self._installed_at.clear()
        return fleet


def _largest_shortfall(due: list[float], order_usd: float, income: float) -> float:
    """The largest of (Σ ``due`` to month k, with ``order_usd`` more in the last month) −
    ``income`` × k over k = 0 … len(due) − 1, at least 0, and 0 when any of them is NaN:
    the same doubles numpy's ``max(0, (cumsum − income × arange).max())`` gives (its
    cumulative sum adds in order), a few microseconds sooner on a handful of months."""
    last = len(due) - 1
    total = 0.0
    worst = 0.0
    for k, owed in enumerate(due):
        if k == last:
            owed = owed + order_usd
        total = owed if k == 0 else total + owed
        short = total - income * k
        if short != short:  # NaN: numpy's max is NaN, and max(0.0, NaN) is 0.0
            return 0.0
        if short > worst:
            worst = short
    return worst


@functools.lru_cache(maxsize=16)
def _trend_path(trend_per_month: float, life_months: int) -> np.ndarray:
    """``exp(trend × month)`` for months 1…``life_months``: where a price following its
    trend of ``trend_per_month`` (log change a month) will be, as a multiple of today's. The
    same for every cloud in a month (the market's trend), so worked out once (read-only)."""
    path = np.exp(trend_per_month * np.arange(1, life_months + 1))
    path.flags.writeable = False
    return path


@functools.cache
def _discount_factors(life_months: int, rate_per_year: float) -> np.ndarray:
    """Each month's discount factor at ``rate_per_year`` for months 1…``life_months``,
    ``(1 + rate) ** (−month / 12)``: computed once per life and rate (a read-only array)."""
    discount = (1 + rate_per_year) ** (-np.arange(1, life_months + 1) / 12)
    discount.flags.writeable = False
    return discount
