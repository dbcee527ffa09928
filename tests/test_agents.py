"""Each agent's decision rules, called directly against a small fake market (no world)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import costs
from sim.agents import ChipVendor, Cloud, Investor, Lab, Vintage
from sim.instruments import CapacityContract, ChipOrder
from sim.ledger import Line, to_cents

from .conftest import small_world
from .fakes import FakeMarket


def make_lab(market: FakeMarket, **spec: object) -> Lab:
    lab_spec = market.cfg.labs[0].model_copy(update=spec)
    return Lab(market.model, market, "lab-a", lab_spec, demand_share=1.0)


def make_cloud(market: FakeMarket, name: str = "hyper", **spec: object) -> Cloud:
    cloud_spec = market.cfg.clouds[0].model_copy(update=spec)
    return Cloud(market.model, market, name, cloud_spec)


def online(cloud: Cloud, gpus: float, step: int = -1, cents: int = 0) -> None:
    cloud.receive_chips(Vintage(step, step, gpus, cents, 0, cents, 0))


# --- Lab -------------------------------------------------------------------------------
def test_lab_contracts_the_uncovered_share_of_its_projected_need() -> None:
    market = FakeMarket()
    lab = make_lab(market, contract_coverage=0.8, min_contract_share=0.0)
    lab.inference_gpus_history = [1000.0] * 6  # flat: no growth to extrapolate
    need = lab.need_at(1000.0, 3)
    assert lab.contracts_wanted(0, 3, 0.0) == pytest.approx(0.8 * need)
    assert lab.contracts_wanted(0, 3, 0.5 * need) == pytest.approx(0.3 * need)
    assert lab.contracts_wanted(0, 3, 0.9 * need) == 0.0  # holds more than it wants


def test_an_optimistic_lab_signs_for_more_when_demand_grows() -> None:
    market = FakeMarket()
    growth = [1000.0 * 1.05**k for k in range(13)]
    sober, keen = make_lab(market, optimism=1.0), make_lab(market, optimism=2.0)
    sober.inference_gpus_history = keen.inference_gpus_history = growth
    assert keen.contracts_wanted(12, 15, 0.0) > sober.contracts_wanted(12, 15, 0.0) > 0


def test_lab_raises_equity_only_when_short_of_runway() -> None:
    market = FakeMarket()
    lab = make_lab(market)
    lab.costs_usd, lab.revenue_usd = 100e6, 40e6  # burns $60M a month
    market.set_cash("lab-a", 10e9)
    assert lab.equity_wanted() == 0.0
    market.set_cash("lab-a", 50e6)
    market.arrears["lab-a"] = 80e6
    wanted = lab.equity_wanted()
    fin = market.cfg.finance
    assert wanted == pytest.approx(80e6 + fin.lab_runway_target_months * 60e6 - 50e6)
    lab.defaulted = True
    assert lab.equity_wanted() == 0.0


def test_lab_prepays_its_share_capped_by_cash_and_only_new_contracts() -> None:
    market = FakeMarket(cfg=small_world(**{"market.prepayment_share": 0.5}))
    lab = make_lab(market)
    market.set_cash("lab-a", 1e9)
    contract = CapacityContract("c", "lab-a", "hyper", 1000, 2.0, 3, 12, 1.0)
    value = contract.remaining_value(3, market.cfg.market.hours_per_month)
    cap = market.cfg.market.prepayment_max_cash_share * 1e9
    assert lab.prepayment(contract, 0) == pytest.approx(min(0.5 * value, cap))
    assert lab.prepayment(CapacityContract("r", "lab-a", "hyper", 1, 2.0, -5, 12, 1.0), 0) == 0.0
    market.cfg = small_world()  # prepayments off
    assert lab.prepayment(contract, 0) == 0.0


def test_lab_falls_back_to_the_largest_cloud_when_its_partners_are_gone() -> None:
    market = FakeMarket()
    lab = make_lab(market)
    small, big = make_cloud(market, "small"), make_cloud(market, "big")
    online(small, 10), online(big, 100)
    lab.partners = ["gone"]
    assert lab.active_partners([small, big], 0) == ["big"]
    assert lab.split_over_partners(90.0, ["a", "b", "c"]) == {"a": 30.0, "b": 30.0, "c": 30.0}


def test_lab_picks_partners_in_proportion_to_capacity() -> None:
    market = FakeMarket()
    lab = make_lab(market)
    clouds = [make_cloud(market, "a"), make_cloud(market, "b")]
    picks = [
        lab.choose_partners(clouds, np.array([9.0, 1.0]), 1, np.random.default_rng(s))[0]
        for s in range(200)
    ]
    assert 0.8 < picks.count("a") / len(picks) < 0.97


# --- Cloud -----------------------------------------------------------------------------
def test_cloud_stock_adjustment_discounts_the_supply_line_by_its_weight() -> None:
    market = FakeMarket()
    cloud = make_cloud(market, supply_line_weight=0.5)
    online(cloud, 600)
    market.orders.append(ChipOrder("o", "hyper", "v", 200, 30_000, 0, 6, 18))
    # desired 1000 − installed 600 − 0.5 × 200 on order
    assert cloud.order_gpus(0, 1000.0, 18) == pytest.approx(300.0)
    assert cloud.order_gpus(0, 500.0, 18) == 0.0


def flat_tech_market(**overrides: object) -> FakeMarket:
    """No technology gains, a 12-month life, no discounting: hand-computable present values."""
    cfg = small_world().with_overrides(
        {
            "technology.compute_per_dollar_growth_per_year": 1.0,
            "technology.chip_life_months": 12,
            "technology.cost_of_capital_per_year": 0.0,
            "technology.operating_cost_usd_per_gpu_hour": 0.3,
            "investment.expected_utilisation": 1.0,
            "clouds.*.interest_rate_per_year": 0.0,
            **overrides,
        }
    )
    return FakeMarket(cfg=cfg)


def test_tobin_q_is_the_present_value_of_a_gpus_margins_over_its_cost() -> None:
    market = flat_tech_market()
    market.spot_price, market.price_history = 2.0, [2.0] * 12
    cloud = make_cloud(market)
    hours = market.cfg.market.hours_per_month
    pv = 12 * (2.0 - 0.3) * hours  # twelve months of margin, undiscounted
    assert cloud.tobin_q(0, pv) == pytest.approx(1.0)
    assert cloud.tobin_q(0, pv / 2) == pytest.approx(2.0)
    # with a 12% cost of capital a year the same GPU is worth less than it costs
    dear = make_cloud(market, interest_rate_per_year=0.12)
    months = np.arange(1, 13)
    discounted = np.sum((2.0 - 0.3) * hours * 1.12 ** (-months / 12))
    assert dear.tobin_q(0, pv) == pytest.approx(discounted / pv)


def test_tobin_q_expects_the_price_to_follow_the_full_cost_of_new_gpus() -> None:
    """Salter's vintage model: the expected price falls with the full cost of a new GPU-hour,
    whose capital part falls with compute per dollar and whose cash cost does not; a GPU
    whose price no longer covers its cash cost stands idle (a zero margin, not a loss)."""
    market = flat_tech_market(
        **{
            "technology.compute_per_dollar_growth_per_year": 2.0,
            "technology.chip_life_months": 24,
        }
    )

    now = costs.full_cost(market.cfg, 0)
    market.spot_price, market.price_history = now, [now] * 12
    cloud = make_cloud(market)
    hours = market.cfg.market.hours_per_month
    months = np.arange(1, 25)
    price = np.array([costs.full_cost(market.cfg, int(k)) for k in months])
    assert price[-1] > 0.3  # the full cost never falls below the cash cost
    pv = float(np.sum(np.maximum(price - 0.3, 0.0) * hours))
    assert cloud.tobin_q(0, pv) == pytest.approx(1.0)
    # a price at the cash cost earns nothing over the whole life: q is 0, not negative
    market.spot_price, market.price_history = 0.3, [0.3] * 12
    assert cloud.tobin_q(0, pv) == 0.0
    market.spot_price, market.price_history = 0.1, [0.1] * 12
    assert cloud.tobin_q(0, pv) == 0.0


def test_expected_return_builds_nothing_speculative_when_q_is_low() -> None:
    market = flat_tech_market()
    market.spot_price, market.price_history = 2.0, [2.0] * 12
    cloud = make_cloud(market, reserve_margin=0.0)
    cloud.need_at_cover_history = [1000.0] * 7
    market.contracts.append(CapacityContract("c", "lab-a", "hyper", 100, 2.0, 0, 60, 1.0))
    pv = 12 * (2.0 - 0.3) * market.cfg.market.hours_per_month
    b = market.cfg.investment.q_sensitivity
    # q = 1: all of its share (half) of the 900 uncontracted GPUs, plus its contracts
    assert cloud.desired_by_expected_return(0, 6, 0.5, pv) == pytest.approx(100 + 450)
    # q = 0.8: 1 + b(q − 1) of the speculative part
    assert cloud.desired_by_expected_return(0, 6, 0.5, pv / 0.8) == pytest.approx(
        100 + (1 + b * (0.8 - 1)) * 450
    )
    # q far below 1: only the contracts
    assert cloud.desired_by_expected_return(0, 6, 0.5, pv * 10) == pytest.approx(100)


def test_preemptive_capacity_is_built_whatever_q_says() -> None:
    """Spence 1977, Dixit 1980: capacity committed to pre-empt rivals is worth its strategic
    value, not the stand-alone return of the GPU; at q far below 1 the cloud builds no
    speculative share of the market's need but still matches rivals' pipelines."""
    market = flat_tech_market(**{"investment.preemption_weight": 1.5})
    market.spot_price, market.price_history = 2.0, [2.0] * 12
    cloud = make_cloud(market, reserve_margin=0.0)
    cloud.need_at_cover_history = [1000.0] * 7
    market.contracts.append(CapacityContract("c", "lab-a", "hyper", 100, 2.0, 0, 60, 1.0))
    market.orders.append(ChipOrder("r", "rival", "v", 300, 1.0, 0, 6, 12))
    pv = 12 * (2.0 - 0.3) * market.cfg.market.hours_per_month
    preempt = 1.5 * 0.5 / 0.5 * 300
    assert cloud.desired_by_expected_return(0, 6, 0.5, pv * 10) == pytest.approx(100 + preempt)
    assert cloud.desired_by_expected_return(0, 6, 0.5, pv) == pytest.approx(100 + 450 + preempt)


def test_expected_return_does_not_read_a_falling_price_as_growth() -> None:
    market = flat_tech_market()
    sober = make_cloud(market, "sober", investment_rule="expected_return")
    naive = make_cloud(market, "naive", investment_rule="stock_adjustment")
    for k in range(7):  # the price halves; need rises with elasticity −1, nothing else
        market.month, market.spot_price = k, 4.0 * 0.5 ** (k / 6)
        for cloud in (sober, naive):
            cloud.observe_market_need(1000.0 * 4.0 / market.spot_price)
    assert sober.forecast_market_need(12) == pytest.approx(sober.need_at_cover_history[-1])
    assert naive.forecast_market_need(12) == pytest.approx(2000.0 * 4.0)  # doubles twice more


def test_cloud_orders_only_for_its_contracts_after_six_months_below_cost() -> None:

    market = flat_tech_market()
    cover = [costs.full_cost(market.cfg, k) for k in range(7)]
    cloud = make_cloud(market, reserve_margin=0.0, initial_gpus=0.0)
    cloud.need_at_cover_history = [1e6] * 7  # a huge forecast need
    market.set_cash("hyper", 1e15)
    market.contracts.append(CapacityContract("c", "lab-a", "hyper", 100, 2.0, 0, 60, 1.0))
    market.price_history = [0.79 * c for c in cover[:6]]
    market.month, market.spot_price = 5, market.price_history[-1]
    assert cloud.in_glut(5)
    assert cloud.gpus_to_order(5, 6, 0.5, 1000.0) == pytest.approx(100.0)
    market.price_history[0] = 0.81 * cover[0]  # only five months below: not yet a glut
    assert not cloud.in_glut(5)
    for rule in ("stock_adjustment", "expected_return"):
        market.price_history[0] = 0.5 * cover[0]
        cloud = make_cloud(market, reserve_margin=0.0, investment_rule=rule)
        cloud.need_at_cover_history = cloud.market_need_history = [1e6] * 7
        assert cloud.gpus_to_order(5, 6, 0.5, 1000.0) == pytest.approx(100.0)


def test_in_a_glut_a_cloud_builds_no_reserve_margin_over_its_contracts() -> None:
    """Issue 16's glut stop: the reserve margin is capacity built to sell on spot, and spot
    has been below 0.8 × full cost for six months; a cloud with a 70% margin (the telecom
    bust's) orders exactly what its contracts take, net of what it has and has coming, and
    cancels down to the contracts, not to 1.7 × them."""

    market = flat_tech_market()
    cover = [costs.full_cost(market.cfg, k) for k in range(6)]
    market.price_history = [0.5 * c for c in cover]
    market.month, market.spot_price = 5, market.price_history[-1]
    market.set_cash("hyper", 1e15)
    cloud = make_cloud(market, reserve_margin=0.7, initial_gpus=0.0)
    online(cloud, 40, step=2)  # online, not retiring within the horizon
    market.contracts.append(CapacityContract("c", "lab-a", "hyper", 100, 2.0, 0, 60, 1.0))
    market.orders.append(ChipOrder("o", "hyper", "v", 20, 30_000, 4, 10, 16))
    assert cloud.in_glut(5)
    assert cloud.gpus_to_order(5, 6, 0.5, 1000.0) == pytest.approx(100 - 40 - 20)
    market.orders[-1] = ChipOrder("o", "hyper", "v", 120, 30_000, 4, 10, 16)
    assert cloud.gpus_to_cancel(5, 5, 40_000.0) == pytest.approx(40 + 120 - 100)


def test_cloud_cancels_its_excess_pipeline_in_a_glut_when_a_gpu_is_worth_less_than_the_fee() -> (
    None
):

    market = flat_tech_market()
    cover = [costs.full_cost(market.cfg, k) for k in range(6)]
    market.price_history = [0.5 * c for c in cover]  # six months at half the full cost
    market.month, market.spot_price = 5, market.price_history[-1]
    cloud = make_cloud(market, reserve_margin=0.0, initial_gpus=0.0)
    online(cloud, 100)
    market.contracts.append(CapacityContract("c", "lab-a", "hyper", 150, 2.0, 0, 60, 1.0))
    market.orders.append(ChipOrder("o", "hyper", "v", 300, 30_000, 4, 10, 16))
    # contracts need 150: it keeps 100 installed and 50 of the 300 on order
    assert cloud.gpus_to_cancel(5, 5, 40_000.0) == pytest.approx(250.0)
    # worth its cost (q high at a tiny unit cost): it keeps the GPUs and pays no fee
    assert cloud.gpus_to_cancel(5, 5, 1.0) == 0.0
    market.price_history[0] = cover[0]  # not a glut: nothing is cancelled
    assert cloud.gpus_to_cancel(5, 5, 40_000.0) == 0.0


def test_cancelling_an_order_cuts_it_and_bills_the_fee() -> None:
    from sim.books import Books
    from sim.ledger import Flow
    from sim.mechanisms import cancel_orders

    cfg = small_world().with_overrides({"investment.cancellation_fee_share": 0.2})
    books = Books()
    for name in ("hyper", "v"):
        books.open_account(name)
    old = books.place_order(ChipOrder("old", "hyper", "v", 100, 1_000.0, 0, 6, 12))
    new = books.place_order(ChipOrder("new", "hyper", "v", 100, 2_000.0, 3, 9, 15))
    cloud = make_cloud(FakeMarket(cfg=cfg))
    assert cancel_orders(books, cfg, 4, cloud, 150) == pytest.approx(150)
    assert (new.undelivered, old.undelivered) == pytest.approx((0.0, 50.0))  # newest first
    fee = 0.2 * (100 * 2_000.0 + 50 * 1_000.0)
    assert books.obligations.owed_cents("hyper") == round(fee * 100)
    assert {ob.flow for ob in books.obligations.of("hyper")} == {Flow.CANCELLATION_FEE_DUE}


def test_preemption_matches_rivals_pipelines_in_proportion_to_market_share() -> None:
    market = flat_tech_market(**{"investment.preemption_weight": 1.5})
    cloud = make_cloud(market)
    market.orders += [
        ChipOrder("r", "rival", "v", 300, 1.0, 0, 6, 12),
        ChipOrder("o", "hyper", "v", 1000, 1.0, 0, 6, 12),  # its own order does not count
    ]
    assert cloud.preemptive_gpus(0.25) == pytest.approx(1.5 * 0.25 / 0.75 * 300)
    # delivered chips still being built into a rival's data centres are in its pipeline too
    market.building = {"rival": 200.0, "hyper": 5000.0}
    assert cloud.preemptive_gpus(0.25) == pytest.approx(1.5 * 0.25 / 0.75 * (300 + 200))
    assert make_cloud(flat_tech_market()).preemptive_gpus(0.25) == 0.0


def test_cloud_orders_no_more_than_it_can_fund() -> None:
    market = FakeMarket()
    cloud = make_cloud(market, reserve_margin=0.0, other_business_income_usd_per_month=0.0)
    market.contracts.append(CapacityContract("c", "lab-a", "hyper", 10_000, 2.0, 0, 60, 1.0))
    market.set_cash("hyper", 1e9)
    unit = 50_000.0
    wanted = cloud.gpus_to_order(0, 18, 1.0, unit)
    assert wanted == pytest.approx(min(10_000.0, cloud.funding_capacity(0) / unit))
    market.set_cash("hyper", 1e6)  # a million dollars buys 20 GPUs at most
    assert cloud.gpus_to_order(0, 18, 1.0, unit) <= 1e6 / unit + 1e-9


def test_capex_shortfall_is_the_largest_gap_between_bills_due_and_income_so_far() -> None:
    """Hand-computed: $100k of chips and facilities due in month 1, $50k in month 4, $30k of
    other income a month of which it pays nothing out: short by 100 − 30 = $70k in month 1,
    the most; an order of $200k more (due at the 6-month delivery lag) makes it
    350 − 6 × 30 = $170k. Paying out 70% it keeps $9k a month: short by 150 − 4 × 9 = $114k
    in month 4, the most (100 − 9 = 91 in month 1)."""
    market = FakeMarket()  # facility $10,000 per GPU
    market.cfg = market.cfg.with_overrides({"cash.payout_share_hyperscaler": 0.0})
    assert market.cfg.technology.delivery_lag_months == 6
    cloud = make_cloud(market, other_business_income_usd_per_month=30_000.0)
    market.orders += [
        ChipOrder("a", "hyper", "v", 2, 40_000.0, 0, 1, 12),
        ChipOrder("b", "hyper", "v", 1, 40_000.0, 0, 4, 12),
        ChipOrder("r", "rival", "v", 100, 40_000.0, 0, 1, 12),  # a rival's bills are not its
    ]
    assert cloud.capex_shortfall_usd(0) == pytest.approx(70_000.0)
    assert cloud.capex_shortfall_usd(0, 200_000.0) == pytest.approx(170_000.0)
    rich = make_cloud(market, "rich", other_business_income_usd_per_month=1e9)
    assert rich.capex_shortfall_usd(0, 200_000.0) == 0.0
    market.cfg = market.cfg.with_overrides({"cash.payout_share_hyperscaler": 0.7})
    assert cloud.retained_income_usd_per_month() == pytest.approx(9_000.0)
    assert cloud.capex_shortfall_usd(0) == pytest.approx(114_000.0)
    # its other businesses' own capex comes off the income before the payout (0.61.2)
    builder = make_cloud(
        market,
        "builder",
        other_business_income_usd_per_month=30_000.0,
        other_business_capex_usd_per_month=10_000.0,
    )
    assert builder.retained_income_usd_per_month() == pytest.approx(20_000.0 * 0.3)


def test_cloud_keeps_the_cash_its_ordered_capex_needs_from_payout_and_prepayment() -> None:
    """One estimate of the cash its capex needs (capex_shortfall_usd): the payout keeps it
    beside the buffer, and the prepayment counts only the cash beyond it."""
    market = FakeMarket()
    market.cfg = market.cfg.with_overrides({"cash.payout_share_hyperscaler": 0.0})
    cloud = make_cloud(market, other_business_income_usd_per_month=0.0)
    market.set_cash("hyper", 10e9)
    market.debt["hyper"] = 20e9
    market.orders.append(ChipOrder("a", "hyper", "v", 100_000, 40_000.0, 0, 3, 12))
    due = 100_000 * 50_000.0  # $5B of chips and facilities in month 3
    assert cloud.cash_to_keep_usd() == pytest.approx(cloud.cash_buffer_usd(0.0) + due)
    assert cloud.prepayment_wanted(0.10, 0.04, 1.0, 0.0) == pytest.approx(10e9 - due)
    market.orders.append(ChipOrder("b", "hyper", "v", 200_000, 40_000.0, 0, 4, 12))
    assert cloud.prepayment_wanted(0.10, 0.04, 1.0, 0.0) == 0.0  # $15B due, $10B of cash


def test_hyperscaler_borrows_against_its_income_for_the_cash_its_capex_needs() -> None:
    """A bond issuer's unsecured capacity is bonds.max_debt_to_income_years of its yearly
    other income less its debt (2.5 × 12 × $10B − $100B = $200B); it borrows for its capex
    shortfall beyond its undrawn lines, or up to its target cash of
    bonds.target_cash_capex_months of its capex of the last 12 months, whichever is more;
    a neocloud borrows only for its buffer and only against collateral."""
    market = FakeMarket(credit_offered=0.0)
    market.cfg = market.cfg.with_overrides(
        {
            "cash.payout_share_hyperscaler": 0.0,
            "bonds.max_debt_to_income_years": 2.5,
            "bonds.target_cash_capex_months": 10.0,
            "finance.cash_buffer_months": 0.0,
        }
    )
    cloud = make_cloud(market, other_business_income_usd_per_month=10e9)
    assert cloud.issues_bonds
    market.debt["hyper"] = 100e9
    assert cloud.borrowing_headroom(0) == pytest.approx(200e9)
    # $24B of chips and facilities delivered over the last year (two vintages) and one
    # delivered 13 months ago, outside the year: $2B a month, a target of $20B of cash
    cloud.receive_chips(Vintage(-1, 11, 100.0, to_cents(10e9), to_cents(4e9), 0, 0))
    cloud.receive_chips(Vintage(-11, 1, 100.0, to_cents(8e9), to_cents(2e9), 0, 0))
    cloud.receive_chips(Vintage(-13, -1, 100.0, to_cents(50e9), 0, 0, 0))
    assert cloud.capex_rate_usd(0) == pytest.approx(2e9)
    market.set_cash("hyper", 5e9)
    assert cloud.borrowing_wanted(0) == pytest.approx(20e9 - 5e9)
    # $60B due in month 2, $10B of income a month: short by 60 − 20 = $40B, above the target
    market.orders.append(ChipOrder("a", "hyper", "v", 1_200_000, 40_000.0, 0, 2, 12))
    assert cloud.capex_shortfall_usd(0) == pytest.approx(40e9)
    assert cloud.borrowing_wanted(0) == pytest.approx(40e9 - 5e9)
    cloud.commit_credit("bank", 30e9)  # a line it holds covers $30B of it
    assert cloud.borrowing_wanted(0) == pytest.approx(20e9 - 5e9)
    market.debt["hyper"] = 300e9  # at its limit: no more
    assert cloud.borrowing_wanted(0) == 0.0
    off = FakeMarket(credit_offered=0.0)
    off.cfg = market.cfg.with_overrides({"bonds.enabled": False})
    plain = make_cloud(off, other_business_income_usd_per_month=10e9)
    plain.receive_chips(Vintage(-1, 11, 100.0, to_cents(10e9), to_cents(4e9), 0, 0))
    off.set_cash("hyper", 5e9)
    assert not plain.issues_bonds
    assert plain.borrowing_headroom(0) == 0.0  # no collateral, no unsecured credit
    assert plain.borrowing_wanted(0) == 0.0


def test_cloud_counts_committed_credit_and_only_this_months_offer_beside_it() -> None:
    market = FakeMarket(credit_offered=0.0)
    cloud = make_cloud(market, other_business_income_usd_per_month=0.0)
    market.set_cash("hyper", 1e9)
    before = cloud.funding_capacity(0)
    cloud.commit_credit("bank", 5e9)
    assert cloud.funding_capacity(0) - before == pytest.approx(5e9)
    # new credit is counted only up to its headroom beside what is committed
    market.collateral_backlog["hyper"] = 10e9
    headroom = cloud.borrowing_headroom(0)
    market.credit_offered = math.inf
    assert cloud.funding_capacity(0) - before == pytest.approx(max(5e9, headroom))
    assert cloud.funding_capacity(0, new_credit=False) - before == pytest.approx(5e9)


def test_cloud_commits_credit_for_what_its_cash_will_not_pay_and_gives_back_the_rest() -> None:
    market = FakeMarket()
    cloud = make_cloud(market, other_business_income_usd_per_month=0.0)
    market.collateral_backlog["hyper"] = 100e9  # a large borrowing base
    market.set_cash("hyper", 1e9)
    market.orders.append(ChipOrder("a", "hyper", "v", 100_000, 40_000.0, 0, 3, 12))
    due = 100_000 * 50_000.0  # chips and facilities, $5B
    assert cloud.credit_commitment_wanted(0, 0.0) == pytest.approx(due - 1e9)
    assert cloud.credit_commitment_wanted(0, 2e9) == pytest.approx(due + 2e9 - 1e9)
    cloud.commit_credit("bank", 3e9)
    cloud.commit_credit("fund", 3e9)
    assert cloud.credit_commitment_wanted(0, 0.0) == pytest.approx(due - 1e9 - 6e9)  # −$2B
    cloud.release_credit(2e9)
    assert cloud.committed_credit == pytest.approx({"bank": 2e9, "fund": 2e9})
    cloud.draw_credit("bank", 2e9)
    assert cloud.committed_credit == pytest.approx({"fund": 2e9})
    # never beyond what its collateral supports beside what it holds
    market.collateral_backlog["hyper"] = 0.0
    assert cloud.credit_commitment_wanted(0, 50e9) <= 0.0


def test_a_bond_issuer_without_project_finance_arranges_no_delayed_draw_credit() -> None:
    """``CloudSpec.project_finance`` false: the same hyperscaler, short of cash for the same
    order, commits no project credit and gives back any line it holds (it funds capex with
    bonds, :meth:`Cloud.borrowing_wanted`); true: it commits what its cash will not pay."""
    market = FakeMarket()
    market.collateral_backlog["hyper"] = 100e9
    market.set_cash("hyper", 1e9)
    market.orders.append(ChipOrder("a", "hyper", "v", 100_000, 40_000.0, 0, 3, 12))
    assert market.cfg.bonds.enabled
    with_pf = make_cloud(market, other_business_income_usd_per_month=0.0)
    assert with_pf.issues_bonds and with_pf.credit_commitment_wanted(0, 0.0) > 0.0
    without = make_cloud(market, other_business_income_usd_per_month=0.0, project_finance=False)
    assert without.credit_commitment_wanted(0, 0.0) == 0.0
    without.commit_credit("bank", 3e9)
    assert without.credit_commitment_wanted(0, 0.0) == pytest.approx(-3e9)  # gives it back


def test_cloud_borrows_its_shortfall_up_to_its_headroom() -> None:
    market = FakeMarket()
    market.cfg = market.cfg.with_overrides({"bonds.enabled": False})  # collateral only
    cloud = make_cloud(market)
    market.arrears["hyper"] = 5e9
    market.set_cash("hyper", 1e9)
    market.backlog["hyper"] = 1e9
    fin = market.cfg.finance
    assert cloud.borrowing_wanted(0) == pytest.approx(fin.max_loan_to_backlog * 1e9)
    market.debt["hyper"] = 1e12  # already far over its limit
    assert cloud.borrowing_wanted(0) == 0.0


def test_cloud_picks_the_lenders_with_the_largest_budgets() -> None:
    market = FakeMarket()
    cloud = make_cloud(market)
    spec = market.cfg.investors[1]
    lenders = [Investor(market.model, market, n, spec) for n in ("x", "y", "z", "w")]
    for name, cash in zip("xyzw", (1e9, 4e9, 2e9, 1.0), strict=True):
        market.set_cash(name, cash)
    syndicate = cloud.choose_syndicate(lenders, 1.0)
    size = market.cfg.finance.syndicate_size
    assert [i.name for i, _ in syndicate] == ["y", "z", "x"][:size]
    assert all(offer >= 1.0 for _, offer in syndicate)


def test_cloud_depreciates_straight_line_and_bids_only_with_cash() -> None:
    market = FakeMarket()
    cloud = make_cloud(market)
    life = market.cfg.technology.chip_life_months
    online(cloud, 10, step=0, cents=life * 100)
    assert cloud.depreciate(0) == 100  # a life-th of the chip cost
    assert cloud.fleet[0].chip_book_cents == (life - 1) * 100
    market.set_cash("hyper", 5.0)
    assert cloud.bid_for_fleet(5.0) and not cloud.bid_for_fleet(5.01)


def test_depreciation_follows_a_cost_written_into_a_vintage() -> None:
    """A vintage's monthly charges are kept between months, and a cost written into it
    changes them: after a facility bill paid (its facility cost and book raised, as Books
    does) the next month charges a facility life-th of the new cost too, and after a fire
    sale's new chip cost a chip life-th of that, as a fresh computation does."""
    market = FakeMarket()
    cloud = make_cloud(market)
    tech = market.cfg.technology
    life, facility_life = tech.chip_life_months, tech.facility_life_months
    online(cloud, 10, step=0, cents=life * 100)
    assert cloud.depreciate(0) == 100
    vintage = cloud.fleet[0]
    paid = facility_life * 300 + 1  # rounded up: 301 cents a month
    vintage.facility_cost_cents += paid
    vintage.facility_book_cents += paid
    assert cloud.depreciate(1) == 100 + 301
    assert vintage.facility_book_cents == paid - 301
    assert vintage.monthly_charges(tech) == (100, 301)
    vintage.chip_cost_cents = vintage.chip_book_cents = life * 50  # as a fire sale resets it
    assert vintage.monthly_charges(tech) == (50, 301)
    assert cloud.depreciate(2) == 50 + 301


def test_impairment_writes_a_vintage_down_to_its_value_in_use() -> None:
    """IAS 36 by hand: with a flat price and no contracts, a GPU's value in use is its
    margin (spot − cash operating cost) × hours, discounted month by month at the cost of
    capital over the months it has left. A vintage booked above that value is written down
    to it, chips first; one booked below is left alone; one not yet online has its whole
    life ahead of it."""
    market = FakeMarket(spot_price=2.0, price_history=[2.0] * 13)
    tech, hours = market.cfg.technology, market.cfg.market.hours_per_month
    life, opex = tech.chip_life_months, tech.operating_cost_usd_per_gpu_hour
    cloud = make_cloud(market)

    def value_cents(gpus: float, months: int) -> int:
        per_gpu = sum(
            (2.0 - opex) * hours * (1 + tech.cost_of_capital_per_year) ** (-k / 12)
            for k in range(1, months + 1)
        )
        return round(gpus * per_gpu * 100)

    step, gpus = 10, 4.0
    rich = value_cents(gpus, life - 10)  # online at month 0: life − 10 months left
    cloud.receive_chips(Vintage(0, 0, gpus, 10**9, 10**9, rich + 500, 700))  # above value
    cloud.receive_chips(Vintage(0, 0, gpus, 10**9, 10**9, rich - 900, 0))  # below value
    cloud.receive_chips(Vintage(9, 12, gpus, 10**9, 10**9, 10**9, 0))  # whole life ahead
    assert value_cents(gpus, life) < 10**9
    written = cloud.impair(step)
    above, below, ahead = cloud.fleet
    # within a cent of the hand's sum (numpy adds the months in its own order)
    assert abs(above.book_cents - rich) <= 1 and above.facility_book_cents == 700
    assert below.book_cents == rich - 900
    assert abs(ahead.book_cents - value_cents(gpus, life)) <= 1
    assert written == (rich + 1200 - above.book_cents) + (10**9 - ahead.book_cents)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["receive", "depreciate", "retire"]),
            st.integers(0, 8),  # months to move on
            st.floats(0.0, 50.0),  # GPUs of a vintage received
            st.integers(0, 10**7),  # its chip and facility costs, cents
            st.booleans(),  # values the fleet after this step (or goes straight on)
        ),
        min_size=1,
        max_size=25,
    ),
    st.floats(0.5, 4.0),
)
def test_impairment_values_the_fleet_as_it_is_now(
    steps: list[tuple[str, int, float, int, bool]], spot: float
) -> None:
    """Impairment keeps the vintages it values between months (their online months and
    GPUs as arrays, which the GPUs installed, being built and retiring are also summed
    from): after chips received, vintages retired (their GPUs gone) or dropped (nothing
    left on the books), it values the fleet as it is — the same write-downs as a cloud that
    never valued a fleet before, given copies of the same vintages — and those sums of GPUs
    are a new scan's."""
    market = FakeMarket(spot_price=spot, price_history=[spot * 1.02, spot])
    life = market.cfg.technology.chip_life_months
    cloud = make_cloud(market)
    month = 0
    for action, later, gpus, cents, ask in steps:
        month += later
        if action == "receive":
            online_at = month + later
            cloud.receive_chips(Vintage(month, online_at, gpus, cents, cents, cents, cents))
        elif action == "depreciate":
            cloud.depreciate(month)
        else:  # a life later: the vintages online by now retire
            month += life
            cloud.depreciate(month)
        if not ask:
            continue
        fresh = make_cloud(market, name="fresh")
        fresh.fleet = [Vintage(*(getattr(v, f) for f in Vintage._FIELDS)) for v in cloud.fleet]
        for when in range(month, month + 10):  # the kept vintages count the GPUs installed
            assert cloud.installed_gpus(when) == sum(
                [v.gpus for v in cloud.fleet if when >= v.online_step and v.gpus > 0]
            )
            # ... being built (no orders here) and retiring within 6 months, as scans add them
            assert cloud.pipeline_gpus(when) == sum(
                [v.gpus for v in cloud.fleet if v.online_step > when]
            )
            assert cloud.retiring_gpus(when, 6) == sum(
                [v.gpus for v in cloud.fleet if v.online_step + life <= when + 6]
            )
        assert cloud.impair(month) == fresh.impair(month)
        assert [v.book_cents for v in cloud.fleet] == [v.book_cents for v in fresh.fleet]


