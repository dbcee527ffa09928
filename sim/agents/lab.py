"""AI labs: serve end users, contract capacity from their revenue projections, raise equity."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from sim.agents.base import Column, MarketAgent
from sim.agents.view import MarketView
from sim.config import LabSpec
from sim.demand import (
    capability_step,
    enterprise_mix,
    opening_customers,
    opening_enterprise_weight,
)
from sim.instruments import CapacityContract
from sim.ledger import Line
from sim.market import marginal_cost
from sim.valuation import annualise, dcf_value, required_return

if TYPE_CHECKING:
    from sim.agents.cloud import Cloud


class Lab(MarketAgent):
    """A model developer. Needs GPUs for serving (which earns revenue) and for training."""

    kind: ClassVar[str] = "Lab"
    columns: ClassVar[dict[str, Column]] = {
        **MarketAgent.columns,
        "valuation_usd": lambda a: a.market_value(),
        "gpus_used": lambda a: a.used_gpus,
        "gpus_served": lambda a: a.served_gpus,
        "revenue_usd": lambda a: a.revenue_usd,
        "need_gpus": lambda a: a.need_gpus,
        "capability": lambda a: a.capability,
        "gross_margin": lambda a: a.margin,
        "service_price_usd_per_gpu_hour": lambda a: a.price,
        "market_share": lambda a: a.share,
        "enterprise_customers": lambda a: a.customers["enterprise"],
        "resold_gpus": lambda a: a.resold_gpus,
        "infrastructure_share": lambda a: a.infrastructure_share(),
    }
    segments: ClassVar[tuple[str, ...]] = ("consumer", "enterprise")

    def __init__(
        self,
        model: mesa.Model,
        market: MarketView,
        name: str,
        spec: LabSpec,
        demand_share: float,
    ) -> None:
        super().__init__(model, market, name, spec.archetype)
        self.spec = spec
        self.demand_share = demand_share  # share of end-user demand
        self.inference_gpus_history: list[float] = []  # inference GPUs wanted, at the ref price
        self.need_gpus = 0.0  # GPUs wanted this month at the current price
        self.inference_need_gpus = 0.0
        self.used_gpus = 0.0
        self.served_gpus = 0.0
        self.revenue_usd = 0.0
        self.costs_usd = 0.0  # cash costs of the month (compute bills + other opex)
        self.opex_usd = 0.0  # operating costs other than compute, last charged, USD/month
        self.opex_reference_usd = 0.0  # revenue its opex share is measured at, USD/month
        self.partners: list[str] = []
        self.traded_mark: tuple[int, float] | None = None  # (month, valuation) of a secondary
        # --- competition (issue 15) ---
        comp = market.cfg.competition
        self.capability = spec.capability  # model capability, index (leader at start = 1)
        self.margin = spec.gross_margin  # gross margin the lab prices at, share of its price
        self.price = 0.0  # service price posted this month, USD per GPU-hour served
        # its service price at the opening compute price, USD per GPU-hour served
        self.reference_price = market.spot_price / (1.0 - spec.gross_margin)
        # each segment's weight in end-user demand (the enterprise one grows faster) and the
        # lab's opening share of each segment's customers, from its enterprise mix
        weight = opening_enterprise_weight(market.cfg.labs, comp.enterprise_share)
        self.segment_weights = {"consumer": 1.0 - weight, "enterprise": weight}
        mix = enterprise_mix(spec, comp.enterprise_share)
        self.customers = opening_customers(demand_share, mix, weight)  # share of each segment
        self.lock_in = dict.fromkeys(self.segments, 0.0)  # switching cost, log-odds of staying
        # alternative-specific constant: the logit reproduces the opening shares (Berry 1994),
        # overall and, with the segment's appeal, in each segment; the enterprise edge moves
        # enterprise buyers from the first month
        self.brand = math.log(demand_share) - comp.capability_weight * math.log(spec.capability)
        self.segment_appeal = {
            s: math.log(max(self.customers[s], 1e-12) / demand_share) for s in self.segments
        }
        self.segment_appeal["enterprise"] += spec.enterprise_edge
        self.opening_customers = dict(self.customers)  # its segment shares at the start
        self.share_history: list[float] = [demand_share]
        self.idle_share = 0.0  # share of its contracted capacity left idle last month
        self.training_gpus = 0.0  # GPUs that trained models last month
        self.resold_gpus = 0.0  # idle contracted GPUs resold on the spot market this month
        self.owned_clouds: set[str] = set()  # clouds whose capacity the lab owns (Stargate)

    def payout_share(self) -> float:
        """A lab's payout ratio (``cash.payout_share_lab``)."""
        return self.market.cfg.cash.payout_share_lab

    # --- serving -----------------------------------------------------------------------
    def observe_demand(self, inference_gpus: float) -> None:
        """This month's end-user demand for the lab, in inference GPUs at the reference price
        (kept as a Python float, see :mod:`sim.instruments`)."""
        self.inference_gpus_history.append(float(inference_gpus))

    def training_ratio(self, step: int) -> float:
        """Training GPUs per serving GPU at ``step``: falls as serving scales (halving time)."""
        return self.spec.training_compute_ratio * 0.5 ** (step / self.spec.training_halving_months)

    def need_at(self, inference_gpus: float, step: int) -> float:
        """Total GPUs wanted for ``inference_gpus`` of serving."""
        return inference_gpus * (1.0 + self.training_ratio(step))

    def service_price(self, compute_cost: float) -> float:
        """Price of AI services per GPU-hour served: its marginal compute cost marked up to its
        current gross margin (price = cost / (1 − margin))."""
        return compute_cost / (1.0 - self.margin)

    @property
    def share(self) -> float:
        """The lab's share of end-user demand: its customer shares weighted by segment."""
        return sum([self.segment_weights[s] * self.customers[s] for s in self.segments])

    def observe_segments(self, weights: dict[str, float]) -> None:
        """This month's weight of each segment in end-user demand (they sum to 1)."""
        self.segment_weights = dict(weights)

    # --- competition (issue 15) ------------------------------------------------------------
    def contract_price(self, step: int) -> float:
        """Capacity-weighted price of the lab's contracts in force at ``step`` (0 if none),
        USD per GPU-hour."""
        contracts = self.market.purchases_in_force(self.name, step)
        held = sum([c.gpus for c in contracts])
        return sum([c.gpus * c.price_usd_per_gpu_hour for c in contracts]) / held if held else 0.0

    def marginal_cost(
        self, spot_price: float, contracted_gpus: float, need_gpus: float, step: int
    ) -> float:
        """USD per GPU-hour of serving one more user: its own marginal cost, not the spot
        price alone. While its term contracts (``contracted_gpus``) cover its need
        (``need_gpus``) the next GPU-hour comes from them, at what a contracted GPU-hour it
        does not need costs it (:meth:`idle_capacity_cost`); once it buys on spot at the
        margin, or holds no contracts, it is the spot price (:func:`sim.market.marginal_cost`)."""
        cost = self.idle_capacity_cost(self.contract_price(step), spot_price)
        return marginal_cost(cost, contracted_gpus, need_gpus, spot_price)

    def idle_capacity_cost(self, contract_price: float, spot_price: float) -> float:
        """USD per GPU-hour that serving a user from contracted capacity it holds beyond its
        need costs the lab: the opportunity cost, not the contract price. Take-or-pay bills
        are owed whether the capacity is used or not (a sunk cost, which does not enter the
        price of the marginal unit); what the lab gives up by serving from it is what
        reselling it would fetch, ``spot × (1 − resale_friction)`` (the opportunity cost of
        a sunk input at its market value: Buchanan 1969, *Cost and Choice*; Baumol and
        Blinder's textbook rule "sunk costs do not affect the marginal decision"). So a lab
        long on contracts in a glut prices off the glut's spot price, below rivals who buy at
        the margin on spot, whatever it signed for. Without resale (or with friction 1) the
        idle capacity has no market value and the lab prices at full cost, its contracts'
        capacity-weighted price (``contract_price``; normal-cost pricing, Hall and Hitch
        1939), as it would with nothing to compare it to; so it does with
        ``lab_pricing.opportunity_cost`` off (the rule until MODEL_VERSION 0.49)."""
        cfg = self.market.cfg
        comp = cfg.competition
        resell = comp.resale and cfg.lab_pricing.opportunity_cost
        resale_value = spot_price * (1.0 - comp.resale_friction) if resell else 0.0
        return resale_value if resale_value > 0 else contract_price

    def set_margin(self, capability_spread: float) -> float:
        """The gross margin for this month (a decision), as a share of the service price.

        Three forces, in margin terms: (1) partial adjustment toward a target that falls from
        the calibrated margin to ``margin_floor`` as rivals' capabilities converge (the spread
        (q_max − q_min)/q_max below ``reference_spread``: differentiation is what sustains a
        markup, the Bertrand logic of a price war); (2) the K+S rule of Dosi, Fagiolo and
        Roventini (2010): the markup rises with the growth of its market share,
        ``υ (f_t−1 − f_t−2) / f_t−2``; (3) idle contracted capacity pushes the margin down
        (our own estimate: unused take-or-pay capacity is cheap to fill). Bounded by
        ``margin_floor`` and ``margin_cap``.
        """
        comp = self.market.cfg.competition
        differentiation = min(1.0, capability_spread / comp.reference_spread)
        target = comp.margin_floor + (self.spec.gross_margin - comp.margin_floor) * differentiation
        hist = self.share_history
        growth = (hist[-1] - hist[-2]) / hist[-2] if len(hist) >= 2 and hist[-2] > 0 else 0.0
        margin = (
            self.margin
            + comp.margin_adjustment * (target - self.margin)
            + comp.margin_share_response * growth * self.margin
            - comp.margin_idle_response * self.idle_share
        )
        self.margin = min(max(margin, comp.margin_floor), comp.margin_cap)
        return self.margin

    def utility(self, price: float, segment: str | None = None) -> float:
        """What a customer choosing a lab sees: ``brand + a ln q − b ln(p / p_ref)``, the
        logit utility of ECONOMICS.md §3 (capability q, price p relative to the lab's price at
        the opening compute price); a customer of ``segment`` also sees the lab's appeal
        there (its opening share of the segment against its overall share, plus its
        ``enterprise_edge`` among enterprise buyers)."""
        comp = self.market.cfg.competition
        rel = price / self.reference_price if self.reference_price > 0 else 1.0
        appeal = (
            0.0 if segment is None else self.segment_appeal[segment] + self.network_appeal(segment)
        )
        return (
            self.brand
            + appeal
            + comp.capability_weight * math.log(self.capability)
            - comp.price_weight * math.log(rel)
        )

    def network_appeal(self, segment: str) -> float:
        """What the lab's installed base in ``segment`` adds to its appeal there, log-odds:
        ``competition.network_weight`` × (its share of the segment's customers − its opening
        share). Network externalities and increasing returns to adoption (Katz and Shapiro
        1985, AER 75; Arthur 1989, EJ 99): the more of a segment's users build on a lab's
        models (integrations, tooling, developers' habits), the more a new buyer gains from
        choosing it, so a lab that gains a segment gains it faster. Measured from the opening
        shares, which the brand constants already reproduce (so the opening logit is
        unchanged); 0 with the weight 0."""
        weight = self.market.cfg.competition.network_weight
        if weight == 0.0:
            return 0.0
        return weight * (self.customers[segment] - self.opening_customers[segment])

    def reconsider_rate(self, segment: str) -> float:
        """Share of its customers in ``segment`` who reconsider their lab this month: the
        segment's switching rate, lowered by the lab's lock-in ``exp(−L)`` (switching costs
        raised by enterprise integration or a joint venture; Caiani et al. 2016's switching
        probability, our own estimate of its size)."""
        comp = self.market.cfg.competition
        base = (
            comp.enterprise_switching_per_month
            if segment == "enterprise"
            else comp.consumer_switching_per_month
        )
        return base * math.exp(-self.lock_in[segment])

    def lose_customers(self, share: float) -> dict[str, float]:
        """A shock: ``share`` of its customers in every segment leave at once, and its brand
        falls by as much (they do not come back by themselves); returns who left, by segment."""
        left = {s: self.customers[s] * share for s in self.segments}
        for s in self.segments:
            self.customers[s] -= left[s]
        self.brand += math.log(max(1.0 - share, 1e-9))
        return left

    def training_absorbed(self, planned_training_gpus: float) -> float:
        """Most GPUs the lab will put into training this month: its planned training compute
        × ``training_absorption`` (labs train on the compute they hold; our own estimate)."""
        return planned_training_gpus * self.market.cfg.competition.training_absorption

    def repricing_ask(self, contract_price: float, spot_price: float) -> float | None:
        """The price (USD per GPU-hour) the lab asks a seller for a contract that costs it
        ``contract_price`` when the spot price is ``spot_price``, or ``None`` (no ask).

        A buyer long on contracts (more than ``repricing.min_idle_share`` of its contracted
        capacity idle last month) whose contract costs more than ``spot × (1 +
        repricing.trigger_premium)`` asks for that price: the premium is what it still pays
        for the certainty of term capacity. Its threat is the capacity it does not need: it
        can resell it on spot against its own seller, and it will buy its growth elsewhere.
        A buyer that uses all it holds has no threat under take-or-pay, and asks nothing.
        Renegotiation of long-term supply contracts when the market moves far from the
        contract price (Hart and Moore 1988, incomplete contracts and renegotiation; Crocker
        and Masten 1991 on price reviews in long-term gas contracts); the trigger and the
        idle-capacity condition are our own estimates."""
        cfg = self.market.cfg.repricing
        if self.defaulted or not cfg.enabled or spot_price <= 0:
            return None
        if self.idle_share <= cfg.min_idle_share:
            return None
        ask = spot_price * (1.0 + cfg.trigger_premium)
        return ask if contract_price > ask else None

    def resale_offer(self, idle_gpus: float) -> float:
        """GPUs of idle contracted capacity the lab offers on the spot market: all it can move,
        ``1 − resale_friction`` of it, when resale is on."""
        comp = self.market.cfg.competition
        return idle_gpus * (1.0 - comp.resale_friction) if comp.resale else 0.0

    def train(self, training_gpus: float, leading_capability: float) -> float:
        """Advance capability by a month of training on ``training_gpus`` (see
        :func:`sim.demand.capability_step`); returns the new capability."""
        comp = self.market.cfg.competition
        self.training_gpus = training_gpus
        self.capability = capability_step(
            self.capability,
            leading_capability,
            training_gpus,
            comp.capability_gain,
            comp.capability_returns,
            comp.reference_training_gpus,
            comp.spillover_per_month,
        )
        return self.capability

    def record_service(
        self, need_gpus: float, inference_need_gpus: float, used_gpus: float, revenue_usd: float
    ) -> None:
        """This month's use of compute and the revenue earned serving end users; the month's
        costs start at zero."""
        self.costs_usd = 0.0
        self.need_gpus = need_gpus
        self.inference_need_gpus = inference_need_gpus
        self.used_gpus = used_gpus
        self.served_gpus = min(inference_need_gpus, used_gpus)
        self.revenue_usd = revenue_usd

    def operating_costs(self) -> float:
        """This month's operating costs other than compute (staff, research, sales), USD.

        They rise with the business at once, to what its revenue needs (:meth:`opex_needed`);
        when revenue falls they close only ``lab_costs.opex_downward_adjustment_per_month`` of
        the gap each month: staff and research programmes are committed ahead, so costs are
        sticky on the way down (Anderson, Banker and Janakiraman 2003, "Are selling, general,
        and administrative costs 'sticky'?", J. Accounting Research 41; the speed is our own
        estimate). A lab whose revenue collapses keeps paying most of its costs for months.
        Records the amount as the lab's latest operating costs."""
        target = self.opex_needed(self.revenue_usd)
        cut = self.market.cfg.lab_costs.opex_downward_adjustment_per_month
        last = self.opex_usd
        self.opex_usd = target if target >= last else last - cut * (last - target)
        return self.opex_usd

    def opex_needed(self, revenue_usd: float) -> float:
        """Operating costs other than compute the lab needs at a monthly revenue of
        ``revenue_usd``, USD/month: ``other_opex_share_of_revenue`` of its opening revenue
        (its first month with revenue), scaled by ``(revenue ÷ opening)^β`` with β =
        ``lab_costs.opex_revenue_elasticity``. Staff, research and sales grow slower than
        revenue (operating leverage): SG&A rises 0.55% for a 1% rise in sales (Anderson,
        Banker and Janakiraman 2003, J. Accounting Research 41). β = 1 is a fixed share of
        revenue."""
        if self.opex_reference_usd <= 0.0:
            self.opex_reference_usd = max(revenue_usd, 0.0)
        share = self.spec.other_opex_share_of_revenue
        if self.opex_reference_usd <= 0.0 or revenue_usd <= 0.0:
            return share * max(revenue_usd, 0.0)
        beta = self.market.cfg.lab_costs.opex_revenue_elasticity
        # share × ref × (revenue / ref)^β, written so that no ratio of tiny numbers overflows
        return share * self.opex_reference_usd ** (1.0 - beta) * revenue_usd**beta

    def record_costs(self, usd: float) -> None:
        """The month's cash costs (compute bills and other operating costs), USD."""
        self.costs_usd = usd

    # --- partners and contracts ---------------------------------------------------------
    def choose_partners(
        self, clouds: Sequence[Cloud], weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> list[str]:
        """The lab's partner clouds: those named in its spec (the named network of the default
        world, CALIBRATION "OpenAI commitments"), else ``k`` picked at random with
        probability proportional to ``weights`` (their installed capacity); our own estimate
        of how labs pick clouds."""
        named = [c.name for c in clouds if c.name in self.spec.partners]
        if named:
            self.partners = named
            return self.partners
        p = weights / weights.sum() if weights.sum() > 0 else None
        picks = rng.choice(len(clouds), size=k, replace=False, p=p)
        self.partners = [clouds[i].name for i in sorted(picks)]
        return self.partners

    def active_partners(self, clouds: Sequence[Cloud], step: int) -> list[str]:
        """Partners still in business; if none is left, the largest active cloud becomes the
        only partner (the fallback: go where capacity is)."""
        by_name = {c.name: c for c in clouds}
        partners = [p for p in self.partners if p in by_name and not by_name[p].defaulted]
        if not partners and clouds:
            fallback = max(clouds, key=lambda c: (c.installed_gpus(step), c.name))
            self.partners = partners = [fallback.name]
        return partners

    def split_over_partners(self, gpus: float, partners: Sequence[str]) -> dict[str, float]:
        """GPUs to contract from each partner: an equal split (our own estimate)."""
        return {p: gpus / len(partners) for p in partners}

    def prepayment(self, contract: CapacityContract, step: int) -> float:
        """USD to prepay in cash on signing ``contract``: ``market.prepayment_share`` of its
        value, at most ``prepayment_max_cash_share`` of cash; only for new contracts."""
        mkt = self.market.cfg.market
        if mkt.prepayment_share <= 0 or contract.start < step:
            return 0.0
        return min(
            mkt.prepayment_share * contract.remaining_value(contract.start, mkt.hours_per_month),
            mkt.prepayment_max_cash_share * self.cash,
        )

    def projected_growth(self) -> float:
        """Monthly growth the lab believes in: its observed growth × optimism."""
        hist = self.inference_gpus_history
        window = min(self.spec.projection_window_months, len(hist) - 1)
        if window < 1 or hist[-1 - window] <= 0:
            return 0.0
        observed = (hist[-1] / hist[-1 - window]) ** (1.0 / window) - 1.0
        return observed * self.spec.optimism

    def contracts_wanted(self, step: int, start: int, contracted_at_start: float) -> float:
        """GPUs of new term contracts to sign now for delivery from ``start``.

        The lab projects its need at ``start`` from its own growth and covers the share
        ``contract_coverage`` of it with contracts; it never signs for less than it holds.
        Adaptive expectations with an optimism multiplier (our own estimate; the
        supply-line form of Sterman 1989 applies on the clouds' side).
        """
        if self.defaulted or not self.inference_gpus_history:
            return 0.0
        growth = max(self.projected_growth(), -0.5)
        projected = self.need_at(self.inference_gpus_history[-1], start) * (
            (1.0 + growth) ** (start - step)
        )
        gap = self.spec.contract_coverage * projected - contracted_at_start
        return gap if gap > self.spec.min_contract_share * max(projected, 1.0) else 0.0

    # --- finance -----------------------------------------------------------------------
    def exercises_warrant(
        self, exercisable_shares: float, share_price: float, strike_per_share: float
    ) -> float:
        """Shares of a vested warrant to exercise now: all of them when the issuer's share
        price is above the strike and the lab can pay the strike out of cash beyond its
        buffer, else none. (Merton 1973: an American call on a share that pays no dividend
        is worth more alive than exercised — but at a strike near zero the time value is
        nil, and exercising turns the option into shares the lab can sell or pledge; our own
        estimate of the holder's choice.)"""
        cost = exercisable_shares * strike_per_share
        buffer = self.market.cfg.finance.cash_buffer_months * self.costs_usd
        if exercisable_shares <= 0 or share_price <= strike_per_share:
            return 0.0
        return exercisable_shares if self.cash - buffer >= cost else 0.0

    def monthly_burn(self) -> float:
        """Cash the lab loses in a month at the current pace (≥ 0), USD."""
        burn = self.costs_usd - self.revenue_usd
        return burn if burn > 0.0 else 0.0  # max(0.0, burn), without the call (hot)

    def equity_wanted(self) -> float:
        """USD of new equity to raise now (0 if the lab has enough runway): arrears plus
        ``lab_runway_target_months`` of burn, once cash falls below the buffer (a runway
        rule, our own estimate)."""
        if self.defaulted:
            return 0.0
        fin = self.market.cfg.finance
        burn = self.monthly_burn()
        need_now = self.arrears_usd + fin.cash_buffer_months * self.costs_usd
        if self.cash >= need_now and self.cash >= fin.cash_buffer_months * burn:
            return 0.0
        target = self.arrears_usd + fin.lab_runway_target_months * burn
        return max(0.0, target - self.cash, need_now - self.cash)

    def recapitalisation_wanted(self, debt_usd: float) -> float:
        """USD of new equity to ask for because losses have taken the lab's book equity below
        zero while it owes ``debt_usd``: the deficit plus ``recapitalisation.cushion_months``
        of its burn (0 with positive equity, no debt, or ``recapitalisation.enabled`` off).
        Firms rebalance toward a target leverage by issuing equity (Leary and Roberts 2005;
        Flannery and Rangan 2006); a venture-backed borrower's lenders lend on the
        expectation of its next equity round (Ibrahim 2010; Hochberg, Serrano and Ziedonis
        2018). Only equity cures it: a round that falls short of it is not bridged with more
        debt. Until MODEL_VERSION 0.55 a lab raised equity only when its cash ran short
        (:meth:`equity_wanted`), so one holding the cash of its venture debt lived with
        negative book equity for 8 months (baseline seed 4, the challenger)."""
        cfg = self.market.cfg.recapitalisation
        if self.defaulted or not cfg.enabled or debt_usd <= 0 or self.equity >= 0:
            return 0.0
        return -self.equity + cfg.cushion_months * self.monthly_burn()

    def venture_debt_wanted(self, shortfall_usd: float, venture_debt_usd: float) -> float:
        """USD of venture debt to borrow when a round left ``shortfall_usd`` unraised: the
        shortfall, within ``capital.venture_debt_value_share`` of the market's valuation
        less the venture debt it already owes (venture lenders want an equity cushion;
        our own estimate of the usual sizing)."""
        if self.defaulted or shortfall_usd <= 0:
            return 0.0
        room = self.market.cfg.capital.venture_debt_value_share * self.market_value()
        return max(0.0, min(shortfall_usd, room - venture_debt_usd))

    def convertible_note_wanted(self, shortfall_usd: float, notes_usd: float) -> float:
        """USD of convertible notes to sell when a round left ``shortfall_usd`` unraised: a
        bridge to the next round, the shortfall within ``capital.note_value_share`` of the
        market's valuation less the notes it has outstanding (``notes_usd``); none with
        ``capital.convertible_notes`` off (our own estimate of the usual sizing)."""
        cap = self.market.cfg.capital
        if self.defaulted or shortfall_usd <= 0 or not cap.convertible_notes:
            return 0.0
        room = cap.note_value_share * self.market_value()
        return max(0.0, min(shortfall_usd, room - notes_usd))

    def margin_now(self) -> float:
        """This month's free-cash-flow margin, (revenue − cash costs) ÷ revenue, at least
        ``capital.worst_margin``."""
        worst = self.market.cfg.capital.worst_margin
        if self.revenue_usd <= 0:
            return worst
        return max(worst, (self.revenue_usd - self.costs_usd) / self.revenue_usd)

    def intrinsic_value(self, required: float) -> float:
        """Value of the lab's expected free cash flows at the annual return ``required``,
        USD (may be negative: more burn than growth repays), by business model: the growth
        value (:meth:`growth_value`) and the utility-like value (:meth:`utility_value`)
        weighted by the share of its compute that runs on capacity it owns
        (:meth:`infrastructure_share`): a pure renter is valued as a growth company, a lab
        that owns its infrastructure more like a utility (issue 14, Must contain 2)."""
        share = min(max(self.infrastructure_share(), 0.0), 1.0)
        growth = self.growth_value(required)
        if share <= 0.0:
            return growth
        return (1.0 - share) * growth + share * self.utility_value(required)

    def growth_value(self, required: float) -> float:
        """The growth company's value, USD: revenue is this month's, annualised; growth is
        the market's Brock–Hommes expectation (``expected_growth``), annualised and capped;
        the margin moves from today's toward the target (the two-stage DCF of
        :func:`sim.valuation.dcf_value`, ECONOMICS.md §1)."""
        cap = self.market.cfg.capital
        growth = min(
            annualise(self.market.expected_growth(self.name)), cap.max_expected_growth_per_year
        )
        return dcf_value(
            12.0 * self.revenue_usd,
            growth,
            long_run_growth=cap.long_run_growth_per_year,
            persistence=cap.growth_persistence_per_year,
            margin_now=self.margin_now(),
            target_margin=cap.lab_target_margin,
            margin_convergence=cap.margin_convergence_per_year,
            required=required,
            horizon_years=cap.horizon_years,
        )

    def utility_value(self, required: float) -> float:
        """The value of the same revenue priced like infrastructure (a utility, a data-centre
        REIT), USD: the same DCF with growth capped at ``capital.utility_max_growth_per_year``,
        discounted at ``required`` less ``capital.utility_return_discount`` (owned, contracted
        capacity is less risky than a model franchise: Damodaran's sector costs of capital),
        and backed by its assets: at least the book value of the fleet it owns (an owner can
        sell the GPUs; a renter has nothing to sell)."""
        cap = self.market.cfg.capital
        growth = min(
            annualise(self.market.expected_growth(self.name)), cap.utility_max_growth_per_year
        )
        cash_flows = dcf_value(
            12.0 * self.revenue_usd,
            growth,
            long_run_growth=cap.long_run_growth_per_year,
            persistence=cap.growth_persistence_per_year,
            margin_now=self.margin_now(),
            target_margin=cap.lab_target_margin,
            margin_convergence=cap.margin_convergence_per_year,
            required=required - cap.utility_return_discount,
            horizon_years=cap.horizon_years,
        )
        return max(cash_flows, self.market.balance(self.name, Line.FLEET))

    def infrastructure_share(self) -> float:
        """Fraction of the lab's compute (0–1) that runs on capacity it owns rather than
        rents. A pure renter is 0. This is the seam between two rules: the lab that becomes
        a cloud (issue 15) sets it from the capacity it owns; the valuation's business-model
        term (issue 14) reads it, valuing an infrastructure-owning lab more like a utility."""
        if not self.owned_clouds:
            return 0.0
        step = self.market.month
        mine = self.market.purchases_in_force(self.name, step)
        held = sum(c.gpus for c in mine)
        owned = sum(c.gpus for c in mine if c.seller in self.owned_clouds)
        return owned / held if held > 0 else 0.0

    # --- a lab that becomes a cloud (issue 15, Stargate) -----------------------------------
    def infrastructure_investment(self, tranche_usd: float) -> float:
        """USD of equity the lab puts into capacity it owns this month: the planned tranche,
        within its cash beyond ``finance.cash_buffer_months`` of its costs (a lab does not
        starve its operations to build; our own estimate of the rule)."""
        if self.defaulted or tranche_usd <= 0:
            return 0.0
        buffer = self.market.cfg.finance.cash_buffer_months * self.costs_usd
        return max(0.0, min(tranche_usd, self.cash - buffer))

    def own_capacity_wanted(self, gap_gpus: float, free_gpus: float) -> float:
        """GPUs of its new contracts the lab takes from capacity it owns: all it can, its own
        needs first (``gap_gpus``, the contracts it wants), up to what its own clouds have not
        committed (``free_gpus``); the rest it rents. The vertical-integration rule of a
        Stargate-style lab (our own estimate: own capacity is used before rented)."""
        return max(0.0, min(gap_gpus, free_gpus))

    # --- enterprise joint ventures (issue 15) ----------------------------------------------
    def joint_venture_contribution(self, asked_usd: float) -> float:
        """USD the lab puts into an enterprise joint venture's capital when asked for
        ``asked_usd``: the amount, within its cash beyond its buffer (as for capacity it
        owns; our own estimate)."""
        return self.infrastructure_investment(asked_usd)

    def integrate(self, segment: str, lock_in: float) -> None:
        """A joint venture embeds the lab's models in ``segment``'s customers: its lock-in
        there rises by ``lock_in`` (log-odds of staying; ECONOMICS.md §3's L, switching costs
        raised by enterprise integration)."""
        self.lock_in[segment] += lock_in

    def valuation_usd(self, sentiment: float) -> float:
        """The market's valuation of the lab, USD (≥ 0): its intrinsic value at the market's
        required return, whose risk premium reads ``sentiment``. The revenue multiple is an
        output: it expands while the market extrapolates a boom and compresses when growth
        disappoints, before any default."""
        cap = self.market.cfg.capital
        required = required_return(cap.market_required_return, cap.equity_risk_premium, sentiment)
        return max(0.0, self.intrinsic_value(required))

    def market_value(self) -> float:
        """What holders mark a stake in this lab to, USD (0 once it has defaulted): the last
        secondary sale's valuation in the month it traded, else :meth:`valuation_usd`."""
        if self.defaulted:
            return 0.0
        if self.traded_mark is not None and self.traded_mark[0] == self.market.month:
            return self.traded_mark[1]
        return self.valuation_usd(self.market.sentiment)

    def record_trade(self, step: int, valuation_usd: float) -> None:
        """Existing shares changed hands at ``valuation_usd`` for the whole company in month
        ``step``: everybody marks to it this month (a secondary sale sets the mark)."""
        self.traded_mark = (step, valuation_usd)
