"""The opening balance sheet of a borrowing cloud (credit6): its opening debt financed its
opening fleet, so it opens with its configured cash beside the debt (not a cash pile of
the loan that it prepays in its first month), and that debt bears interest from the first
month."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.ledger import Line
from sim.model import ComputeMarket
from sim.phases.credit import OPENING_CREDIT

from .conftest import small_world
from .fakes import FakeMarket
from .test_agents import make_cloud


def test_opening_debt_finances_the_fleet_not_cash() -> None:
    # neo: initial_cash_usd 0.5e9, initial_debt_usd 3e9 (conftest.small_world)
    model = ComputeMarket(small_world(), rng=1)
    books = model.books
    assert books.ledger.balance("neo", Line.CASH) == pytest.approx(0.5e9)
    assert books.instruments.debt_usd("neo") == pytest.approx(3e9)
    # the founders' paid-in capital is the fleet and cash less the debt-financed part
    fleet = books.ledger.balance("neo", Line.FLEET)
    assert books.ledger.balance("neo", Line.PAID_IN) == pytest.approx(fleet + 0.5e9 - 3e9)
    # money is conserved: what the neocloud did not keep went back outside the system
    flows = books.ledger.flows()
    back = flows[(flows["payer"] == "neo") & (flows["kind"] == "redemption")]
    assert back["amount"].sum() == pytest.approx(2.5e9)
    # the hyperscaler without opening debt is untouched
    assert books.ledger.balance("hyper", Line.CASH) == pytest.approx(10e9)


def test_opening_debt_bears_interest_in_the_first_month() -> None:
    model = ComputeMarket(small_world(), rng=1)
    model.step()
    acc = model.books.ledger.accruals()
    interest = acc[(acc["payer"] == "neo") & (acc["kind"] == "interest_due") & (acc["step"] == 0)]
    # 3e9 at 10% a year: 25M in January
    assert interest["amount"].sum() == pytest.approx(3e9 * 0.1 / 12, rel=1e-6)


# --- the lines that financed the opening pipeline (contract-backed project finance) ------
def test_a_cloud_arranges_project_finance_only_for_what_its_funding_does_not_cover() -> None:
    market = FakeMarket()
    cloud = make_cloud(market, "neo", archetype="neocloud")
    # short: the whole shortfall, within the gearing (hand-computed)
    assert cloud.opening_project_finance_usd(10e9, 1e9, 0.8) == pytest.approx(8e9)
    assert cloud.opening_project_finance_usd(10e9, 4e9, 0.8) == pytest.approx(6e9)
    # negative own funding counts as none
    assert cloud.opening_project_finance_usd(10e9, -3e9, 0.7) == pytest.approx(7e9)
    # a cloud whose own funding covers its orders arranges none; no gearing, no line
    assert cloud.opening_project_finance_usd(10e9, 12e9, 0.8) == 0.0
    assert cloud.opening_project_finance_usd(10e9, 1e9, 0.0) == 0.0
    assert cloud.opening_project_finance_usd(0.0, 1e9, 0.8) == 0.0


@settings(max_examples=50, deadline=None)
@given(
    cost=st.floats(0.0, 1e11),
    own=st.floats(-1e11, 1e11),
    gearing=st.floats(0.0, 1.0),
)
def test_project_finance_is_within_gearing_and_the_shortfall(
    cost: float, own: float, gearing: float
) -> None:
    cloud = make_cloud(FakeMarket(), "neo", archetype="neocloud")
    line = cloud.opening_project_finance_usd(cost, own, gearing)
    assert 0.0 <= line <= gearing * cost + 1e-6
    assert line <= max(0.0, cost - max(0.0, own)) + 1e-6


def test_the_opening_pipeline_comes_with_its_committed_line_drawn_on_delivery() -> None:
    # lenders with room in their opening budgets beside the opening debt they lend
    rich = {"investors.*.initial_cash_usd": 200e9}
    geared = ComputeMarket(small_world(**rich, **{"project_finance.opening_gearing": 0.8}), rng=1)
    bare = ComputeMarket(small_world(**rich, **{"project_finance.opening_gearing": 0.0}), rng=1)
    events = geared.events_table()
    line = events[(events["event"] == OPENING_CREDIT) & (events["defaulter"] == "neo")]
    assert len(line) == 1 and line["amount_lost"].iloc[0] > 0
    assert not (bare.events_table()["event"] == OPENING_CREDIT).any()
    # with the line, the neocloud could fund (and so ordered) more of its pipeline
    pipeline = {
        name: sum(o.units for o in m.books.instruments.open_orders(buyer="neo"))
        for name, m in (("geared", geared), ("bare", bare))
    }
    assert pipeline["geared"] > pipeline["bare"]
    # the commitment is drawn as the chips arrive: debt grows by what was drawn
    debt = geared.debt_usd("neo")
    drawn = 0.0
    for _ in range(6):
        geared.step()
        drawn += geared.month_state.credit_drawn_usd
    assert drawn > 0
    assert geared.cloud("neo").undrawn_credit_usd() >= 0
    assert geared.debt_usd("neo") > debt - 3e9 / 60 * 6  # draws outweigh amortisation


# --- the opening fleet at its recoverable amount (0.61.0) ---------------------------------
def test_opening_fleet_is_carried_at_recoverable_amount_against_paid_in() -> None:
    model = ComputeMarket(small_world(), rng=1)
    books = model.books
    journal = books.ledger.journal_entries()
    opening = journal[journal["memo"] == "opening fleet at recoverable amount"]
    # the opening fleet (vintages of 2023-24 at depreciated cost) is worth less than its cost
    # at the opening price: the write-down is booked, against paid-in capital only
    assert opening["amount"].sum() > 0
    assert set(opening["debit"]) == {Line.PAID_IN.value}
    assert set(opening["credit"]) == {Line.FLEET.value}
    for cloud in model.clouds:
        assert books.ledger.balance(cloud.name, Line.RETAINED) == 0.0
        # nothing is left to impair at the opening price: book value ≤ value in use
        assert cloud.impair(model.month) == 0


@pytest.mark.parametrize("install", [0, 2, 6])
def test_the_opening_pipeline_comes_online_its_install_months_after_delivery(install) -> None:
    """Each opening-pipeline order is due in month d (0, 1, ...) and comes online
    ``investment.opening_pipeline_install_months`` later; never later than a new order's
    build lag less its delivery lag allows (6 months in the small world)."""
    model = ComputeMarket(
        small_world(**{"investment.opening_pipeline_install_months": install}), rng=1
    )
    orders = model.books.instruments.open_orders()
    assert orders
    for order in orders:
        assert order.online_step == order.delivery_step + install
    capped = ComputeMarket(small_world(**{"investment.opening_pipeline_install_months": 30}), rng=1)
    tech = capped.cfg.technology
    gap = tech.build_lag_months - tech.delivery_lag_months
    assert all(
        o.online_step == o.delivery_step + gap for o in capped.books.instruments.open_orders()
    )


def test_an_earlier_install_brings_capacity_online_sooner() -> None:
    """With the pipeline online on delivery, the clouds have more GPUs online in the first
    months than with the six months of installation of the default."""
    installed = {}
    for install in (0, 6):
        model = ComputeMarket(
            small_world(**{"investment.opening_pipeline_install_months": install}), rng=1
        )
        for _ in range(3):
            model.step()
        installed[install] = sum(c.installed_gpus(2) for c in model.clouds)
    assert installed[0] > installed[6]
