"""A lab's operating costs other than compute: up with revenue at once, down slowly (sticky
costs), decided by the lab alone against a fake market."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.agents import Lab

from .fakes import FakeMarket


def lab_with(share: float, cut: float, elasticity: float = 1.0) -> Lab:
    market = FakeMarket()
    market.cfg = market.cfg.with_overrides(
        {
            "lab_costs.opex_downward_adjustment_per_month": cut,
            "lab_costs.opex_revenue_elasticity": elasticity,
        }
    )
    spec = market.cfg.labs[0].model_copy(update={"other_opex_share_of_revenue": share})
    return Lab(market.model, market, "lab-a", spec, demand_share=1.0)


def month(lab: Lab, revenue: float) -> float:
    lab.record_service(0.0, 0.0, 0.0, revenue)
    return lab.operating_costs()


def test_costs_rise_with_revenue_at_once_and_fall_a_tenth_of_the_gap_a_month() -> None:
    lab = lab_with(share=0.3, cut=0.1)
    assert month(lab, 10e9) == pytest.approx(3e9)  # 0.3 × 10
    # revenue falls 80%: the target is 0.6; costs close 10% of the 2.4 gap
    assert month(lab, 2e9) == pytest.approx(3e9 - 0.1 * 2.4e9)
    assert month(lab, 2e9) == pytest.approx(2.76e9 - 0.1 * (2.76e9 - 0.6e9))
    assert month(lab, 20e9) == pytest.approx(6e9)  # growth again: at once


def test_with_full_adjustment_costs_follow_revenue_as_a_fixed_share() -> None:
    lab = lab_with(share=0.3, cut=1.0)
    for revenue in (10e9, 2e9, 5e9, 0.0):
        assert month(lab, revenue) == pytest.approx(0.3 * revenue)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.0, 1e11), min_size=1, max_size=12),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.5),
)
def test_costs_lie_between_the_target_and_last_months_costs(
    revenues: list[float], cut: float, share: float
) -> None:
    lab = lab_with(share=share, cut=cut)
    last = 0.0
    for revenue in revenues:
        cost = month(lab, revenue)
        target = share * revenue
        assert min(target, last) - 1e-3 <= cost <= max(target, last) + 1e-3
        assert cost >= target - 1e-3  # never below what the business needs now
        last = cost


def test_costs_grow_slower_than_revenue_at_an_elasticity_below_one() -> None:
    """Operating leverage: at elasticity 0.55 (Anderson, Banker and Janakiraman 2003) a lab
    whose revenue grows 4× needs 4^0.55 ≈ 2.14× its opening costs, not 4×."""
    lab = lab_with(share=0.5, cut=0.1, elasticity=0.55)
    assert month(lab, 1e9) == pytest.approx(0.5e9)  # the opening month sets the scale
    assert month(lab, 4e9) == pytest.approx(0.5e9 * 4.0**0.55)
    assert month(lab, 4e9) / 4e9 < 0.27  # the cost share of revenue fell from 0.5 to 0.27
    # a fall below the opening scale: the need falls less than revenue (the sticky path
    # then closes a tenth of the gap a month from last month's costs)
    assert lab.opex_needed(0.5e9) == pytest.approx(0.5e9 * 0.5**0.55)
    assert lab.opex_needed(0.5e9) > 0.5 * 0.5e9


def test_the_opening_revenue_sets_the_scale_whatever_comes_after() -> None:
    lab = lab_with(share=0.3, cut=1.0, elasticity=0.5)
    assert month(lab, 0.0) == 0.0  # no revenue yet: no scale, no costs
    assert month(lab, 2e9) == pytest.approx(0.6e9)
    assert month(lab, 8e9) == pytest.approx(0.6e9 * 2.0)  # (8 / 2)^0.5 = 2
