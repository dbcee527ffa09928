"""Listed firms' market capitalisations (issue 14, item 3): earnings before payouts, a
vendor's growth read from trailing revenue and its order book counted as backlog."""

from __future__ import annotations

import pytest

from sim.agents import ChipVendor
from sim.model import ComputeMarket
from sim.phases.markets import order_book_usd, volume_of
from sim.runner import run_model

from .conftest import small_world


def _vendor_earnings(payout_share: float) -> float:
    """The small world's vendor: its trailing twelve months of earnings as the market
    reads them after 14 months, USD."""
    world = run_model(small_world(**{"cash.payout_share_vendor": payout_share}), 1, 14)
    vendor = next(a for a in world.all_agents if isinstance(a, ChipVendor))
    return sum(world.capital.earnings[vendor.name])


def test_a_payout_is_not_a_loss_to_the_market() -> None:
    """A dividend or buyback lowers retained earnings, not earnings: the vendor's earnings
    as the market reads them are the same whether it pays out nothing or most of its
    profit (up to the interest on the cash it kept). Until MODEL_VERSION 0.54.1 they were
    the change in retained earnings, so a vendor paying out 90% showed a tenth of them."""
    kept, paid = _vendor_earnings(0.0), _vendor_earnings(0.9)
    assert kept > 0
    assert paid == pytest.approx(kept, rel=0.05)


def test_a_vendors_growth_is_read_from_trailing_revenue() -> None:
    """A month without deliveries moves the vendor's volume by a twelfth, not to zero: the
    market reads trailing-twelve-month revenue (a lumpy month is not a −99% growth)."""
    world = run_model(small_world(), 1, 13)
    vendor = next(a for a in world.all_agents if isinstance(a, ChipVendor))
    before = list(world.capital.revenue[vendor.name])
    world.capital.observe_revenue(vendor.name, 0.0)
    volume = volume_of(world, vendor, world.month)
    assert len(before) == 12
    assert volume == pytest.approx(sum(before[1:]) / 12)
    assert volume > 0.8 * sum(before) / 12


def test_a_vendors_backlog_is_its_order_book() -> None:
    """The vendor's backlog is what its open orders still owe it at their prices."""
    world = ComputeMarket(small_world(), rng=1)
    for _ in range(6):
        world.step()
    vendor = next(a for a in world.all_agents if isinstance(a, ChipVendor))
    orders = world.open_orders(vendor=vendor.name)
    assert orders, "the small world's clouds have chips on order after six months"
    expected = sum(o.undelivered * o.unit_price_usd for o in orders)
    assert order_book_usd(world, vendor.name) == pytest.approx(expected)
    assert expected > 0
