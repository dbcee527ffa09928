"""Whom a buyer trades with (issue 20, linear scaling): spot purchases matched in order, chips
from the suppliers a cloud knows, overflow from the neoclouds with the most room — the
trading relations grow with the world, not with its square, and money is still conserved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import market
from sim.runner import simulate

from .conftest import small_world

quantities = st.lists(st.floats(0.0, 1e6, allow_subnormal=False), min_size=0, max_size=12)


@settings(max_examples=200, deadline=None)
@given(bought=quantities, sold=quantities)
def test_matching_in_order_gives_every_trader_its_quantity_in_few_trades(
    bought: list[float], sold: list[float]
) -> None:
    total = min(sum(bought), sum(sold))
    # the market cleared: sellers sell what buyers buy (scale the larger side down)
    if sum(sold) > 0:
        sold = [q * total / sum(sold) for q in sold]
    if sum(bought) > 0:
        bought = [q * total / sum(bought) for q in bought]
    trades = market.match_in_order(bought, sold)
    assert len(trades) <= max(0, len(bought) + len(sold) - 1)
    assert all(q > 0 for _, _, q in trades)
    got = np.zeros(len(bought))
    sent = np.zeros(len(sold))
    for i, j, q in trades:
        got[i] += q
        sent[j] += q
    scale = max(1.0, total)
    np.testing.assert_allclose(got, bought, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(sent, sold, rtol=0, atol=1e-9 * scale)
    # in order: buyer by buyer, each from the sellers after the one it last bought from
    assert [(i, j) for i, j, _ in trades] == sorted((i, j) for i, j, _ in trades)


def test_matching_in_order_by_hand() -> None:
    """Buyers 3, 5 and 2 against sellers 4 and 6: the first buyer buys 3 of the first
    seller, the second 1 of it and 4 of the second, the third the second's last 2."""
    assert market.match_in_order([3.0, 5.0, 2.0], [4.0, 6.0]) == [
        (0, 0, 3.0),
        (1, 0, 1.0),
        (1, 1, 4.0),
        (2, 1, 2.0),
    ]


@pytest.fixture(scope="module")
def tripled():
    """The small world three times over (three copies of every agent, so each vendor's line
    has three vendors and there are three neoclouds), vendors quick to put buyers on
    allocation so that overflow is bought, at most two overflow sellers; books audited."""
    scenario = small_world(
        deals=False,
        **{
            "run.months": 24,
            "chip_vendors.*.max_lead_months": 1.0,
            "sourcing.overflow_sellers": 2,
        },
    ).scaled(3)
    return simulate(scenario, 3, audit=True)


def test_a_larger_world_trades_with_few_counterparties_and_conserves_money(tripled) -> None:
    accruals, agents = tripled.tables["accruals"], tripled.tables["agents"]
    kinds = agents.groupby("agent_type")["agent_id"].unique()
    labs, clouds = set(kinds["Lab"]), set(kinds["Cloud"])
    vendors = set(kinds["ChipVendor"])
    # spot: each month at most labs + sellers − 1 lab-to-seller bills
    spot = accruals[(accruals["kind"] == "compute_due") & accruals["instrument"].isin(["spot"])]
    resale = accruals[(accruals["kind"] == "compute_due") & (accruals["instrument"] == "resale")]
    assert len(spot) > 0
    pairs = pd.concat([f[["step", "payer", "payee"]] for f in (spot, resale)]).drop_duplicates()
    per_month = pairs.groupby("step").size()  # (lab, seller) pairs billed each month
    assert (per_month <= len(labs) + len(clouds) + len(labs) - 1).all()
    # chips: every cloud was invoiced by one vendor of the (one) product line only
    invoices = accruals[accruals["kind"] == "chip_invoice_due"]
    assert set(invoices["payee"]) <= vendors and len(set(invoices["payee"])) == len(vendors)
    assert (invoices.groupby("payer")["payee"].nunique() == 1).all()
    # overflow: contracts signed in one month (first billed in one month) with at most two
    # neoclouds for each buyer
    bills = accruals[accruals["instrument"].astype(str).str.endswith(":overflow")]
    assert len(bills) > 0, "no overflow bought: the test does not exercise the rule"
    first = bills.groupby("instrument").agg(step=("step", "min"), payer=("payer", "first"))
    first["payee"] = bills.groupby("instrument")["payee"].first()
    assert first.groupby(["step", "payer"])["payee"].nunique().max() <= 2