# --- ChipVendor ------------------------------------------------------------------------
def test_vendor_output_grows_no_faster_than_its_ceiling_allows() -> None:
    """The ceiling, in H100-equivalent units, grows at most as packaging capacity (wafers)
    compounded with the compute a wafer yields: 1.037 × 1.4^(1/12) = 1.06649 a month with
    the defaults (1.4× a year: CALIBRATION's compute per dollar)."""
    market = FakeMarket()
    spec = market.cfg.chip_vendors[0].model_copy(
        update={"capacity_lag_months": 0, "ceiling_growth_per_month": 0.037}
    )
    assert market.cfg.technology.compute_per_dollar_growth_per_year == 1.4
    vendor = ChipVendor(market.model, market, "vendor", spec, 1.0)
    before = vendor.ceiling
    vendor.plan_output(1e12)
    assert vendor.ceiling == pytest.approx(before * 1.037 * 1.4 ** (1 / 12))
    assert vendor.ceiling == pytest.approx(before * 1.066488, rel=1e-6)
    vendor.plan_output(0.0)
    assert vendor.ceiling < before * 1.037 * 1.4 ** (1 / 12)
    assert vendor.ceiling >= vendor.initial_ceiling * 0.1


def test_vendor_delivers_due_orders_first_come_first_served() -> None:
    market = FakeMarket()
    vendor = ChipVendor(market.model, market, "vendor", market.cfg.chip_vendors[0], 1.0)
    vendor.ceiling = 150.0
    late = ChipOrder("b", "hyper", "vendor", 100, 1.0, 2, 4, 10)
    early = ChipOrder("a", "neo", "vendor", 100, 1.0, 1, 4, 10)
    future = ChipOrder("c", "neo", "vendor", 100, 1.0, 3, 9, 10)
    plan = vendor.schedule_deliveries(4, [late, future, early])
    assert [(o.id, u) for o, u in plan] == [("a", 100), ("b", 50)]


