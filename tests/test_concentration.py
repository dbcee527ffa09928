"""Concentration (HHI) and investor returns (DESIGN §5): hand-computed cases and properties."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.metrics import concentration_series, herfindahl, investor_returns


def test_herfindahl_known_values() -> None:
    assert herfindahl([5, 5, 5, 5]) == pytest.approx(0.25)
    assert herfindahl([0, 7, 0]) == 1.0
    assert herfindahl([60, 30, 10]) == pytest.approx(0.36 + 0.09 + 0.01)
    assert herfindahl([0, 0]) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        herfindahl([1, -1])


@given(st.lists(st.floats(0, 1e12), min_size=1, max_size=30))
def test_herfindahl_lies_between_equal_shares_and_monopoly(values) -> None:
    h = herfindahl(values)
    positive = sum(v > 0 for v in values)
    if sum(values) > 0:
        assert 1 / len(values) - 1e-12 <= h <= 1 + 1e-12
        assert h >= 1 / positive - 1e-12
    else:
        assert h == 0.0


def test_concentration_series_by_month() -> None:
    agents = pd.DataFrame(
        {
            "step": [0, 0, 0, 0, 1, 1, 1, 1],
            "agent_type": ["Cloud", "Cloud", "Lab", "Lab"] * 2,
            "gpus_installed": [3.0, 1.0, None, None, 2.0, 2.0, None, None],
            "revenue_usd": [None, None, 9.0, 1.0, None, None, 0.0, 0.0],
        }
    )
    out = concentration_series(agents).set_index("step")
    assert out.loc[0, "cloud_hhi"] == pytest.approx(0.75**2 + 0.25**2)
    assert out.loc[0, "cloud_top_share"] == pytest.approx(0.75)
    assert out.loc[0, "lab_hhi"] == pytest.approx(0.82)
    assert out.loc[1, "cloud_hhi"] == pytest.approx(0.5)
    assert out.loc[1, "lab_hhi"] == 0.0


def test_investor_multiple_on_invested_capital() -> None:
    flows = pd.DataFrame(
        [
            # bank lends 100 and gets 10 interest and 60 principal back; 40 still lent
            ("bank", "neo", 100.0, "loan_advance"),
            ("neo", "bank", 10.0, "interest"),
            ("neo", "bank", 60.0, "principal"),
            ("world:savers", "bank", 500.0, "investor_inflow"),  # outside money: not a return
            # vc buys equity for 50, now marked at 20
            ("vc", "lab", 50.0, "equity_investment"),
        ],
        columns=["payer", "payee", "amount", "kind"],
    )
    agents = pd.DataFrame(
        {
            "step": [3, 3, 3],
            "agent_id": ["bank", "vc", "idle"],
            "agent_type": ["Investor"] * 3,
            "stakes_usd": [0.0, 20.0, 0.0],
            "loans_usd": [40.0, 0.0, 0.0],
            "receivables_usd": [0.0, 0.0, 0.0],
        }
    )
    out = investor_returns(flows, agents).set_index("investor")
    assert out.loc["bank", "moic"] == pytest.approx((10 + 60 + 40) / 100)
    assert out.loc["vc", "moic"] == pytest.approx(20 / 50)
    assert math.isnan(out.loc["idle", "moic"])
