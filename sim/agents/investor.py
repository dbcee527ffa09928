"""Investors: fund equity rounds and loans with an appetite that follows sentiment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.agents.base import MarketAgent
from sim.config import InvestorSpec

if TYPE_CHECKING:
    from sim.model import ComputeMarket


class Investor(MarketAgent):
    """VCs, sovereign funds, asset managers, banks and credit funds."""

    kind = "Investor"

    def __init__(self, model: ComputeMarket, name: str, spec: InvestorSpec) -> None:
        super().__init__(model, name, spec.archetype)
        self.spec = spec
        self.equity_used_usd = 0.0  # put into equity this month
        self.loans_used_usd = 0.0  # lent this month

    def _appetite(self, share: float, sentiment: float) -> float:
        return max(0.0, self.cash * share * sentiment**self.spec.sentiment_sensitivity)

    def equity_budget(self, sentiment: float) -> float:
        """USD it is still willing to put into equity rounds this month."""
        return max(0.0, self._appetite(self.spec.equity_appetite, sentiment) - self.equity_used_usd)

    def loan_budget(self, sentiment: float) -> float:
        """USD it is still willing to lend this month."""
        return max(0.0, self._appetite(self.spec.loan_appetite, sentiment) - self.loans_used_usd)
