"""A lender's loans of one kind and rank to one borrower form one facility (MODEL_VERSION
0.65): a new loan without a grace period is a draw on the open loan of the same terms
(``Books.draw``), a delayed-draw term loan whose draws share the facility. Hand-computed."""

from __future__ import annotations

import pytest

from sim import mechanisms
from sim.ledger import Flow, Line
from sim.model import ComputeMarket

from .conftest import small_world

KIND = "test facility"  # a kind no loan of the world has, so the facility starts empty


def world_and_parties() -> tuple[ComputeMarket, object, object]:
    world = ComputeMarket(small_world(), rng=1)
    world.step()
    return world, world.clouds[0], world.investors[0]


def test_a_draw_joins_the_open_loan_with_blended_rate_and_maturity() -> None:
    """$1,200 at 10% over 12 months from month 1, then $600 at 16% over 12 months in month
    4: one loan of $1,800 at (0.10 × 1,200 + 0.16 × 600) ÷ 1,800 = 12%, over
    round((9 × 1,200 + 12 × 600) ÷ 1,800) = 10 months from month 4 (9 months were left of
    the first); the lender paid $600 more under the loan's id, and the books balance."""
    world, cloud, bank = world_and_parties()
    books = world.books
    first = mechanisms.lend(books, 1, bank, cloud, 1_200.0, 0.10, 12, kind=KIND)
    cash = cloud.cash, bank.cash
    debt = books.ledger.balance(cloud.name, Line.DEBT)
    second = mechanisms.lend(books, 4, bank, cloud, 600.0, 0.16, 12, kind=KIND)
    assert second.loan is first.loan
    assert (first.usd, second.usd) == (1_200.0, 600.0)
    loan = first.loan
    assert loan.rate_per_year == pytest.approx(0.12)
    assert (loan.start, loan.maturity_months, loan.grace_months) == (4, 10, 0)
    assert loan.outstanding == loan.principal == 1_800.0
    assert (cloud.cash, bank.cash) == pytest.approx((cash[0] + 600.0, cash[1] - 600.0))
    assert books.ledger.balance(cloud.name, Line.DEBT) == pytest.approx(debt + 600.0)
    flows = books.ledger.flows()
    advances = flows[
        (flows["kind"] == Flow.LOAN_ADVANCE.plan.label) & (flows["instrument"] == loan.id)
    ]
    assert advances["amount"].tolist() == [1_200.0, 600.0]
    assert [x for x in books.instruments.loans_of(borrower=cloud.name) if x.kind == KIND] == [loan]
    books.ledger.check()


def test_a_loan_of_other_terms_or_with_a_grace_period_is_a_new_loan() -> None:
    world, cloud, bank = world_and_parties()
    books = world.books
    base = mechanisms.lend(books, 1, bank, cloud, 1_000.0, 0.10, 12, kind=KIND).loan
    other_rank = mechanisms.lend(books, 2, bank, cloud, 500.0, 0.10, 12, kind=KIND, seniority=1)
    graced = mechanisms.lend(books, 2, bank, cloud, 500.0, 0.10, 12, kind=KIND, grace_months=3)
    other_kind = mechanisms.lend(books, 2, bank, cloud, 500.0, 0.10, 12, kind=KIND + " 2")
    assert len({id(base), id(other_rank.loan), id(graced.loan), id(other_kind.loan)}) == 4
    # a draw on a facility with a grace period is a new loan too
    assert (
        mechanisms.lend(books, 3, bank, cloud, 100.0, 0.1, 12, kind=KIND, grace_months=3).loan
        is not graced.loan
    )
    assert base.outstanding == 1_000.0
