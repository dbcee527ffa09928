"""The instrument book's look-ups by agent agree with a scan of every instrument."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.instruments import CapacityContract, ChipOrder, InstrumentBook, Loan

NAMES = ("a", "b", "c", "d")
name = st.sampled_from(NAMES)
step = st.integers(0, 30)
event = st.one_of(
    st.tuples(st.just("contract"), name, name, step, st.integers(1, 12), st.booleans()),
    st.tuples(st.just("loan"), name, name, st.floats(1, 1e6), st.booleans()),
    st.tuples(st.just("order"), name, name, st.floats(1, 100), st.floats(0, 1)),
    st.tuples(st.just("prune"), step),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(event, max_size=40), step)
def test_indexed_lookups_equal_full_scans(events, at) -> None:
    book = InstrumentBook()
    for ev in events:
        kind = ev[0]
        if kind == "contract":
            _, buyer, seller, start, term, active = ev
            book.add_contract(
                CapacityContract(
                    book.new_id("c"),
                    buyer,
                    seller,
                    10.0 + start,
                    2.0,
                    start,
                    term,
                    0.5,
                    active=active,
                )
            )
        elif kind == "loan":
            _, lender, borrower, principal, active = ev
            book.add_loan(
                Loan(book.new_id("l"), lender, borrower, principal, 0.1, 0, 12, active=active)
            )
        elif kind == "order":
            _, buyer, vendor, units, delivered = ev
            book.add_order(
                ChipOrder(
                    book.new_id("o"),
                    buyer,
                    vendor,
                    units,
                    1.0,
                    0,
                    3,
                    4,
                    delivered_units=units * delivered,
                )
            )
        else:
            book.prune(ev[1])
    for x in NAMES:
        assert book.contracts_of(x, at) == [
            c for c in book.contracts if c.active and x in (c.buyer, c.seller) and c.in_force(at)
        ]
        assert book.contracted_gpus(buyer=x, step=at) == sum(
            c.gpus for c in book.contracts if c.in_force(at) and c.buyer == x
        )
        assert book.backlog_usd(x, at, 730.0) == sum(
            c.remaining_value(at, 730.0) for c in book.contracts if c.seller == x
        )
        assert book.loans_of(borrower=x) == [
            loan for loan in book.loans if loan.active and loan.borrower == x
        ]
        assert book.open_orders(vendor=x) == [
            o for o in book.orders if o.undelivered > 1e-9 and o.vendor == x
        ]
        for y in NAMES:
            assert book.loans_of(borrower=x, lender=y) == [
                loan
                for loan in book.loans
                if loan.active and loan.borrower == x and loan.lender == y
            ]
            assert book.contracted_gpus(buyer=x, seller=y, step=at) == sum(
                c.gpus for c in book.contracts if c.in_force(at) and c.buyer == x and c.seller == y
            )
            assert book.contracts_between(seller=x, buyer=y) == [
                c for c in book.contracts if c.seller == x and c.buyer == y
            ]
