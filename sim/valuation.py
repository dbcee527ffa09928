"""Valuation from expectations: growth beliefs that switch between heuristics, discounted
cash flows, listed market capitalisations. Pure functions of numbers (no agents, no books).

- :class:`GrowthBeliefs` — the market's belief about one company's monthly growth, a mix of a
  fundamental anchor and a trend-following forecast whose weights move with their recent
  accuracy (heuristic switching, Brock and Hommes 1998, JEDC 22; Hommes 2006, Handbook of
  Computational Economics vol. 2, ch. 23).
- :func:`dcf_value` — present value of projected free cash flows over a horizon plus a Gordon
  terminal value (the standard two-stage DCF; Damodaran, *Investment Valuation*, ch. 12), with
  growth fading geometrically to its long-run rate and the margin converging to a target.
- :func:`listed_value` — a listed firm's market capitalisation: positive earnings capitalised
  at the same DCF plus the present value of the margin on its backlog (remaining performance
  obligations), times sector sentiment.
- :func:`required_return` — a required return that reads sentiment through a risk premium.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

TERMINAL_SPREAD = 0.02
"""Least gap between a required return and the long-run growth, per year (keeps the Gordon
terminal value finite; a unit of the formula, not a parameter)."""


MAX_MONTHLY_GROWTH = 100.0
"""Largest monthly growth :func:`annualise` compounds (×101 a month, ≈ 1.1e24 a year): a
firm starting from almost nothing can post any ratio, and a float overflows past ≈ 1e308."""


def annualise(monthly_growth: float) -> float:
    """Annual growth equivalent to ``monthly_growth`` compounded for 12 months (the monthly
    growth taken between −99% and :data:`MAX_MONTHLY_GROWTH`)."""
    return (1.0 + min(max(monthly_growth, -0.99), MAX_MONTHLY_GROWTH)) ** 12 - 1.0


def required_return(base: float, risk_premium: float, sentiment: float) -> float:
    """Annual return required of an equity: ``base`` plus ``risk_premium`` ÷ sentiment (a
    boom, sentiment > 1, lowers the premium; a panic raises it)."""
    return base + risk_premium / max(sentiment, 1e-3)


def dcf_value(
    revenue_per_year: float,
    growth_now: float,
    *,
    long_run_growth: float,
    persistence: float,
    margin_now: float,
    target_margin: float,
    margin_convergence: float,
    required: float,
    horizon_years: int,
) -> float:
    """Present value, USD, of a company with ``revenue_per_year`` of revenue today.

    Revenue in year k grows at ``g_k = g∞ + (growth_now − g∞) · persistence^(k−1)``; the
    free-cash-flow margin is ``m_k = target + (margin_now − target) · margin_convergence^k``;
    cash flows are discounted at ``required`` (annual) for ``horizon_years``, and the last
    year's cash flow grows at g∞ for ever after (Gordon terminal value). The value may be
    negative: a company that burns more than its growth will repay is worth less than nothing
    to a new investor (the mark is floored at zero by the caller).
    """
    if revenue_per_year <= 0:
        return 0.0
    r = max(required, long_run_growth + TERMINAL_SPREAD)
    revenue, value, discount, fcf = revenue_per_year, 0.0, 1.0, 0.0
    fades = _powers(persistence, horizon_years)  # persistence ** (k − 1), k = 1 … horizon
    converging = _powers(margin_convergence, horizon_years + 1)  # margin_convergence ** k
    for k in range(1, horizon_years + 1):
        growth = long_run_growth + (growth_now - long_run_growth) * fades[k - 1]
        revenue *= 1.0 + growth
        margin = target_margin + (margin_now - target_margin) * converging[k]
        fcf = margin * revenue
        discount /= 1.0 + r
        value += fcf * discount
    terminal = fcf * (1.0 + long_run_growth) / (r - long_run_growth)
    return value + terminal * discount


@functools.lru_cache(maxsize=64)
def _powers(base: float, n: int) -> tuple[float, ...]:
    """``base ** k`` for k = 0 … n − 1, each as ``**`` computes it (the same doubles): the
    DCF's fades and convergences, whose bases are parameters, worked out once."""
    return tuple(base**k for k in range(n))


