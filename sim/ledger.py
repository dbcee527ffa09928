"""Double-entry books for every agent, and the flow log of every payment.

The ledger is the only place money lives. Each agent has one set of books with the
balance-sheet lines of :class:`Line` (assets, liabilities, equity), kept in integer cents so
that the books balance exactly. Agents never write their own books: they ask the ledger.

Two kinds of entry exist:

* a **posting** (:meth:`Ledger.post`) between two named parties — one row of the flow log.
  Its :class:`Flow` says which lines of the payer's and the payee's books it debits and
  credits. Cash postings move cash; accruals (a take-or-pay invoice falling due) move no
  cash but create a receivable and a payable. Parties whose id starts with ``world:`` are
  outside the system (end-user customers, suppliers of power and facilities, founders); they
  have no books, and every posting with them is an external inflow or outflow.
* a **journal entry** (:meth:`Ledger.journal`) inside one agent's books that moves no cash:
  depreciation, impairment, a stake marked to market.

Because every entry debits and credits the same amount, each agent's books balance after
every entry (assets = liabilities + equity); :meth:`Ledger.check` proves it, and proves that
total cash equals the opening cash plus external inflows minus external outflows.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum

import numpy as np
import pandas as pd

WORLD_PREFIX = "world:"
"""Ids with this prefix are outside the system: they have no books."""

CENTS_PER_USD = 100


class LedgerError(ValueError):
    """A posting the books cannot accept (bad amount, unknown account, overdraft)."""


class InsufficientCash(LedgerError):
    """The payer's cash does not cover a cash posting."""


class Line(StrEnum):
    """A balance-sheet line. Assets first, then liabilities, then equity."""

    CASH = "cash"
    RECEIVABLES = "receivables"  # amounts due from others, accrued and unpaid
    FLEET = "fleet"  # GPUs and facilities at book value (incl. under construction)
    STAKES = "stakes"  # equity stakes in other agents, marked to market
    LOANS = "loans"  # loans granted, outstanding principal
    INVENTORY = "inventory"  # chips produced but not delivered (vendors)
    PREPAID = "prepaid"  # compute paid for in advance, not yet used (labs)
    PAYABLES = "payables"  # amounts due to others, accrued and unpaid
    DEFERRED_REVENUE = "deferred_revenue"  # prepayments received, compute not yet delivered
    DEBT = "debt"  # loans taken, outstanding principal not yet due
    PAID_IN = "paid_in"  # equity capital contributed by shareholders
    RETAINED = "retained"  # cumulative profit and loss

    # Enum hashes its member's name in Python code; every posting looks lines up in a dict,
    # so hash as the string the line is (C code; the same equality, the same order of dicts)
    __hash__ = str.__hash__


ASSETS = (
    Line.CASH,
    Line.RECEIVABLES,
    Line.FLEET,
    Line.STAKES,
    Line.LOANS,
    Line.INVENTORY,
    Line.PREPAID,
)
LIABILITIES = (Line.PAYABLES, Line.DEBT, Line.DEFERRED_REVENUE)
EQUITY = (Line.PAID_IN, Line.RETAINED)


@dataclass(frozen=True)
class Treatment:
    """How a flow hits the books: (debit, credit) line on the payer's and the payee's side.

    ``None`` on a side means that side is outside the system (a ``world:`` party) and the
    posting must name one there. A debit raises an asset or lowers a liability/equity line; a
    credit does the opposite.
    """

    payer_debit: Line | None
    payer_credit: Line | None
    payee_debit: Line | None
    payee_credit: Line | None

    @property
    def moves_cash(self) -> bool:
        return Line.CASH in (self.payer_credit, self.payee_debit)


R, C, P, D = Line.RETAINED, Line.CASH, Line.PAYABLES, Line.DEBT


