"""A hyperscaler's capex outside AI compute (0.61.2): paid every month to the contractors
from its other businesses' cash flow and expensed (their asset base is in steady state), so
its retained earnings and cash fall by it, and the calibration's capex counts it."""

from __future__ import annotations

import pytest

from sim import calibration as cal
from sim.ledger import Line
from sim.model import ComputeMarket

from .conftest import small_world


def _hyper_after(months: int, capex: float) -> ComputeMarket:
    world = small_world(**{"clouds.hyper.other_business_capex_usd_per_month": capex})
    model = ComputeMarket(world, rng=3)
    for _ in range(months):
        model.step()
    return model


def test_other_business_capex_is_paid_to_contractors_and_expensed() -> None:
    model = _hyper_after(2, 0.5e9)
    flows = model.books.ledger.flows()
    paid = flows[flows["kind"] == "other_business_capex"]
    assert set(paid["payer"]) == {"hyper"}
    assert set(paid["payee"]) == {"world:contractors"}
    assert paid.groupby("step")["amount"].sum().tolist() == pytest.approx([0.5e9, 0.5e9])
    # expensed: it never reaches the fleet (the fleet is the AI build)
    journal = model.books.ledger.journal_entries()
    assert not (journal["memo"] == "other_business_capex").any()


def test_it_lowers_retained_earnings_month_by_month() -> None:
    # the first month, before any payout or decision can differ: retained falls by it exactly
    without, with_ = _hyper_after(1, 0.0), _hyper_after(1, 0.5e9)
    retained = [m.books.ledger.balance("hyper", Line.RETAINED) for m in (without, with_)]
    payout = [
        m.books.ledger.flows()
        .query("payer == 'hyper' and kind in ['payout', 'dividend']")["amount"]
        .sum()
        for m in (without, with_)
    ]
    # retained after payout: the expense less the payout it saves
    assert retained[0] - retained[1] == pytest.approx(0.5e9 - (payout[0] - payout[1]), rel=1e-6)
    assert retained[1] < retained[0]


def test_calibration_capex_counts_it() -> None:
    model = _hyper_after(3, 0.5e9)
    tables = {
        "flows": model.books.ledger.flows(),
        "accruals": model.books.ledger.accruals(),
    }
    base = _hyper_after(3, 0.0)
    base_tables = {"flows": base.books.ledger.flows(), "accruals": base.books.ledger.accruals()}
    other = tables["flows"].query("kind == 'other_business_capex'")["amount"].sum()
    assert other == pytest.approx(1.5e9)
    ai = cal.capex(tables, ["hyper"], [], 0, 2) - other
    assert ai == pytest.approx(cal.capex(base_tables, ["hyper"], [], 0, 2), rel=0.2)
