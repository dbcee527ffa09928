"""Investors: fund equity rounds and loans with an appetite that follows sentiment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import mesa

from sim.agents.base import MarketAgent
from sim.agents.view import MarketView
from sim.config import InvestorSpec
from sim.distress import credit_spread, ration
from sim.ledger import Line
from sim.valuation import required_return

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from sim.agents.lab import Lab


class Investor(MarketAgent):
    """VCs, sovereign funds, asset managers, banks and credit funds."""

    kind: ClassVar[str] = "Investor"

    def __init__(
        self, model: mesa.Model, market: MarketView, name: str, spec: InvestorSpec
    ) -> None:
        super().__init__(model, market, name, spec.archetype)
        self.spec = spec
        self.equity_used_usd = 0.0  # put into equity this month
        self.loans_used_usd = 0.0  # lent this month
        self.annual_return = self.spec.hurdle_return_per_year  # trailing, on its stakes

    def _appetite(self, share: float, sentiment: float) -> float:
        appetite = self.cash * share * sentiment**self.spec.sentiment_sensitivity
        return appetite if appetite > 0.0 else 0.0  # max(0.0, appetite), without the call

    def equity_budget(self, sentiment: float) -> float:
        """USD it is still willing to put into equity rounds this month: a share of cash
        scaled by sentiment (our own estimate of a sentiment-driven allocation)."""
        return max(0.0, self._appetite(self.spec.equity_appetite, sentiment) - self.equity_used_usd)

    def loan_budget(self, sentiment: float) -> float:
        """USD it is still willing to lend this month."""
        budget = self._appetite(self.spec.loan_appetite, sentiment) - self.loans_used_usd
        return budget if budget > 0.0 else 0.0  # max(0.0, budget), without the call (hot)

    def ration_credit(
        self, claims_usd: Sequence[float], scores: Sequence[float], budget_usd: float
    ) -> NDArray[np.float64]:
        """USD it lends each of the month's borrowers that asked it for ``claims_usd``, when
        all the month's requests are in (a two-pass allocation: requests first, then the
        budget shared): everybody gets its claim if ``budget_usd`` covers them all;
        otherwise the budget is rationed by ``credit_rationing.rule`` with each borrower
        weighted by the lender's score of it (``scores``: the sentiment it applies to the
        borrower, lower for a leveraged one in a downturn). Quantity rationing at a quoted
        rate (Stiglitz and Weiss 1981); the default rule is the uniform rule of Benassy
        (1982) and Sprumont (1991): small requests are met in full, large ones share the
        rest (:func:`sim.distress.ration`); JMAB's banks rank and serve the month's credit
        demands together (Caiani et al. 2016)."""
        rule = self.market.cfg.credit_rationing.rule
        return ration(list(claims_usd), list(scores), budget_usd, rule)

    def loan_rate(
        self,
        base_rate: float,
        sentiment: float,
        leverage: float = 0.0,
        concentration: float = 0.0,
    ) -> float:
        """Annual rate asked of a borrower whose base rate is ``base_rate``: plus a stress
        spread that widens as sentiment falls (CALIBRATION: CDS 368 → 643 bp in 2025), plus
        the borrower's own spread for its book ``leverage`` (debt ÷ assets) and the
        Herfindahl ``concentration`` of its customers (:func:`sim.distress.credit_spread`:
        Merton 1974, Collin-Dufresne et al. 2001, Campello and Gao 2017)."""
        fin, cfg = self.market.cfg.finance, self.market.cfg.distress
        own = credit_spread(
            leverage,
            concentration,
            cfg.leverage_spread_free,
            cfg.leverage_spread,
            cfg.concentration_spread,
        )
        return base_rate + fin.stress_spread_per_sentiment * max(0.0, 1.0 - sentiment) + own

    def required_return(self, sentiment: float) -> float:
        """Annual return it requires of an equity: its hurdle plus the equity risk premium,
        which falls as sentiment rises (:func:`sim.valuation.required_return`)."""
        cap = self.market.cfg.capital
        return required_return(self.spec.hurdle_return_per_year, cap.equity_risk_premium, sentiment)

    def joins_round(self, lab: Lab, pre_money_usd: float, sentiment: float) -> bool:
        """Buy into ``lab``'s round priced at ``pre_money_usd``? Only if its own value of the
        lab's expected cash flows at its required return is at least that price: buying
        amount A for A ÷ (P + A) of a company worth V + A to it returns at least the hurdle
        iff V ≥ P (ECONOMICS.md §1: a round succeeds only if its price gives the investor
        an expected return at least its hurdle)."""
        if pre_money_usd <= 0 or self.defaulted:
            return False
        return lab.intrinsic_value(self.required_return(sentiment)) >= pre_money_usd

    def strategic_tranche_usd(self, receiver: MarketAgent, tranche_usd: float) -> float:
        """As :meth:`MarketAgent.strategic_tranche_usd`, and into a lab only if its own value
        of the lab at its required return meets the price (:meth:`joins_round`): a fund with
        a hurdle above the market's buys no tranche the market prices above its value."""
        amount = super().strategic_tranche_usd(receiver, tranche_usd)
        is_lab = hasattr(receiver, "intrinsic_value")
        price = receiver.market_value()
        if amount > 0 and is_lab and not self.joins_round(receiver, price, self.market.sentiment):
            return 0.0
        return amount

    def buys_note(self, lab: Lab, pre_money_usd: float, sentiment: float) -> bool:
        """Buy a convertible note of ``lab``, whose round at ``pre_money_usd`` fell short?
        Only if its own value of the lab at its required return is at least the price the
        note converts at, the pre-money less ``capital.note_discount`` (the hurdle test of
        :meth:`joins_round` at the discounted price: the discount pays for bridging a round
        it would not join at full price)."""
        if pre_money_usd <= 0 or self.defaulted:
            return False
        price = (1.0 - self.market.cfg.capital.note_discount) * pre_money_usd
        return lab.intrinsic_value(self.required_return(sentiment)) >= price

    def observe_return(self, gain_usd: float, stakes_before_usd: float) -> None:
        """This month's mark-to-market gain on its stakes: the trailing annual return is an
        exponential average of monthly returns (12-month mean life), annualised."""
        if stakes_before_usd <= 0:
            return
        monthly = max(-1.0, min(1.0, gain_usd / stakes_before_usd))
        self.annual_return += (12.0 * monthly - self.annual_return) / 12.0

    def performance_flow_usd(self) -> float:
        """New money (> 0) or redemptions (< 0) this month beyond its committed inflow:
        flows chase returns (Chevalier and Ellison 1997; Berk and Green 2004): the fund's
        value × sensitivity × (trailing annual return − hurdle) ÷ 12; redemptions at most
        ``capital.max_redemption_share`` of cash (a gate). Only funds that hold equity."""
        cap = self.market.cfg.capital
        stakes = self.market.balance(self.name, Line.STAKES)
        if stakes <= 0 or self.defaulted:
            return 0.0
        excess = self.annual_return - self.spec.hurdle_return_per_year
        flow = cap.performance_flow_sensitivity * excess * (self.cash + stakes) / 12.0
        return max(flow, -cap.max_redemption_share * self.cash)

    def start_month(self) -> None:
        """Budgets renew each month."""
        self.equity_used_usd = self.loans_used_usd = 0.0

    def record_investment(self, usd: float) -> None:
        self.equity_used_usd += usd

    def record_loan(self, usd: float) -> None:
        self.loans_used_usd += usd

    def record_draw(self, usd: float) -> None:
        """``usd`` lent on a credit commitment made in an earlier month: it took that
        month's budget, so it takes none of this month's."""
        self.loans_used_usd -= usd