@dataclass(frozen=True, slots=True)
class _PostingPlan:
    """A :class:`Treatment` compiled for the posting path: which side is outside, and the
    signed change of each line it touches (+1 or −1 per cent), so a posting is four
    additions and no lookups of the line's side."""

    label: str
    payer_outside: bool
    payee_outside: bool
    payer_debit: Line | None
    payer_debit_sign: int
    payer_credit: Line | None
    payer_credit_sign: int
    payee_debit: Line | None
    payee_debit_sign: int
    payee_credit: Line | None
    payee_credit_sign: int
    payer_pays_cash: bool  # the payer's cash falls (it must cover the amount)
    moves_cash: bool
    external_in: bool  # from outside into a book's cash
    external_out: bool  # from a book's cash to outside

    @property
    def legs(self) -> tuple[Line | None, int, Line | None, int, Line | None, int, Line | None, int]:
        """The four lines it touches with their signs: payer debit, payer credit, payee
        debit, payee credit (the hot loops read them into locals once)."""
        return (
            self.payer_debit,
            self.payer_debit_sign,
            self.payer_credit,
            self.payer_credit_sign,
            self.payee_debit,
            self.payee_debit_sign,
            self.payee_credit,
            self.payee_credit_sign,
        )

    @classmethod
    def of(cls, label: str, t: Treatment) -> _PostingPlan:
        def sign(line: Line | None, debit: bool) -> int:
            if line is None:
                return 0
            return 1 if (line in ASSETS) == debit else -1

        return cls(
            label=label,
            payer_outside=t.payer_debit is None,
            payee_outside=t.payee_debit is None,
            payer_debit=t.payer_debit,
            payer_debit_sign=sign(t.payer_debit, True),
            payer_credit=t.payer_credit,
            payer_credit_sign=sign(t.payer_credit, False),
            payee_debit=t.payee_debit,
            payee_debit_sign=sign(t.payee_debit, True),
            payee_credit=t.payee_credit,
            payee_credit_sign=sign(t.payee_credit, False),
            payer_pays_cash=t.payer_credit is Line.CASH,
            moves_cash=t.moves_cash,
            external_in=t.payer_debit is None and t.payee_debit is Line.CASH,
            external_out=t.payee_debit is None and t.payer_credit is Line.CASH,
        )