def test_vendor_capacity_changes_take_effect_after_the_capacity_lag() -> None:
    market = FakeMarket()
    spec = market.cfg.chip_vendors[0].model_copy(
        update={"capacity_lag_months": 3, "ceiling_growth_per_month": 0.05}
    )
    vendor = ChipVendor(market.model, market, "vendor", spec, 1.0)
    start = vendor.ceiling
    grown = []
    for _ in range(4):
        vendor.plan_output(0.0)  # a collapse of orders: decide to idle capacity
        grown.append(vendor.ceiling)
    # the three expansions already under way still arrive, each the unit growth (5% more
    # wafers, each yielding 1.4^(1/12) more compute) of the opening ceiling
    step = 1.05 * 1.4 ** (1 / 12) - 1
    assert grown[:3] == pytest.approx([start * (1 + step * k) for k in (1, 2, 3)])
    assert grown[3] < grown[2]  # the first cut arrives three months after it was decided


def test_vendor_price_rises_with_its_queue_and_falls_with_idle_capacity() -> None:
    market = FakeMarket()
    spec = market.cfg.chip_vendors[0].model_copy(
        update={
            "queue_price_sensitivity": 0.1,
            "idle_price_sensitivity": 0.5,
            "normal_lead_months": 6.0,
            "max_price_premium": 0.5,
            "price_adjustment_per_month": 1.0,
        }
    )
    vendor = ChipVendor(market.model, market, "vendor", spec, 1.0)
    vendor.ceiling = 100.0
    vendor.delivered_units = 100.0  # ran at full output
    market.orders = [ChipOrder("a", "neo", "vendor", 900, 1.0, 0, 6, 12)]  # 9 months queued
    vendor.set_price()
    assert vendor.premium == pytest.approx(0.1 * (9 - 6))
    assert vendor.unit_price(0) == pytest.approx(spec.unit_price_usd * 1.3)
    market.orders = []
    vendor.delivered_units = 40.0  # 60% idle, no queue
    vendor.set_price()
    expected = max(-0.5 * spec.gross_margin, 0.1 * (0 - 6) - 0.5 * 0.6)
    assert vendor.premium == pytest.approx(expected)
    assert vendor.unit_price(0) < vendor.path_price(0)


