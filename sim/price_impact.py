"""Fire-sale price impact (pure economics): the secondary price of GPUs falls with the volume
sold by defaulters, and every holder's GPUs are marked at that price.

Cifuentes, Ferrucci and Shin (2005) take an exponential inverse demand curve for an asset
sold in distress: the price is ``exp(−α · q)`` of its undisturbed value when ``q`` is the
quantity sold; Greenwood, Landier and Thesmar (2015) use the same idea (price impact per
unit sold) for banks' overlapping portfolios. Here ``q`` is the share of the market's
installed GPUs sold this month.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def price_factor(sold_gpus: float, market_gpus: float, impact: float) -> float:
    """Secondary price of GPUs after ``sold_gpus`` of ``market_gpus`` installed were sold in
    distress, as a share of the undisturbed price: ``exp(−impact · sold ÷ market)`` (1 with
    nothing sold or no market)."""
    if sold_gpus <= 0 or market_gpus <= 0 or impact <= 0:
        return 1.0
    return math.exp(-impact * sold_gpus / market_gpus)


def marks_after_sale(
    holdings_usd: Mapping[str, float], before: float, after: float
) -> dict[str, float]:
    """What each holder loses on its GPUs (at value ``holdings_usd`` under the undisturbed
    price) when the price factor moves from ``before`` to ``after``, USD (≥ 0)."""
    drop = max(0.0, before - after)
    return {name: value * drop for name, value in holdings_usd.items() if value * drop > 0}