class Flow(Enum):
    """Every kind of posting, with its label in the logs and its accounting treatment.

    Accruals (``*_DUE``) move no cash: an obligation falls due, creating a receivable and a
    payable; they go to the accrual log. The matching cash payment (``*_PAYMENT``) settles
    the payable and goes to the flow log, which therefore holds exactly the money that moved.
    """

    # --- from outside the system (external inflows) ---
    FOUNDING_CAPITAL = ("founding_capital", Treatment(None, None, C, Line.PAID_IN))
    SERVICE_REVENUE = ("service_revenue", Treatment(None, None, C, R))
    OTHER_BUSINESS_INCOME = ("other_business_income", Treatment(None, None, C, R))
    DEPOSIT_INTEREST = ("deposit_interest", Treatment(None, None, C, R))  # on cash held
    # compute sold to (or used in-house for) buyers beyond the frontier labs
    OUTSIDE_COMPUTE = ("outside_compute", Treatment(None, None, C, R))
    # --- to outside the system (external outflows) ---
    OPERATING_COST = ("operating_cost", Treatment(R, C, None, None))
    COST_OF_GOODS = ("cost_of_goods", Treatment(R, C, None, None))
    FACILITY_CAPEX = ("facility_capex", Treatment(Line.FLEET, C, None, None))
    # a hyperscaler's capex for its businesses outside AI compute, expensed: their asset base
    # is in steady state, so the capex that keeps it is its depreciation
    OTHER_BUSINESS_CAPEX = ("other_business_capex", Treatment(R, C, None, None))
    DEFAULT_COST = ("default_cost", Treatment(R, C, None, None))  # lost in bankruptcy
    # a fund pays money back to its own investors (performance-chasing outflow)
    REDEMPTION = ("redemption", Treatment(Line.PAID_IN, C, None, None))
    # existing shares bought from founders, employees and early holders (outside the system)
    SECONDARY_PURCHASE = ("secondary_purchase", Treatment(Line.STAKES, C, None, None))
    PAYOUT_EXTERNAL = ("payout", Treatment(R, C, None, None))  # to shareholders outside
    # --- accruals inside the system: an obligation falls due, no cash moves ---
    COMPUTE_DUE = ("compute_due", Treatment(R, P, Line.RECEIVABLES, R))
    INTEREST_DUE = ("interest_due", Treatment(R, P, Line.RECEIVABLES, R))
    PRINCIPAL_DUE = ("principal_due", Treatment(D, P, Line.RECEIVABLES, Line.LOANS))
    CHIP_INVOICE_DUE = ("chip_invoice_due", Treatment(Line.FLEET, P, Line.RECEIVABLES, R))
    # a defaulted buyer's terminated take-or-pay contract: the seller's claim on its estate
    ESTATE_CLAIM_DUE = ("estate_claim_due", Treatment(R, P, Line.RECEIVABLES, R))
    # a buyer cancels chips on order: the vendor earns the fee, the buyer loses it
    CANCELLATION_FEE_DUE = ("cancellation_fee_due", Treatment(R, P, Line.RECEIVABLES, R))
    # a lab owes a partner its share of the month's end-user revenue (a revenue-share deal)
    REVENUE_SHARE_DUE = ("revenue_share_due", Treatment(R, P, Line.RECEIVABLES, R))
    # --- cash inside the system: payables settled ---
    COMPUTE_PAYMENT = ("compute_payment", Treatment(P, C, C, Line.RECEIVABLES))
    INTEREST_PAYMENT = ("interest", Treatment(P, C, C, Line.RECEIVABLES))
    PRINCIPAL_PAYMENT = ("principal", Treatment(P, C, C, Line.RECEIVABLES))
    CHIP_PAYMENT = ("chip_payment", Treatment(P, C, C, Line.RECEIVABLES))
    ESTATE_PAYMENT = ("estate_payment", Treatment(P, C, C, Line.RECEIVABLES))
    CANCELLATION_FEE_PAYMENT = ("cancellation_fee_payment", Treatment(P, C, C, Line.RECEIVABLES))
    REVENUE_SHARE_PAYMENT = ("revenue_share_payment", Treatment(P, C, C, Line.RECEIVABLES))
    # --- cash inside the system: capital ---
    LOAN_ADVANCE = ("loan_advance", Treatment(Line.LOANS, C, C, D))
    VENDOR_FINANCING = ("vendor_financing", Treatment(Line.LOANS, C, C, D))  # a vendor lends
    EQUITY_INVESTMENT = ("equity_investment", Treatment(Line.STAKES, C, C, Line.PAID_IN))
    DIVIDEND = ("dividend", Treatment(R, C, C, R))  # a payout to a shareholder in the model
    ASSET_SALE = ("asset_sale", Treatment(Line.FLEET, C, C, Line.FLEET))  # payer = buyer
    # a restructuring: the lender (payer) gives up loan principal for new shares of the borrower
    DEBT_FOR_EQUITY = ("debt_for_equity", Treatment(Line.STAKES, Line.LOANS, D, Line.PAID_IN))
    # a convertible note converts at a priced round: the lender (payer) gives up the note for
    # new shares of the borrower
    NOTE_CONVERSION = ("note_conversion", Treatment(Line.STAKES, Line.LOANS, D, Line.PAID_IN))
    # a convertible note's interest paid in kind: the borrower (payer) owes it as more debt
    INTEREST_CAPITALISED = ("interest_capitalised", Treatment(R, D, Line.LOANS, R))
    # forbearance in a restructuring: principal that fell due and is unpaid goes back into the
    # loan (the borrower, payer, owes it as debt again; the lender holds it as a loan again)
    PRINCIPAL_DEFERRED = ("principal_deferred", Treatment(P, D, Line.LOANS, Line.RECEIVABLES))
    # --- contract prepayments: paid in cash at signing, then used against the bills ---
    COMPUTE_PREPAYMENT = (
        "compute_prepayment",
        Treatment(Line.PREPAID, C, C, Line.DEFERRED_REVENUE),
    )
    PREPAYMENT_USED = ("prepayment_used", Treatment(R, Line.PREPAID, Line.DEFERRED_REVENUE, R))
    # unused at the end of the term, or the buyer defaulted: the seller keeps it
    PREPAYMENT_FORFEITED = (
        "prepayment_forfeited",
        Treatment(R, Line.PREPAID, Line.DEFERRED_REVENUE, R),
    )
    # --- compute paid in the buyer's own shares (compute credits), no cash ---
    COMPUTE_CREDIT = ("compute_credit", Treatment(P, Line.PAID_IN, Line.STAKES, Line.RECEIVABLES))
    # --- losses between two parties, no cash: the payer is the defaulter ---
    RECEIVABLE_WRITE_OFF = ("receivable_write_off", Treatment(P, R, R, Line.RECEIVABLES))
    LOAN_WRITE_OFF = ("loan_write_off", Treatment(D, R, R, Line.LOANS))
    # the seller defaulted before delivering what was prepaid: the buyer loses it
    PREPAYMENT_WRITE_OFF = (
        "prepayment_write_off",
        Treatment(Line.DEFERRED_REVENUE, R, R, Line.PREPAID),
    )

    # members are singletons compared by identity: hash by identity too (C code; Enum's own
    # hash runs Python code for every set and dict look-up of a flow)
    __hash__ = object.__hash__

    def __init__(self, label: str, treatment: Treatment) -> None:
        self.label = label
        self.treatment = treatment
        self.plan = _PostingPlan.of(label, treatment)


