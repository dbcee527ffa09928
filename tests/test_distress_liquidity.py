"""Issue 13/14 liquidity (dist7): cash held against debt, committed lines, illiquid defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.agents import Cloud, Vintage
from sim.config import load_scenario
from sim.ensemble import derive_seeds
from sim.instruments import ChipOrder
from sim.phases.resolve import REVOLVER_DRAW
from sim.runner import run_model

from .fakes import FakeMarket

ROOT = Path(__file__).resolve().parent.parent


def make_cloud(market: FakeMarket, name: str = "hyper", **spec: object) -> Cloud:
    cloud_spec = market.cfg.clouds[0].model_copy(update=spec)
    return Cloud(market.model, market, name, cloud_spec)


def test_committed_credit_frees_the_cash_held_for_capex_to_repay_debt() -> None:
    """Hand-computed: $10B of cash, $20B of 10% debt, $15B of chips and facilities due in
    months 3-4 and no income. Without a committed line it keeps all $10B for the bills
    (their $15B exceed its cash): no prepayment. With $12B committed to be drawn on
    delivery it needs only 15 − 12 = $3B of its own cash and repays the other $7B; with
    $15B or more committed it needs none and repays all $10B."""
    market = FakeMarket()  # facility $10,000 per GPU
    market.cfg = market.cfg.with_overrides({"cash.payout_share_hyperscaler": 0.0})
    cloud = make_cloud(market, other_business_income_usd_per_month=0.0)
    market.set_cash("hyper", 10e9)
    market.debt["hyper"] = 20e9
    market.orders += [
        ChipOrder("a", "hyper", "v", 100_000, 40_000.0, 0, 3, 12),
        ChipOrder("b", "hyper", "v", 200_000, 40_000.0, 0, 4, 12),
    ]
    assert cloud.capex_shortfall_usd(0) == pytest.approx(15e9)
    assert cloud.capex_cash_needed_usd(0) == pytest.approx(15e9)
    assert cloud.prepayment_wanted(0.10, 0.04, 1.0, 0.0) == 0.0
    cloud.commit_credit("bank", 12e9)
    assert cloud.capex_cash_needed_usd(0) == pytest.approx(3e9)
    assert cloud.prepayment_wanted(0.10, 0.04, 1.0, 0.0) == pytest.approx(7e9)
    assert cloud.prepayment_wanted(0.10, 0.04, 0.5, 0.0) == pytest.approx(3.5e9)
    cloud.commit_credit("fund", 8e9)
    assert cloud.capex_cash_needed_usd(0) == 0.0
    assert cloud.prepayment_wanted(0.10, 0.04, 1.0, 0.0) == pytest.approx(10e9)
    # cash that earns more than the debt costs is kept whatever the line
    assert cloud.prepayment_wanted(0.03, 0.04, 1.0, 0.0) == 0.0


def test_revolver_draw_covers_the_shortfall_within_its_limit_and_the_base() -> None:
    """Hand-computed: $100 a month of cash costs, a limit of 3 months ($300); with $50 of
    cash and $200 of bills it draws 200 − 50 = $150; with $200 already drawn only the $100
    left of the limit; with $80 of borrowing headroom $80. No draw when cash covers the
    bills, for a lease vehicle, or with the revolver switched off."""
    market = FakeMarket()
    cloud = make_cloud(market, "neo", archetype="neocloud")
    cloud.record_costs(100.0)
    market.set_cash("neo", 50.0)
    assert market.cfg.revolver.limit_months_of_costs == 3.0
    assert cloud.revolver_draw_wanted(200.0, 0.0, 1e9) == pytest.approx(150.0)
    assert cloud.revolver_draw_wanted(200.0, 200.0, 1e9) == pytest.approx(100.0)
    assert cloud.revolver_draw_wanted(200.0, 0.0, 80.0) == pytest.approx(80.0)
    assert cloud.revolver_draw_wanted(40.0, 0.0, 1e9) == 0.0
    assert cloud.revolver_draw_wanted(200.0, 400.0, 1e9) == 0.0
    vehicle = make_cloud(market, "lv", archetype="lease_vehicle")
    vehicle.record_costs(100.0)
    assert vehicle.revolver_draw_wanted(200.0, 0.0, 1e9) == 0.0
    market.cfg = market.cfg.with_overrides({"revolver.enabled": False})
    assert cloud.revolver_draw_wanted(200.0, 0.0, 1e9) == 0.0


BUST_SEEDS = derive_seeds(14, 5)  # experiments/valuations.py's telecom-bust seeds


@pytest.mark.xfail(
    reason="MODEL_VERSION 0.64 (the calibrated world; cause not traced): in none of "
    "derive_seeds(14, 12) of this world, nor with a zero cash "
    "buffer, a 60-70k vendor-second ceiling or lender appetites of 0.02-0.03, does a solvent "
    "neocloud run short of cash in the first 15-23 months, so there is no case for the "
    "revolver to rescue; the rule itself is tested by "
    "test_revolver_draw_covers_the_shortfall_within_its_limit_and_the_base",
    strict=True,
)
def test_a_solvent_neocloud_draws_its_revolver_instead_of_missing_a_payment() -> None:
    """The telecom bust, valuations seed 3 (MODEL_VERSION 0.46.2): small neoclouds with
    about $3.7B of book equity each missed a payment in month 14, long before the bust
    (month 30): their lenders' month budgets were spent by larger borrowers, so nobody lent
    them their cash buffer for months and a month's bills came to a few $M more than their
    cash. With the committed revolver they draw what they are short of and nobody defaults
    in the first 15 months; without it they default illiquid (a missed payment, not
    insolvency found in clearing). From MODEL_VERSION 0.50.0 lenders ration the month's
    requests together and the small neoclouds get their buffer; the case is kept with
    lenders that serve borrowers in visiting order (``credit_rationing.rule`` first_come).
    At MODEL_VERSION 0.60.1 (labs10: the labs' costs and network effects) valuations seed 3
    had no early default without the revolver; seed 2 had one, a missed payment in month 14,
    and drew the revolver instead with it, so the test uses seed 2. From MODEL_VERSION
    0.61.1 vendor-second's opening ceiling is 42k a month (fitted to AMD's 2025 revenue) and
    no small neocloud runs short in the first 15 months of any of the 12 seeds
    ``derive_seeds(14, 12)``; the case is kept with the earlier 50k ceiling (at 0.63, with
    both changes, seeds 2 and 6 of ``derive_seeds(14, 8)`` show it)."""
    scenario = load_scenario(ROOT / "sim" / "scenarios" / "telecom_bust.toml").with_overrides(
        {
            "credit_rationing.rule": "first_come",
            "chip_vendors.vendor-second.production_ceiling_units_per_month": 50_000,
        }
    )
    off = run_model(scenario.with_overrides({"revolver.enabled": False}), BUST_SEEDS[1], 15)
    early = [e for e in off.events if str(e["event"]).startswith("default")]
    assert early and {e["event"] for e in early} == {"default_illiquid"}
    assert {e["instrument"] for e in early} == {"missed_payment"}
    on = run_model(scenario, BUST_SEEDS[1], 15)
    assert not [e for e in on.events if str(e["event"]).startswith("default")]
    draws = [e for e in on.events if e["event"] == REVOLVER_DRAW]
    assert draws and all(float(e["amount_lost"]) > 0 for e in draws)
    assert {str(e["defaulter"]) for e in draws} >= {str(e["defaulter"]) for e in early}


def test_a_delivery_draw_covers_the_bills_to_the_cent() -> None:
    """The telecom bust, valuations seed 4, no revolver: until MODEL_VERSION 0.46.2 a small
    neocloud defaulted in month 13 with $0.05 unpaid, its committed credit drawn in parts
    rounded to the nearest cent (phases.settle.draw_committed_credit now rounds each part
    up). No default in its first 14 months."""
    scenario = load_scenario(ROOT / "sim" / "scenarios" / "telecom_bust.toml")
    world = run_model(scenario.with_overrides({"revolver.enabled": False}), BUST_SEEDS[3], 14)
    assert not [e for e in world.events if str(e["event"]).startswith("default")]


def test_a_hyperscaler_pays_out_part_of_its_cash_beyond_its_target() -> None:
    """Hand-computed: $12B of chips delivered in the last 12 months is $1B a month of capex,
    and a target of bonds.target_cash_capex_months (11) of it: $11B. With $21B of cash it
    returns cash.excess_cash_payout_share (0.1) of the $10B beyond: $1B; after a $2B payout
    of profit, 0.1 of the $8B left beyond: $0.8B. Nothing at or below the target, and
    nothing for a neocloud."""
    market = FakeMarket()
    assert market.cfg.bonds.target_cash_capex_months == 11.0
    assert market.cfg.cash.excess_cash_payout_share == 0.1
    cloud = make_cloud(market, other_business_income_usd_per_month=0.0)
    cloud.receive_chips(Vintage(0, 0, 1000.0, 12 * 10**11, 0, 12 * 10**11, 0))
    assert cloud.capex_rate_usd(0) == pytest.approx(1e9)
    market.set_cash("hyper", 21e9)
    market.equity["hyper"] = 30e9
    assert cloud.excess_cash_payout_usd(0, 0.0) == pytest.approx(1e9)
    assert cloud.excess_cash_payout_usd(0, 2e9) == pytest.approx(0.8e9)
    market.set_cash("hyper", 11e9)
    assert cloud.excess_cash_payout_usd(0, 0.0) == 0.0
    market.set_cash("hyper", 21e9)
    market.equity["hyper"] = -1.0  # no payout without positive equity
    assert cloud.excess_cash_payout_usd(0, 0.0) == 0.0
    market.equity["hyper"] = 2.5e9  # nor beyond its book equity, with what it paid: $0.5B
    assert cloud.excess_cash_payout_usd(0, 2e9) == pytest.approx(0.5e9)
    neo = make_cloud(market, "neo", archetype="neocloud")
    neo.receive_chips(Vintage(0, 0, 1000.0, 12 * 10**11, 0, 12 * 10**11, 0))
    market.set_cash("neo", 21e9)
    market.equity["neo"] = 30e9
    assert neo.excess_cash_payout_usd(0, 0.0) == 0.0