def test_vendor_books_orders_only_up_to_its_longest_lead_time_pro_rata() -> None:
    market = FakeMarket()
    spec = market.cfg.chip_vendors[0].model_copy(update={"max_lead_months": 10.0})
    vendor = ChipVendor(market.model, market, "vendor", spec, 1.0)
    vendor.ceiling = 100.0
    market.orders = [ChipOrder("a", "neo", "vendor", 700, 1.0, 0, 6, 12)]
    booked = vendor.accept_orders({"hyper": 450.0, "neo": 150.0})  # room for 300
    assert booked == pytest.approx({"hyper": 225.0, "neo": 75.0})
    assert vendor.accept_orders({"hyper": 100.0}) == pytest.approx({"hyper": 100.0})


def test_vendor_shares_scarce_output_pro_rata_when_told() -> None:
    market = FakeMarket()
    spec = market.cfg.chip_vendors[0].model_copy(update={"allocation_rule": "pro_rata"})
    vendor = ChipVendor(market.model, market, "vendor", spec, 1.0)
    vendor.ceiling = 150.0
    late = ChipOrder("b", "hyper", "vendor", 200, 1.0, 2, 4, 10)
    early = ChipOrder("a", "neo", "vendor", 100, 1.0, 1, 4, 10)
    future = ChipOrder("c", "neo", "vendor", 100, 1.0, 3, 9, 10)
    plan = vendor.schedule_deliveries(4, [late, future, early])
    assert {o.id: u for o, u in plan} == pytest.approx({"a": 50.0, "b": 100.0})


