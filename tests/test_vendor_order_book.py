"""A finite order book (issue 16, supply9): the vendor books at most its longest lead time of
output and plans its capacity on what it booked, reading refused orders as weak evidence of
demand (shortage gaming, Lee, Padmanabhan and Whang 1997)."""

from __future__ import annotations

import pytest

from sim.agents import ChipVendor
from sim.instruments import ChipOrder
from tests.fakes import FakeMarket


def _vendor(market: FakeMarket, **update: float) -> ChipVendor:
    spec = market.cfg.chip_vendors[0].model_copy(
        update={"max_lead_months": 12.0, "capacity_lag_months": 0, **update}
    )
    return ChipVendor(market.model, market, "vendor", spec, 1.0)


@pytest.mark.parametrize("counted", [0.0, 0.25, 1.0])
def test_vendor_plans_on_what_it_booked_and_the_share_of_refusals_it_believes(
    counted: float,
) -> None:
    market = FakeMarket()
    market.cfg = market.cfg.with_overrides({"order_book.capacity_counts_refused": counted})
    vendor = _vendor(market)
    assert vendor.order_intake(300.0, 1000.0) == pytest.approx(300.0 + counted * 1000.0)


def test_a_vendor_with_a_full_book_does_not_expand_for_the_orders_it_refused() -> None:
    """With its book full (its longest lead, 6 months, of output queued) every new order is
    refused; a vendor that believes refusals expands toward them as fast as it can, one that
    does not expands no further than its booked orders ask."""
    sizes = {}
    for counted in (0.0, 1.0):
        market = FakeMarket()
        market.cfg = market.cfg.with_overrides({"order_book.capacity_counts_refused": counted})
        vendor = _vendor(
            market,
            max_lead_months=6.0,
            normal_lead_months=6.0,
            ceiling_growth_per_month=0.25,
            capacity_adjustment_months=3.0,
        )
        vendor.ceiling = vendor.initial_ceiling = 100.0
        market.orders = [ChipOrder("a", "neo", "vendor", 600.0, 1.0, 0, 6, 12)]
        booked = vendor.accept_orders({"hyper": 5000.0})
        assert booked == pytest.approx({"hyper": 0.0})  # no room: the book is finite
        vendor.orders_history = [100.0, 100.0]
        vendor.plan_production(0, vendor.order_intake(0.0, 5000.0))
        sizes[counted] = vendor.ceiling
    fastest = 100.0 * 1.25 * 1.4 ** (1 / 12)
    assert sizes[1.0] == pytest.approx(fastest)
    assert sizes[0.0] <= 100.0  # booked orders (100, 100, 0 a month) ask for no more
