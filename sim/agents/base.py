"""What every agent shares: a name, books in the ledger, and a default flag."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.ledger import Line

if TYPE_CHECKING:
    from sim.model import ComputeMarket


class MarketAgent(mesa.Agent):
    """A named party with books in the model's ledger. It reads its books; it never writes them."""

    model: ComputeMarket
    kind: str = "agent"

    def __init__(self, model: ComputeMarket, name: str, archetype: str) -> None:
        super().__init__(model)
        self.name = name
        self.archetype = archetype
        self.defaulted = False
        self.default_step: int | None = None
        self.unpaid_external_usd = 0.0  # external costs due and not yet paid this month
        model.ledger.open_account(name)

    @property
    def cash(self) -> float:
        return self.model.ledger.cash(self.name)

    @property
    def payables(self) -> float:
        return self.model.ledger.balance(self.name, Line.PAYABLES)

    @property
    def arrears_usd(self) -> float:
        """What this agent owes now and has not paid (payables plus unpaid external costs)."""
        return self.payables + self.unpaid_external_usd

    @property
    def equity(self) -> float:
        return self.model.ledger.equity(self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
