"""The capital market's monthly pricing (run in phase 7, collect, before stakes are marked):
growth beliefs move with realised growth, clouds and chip vendors get a listed market
capitalisation, sentiment moves with the month's news, and every holder's mark-up is noted
for the wealth effect of the next rounds.

:class:`CapitalMarket` is the market-level state (beliefs, earnings histories, caps); the
economics are the pure functions of :mod:`sim.valuation` and :mod:`sim.sentiment`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sim.agents import ChipVendor, Cloud, MarketAgent
from sim.config import Scenario
from sim.ledger import Line
from sim.sentiment import SentimentNews, next_sentiment
from sim.valuation import GrowthBeliefs, annualise, listed_value, required_return

if TYPE_CHECKING:
    from sim.model import ComputeMarket

LAB_SECTOR = "all labs"
"""Key of the market's growth beliefs about the labs' total revenue (their Brock–Hommes
forecast is what sentiment's growth surprise is measured against)."""
EARNINGS_MONTHS = 12
"""Listed firms' earnings are read as the sum of the last 12 months (trailing twelve months)."""


@dataclass
class CapitalMarket:
    """Market-level state of the capital market."""

    cfg: Scenario
    beliefs: dict[str, GrowthBeliefs] = field(default_factory=dict)
    volume: dict[str, list[float]] = field(default_factory=dict)  # per firm, per month
    earnings: dict[str, deque[float]] = field(default_factory=dict)  # monthly, USD
    retained_after_mark: dict[str, float] = field(default_factory=dict)
    paid_out_after_mark: dict[str, float] = field(default_factory=dict)  # cumulative, USD
    revenue: dict[str, deque[float]] = field(default_factory=dict)  # vendors', monthly, USD
    caps: dict[str, float] = field(default_factory=dict)  # listed market caps, USD
    values: dict[str, float] = field(default_factory=dict)  # last marks of every firm, USD
    stakes_before_mark: dict[str, float] = field(default_factory=dict)
    mark_gain: dict[str, float] = field(default_factory=dict)  # this month's, USD
    lab_revenue: list[float] = field(default_factory=list)  # all labs, per month, USD

    def beliefs_of(self, name: str) -> GrowthBeliefs:
        cap = self.cfg.capital
        if name not in self.beliefs:
            self.beliefs[name] = GrowthBeliefs(
                cap.fundamental_growth_per_month,
                cap.trend_extrapolation,
                cap.switching_intensity,
                cap.fitness_memory,
            )
        return self.beliefs[name]

    def expected_growth(self, name: str) -> float:
        """The market's expected monthly growth of ``name`` (the anchor before any data)."""
        return self.beliefs_of(name).expected()

    def observe_revenue(self, name: str, revenue: float) -> None:
        """A vendor's ``revenue`` this month (USD), kept for its trailing twelve months."""
        self.revenue.setdefault(name, deque(maxlen=EARNINGS_MONTHS)).append(revenue)

    def observe_volume(self, name: str, volume: float) -> None:
        """``name``'s business volume this month (revenue for labs and vendors, contracted
        plus used GPUs for clouds); its growth over the window updates the beliefs."""
        history = self.volume.setdefault(name, [])
        history.append(volume)
        growth = window_growth(history, self.cfg.capital.growth_window_months)
        if growth is not None:
            self.beliefs_of(name).observe(growth)


def window_growth(history: list[float], window: int) -> float | None:
    """Average monthly growth over the last ``window`` months of ``history`` (None until
    there are two positive observations)."""
    w = min(window, len(history) - 1)
    if w < 1 or history[-1 - w] <= 0 or history[-1] < 0:
        return None
    return (max(history[-1], 1e-9) / history[-1 - w]) ** (1.0 / w) - 1.0


def volume_of(world: ComputeMarket, agent: MarketAgent, t: int) -> float:
    """A firm's business volume: a cloud's GPUs under contract plus those used (GPUs), a
    lab's revenue (USD), a vendor's trailing-twelve-month mean revenue (USD a month).

    A vendor's revenue is its deliveries, which come in lumps (a month with an empty
    queue, a month of a new order's lead time); the market reads its growth from trailing
    twelve-month revenue, as analysts do, not from one month's deliveries."""
    if isinstance(agent, Cloud):
        return world.contracted_gpus(seller=agent.name, step=t) + agent.used_gpus
    if isinstance(agent, ChipVendor):
        months = world.capital.revenue.get(agent.name)
        return sum(months) / len(months) if months else 0.0
    return float(getattr(agent, "revenue_usd", 0.0))


def order_book_usd(world: ComputeMarket, vendor: str) -> float:
    """A vendor's backlog, USD: the undelivered units of its open orders at their prices
    (its remaining performance obligations)."""
    return sum([o.undelivered_usd for o in world.open_orders(vendor=vendor)])


def backlog_of(world: ComputeMarket, firm: MarketAgent, t: int) -> float:
    """A listed firm's backlog, USD: a cloud's take-or-pay revenue still to come, a
    vendor's order book."""
    if isinstance(firm, ChipVendor):
        return order_book_usd(world, firm.name)
    return world.backlog_usd(firm.name, t)


def listed_firms(world: ComputeMarket) -> list[MarketAgent]:
    """The firms with listed shares: clouds and chip vendors."""
    return [a for a in world.all_agents if isinstance(a, (Cloud, ChipVendor))]


def price(world: ComputeMarket, t: int) -> None:
    """Before stakes are marked: update beliefs, price listed shares, move sentiment."""
    market, cap = world.capital, world.cfg.capital
    for agent in [*world.labs, *listed_firms(world)]:
        if not agent.defaulted:
            if isinstance(agent, ChipVendor):
                market.observe_revenue(agent.name, float(agent.revenue_usd))
            market.observe_volume(agent.name, volume_of(world, agent, t))
    required = required_return(cap.market_required_return, cap.equity_risk_premium, 1.0)
    for firm in listed_firms(world):
        # earnings: the change in retained earnings plus what was paid out (a dividend or a
        # buyback lowers retained earnings but is not a loss)
        retained = world.balance(firm.name, Line.RETAINED)
        paid_out = world.books.paid_out_usd(firm.name)
        history = market.earnings.setdefault(firm.name, deque(maxlen=EARNINGS_MONTHS))
        history.append(
            retained
            - market.retained_after_mark.get(firm.name, 0.0)
            + paid_out
            - market.paid_out_after_mark.get(firm.name, 0.0)
        )
        if firm.defaulted:
            market.caps[firm.name] = 0.0
            continue
        growth = min(
            annualise(cap.listed_growth_weight * market.expected_growth(firm.name)),
            cap.max_listed_growth_per_year,
        )
        annual = sum(history) * EARNINGS_MONTHS / len(history)
        market.caps[firm.name] = listed_value(
            annual,
            growth,
            backlog_of(world, firm, t),
            backlog_margin=cap.backlog_margin,
            backlog_years=cap.backlog_years,
            long_run_growth=cap.long_run_growth_per_year,
            persistence=cap.growth_persistence_per_year,
            required=required,
            horizon_years=cap.horizon_years,
            sentiment=world.sentiment,
        )
    move_sentiment(world)
    for agent in world.all_agents:
        market.stakes_before_mark[agent.name] = world.balance(agent.name, Line.STAKES)


def move_sentiment(world: ComputeMarket) -> None:
    """Sentiment reads the month's news (:func:`sim.sentiment.next_sentiment`)."""
    market, cap, fin = world.capital, world.cfg.capital, world.cfg.finance
    firms = [*world.labs, *listed_firms(world)]
    revenue = sum(lab.revenue_usd for lab in world.labs if not lab.defaulted)
    market.lab_revenue.append(revenue)
    growth = window_growth(market.lab_revenue, cap.growth_window_months)
    sector = market.beliefs_of(LAB_SECTOR)
    surprise = 0.0
    if growth is not None:
        # a surprise needs a forecast made from data: growth measured over a full window,
        # forecast from at least two such measurements
        full = len(market.lab_revenue) > cap.growth_window_months + 2
        if full and sector.before is not None:
            surprise = growth - sector.expected()
        sector.observe(growth)
    before = sum([market.values.get(f.name, 0.0) for f in firms])
    defaulted = sum(
        market.values.get(f.name, 0.0) for f in firms if f.defaulted and market.values.get(f.name)
    )
    values = {f.name: f.market_value() for f in firms}
    now = sum(values.values())
    news = SentimentNews(
        revenue_growth=cap.fundamental_growth_per_month if growth is None else growth,
        sector_return=(now / before - 1.0) if before > 0 and market.values else 0.0,
        utilisation=world.month_state.utilisation,
        defaulted_value_share=defaulted / before if before > 0 else 0.0,
        growth_surprise=surprise,
    )
    world.sentiment = next_sentiment(
        world.sentiment,
        news,
        anchor_growth=cap.fundamental_growth_per_month,
        mean_reversion=cap.sentiment_mean_reversion,
        growth_weight=cap.sentiment_growth_weight,
        return_weight=cap.sentiment_return_weight,
        utilisation_weight=cap.sentiment_utilisation_weight,
        reference_utilisation=cap.reference_utilisation,
        default_weight=cap.sentiment_default_weight,
        floor=fin.sentiment_floor,
        cap=cap.sentiment_cap,
        surprise_weight=cap.sentiment_surprise_weight,
    )
    market.values = {name: v for name, v in values.items() if v > 0}


def after_marks(world: ComputeMarket) -> None:
    """After stakes are marked: note each holder's mark-up (the wealth effect's gain) and
    listed firms' retained earnings (next month's earnings are measured from here)."""
    market = world.capital
    for agent in world.all_agents:
        market.mark_gain[agent.name] = world.balance(
            agent.name, Line.STAKES
        ) - market.stakes_before_mark.get(agent.name, 0.0)
    for firm in listed_firms(world):
        market.retained_after_mark[firm.name] = world.balance(firm.name, Line.RETAINED)
        market.paid_out_after_mark[firm.name] = world.books.paid_out_usd(firm.name)
