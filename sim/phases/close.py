"""Phase 8, close: the month's books are closed — unused prepayments of terms that end
lapse to the seller, finished instruments are forgotten, and (on request) the books are
audited against the instruments."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> None:
    world.books.lapse_prepayments(t)
    world.books.instruments.prune(t)
    if world.audit_every_step:
        world.audit()
