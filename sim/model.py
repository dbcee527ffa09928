"""ComputeMarket: the Mesa model that orders the seven phases of a month (DESIGN §4).

1. demand   — end-user demand is drawn; each lab's GPU need follows.
2. operate  — clouds deliver contracted capacity, the spot market clears the rest; labs
              serve end users with what they got and earn revenue; compute bills accrue.
3. settle   — interest and principal, chip deliveries, operating costs fall due; whoever
              can pay everything it owes pays; GPUs depreciate and retire.
4. invest   — labs sign contracts from their projections; clouds order chips.
5. finance  — agents short of cash raise equity (labs) or debt (clouds); then pay.
6. resolve  — whoever still cannot pay defaults (``sim.resolution``).
7. collect  — stakes are marked, sentiment moves, metrics are recorded.

The model holds the order and the bookkeeping calls; agents hold the decisions; the ledger
holds the money.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import pandas as pd

from sim import market
from sim.agents import ChipVendor, Cloud, Investor, Lab, MarketAgent, Vintage
from sim.config import Scenario
from sim.config import _agent_names as _names
from sim.demand import Demand
from sim.instruments import CapacityContract, ChipOrder, InstrumentBook, Loan
from sim.ledger import CENTS_PER_USD, Flow, Ledger, Line, to_cents
from sim.settlement import Obligation, ObligationBook

CUSTOMERS = "world:customers"
OPERATIONS = "world:operations"  # power, staff, maintenance, other costs
CONTRACTORS = "world:contractors"  # builders of facilities
FOUNDRIES = "world:foundries"  # the vendors' suppliers
FOUNDERS = "world:founders"  # opening capital and new money into funds
OTHER_BUSINESS = "world:other-business"  # a hyperscaler's non-AI businesses

FOUNDER_SHARES = 1e9  # shares held by founders at the start (a unit, not a parameter)


class ComputeMarket(mesa.Model):
    """The AI compute market, one step per month."""

    def __init__(self, config: Scenario, rng: int | None = None, audit: bool = False) -> None:
        # `config`, not `scenario`: mesa.Model owns `scenario` (its own Scenario class) and
        # SolaraViz's Reset passes one as `scenario=` to any constructor with that parameter.
        seed = config.run.seed if rng is None else rng
        super().__init__(rng=seed)
        self.cfg = config
        self.seed = seed
        self.audit_every_step = audit
        self.ledger = Ledger()
        self.book = InstrumentBook()
        self.obligations = ObligationBook()
        self.month = 0
        self.start_date = pd.Timestamp(f"{config.run.start}-01")
        self.spot_price = config.market.initial_spot_price_usd_per_gpu_hour
        self.reference_price = self.spot_price
        self.price_history: list[float] = []
        self.impairment_total_usd = 0.0
        self.sentiment = config.finance.sentiment_initial
        self.demand = Demand(config.demand, self.rng)
        self.events: list[dict[str, object]] = []
        self.debtrank_rows: list[dict[str, object]] = []
        self.exposure_rows: list[dict[str, object]] = []
        self.solvent_before_default: dict[str, bool] = {}  # set by each clearing round
        self.defaults_total = 0
        self.month_stats: dict[str, float] = {}
        self._facility_for: dict[str, Vintage] = {}  # unpaid facility bills → their vintage
        self._build_agents()
        from sim.deals import DealBook

        self.deals = DealBook(config.deals)
        self.reference_inference_gpus = self._reference_inference_gpus()
        self._open_world()
        self.datacollector = self._make_datacollector()

    # ------------------------------------------------------------------------------
    # Set-up
    # ------------------------------------------------------------------------------
    def _build_agents(self) -> None:
        cfg = self.cfg
        total_share = sum(s.demand_share for s in cfg.labs)
        for spec in cfg.labs:
            for name in _names(spec.name, spec.count):
                Lab(self, name, spec, spec.demand_share / total_share / spec.count)
        for spec in cfg.clouds:
            for name in _names(spec.name, spec.count):
                Cloud(self, name, spec)
        for spec in cfg.chip_vendors:
            for name in _names(spec.name, spec.count):
                ChipVendor(self, name, spec, 1.0 / spec.count)
        for spec in cfg.investors:
            for name in _names(spec.name, spec.count):
                Investor(self, name, spec)

    def _reference_inference_gpus(self) -> float:
        """Inference GPUs that earn the configured opening revenue at the opening price."""
        hours = self.cfg.market.hours_per_month
        usd_per_gpu = sum(
            lab.demand_share * lab.service_price(self.reference_price) * hours for lab in self.labs
        )
        return self.cfg.demand.initial_revenue_usd_per_month / usd_per_gpu

    def _open_world(self) -> None:
        """Opening balance sheets: founders' cash, the clouds' fleets, existing contracts."""
        for agent in self.all_agents:
            opening = agent.spec.initial_cash_usd
            if isinstance(agent, Cloud):
                opening = max(0.0, opening - agent.spec.initial_debt_usd)
            self.ledger.post(0, FOUNDERS, agent.name, opening, Flow.FOUNDING_CAPITAL)
            self.book.shares_outstanding[agent.name] = FOUNDER_SHARES
        lenders = [i for i in self.investors if i.spec.loan_appetite > 0] or self.investors
        for k, cloud in enumerate(self.clouds):
            self._open_fleet(cloud)
            if cloud.spec.initial_debt_usd > 0:
                lender = lenders[k % len(lenders)]
                self._lend(
                    lender, cloud, cloud.spec.initial_debt_usd, cloud.spec.interest_rate_per_year
                )
        self._open_contracts()

    def _open_fleet(self, cloud: Cloud) -> None:
        """Give a cloud its opening GPUs as vintages of the last two years, contributed at
        depreciated cost by its founders (a non-cash entry to paid-in capital)."""
        tech = self.cfg.technology
        gpus = cloud.spec.initial_gpus
        ages = range(1, 25)
        for age in ages:
            chip_cost = gpus / len(ages) * self.chip_price(-age)
            facility_cost = gpus / len(ages) * self.facility_cost(-age)
            chip_book = chip_cost * max(0.0, 1 - age / tech.chip_life_months)
            facility_book = facility_cost * max(0.0, 1 - age / tech.facility_life_months)
            vintage = Vintage(
                -age,
                -age,
                gpus / len(ages),
                to_cents(chip_cost),
                to_cents(facility_cost),
                to_cents(chip_book),
                to_cents(facility_book),
            )
            cloud.fleet.append(vintage)
            self.ledger.journal(
                0,
                cloud.name,
                Line.FLEET,
                Line.PAID_IN,
                vintage.book_cents / CENTS_PER_USD,
                "opening fleet",
            )

    def _open_contracts(self) -> None:
        """Existing take-or-pay contracts: each lab covers its opening need with its partners,
        with staggered remaining terms, sized to what the clouds have installed."""
        mkt = self.cfg.market
        clouds = [c for c in self.clouds if c.spec.archetype != "lease_vehicle"]
        weights = np.array([c.spec.initial_gpus for c in clouds], dtype=float)
        for lab in self.labs:
            k = min(self.cfg.network.partners_per_lab, len(clouds))
            p = weights / weights.sum() if weights.sum() > 0 else None
            picks = self.rng.choice(len(clouds), size=k, replace=False, p=p)
            lab.partners = [clouds[i].name for i in sorted(picks)]
        need = {
            lab.name: lab.need_at(lab.demand_share * self.reference_inference_gpus, 0)
            * lab.spec.contract_coverage
            for lab in self.labs
        }
        wanted = {c.name: 0.0 for c in clouds}
        for lab in self.labs:
            for partner in lab.partners:
                wanted[partner] += need[lab.name] / len(lab.partners)
        scale = {
            c.name: min(1.0, 0.9 * c.spec.initial_gpus / wanted[c.name])
            if wanted[c.name] > 0
            else 0.0
            for c in clouds
        }
        for lab in self.labs:
            for partner in lab.partners:
                gpus = need[lab.name] / len(lab.partners) * scale[partner]
                remaining = int(self.rng.integers(12, mkt.contract_term_months + 1))
                start = remaining - mkt.contract_term_months
                self._sign(lab, partner, gpus, self.spot_price * mkt.contract_price_ratio, start, 0)

    # ------------------------------------------------------------------------------
    # Look-ups
    # ------------------------------------------------------------------------------
    @property
    def labs(self) -> list[Lab]:
        return list(self.agents_by_type[Lab]) if Lab in self.agents_by_type else []

    @property
    def clouds(self) -> list[Cloud]:
        return list(self.agents_by_type[Cloud]) if Cloud in self.agents_by_type else []

    @property
    def vendors(self) -> list[ChipVendor]:
        return list(self.agents_by_type[ChipVendor]) if ChipVendor in self.agents_by_type else []

    @property
    def investors(self) -> list[Investor]:
        return list(self.agents_by_type[Investor]) if Investor in self.agents_by_type else []

    @property
    def all_agents(self) -> list[MarketAgent]:
        return [*self.labs, *self.clouds, *self.vendors, *self.investors]

    def agent(self, name: str) -> MarketAgent:
        return self._by_name()[name]

    def _by_name(self) -> dict[str, MarketAgent]:
        if not hasattr(self, "_name_index"):
            self._name_index = {a.name: a for a in self.all_agents}
        return self._name_index

    def improvement(self, step: int) -> float:
        """How many times more compute a dollar buys at ``step`` than at the start."""
        return self.cfg.technology.compute_per_dollar_growth_per_year ** (step / 12.0)

    def chip_price(self, step: int) -> float:
        """Average vendor list price of an H100-equivalent at ``step``, USD."""
        specs = self.cfg.chip_vendors
        total = sum(s.order_share for s in specs)
        base = sum(s.unit_price_usd * s.order_share for s in specs) / total
        return base / self.improvement(step)

    def facility_cost(self, step: int) -> float:
        """Non-chip capex per H100-equivalent at ``step``, USD (falls with density)."""
        return self.cfg.technology.facility_capex_usd_per_gpu / self.improvement(step)

    @property
    def facility_cost_per_gpu(self) -> float:
        return self.facility_cost(self.month)

    def contract_price(self) -> float:
        """Price of a new term contract, USD/GPU-hour: the contract ratio times a blend (in
        logs) of today's spot price and its 12-month average (adaptive expectations)."""
        mcfg = self.cfg.market
        recent = self.price_history[-12:] or [self.spot_price]
        expected = sum(recent) / len(recent)
        w = mcfg.contract_expectation_weight
        return mcfg.contract_price_ratio * self.spot_price ** (1 - w) * expected**w

    def full_cost(self, step: int) -> float:
        """Full cost of a new GPU-hour at ``step``, USD: depreciation of chips and facility, a
        return on capital on half the capex (average over life), and cash operating cost."""
        tech = self.cfg.technology
        chip, facility = self.chip_price(step), self.facility_cost(step)
        monthly = (
            chip / tech.chip_life_months
            + facility / tech.facility_life_months
            + tech.cost_of_capital_per_year / 12 * (chip + facility) / 2
        )
        return monthly / self.cfg.market.hours_per_month + tech.operating_cost_usd_per_gpu_hour

    def need_at_price(self, price: float) -> float:
        """GPUs the labs would use this month if compute cost ``price`` (USD/GPU-hour)."""
        response = (price / self.reference_price) ** self.cfg.demand.price_elasticity
        return sum(
            lab.need_at(lab.inference_gpus_history[-1], self.month) * response
            for lab in self.labs
            if lab.inference_gpus_history
        )

    def total_contracted(self, step: int) -> float:
        return sum(c.gpus for c in self.book.contracts if c.in_force(step))

    @property
    def date(self) -> pd.Timestamp:
        return self.start_date + pd.DateOffset(months=self.month)

    # ------------------------------------------------------------------------------
    # The month
    # ------------------------------------------------------------------------------
    def step(self) -> None:
        t = self.month
        self.month_stats = {
            "capex_usd": 0.0,
            "chip_deliveries_gpus": 0.0,
            "new_defaults": 0.0,
            "contracts_signed_gpus": 0.0,
            "orders_placed_gpus": 0.0,
            "impairment_usd": 0.0,
        }
        self.phase_demand(t)
        self.phase_operate(t)
        self.phase_settle(t)
        self.phase_invest(t)
        self.phase_finance(t)
        self.phase_resolve(t)
        self.phase_collect(t)
        for contract in self.book.contracts:  # terms ending this month: unused prepayment lapses
            if contract.prepaid_cents and contract.end <= t + 1:
                self.forfeit_prepayment(t, contract)
        self.book.prune(t)
        if self.audit_every_step:
            self.audit()
        self.month += 1
        self.running = self.month < self.cfg.run.months  # Play stops after the last month

    # 1 -------------------------------------------------------------------------------
    def phase_demand(self, t: int) -> None:
        """Draw end-user demand; each active lab's inference need at the reference price."""
        level = self.demand.level if t == 0 else self.demand.advance(t)
        active = [lab for lab in self.labs if not lab.defaulted]
        share_total = sum(lab.demand_share for lab in active) or 1.0
        shock = self.cfg.shock
        if shock.lab and t == shock.month:
            self.sentiment *= 1.0 - shock.sentiment_drop
        for lab in self.labs:
            share = lab.demand_share / share_total if not lab.defaulted else 0.0
            if lab.name == shock.lab and t >= shock.month:
                share *= 1.0 - shock.revenue_shortfall  # the lost demand goes nowhere
            lab.inference_gpus_history.append(share * self.reference_inference_gpus * level)

    # 2 -------------------------------------------------------------------------------
    def phase_operate(self, t: int) -> None:
        """Allocate capacity (contracts first, then spot), serve users, accrue compute bills."""
        mcfg = self.cfg.market
        hours = mcfg.hours_per_month
        labs = self.labs
        clouds = self.clouds
        installed = {c.name: c.offered_gpus(t) for c in clouds}
        reserved = {c.name: self.book.contracted_gpus(seller=c.name, step=t) for c in clouds}
        availability = {
            n: (min(1.0, installed[n] / reserved[n]) if reserved[n] > 0 else 0.0) for n in installed
        }
        spot_supply = {n: max(0.0, installed[n] - reserved[n]) for n in installed}
        lab_contracts = {lab.name: self.book.contracts_of(lab.name, t) for lab in labs}
        available = np.array(
            [sum(c.gpus * availability[c.seller] for c in lab_contracts[lab.name]) for lab in labs]
        )
        need_ref = np.array([lab.need_at(lab.inference_gpus_history[-1], t) for lab in labs])
        supply = sum(spot_supply.values())
        if t > 0:
            target = market.clearing_price(
                need_ref,
                available,
                supply,
                self.reference_price,
                self.cfg.demand.price_elasticity,
                mcfg.price_floor_usd_per_gpu_hour,
                mcfg.price_cap_usd_per_gpu_hour,
            )
            self.spot_price = market.adjust_price(
                self.spot_price,
                target,
                mcfg.price_adjustment_speed,
                mcfg.price_floor_usd_per_gpu_hour,
                mcfg.price_cap_usd_per_gpu_hour,
            )
        response = (self.spot_price / self.reference_price) ** self.cfg.demand.price_elasticity
        need = need_ref * response
        from_contracts = np.minimum(need, available)
        spot_alloc = market.pro_rata(np.maximum(need - available, 0.0), supply)
        for c in clouds:
            c.used_gpus = c.spot_sold_gpus = c.revenue_usd = 0.0
        for k, lab in enumerate(labs):
            lab.need_gpus = float(need[k])
            lab.inference_need_gpus = lab.inference_gpus_history[-1] * response
            lab.used_gpus = float(from_contracts[k] + spot_alloc[k])
            lab.served_gpus = min(lab.inference_need_gpus, lab.used_gpus)
            lab.revenue_usd = lab.served_gpus * hours * lab.service_price(self.spot_price)
            self.ledger.post(t, CUSTOMERS, lab.name, lab.revenue_usd, Flow.SERVICE_REVENUE)
            lab.costs_usd = 0.0
            share_used = from_contracts[k] / available[k] if available[k] > 0 else 0.0
            for contract in lab_contracts[lab.name]:
                avail = contract.gpus * availability[contract.seller]
                bill = contract.amount_due(avail * share_used, avail, hours)
                self.bill_contract(t, lab, contract, bill)
                seller = self.agent(contract.seller)
                assert isinstance(seller, Cloud)
                seller.used_gpus += avail * share_used
            if spot_alloc[k] > 0:
                for c in clouds:
                    gpus = spot_alloc[k] * spot_supply[c.name] / supply
                    self._accrue(
                        t, lab, c.name, gpus * hours * self.spot_price, Flow.COMPUTE_DUE, "spot"
                    )
                    c.used_gpus += gpus
                    c.spot_sold_gpus += gpus
        self.month_stats.update(
            installed_gpus=sum(installed.values()),
            need_gpus=float(need.sum()),
            used_gpus=sum(c.used_gpus for c in clouds),
            spot_supply_gpus=supply,
            spot_demand_gpus=float(np.maximum(need - available, 0.0).sum()),
        )
        self.deals.backstops(self, t)
        total_need = float(need.sum())
        for c in clouds:
            c.market_need_history.append(total_need)
        self.price_history.append(self.spot_price)

    # 3 -------------------------------------------------------------------------------
    def phase_settle(self, t: int) -> None:
        """Debt service, chip deliveries and operating costs fall due; books depreciate; pay."""
        hours = self.cfg.market.hours_per_month
        for cloud in self.clouds:
            if cloud.spec.other_business_income_usd_per_month > 0:
                self.ledger.post(
                    t,
                    OTHER_BUSINESS,
                    cloud.name,
                    cloud.spec.other_business_income_usd_per_month,
                    Flow.OTHER_BUSINESS_INCOME,
                )
            opex = (
                cloud.installed_gpus(t)
                * hours
                * self.cfg.technology.operating_cost_usd_per_gpu_hour
            )
            self._owe_external(t, cloud, OPERATIONS, opex, Flow.OPERATING_COST)
            cloud.costs_usd = opex
        for inv in self.investors:
            self.ledger.post(
                t, FOUNDERS, inv.name, inv.spec.inflow_usd_per_month, Flow.FOUNDING_CAPITAL
            )
            inv.equity_used_usd = inv.loans_used_usd = 0.0
        for lab in self.labs:
            if not lab.defaulted:
                self._owe_external(
                    t,
                    lab,
                    OPERATIONS,
                    lab.revenue_usd * lab.spec.other_opex_share_of_revenue,
                    Flow.OPERATING_COST,
                )
        self._accrue_debt_service(t)
        self._deliver_chips(t)
        self._depreciate(t)
        if self.cfg.technology.impairment:
            self._impair(t)
        for lab in self.labs:
            lab.costs_usd = self.obligations.owed_cents(lab.name) / CENTS_PER_USD
        self.deals.settle_credits(self, t)
        self.settle_what_can_be_paid(t)

    def _accrue_debt_service(self, t: int) -> None:
        for loan in self.book.loans:
            if not loan.active:
                continue
            borrower = self.agent(loan.borrower)
            interest = loan.interest_due(t)
            principal = _cents_round(loan.principal_due(t))
            self._accrue(t, borrower, loan.lender, interest, Flow.INTEREST_DUE, loan.id)
            if principal > 0:
                self._accrue(t, borrower, loan.lender, principal, Flow.PRINCIPAL_DUE, loan.id)
                loan.outstanding -= principal
            if loan.outstanding <= 0.005:
                loan.outstanding = 0.0
                loan.active = False
            if isinstance(borrower, Cloud):
                borrower.costs_usd += interest + principal

    def _deliver_chips(self, t: int) -> None:
        for vendor in self.vendors:
            vendor.delivered_units = vendor.revenue_usd = 0.0
            for order, units in vendor.schedule_deliveries(
                t, self.book.open_orders(vendor=vendor.name)
            ):
                cloud = self.agent(order.buyer)
                assert isinstance(cloud, Cloud)
                invoice = units * order.unit_price_usd
                order.delivered_units += units
                vendor.delivered_units += units
                vendor.revenue_usd += invoice
                invoice_cents = self._accrue(
                    t, cloud, vendor.name, invoice, Flow.CHIP_INVOICE_DUE, order.id
                )
                self._owe_external(
                    t,
                    vendor,
                    FOUNDRIES,
                    invoice * (1 - vendor.spec.gross_margin),
                    Flow.COST_OF_GOODS,
                )
                self.deals.finance_delivery(self, t, order, invoice)
                vintage = Vintage(
                    t, max(order.online_step, t), units, invoice_cents, 0, invoice_cents, 0
                )
                cloud.fleet.append(vintage)
                facility = units * self.facility_cost(order.order_step)
                self._owe_external(t, cloud, CONTRACTORS, facility, Flow.FACILITY_CAPEX, vintage)
                self.month_stats["chip_deliveries_gpus"] += units
                self.month_stats["capex_usd"] += invoice + facility

    def _depreciate(self, t: int) -> None:
        """Straight-line depreciation of online vintages; GPUs retire at the end of their life."""
        tech = self.cfg.technology
        for cloud in self.clouds:
            total = 0
            for v in cloud.fleet:
                if t < v.online_step:
                    continue
                chip = min(v.chip_book_cents, -(-v.chip_cost_cents // tech.chip_life_months))
                facility = min(
                    v.facility_book_cents, -(-v.facility_cost_cents // tech.facility_life_months)
                )
                if t >= v.online_step + tech.chip_life_months:
                    chip, v.gpus = v.chip_book_cents, 0.0
                v.chip_book_cents -= chip
                v.facility_book_cents -= facility
                total += chip + facility
            cloud.fleet = [v for v in cloud.fleet if v.gpus > 0 or v.book_cents > 0]
            self.ledger.journal(
                t, cloud.name, Line.RETAINED, Line.FLEET, total / CENTS_PER_USD, "depreciation"
            )

    def _impair(self, t: int) -> None:
        """Write fleets down to their economic value where it is below book value.

        The value of a GPU is its expected cash margin over its remaining service life,
        discounted at the cost of capital: the price it can earn (contract price for the
        contracted share, spot for the rest) following the spot price's own 12-month trend
        (falling no faster than technology), minus the cash operating cost. New chips that
        give more compute per dollar push that trend down: economic obsolescence.
        """
        tech, hours = self.cfg.technology, self.cfg.market.hours_per_month
        life = tech.chip_life_months
        recent = self.price_history[-13:]
        trend = (math.log(recent[-1] / recent[0]) / (len(recent) - 1)) if len(recent) > 1 else 0.0
        trend = min(0.0, max(trend, -math.log(tech.compute_per_dollar_growth_per_year) / 12))
        months = np.arange(1, life + 1)
        discount = (1 + tech.cost_of_capital_per_year) ** (-months / 12)
        for cloud in self.clouds:
            installed = cloud.installed_gpus(t)
            contracts = self.book.contracts_of(cloud.name, t)
            held = sum(c.gpus for c in contracts)
            c_price = (
                sum(c.gpus * c.price_usd_per_gpu_hour for c in contracts) / held if held else 0.0
            )
            share = min(1.0, held / installed) if installed > 0 else 0.0
            price = share * c_price + (1 - share) * self.spot_price
            margin = (
                np.maximum(
                    price * np.exp(trend * months) - tech.operating_cost_usd_per_gpu_hour, 0.0
                )
                * hours
                * discount
            )
            value_by_remaining = np.concatenate([[0.0], np.cumsum(margin)])
            total = 0
            for v in cloud.fleet:
                if v.gpus <= 0:
                    continue
                remaining = min(life, max(0, v.online_step + life - max(t, v.online_step)))
                value = to_cents(v.gpus * value_by_remaining[remaining])
                excess = v.book_cents - value
                if excess <= 0:
                    continue
                from_chips = min(excess, v.chip_book_cents)
                v.chip_book_cents -= from_chips
                v.facility_book_cents -= excess - from_chips
                total += excess
            if total:
                self.ledger.journal(
                    t, cloud.name, Line.RETAINED, Line.FLEET, total / CENTS_PER_USD, "impairment"
                )
                self.month_stats["impairment_usd"] += total / CENTS_PER_USD
        self.impairment_total_usd += self.month_stats["impairment_usd"]

    # 4 -------------------------------------------------------------------------------
    def phase_invest(self, t: int) -> None:
        """Labs sign contracts from their projections; clouds order chips to match."""
        mcfg = self.cfg.market
        start = t + mcfg.contract_lead_months
        price = max(self.contract_price(), mcfg.price_floor_usd_per_gpu_hour)
        active_clouds = [
            c for c in self.clouds if not c.defaulted and c.spec.archetype != "lease_vehicle"
        ]
        self.deals.start(self, t)
        for lab in self.labs:
            contracted_then = self.book.contracted_gpus(buyer=lab.name, step=start)
            gpus = lab.contracts_wanted(t, start, contracted_then)
            partners = [p for p in lab.partners if not self.agent(p).defaulted]
            if gpus <= 0 or not active_clouds:
                continue
            if not partners:
                partners = [max(active_clouds, key=lambda c: (c.installed_gpus(t), c.name)).name]
                lab.partners = partners
            for partner in partners:
                self._sign(lab, partner, gpus / len(partners), price, start, t)
            self.month_stats["contracts_signed_gpus"] += gpus
        horizon = self.cfg.technology.build_lag_months
        capacity = sum(c.installed_gpus(t) for c in active_clouds) or 1.0
        vendors = [v for v in self.vendors if not v.defaulted]
        share_total = sum(v.spec.order_share for v in vendors)
        if not vendors:
            return
        unit_cost = sum(v.unit_price(t) * v.spec.order_share for v in vendors) / share_total
        unit_cost += self.facility_cost(t)
        ordered = dict.fromkeys((v.name for v in vendors), 0.0)
        for cloud in active_clouds:
            if cloud.spec.investment_rule == "price_driven":
                desired = cloud.plan_offer(t, horizon, self.spot_price)
            else:
                contracted_then = self.book.contracted_gpus(seller=cloud.name, step=t + horizon)
                share = cloud.installed_gpus(t) / capacity
                desired = cloud.desired_capacity(t, horizon, contracted_then, share)
            gpus = min(
                cloud.order_gpus(t, desired, horizon),
                max(0.0, cloud.funding_capacity(t)) / unit_cost,
            )
            if gpus < 1.0:
                continue
            for vendor in vendors:
                units = gpus * vendor.spec.order_share / share_total
                ordered[vendor.name] += units
                self.place_order(t, cloud, vendor, units)
            self.month_stats["orders_placed_gpus"] += gpus
        for vendor in vendors:
            vendor.orders_history.append(ordered[vendor.name])
            recent = vendor.orders_history[-3:]
            overdue = sum(
                o.undelivered
                for o in self.book.open_orders(vendor=vendor.name)
                if o.delivery_step <= t + 1
            )
            vendor.plan_output(
                sum(recent) / len(recent) + overdue / vendor.spec.capacity_adjustment_months
            )

    # 5 -------------------------------------------------------------------------------
    def phase_finance(self, t: int) -> None:
        """Labs short of runway raise equity; clouds short of cash borrow; then pay."""
        for lab in self.labs:
            amount = lab.equity_wanted()
            if amount > 0:
                self._equity_round(t, lab, amount)
        for cloud in self.clouds:
            if cloud.defaulted or cloud.spec.archetype == "lease_vehicle":
                continue
            soon = sum(
                o.undelivered * (o.unit_price_usd + self.facility_cost(o.order_step))
                for o in self.book.open_orders(buyer=cloud.name)
                if o.delivery_step <= t + 1
            )
            buffer = self.cfg.finance.cash_buffer_months * cloud.costs_usd
            want = cloud.arrears_usd + soon + buffer - cloud.cash
            if want > 0:
                self._borrow(t, cloud, min(want, cloud.borrowing_headroom(t)))
        self.settle_what_can_be_paid(t)

    # 6 -------------------------------------------------------------------------------
    def phase_resolve(self, t: int) -> None:
        """Whoever still owes what it cannot pay defaults (see :mod:`sim.resolution`)."""
        from sim.resolution import resolve_defaults

        new = resolve_defaults(self, t)
        self.month_stats["new_defaults"] = float(len(new))
        self.defaults_total += len(new)

    # 7 -------------------------------------------------------------------------------
    def phase_collect(self, t: int) -> None:
        """Mark stakes, move sentiment, and record the month."""
        fin = self.cfg.finance
        hit = (1 - fin.sentiment_hit_per_default) ** self.month_stats["new_defaults"]
        self.sentiment = max(fin.sentiment_floor, self.sentiment * hit)
        self.sentiment += fin.sentiment_recovery_per_month * (1.0 - self.sentiment)
        self._mark_stakes(t)
        if t in self.cfg.cascade.debtrank_months:
            from sim.resolution import debtrank_snapshot

            self.debtrank_rows.extend(debtrank_snapshot(self, t))
        self.datacollector.collect(self)

    # ------------------------------------------------------------------------------
    # Bookkeeping helpers (the only places that call the ledger)
    # ------------------------------------------------------------------------------
    def _accrue(
        self, t: int, debtor: MarketAgent, creditor: str, amount: float, flow: Flow, instrument: str
    ) -> int:
        """An internal obligation falls due: payable and receivable on the books."""
        cents = self.ledger.post(t, debtor.name, creditor, amount, flow, instrument)
        self.obligations.add(Obligation(debtor.name, creditor, cents, flow, instrument, t))
        return cents

    def _owe_external(
        self,
        t: int,
        debtor: MarketAgent,
        creditor: str,
        amount: float,
        flow: Flow,
        vintage: Vintage | None = None,
    ) -> None:
        """An external cost falls due; it is paid in the settlement (no books outside)."""
        cents = to_cents(amount)
        ob = Obligation(debtor.name, creditor, cents, flow, "", t)
        if vintage is not None:
            ob.instrument = self.book.new_id("facility")
            self._facility_for[ob.instrument] = vintage
        self.obligations.add(ob)
        debtor.unpaid_external_usd += cents / CENTS_PER_USD

    def pay(self, t: int, ob: Obligation, cents: int) -> None:
        """Pay ``cents`` of an obligation in cash (all of it or, in a default, a share)."""
        if cents <= 0:
            return
        self.ledger.post(
            t, ob.debtor, ob.creditor, cents / CENTS_PER_USD, ob.payment_flow, ob.instrument
        )
        ob.cents -= cents
        if ob.external:
            self.agent(ob.debtor).unpaid_external_usd -= cents / CENTS_PER_USD
            vintage = self._facility_for.get(ob.instrument)
            if vintage is not None:
                vintage.facility_cost_cents += cents
                vintage.facility_book_cents += cents

    def settle_what_can_be_paid(self, t: int) -> None:
        """Repeatedly let every party that can pay all it owes do so, until nobody more can.

        Payments received can let a creditor pay in turn, so the loop runs to a fixed point;
        the order of parties does not change who ends up paid in full.
        """
        progress = True
        while progress:
            progress = False
            for debtor in self.obligations.debtors():
                owed = self.obligations.owed_cents(debtor)
                if 0 < owed <= self.ledger.balance_cents(debtor):
                    for ob in self.obligations.close(debtor):
                        self.pay(t, ob, ob.cents)
                    progress = True
        for agent in self.all_agents:
            if not self.obligations.of(agent.name):
                agent.unpaid_external_usd = 0.0

    def place_order(
        self, t: int, cloud: Cloud, vendor: ChipVendor, units: float, tied_to: str = ""
    ) -> ChipOrder:
        """``cloud`` orders ``units`` GPUs from ``vendor`` at today's list price; they arrive
        after the delivery lag and come online after the build lag."""
        tech = self.cfg.technology
        order = ChipOrder(
            self.book.new_id("order"),
            cloud.name,
            vendor.name,
            units,
            vendor.unit_price(t),
            t,
            t + tech.delivery_lag_months,
            t + tech.build_lag_months,
        )
        self.book.add_order(order)
        return order

    def commit_capacity(
        self, t: int, lab: Lab, cloud: MarketAgent, value_usd: float, deal: str
    ) -> float:
        """A purchase commitment: ``lab`` contracts capacity worth ``value_usd`` from ``cloud``
        (take-or-pay, standard term, today's contract price). Returns the GPUs contracted."""
        mkt = self.cfg.market
        price = max(self.contract_price(), mkt.price_floor_usd_per_gpu_hour)
        gpus = value_usd / (
            price
            * mkt.hours_per_month
            * mkt.contract_term_months
            * max(mkt.take_or_pay_share, 1e-9)
        )
        self._sign(lab, cloud.name, gpus, price, t + mkt.contract_lead_months, t)
        self.book.contracts[-1].id += f":{deal}"
        return gpus

    def invest_equity(
        self, t: int, investor: MarketAgent, issuer: MarketAgent, amount: float, instrument: str
    ) -> None:
        """``investor`` buys new shares of ``issuer`` for ``amount`` USD at the issuer's
        valuation (post-money at least twice the amount)."""
        amount = _cents_round(amount)
        if amount < 1.0:
            return
        post_money = max(self.valuation(issuer), 2 * amount)
        price = (post_money - amount) / self.book.shares_outstanding[issuer.name]
        self.ledger.post(t, investor.name, issuer.name, amount, Flow.EQUITY_INVESTMENT, instrument)
        self.book.issue_shares(issuer.name, investor.name, amount / price, amount)

    def advance_loan(self, t: int, loan: Loan, flow: Flow = Flow.LOAN_ADVANCE) -> Loan:
        """Pay out a new loan (its principal rounded to cents) and record it."""
        loan.principal = loan.outstanding = _cents_round(loan.principal)
        self.ledger.post(t, loan.lender, loan.borrower, loan.principal, flow, loan.id)
        self.book.add_loan(loan)
        return loan

    def accrue_compute(
        self, t: int, buyer: MarketAgent, cloud: MarketAgent, amount: float, instrument: str
    ) -> None:
        """A compute bill falls due from ``buyer`` to ``cloud``."""
        self._accrue(t, buyer, cloud.name, amount, Flow.COMPUTE_DUE, instrument)

    def settle_in_shares(self, t: int, ob: Obligation) -> None:
        """Settle a compute obligation with new shares of the debtor (compute credits)."""
        debtor, creditor = self.agent(ob.debtor), self.agent(ob.creditor)
        amount = ob.cents / CENTS_PER_USD
        price = max(self.valuation(debtor), 2 * amount) / self.book.shares_outstanding[debtor.name]
        self.ledger.post(t, debtor.name, creditor.name, amount, Flow.COMPUTE_CREDIT, ob.instrument)
        self.book.issue_shares(debtor.name, creditor.name, amount / price, amount)
        self.obligations.of(debtor.name).remove(ob)

    def _sign(self, lab: Lab, cloud: str, gpus: float, price: float, start: int, t: int) -> None:
        mkt = self.cfg.market
        contract = self.book.add_contract(
            CapacityContract(
                self.book.new_id("contract"),
                lab.name,
                cloud,
                gpus,
                price,
                start,
                mkt.contract_term_months,
                mkt.take_or_pay_share,
                signed=t,
            )
        )
        if mkt.prepayment_share > 0 and start >= t:  # new contracts, not running ones
            prepay = min(
                mkt.prepayment_share * contract.remaining_value(start, mkt.hours_per_month),
                mkt.prepayment_max_cash_share * lab.cash,
            )
            contract.prepaid_cents = self.ledger.post(
                t, lab.name, cloud, _cents_round(prepay), Flow.COMPUTE_PREPAYMENT, contract.id
            )

    def bill_contract(
        self, t: int, buyer: MarketAgent, contract: CapacityContract, bill: float
    ) -> None:
        """A month's bill for ``contract`` falls due: what is left of its prepayment is used
        first (no cash moves), the rest becomes an obligation."""
        used = min(contract.prepaid_cents, to_cents(bill))
        if used:
            self.ledger.post(
                t,
                buyer.name,
                contract.seller,
                used / CENTS_PER_USD,
                Flow.PREPAYMENT_USED,
                contract.id,
            )
            contract.prepaid_cents -= used
        rest = max(0.0, bill - used / CENTS_PER_USD)
        self._accrue(t, buyer, contract.seller, rest, Flow.COMPUTE_DUE, contract.id)

    def forfeit_prepayment(self, t: int, contract: CapacityContract) -> int:
        """The seller keeps what is left of ``contract``'s prepayment (term over, or the buyer
        defaulted); returns the cents forfeited."""
        cents = contract.prepaid_cents
        if cents:
            self.ledger.post(
                t,
                contract.buyer,
                contract.seller,
                cents / CENTS_PER_USD,
                Flow.PREPAYMENT_FORFEITED,
                contract.id,
            )
            contract.prepaid_cents = 0
        return cents

    def _lend(self, lender: Investor, borrower: MarketAgent, amount: float, rate: float) -> Loan:
        loan = Loan(
            self.book.new_id("loan"),
            lender.name,
            borrower.name,
            min(amount, lender.cash),
            rate,
            self.month,
            self.cfg.finance.loan_maturity_months,
        )
        self.advance_loan(self.month, loan)
        lender.loans_used_usd += loan.principal
        return loan

    def _borrow(self, t: int, cloud: Cloud, amount: float) -> None:
        """Borrow up to ``amount`` from a syndicate: the lenders with the largest budgets,
        at most ``finance.syndicate_size`` of them, sharing it pro rata to their budgets."""
        fin = self.cfg.finance
        ranked = sorted(self.investors, key=lambda i: (-i.loan_budget(self.sentiment), i.name))
        lenders = [i for i in ranked[: fin.syndicate_size] if i.loan_budget(self.sentiment) >= 1.0]
        budgets = np.array([i.loan_budget(self.sentiment) for i in lenders])
        if amount < 1.0 or budgets.sum() < 1.0:
            return
        take = market.pro_rata(budgets * (amount / budgets.sum()), float(budgets.sum()))
        rate = cloud.spec.interest_rate_per_year + fin.stress_spread_per_sentiment * max(
            0.0, 1.0 - self.sentiment
        )
        for lender, usd in zip(lenders, take, strict=True):
            if usd >= 1.0:
                self._lend(lender, cloud, float(min(usd, lender.loan_budget(self.sentiment))), rate)

    def _equity_round(self, t: int, lab: Lab, amount: float) -> None:
        """Sell new shares of ``lab`` to investors at a price set by the valuation."""
        investors = [i for i in self.investors if i.equity_budget(self.sentiment) > 0]
        budgets = np.array([i.equity_budget(self.sentiment) for i in investors])
        if budgets.sum() < 1.0:
            return
        raise_usd = min(amount, float(budgets.sum()))
        post_money = max(lab.valuation_usd(self.sentiment), 2 * raise_usd)
        price_per_share = (post_money - raise_usd) / self.book.shares_outstanding[lab.name]
        for investor, budget in zip(investors, budgets, strict=True):
            usd = _cents_round(raise_usd * budget / budgets.sum())
            if usd < 1.0:
                continue
            self.ledger.post(t, investor.name, lab.name, usd, Flow.EQUITY_INVESTMENT, "round")
            self.book.issue_shares(lab.name, investor.name, usd / price_per_share, usd)
            investor.equity_used_usd += usd

    def valuation(self, issuer: MarketAgent) -> float:
        """Equity value of ``issuer`` that holders mark their stakes to, USD."""
        if issuer.defaulted:
            return 0.0
        if isinstance(issuer, Lab):
            return issuer.valuation_usd(self.sentiment)
        return max(0.0, issuer.equity)

    def _mark_stakes(self, t: int) -> None:
        """Mark every stake to ownership × the issuer's valuation, through the holder's P&L."""
        for stake in self.book.stakes.values():
            issuer = self.agent(stake.issuer)
            value = self.book.ownership(stake.holder, stake.issuer) * self.valuation(issuer)
            new_cents, old_cents = to_cents(value), to_cents(stake.mark_usd)
            if new_cents > old_cents:
                self.ledger.journal(
                    t,
                    stake.holder,
                    Line.STAKES,
                    Line.RETAINED,
                    (new_cents - old_cents) / CENTS_PER_USD,
                    "stake marked up",
                )
            elif new_cents < old_cents:
                self.ledger.journal(
                    t,
                    stake.holder,
                    Line.RETAINED,
                    Line.STAKES,
                    (old_cents - new_cents) / CENTS_PER_USD,
                    "stake marked down",
                )
            stake.mark_usd = new_cents / CENTS_PER_USD

    # ------------------------------------------------------------------------------
    # Audit: the books against the instruments
    # ------------------------------------------------------------------------------
    def audit(self) -> None:
        """Raise AssertionError unless the books balance, cash is conserved, and every
        balance-sheet line equals what the instruments and fleets say it should be."""
        self.ledger.check()
        prepaid: dict[str, int] = {}  # unused prepayments by buyer and by seller, all contracts
        deferred: dict[str, int] = {}
        for c in self.book.contracts:
            prepaid[c.buyer] = prepaid.get(c.buyer, 0) + c.prepaid_cents
            deferred[c.seller] = deferred.get(c.seller, 0) + c.prepaid_cents
        for agent in self.all_agents:
            name = agent.name
            owed = self.obligations.of(name)
            payables = sum(o.cents for o in owed if not o.external)
            _same(self.ledger.balance_cents(name, Line.PAYABLES), payables, f"{name} payables")
            if isinstance(agent, Cloud):
                _same(
                    self.ledger.balance_cents(name, Line.FLEET),
                    agent.fleet_book_cents(),
                    f"{name} fleet",
                )
            debt = sum(loan.outstanding for loan in self.book.loans_of(borrower=name))
            _close(self.ledger.balance(name, Line.DEBT), debt, f"{name} debt")
            loans = sum(loan.outstanding for loan in self.book.loans_of(lender=name))
            _close(self.ledger.balance(name, Line.LOANS), loans, f"{name} loans")
            marks = sum(s.mark_usd for s in self.book.stakes_of(name))
            _close(self.ledger.balance(name, Line.STAKES), marks, f"{name} stakes")
            _same(
                self.ledger.balance_cents(name, Line.PREPAID),
                prepaid.get(name, 0),
                f"{name} prepaid",
            )
            _same(
                self.ledger.balance_cents(name, Line.DEFERRED_REVENUE),
                deferred.get(name, 0),
                f"{name} deferred revenue",
            )
            if self.obligations.of(name):
                raise AssertionError(f"{name} still has open obligations after the month")
            for line in Line:
                value = self.ledger.balance_cents(name, line)
                if line not in (Line.RETAINED, Line.PAID_IN) and value < 0:
                    raise AssertionError(f"{name} has negative {line.value}: {value}")
            for v in getattr(agent, "fleet", []):
                if v.gpus < 0 or not math.isfinite(v.gpus):
                    raise AssertionError(f"{name} has a bad GPU count {v.gpus}")

    # ------------------------------------------------------------------------------
    # Data collection
    # ------------------------------------------------------------------------------
    def _make_datacollector(self) -> mesa.DataCollector:
        common = {
            "name": "name",
            "archetype": "archetype",
            "defaulted": "defaulted",
            "cash_usd": lambda a: a.cash,
            "receivables_usd": lambda a: a.model.ledger.balance(a.name, Line.RECEIVABLES),
            "fleet_usd": lambda a: a.model.ledger.balance(a.name, Line.FLEET),
            "stakes_usd": lambda a: a.model.ledger.balance(a.name, Line.STAKES),
            "loans_usd": lambda a: a.model.ledger.balance(a.name, Line.LOANS),
            "prepaid_usd": lambda a: a.model.ledger.balance(a.name, Line.PREPAID),
            "payables_usd": lambda a: a.model.ledger.balance(a.name, Line.PAYABLES),
            "deferred_revenue_usd": lambda a: a.model.ledger.balance(a.name, Line.DEFERRED_REVENUE),
            "debt_usd": lambda a: a.model.ledger.balance(a.name, Line.DEBT),
            "paid_in_usd": lambda a: a.model.ledger.balance(a.name, Line.PAID_IN),
            "retained_usd": lambda a: a.model.ledger.balance(a.name, Line.RETAINED),
            "equity_usd": lambda a: a.equity,
        }
        return mesa.DataCollector(
            model_reporters=MODEL_REPORTERS,
            agenttype_reporters={
                Lab: {
                    **common,
                    "valuation_usd": lambda a: a.model.valuation(a),
                    "gpus_used": "used_gpus",
                    "revenue_usd": "revenue_usd",
                    "need_gpus": "need_gpus",
                },
                Cloud: {
                    **common,
                    "gpus_installed": lambda a: a.installed_gpus(a.model.month),
                    "gpus_used": "used_gpus",
                    "gpus_contracted": lambda a: a.model.book.contracted_gpus(
                        seller=a.name, step=a.model.month
                    ),
                },
                ChipVendor: {
                    **common,
                    "units_delivered": "delivered_units",
                    "revenue_usd": "revenue_usd",
                },
                Investor: dict(common),
            },
        )

    def agent_table(self) -> pd.DataFrame:
        """One row per agent per month, all types together, with an ``agent_type`` column."""
        frames = []
        for cls in (Lab, Cloud, ChipVendor, Investor):
            df = self.datacollector.get_agenttype_vars_dataframe(cls)
            if df is None or len(df) == 0:
                continue
            df = df.reset_index().rename(columns={"Step": "step", "AgentID": "agent_uid"})
            df["agent_type"] = cls.__name__
            frames.append(df)
        out = pd.concat(frames, ignore_index=True).rename(columns={"name": "agent_id"})
        out["step"] = out["step"].astype(int) - 1
        out["date"] = self.start_date + pd.to_timedelta(0, "D")
        out["date"] = [self.start_date + pd.DateOffset(months=int(s)) for s in out["step"]]
        cols = ["step", "date", "agent_id", "agent_type"]
        rest = [c for c in out.columns if c not in cols and c != "agent_uid"]
        return out[cols + rest].sort_values(["step", "agent_type", "agent_id"], ignore_index=True)

    def model_table(self) -> pd.DataFrame:
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df.insert(0, "step", range(len(df)))
        df.insert(1, "date", [self.start_date + pd.DateOffset(months=s) for s in df["step"]])
        return df

    def events_table(self) -> pd.DataFrame:
        cols = ["step", "round", "event", "defaulter", "creditor", "amount_lost", "instrument"]
        return pd.DataFrame(self.events, columns=cols)

    def exposures_table(self) -> pd.DataFrame:
        cols = ["step", "creditor", "debtor", "balance_sheet_usd", "backlog_usd", "amount"]
        return pd.DataFrame(self.exposure_rows, columns=cols)

    def debtrank_table(self) -> pd.DataFrame:
        cols = ["step", "agent_id", "agent_type", "debtrank", "equity_usd", "weight"]
        return pd.DataFrame(self.debtrank_rows, columns=cols)


def _model_stat(key: str):
    return lambda m: m.month_stats.get(key, 0.0)


MODEL_REPORTERS = {
    "installed_gpus": _model_stat("installed_gpus"),
    "need_gpus": _model_stat("need_gpus"),
    "used_gpus": _model_stat("used_gpus"),
    # used and installed GPUs are sums over clouds in different orders: cap the rounding
    "utilisation": lambda m: (
        min(1.0, m.month_stats["used_gpus"] / m.month_stats["installed_gpus"])
        if m.month_stats.get("installed_gpus")
        else 0.0
    ),
    "contracted_gpus": lambda m: m.total_contracted(m.month),
    "gpus_on_order": lambda m: sum(o.undelivered for o in m.book.open_orders()),
    "spot_price_usd_per_gpu_hour": lambda m: m.spot_price,
    "spot_supply_gpus": _model_stat("spot_supply_gpus"),
    "spot_demand_gpus": _model_stat("spot_demand_gpus"),
    "demand_level": lambda m: m.demand.level,
    "lab_revenue_usd": lambda m: sum(lab.revenue_usd for lab in m.labs),
    "capex_usd": _model_stat("capex_usd"),
    "chip_deliveries_gpus": _model_stat("chip_deliveries_gpus"),
    "orders_placed_gpus": _model_stat("orders_placed_gpus"),
    "contracts_signed_gpus": _model_stat("contracts_signed_gpus"),
    "new_defaults": _model_stat("new_defaults"),
    "defaults_cumulative": lambda m: m.defaults_total,
    "sentiment": lambda m: m.sentiment,
    "total_cash_usd": lambda m: m.ledger.total_cash_cents() / CENTS_PER_USD,
    "total_debt_usd": lambda m: sum(loan.outstanding for loan in m.book.loans if loan.active),
    "money_moved_usd": lambda m: m.ledger.moved_cents(m.month) / CENTS_PER_USD,
    "full_cost_usd_per_gpu_hour": lambda m: m.full_cost(m.month),
    "need_at_full_cost_gpus": lambda m: m.need_at_price(m.full_cost(m.month)),
    "fleet_book_usd": lambda m: sum(c.fleet_book_cents() for c in m.clouds) / CENTS_PER_USD,
    "impairment_usd": _model_stat("impairment_usd"),
    "impairment_cumulative_usd": lambda m: m.impairment_total_usd,
    "vendor_ceiling_units": lambda m: sum(v.ceiling for v in m.vendors),
}


def _cents_round(usd: float) -> float:
    return round(usd * CENTS_PER_USD) / CENTS_PER_USD


def _same(a: int, b: int, what: str) -> None:
    if a != b:
        raise AssertionError(f"{what}: books {a} != instruments {b} (cents)")


def _close(a: float, b: float, what: str) -> None:
    if abs(a - b) > 1e-6 * max(1.0, abs(a), abs(b)) + 0.02:
        raise AssertionError(f"{what}: books {a} != instruments {b}")
