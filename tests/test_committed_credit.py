"""Committed capex credit (issue 16): lenders commit when a cloud orders chips, the cloud
draws on delivery, whatever its borrowing base is then, and the draw takes none of the
lender's budget for the month."""

from __future__ import annotations

import pytest

from sim.books import CONTRACTORS
from sim.ledger import Flow
from sim.model import ComputeMarket
from sim.phases import invest, settle

from .conftest import small_world


def test_a_committed_line_is_drawn_on_delivery_beyond_the_borrowing_base() -> None:
    model = ComputeMarket(small_world(), rng=1)
    model.step()
    t = model.month
    neo, bank = model.cloud("neo"), model.agent("bank")
    held = neo.undrawn_credit_usd()  # the line it arranged in its first month
    neo.commit_credit("bank", 30e9)
    model.books.owe_external(t, "neo", CONTRACTORS, 20e9, Flow.FACILITY_CAPEX)
    used = bank.loans_used_usd
    debt = model.debt_usd("neo")
    headroom = neo.borrowing_headroom(t)
    short = 20e9 - neo.cash
    assert short > headroom  # the borrowing base alone would not cover the bill
    settle.draw_on_delivery(model, t, neo)
    assert model.debt_usd("neo") - debt == pytest.approx(short)
    assert neo.undrawn_credit_usd() == pytest.approx(held + 30e9 - short)
    assert bank.loans_used_usd == pytest.approx(used)  # the commitment took the budget
    assert model.month_state.credit_drawn_usd == pytest.approx(short)


def test_lenders_commit_from_their_budget_and_a_cloud_orders_only_what_is_financed() -> None:
    model = ComputeMarket(small_world(), rng=1)
    model.step()
    t = model.month
    neo = model.cloud("neo")
    lenders = model.investors
    before = sum(i.loan_budget(model.sentiment) for i in lenders)
    held = neo.undrawn_credit_usd()  # the line it arranged in its first month
    month = model.month_state.credit_committed_usd
    invest.arrange_credit(model, t, neo, 5e9)
    committed = neo.undrawn_credit_usd() - held
    assert committed > 0
    assert model.month_state.credit_committed_usd - month == pytest.approx(committed)
    after = sum(i.loan_budget(model.sentiment) for i in lenders)
    assert before - after == pytest.approx(committed)
    # the order is not placed after all: the line it no longer needs is given back
    wanted = neo.credit_commitment_wanted(t, 0.0)
    assert wanted < 0
    invest.arrange_credit(model, t, neo, 0.0)
    assert neo.undrawn_credit_usd() == pytest.approx(max(0.0, held + committed + wanted))


def test_in_a_world_credit_is_committed_with_orders_and_drawn_as_chips_arrive() -> None:
    model = ComputeMarket(small_world(), rng=1)
    committed = drawn = 0.0
    for _ in range(18):
        model.step()
        committed += model.month_state.credit_committed_usd
        drawn += model.month_state.credit_drawn_usd
    assert committed > 0 and drawn > 0
    assert drawn <= committed + 1.0


def test_the_market_counts_rivals_chips_being_built_until_they_are_online() -> None:
    model = ComputeMarket(small_world(), rng=1)
    for _ in range(3):
        model.step()
    t = model.month
    hyper, neo = model.cloud("hyper"), model.cloud("neo")
    building = sum(v.gpus for v in neo.fleet if v.online_step > t)
    assert model.building_gpus(exclude="hyper") == pytest.approx(building)
    assert model.building_gpus(exclude="neo") == pytest.approx(
        sum(v.gpus for v in hyper.fleet if v.online_step > t)
    )