# --- Investor --------------------------------------------------------------------------
def test_investor_appetite_falls_with_sentiment_and_spreads_widen() -> None:
    market = FakeMarket()
    spec = market.cfg.investors[0].model_copy(update={"sentiment_sensitivity": 2.0})
    investor = Investor(market.model, market, "vc", spec)
    market.set_cash("vc", 1e9)
    assert investor.equity_budget(0.5) == pytest.approx(investor.equity_budget(1.0) * 0.25)
    investor.record_investment(investor.equity_budget(1.0))
    assert investor.equity_budget(1.0) == 0.0
    investor.start_month()
    assert investor.equity_budget(1.0) > 0
    spread = market.cfg.finance.stress_spread_per_sentiment
    assert investor.loan_rate(0.06, 1.0) == 0.06
    assert investor.loan_rate(0.06, 0.5) == pytest.approx(0.06 + 0.5 * spread)


def test_agents_read_their_books_through_the_view() -> None:
    market = FakeMarket()
    lab = make_lab(market)
    market.balances[("lab-a", Line.CASH)] = 7.0
    market.equity["lab-a"] = -3.0
    lab.record_service(1.0, 1.0, 1.0, revenue_usd=1e8)  # earning, no costs: worth something
    assert lab.cash == 7.0 and lab.equity == -3.0 and lab.market_value() > 0
    lab.record_default(5)
    assert lab.defaulted and lab.market_value() == 0.0


