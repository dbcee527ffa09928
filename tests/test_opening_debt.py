"""The opening balance sheet of a borrowing cloud (credit6): its opening debt financed its
opening fleet, so it opens with its configured cash beside the debt (not a cash pile of
the loan that it prepays in its first month), and that debt bears interest from the first
month."""

from __future__ import annotations

import pytest

from sim.ledger import Line
from sim.model import ComputeMarket

from .conftest import small_world


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