PAYMENT_FOR_ACCRUAL = {
    Flow.COMPUTE_DUE: Flow.COMPUTE_PAYMENT,
    Flow.INTEREST_DUE: Flow.INTEREST_PAYMENT,
    Flow.PRINCIPAL_DUE: Flow.PRINCIPAL_PAYMENT,
    Flow.CHIP_INVOICE_DUE: Flow.CHIP_PAYMENT,
    Flow.ESTATE_CLAIM_DUE: Flow.ESTATE_PAYMENT,
    Flow.CANCELLATION_FEE_DUE: Flow.CANCELLATION_FEE_PAYMENT,
    Flow.REVENUE_SHARE_DUE: Flow.REVENUE_SHARE_PAYMENT,
}
"""The cash payment that settles each kind of accrual."""


# Kinds of posting that bring money into, or take it out of, the system.
EXTERNAL_FLOWS = frozenset(
    f for f in Flow if f.treatment.payer_debit is None or f.treatment.payee_debit is None
)


def is_world(party: str) -> bool:
    """True if ``party`` is outside the system (no books)."""
    return party.startswith(WORLD_PREFIX)


def to_cents(amount_usd: float, what: str = "amount") -> int:
    """Round a dollar amount to integer cents, refusing NaN, infinities and negatives."""
    if type(amount_usd) is np.float64:  # a numpy scalar: the same value as a Python float
        amount_usd = float(amount_usd)
    if type(amount_usd) is float and 0.0 <= amount_usd < math.inf:
        return round(amount_usd * CENTS_PER_USD)  # the common case, checked at once
    if isinstance(amount_usd, bool) or not isinstance(amount_usd, (int, float)):
        raise LedgerError(f"{what} must be a number of US dollars, got {amount_usd!r}")
    if not math.isfinite(amount_usd):
        raise LedgerError(f"{what} must be finite, got {amount_usd!r}")
    if amount_usd < 0:
        raise LedgerError(f"{what} must be >= 0 US dollars, got {amount_usd!r}")
    return round(amount_usd * CENTS_PER_USD)