# --- commitments and buy-or-build (issue 16) -------------------------------------------------
def test_commitment_value_is_the_discounted_take_or_pay_margin_less_the_capital_used() -> None:
    market = flat_tech_market(**{"market.take_or_pay_share": 1.0})
    cloud = make_cloud(market)
    hours = market.cfg.market.hours_per_month
    # 100 GPUs at $2/h for 6 of their 12 months of life, $0.3/h to run, $10k each
    profit, exposure = cloud.commitment_value(100, 2.0, 0, 6, 0, 10_000.0)
    assert exposure == pytest.approx(1e6)
    assert profit == pytest.approx(100 * 6 * (2.0 - 0.3) * hours - 1e6 * 6 / 12)


def test_cloud_signs_a_commitment_only_if_profit_beats_the_expected_loss_within_its_limit() -> None:
    market = flat_tech_market(**{"market.take_or_pay_share": 1.0})
    cloud = make_cloud(market, other_business_income_usd_per_month=0.0)
    market.set_cash("hyper", 1e9)
    hours = market.cfg.market.hours_per_month
    inv = market.cfg.investment
    gpus, price, term, unit = 1000.0, 2.0, 12, 10_000.0
    value = gpus * price * hours * term
    profit, exposure = cloud.commitment_value(gpus, price, 0, term, 0, unit)
    assert profit > 0
    # the break-even default probability: profit = PD × LGD × exposure
    breakeven = profit / (inv.exposure_loss_given_default * exposure)
    assert cloud.accepts_commitment(0.9 * breakeven, value, gpus, price, 0, term, 0, unit)
    assert not cloud.accepts_commitment(1.1 * breakeven, value, gpus, price, 0, term, 0, unit)
    # a profitable deal from a safe buyer is still refused beyond the risk limit
    tight = flat_tech_market(
        **{"market.take_or_pay_share": 1.0, "investment.exposure_limit_to_funding": 0.0}
    )
    tight.set_cash("hyper", 1e9)
    assert not make_cloud(tight).accepts_commitment(0.0, value, gpus, price, 0, term, 0, unit)