def listed_value(
    earnings_per_year: float,
    growth_now: float,
    backlog_usd: float,
    *,
    backlog_margin: float,
    backlog_years: float,
    long_run_growth: float,
    persistence: float,
    required: float,
    horizon_years: int,
    sentiment: float,
) -> float:
    """Market capitalisation of a listed firm, USD (≥ 0).

    Positive earnings are capitalised as a DCF of earnings (margin 1) growing from
    ``growth_now``; the margin on the backlog, ``backlog_usd × backlog_margin``, is added at
    its present value ``backlog_years`` out; the sum is scaled by ``sentiment`` (the sector's
    mood prices every multiple). The form of ECONOMICS.md §1 "Listed shares": earnings × a
    multiple that reads expected growth, plus the present value of backlog margin.
    """
    earnings_value = dcf_value(
        max(earnings_per_year, 0.0),
        growth_now,
        long_run_growth=long_run_growth,
        persistence=persistence,
        margin_now=1.0,
        target_margin=1.0,
        margin_convergence=0.0,
        required=required,
        horizon_years=horizon_years,
    )
    backlog_value = backlog_usd * backlog_margin / (1.0 + required) ** backlog_years
    return max(0.0, sentiment * (earnings_value + backlog_value))


@dataclass
class GrowthBeliefs:
    """The market's belief about one company's monthly growth (Brock–Hommes switching).

    Two heuristics forecast next month's growth: fundamentalists expect the anchor ``g_f``;
    trend followers expect ``g_{t−1} + γ (g_{t−1} − g_{t−2})``. Each heuristic's fitness is
    minus its squared forecast error plus ``η`` × its past fitness; the share of the market
    using heuristic h is the logit ``exp(β U_h) / Σ exp(β U_j)``; the market's expectation is
    the share-weighted forecast. High growth that keeps coming makes trend followers win and
    the market extrapolates (a boom); a disappointment makes them lose and the market falls
    back on the anchor (the multiple compresses before anybody defaults).
    """

    anchor: float  # g_f, monthly
    trend_weight: float  # γ
    intensity: float  # β
    memory: float  # η
    last: float | None = None  # g_{t-1}
    before: float | None = None  # g_{t-2}
    forecast_fundamental: float | None = None  # what each heuristic forecast for this month
    forecast_trend: float | None = None
    fitness_fundamental: float = 0.0
    fitness_trend: float = 0.0

    @property
    def trend_share(self) -> float:
        """Share of the market following the trend (0–1)."""
        diff = self.intensity * (self.fitness_trend - self.fitness_fundamental)
        return 1.0 / (1.0 + math.exp(-max(min(diff, 500.0), -500.0)))

    def trend_forecast(self) -> float:
        """The trend followers' forecast of next month's growth."""
        if self.last is None:
            return self.anchor
        if self.before is None:
            return self.last
        return self.last + self.trend_weight * (self.last - self.before)

    def expected(self) -> float:
        """The market's expected monthly growth: the share-weighted forecast."""
        n = self.trend_share
        return n * self.trend_forecast() + (1.0 - n) * self.anchor

    def observe(self, growth: float) -> None:
        """This month's realised growth: score the forecasts made for it, then update."""
        if self.forecast_trend is not None and self.forecast_fundamental is not None:
            self.fitness_trend = (
                -((growth - self.forecast_trend) ** 2) + self.memory * self.fitness_trend
            )
            self.fitness_fundamental = (
                -((growth - self.forecast_fundamental) ** 2)
                + self.memory * self.fitness_fundamental
            )
        self.before, self.last = self.last, growth
        self.forecast_trend = self.trend_forecast()
        self.forecast_fundamental = self.anchor
