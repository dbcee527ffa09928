"""The instrument book's look-ups by agent agree with a scan of every instrument."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.instruments import CapacityContract, ChipOrder, InstrumentBook, Loan

NAMES = ("a", "b", "c", "d")
name = st.sampled_from(NAMES)
step = st.integers(0, 30)
event = st.one_of(
    # GPUs of any size: sums of mixed magnitudes tell a compensated sum from a running one
    st.tuples(
        st.just("contract"),
        name,
        name,
        step,
        st.integers(1, 12),
        st.booleans(),
        st.floats(0.01, 1e7, allow_nan=False),
    ),
    st.tuples(st.just("loan"), name, name, st.floats(1, 1e6), st.booleans()),
    st.tuples(st.just("order"), name, name, st.floats(1, 100), st.floats(0, 1)),
    st.tuples(st.just("prune"), step),
    # ask (fills the memo of contracted_gpus) and end a contract early: later answers must
    # still equal a fresh scan
    st.tuples(st.just("ask"), name, step),
    st.tuples(st.just("end"), st.integers(0, 40)),
    # a contract repriced (as books.reprice_contract does: then contract_repriced)
    st.tuples(st.just("reprice"), st.integers(0, 40), st.floats(0.5, 5)),
    # deliver or cancel part of an order (as the books' verbs do: then order_changed)
    st.tuples(st.just("deliver"), st.integers(0, 40), st.floats(0, 1)),
    st.tuples(st.just("cancel"), st.integers(0, 40)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(event, max_size=40), step)
def test_indexed_lookups_equal_full_scans(events, at) -> None:
    book = InstrumentBook()
    for ev in events:
        # each agent's contracts as they are, and their version: it changes whenever they do
        before = {x: (book.contracts_version(x), _terms_of(book, x)) for x in NAMES}
        _apply_event(book, ev, at)
        for x in NAMES:
            if _terms_of(book, x) != before[x][1]:
                assert book.contracts_version(x) != before[x][0], (ev, x)
    _check_answers(book, at)


def _terms_of(book: InstrumentBook, agent: str) -> list[tuple[object, ...]]:
    """``agent``'s contracts in the book, term by term (what a figure of them can read)."""
    return [
        (id(c), c.gpus, c.price_usd_per_gpu_hour, c.start, c.term_months, c.active, c.in_kind)
        for c in book.contracts
        if agent in (c.buyer, c.seller)
    ]


