"""AI labs: serve end users, contract capacity from their revenue projections, raise equity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from sim.agents.base import Column, MarketAgent
from sim.agents.view import MarketView
from sim.config import LabSpec
from sim.instruments import CapacityContract
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
        "revenue_usd": lambda a: a.revenue_usd,
        "need_gpus": lambda a: a.need_gpus,
    }

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
        self.partners: list[str] = []
        self.traded_mark: tuple[int, float] | None = None  # (month, valuation) of a secondary

    # --- serving -----------------------------------------------------------------------
    def observe_demand(self, inference_gpus: float) -> None:
        """This month's end-user demand for the lab, in inference GPUs at the reference price."""
        self.inference_gpus_history.append(inference_gpus)

    def training_ratio(self, step: int) -> float:
        """Training GPUs per serving GPU at ``step``: falls as serving scales (halving time)."""
        return self.spec.training_compute_ratio * 0.5 ** (step / self.spec.training_halving_months)

    def need_at(self, inference_gpus: float, step: int) -> float:
        """Total GPUs wanted for ``inference_gpus`` of serving."""
        return inference_gpus * (1.0 + self.training_ratio(step))

    def service_price(self, compute_price: float) -> float:
        """Price of AI services per GPU-hour served: compute cost marked up to the gross margin."""
        return compute_price / (1.0 - self.spec.gross_margin)

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

    def record_costs(self, usd: float) -> None:
        """The month's cash costs (compute bills and other operating costs), USD."""
        self.costs_usd = usd

    # --- partners and contracts ---------------------------------------------------------
    def choose_partners(
        self, clouds: Sequence[Cloud], weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> list[str]:
        """Pick ``k`` partner clouds at random, with probability proportional to
        ``weights`` (their installed capacity); our own estimate of how labs pick clouds."""
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
    def monthly_burn(self) -> float:
        """Cash the lab loses in a month at the current pace (≥ 0), USD."""
        return max(0.0, self.costs_usd - self.revenue_usd)

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

    def venture_debt_wanted(self, shortfall_usd: float, venture_debt_usd: float) -> float:
        """USD of venture debt to borrow when a round left ``shortfall_usd`` unraised: the
        shortfall, within ``capital.venture_debt_value_share`` of the market's valuation
        less the venture debt it already owes (venture lenders want an equity cushion;
        our own estimate of the usual sizing)."""
        if self.defaulted or shortfall_usd <= 0:
            return 0.0
        room = self.market.cfg.capital.venture_debt_value_share * self.market_value()
        return max(0.0, min(shortfall_usd, room - venture_debt_usd))

    def margin_now(self) -> float:
        """This month's free-cash-flow margin, (revenue − cash costs) ÷ revenue, at least
        ``capital.worst_margin``."""
        worst = self.market.cfg.capital.worst_margin
        if self.revenue_usd <= 0:
            return worst
        return max(worst, (self.revenue_usd - self.costs_usd) / self.revenue_usd)

    def intrinsic_value(self, required: float) -> float:
        """Value of the lab's expected free cash flows at the annual return ``required``,
        USD (may be negative: more burn than growth repays). Revenue is this month's,
        annualised; growth is the market's Brock–Hommes expectation (``expected_growth``),
        annualised and capped; the margin moves from today's toward the target (the
        two-stage DCF of :func:`sim.valuation.dcf_value`, ECONOMICS.md §1)."""
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
