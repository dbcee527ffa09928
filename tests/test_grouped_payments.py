"""Payments grouped per (month, payer, payee, kind), attribution kept (issue 20, item 1).

``Books.pay_all`` pays a debtor's obligations with one posting per creditor and kind of
payment; the ledger's allocations say what a grouped posting paid of each instrument. The
books must end exactly as with one posting per obligation, and every obligation must be
found again, to the cent, either as its own posting or among the allocations.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.books import OPERATIONS, Books
from sim.ledger import GROUPED, PAYMENT_FOR_ACCRUAL, Flow, Line

PARTIES = ("a", "b", "c")
DUE = (Flow.COMPUTE_DUE, Flow.INTEREST_DUE, Flow.CHIP_INVOICE_DUE)

obligation = st.tuples(
    st.sampled_from(PARTIES),  # debtor
    st.sampled_from((*PARTIES, OPERATIONS)),  # creditor (one outside the system)
    st.integers(1, 10**9),  # cents
    st.sampled_from(DUE),
    st.integers(0, 3),  # instrument number
)


def books_owing(obligations: list[tuple[str, str, int, Flow, int]]) -> Books:
    """Books of three parties with enough cash, owing ``obligations`` (self-debts dropped)."""
    books = Books()
    for name in PARTIES:
        books.open_account(name)
        books.receive(0, "world:founders", name, 1e8, Flow.FOUNDING_CAPITAL)
    for debtor, creditor, cents, flow, k in obligations:
        if debtor == creditor:
            continue
        if creditor == OPERATIONS:
            books.owe_external(1, debtor, creditor, cents / 100, Flow.OPERATING_COST)
        else:
            books.accrue(1, debtor, creditor, cents / 100, flow, f"i-{k}", "loan")
    return books


def snapshot(books: Books) -> dict[str, dict[Line, int]]:
    return {name: dict(books.ledger._books[name]) for name in PARTIES}


@settings(max_examples=150, deadline=None)
@given(st.lists(obligation, max_size=30))
def test_grouped_payments_leave_the_books_as_one_posting_each(obligations) -> None:
    grouped, single = books_owing(obligations), books_owing(obligations)
    for debtor in PARTIES:
        grouped.pay_all(2, grouped.obligations.close(debtor))
        for ob in single.obligations.close(debtor):
            single.pay(2, ob, ob.cents)
    assert snapshot(grouped) == snapshot(single)
    assert grouped.unpaid_external_usd == single.unpaid_external_usd
    assert grouped.ledger.moved_cents(2) == single.ledger.moved_cents(2)
    assert grouped.ledger.external_out_cents == single.ledger.external_out_cents
    grouped.ledger.check(0)

    flows = grouped.ledger.flows()
    paid = flows[flows["step"] == 2]
    keys = ["payer", "payee", "kind"]
    assert not paid.duplicated(keys).any()  # one posting per payer, payee and kind
    # every obligation is found again, to the cent: its own posting or an allocation
    direct = paid[paid["instrument"] != GROUPED]
    found = Counter(
        (r.payer, r.payee, r.kind, r.instrument, round(r.amount * 100))
        for frame in (direct, grouped.ledger.allocations())
        for r in frame.itertuples()
    )
    expected = Counter(
        (r.payer, r.payee, r.kind, r.instrument, round(r.amount * 100))
        for r in single.ledger.flows().query("step == 2").itertuples()
    )
    assert found == expected
    # a grouped posting is exactly the sum of its allocations
    allocations = grouped.ledger.allocations()
    for row in paid[paid["instrument"] == GROUPED].itertuples():
        mine = allocations[
            (allocations["payer"] == row.payer)
            & (allocations["payee"] == row.payee)
            & (allocations["kind"] == row.kind)
        ]
        assert len(mine) >= 2
        assert round(mine["amount"].sum() * 100) == round(row.amount * 100)


def test_two_bills_under_two_contracts_are_paid_with_one_posting() -> None:
    """Hand case: a owes b $100 and $250.50 of compute under c-1 and c-2, and $7 of interest
    under loan-1: two postings ($350.50 compute, grouped; $7 interest under loan-1), and the
    allocations name c-1 and c-2 with their amounts."""
    books = books_owing([])
    books.accrue(1, "a", "b", 100.0, Flow.COMPUTE_DUE, "c-1", "capacity contract")
    books.accrue(1, "a", "b", 250.5, Flow.COMPUTE_DUE, "c-2", "capacity contract")
    books.accrue(1, "a", "b", 7.0, Flow.INTEREST_DUE, "loan-1", "loan")
    books.settle_what_can_be_paid(1)
    flows = books.ledger.flows()
    paid = flows[flows["step"] == 1][["payer", "payee", "amount", "kind", "instrument"]]
    assert paid.values.tolist() == [
        ["a", "b", 350.5, "compute_payment", GROUPED],
        ["a", "b", 7.0, "interest", "loan-1"],
    ]
    allocations = books.ledger.allocations()
    assert allocations[["amount", "instrument"]].values.tolist() == [[100.0, "c-1"], [250.5, "c-2"]]
    assert books.ledger.balance("b", Line.RECEIVABLES) == 0.0
    assert books.ledger.balance("b") == 1e8 + 357.5


def test_each_accrual_is_paid_by_a_kind_of_payment_of_its_own() -> None:
    """Books.pay_all groups obligations by (creditor, flow owed), which are the groups by
    (creditor, kind of payment) only while no two accruals share a kind of payment (and no
    accrual is itself a payment)."""
    payments = list(PAYMENT_FOR_ACCRUAL.values())
    assert len(set(payments)) == len(payments)
    assert not set(payments) & set(PAYMENT_FOR_ACCRUAL)
    assert all(not f.treatment.moves_cash for f in PAYMENT_FOR_ACCRUAL)
