"""The double-entry ledger: postings balance, bad amounts and accounts are refused."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.ledger import ASSETS, Flow, InsufficientCash, Ledger, LedgerError, Line


def books() -> Ledger:
    ledger = Ledger()
    for name in ("lab", "cloud", "bank"):
        ledger.open_account(name)
    ledger.post(0, "world:founders", "lab", 100.0, Flow.FOUNDING_CAPITAL)
    ledger.post(0, "world:founders", "bank", 1000.0, Flow.FOUNDING_CAPITAL)
    return ledger


def test_accrual_then_settlement_moves_cash_once() -> None:
    ledger = books()
    ledger.post(1, "lab", "cloud", 40.0, Flow.COMPUTE_DUE, "c-1")
    assert ledger.balance("lab", Line.PAYABLES) == 40.0
    assert ledger.balance("cloud", Line.RECEIVABLES) == 40.0
    assert ledger.cash("lab") == 100.0  # an accrual moves no cash
    ledger.post(1, "lab", "cloud", 40.0, Flow.COMPUTE_PAYMENT, "c-1")
    assert ledger.cash("lab") == 60.0 and ledger.cash("cloud") == 40.0
    assert ledger.balance("lab", Line.PAYABLES) == 0.0
    assert ledger.balance("lab", Line.RETAINED) == -40.0  # an expense
    assert ledger.balance("cloud", Line.RETAINED) == 40.0  # revenue
    ledger.check()
    flows = ledger.flows()
    assert list(flows["kind"]) == ["founding_capital", "founding_capital", "compute_payment"]
    assert list(ledger.accruals()["kind"]) == ["compute_due"]


def test_loan_and_write_off_keep_books_balanced() -> None:
    ledger = books()
    ledger.post(1, "bank", "cloud", 500.0, Flow.LOAN_ADVANCE, "loan-1")
    assert ledger.balance("cloud", Line.DEBT) == 500.0
    assert ledger.balance("bank", Line.LOANS) == 500.0
    ledger.post(2, "cloud", "bank", 500.0, Flow.LOAN_WRITE_OFF, "loan-1")
    assert ledger.balance("bank", Line.LOANS) == 0.0
    assert ledger.balance("bank", Line.RETAINED) == -500.0
    assert ledger.equity("cloud") == 500.0
    ledger.check()


@pytest.mark.parametrize("amount", [-1.0, math.nan, math.inf, -math.inf, "10", None, True])
def test_bad_amounts_are_refused(amount: object) -> None:
    ledger = books()
    with pytest.raises(LedgerError, match="amount"):
        ledger.post(1, "lab", "cloud", amount, Flow.COMPUTE_PAYMENT)  # type: ignore[arg-type]


def test_unknown_account_and_wrong_boundary_are_refused() -> None:
    ledger = books()
    with pytest.raises(LedgerError, match="unknown account 'nobody'"):
        ledger.post(1, "lab", "nobody", 1.0, Flow.COMPUTE_DUE)
    with pytest.raises(LedgerError, match="boundary"):
        ledger.post(1, "world:customers", "lab", 1.0, Flow.COMPUTE_PAYMENT)
    with pytest.raises(LedgerError, match="cannot hold books"):
        ledger.open_account("world:x")
    with pytest.raises(LedgerError, match="already exists"):
        ledger.open_account("lab")


def test_nobody_overdraws() -> None:
    ledger = books()
    with pytest.raises(InsufficientCash, match=r"lab has \$100\.00 cash"):
        ledger.post(1, "lab", "world:operations", 100.01, Flow.OPERATING_COST)
    ledger.check()


def test_journal_entries_may_not_touch_cash() -> None:
    ledger = books()
    with pytest.raises(LedgerError, match="may not touch cash"):
        ledger.journal(1, "lab", Line.CASH, Line.RETAINED, 1.0, "free money")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["lab", "cloud", "bank"]),
            st.sampled_from(["lab", "cloud", "bank"]),
            st.floats(0, 1e12, allow_nan=False),
            st.sampled_from(
                [
                    Flow.COMPUTE_DUE,
                    Flow.INTEREST_DUE,
                    Flow.EQUITY_INVESTMENT,
                    Flow.LOAN_ADVANCE,
                    Flow.COMPUTE_PAYMENT,
                ]
            ),
        ),
        max_size=40,
    )
)
def test_any_sequence_of_postings_balances(posts: list[tuple[str, str, float, Flow]]) -> None:
    ledger = books()
    for payer, payee, amount, flow in posts:
        if payer == payee:
            continue
        with contextlib.suppress(InsufficientCash):
            ledger.post(1, payer, payee, amount, flow)
    ledger.check()  # balanced books, no negative cash, cash conserved
    assert ledger.total_cash_cents() == 110_000


_PARTIES = ("a", "b", "world:x", "nobody")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(_PARTIES),
            st.sampled_from(_PARTIES),
            st.integers(min_value=-1, max_value=10**6),
            st.sampled_from(list(Flow)),
        ),
        max_size=40,
    )
)
def test_fast_posting_path_agrees_with_the_checked_one(
    posts: list[tuple[str, str, int, Flow]],
) -> None:
    """The common-case path of post_cents and the fully checked path give the same books,
    logs and errors (text included) for every flow, amount and pair of parties."""
    fast, checked = Ledger(), Ledger()
    for ledger in (fast, checked):
        for name in ("a", "b"):
            ledger.open_account(name)
        ledger.post(0, "world:x", "a", 1e4, Flow.FOUNDING_CAPITAL)
    for step, (payer, payee, cents, flow) in enumerate(posts):
        outcomes = []
        for post in (fast.post_cents, checked._post_checked):
            try:
                outcomes.append(post(step, payer, payee, cents, flow, "i"))
            except LedgerError as exc:
                outcomes.append((type(exc), str(exc)))
        assert outcomes[0] == outcomes[1], (payer, payee, cents, flow)
    assert fast._books == checked._books
    assert (fast._log, fast._accruals, fast._moved) == (
        checked._log,
        checked._accruals,
        checked._moved,
    )
    assert (fast.external_in_cents, fast.external_out_cents) == (
        checked.external_in_cents,
        checked.external_out_cents,
    )


def agree_with_one_posting_each(
    batched_post: Callable[[Ledger], None], single_post: Callable[[Ledger], None]
) -> None:
    """A batched posting call and the same postings one by one, each on a fresh ledger with
    accounts a and b: the same books and accrual log, no cash log, and the same error (or
    none) from the first bad posting."""
    batched, single = Ledger(), Ledger()
    for ledger in (batched, single):
        for name in ("a", "b"):
            ledger.open_account(name)
    errors = []
    for ledger, post in ((batched, batched_post), (single, single_post)):
        try:
            post(ledger)
        except LedgerError as exc:
            errors.append(str(exc))
    assert len(errors) in (0, 2) and len(set(errors)) <= 1
    assert batched._books == single._books
    assert batched._accruals == single._accruals
    assert batched._log == single._log == []


PAYERS = st.sampled_from(["a", "b", "world:x", "nobody"])
"""Payers of the batched-posting tests: two books, the outside world, an unknown account."""
PAYEES = st.sampled_from(["a", "b", "world:x"])
CENTS = st.integers(min_value=-2, max_value=10**6)
"""Amounts, a negative one (refused) and zero (skipped) among them."""


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from(["a", "b"]),
            st.integers(min_value=0, max_value=10**6),
            st.sampled_from([Flow.INTEREST_DUE, Flow.COMPUTE_DUE]),
            st.sampled_from(["i", "j", "k"]),
        ),
        max_size=30,
    )
    | st.lists(
        st.tuples(
            PAYERS,
            PAYEES,
            CENTS,
            st.sampled_from(
                [Flow.INTEREST_DUE, Flow.PRINCIPAL_DUE, Flow.COMPUTE_DUE, Flow.COMPUTE_PAYMENT]
            ),
            st.just("i"),
        ),
        max_size=30,
    )
)
def test_grouped_accruals_agree_with_one_posting_each(
    rows: list[tuple[str, str, int, Flow, str]],
) -> None:
    """post_accrual_groups gives the books and accrual log of post_cents row by row (zero
    amounts skipped; the books changed once a group where every group is an accrual
    between two books), raises the error the first bad row raises, and returns the rows
    posted grouped by (payer, payee, flow) in the order each group first arose."""
    returned: list[dict] = []

    def one_by_one(ledger: Ledger) -> None:
        for payer, payee, cents, flow, instrument in rows:
            ledger.post_cents(3, payer, payee, cents, flow, instrument)

    def grouped(ledger: Ledger) -> None:
        returned.append(ledger.post_accrual_groups(3, rows))

    agree_with_one_posting_each(grouped, one_by_one)
    if returned:  # no error: the groups are the rows posted, in order
        expected: dict[tuple[str, str, Flow], tuple[list[int], list[str]]] = {}
        for payer, payee, cents, flow, instrument in rows:
            if cents:
                group = expected.setdefault((payer, payee, flow), ([], []))
                group[0].append(cents)
                group[1].append(instrument)
        assert list(returned[0].items()) == list(expected.items())


@given(st.lists(st.tuples(PAYERS, PAYEES, CENTS, CENTS), max_size=30))
def test_instalments_agree_with_one_posting_each(
    rows: list[tuple[str, str, int, int]],
) -> None:
    """post_instalments gives the books and accrual log of post_cents of the interest and
    then the principal of each row (zero amounts skipped), and raises the error the first
    bad posting raises."""

    def one_by_one(ledger: Ledger) -> None:
        for payer, payee, interest, principal in rows:
            for cents, flow in ((interest, Flow.INTEREST_DUE), (principal, Flow.PRINCIPAL_DUE)):
                if cents:
                    ledger.post_cents(3, payer, payee, cents, flow, "i")

    agree_with_one_posting_each(
        lambda ledger: ledger.post_instalments(
            3, [(p, q, i, c, "i") for p, q, i, c in rows], Flow.INTEREST_DUE, Flow.PRINCIPAL_DUE
        ),
        one_by_one,
    )


def test_instalments_refuse_flows_that_are_not_accruals_between_books() -> None:
    with pytest.raises(LedgerError):
        Ledger().post_instalments(0, [], Flow.INTEREST_DUE, Flow.INTEREST_PAYMENT)


@given(st.lists(st.integers(-(10**17), 10**17), min_size=1, max_size=8))
def test_assets_are_the_sum_of_each_asset_balance(cents: list[int]) -> None:
    """``assets_usd`` is ``sum()`` of the asset lines' balances in dollars, in the order
    of ASSETS: the very double a reader summing ``balance`` line by line gets (large
    balances of both signs, where the order and the rounding of each line matter)."""
    ledger = Ledger()
    ledger.open_account("x")
    book = ledger._book("x")
    for line, amount in zip(ASSETS, cents * len(ASSETS), strict=False):
        book[line] = amount
    assert ledger.assets_usd("x") == sum(ledger.balance("x", line) for line in ASSETS)
    with pytest.raises(LedgerError):
        ledger.assets_usd("nobody")
