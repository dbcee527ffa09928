"""Phase 7, collect: stakes are marked to market, sentiment moves, the month is recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.phases.resolve import debtrank_snapshot

if TYPE_CHECKING:
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> None:
    """Mark stakes, move sentiment (down with each default, back toward 1 with time), and
    record the month."""
    fin = world.cfg.finance
    hit = (1 - fin.sentiment_hit_per_default) ** world.month_state.new_defaults
    world.sentiment = max(fin.sentiment_floor, world.sentiment * hit)
    world.sentiment += fin.sentiment_recovery_per_month * (1.0 - world.sentiment)
    world.books.mark_stakes(t, lambda issuer: world.agent(issuer).market_value())
    if t in world.cfg.cascade.debtrank_months:
        world.debtrank_rows.extend(debtrank_snapshot(world, t))
    world.record_month()
