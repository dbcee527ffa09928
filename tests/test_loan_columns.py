"""A month's debt service as columns, and compute bills filed as batches (issue 20, items 1
and 2).

``Books.service_loans`` computes the instalments of plain loans as numpy columns
(``instruments.instalments_due``), books them with one ``Ledger.post_accrual_columns``
call and files each borrower's instalments as one ``ObligationBatch``; ``Books.service_each``
does it one loan at a time. On random loan books (plain loans, loans whose rate or
outstanding is a numpy scalar, convertible notes, loans in grace, at maturity, closing) the
two must leave everything the same: the doubles returned and their types, the loans, the
books, the accrual log row for row, the covenant month's debt service, the obligations one by
one, and — once paid — the flow log and the allocations. ``Books.bill_contracts`` files
each buyer's bills as one batch: on random bills (prepaid or not, numpy amounts, a contract
billed twice) it must leave what ``Books.bill_contract`` one bill at a time leaves.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.books import Books
from sim.instruments import CapacityContract, ConvertibleNote, Loan
from sim.ledger import Flow

PARTIES = ("neo-a", "neo-b", "bank", "fund")

loan_terms = st.tuples(
    st.sampled_from(PARTIES),  # borrower
    st.sampled_from(PARTIES),  # lender
    st.floats(0.01, 5e9),  # principal, USD
    st.floats(0.0, 0.25),  # rate per year
    st.integers(0, 30),  # start month
    st.integers(1, 40),  # maturity, months
    st.integers(0, 6),  # grace, months
    st.sampled_from(("loan", "numpy rate", "numpy outstanding", "note")),
    st.floats(0.0, 1.0),  # share already repaid
)


def books_with(terms: list[tuple]) -> tuple[Books, list[Loan]]:
    """Books of the parties with enough cash, and the loans of ``terms`` (self-loans
    dropped), lent in order."""
    books = Books()
    for name in PARTIES:
        books.open_account(name)
        books.receive(0, "world:founders", name, 1e12, Flow.FOUNDING_CAPITAL)
    loans: list[Loan] = []
    for k, (borrower, lender, principal, rate, start, maturity, grace, how, repaid) in enumerate(
        terms
    ):
        if borrower == lender:
            continue
        grace = min(grace, maturity - 1)
        if how == "note":
            loan: Loan = ConvertibleNote(
                f"note-{k}", lender, borrower, principal, rate, start, maturity
            )
        else:
            loan = Loan(
                f"loan-{k}",
                lender,
                borrower,
                principal,
                np.float64(rate) if how == "numpy rate" else rate,
                start,
                maturity,
                grace_months=grace,
            )
        books.lend(0, loan)
        if repaid:
            books.prepay(0, loan, round(loan.outstanding * repaid, 2))
        if how == "numpy outstanding" and loan.active:
            loan.outstanding = np.float64(loan.outstanding)
        loans.append(loan)
    return books, loans


def state(books: Books, loans: list[Loan]) -> tuple:
    return (
        [(type(x.outstanding), x.outstanding, x.active) for x in loans],
        {name: dict(books.ledger._books[name]) for name in PARTIES},
        list(books.ledger._accruals),
        list(books._service_cents.items()),
    )


def open_obligations(books: Books) -> list[tuple]:
    return [
        (ob.debtor, ob.creditor, ob.cents, ob.flow, ob.instrument, ob.step, ob.kind)
        for debtor in books.obligations.debtors()
        for ob in books.obligations.of(debtor)
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(loan_terms, max_size=25), st.integers(0, 45))
def test_columns_service_loans_as_one_at_a_time_does(terms, t) -> None:
    columns, loans_c = books_with(terms)
    each, loans_e = books_with(terms)
    served_c = columns.service_loans(t, loans_c)
    served_e = each.service_each(t, loans_e)
    assert [(x.id, type(i), i, p) for x, i, p in served_c] == [
        (x.id, type(i), i, p) for x, i, p in served_e
    ]
    assert state(columns, loans_c) == state(each, loans_e)
    columns.ledger.check()
    # paid in full: the batches as their parts would be
    for debtor in PARTIES:
        if columns.obligations.owed_cents(debtor):
            columns.pay_all(t, columns.obligations.take(debtor))
            each.pay_all(t, each.obligations.close(debtor))
    assert list(columns.ledger._log) == list(each.ledger._log)
    assert list(columns.ledger._allocations) == list(each.ledger._allocations)
    assert state(columns, loans_c) == state(each, loans_e)


@settings(max_examples=100, deadline=None)
@given(st.lists(loan_terms, max_size=25), st.integers(0, 45))
def test_a_batch_read_one_by_one_is_its_obligations_in_the_order_they_arose(terms, t) -> None:
    columns, loans_c = books_with(terms)
    each, loans_e = books_with(terms)
    columns.service_loans(t, loans_c)
    each.service_each(t, loans_e)
    owed = {d: columns.obligations.owed_cents(d) for d in PARTIES}
    assert owed == {d: each.obligations.owed_cents(d) for d in PARTIES}
    assert open_obligations(columns) == open_obligations(each)
    assert {d: columns.obligations.owed_cents(d) for d in PARTIES} == owed


def raised_by(serve, t: int, loans: list[Loan]) -> type[Exception] | None:
    try:
        serve(t, loans)
    except (ValueError, OverflowError) as error:
        return type(error)
    return None


def test_a_loan_with_an_amount_that_is_not_a_number_raises_as_one_at_a_time() -> None:
    terms = [("neo-a", "bank", 1_000.0, 0.1, 0, 12, 0, "loan", 0.0)] * 2
    columns, loans_c = books_with(terms)
    each, loans_e = books_with(terms)
    for loans in (loans_c, loans_e):
        loans[1].rate_per_year = float("inf")
    raised = raised_by(columns.service_loans, 3, loans_c)
    assert raised is not None
    assert raised is raised_by(each.service_each, 3, loans_e)


# --- compute bills, batched per buyer ------------------------------------------------------

bill = st.tuples(
    st.sampled_from(PARTIES),  # buyer
    st.sampled_from(PARTIES),  # seller
    st.floats(0.0, 5e8),  # the month's bill, USD
    st.integers(0, 3),  # contract number (one contract may be billed twice)
    st.sampled_from((0, 0, 0, 150_00)),  # cents prepaid
    st.sampled_from(("capacity contract", "lease")),
)


def contracts_billed(terms: list[tuple]) -> tuple[Books, list[tuple[CapacityContract, float]]]:
    books = Books()
    for name in PARTIES:
        books.open_account(name)
        books.receive(0, "world:founders", name, 1e12, Flow.FOUNDING_CAPITAL)
    bills = []
    for k, (buyer, seller, usd, n, prepaid, kind) in enumerate(terms):
        if buyer == seller:
            continue
        contract = CapacityContract(
            f"c-{buyer}-{seller}-{n}", buyer, seller, 100.0, 2.0, 0, 24, 0.5, kind=kind
        )
        if prepaid:
            books.sign(0, contract, prepaid / 100)
        bills.append((contract, np.float64(usd) if k % 2 else usd))
    return books, bills


def bill_state(books: Books) -> tuple:
    return (
        {name: dict(books.ledger._books[name]) for name in PARTIES},
        list(books.ledger._accruals),
        list(books.ledger._log),
        dict(books._income_cents),
        {name: books.obligations.owed_cents(name) for name in PARTIES},
    )


def billed_both_ways(terms: list[tuple]) -> tuple[Books, Books]:
    """The bills of ``terms`` filed with ``bill_contracts`` (batched) and with
    ``bill_contract`` one at a time (single), in two sets of books."""
    batched, bills_b = contracts_billed(terms)
    single, bills_s = contracts_billed(terms)
    batched.bill_contracts(3, bills_b)
    for contract, usd in bills_s:
        single.bill_contract(3, contract, usd)
    return batched, single


@settings(max_examples=200, deadline=None)
@given(st.lists(bill, max_size=30))
def test_bills_filed_as_batches_are_the_bills_filed_one_by_one(terms) -> None:
    batched, single = billed_both_ways(terms)
    assert bill_state(batched) == bill_state(single)
    for debtor in PARTIES:  # paid in full, batches whole: as their parts would be
        if batched.obligations.owed_cents(debtor):
            batched.pay_all(3, batched.obligations.take(debtor))
            single.pay_all(3, single.obligations.close(debtor))
    assert bill_state(batched) == bill_state(single)
    assert list(batched.ledger._allocations) == list(single.ledger._allocations)
    batched.ledger.check()
    # read one by one, a batch is its bills' obligations in the order they arose
    batched, single = billed_both_ways(terms)
    assert open_obligations(batched) == open_obligations(single)
