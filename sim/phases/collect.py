"""Phase 7, collect: stakes are marked to market, sentiment moves, the month is recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.phases import markets
from sim.phases.resolve import debtrank_snapshot

if TYPE_CHECKING:
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> None:
    """Price listed shares and move sentiment with the month's news
    (:mod:`sim.phases.markets`), mark stakes, and record the month."""
    markets.price(world, t)
    world.books.mark_stakes(t, lambda issuer: world.agent(issuer).market_value())
    markets.after_marks(world)
    if t in world.cfg.cascade.debtrank_months:
        world.debtrank_rows.extend(debtrank_snapshot(world, t))
    world.record_month()
