"""Investors: fund equity rounds and loans with an appetite that follows sentiment."""

from __future__ import annotations

from typing import ClassVar

import mesa

from sim.agents.base import MarketAgent
from sim.agents.view import MarketView
from sim.config import InvestorSpec


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

    def _appetite(self, share: float, sentiment: float) -> float:
        return max(0.0, self.cash * share * sentiment**self.spec.sentiment_sensitivity)

    def equity_budget(self, sentiment: float) -> float:
        """USD it is still willing to put into equity rounds this month: a share of cash
        scaled by sentiment (our own estimate of a sentiment-driven allocation)."""
        return max(0.0, self._appetite(self.spec.equity_appetite, sentiment) - self.equity_used_usd)

    def loan_budget(self, sentiment: float) -> float:
        """USD it is still willing to lend this month."""
        return max(0.0, self._appetite(self.spec.loan_appetite, sentiment) - self.loans_used_usd)

    def loan_rate(self, base_rate: float, sentiment: float) -> float:
        """Annual rate asked of a borrower whose base rate is ``base_rate``: plus a stress
        spread that widens as sentiment falls (CALIBRATION: CDS 368 → 643 bp in 2025)."""
        spread = self.market.cfg.finance.stress_spread_per_sentiment
        return base_rate + spread * max(0.0, 1.0 - sentiment)

    def start_month(self) -> None:
        """Budgets renew each month."""
        self.equity_used_usd = self.loans_used_usd = 0.0

    def record_investment(self, usd: float) -> None:
        self.equity_used_usd += usd

    def record_loan(self, usd: float) -> None:
        self.loans_used_usd += usd
