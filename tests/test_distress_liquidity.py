"""Issue 13/14 liquidity (dist7): cash held against debt, committed lines, illiquid defaults."""

from __future__ import annotations

import pytest

from sim.agents import Cloud
from sim.instruments import ChipOrder

from .fakes import FakeMarket


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
