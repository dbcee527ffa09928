"""Compute bills filed as batches (issue 20, item 1).

``Books.bill_contracts`` files each buyer's bills as one ``ObligationBatch``, grouped by
seller. On random bills (prepaid or not, numpy amounts, a contract billed twice) it must
leave what ``Books.bill_contract`` one bill at a time leaves: the books, both logs, the
covenant month's operating income, the obligations one by one, and — once paid with the
batches whole — the flow log and the allocations.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.books import Books
from sim.instruments import CapacityContract
from sim.ledger import Flow

PARTIES = ("neo-a", "neo-b", "bank", "fund")


def open_obligations(books: Books) -> list[tuple]:
    return [
        (ob.debtor, ob.creditor, ob.cents, ob.flow, ob.instrument, ob.step, ob.kind)
        for debtor in books.obligations.debtors()
        for ob in books.obligations.of(debtor)
    ]


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
