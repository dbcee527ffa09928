"""The month, in order: one module per phase (DESIGN §4), run from :data:`MONTH`.

Each phase is a function ``run(world, t)``: it asks agents role questions and books the
answers through the world's :class:`~sim.books.Books`. The order is the model's timing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from sim.phases import close, collect, demand, finance, invest, operate, resolve, settle
from sim.phases.month import MonthState

if TYPE_CHECKING:
    from sim.model import ComputeMarket


class Phase(NamedTuple):
    name: str
    run: Callable[[ComputeMarket, int], None]


MONTH: tuple[Phase, ...] = (
    Phase("demand", demand.run),
    Phase("operate", operate.run),
    Phase("settle", settle.run),
    Phase("invest", invest.run),
    Phase("finance", finance.run),
    Phase("resolve", resolve.run),
    Phase("collect", collect.run),
    Phase("close", close.run),
)
"""The phases of a month, in the order they run."""

__all__ = ["MONTH", "MonthState", "Phase"]
