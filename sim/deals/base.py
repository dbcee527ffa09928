"""What every deal kind shares: the world it sees, the hooks it may fill, a registry.

A deal kind is a subclass of :class:`Deal` registered under its ``kind`` (the value of
``[[deals]] kind = ...`` in a scenario). The phases call four hooks on every deal, in the
scenario's order; a kind fills those it needs:

- :meth:`Deal.on_invest` — in the invest phase, before labs sign and clouds order (only
  while provider and receiver are both in business);
- :meth:`Deal.on_allocation` — in the operate phase, once capacity has been allocated;
- :meth:`Deal.on_delivery` — in the settle phase, when a vendor invoices delivered chips;
- :meth:`Deal.on_settle` — in the settle phase, before anyone pays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from sim.agents import ChipVendor, Cloud, Investor, Lab, MarketAgent
from sim.books import Books
from sim.config import DealSpec, Scenario
from sim.instruments import ChipOrder


class DealWorld(Protocol):
    """What a deal sees of the world: its parties, the books to write through and costs."""

    @property
    def cfg(self) -> Scenario: ...

    @property
    def books(self) -> Books: ...

    @property
    def labs(self) -> Sequence[Lab]: ...

    @property
    def clouds(self) -> Sequence[Cloud]: ...

    @property
    def vendors(self) -> Sequence[ChipVendor]: ...

    @property
    def investors(self) -> Sequence[Investor]: ...

    def agent(self, name: str) -> MarketAgent: ...

    def facility_cost(self, step: int) -> float: ...


class Deal:
    """One deal of the scenario; ``remaining`` is what is left of its money (USD)."""

    kind: ClassVar[str] = ""

    def __init__(self, spec: DealSpec) -> None:
        self.spec = spec
        self.remaining = spec.amount_usd

    @property
    def name(self) -> str:
        return self.spec.name

    def running(self, t: int) -> bool:
        """Is month ``t`` within the deal's months (from ``month``, for ``months``)?"""
        return self.spec.month <= t < self.spec.month + self.spec.months

    def on_open(self, world: DealWorld) -> None:
        """Before the first month, after the opening contracts and chip pipeline: a deal
        already in force when the run opens."""

    def on_invest(self, world: DealWorld, t: int) -> None:
        """Invest phase, before labs sign contracts and clouds order chips."""

    def on_allocation(self, world: DealWorld, t: int) -> None:
        """Operate phase, after contracts and the spot market have allocated capacity."""

    def on_delivery(self, world: DealWorld, t: int, order: ChipOrder, invoice_usd: float) -> None:
        """Settle phase: ``order``'s vendor has just invoiced ``invoice_usd`` of chips."""

    def on_settle(self, world: DealWorld, t: int) -> None:
        """Settle phase, after bills and costs fall due and before anyone pays."""


DEAL_KINDS: dict[str, type[Deal]] = {}
"""Every registered deal kind, by ``kind``."""


def register[D: type[Deal]](cls: D) -> D:
    """Class decorator: make a deal kind available to scenarios under ``cls.kind``."""
    if not cls.kind or cls.kind in DEAL_KINDS:
        raise ValueError(f"deal kind {cls.kind!r} is empty or registered twice")
    DEAL_KINDS[cls.kind] = cls
    return cls


def first_active_partner(world: DealWorld, lab: Lab) -> Cloud | None:
    """The lab's first partner cloud still in business, if any."""
    for name in lab.partners:
        cloud = world.agent(name)
        if isinstance(cloud, Cloud) and not cloud.defaulted:
            return cloud
    return None