def test_a_clouds_default_probability_is_read_from_its_spread_a_labs_is_the_parameter() -> None:
    market = FakeMarket()
    inv = market.cfg.investment
    seller = make_cloud(market, "neo")
    buyer = make_cloud(market, "hyper", interest_rate_per_year=inv.risk_free_rate_per_year + 0.012)
    assert seller.buyer_default_probability(buyer) == pytest.approx(
        0.012 / inv.exposure_loss_given_default
    )
    lab = make_lab(market)
    assert seller.buyer_default_probability(lab) == inv.buyer_default_probability_per_year


def test_a_hyperscaler_buys_what_it_cannot_build_less_what_it_already_buys() -> None:
    market = FakeMarket()
    hyper = make_cloud(market, "hyper", archetype="hyperscaler")
    neo = make_cloud(market, "neo", archetype="neocloud")
    assert hyper.overflow_wanted(0, 6, 5000.0) == pytest.approx(5000.0)
    assert neo.overflow_wanted(0, 6, 5000.0) == 0.0  # a neocloud builds or goes without
    # 2,000 GPUs already bought for months 3..: they cover part of the shortfall at the horizon
    market.contracts.append(CapacityContract("o", "hyper", "neo", 2000, 2.0, 3, 24, 1.0))
    assert hyper.overflow_wanted(0, 6, 5000.0) == pytest.approx(3000.0)
    off = FakeMarket(cfg=small_world(**{"investment.overflow_buying": False}))
    assert make_cloud(off, "hyper", archetype="hyperscaler").overflow_wanted(0, 6, 5e3) == 0.0


