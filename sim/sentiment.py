"""Endogenous investor sentiment: one index of the sector's mood, moved by news.

Log sentiment follows an AR(1) pulled back to 0 (sentiment 1, neutral) at the rate κ and
pushed each month by four kinds of news:

    log s' = (1 − κ) log s + a_g (g − g_f) + a_e (g − E[g]) + a_r R + a_u (u − u*) − a_d D

with g the labs' realised monthly revenue growth, read twice: against the fundamental anchor
g_f (growth above the long-run norm is good news in itself) and against E[g], what the market
expected for this month (its Brock–Hommes forecast, :class:`sim.valuation.GrowthBeliefs`): the
growth surprise. A boom that goes on as extrapolated surprises nobody; growth that stops
when the market extrapolated it disappoints by the whole extrapolated rate at once (the
earnings-surprise reaction of prices, Bernard and Thomas 1989; its size here is our own
estimate). R the month's return on the sector's market value (momentum, the positive-feedback
traders of De Long, Shleifer, Summers and Waldmann 1990), u the market's utilisation against a
neutral level u*, and D the share of the sector's market value that defaulted this month
(defaults weighted by size, so the leading lab weighs more than a small neocloud). It is
bounded by a floor and a cap, and can exceed 1 in a boom. The functional form is our own
estimate; the weights are parameters (`capital.*`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SentimentNews:
    """The month's news that moves sentiment."""

    revenue_growth: float  # labs' realised monthly revenue growth, 1/month
    sector_return: float  # the month's return on the sector's market value
    utilisation: float  # used ÷ installed GPUs
    defaulted_value_share: float  # share of the sector's market value that defaulted
    growth_surprise: float = 0.0  # realised − expected monthly revenue growth, 1/month


def next_sentiment(
    sentiment: float,
    news: SentimentNews,
    *,
    anchor_growth: float,
    mean_reversion: float,
    growth_weight: float,
    return_weight: float,
    utilisation_weight: float,
    reference_utilisation: float,
    default_weight: float,
    floor: float,
    cap: float,
    surprise_weight: float = 0.0,
) -> float:
    """Next month's sentiment from this month's and its news (see the module docstring)."""
    push = (
        growth_weight * (news.revenue_growth - anchor_growth)
        + surprise_weight * news.growth_surprise
        + return_weight * max(min(news.sector_return, 1.0), -1.0)
        + utilisation_weight * (news.utilisation - reference_utilisation)
        - default_weight * news.defaulted_value_share
    )
    log_s = (1.0 - mean_reversion) * math.log(max(sentiment, 1e-9)) + push
    return min(cap, max(floor, math.exp(log_s)))