def usd_text(cents: int) -> str:
    """Whole cents as exact dollar text, ``$1,234.05`` (no float rounding at any size)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), CENTS_PER_USD)
    return f"{sign}${whole:,}.{part:02d}"


GROUPED = "grouped"
"""The instrument of a payment that settles obligations under several instruments at once
(one posting per month, payer, payee and kind); :meth:`Ledger.allocations` says what it
paid of each."""

FLOAT_SLACK = 1e-12
"""Relative gap between a dollar amount and a cash balance that is float rounding, not a
shortfall (doubles carry about 16 significant digits)."""


ROW_WIDTH = 6
"""Fields of a row of the ledger's logs (a posting: step, payer, payee, cents, kind,
instrument; a journal entry: step, agent, debit, credit, cents, memo)."""


class Ledger:
    """The books of every agent plus the flow log (one row per posting).

    The logs are flat lists, :data:`ROW_WIDTH` fields a row one after the other (a row is
    added with ``extend``), not lists of tuples: a run logs about 440,000 rows, and as
    tuples each was an object for Python's cycle collector to trace (it traced them all
    once when a run ended, about a tenth of a run's time); fields of ints and strings it
    does not trace.

    Without ``record_non_cash`` the ledger keeps no log of the entries that move no cash
    (accruals, the allocations of grouped payments, journal entries): the books, the flow
    log and every balance are the same, but :meth:`accruals`, :meth:`allocations` and
    :meth:`journal_entries` cannot be built. A sweep world whose outputs read none of them
    is built so (about 3% of a default run)."""

    def __init__(self, *, record_non_cash: bool = True) -> None:
        self.record_non_cash = record_non_cash
        self._books: dict[str, dict[Line, int]] = {}
        self._log: list[int | str] = []
        self._accruals: list[int | str] = []
        self._journal: list[int | str] = []
        # what each grouped payment (instrument GROUPED) paid of each instrument
        self._allocations: list[int | str] = []
        self._moved: dict[int, int] = {}  # cents of cash moved per step
        self.external_in_cents = 0
        self.external_out_cents = 0

    # --- accounts -------------------------------------------------------------------
    def open_account(self, agent_id: str) -> None:
        """Open empty books for ``agent_id`` (which must not be a ``world:`` id)."""
        if is_world(agent_id):
            raise LedgerError(f"'{agent_id}' is outside the system and cannot hold books")
        if agent_id in self._books:
            raise LedgerError(f"account '{agent_id}' already exists")
        self._books[agent_id] = dict.fromkeys(Line, 0)

    @property
    def accounts(self) -> list[str]:
        return list(self._books)

    def _book(self, agent_id: str) -> dict[Line, int]:
        try:
            return self._books[agent_id]
        except KeyError:
            raise LedgerError(f"unknown account '{agent_id}'") from None

    # --- reading --------------------------------------------------------------------
    def balance_cents(self, agent_id: str, line: Line = Line.CASH) -> int:
        book = self._books.get(agent_id)  # _book, inlined: read for every cash figure
        return (self._book(agent_id) if book is None else book)[line]

    def balance(self, agent_id: str, line: Line = Line.CASH) -> float:
        """Balance of one line of ``agent_id``'s books, in US dollars."""
        book = self._books.get(agent_id)  # _book, inlined: read for every cash figure
        return (self._book(agent_id) if book is None else book)[line] / CENTS_PER_USD

    def cash(self, agent_id: str) -> float:
        return self.balance(agent_id, Line.CASH)

    def assets_usd(self, agent_id: str) -> float:
        """``agent_id``'s total assets in US dollars: ``sum()`` of each asset line's
        :meth:`balance`, in the order of :data:`ASSETS` (the same double as that sum)."""
        book = self._book(agent_id)
        return sum([book[line] / CENTS_PER_USD for line in ASSETS])

    def equity(self, agent_id: str) -> float:
        """Book equity (assets − liabilities), US dollars."""
        book = self._book(agent_id)
        assets = sum([book[x] for x in ASSETS])  # integer cents: exact in any order
        return (assets - sum([book[x] for x in LIABILITIES])) / CENTS_PER_USD

    def total_cash_cents(self) -> int:
        return sum(book[Line.CASH] for book in self._books.values())

    # --- writing --------------------------------------------------------------------
    def post(
        self,
        step: int,
        payer: str,
        payee: str,
        amount_usd: float,
        flow: Flow,
        instrument: str = "",
    ) -> int:
        """Record one posting from ``payer`` to ``payee``; returns the amount in cents.

        A cash posting whose payer lacks the cash raises :class:`InsufficientCash`: nobody
        overdraws. Zero amounts are accepted and not logged.
        """
        if type(amount_usd) is np.float64:  # the same value as a Python float, rounded faster
            amount_usd = float(amount_usd)
        if type(amount_usd) is float and 0.0 <= amount_usd < math.inf:
            cents = round(amount_usd * CENTS_PER_USD)
        else:
            cents = to_cents(amount_usd, f"amount of {flow.label} from {payer} to {payee}")
        if flow.plan.payer_pays_cash and not is_world(payer):
            # A dollar amount computed from the payer's own cash (a float of its cents) can
            # round a few cents above it once balances pass 2**53 cents: it means the cash.
            cash = self._book(payer)[C]
            if cash < cents <= cash + cash * FLOAT_SLACK:
                cents = cash
        return self.post_cents(step, payer, payee, cents, flow, instrument)

    def post_cents(
        self,
        step: int,
        payer: str,
        payee: str,
        cents: int,
        flow: Flow,
        instrument: str = "",
    ) -> int:
        """:meth:`post` for an amount already in whole cents (no rounding through dollars, so
        amounts of any size stay exact)."""
        plan = flow.plan
        payer_book = self._books.get(payer)
        payee_book = self._books.get(payee)
        if (
            cents >= 0
            and payer != payee
            and (payer_book is None) is plan.payer_outside
            and (payee_book is None) is plan.payee_outside
            and (payer_book is not None or payer.startswith(WORLD_PREFIX))
            and (payee_book is not None or payee.startswith(WORLD_PREFIX))
        ):
            # The common case: both parties where the flow expects them, an amount >= 0.
            # Anything else takes the checked path below, which raises the precise error.
            if cents == 0:
                return 0  # accepted and not logged
            if payer_book is not None:
                if plan.payer_pays_cash and payer_book[C] < cents:
                    raise InsufficientCash(
                        f"{payer} has {usd_text(payer_book[C])} cash and cannot pay "
                        f"{usd_text(cents)} of {plan.label} to {payee}"
                    )
                payer_book[plan.payer_debit] += plan.payer_debit_sign * cents
                payer_book[plan.payer_credit] += plan.payer_credit_sign * cents
            elif plan.external_in:
                self.external_in_cents += cents
            if payee_book is not None:
                payee_book[plan.payee_debit] += plan.payee_debit_sign * cents
                payee_book[plan.payee_credit] += plan.payee_credit_sign * cents
            elif plan.external_out:
                self.external_out_cents += cents
            row = (step, payer, payee, cents, plan.label, instrument)
            if plan.moves_cash:
                self._moved[step] = self._moved.get(step, 0) + cents
                self._log.extend(row)
            elif self.record_non_cash:
                self._accruals.extend(row)
            return cents
        return self._post_checked(step, payer, payee, cents, flow, instrument)

    def post_accrual_groups(
        self, step: int, rows: Sequence[tuple[str, str, int, Flow, str]]
    ) -> dict[tuple[str, str, Flow], tuple[list[int], list[str]]]:
        """:meth:`post_cents` for each (payer, payee, cents, flow, instrument) of ``rows``, in
        order (the same books and accrual log, the same error for the first bad row), in one
        call for many postings (a month's compute bills), returning what was posted grouped
        by (payer, payee, flow) in the order each group first arose: the cents and the
        instrument of each of its rows (rows of 0 cents, which post nothing, left out).
        Where every group is an accrual between two books and every amount above 0 (a
        month's compute bills), each group's books change once by its total (integer
        cents: the same balances as row by row) and the log gets the rows in order;
        otherwise the rows are posted one by one."""
        groups: dict[tuple[str, str, Flow], tuple[list[int], list[str]]] = {}
        one_by_one = False  # a row of 0 cents or fewer: posted (or refused) as post_cents does
        for payer, payee, cents, flow, instrument in rows:
            if cents <= 0:
                one_by_one = True
                if cents == 0:
                    continue
            key = (payer, payee, flow)
            group = groups.get(key)
            if group is None:
                groups[key] = ([cents], [instrument])
            else:
                group[0].append(cents)
                group[1].append(instrument)
        books = self._books
        for payer, payee, flow in groups:
            plan = flow.plan
            if (
                payer not in books
                or payee not in books
                or payer == payee
                or plan.moves_cash
                or plan.payer_outside
                or plan.payee_outside
            ):
                one_by_one = True
        if one_by_one:
            for payer, payee, cents, flow, instrument in rows:
                self.post_cents(step, payer, payee, cents, flow, instrument)
            return groups
        for (payer, payee, flow), (cents, _) in groups.items():
            plan, total = flow.plan, sum(cents)  # integer cents: exact in any order
            payer_book, payee_book = books[payer], books[payee]
            payer_book[plan.payer_debit] += plan.payer_debit_sign * total  # type: ignore[index]
            payer_book[plan.payer_credit] += plan.payer_credit_sign * total  # type: ignore[index]
            payee_book[plan.payee_debit] += plan.payee_debit_sign * total  # type: ignore[index]
            payee_book[plan.payee_credit] += plan.payee_credit_sign * total  # type: ignore[index]
        if self.record_non_cash:
            self._accruals.extend(
                [
                    field
                    for payer, payee, cents, flow, instrument in rows
                    for field in (step, payer, payee, cents, flow.plan.label, instrument)
                ]
            )
        return groups

    def post_instalments(
        self, step: int, rows: Iterable[tuple[str, str, int, int, str]], first: Flow, then: Flow
    ) -> None:
        """For each (payer, payee, first cents, then cents, instrument) of ``rows``, in order:
        :meth:`post_cents` of ``first`` and then of ``then``, each skipped at 0 cents — two
        accruals between two books (a loan's interest and principal falling due). The same
        books and log as :meth:`post_cents` of the two rows, one pass and one look-up of
        the parties' books for both; a row off the common path (a party without books, a
        party paying itself, an amount below 0) goes through :meth:`post_cents`."""
        a, b = first.plan, then.plan
        if any(p.moves_cash or p.payer_outside or p.payee_outside for p in (a, b)):
            raise LedgerError(f"{a.label} and {b.label} are not both accruals between books")
        a_label, b_label = a.label, b.label
        a_pd, a_pds, a_pc, a_pcs, a_ed, a_eds, a_ec, a_ecs = a.legs
        b_pd, b_pds, b_pc, b_pcs, b_ed, b_eds, b_ec, b_ecs = b.legs
        books = self._books
        extend = self._accruals.extend if self.record_non_cash else _discard
        for payer, payee, cents_a, cents_b, instrument in rows:
            payer_book = books.get(payer)
            payee_book = books.get(payee)
            if (
                payer_book is None
                or payee_book is None
                or payer == payee
                or cents_a < 0
                or cents_b < 0
            ):
                if cents_a:
                    self.post_cents(step, payer, payee, cents_a, first, instrument)
                if cents_b:
                    self.post_cents(step, payer, payee, cents_b, then, instrument)
                continue
            if cents_a:
                payer_book[a_pd] += a_pds * cents_a  # type: ignore[index]
                payer_book[a_pc] += a_pcs * cents_a  # type: ignore[index]
                payee_book[a_ed] += a_eds * cents_a  # type: ignore[index]
                payee_book[a_ec] += a_ecs * cents_a  # type: ignore[index]
                extend((step, payer, payee, cents_a, a_label, instrument))
            if cents_b:
                payer_book[b_pd] += b_pds * cents_b  # type: ignore[index]
                payer_book[b_pc] += b_pcs * cents_b  # type: ignore[index]
                payee_book[b_ed] += b_eds * cents_b  # type: ignore[index]
                payee_book[b_ec] += b_ecs * cents_b  # type: ignore[index]
                extend((step, payer, payee, cents_b, b_label, instrument))

    def _post_checked(
        self, step: int, payer: str, payee: str, cents: int, flow: Flow, instrument: str
    ) -> int:
        """:meth:`post_cents` with every check in order (zero amounts, wrong sides of the
        boundary, unknown accounts, a party paying itself)."""
        if cents < 0:
            raise LedgerError(f"amount of {flow.label} from {payer} to {payee} must be >= 0")
        t = flow.treatment
        if (t.payer_debit is None) != is_world(payer):
            raise LedgerError(f"{flow.label}: payer '{payer}' is the wrong side of the boundary")
        if (t.payee_debit is None) != is_world(payee):
            raise LedgerError(f"{flow.label}: payee '{payee}' is the wrong side of the boundary")
        payer_book = None if is_world(payer) else self._book(payer)
        payee_book = None if is_world(payee) else self._book(payee)
        if payer == payee:
            raise LedgerError(f"{flow.label}: payer and payee are both '{payer}'")
        if cents == 0:
            return 0
        if payer_book is not None and t.payer_credit is Line.CASH and payer_book[C] < cents:
            raise InsufficientCash(
                f"{payer} has {usd_text(payer_book[C])} cash and cannot pay "
                f"{usd_text(cents)} of {flow.label} to {payee}"
            )
        if payer_book is not None:
            _debit(payer_book, t.payer_debit, cents)
            _credit(payer_book, t.payer_credit, cents)
        else:
            self.external_in_cents += cents if t.payee_debit is Line.CASH else 0
        if payee_book is not None:
            _debit(payee_book, t.payee_debit, cents)
            _credit(payee_book, t.payee_credit, cents)
        else:
            self.external_out_cents += cents if t.payer_credit is Line.CASH else 0
        row = (step, payer, payee, cents, flow.label, instrument)
        if t.moves_cash:
            self._moved[step] = self._moved.get(step, 0) + cents
        if t.moves_cash:
            self._log.extend(row)
        elif self.record_non_cash:
            self._accruals.extend(row)
        return cents

    def allocate(
        self, step: int, payer: str, payee: str, cents: int, flow: Flow, instrument: str
    ) -> None:
        """Record that ``cents`` of a grouped payment (a posting of ``flow`` from ``payer`` to
        ``payee`` in month ``step`` whose instrument is :data:`GROUPED`) paid what was owed
        under ``instrument``. No books change: the posting moved the money."""
        if self.record_non_cash:
            self._allocations.extend((step, payer, payee, cents, flow.label, instrument))

    def allocate_columns(
        self,
        step: int,
        payer: str,
        payee: str,
        flow: Flow,
        cents: list[int],
        instruments: list[str],
    ) -> None:
        """:meth:`allocate` for each amount of ``cents`` and the instrument beside it in
        ``instruments``, in order (one grouped payment's parts), in one extension of the log."""
        if not self.record_non_cash:
            return
        rows: list[int | str] = [step, payer, payee, 0, flow.label, ""] * len(cents)
        rows[3::ROW_WIDTH] = cents
        rows[5::ROW_WIDTH] = instruments
        self._allocations.extend(rows)

    def journal(
        self, step: int, agent_id: str, debit: Line, credit: Line, amount_usd: float, memo: str
    ) -> int:
        """A non-cash entry inside one agent's books (depreciation, marks, impairment)."""
        cents = to_cents(amount_usd, f"journal amount '{memo}' for {agent_id}")
        return self.journal_cents(step, agent_id, debit, credit, cents, memo)

    def journal_cents(
        self, step: int, agent_id: str, debit: Line, credit: Line, cents: int, memo: str
    ) -> int:
        """:meth:`journal` for an amount already in whole cents."""
        if C in (debit, credit):
            raise LedgerError(f"journal entry '{memo}' may not touch cash; use post()")
        book = self._books.get(agent_id)  # _book, inlined: every stake marked each month
        if book is None:
            book = self._book(agent_id)
        if cents == 0:
            return 0
        # _debit and _credit, inlined
        book[debit] += cents if debit in ASSETS else -cents
        book[credit] += -cents if credit in ASSETS else cents
        if self.record_non_cash:
            self._journal.extend((step, agent_id, debit.value, credit.value, cents, memo))
        return cents

    # --- checks and output ----------------------------------------------------------
    def check(self, opening_cash_cents: int = 0) -> None:
        """Raise ``AssertionError`` unless every book balances and cash is conserved."""
        for agent_id, book in self._books.items():
            assets = sum(book[x] for x in ASSETS)
            claims = sum(book[x] for x in LIABILITIES) + sum(book[x] for x in EQUITY)
            if assets != claims:
                raise AssertionError(f"books of {agent_id} do not balance: {assets} != {claims}")
            if book[C] < 0:
                raise AssertionError(f"{agent_id} has negative cash {book[C]}")
        expected = opening_cash_cents + self.external_in_cents - self.external_out_cents
        if self.total_cash_cents() != expected:
            raise AssertionError(f"cash not conserved: {self.total_cash_cents()} != {expected}")

    def flows(self) -> pd.DataFrame:
        """The flow log of money that moved: step, payer, payee, amount (USD), kind, instrument."""
        return _postings_frame(self._log)

    def accruals(self) -> pd.DataFrame:
        """Postings that moved no cash (obligations falling due, write-offs), same columns."""
        self._require_non_cash("accruals")
        return _postings_frame(self._accruals)

    def allocations(self) -> pd.DataFrame:
        """What each grouped payment paid of each instrument: the flow log's columns, one
        row per instrument; the rows of a month, payer, payee and kind add up to the flow
        log's :data:`GROUPED` posting of the same month, payer, payee and kind."""
        self._require_non_cash("allocations")
        return _postings_frame(self._allocations)

    def journal_entries(self) -> pd.DataFrame:
        """Non-cash entries: step, agent, debit line, credit line, amount (USD), memo."""
        self._require_non_cash("journal")
        df = _rows_frame(
            self._journal, ["step", "agent", "debit", "credit", "amount_cents", "memo"]
        )
        df["amount"] = usd_column(df.pop("amount_cents"))
        return df

    def _require_non_cash(self, table: str) -> None:
        if not self.record_non_cash:
            raise RuntimeError(
                f"this ledger kept no {table} log (built with record_non_cash=False)"
            )

    def moved_cents(self, step: int) -> int:
        """Cash moved by all postings in month ``step`` (internal and external), cents."""
        return self._moved.get(step, 0)

    @property
    def n_postings(self) -> int:
        return len(self._log) // ROW_WIDTH


