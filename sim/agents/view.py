"""What an agent sees of the market: a narrow, read-only view handed to it at creation.

Agents never import the model (the ABIDES arrangement): the world passes itself as a
:class:`MarketView`, and a unit test passes a small fake that answers the same questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sim.config import Scenario
from sim.instruments import CapacityContract, ChipOrder
from sim.ledger import Line


class MarketView(Protocol):
    """The questions an agent may ask about the market and about its own books."""

    @property
    def cfg(self) -> Scenario:
        """The scenario's parameters."""
        ...

    @property
    def month(self) -> int:
        """The current month (model step)."""
        ...

    @property
    def sentiment(self) -> float:
        """Investor sentiment (1 = neutral; above 1 in a boom, see :mod:`sim.sentiment`)."""
        ...

    def expected_growth(self, name: str) -> float:
        """The market's expected monthly revenue growth of ``name`` (Brock–Hommes beliefs,
        :class:`sim.valuation.GrowthBeliefs`), 1/month."""
        ...

    def market_cap_usd(self, name: str) -> float | None:
        """``name``'s listed market capitalisation this month, USD (None if not listed)."""
        ...

    @property
    def spot_price(self) -> float:
        """This month's spot compute price, USD/GPU-hour."""
        ...

    @property
    def price_history(self) -> Sequence[float]:
        """Spot compute price of each past month, USD/GPU-hour."""
        ...

    def balance(self, name: str, line: Line = Line.CASH) -> float:
        """One line of ``name``'s balance sheet, USD."""
        ...

    def equity_of(self, name: str) -> float:
        """``name``'s book equity, USD."""
        ...

    def arrears_usd(self, name: str) -> float:
        """What ``name`` owes now and has not paid, USD."""
        ...

    def contracts_of(self, name: str, step: int | None = None) -> list[CapacityContract]:
        """Active contracts where ``name`` is buyer or seller (in force at ``step``)."""
        ...

    def sales_in_force(self, seller: str, step: int) -> list[CapacityContract]:
        """The contracts in force at ``step`` that ``seller`` sells, in the order they were
        added (not to be modified)."""
        ...

    def purchases_in_force(self, buyer: str, step: int) -> list[CapacityContract]:
        """The contracts in force at ``step`` that ``buyer`` buys, in the order they were
        added (not to be modified)."""
        ...

    def contracted_gpus(
        self, *, buyer: str | None = None, seller: str | None = None, step: int
    ) -> float:
        """GPUs under contracts in force at ``step`` (everyone's if both are None)."""
        ...

    def backlog_usd(self, seller: str, step: int) -> float:
        """Take-or-pay revenue still to come to ``seller``, USD."""
        ...

    def collateral_backlog_usd(self, seller: str, step: int) -> float:
        """``seller``'s backlog as lenders count it for collateral: each contract's remaining
        take-or-pay value weighted by its buyer's ability to pay, USD."""
        ...

    def debt_usd(self, borrower: str) -> float:
        """Loans outstanding of ``borrower``, USD."""
        ...

    def credit_offered_usd(self) -> float:
        """USD one borrower could raise this month: the loan budgets of the lenders a
        syndicate is made of (the ``finance.syndicate_size`` largest, at today's sentiment)."""
        ...

    def debt_service_usd(self, borrower: str) -> float:
        """Interest and principal ``borrower`` owes on its loans this month, USD."""
        ...

    def open_orders(
        self, *, buyer: str | None = None, vendor: str | None = None
    ) -> list[ChipOrder]:
        """Chip orders not yet fully delivered."""
        ...

    def facility_cost(self, step: int) -> float:
        """Non-chip capex per GPU at ``step``, USD."""
        ...

    def full_cost(self, step: int) -> float:
        """Full cost of a new GPU-hour at ``step``, USD (:func:`sim.costs.full_cost`)."""
        ...

    def orders_version(self, agent: str) -> object:
        """A token that is equal between two looks only if no order of ``agent`` (buyer or
        vendor) was placed, delivered or cancelled in between: what the agent computed
        from its open orders is still true while it is."""
        ...

    def contracts_version(self, agent: str) -> object:
        """A token that is equal between two looks only if no contract of ``agent`` (buyer
        or seller) was added, ended or repriced in between: what the agent computed from
        its contracts is still true while it is."""
        ...

    def building_gpus(self, exclude: str) -> float:
        """GPUs the clouds other than ``exclude`` have delivered and are still building
        into data centres (not yet online): the part of their announced pipelines that is
        no longer on order."""
        ...

    def unbuilt_backlog_gpus(self, exclude: str) -> float:
        """GPUs the clouds other than ``exclude`` have sold under signed contracts and not
        yet installed, delivered or ordered: each rival's peak contracted GPUs from this
        month on, less its installed GPUs and pipeline, at least 0 (announced contracted
        capacity not yet on order: a phased contract's later phases)."""
        ...