def _apply_event(book: InstrumentBook, ev: tuple, at: int) -> None:
    """Apply one event of :func:`test_indexed_lookups_equal_full_scans` to ``book``."""
    kind = ev[0]
    if kind == "contract":
        _, buyer, seller, start, term, active, gpus = ev
        book.add_contract(
            CapacityContract(
                book.new_id("c"),
                buyer,
                seller,
                gpus,
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
    elif kind == "ask":  # fill every memo: later answers must still equal fresh scans
        for when in (at, ev[2]):  # the memos hold answers at several months
            book.contracted_gpus(buyer=ev[1], step=when)
            book.contracted_gpus(seller=ev[1], step=when)
            book.contracted_gpus(buyer=ev[1], seller="a", step=when)
            book.contracted_gpus(step=when)
            book.contracts_of(ev[1], when)
            book.sales_in_force(ev[1], when)
            book.purchases_in_force(ev[1], when)
        book.contracts_of(ev[1])
        for when in (at, ev[2]):  # the backlog memos hold answers at several months
            book.backlog_terms(ev[1], when, 730.0)
            book.backlog_amounts(ev[1], when, 730.0)
        book.open_orders(buyer=ev[1])
        book.open_orders(buyer=ev[1], vendor="a")
        book.open_orders(vendor=ev[1])
        book.open_orders()
    elif kind in ("deliver", "cancel"):
        if book.orders:
            order = book.orders[ev[1] % len(book.orders)]
            before = (book.orders_version(order.buyer), book.orders_version(order.vendor))
            if kind == "deliver":
                order.delivered_units += order.undelivered * ev[2]
            else:
                order.units = order.delivered_units
            book.order_changed(order)
            after = (book.orders_version(order.buyer), book.orders_version(order.vendor))
            assert after[0] != before[0] and after[1] != before[1]
    elif kind == "reprice":
        if book.contracts:
            contract = book.contracts[ev[1] % len(book.contracts)]
            contract.price_usd_per_gpu_hour = ev[2]
            book.contract_repriced(contract)
    elif kind == "end":
        if book.contracts:
            book.end_contract(book.contracts[ev[1] % len(book.contracts)])
    else:
        book.prune(ev[1])
        # answers about months before the prune's are forgotten: a contract added looks
        # through fewer (a later question about such a month is scanned anew)
        kept_months = [
            month
            for answers in book._gpus_memo.values()
            for by_step in answers.values()
            for month in by_step
        ]
        kept_months += [
            m for listed in book._in_force_memo.values() for m in listed if m is not None
        ]
        assert all(month >= ev[1] for month in kept_months)


def _check_answers(book: InstrumentBook, at: int) -> None:
    """Every look-up of ``book`` equals a fresh scan of its instruments."""
    for x in NAMES:  # the memoised answers at every month asked
        for when in range(31):
            in_force = [c for c in book.contracts if c.in_force(when)]
            assert book.contracts_of(x, when) == [c for c in in_force if x in (c.buyer, c.seller)]
            assert book.sales_in_force(x, when) == [c for c in in_force if c.seller == x]
            assert book.purchases_in_force(x, when) == [c for c in in_force if c.buyer == x]
            assert book.contracted_gpus(buyer=x, step=when) == sum(
                c.gpus for c in in_force if c.buyer == x
            )
            assert book.contracted_gpus(seller=x, step=when) == sum(
                c.gpus for c in in_force if c.seller == x
            )
            assert book.contracted_gpus(buyer=x, seller="a", step=when) == sum(
                c.gpus for c in in_force if c.buyer == x and c.seller == "a"
            )
            assert book.contracted_gpus(step=when) == sum(c.gpus for c in in_force)
            selling = [
                c for c in book.contracts if c.seller == x and c.remaining_value(when, 730.0) > 0
            ]
            terms = book.backlog_terms(x, when, 730.0)
            assert terms.buyers == [c.buyer for c in selling]
            assert terms.values == [c.remaining_value(when, 730.0) for c in selling]
            # the backlog: sum() over every contract it sells, zeros and ended ones included
            assert book.backlog_usd(x, when, 730.0) == sum(
                c.remaining_value(when, 730.0) for c in book.contracts if c.seller == x
            )
            assert terms.months_left == [c.end - max(when, c.start) for c in selling]
            assert [terms.distinct[i] for i in terms.buyer_index] == terms.buyers
            assert terms.distinct == list(dict.fromkeys(terms.buyers))
    for x in NAMES:
        assert book.contracts_of(x) == [
            c for c in book.contracts if c.active and x in (c.buyer, c.seller)
        ]
        assert book.contracts_of(x, at) == [
            c for c in book.contracts if c.active and x in (c.buyer, c.seller) and c.in_force(at)
        ]
        assert book.contracted_gpus(buyer=x, step=at) == sum(
            c.gpus for c in book.contracts if c.in_force(at) and c.buyer == x
        )
        assert book.contracted_gpus(seller=x, step=at) == sum(
            c.gpus for c in book.contracts if c.in_force(at) and c.seller == x
        )
        assert book.backlog_usd(x, at, 730.0) == sum(
            c.remaining_value(at, 730.0) for c in book.contracts if c.seller == x
        )
        assert book.contracts_between(x, "a") == [
            c for c in book.contracts if c.seller == x and c.buyer == "a"
        ]
        assert book.loans_of(borrower=x) == [
            loan for loan in book.loans if loan.active and loan.borrower == x
        ]
        # what is undelivered of each order, kept, is what its units say
        assert all(o.undelivered == o.units - o.delivered_units for o in book.orders)
        assert book.open_orders(vendor=x) == [
            o for o in book.orders if o.undelivered > 1e-9 and o.vendor == x
        ]
        assert book.open_orders(buyer=x) == [
            o for o in book.orders if o.undelivered > 1e-9 and o.buyer == x
        ]
        assert book.open_orders(buyer=x, vendor="a") == [
            o for o in book.orders if o.undelivered > 1e-9 and o.buyer == x and o.vendor == "a"
        ]
        assert book.debt_usd(x) == sum(
            loan.outstanding for loan in book.loans if loan.active and loan.borrower == x
        )
        terms = book.backlog_terms(x, at, 730.0)
        selling = [c for c in book.contracts if c.seller == x and c.remaining_value(at, 730.0) > 0]
        assert terms.buyers == [c.buyer for c in selling]
        assert terms.distinct == list(dict.fromkeys(terms.buyers))
        assert [terms.distinct[i] for i in terms.buyer_index] == terms.buyers
        assert terms.values == [c.remaining_value(at, 730.0) for c in selling]
        assert book.backlog_usd(x, at, 730.0) == sum(
            c.remaining_value(at, 730.0) for c in book.contracts if c.seller == x
        )
        assert terms.months_left == [c.end - max(at, c.start) for c in selling]
        assert all(type(v) is float for v in terms.values)
        assert all(type(m) is int for m in terms.months_left)
        by_buyer: dict[str, float] = {}
        for c in book.contracts:
            if c.active and c.seller == x:
                by_buyer[c.buyer] = by_buyer.get(c.buyer, 0.0) + c.remaining_value(at, 730.0)
        assert list(book.backlog_amounts(x, at, 730.0).items()) == list(by_buyer.items())
        assert book.contracted_gpus(step=at) == sum(
            c.gpus for c in book.contracts if c.in_force(at)
        )
        assert book.open_orders() == [o for o in book.orders if o.undelivered > 1e-9]
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


def test_contracted_gpus_follow_every_change_of_the_contracts() -> None:
    """contracted_gpus remembers its answers; adding, ending and pruning contracts must
    forget them (hand case: 10 + 30 GPUs in force at month 3, then 30, then 30 + 5, then 5)."""
    book = InstrumentBook()
    first = book.add_contract(CapacityContract("c1", "a", "b", 10.0, 2.0, 0, 12, 0.5))
    book.add_contract(CapacityContract("c2", "a", "b", 30.0, 2.0, 0, 4, 0.5))
    assert book.contracted_gpus(buyer="a", step=3) == 40.0
    assert book.contracted_gpus(seller="b", step=3) == 40.0
    book.end_contract(first)
    assert book.contracted_gpus(buyer="a", step=3) == 30.0
    assert book.contracted_gpus(seller="b", step=3) == 30.0
    book.add_contract(CapacityContract("c3", "a", "b", 5.0, 2.0, 2, 12, 0.5))
    assert book.contracted_gpus(buyer="a", seller="b", step=3) == 35.0
    book.prune(4)  # c2 ends at month 4 and c1 was ended: only c3 is left
    assert [c.id for c in book.contracts] == ["c3"]
    assert book.contracted_gpus(buyer="a", step=3) == 5.0


def test_memoised_answers_follow_a_contract_added_and_ended() -> None:
    """Answers asked before a contract is added (or ended) equal fresh scans after it: the
    lists in force and sums of GPUs of the months of its term and of its parties change,
    the others stay as they were (the months asked include the last of its term and the
    first after it)."""
    book = InstrumentBook()
    book.add_contract(CapacityContract("c-0", "a", "c", 3.0, 1.0, 0, 20, 0.5))

    def ask() -> list[object]:
        return [
            [c.id for c in book.contracts_of(x, step)] for x in "abc" for step in (None, 0, 3, 12)
        ] + [
            book.contracted_gpus(buyer=buyer, seller=seller, step=step)
            for buyer in (None, "a", "c")
            for seller in (None, "b", "c")
            for step in (0, 3, 9, 10, 12)
        ]

    def scan() -> list[object]:
        return [
            [
                c.id
                for c in book.contracts
                if c.active and x in (c.buyer, c.seller) and (step is None or c.in_force(step))
            ]
            for x in "abc"
            for step in (None, 0, 3, 12)
        ] + [
            sum(
                c.gpus
                for c in book.contracts
                if c.in_force(step)
                and (buyer is None or c.buyer == buyer)
                and (seller is None or c.seller == seller)
            )
            for buyer in (None, "a", "c")
            for seller in (None, "b", "c")
            for step in (0, 3, 9, 10, 12)
        ]

    ask()
    contract = book.add_contract(CapacityContract("c-1", "a", "b", 2.0, 1.0, 0, 10, 0.5))
    assert ask() == scan()
    book.end_contract(contract)
    assert ask() == scan()


def test_answers_kept_through_a_prune_equal_new_scans() -> None:
    """Asked before a prune at month 3 (the sums of GPUs of months 3 and later are kept,
    the earlier ones forgotten), every answer after it equals a new scan of what is left
    (c1, over at month 3, is pruned)."""
    book = InstrumentBook()
    book.add_contract(CapacityContract("c1", "a", "b", 10.0, 2.0, 0, 3, 0.5))
    book.add_contract(CapacityContract("c2", "a", "b", 30.0, 2.0, 0, 10, 0.5))
    book.add_contract(CapacityContract("c3", "c", "b", 5.0, 2.0, 2, 5, 0.5))
    months = range(7)

    def answers() -> list[object]:
        return [
            *[[c.id for c in book.contracts_of(x)] for x in "abc"],
            *[[c.id for c in book.contracts_of(x, m)] for x in "abc" for m in months],
            *[book.contracted_gpus(seller="b", step=m) for m in months],
            *[book.contracted_gpus(buyer="a", step=m) for m in months],
            *[book.contracted_gpus(step=m) for m in months],
            *[book.backlog_terms("b", m, 730.0).buyers for m in months],
            *[list(book.backlog_amounts("b", m, 730.0).items()) for m in months],
        ]

    answers()  # every memo filled
    book.prune(3)
    assert [c.id for c in book.contracts] == ["c2", "c3"]
    kept = answers()
    book._forget_in_force()  # every answer forgotten: new scans
    assert kept == answers()


def test_kept_sales_in_force_follow_a_contract_added_and_ended() -> None:
    """A seller's contracts in force, kept between questions, include a sale added after
    the question and drop one ended, as a fresh scan does (and its purchases never); its
    purchases, kept apart, likewise."""
    book = InstrumentBook()
    book.add_contract(CapacityContract("c-0", "a", "b", 3.0, 1.0, 0, 20, 0.5))
    book.add_contract(CapacityContract("c-1", "b", "c", 3.0, 1.0, 0, 20, 0.5))  # b buys
    assert [c.id for c in book.sales_in_force("b", 3)] == ["c-0"]
    assert [c.id for c in book.purchases_in_force("b", 3)] == ["c-1"]
    assert book.sales_in_force("b", 3) is book.sales_in_force("b", 3)  # kept
    assert book.purchases_in_force("b", 3) is book.purchases_in_force("b", 3)
    added = book.add_contract(CapacityContract("c-2", "d", "b", 2.0, 1.0, 0, 10, 0.5))
    bought = book.add_contract(CapacityContract("c-3", "b", "e", 2.0, 1.0, 0, 10, 0.5))
    assert [c.id for c in book.sales_in_force("b", 3)] == ["c-0", "c-2"]
    assert [c.id for c in book.purchases_in_force("b", 3)] == ["c-1", "c-3"]
    book.end_contract(added)
    book.end_contract(bought)
    assert [c.id for c in book.sales_in_force("b", 3)] == ["c-0"]
    assert [c.id for c in book.purchases_in_force("b", 3)] == ["c-1"]


# GPUs whose compensated sum() depends on their order: the last added first gives another
# double (found by a random search; Python's sum() of floats is Neumaier's since 3.12)
ORDER_SENSITIVE_GPUS = (
    228698418577408.0,
    1.625,
    3221225472.0,
    1.1275702593849246e-17,
    1.214306433183765e-17,
    914793674309632.0,
)


def test_a_contract_added_extends_the_sums_of_gpus_as_a_new_scan_adds_them() -> None:
    """A sum of GPUs asked before a contract is added becomes, after it, sum() of the same
    terms with the new contract's GPUs last, as a new scan adds them: the very double, not
    the sum in another order (which differs for these GPUs)."""
    *before, last = ORDER_SENSITIVE_GPUS
    assert sum([last, *before]) != sum(ORDER_SENSITIVE_GPUS)  # the order shows
    book = InstrumentBook()
    for k, gpus in enumerate(before):
        book.add_contract(CapacityContract(f"c-{k}", "a", "b", gpus, 1.0, 0, 12, 0.5))
    asked = [(None, None), ("a", None), (None, "b"), ("a", "b")]
    for buyer, seller in asked:  # filled memos
        book.contracted_gpus(buyer=buyer, seller=seller, step=3)
    book.add_contract(CapacityContract("c-last", "a", "b", last, 1.0, 0, 12, 0.5))
    for buyer, seller in asked:
        assert book.contracted_gpus(buyer=buyer, seller=seller, step=3) == sum(ORDER_SENSITIVE_GPUS)


def test_backlog_is_python_sum_of_the_remaining_values() -> None:
    """A seller's backlog is ``sum()`` of its contracts' remaining values (Python's
    compensated sum), not their running total: GPUs picked so that the two differ."""
    book = InstrumentBook()
    for gpus in (0.1, 0.1, 0.1, 123.456, 0.013, 0.013):
        book.add_contract(CapacityContract(book.new_id("c"), "lab", "neo", gpus, 2.0, 0, 12, 0.5))
    values = [c.remaining_value(0, 730.0) for c in book.contracts]
    running = 0.0
    for value in values:
        running += value
    assert running != sum(values)  # the case tells them apart
    assert book.backlog_usd("neo", 0, 730.0) == sum(values)
    assert book.backlog_terms("neo", 0, 730.0).running_total == running


quantity = st.floats(min_value=0.0, max_value=1e9, allow_nan=False) | st.sampled_from([0.0, 5.0])


@settings(max_examples=300, deadline=None)
@given(used=quantity, available=quantity, share=st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0, 1))
def test_amount_due_is_take_or_pay(used: float, available: float, share: float) -> None:
    """A month's bill: the buyer pays for what it used of what was available, and at least
    the take-or-pay share of what was available — bit for bit the builtins' max and min
    (equal amounts included)."""
    contract = CapacityContract("c", "lab", "neo", 10.0, 2.5, 0, 12, share)
    expected = max(min(used, available), share * available) * 730.0 * 2.5
    assert contract.amount_due(used, available, 730.0) == expected
