"""Circular deals: one module per kind, each registered in :data:`DEAL_KINDS`.

Each deal of the scenario (``[[deals]]``) is carried out with its own cash flows, all
through the books, so the circularity metrics see exactly the money that goes round. See
:mod:`sim.deals.base` for the hooks and ``docs/architecture.md`` for adding a kind.
"""

from __future__ import annotations

from sim.config import DealSpec
from sim.deals import (
    backstop,
    capacity_commitment,
    compute_credit,
    enterprise_jv,
    lab_cloud,
    lease_vehicle,
    revenue_share,
    secondary_sale,
    strategic_equity,
    vendor_financing,
    warrant,
)
from sim.deals.base import DEAL_KINDS, Deal, DealWorld, register
from sim.instruments import ChipOrder

_KINDS = (  # registered
    backstop,
    capacity_commitment,
    compute_credit,
    enterprise_jv,
    lab_cloud,
    lease_vehicle,
    revenue_share,
    secondary_sale,
    strategic_equity,
    vendor_financing,
    warrant,
)


class DealBook:
    """The scenario's deals, in order, and the hooks the phases call on all of them."""

    def __init__(self, specs: tuple[DealSpec, ...]) -> None:
        self.deals: list[Deal] = [DEAL_KINDS[spec.kind](spec) for spec in specs]
        # the deals with something to do on a delivery (the base hook does nothing): it is
        # called for each chip delivery, several hundred a run
        self._on_delivery = [d for d in self.deals if type(d).on_delivery is not Deal.on_delivery]

    def on_open(self, world: DealWorld) -> None:
        for deal in self.deals:
            deal.on_open(world)

    def on_invest(self, world: DealWorld, t: int) -> None:
        for deal in self.deals:
            provider, receiver = world.agent(deal.spec.provider), world.agent(deal.spec.receiver)
            if not (provider.defaulted or receiver.defaulted):
                deal.on_invest(world, t)

    def on_allocation(self, world: DealWorld, t: int) -> None:
        for deal in self.deals:
            deal.on_allocation(world, t)

    def on_delivery(self, world: DealWorld, t: int, order: ChipOrder, invoice_usd: float) -> None:
        for deal in self._on_delivery:
            deal.on_delivery(world, t, order, invoice_usd)

    def on_settle(self, world: DealWorld, t: int) -> None:
        for deal in self.deals:
            deal.on_settle(world, t)


__all__ = ["DEAL_KINDS", "Deal", "DealBook", "DealWorld", "register"]