_discard = deque(maxlen=0).extend
"""An ``extend`` that keeps nothing (a log that is not kept)."""


def _rows_frame(flat: list[int | str], columns: list[str]) -> pd.DataFrame:
    """A flat log (:data:`ROW_WIDTH` fields a row) as a table with ``columns``, the types
    of each column inferred as from a list of row tuples."""
    if not flat:  # no rows: columns of objects, as a table of no tuples has
        return pd.DataFrame([], columns=columns)
    return pd.DataFrame(
        {name: flat[i::ROW_WIDTH] for i, name in enumerate(columns)}, columns=columns
    )


def _postings_frame(rows: list[int | str]) -> pd.DataFrame:
    df = _rows_frame(rows, ["step", "payer", "payee", "cents", "kind", "instrument"])
    df["amount"] = usd_column(df.pop("cents"))
    return df[["step", "payer", "payee", "amount", "kind", "instrument"]]


EXACT_INT = 2**53
"""Integers below this size are exact as doubles: their quotient by 100 in numpy is the
correctly rounded one Python's ``c / 100`` gives."""


def usd_column(cents: Iterable[int] | pd.Series | np.ndarray) -> np.ndarray:
    """Whole cents (Python integers, of any size) as float dollars, each correctly rounded:
    no int64 column on the way, so amounts above 2**63 cents do not overflow. An int64
    column whose amounts are all below 2**53 cents (every run's, in practice) is divided in
    one numpy operation, with the same results."""
    if isinstance(cents, pd.Series):
        cents = cents.to_numpy()
    if (
        isinstance(cents, np.ndarray)
        and cents.dtype == np.int64
        and (cents.size == 0 or (cents.max() < EXACT_INT and cents.min() > -EXACT_INT))
    ):
        return cents / CENTS_PER_USD
    return np.array([c / CENTS_PER_USD for c in cents], dtype=float)


def _debit(book: dict[Line, int], line: Line | None, cents: int) -> None:
    assert line is not None
    book[line] += cents if line in ASSETS else -cents


def _credit(book: dict[Line, int], line: Line | None, cents: int) -> None:
    assert line is not None
    book[line] += -cents if line in ASSETS else cents
