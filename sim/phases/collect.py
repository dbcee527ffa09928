"""Phase 7, collect: stakes are marked to market, sentiment moves, the month is recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sim.agents import Lab
from sim.phases import markets
from sim.phases.resolve import debtrank_snapshot

if TYPE_CHECKING:
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> None:
    """Price listed shares and move sentiment with the month's news
    (:mod:`sim.phases.markets`), mark stakes, and record the month."""
    markets.price(world, t)
    world.books.mark_stakes(t, _values_of_issuers(world))
    markets.after_marks(world)
    if t in world.cfg.cascade.debtrank_months:
        world.debtrank_rows.extend(debtrank_snapshot(world, t))
    world.record_month()


def _values_of_issuers(world: ComputeMarket) -> Callable[[str], float]:
    """What each issuer's stakes are marked to (:meth:`MarketAgent.market_value`), a lab's
    computed once for all its holders: its valuation reads its own business and fleet, which
    marking stakes does not move (a cloud or vendor not yet listed is marked at its book
    equity, which the marks can move: asked each time)."""
    labs: dict[str, float] = {}

    def value_of(issuer: str) -> float:
        value = labs.get(issuer)
        if value is None:
            agent = world.agent(issuer)
            value = agent.market_value()
            if isinstance(agent, Lab):
                labs[issuer] = value
        return value

    return value_of