def test_a_cloud_orders_from_the_suppliers_it_knows_one_per_product_line() -> None:
    """Of each product line (copies of one vendor spec) a cloud knows the vendor at its own
    place in the creation order; buyers share a line's vendors evenly, and the order splits
    over the lines by order share (K+S: firms buy from the suppliers they know)."""
    market = FakeMarket()
    lead = market.cfg.chip_vendors[0].model_copy(update={"name": "lead", "order_share": 0.8})
    second = lead.model_copy(update={"name": "second", "order_share": 0.2})
    lines = [
        [ChipVendor(market.model, market, f"lead-{k}", lead, 1 / 3) for k in range(3)],
        [ChipVendor(market.model, market, "second", second, 1.0)],
    ]
    clouds = [make_cloud(market, f"c{k}") for k in range(6)]
    known = [[v.name for v in c.suppliers(lines)] for c in clouds]
    assert all(len(names) == 2 and names[1] == "second" for names in known)
    leaders = [names[0] for names in known]
    assert sorted(leaders) == ["lead-0", "lead-0", "lead-1", "lead-1", "lead-2", "lead-2"]
    assert leaders[0] != leaders[1] != leaders[2] != leaders[0]  # neighbours differ
    split = clouds[0].split_order(1000.0, clouds[0].suppliers(lines))
    assert split == {leaders[0]: pytest.approx(800.0), "second": pytest.approx(200.0)}
    # knowing two per line: both of a line's vendors share the line's order share
    two = FakeMarket(cfg=small_world(**{"sourcing.suppliers_per_line": 2}))
    cloud = Cloud(two.model, two, "c", clouds[0].spec)
    chosen = cloud.suppliers(lines)
    assert [v.spec.name for v in chosen] == ["lead", "lead", "second"]
    assert sum(cloud.split_order(900.0, chosen).values()) == pytest.approx(900.0)
    # in a line of one vendor every cloud knows it: the default world's sourcing is unchanged
    assert all(c.suppliers([lines[1]]) == lines[1] for c in clouds)


def test_a_lab_exercises_a_vested_warrant_in_the_money_if_cash_covers_the_strike() -> None:
    market = FakeMarket()
    lab = make_lab(market)
    market.set_cash(lab.name, 1e6)
    assert lab.exercises_warrant(1000.0, 50.0, 0.01) == 1000.0
    assert lab.exercises_warrant(1000.0, 0.005, 0.01) == 0.0  # out of the money
    assert lab.exercises_warrant(0.0, 50.0, 0.01) == 0.0
    market.set_cash(lab.name, 5.0)  # the strike, $10, is more than its cash
    assert lab.exercises_warrant(1000.0, 50.0, 0.01) == 0.0


def test_hyperscalers_own_workloads_follow_their_other_business_not_their_fleet() -> None:
    """With outside.own_workloads_by_income a hyperscaler's weight in the own workloads is
    its other businesses' monthly income, however many GPUs it installs (for a lab's
    contract, say); without it, its installed GPUs."""
    market = FakeMarket()
    cloud = make_cloud(market, other_business_income_usd_per_month=1e9)
    online(cloud, 5_000.0)
    assert market.cfg.outside.own_workloads_by_income
    assert cloud.own_workload_weight(0) == pytest.approx(1e9)
    online(cloud, 50_000.0)
    assert cloud.own_workload_weight(0) == pytest.approx(1e9)
    market.cfg = market.cfg.with_overrides({"outside.own_workloads_by_income": False})
    assert cloud.own_workload_weight(0) == pytest.approx(55_000.0)


_shortfall_float = st.one_of(
    st.floats(-1e12, 1e12, allow_nan=False),
    st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan]),
)


@settings(max_examples=400, deadline=None)
@given(
    due=st.lists(_shortfall_float, min_size=1, max_size=13),
    order_usd=_shortfall_float,
    income=_shortfall_float,
)
def test_largest_shortfall_is_numpys_cumulative_sum_maximum(
    due: list[float], order_usd: float, income: float
) -> None:
    """The capex shortfall's loop gives the very double of the numpy expression it replaced
    (cumulative sum of what falls due, the new order in the last month, less income × k, at
    least 0), NaN and infinities included."""
    from sim.agents.cloud import _largest_shortfall

    arr = np.array(due, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        arr[-1] += order_usd
        expected = max(0.0, float((arr.cumsum() - income * np.arange(len(due))).max()))
    got = _largest_shortfall(due, order_usd, income)
    assert math.copysign(1.0, got) == math.copysign(1.0, expected)
    assert got == expected or (math.isnan(got) and math.isnan(expected))


_fleet_event = st.one_of(
    st.tuples(
        st.just("deliver"),
        st.integers(-80, 12),  # online month
        st.sampled_from([0.0, 1.625, 3221225472.0, 1.1275702593849246e-17, 914793674309632.0]),
        st.integers(0, 10**12),  # chip cost, cents
    ),
    st.tuples(st.just("depreciate")),
    st.tuples(st.just("ask"), st.integers(-5, 20)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_fleet_event, max_size=30), st.integers(-5, 5))
def test_installed_gpus_kept_between_changes_equal_a_new_sum(events, first: int) -> None:
    """installed_gpus keeps its answers while deliveries online later and months without
    a retirement leave them true: after any deliveries, depreciations (GPUs retiring at
    the end of their life) and questions, every answer is sum() of the fleet's GPUs online
    that month, in fleet order, as a new scan gives it."""
    market = FakeMarket()
    cloud = make_cloud(market)
    step = first

    def scan(month: int) -> float:
        return sum([v.gpus for v in cloud.fleet if month >= v.online_step and v.gpus > 0])

    for event in events:
        if event[0] == "deliver":
            _, online_step, gpus, cents = event
            cloud.receive_chips(Vintage(step, online_step, gpus, cents, 0, cents, 0))
        elif event[0] == "depreciate":
            cloud.depreciate(step)
            step += 1
        else:
            cloud.installed_gpus(step + event[1])
        for month in range(step - 5, step + 21):
            assert cloud.installed_gpus(month) == scan(month)


def test_full_cost_path_is_kept_per_scenario_object_and_read_only() -> None:
    """Every cloud asks for the same cost path each month: the answer is kept for that
    scenario object, month and length (the very array again, which nobody can write), and a
    scenario with other technology gets its own (the same values as a fresh computation)."""
    cfg = small_world()
    path = costs.full_cost_path(cfg, 5, 72)
    assert costs.full_cost_path(cfg, 5, 72) is path
    assert not path.flags.writeable
    faster = cfg.model_copy(
        update={
            "technology": cfg.technology.model_copy(
                update={"compute_per_dollar_growth_per_year": 2.0}
            )
        }
    )
    other = costs.full_cost_path(faster, 5, 72)
    assert other is not path and other[-1] < path[-1]
    now = costs.full_cost(faster, 5)
    operating = faster.technology.operating_cost_usd_per_gpu_hour
    months = np.arange(1, 73)
    assert (
        other.tolist() == (((now - operating) * 2.0 ** (-months / 12.0) + operating) / now).tolist()
    )
