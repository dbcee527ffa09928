"""A small fake market for testing agents' decisions alone (the ABIDES ``FakeExchangeAgent``
style): it answers the :class:`~sim.agents.MarketView` questions from plain attributes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mesa

from sim import costs
from sim.config import Scenario
from sim.instruments import CapacityContract, ChipOrder
from sim.ledger import Line

from .conftest import small_world


@dataclass
class FakeMarket:
    """Books and market state set by hand; only what a test puts in is there."""

    cfg: Scenario = field(default_factory=small_world)
    month: int = 0
    sentiment: float = 1.0
    spot_price: float = 2.5
    price_history: list[float] = field(default_factory=list)
    balances: dict[tuple[str, Line], float] = field(default_factory=dict)
    equity: dict[str, float] = field(default_factory=dict)
    arrears: dict[str, float] = field(default_factory=dict)
    contracts: list[CapacityContract] = field(default_factory=list)
    orders: list[ChipOrder] = field(default_factory=list)
    backlog: dict[str, float] = field(default_factory=dict)
    collateral_backlog: dict[str, float] = field(default_factory=dict)
    debt: dict[str, float] = field(default_factory=dict)
    debt_service: dict[str, float] = field(default_factory=dict)  # USD due this month
    credit_offered: float = math.inf  # USD a syndicate would lend this month
    facility_usd_per_gpu: float = 10_000.0
    building: dict[str, float] = field(default_factory=dict)  # delivered, not yet online
    unbuilt_backlog: dict[str, float] = field(default_factory=dict)  # contracted, not ordered
    growth: dict[str, float] = field(default_factory=dict)  # expected monthly growth
    market_caps: dict[str, float] = field(default_factory=dict)
    model: mesa.Model = field(default_factory=lambda: mesa.Model(rng=0))

    def balance(self, name: str, line: Line = Line.CASH) -> float:
        return self.balances.get((name, line), 0.0)

    def set_cash(self, name: str, usd: float) -> None:
        self.balances[(name, Line.CASH)] = usd

    def equity_of(self, name: str) -> float:
        return self.equity.get(name, 0.0)

    def arrears_usd(self, name: str) -> float:
        return self.arrears.get(name, 0.0)

    def contracts_of(self, name: str, step: int | None = None) -> list[CapacityContract]:
        return [
            c
            for c in self.contracts
            if name in (c.buyer, c.seller) and (step is None or c.in_force(step))
        ]

    def sales_in_force(self, seller: str, step: int) -> list[CapacityContract]:
        return [c for c in self.contracts_of(seller, step) if c.seller == seller]

    def purchases_in_force(self, buyer: str, step: int) -> list[CapacityContract]:
        return [c for c in self.contracts_of(buyer, step) if c.buyer == buyer]

    def contracted_gpus(
        self, *, buyer: str | None = None, seller: str | None = None, step: int
    ) -> float:
        return sum(
            c.gpus
            for c in self.contracts
            if c.in_force(step)
            and (buyer is None or c.buyer == buyer)
            and (seller is None or c.seller == seller)
        )

    def backlog_usd(self, seller: str, step: int) -> float:
        return self.backlog.get(seller, 0.0)

    def expected_growth(self, name: str) -> float:
        return self.growth.get(name, 0.0)

    def market_cap_usd(self, name: str) -> float | None:
        return self.market_caps.get(name)

    def collateral_backlog_usd(self, seller: str, step: int) -> float:
        return self.collateral_backlog.get(seller, self.backlog.get(seller, 0.0))

    def debt_usd(self, borrower: str) -> float:
        return self.debt.get(borrower, 0.0)

    def credit_offered_usd(self) -> float:
        return self.credit_offered

    def debt_service_usd(self, borrower: str) -> float:
        return self.debt_service.get(borrower, 0.0)

    def open_orders(
        self, *, buyer: str | None = None, vendor: str | None = None
    ) -> list[ChipOrder]:
        return [
            o
            for o in self.orders
            if o.undelivered > 1e-9
            and (buyer is None or o.buyer == buyer)
            and (vendor is None or o.vendor == vendor)
        ]

    def facility_cost(self, step: int) -> float:
        return self.facility_usd_per_gpu

    def full_cost(self, step: int) -> float:
        return costs.full_cost(self.cfg, step)

    def orders_version(self, agent: str) -> object:
        # tests change self.orders directly: a new token each look, so nothing is reused
        return object()

    def contracts_version(self, agent: str) -> object:
        # tests change self.contracts directly: a new token each look, so nothing is reused
        return object()

    def building_gpus(self, exclude: str) -> float:
        return sum(g for name, g in self.building.items() if name != exclude)

    def unbuilt_backlog_gpus(self, exclude: str) -> float:
        return sum(g for name, g in self.unbuilt_backlog.items() if name != exclude)
