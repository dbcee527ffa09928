"""ComputeMarket: the Mesa model that builds the world, steps through the month's phases and
exports the tables.

The month is data: :data:`sim.phases.MONTH` lists the phases in order (demand, operate,
settle, invest, finance, resolve, collect, close), one module each. Agents decide
(``sim.agents``); :class:`~sim.books.Books` is the only writer of the ledger, the instrument
book and the obligations; deals plug into the phases (``sim.deals``). The model is also the
:class:`~sim.agents.MarketView` that agents read and the
:class:`~sim.deals.DealWorld` that deals act in.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim import costs, mechanisms
from sim.agents import ChipVendor, Cloud, Investor, Lab, MarketAgent, Vintage
from sim.books import FOUNDERS, Books
from sim.config import ConfigError, Scenario, agent_names
from sim.deals import DealBook
from sim.demand import Demand, OutsideDemand
from sim.instruments import CapacityContract, ChipOrder
from sim.ledger import CENTS_PER_USD, Flow, Line, to_cents
from sim.phases import MONTH, MonthState, credit, invest
from sim.phases.markets import CapitalMarket


@dataclass(frozen=True)
class AgentClasses:
    """The class that plays each role; a subclass (an integrated lab, say) takes part in
    every phase its role does."""

    lab: type[Lab] = Lab
    cloud: type[Cloud] = Cloud
    vendor: type[ChipVendor] = ChipVendor
    investor: type[Investor] = Investor


@functools.lru_cache(maxsize=16)
def month_dates(start: pd.Timestamp, months: int) -> pd.DatetimeIndex:
    """The dates of months 0 … ``months`` − 1 from ``start``: ``start`` + that many months,
    as the model and agent tables date their rows (computed once per start and length: a
    sweep worker's runs share them)."""
    return pd.DatetimeIndex([start + pd.DateOffset(months=s) for s in range(months)])


class ComputeMarket(mesa.Model):
    """The AI compute market, one step per month."""

    def __init__(
        self,
        config: Scenario,
        rng: int | None = None,
        audit: bool = False,
        classes: AgentClasses | None = None,
        *,
        record_agents: bool = True,
        model_columns: Collection[str] | None = None,
        record_non_cash: bool = True,
    ) -> None:
        # `config`, not `scenario`: mesa.Model owns `scenario` (its own Scenario class) and
        # SolaraViz's Reset passes one as `scenario=` to any constructor with that parameter.
        scenario = config
        seed = scenario.run.seed if rng is None else rng
        super().__init__(rng=seed)
        self.cfg = scenario
        self.seed = seed
        self.audit_every_step = audit
        # without record_non_cash the ledger keeps no accruals, allocations or journal log
        self.books = Books(record_non_cash=record_non_cash)
        # balance(name, line=Line.CASH): one line of an agent's balance sheet, USD (the
        # MarketView's reader) — the ledger's own method, not a wrapper of it: it is read for
        # every cash figure, about 60,000 times a run
        self.balance: Callable[..., float] = self.books.ledger.balance
        self.month = 0
        self.start_date = pd.Timestamp(f"{scenario.run.start}-01")
        self.spot_price = scenario.market.initial_spot_price_usd_per_gpu_hour
        self.reference_price = self.spot_price
        self.price_history: list[float] = []
        self.impairment_total_usd = 0.0
        self.sentiment = scenario.finance.sentiment_initial
        self.capital = CapitalMarket(scenario)
        self.demand = Demand(scenario.demand, self.rng)
        self.outside = OutsideDemand(scenario.outside, scenario.demand, self.rng)
        self.month_state = MonthState()
        self._credit_offered: tuple[tuple[object, ...], float] | None = None  # and its key
        self._full_cost: dict[int, float] = {}  # full_cost by month
        self._facility_cost: dict[int, float] = {}  # facility_cost by month
        # credit.collateral_backlog_usd's last answer per seller, with what it was computed
        # from (the seller's backlog terms and its buyers' cash and burn)
        self.collateral_memo: dict[str, tuple[object, tuple[object, ...], float]] = {}
        # credit.credit_profile's concentration per borrower, with the backlog amounts by
        # buyer it was computed from (InstrumentBook.backlog_amounts: the same object while
        # the contracts are the same)
        self.concentration_memo: dict[str, tuple[object, float]] = {}
        self.events: list[dict[str, object]] = []
        self.debtrank_rows: list[dict[str, object]] = []
        self.exposure_rows: list[dict[str, object]] = []
        self.agent_rows: list[dict[str, object]] = []
        # without it the agents table is not kept (a sweep whose outputs do not read it)
        self.record_agents = record_agents
        self.solvent_before_default: dict[str, bool] = {}  # set by each clearing round
        self.covenant_months: dict[str, int] = {}  # months in a row below the coverage floor
        self.defaults_total = 0
        self._build_agents(classes or AgentClasses())
        self.deals = DealBook(scenario.deals)
        self.reference_inference_gpus = self._reference_inference_gpus()
        self._open_world()
        self.datacollector = mesa.DataCollector(model_reporters=model_reporters(model_columns))

    # ------------------------------------------------------------------------------
    # Set-up
    # ------------------------------------------------------------------------------
    def _build_agents(self, classes: AgentClasses) -> None:
        cfg = self.cfg
        total_share = sum(s.demand_share for s in cfg.labs)
        for spec in cfg.labs:
            for name in agent_names(spec.name, spec.count):
                self.books.open_account(name)
                classes.lab(self, self, name, spec, spec.demand_share / total_share / spec.count)
        for spec in cfg.clouds:
            for name in agent_names(spec.name, spec.count):
                self.books.open_account(name)
                classes.cloud(self, self, name, spec)
        for spec in cfg.chip_vendors:
            for name in agent_names(spec.name, spec.count):
                self.books.open_account(name)
                classes.vendor(self, self, name, spec, 1.0 / spec.count)
        for spec in cfg.investors:
            for name in agent_names(spec.name, spec.count):
                self.books.open_account(name)
                classes.investor(self, self, name, spec)
        everyone = list(self.agents)  # creation order
        self.labs: list[Lab] = [a for a in everyone if isinstance(a, Lab)]
        self.clouds: list[Cloud] = [a for a in everyone if isinstance(a, Cloud)]
        self.vendors: list[ChipVendor] = [a for a in everyone if isinstance(a, ChipVendor)]
        self.investors: list[Investor] = [a for a in everyone if isinstance(a, Investor)]
        self.all_agents: list[MarketAgent] = [
            *self.labs,
            *self.clouds,
            *self.vendors,
            *self.investors,
        ]
        self._by_name = {a.name: a for a in self.all_agents}
        self._clouds_by_name = {c.name: c for c in self.clouds}

    def _reference_inference_gpus(self) -> float:
        """Inference GPUs that earn the configured opening revenue at the opening price."""
        hours = self.cfg.market.hours_per_month
        usd_per_gpu = sum(
            lab.demand_share * lab.service_price(self.reference_price) * hours for lab in self.labs
        )
        return self.cfg.demand.initial_revenue_usd_per_month / usd_per_gpu

    def _open_world(self) -> None:
        """Opening balance sheets: founders' cash, the clouds' fleets and opening debt (lent
        round-robin by the investors with a loan appetite), existing contracts."""
        for agent in self.all_agents:
            opening = agent.spec.initial_cash_usd
            if isinstance(agent, Cloud):
                opening = max(0.0, opening - agent.spec.initial_debt_usd)
            self.books.receive(0, FOUNDERS, agent.name, opening, Flow.FOUNDING_CAPITAL)
        lenders = [i for i in self.investors if i.spec.loan_appetite > 0] or self.investors
        self._check_opening_debt(lenders)
        for k, cloud in enumerate(self.clouds):
            self._open_fleet(cloud)
            if cloud.spec.initial_debt_usd > 0:
                lender = lenders[k % len(lenders)]
                loan, _ = mechanisms.lend(
                    self.books,
                    self.month,
                    lender,
                    cloud,
                    cloud.spec.initial_debt_usd,
                    cloud.spec.interest_rate_per_year,
                    self.cfg.finance.loan_maturity_months,
                )
                # the opening debt was lent before the run: it bears interest and amortises
                # from the first month (a loan booked in month 0 otherwise starts in month 1)
                loan.start = self.month - 1
                # opening debt beyond the opening cash financed the opening fleet, not cash:
                # the founders' paid-in capital is that much less (it was a cash pile the
                # cloud prepaid in its first month, so CoreWeave's $8B opened as $1.2B)
                self.books.redeem(
                    self.month,
                    cloud.name,
                    max(0.0, cloud.spec.initial_debt_usd - cloud.spec.initial_cash_usd),
                )
        self._open_contracts()
        if self.cfg.technology.impairment:
            for cloud in self.clouds:
                self.books.open_fleet_at_recoverable_amount(cloud.name, cloud.impair(self.month))
        invest.open_pipeline(self)
        self.deals.on_open(self)

    def _check_opening_debt(self, lenders: list[Investor]) -> None:
        """Opening debt is lent round-robin by ``lenders``; each must have the cash for what
        it lends, or the scenario is refused (it was once silently cut to their cash)."""
        owed: dict[str, list[Cloud]] = {}
        for k, cloud in enumerate(self.clouds):
            if cloud.spec.initial_debt_usd > 0:
                if not lenders:
                    raise ConfigError(
                        f"clouds.{cloud.name}.initial_debt_usd is "
                        f"{cloud.spec.initial_debt_usd:,.0f} but the scenario has no investor "
                        "to lend it. Add an investor or set the debt to 0."
                    )
                owed.setdefault(lenders[k % len(lenders)].name, []).append(cloud)
        for lender in lenders:
            clouds = owed.get(lender.name, [])
            total = sum(c.spec.initial_debt_usd for c in clouds)
            if total > lender.spec.initial_cash_usd:
                names = ", ".join(c.name for c in clouds)
                raise ConfigError(
                    f"opening debt of {names} (${total:,.0f} in all) is lent by investor "
                    f"{lender.name}, whose initial_cash_usd is "
                    f"${lender.spec.initial_cash_usd:,.0f}: raise "
                    f"investors.{lender.name}.initial_cash_usd to at least ${total:,.0f} or "
                    f"lower clouds.*.initial_debt_usd (opening loans are lent round-robin by "
                    f"the investors with a loan appetite)."
                )

    def _open_fleet(self, cloud: Cloud) -> None:
        """Give a cloud its opening GPUs as vintages of the last two years, contributed at
        depreciated cost by its founders (a non-cash entry to paid-in capital); once its
        opening contracts are known, the part of that cost above the fleet's value in use is
        written off the same paid-in capital (:meth:`Books.open_fleet_at_recoverable_amount`).
        Until MODEL_VERSION 0.61 it was charged to the first month's profit: the neocloud-
        leader's 2025 net income carried a $2.8B impairment of its opening fleet (CoreWeave
        booked none)."""
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
            cloud.receive_chips(vintage)
            self.books.contribute_fleet(cloud.name, vintage.book_cents)

    def _open_contracts(self) -> None:
        """Existing take-or-pay contracts: each lab covers its opening need with its partners,
        with staggered remaining terms, sized to what the clouds have installed."""
        mkt = self.cfg.market
        clouds = [c for c in self.clouds if c.sells_to_market]
        weights = np.array([c.spec.initial_gpus for c in clouds], dtype=float)
        for lab in self.labs:
            k = min(self.cfg.network.partners_per_lab, len(clouds))
            lab.choose_partners(clouds, weights, k, self.rng)
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
                price = self.spot_price * mkt.contract_price_ratio
                mechanisms.sign_contract(self.books, self.cfg, 0, lab, partner, gpus, price, start)

    # ------------------------------------------------------------------------------
    # Look-ups (the MarketView agents read, the DealWorld deals act in)
    # ------------------------------------------------------------------------------
    def agent(self, name: str) -> MarketAgent:
        return self._by_name[name]

    def cloud(self, name: str) -> Cloud:
        try:  # asked for each contract a cloud holds as buyer, every month
            return self._clouds_by_name[name]
        except KeyError:
            raise KeyError(f"{name} is not a cloud") from None

    def equity_of(self, name: str) -> float:
        return self.books.ledger.equity(name)

    def arrears_usd(self, name: str) -> float:
        return self.books.arrears_usd(name)

    def contracts_of(self, name: str, step: int | None = None) -> list[CapacityContract]:
        return self.books.instruments.contracts_of(name, step)

    def sales_in_force(self, seller: str, step: int) -> list[CapacityContract]:
        return self.books.instruments.sales_in_force(seller, step)

    def purchases_in_force(self, buyer: str, step: int) -> list[CapacityContract]:
        return self.books.instruments.purchases_in_force(buyer, step)

    def contracted_gpus(
        self, *, buyer: str | None = None, seller: str | None = None, step: int
    ) -> float:
        return self.books.instruments.contracted_gpus(buyer=buyer, seller=seller, step=step)

    def backlog_usd(self, seller: str, step: int) -> float:
        return self.books.instruments.backlog_usd(seller, step, self.cfg.market.hours_per_month)

    def debt_usd(self, borrower: str) -> float:
        return self.books.instruments.debt_usd(borrower)

    def credit_offered_usd(self) -> float:
        # the answer depends on sentiment, investors' cash (which changes only by a posting
        # to the flow log) and what they lent this month: kept while all three are the same
        key = (
            self.sentiment,
            self.books.ledger.n_postings,
            tuple([i.loans_used_usd for i in self.investors]),
        )
        if self._credit_offered is not None and self._credit_offered[0] == key:
            return self._credit_offered[1]
        budgets = sorted([i.loan_budget(self.sentiment) for i in self.investors], reverse=True)
        offered = sum(budgets[: self.cfg.finance.syndicate_size])
        self._credit_offered = (key, offered)
        return offered

    def debt_service_usd(self, borrower: str) -> float:
        return self.books.debt_service_usd(borrower)

    def collateral_backlog_usd(self, seller: str, step: int) -> float:
        return credit.collateral_backlog_usd(self, seller, step)

    def expected_growth(self, name: str) -> float:
        return self.capital.expected_growth(name)

    def market_cap_usd(self, name: str) -> float | None:
        return self.capital.caps.get(name)

    def open_orders(
        self, *, buyer: str | None = None, vendor: str | None = None
    ) -> list[ChipOrder]:
        return self.books.instruments.open_orders(buyer=buyer, vendor=vendor)

    def orders_version(self, agent: str) -> object:
        return self.books.instruments.orders_version(agent)

    def contracts_version(self, agent: str) -> object:
        return self.books.instruments.contracts_version(agent)

    def chip_price(self, step: int) -> float:
        """Average vendor list price of an H100-equivalent at ``step``, USD."""
        return costs.chip_price(self.cfg, step)

    def facility_cost(self, step: int) -> float:
        """Non-chip capex per H100-equivalent at ``step``, USD (each month's computed once:
        clouds cost their orders with it several times a month)."""
        cost = self._facility_cost.get(step)
        if cost is None:
            cost = self._facility_cost[step] = costs.facility_cost(self.cfg.technology, step)
        return cost

    def building_gpus(self, exclude: str) -> float:
        month = self.month
        return sum(
            v.gpus
            for c in self.clouds
            if c.name != exclude and not c.defaulted
            for v in c.fleet
            if v.online_step > month
        )

    def unbuilt_backlog_gpus(self, exclude: str) -> float:
        month = self.month
        instruments = self.books.instruments
        total = 0.0
        for c in self.clouds:
            if c.name == exclude or c.defaulted:
                continue
            # contracted GPUs change only when a contract starts or ends: the peak from now
            # on is at this month or at a later contract's start
            starts = {month} | {
                k.start
                for k in instruments.contracts_of(c.name)
                if k.seller == c.name and k.start > month
            }
            peak = max(instruments.contracted_gpus(seller=c.name, step=s) for s in starts)
            if peak > 0:
                total += max(0.0, peak - c.installed_gpus(month) - c.pipeline_gpus(month))
        return total

    def full_cost(self, step: int) -> float:
        """Full cost of a new GPU-hour at ``step``, USD (:func:`sim.costs.full_cost` of the
        scenario: each month's computed once, as clouds look back over the last months'
        for a glut several times a month)."""
        cost = self._full_cost.get(step)
        if cost is None:
            cost = self._full_cost[step] = costs.full_cost(self.cfg, step)
        return cost

    def need_at_price(self, price: float) -> float:
        """GPUs the labs and the buyers beyond them would use this month if compute cost
        ``price`` (USD/GPU-hour)."""
        response = (price / self.reference_price) ** self.cfg.demand.price_elasticity
        labs = sum(
            lab.need_at(lab.inference_gpus_history[-1], self.month) * response
            for lab in self.labs
            if lab.inference_gpus_history
        )
        return labs + self.outside.at_price(price, self.reference_price)

    # ------------------------------------------------------------------------------
    # The month
    # ------------------------------------------------------------------------------
    def step(self) -> None:
        """One month: every phase of :data:`sim.phases.MONTH`, in order."""
        self.month_state = MonthState()
        for phase in MONTH:
            phase.run(self, self.month)
        self.month += 1
        self.running = self.month < self.cfg.run.months  # Play stops after the last month

    def record_month(self) -> None:
        """Append this month's rows to the model and agents tables."""
        self.datacollector.collect(self)
        if not self.record_agents:
            return
        for agent in self.all_agents:
            self.agent_rows.append({"step": self.month, "agent_type": agent.kind, **agent.row()})

    # ------------------------------------------------------------------------------
    # Audit: the books against the instruments
    # ------------------------------------------------------------------------------
    def audit(self) -> None:
        """Raise AssertionError unless the books balance, cash is conserved, and every
        balance-sheet line equals what the instruments and fleets say it should be."""
        ledger, book, obligations = (
            self.books.ledger,
            self.books.instruments,
            self.books.obligations,
        )
        ledger.check()
        prepaid: dict[str, int] = {}  # unused prepayments by buyer and by seller, all contracts
        deferred: dict[str, int] = {}
        for c in book.contracts:
            prepaid[c.buyer] = prepaid.get(c.buyer, 0) + c.prepaid_cents
            deferred[c.seller] = deferred.get(c.seller, 0) + c.prepaid_cents
        for agent in self.all_agents:
            name = agent.name
            owed = obligations.of(name)
            payables = sum(o.cents for o in owed if not o.external)
            _same(ledger.balance_cents(name, Line.PAYABLES), payables, f"{name} payables")
            if isinstance(agent, Cloud):
                _same(
                    ledger.balance_cents(name, Line.FLEET),
                    agent.fleet_book_cents(),
                    f"{name} fleet",
                )
            debt = sum(loan.outstanding for loan in book.loans_of(borrower=name))
            _close(ledger.balance(name, Line.DEBT), debt, f"{name} debt")
            loans = sum(loan.outstanding for loan in book.loans_of(lender=name))
            _close(ledger.balance(name, Line.LOANS), loans, f"{name} loans")
            marks = sum(s.mark_usd for s in book.stakes_of(name))
            _close(ledger.balance(name, Line.STAKES), marks, f"{name} stakes")
            _same(ledger.balance_cents(name, Line.PREPAID), prepaid.get(name, 0), f"{name} prepaid")
            _same(
                ledger.balance_cents(name, Line.DEFERRED_REVENUE),
                deferred.get(name, 0),
                f"{name} deferred revenue",
            )
            if obligations.of(name):
                raise AssertionError(f"{name} still has open obligations after the month")
            for line in Line:
                value = ledger.balance_cents(name, line)
                if line not in (Line.RETAINED, Line.PAID_IN) and value < 0:
                    raise AssertionError(f"{name} has negative {line.value}: {value}")
            for v in getattr(agent, "fleet", []):
                if v.gpus < 0 or not math.isfinite(v.gpus):
                    raise AssertionError(f"{name} has a bad GPU count {v.gpus}")

    # ------------------------------------------------------------------------------
    # Tables
    # ------------------------------------------------------------------------------
    def agent_table(self) -> pd.DataFrame:
        """One row per agent per month, every role together, with an ``agent_type`` column
        (the role) and the columns each role declares (``MarketAgent.columns``)."""
        if not self.record_agents:
            raise RuntimeError("this run kept no agent rows (built with record_agents=False)")
        out = pd.DataFrame(self.agent_rows).rename(columns={"name": "agent_id"})
        dates = month_dates(self.start_date, self.month + 1)
        out.insert(1, "date", dates[out["step"].to_numpy()])
        cols = ["step", "date", "agent_id", "agent_type"]
        rest = [c for c in out.columns if c not in cols]
        return out[cols + rest].sort_values(["step", "agent_type", "agent_id"], ignore_index=True)

    def model_table(self) -> pd.DataFrame:
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df.insert(0, "step", range(len(df)))
        df.insert(1, "date", month_dates(self.start_date, len(df)))
        return df

    def events_table(self) -> pd.DataFrame:
        cols = [
            "step",
            "round",
            "event",
            "defaulter",
            "creditor",
            "amount_lost",
            "instrument",
            "instrument_kind",
        ]
        return pd.DataFrame(self.events, columns=cols)

    def exposures_table(self) -> pd.DataFrame:
        cols = ["step", "creditor", "debtor", "balance_sheet_usd", "backlog_usd", "amount"]
        return pd.DataFrame(self.exposure_rows, columns=cols)

    def debtrank_table(self) -> pd.DataFrame:
        cols = ["step", "agent_id", "agent_type", "debtrank", "equity_usd", "weight"]
        return pd.DataFrame(self.debtrank_rows, columns=cols)


def _month(field: str):
    return lambda m: getattr(m.month_state, field)


MODEL_REPORTERS = {
    "installed_gpus": _month("installed_gpus"),
    "need_gpus": _month("need_gpus"),
    "used_gpus": _month("used_gpus"),
    "utilisation": lambda m: m.month_state.utilisation,
    "contracted_gpus": lambda m: m.contracted_gpus(step=m.month),
    "gpus_on_order": lambda m: sum(o.undelivered for o in m.open_orders()),
    "spot_price_usd_per_gpu_hour": lambda m: m.spot_price,
    "spot_supply_gpus": _month("spot_supply_gpus"),
    "spot_demand_gpus": _month("spot_demand_gpus"),
    "demand_level": lambda m: m.demand.level,
    "outside_need_gpus": _month("outside_need_gpus"),
    "outside_served_gpus": _month("outside_served_gpus"),
    "in_house_gpus": _month("in_house_gpus"),
    "lab_revenue_usd": lambda m: sum(lab.revenue_usd for lab in m.labs),
    "capex_usd": _month("capex_usd"),
    "chip_deliveries_gpus": _month("chip_deliveries_gpus"),
    "orders_placed_gpus": _month("orders_placed_gpus"),
    "orders_cancelled_gpus": _month("orders_cancelled_gpus"),
    "credit_committed_usd": _month("credit_committed_usd"),
    "credit_drawn_usd": _month("credit_drawn_usd"),
    "bonds_issued_usd": _month("bonds_issued_usd"),
    "credit_rationed_usd": _month("credit_rationed_usd"),
    "contracts_repriced": _month("contracts_repriced"),
    "contracts_signed_gpus": _month("contracts_signed_gpus"),
    "new_defaults": _month("new_defaults"),
    "defaults_cumulative": lambda m: m.defaults_total,
    "sentiment": lambda m: m.sentiment,
    "total_cash_usd": lambda m: m.books.ledger.total_cash_cents() / CENTS_PER_USD,
    "total_debt_usd": lambda m: sum(
        loan.outstanding for loan in m.books.instruments.loans if loan.active
    ),
    "money_moved_usd": lambda m: m.books.ledger.moved_cents(m.month) / CENTS_PER_USD,
    "full_cost_usd_per_gpu_hour": lambda m: m.full_cost(m.month),
    "need_at_full_cost_gpus": lambda m: m.need_at_price(m.full_cost(m.month)),
    "fleet_book_usd": lambda m: sum(c.fleet_book_cents() for c in m.clouds) / CENTS_PER_USD,
    "impairment_usd": _month("impairment_usd"),
    "impairment_cumulative_usd": lambda m: m.impairment_total_usd,
    "vendor_ceiling_units": lambda m: sum(v.ceiling for v in m.vendors),
}
"""Columns of the model table, each a function of the model at the end of a month."""


def model_reporters(columns: Collection[str] | None = None) -> dict[str, Callable[[Any], Any]]:
    """The reporters of the model table's ``columns`` (in :data:`MODEL_REPORTERS`' order;
    all of them by default). A reporter only reads the world, so a world that records fewer
    columns runs the same (a sweep records only those its kept outputs read:
    :func:`sim.runner.simulate_outputs`)."""
    if columns is None:
        return dict(MODEL_REPORTERS)
    unknown = sorted(set(columns) - MODEL_REPORTERS.keys())
    if unknown:
        raise ValueError(f"not a column of the model table: {', '.join(unknown)}")
    if not columns:
        raise ValueError("the model table needs at least one column")
    return {k: f for k, f in MODEL_REPORTERS.items() if k in columns}


def _same(a: int, b: int, what: str) -> None:
    if a != b:
        raise AssertionError(f"{what}: books {a} != instruments {b} (cents)")


def _close(a: float, b: float, what: str) -> None:
    if abs(a - b) > 1e-6 * max(1.0, abs(a), abs(b)) + 0.02:
        raise AssertionError(f"{what}: books {a} != instruments {b}")


__all__ = ["MODEL_REPORTERS", "AgentClasses", "ComputeMarket", "model_reporters"]
