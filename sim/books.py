"""The one writer: the ledger, the instrument book and the open obligations, and the verbs
that change them.

Every posting of a run goes through a :class:`Books` verb — accrue, owe, pay, lend, sign,
bill, issue shares, mark, write off — so that the three records always agree: a payable on
the ledger is an open :class:`~sim.settlement.Obligation`, a loan on the ledger is a
:class:`~sim.instruments.Loan` in the book, a stake mark is an
:class:`~sim.instruments.EquityStake`'s ``mark_usd``. Phases, deals and the resolution call
these verbs; agents only read (through their market view). Amounts that arrive in dollars
are rounded to whole cents once, here; amounts already in cents stay integers (the ledger's
unit), so payments are exact at any size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from sim.instruments import (
    CapacityContract,
    ChipOrder,
    ConvertibleNote,
    EquityStake,
    InstrumentBook,
    Loan,
)
from sim.ledger import (
    CENTS_PER_USD,
    GROUPED,
    PAYMENT_FOR_ACCRUAL,
    WORLD_PREFIX,
    Flow,
    Ledger,
    Line,
    to_cents,
)
from sim.settlement import Obligation, ObligationBatch, ObligationBook, PaymentGroup

CUSTOMERS = "world:customers"  # end users of AI services
OUTSIDE_BUYERS = "world:outside-buyers"  # buyers of compute beyond the frontier labs
OPERATIONS = "world:operations"  # power, staff, maintenance, other costs
CONTRACTORS = "world:contractors"  # builders of facilities
FOUNDRIES = "world:foundries"  # the vendors' suppliers
FOUNDERS = "world:founders"  # opening capital and new money into funds
OTHER_BUSINESS = "world:other-business"  # a hyperscaler's non-AI businesses
ADMINISTRATORS = "world:administrators"  # where default costs go
SHAREHOLDERS = "world:shareholders"  # shareholders outside the model (founders, the public)
DEPOSITORS = "world:money-market"  # who pays interest on cash (Treasury bills, banks)

OPERATING_FLOWS = frozenset(
    {
        Flow.SERVICE_REVENUE,
        Flow.OUTSIDE_COMPUTE,
        Flow.OTHER_BUSINESS_INCOME,
        Flow.OTHER_BUSINESS_CAPEX,
        Flow.COMPUTE_DUE,
        Flow.CHIP_INVOICE_DUE,
        Flow.OPERATING_COST,
        Flow.COST_OF_GOODS,
        Flow.REVENUE_SHARE_DUE,
    }
)
"""Flows that are operating income (to the payee) or cost (to the payer) in a covenant's
debt service coverage; a chip invoice is the vendor's revenue (the buyer's capex, not a
cost: only the payee side of it counts), see :meth:`Books.operating_income_usd`."""

FOUNDER_SHARES = 1e9
"""Shares each party's founders hold at the start (a unit, not a parameter)."""


class FacilityBill(Protocol):
    """What a facility bill adds to when it is paid: a vintage's facility cost and book."""

    facility_cost_cents: int
    facility_book_cents: int


def cents_round(usd: float) -> float:
    """``usd`` rounded to whole cents, in dollars."""
    return round(usd * CENTS_PER_USD) / CENTS_PER_USD


def cents_up(usd: float) -> float:
    """``usd`` rounded up to whole cents, in dollars: a drawing split over lenders that must
    cover the bill it is for (parts rounded to the nearest cent can leave it a cent short,
    and a cent unpaid is a missed payment)."""
    return math.ceil(usd * CENTS_PER_USD) / CENTS_PER_USD


class Books:
    """The ledger, the instrument book and the month's obligations, written only here."""

    def __init__(self, *, record_non_cash: bool = True) -> None:
        self.ledger = Ledger(record_non_cash=record_non_cash)
        self.instruments = InstrumentBook()
        self.obligations = ObligationBook()
        self.unpaid_external_usd: dict[str, float] = {}  # external costs due, unpaid, USD
        self._facility_for: dict[str, FacilityBill] = {}  # unpaid facility bills → vintage
        # this covenant month's operating income and debt service, by party, in cents
        self._income_cents: dict[str, int] = {}
        self._service_cents: dict[str, int] = {}
        self._retained_mark: dict[str, int] = {}  # retained earnings when profit counts from
        self._unrealised_cents: dict[str, int] = {}  # stake marks since then
        self._paid_out_cents: dict[str, int] = {}  # dividends and buybacks since the start

    # --- accounts --------------------------------------------------------------------
    def open_account(self, name: str) -> None:
        """Empty books for a new party, owned by founders with :data:`FOUNDER_SHARES`."""
        self.ledger.open_account(name)
        self.unpaid_external_usd[name] = 0.0
        self.instruments.shares_outstanding[name] = FOUNDER_SHARES

    def receive(self, t: int, source: str, name: str, usd: float, flow: Flow) -> float:
        """Money from outside the system (``world:…``) arrives; returns it in USD."""
        cents = self.ledger.post(t, source, name, usd, flow)
        if flow in OPERATING_FLOWS:
            self._earn(name, cents)
        return cents / CENTS_PER_USD

    # --- the covenant month: operating income and debt service ------------------------
    def _earn(self, name: str, cents: int) -> None:
        self._income_cents[name] = self._income_cents.get(name, 0) + cents

    def operating_income_usd(self, name: str) -> float:
        """``name``'s operating income since :meth:`start_covenant_month`, USD: revenue
        (end users, compute sold, chips invoiced, other businesses) less operating costs
        (compute bought, power and staff, cost of goods); capex and finance excluded."""
        return self._income_cents.get(name, 0) / CENTS_PER_USD

    def debt_service_usd(self, name: str) -> float:
        """Interest and scheduled principal that fell due on ``name``'s loans since
        :meth:`start_covenant_month`, USD."""
        return self._service_cents.get(name, 0) / CENTS_PER_USD

    def start_covenant_month(self) -> None:
        """Covenants have been tested: income and debt service count from zero again, and
        profit (:meth:`profit_usd`) from each party's retained earnings now."""
        self._income_cents.clear()
        self._service_cents.clear()
        self._retained_mark = {
            name: self.ledger.balance_cents(name, Line.RETAINED) for name in self.ledger.accounts
        }
        self._unrealised_cents.clear()

    def profit_usd(self, name: str) -> float:
        """``name``'s realised profit since :meth:`start_covenant_month`, USD: the change in
        its retained earnings less the unrealised gains and losses of marking its stakes
        (a payout is paid from realised profit)."""
        mark = self._retained_mark.get(name, 0)
        retained = self.ledger.balance_cents(name, Line.RETAINED) - mark
        return (retained - self._unrealised_cents.get(name, 0)) / CENTS_PER_USD

    def paid_out_usd(self, name: str) -> float:
        """What ``name`` has paid out to its shareholders since the start (dividends and
        buybacks, :meth:`pay_out`), USD: a payout lowers retained earnings but is not a loss,
        so a firm's earnings are its change in retained earnings plus this."""
        return self._paid_out_cents.get(name, 0) / CENTS_PER_USD

    def prepay(self, t: int, loan: Loan, usd: float) -> float:
        """The borrower repays ``usd`` of ``loan`` ahead of schedule (a cash sweep); the
        remaining instalments shrink in proportion. Returns the USD repaid."""
        cents = min(
            to_cents(usd), to_cents(loan.outstanding), self.ledger.balance_cents(loan.borrower)
        )
        if cents <= 0:
            return 0.0
        self.ledger.post_cents(t, loan.borrower, loan.lender, cents, Flow.PRINCIPAL_DUE, loan.id)
        self.ledger.post_cents(
            t, loan.borrower, loan.lender, cents, Flow.PRINCIPAL_PAYMENT, loan.id
        )
        usd = cents / CENTS_PER_USD
        share = usd / loan.outstanding
        loan.outstanding = cents_round(loan.outstanding - usd)
        loan.principal = cents_round(loan.principal * (1.0 - share))
        if loan.outstanding <= 0.005:
            loan.outstanding = 0.0
            loan.active = False
        return usd

    def pay_deposit_interest(self, t: int, source: str, rate_per_year: float) -> None:
        """Every party earns a month's interest at ``rate_per_year`` on its cash, paid from
        ``source`` outside the system."""
        if rate_per_year <= 0:
            return
        for name in self.ledger.accounts:
            cents = self.ledger.balance_cents(name) * rate_per_year / 12
            if cents >= 1:
                self.ledger.post_cents(t, source, name, int(cents), Flow.DEPOSIT_INTEREST)

    def pay_out(
        self, t: int, name: str, usd: float, holders: dict[str, float], outside: str
    ) -> None:
        """``name`` pays out ``usd`` in cash (a dividend, or a buyback: the same cash)
        to its shareholders: ``holders`` in the model by their ownership share, the rest
        to its shareholders outside (``outside``)."""
        total = min(to_cents(usd), self.ledger.balance_cents(name))
        if total <= 0:
            return
        left = total
        for holder, share in sorted(holders.items()):
            cents = min(left, int(total * share))
            if cents > 0:
                self.ledger.post_cents(t, name, holder, cents, Flow.DIVIDEND)
                left -= cents
        if left > 0:
            self.ledger.post_cents(t, name, outside, left, Flow.PAYOUT_EXTERNAL)
        self._paid_out_cents[name] = self._paid_out_cents.get(name, 0) + total

    def contribute_fleet(self, name: str, cents: int) -> None:
        """Founders contribute GPUs at depreciated cost (paid-in capital, no cash)."""
        self.ledger.journal_cents(0, name, Line.FLEET, Line.PAID_IN, cents, "opening fleet")

    def open_fleet_at_recoverable_amount(self, name: str, cents: int) -> None:
        """The opening fleet's depreciated cost above its value in use is written off the
        founders' contribution (paid-in capital, no cash), not charged to the first month's
        profit: an opening balance sheet carries assets at the lower of cost and recoverable
        amount (IAS 36), so the write-down belongs to the years before the run."""
        self.ledger.journal_cents(
            0, name, Line.PAID_IN, Line.FLEET, cents, "opening fleet at recoverable amount"
        )

    # --- obligations -----------------------------------------------------------------
    def accrue(
        self,
        t: int,
        debtor: str,
        creditor: str,
        usd: float,
        flow: Flow,
        instrument: str,
        kind: str,
    ) -> int:
        """An internal obligation under ``instrument`` (an id, of type ``kind``) falls due:
        payable and receivable on the books; returns the cents."""
        if type(usd) is float and 0.0 <= usd < math.inf and not flow.plan.payer_pays_cash:
            # Ledger.post's common case, inlined: this runs for every bill, loan and invoice
            cents = self.ledger.post_cents(
                t, debtor, creditor, round(usd * CENTS_PER_USD), flow, instrument
            )
        else:
            cents = self.ledger.post(t, debtor, creditor, usd, flow, instrument)
        if cents == 0:
            return 0  # nothing falls due: no posting, no obligation, no income
        self.obligations.add(Obligation(debtor, creditor, cents, flow, instrument, t, kind))
        if flow in OPERATING_FLOWS:
            self._earn(creditor, cents)
            if flow is not Flow.CHIP_INVOICE_DUE:
                self._earn(debtor, -cents)
        return cents

    def owe_external(
        self,
        t: int,
        debtor: str,
        creditor: str,
        usd: float,
        flow: Flow,
        facility: FacilityBill | None = None,
    ) -> None:
        """An external cost falls due; it is paid in the settlement (no books outside). A
        facility bill adds what is paid of it to ``facility``'s cost and book value."""
        cents = to_cents(usd)
        ob = Obligation(debtor, creditor, cents, flow, "", t, "external cost")
        if flow in OPERATING_FLOWS:
            self._earn(debtor, -cents)
        if facility is not None:
            ob.kind = "facility"
            ob.instrument = self.instruments.new_id("facility")
            self._facility_for[ob.instrument] = facility
        self.obligations.add(ob)
        self.unpaid_external_usd[debtor] += cents / CENTS_PER_USD

    def arrears_usd(self, name: str) -> float:
        """What ``name`` owes now and has not paid (payables plus unpaid external costs)."""
        return self.ledger.balance(name, Line.PAYABLES) + self.unpaid_external_usd[name]

    def pay(self, t: int, ob: Obligation, cents: int) -> None:
        """Pay ``cents`` of an obligation in cash (all of it or, in a default, a share)."""
        if cents <= 0:
            return
        self.ledger.post_cents(t, ob.debtor, ob.creditor, cents, ob.payment_flow, ob.instrument)
        self._paid(ob, cents)

    def _paid(self, ob: Obligation, cents: int) -> None:
        """``cents`` of ``ob`` were paid: the obligation, the unpaid external costs and a
        facility's cost follow (the posting is made by the caller)."""
        ob.cents -= cents
        if ob.external:
            self.unpaid_external_usd[ob.debtor] -= cents / CENTS_PER_USD
            vintage = self._facility_for.get(ob.instrument)
            if vintage is not None:
                vintage.facility_cost_cents += cents
                vintage.facility_book_cents += cents

    def pay_all(self, t: int, obligations: Sequence[Obligation | ObligationBatch]) -> None:
        """Pay ``obligations`` (all of one debtor's, closed) in full, grouped: one posting per
        (creditor, kind of payment) for their sum, in the order the groups first arose. A
        group of one keeps its instrument; a larger one posts with instrument
        :data:`~sim.ledger.GROUPED` and records what it paid of each instrument in the
        ledger's allocations (:meth:`~sim.ledger.Ledger.allocations`), so every payment
        still resolves to its instruments. The books end exactly as with one posting per
        obligation (integer cents); the flow log is shorter (about five times, default world).
        An :class:`~sim.settlement.ObligationBatch` is paid as its parts would be, from its
        groups, without making the parts.
        """
        # grouped by (creditor, the flow owed): the same groups, in the same order, as by
        # (creditor, kind of payment), since each accrual has its own kind of payment
        # (PAYMENT_FOR_ACCRUAL is one to one) and an outside creditor's obligation is owed
        # as the payment itself. Each group: the cents and the instrument of each part.
        groups: dict[tuple[str, Flow], tuple[list[int], list[str]]] = {}
        debtor = ""
        for ob in obligations:
            if ob.cents > 0:
                debtor = ob.debtor
                if type(ob) is ObligationBatch:
                    for part in ob.groups:
                        key = (part.creditor, part.flow)
                        group = groups.get(key)
                        if group is None:
                            groups[key] = (list(part.cents), list(part.instruments))
                        else:
                            group[0].extend(part.cents)
                            group[1].extend(part.instruments)
                    continue
                key = (ob.creditor, ob.flow)
                group = groups.get(key)
                if group is None:
                    groups[key] = ([ob.cents], [ob.instrument])
                else:
                    group[0].append(ob.cents)
                    group[1].append(ob.instrument)
        ledger = self.ledger
        outside: set[str] = set()  # creditors outside the system among them
        for (creditor, owed), (cents, instruments) in groups.items():
            # Obligation.payment_flow, once per group
            if creditor.startswith(WORLD_PREFIX):
                flow = owed
                outside.add(creditor)
            else:
                flow = PAYMENT_FOR_ACCRUAL[owed]
            if len(cents) == 1:
                ledger.post_cents(t, debtor, creditor, cents[0], flow, instruments[0])
                continue
            ledger.post_cents(t, debtor, creditor, sum(cents), flow, GROUPED)
            ledger.allocate_columns(t, debtor, creditor, flow, cents, instruments)
        unpaid, facility_for = self.unpaid_external_usd, self._facility_for
        for ob in obligations:  # in the order they arose, as one posting each would
            cents = ob.cents
            if cents > 0:  # Books._paid, inlined
                ob.cents = 0
                if outside and type(ob) is Obligation and ob.creditor in outside:
                    unpaid[ob.debtor] -= cents / CENTS_PER_USD
                    vintage = facility_for.get(ob.instrument)
                    if vintage is not None:
                        vintage.facility_cost_cents += cents
                        vintage.facility_book_cents += cents

    def pay_in_full(self, t: int, debtor: str) -> None:
        """``debtor`` pays everything it owes (its cash must cover it)."""
        self.pay_all(t, self.obligations.take(debtor))
        self.unpaid_external_usd[debtor] = 0.0

    def settle_what_can_be_paid(self, t: int) -> None:
        """Repeatedly let every party that can pay all it owes do so (:meth:`pay_all`: one
        posting per creditor and kind), until nobody more can.

        Payments received can let a creditor pay in turn, so the loop runs to a fixed point;
        the order of parties does not change who ends up paid in full.
        """
        progress = True
        # what each debtor owes, summed once: paying changes only the payer's obligations
        # (it closes them all), so the others' sums hold from pass to pass
        owed_by: dict[str, int] = {}
        while progress:
            progress = False
            for debtor in self.obligations.debtors():
                owed = owed_by.get(debtor)
                if owed is None:
                    owed = owed_by[debtor] = self.obligations.owed_cents(debtor)
                if 0 < owed <= self.ledger.balance_cents(debtor):
                    self.pay_all(t, self.obligations.take(debtor))
                    del owed_by[debtor]
                    progress = True
        for name in self.unpaid_external_usd:
            if not self.obligations.owes(name):
                self.unpaid_external_usd[name] = 0.0

    def write_off(self, t: int, ob: Obligation) -> float:
        """The creditor of an unpaid obligation writes it off (a loss on its books); the
        obligation closes. Returns the USD written off."""
        usd = ob.usd
        if not ob.external:  # in cents: a claim above 2**53 cents is not exact in dollars
            self.ledger.post_cents(
                t, ob.debtor, ob.creditor, ob.cents, Flow.RECEIVABLE_WRITE_OFF, ob.instrument
            )
        ob.cents = 0
        return usd

    def forget_external_arrears(self, name: str) -> None:
        """``name``'s unpaid external costs were cleared or written off."""
        self.unpaid_external_usd[name] = 0.0

    # --- capacity contracts ----------------------------------------------------------
    def sign(self, t: int, contract: CapacityContract, prepay_usd: float = 0.0) -> None:
        """Record a capacity contract; ``prepay_usd`` of it is paid in cash at signing."""
        self.instruments.add_contract(contract)
        if prepay_usd > 0:
            contract.prepaid_cents = self.ledger.post(
                t,
                contract.buyer,
                contract.seller,
                cents_round(prepay_usd),
                Flow.COMPUTE_PREPAYMENT,
                contract.id,
            )

    def reprice_contract(self, t: int, contract: CapacityContract, price: float) -> None:
        """The parties agreed a new price for ``contract`` from month ``t`` on (USD per
        GPU-hour): its later bills are at that price. No money moves now; the month is kept
        (``contract.repriced``) so that a price is reviewed at most once an interval."""
        if not price > 0:
            raise ValueError(f"a contract's new price must be positive, got {price}")
        contract.price_usd_per_gpu_hour = float(price)
        contract.repriced = t
        self.instruments.contract_repriced(contract)

    def bill_contract(self, t: int, contract: CapacityContract, bill: float) -> None:
        """A month's bill for ``contract`` falls due: what is left of its prepayment is used
        first (no cash moves), the rest becomes an obligation."""
        bill = float(bill)  # a numpy scalar from the allocation: the same value, cheaper
        used = min(contract.prepaid_cents, to_cents(bill))
        if used:
            self.ledger.post_cents(
                t, contract.buyer, contract.seller, used, Flow.PREPAYMENT_USED, contract.id
            )
            contract.prepaid_cents -= used
            self._earn(contract.seller, used)
            self._earn(contract.buyer, -used)
        rest = max(0.0, bill - used / CENTS_PER_USD)
        self.accrue(
            t, contract.buyer, contract.seller, rest, Flow.COMPUTE_DUE, contract.id, contract.kind
        )

    def bill_contracts(self, t: int, bills: Iterable[tuple[CapacityContract, float]]) -> None:
        """:meth:`bill_contract` for each (contract, bill) of ``bills``, in order: the same
        postings, obligations and operating income, the accruals of contracts without a
        prepayment booked in one :meth:`~sim.ledger.Ledger.post_accrual_groups` call and filed as
        one :class:`~sim.settlement.ObligationBatch` per buyer (:meth:`_book_bills`)."""
        postings: list[tuple[str, str, int, Flow, str]] = []
        kinds: list[str] = []
        due = Flow.COMPUTE_DUE
        for contract, amount in bills:
            bill = float(amount)  # a numpy scalar from the allocation: the same value
            if contract.prepaid_cents or not 0.0 <= bill < math.inf:
                self._book_bills(t, postings, kinds)  # keep the order of postings
                postings, kinds = [], []
                self.bill_contract(t, contract, bill)
                continue
            # no prepayment: the whole bill is an obligation (Books.accrue, inlined)
            cents = round(bill * CENTS_PER_USD)
            if cents:
                postings.append((contract.buyer, contract.seller, cents, due, contract.id))
                kinds.append(contract.kind)
        self._book_bills(t, postings, kinds)

    def _book_bills(
        self, t: int, postings: list[tuple[str, str, int, Flow, str]], kinds: list[str]
    ) -> None:
        """Post compute bills falling due (``postings``: buyer, seller, cents > 0, flow,
        contract id; ``kinds``: each contract's type) and file their obligations, one
        :class:`~sim.settlement.ObligationBatch` per buyer whose groups are its sellers in
        the order they first arose: the obligations :meth:`~sim.settlement.ObligationBook.
        add_all` would file one by one. They count in the covenant month's operating income
        of both parties (as :meth:`accrue` does)."""
        if not postings:
            return
        # the ledger posts them and hands them back grouped by (buyer, seller, flow), in the
        # order each group first arose: the batches' groups, whose lists they keep
        posted = self.ledger.post_accrual_groups(t, postings)
        batches: dict[str, ObligationBatch] = {}
        for (buyer, seller, flow), (cents, contracts) in posted.items():
            batch = batches.get(buyer)
            if batch is None:

                def parts(buyer: str = buyer) -> list[Obligation]:
                    return [
                        Obligation(debtor, creditor, amount, owed, instrument, t, kind)
                        for (debtor, creditor, amount, owed, instrument), kind in zip(
                            postings, kinds, strict=True
                        )
                        if debtor == buyer
                    ]

                batch = batches[buyer] = ObligationBatch(buyer, 0, [], parts)
            batch.groups.append(PaymentGroup(seller, flow, cents, contracts))
        income = self._income_cents
        for batch in batches.values():
            buyer = batch.debtor
            for group in batch.groups:
                cents = sum(group.cents)  # integer cents: exact in any order
                batch.cents += cents
                income[group.creditor] = income.get(group.creditor, 0) + cents
                income[buyer] = income.get(buyer, 0) - cents
            self.obligations.add_batch(batch)

    def forfeit_prepayment(self, t: int, contract: CapacityContract) -> int:
        """The seller keeps what is left of ``contract``'s prepayment (term over, or the
        buyer defaulted); returns the cents forfeited."""
        cents = contract.prepaid_cents
        if cents:
            self.ledger.post_cents(
                t, contract.buyer, contract.seller, cents, Flow.PREPAYMENT_FORFEITED, contract.id
            )
            contract.prepaid_cents = 0
        return cents

    def write_off_prepayment(self, t: int, contract: CapacityContract) -> float:
        """The seller defaulted: the buyer writes off what is left of its prepayment."""
        cents = contract.prepaid_cents
        self.ledger.post_cents(
            t, contract.seller, contract.buyer, cents, Flow.PREPAYMENT_WRITE_OFF, contract.id
        )
        contract.prepaid_cents = 0
        return cents / CENTS_PER_USD

    def lapse_prepayments(self, t: int) -> None:
        """Terms ending this month: what is unused of their prepayment goes to the seller."""
        for contract in self.instruments.contracts:
            if contract.prepaid_cents and contract.end <= t + 1:
                self.forfeit_prepayment(t, contract)

    # --- loans, orders, shares -------------------------------------------------------
    def service_loans(self, t: int, loans: Iterable[Loan]) -> list[tuple[Loan, float, float]]:
        """The month's debt service, in one pass over ``loans`` in order: each active loan's
        interest and scheduled principal fall due (as :meth:`accrue` books them: the same
        postings in the same order, made in one :meth:`~sim.ledger.Ledger.post_instalments`
        call), and a loan paid down to half a cent closes. Returns (loan, interest,
        principal) in USD for each loan serviced."""
        service = self._service_cents
        interest_flow, principal_flow = Flow.INTEREST_DUE, Flow.PRINCIPAL_DUE
        serviced: list[tuple[Loan, float, float]] = []
        rows: list[tuple[str, str, int, int, str]] = []
        owed: list[Obligation] = []
        for loan in loans:
            if not loan.active:
                continue
            if type(loan) is Loan:  # Loan.interest_due and principal_due, inlined (hot)
                start, outstanding, grace = loan.start, loan.outstanding, loan.grace_months
                interest = outstanding * loan.rate_per_year / 12.0 if t > start else 0.0
                if t <= start + grace:
                    falling = 0.0
                elif t >= start + loan.maturity_months:
                    falling = outstanding
                else:
                    falling = loan.principal / (loan.maturity_months - grace)
                    if not falling < outstanding:  # min(outstanding, falling), as it picks
                        falling = outstanding
            else:
                interest = loan.interest_due(t)
                falling = loan.principal_due(t)
            principal = round(falling * CENTS_PER_USD) / CENTS_PER_USD
            borrower, lender = loan.borrower, loan.lender
            interest_cents = round(interest * CENTS_PER_USD)
            due = interest_cents / CENTS_PER_USD + principal
            service[borrower] = service.get(borrower, 0) + (
                round(due * CENTS_PER_USD) if 0.0 <= due < math.inf else to_cents(due)
            )
            if not 0.0 <= interest < math.inf:
                self.accrue(t, borrower, lender, interest, interest_flow, loan.id, loan.kind)
            principal_cents = 0
            if principal > 0:
                if principal == math.inf:
                    self.accrue(t, borrower, lender, principal, principal_flow, loan.id, loan.kind)
                principal_cents = round(principal * CENTS_PER_USD)
                loan.outstanding -= principal
            if interest_cents or principal_cents:
                rows.append((borrower, lender, interest_cents, principal_cents, loan.id))
                if interest_cents:
                    owed.append(
                        Obligation(
                            borrower, lender, interest_cents, interest_flow, loan.id, t, loan.kind
                        )
                    )
                if principal_cents:
                    owed.append(
                        Obligation(
                            borrower, lender, principal_cents, principal_flow, loan.id, t, loan.kind
                        )
                    )
            if loan.outstanding <= 0.005:
                loan.outstanding = 0.0
                loan.active = False
            serviced.append((loan, interest, principal))
        self.ledger.post_instalments(t, rows, interest_flow, principal_flow)
        self.obligations.add_all(owed)  # the borrowers' open obligations, in order
        return serviced

    def accelerate(self, t: int, loan: Loan) -> None:
        """All that is outstanding of ``loan`` falls due now (default or insolvency)."""
        if loan.outstanding > 0:
            self.accrue(
                t,
                loan.borrower,
                loan.lender,
                loan.outstanding,
                Flow.PRINCIPAL_DUE,
                loan.id,
                loan.kind,
            )
        loan.outstanding = 0.0
        loan.active = False

    def extend_loan(self, t: int, loan: Loan, months: int) -> None:
        """A restructuring (amend and extend): what is outstanding of ``loan`` is
        re-amortised from month ``t`` over its remaining maturity plus ``months``."""
        remaining = max(1, loan.start + loan.maturity_months - t)
        loan.principal = loan.outstanding
        loan.grace_months = 0
        loan.start = t
        loan.maturity_months = remaining + months

    def defer_principal(self, t: int, loan: Loan) -> float:
        """Forbearance (a restructuring's payment holiday): the principal of ``loan`` that
        fell due and is still unpaid goes back into the loan (no cash moves; the borrower's
        payable becomes debt again, the lender's receivable a loan again) and its open
        obligations close. Returns the USD deferred."""
        cents = 0
        for ob in self.obligations.of(loan.borrower):
            if ob.flow is Flow.PRINCIPAL_DUE and ob.instrument == loan.id and ob.cents > 0:
                cents += self.ledger.post_cents(
                    t, ob.debtor, ob.creditor, ob.cents, Flow.PRINCIPAL_DEFERRED, loan.id
                )
                ob.cents = 0
        if cents:
            self.obligations.drop_closed(loan.borrower)
            loan.outstanding = cents_round(loan.outstanding + cents / CENTS_PER_USD)
            loan.active = True
        return cents / CENTS_PER_USD

    def capitalise_interest(self, t: int, note: ConvertibleNote) -> float:
        """The month's interest on ``note`` is paid in kind: the borrower owes it as more
        principal (its debt and the lender's loan rise; no cash moves). Returns the USD."""
        cents = to_cents(cents_round(note.interest_accrued(t)))
        if cents <= 0:
            return 0.0
        self.ledger.post_cents(
            t, note.borrower, note.lender, cents, Flow.INTEREST_CAPITALISED, note.id
        )
        note.outstanding = cents_round(note.outstanding + cents / CENTS_PER_USD)
        return cents / CENTS_PER_USD

    def convert_note(self, t: int, note: ConvertibleNote, price_per_share: float) -> EquityStake:
        """``note`` converts: all it has outstanding becomes new shares of the borrower at
        ``price_per_share`` USD (:meth:`swap_debt_for_equity`, booked as a conversion)."""
        return self.swap_debt_for_equity(
            t, note, note.outstanding, price_per_share, Flow.NOTE_CONVERSION
        )

    def swap_debt_for_equity(
        self,
        t: int,
        loan: Loan,
        usd: float,
        price_per_share: float,
        flow: Flow = Flow.DEBT_FOR_EQUITY,
    ) -> EquityStake:
        """A restructuring (debt-for-equity swap): the lender gives up ``usd`` of ``loan``'s
        principal for new shares of the borrower at ``price_per_share`` USD; no cash moves.
        The borrower's debt falls and its paid-in capital rises by the same amount."""
        cents = min(to_cents(usd), to_cents(loan.outstanding))
        amount = cents / CENTS_PER_USD
        self.ledger.post_cents(t, loan.lender, loan.borrower, cents, flow, loan.id)
        loan.outstanding = cents_round(loan.outstanding - amount)
        if loan.outstanding <= 0.005:
            loan.outstanding = 0.0
            loan.active = False
        else:  # the rest keeps its maturity, re-amortised
            loan.principal = loan.outstanding
        return self.instruments.issue_shares(
            loan.borrower, loan.lender, amount / price_per_share, amount
        )

    def claim_on_estate(self, t: int, contract: CapacityContract, usd: float) -> int:
        """The buyer of ``contract`` defaulted: its seller has an unsecured claim of ``usd``
        on the buyer's estate (a payable of the buyer, a receivable of the seller), paid
        from the estate with its other creditors; returns the cents."""
        return self.accrue(
            t,
            contract.buyer,
            contract.seller,
            usd,
            Flow.ESTATE_CLAIM_DUE,
            contract.id,
            "estate claim",
        )

    def deliver(self, order: ChipOrder, units: float) -> None:
        """``units`` of ``order`` are delivered (invoiced separately)."""
        order.delivered_units += units
        self.instruments.order_changed(order)

    def cancel_undelivered(self, order: ChipOrder) -> None:
        """What is not yet delivered of ``order`` is cancelled (the buyer defaulted)."""
        order.units = order.delivered_units
        self.instruments.order_changed(order)

    def cancel_order(self, t: int, order: ChipOrder, units: float, fee_usd: float) -> None:
        """The buyer cancels ``units`` of what is undelivered of ``order`` and owes the vendor
        ``fee_usd`` for it (a cancellation fee, paid in the settlement)."""
        order.units -= min(units, order.undelivered)
        self.instruments.order_changed(order)
        if fee_usd > 0:
            self.accrue(
                t,
                order.buyer,
                order.vendor,
                fee_usd,
                Flow.CANCELLATION_FEE_DUE,
                order.id,
                order.kind,
            )

    def terminate(self, contract: CapacityContract) -> None:
        """``contract`` ends early (a party defaulted); nothing more falls due under it."""
        self.instruments.end_contract(contract)

    def lend(self, t: int, loan: Loan, flow: Flow = Flow.LOAN_ADVANCE) -> Loan:
        """Pay out a new loan (its principal rounded to cents) and record it."""
        loan.principal = loan.outstanding = cents_round(loan.principal)
        self.ledger.post(t, loan.lender, loan.borrower, loan.principal, flow, loan.id)
        self.instruments.add_loan(loan)
        return loan

    def draw(
        self,
        t: int,
        loan: Loan,
        usd: float,
        rate_per_year: float,
        maturity_months: int,
        flow: Flow = Flow.LOAN_ADVANCE,
    ) -> float:
        """A new draw of ``usd`` (rounded to cents) on ``loan``, the open facility of its
        lender to its borrower, at ``rate_per_year`` for ``maturity_months``: the lender pays
        it out under the loan's id, and the loan's terms become those of its draws together
        — the rate weighted by balance, the maturity the balance-weighted months left of the
        old balance and of the draw (the weighted average life of the draws), amortising
        straight-line from this month. Returns the USD lent.

        A delayed-draw term loan's draws are tranches of one facility with one lender (Moody's
        2024, as :func:`~sim.phases.settle.draw_on_delivery`); keeping them as one loan with
        blended terms, rather than a loan per draw, is our own simplification (MODEL_VERSION
        0.65: a default run's 3,468 open loans become 111; no calibration target's median
        moved by more than 0.2%). The interest is exact for the month of the draw; the
        schedule after it is the blend's, not the sum of the draws'."""
        usd = cents_round(usd)
        if usd <= 0:
            return 0.0
        self.ledger.post(t, loan.lender, loan.borrower, usd, flow, loan.id)
        old, left = loan.outstanding, max(1, loan.start + loan.maturity_months - t)
        total = old + usd
        loan.rate_per_year = (loan.rate_per_year * old + rate_per_year * usd) / total
        loan.maturity_months = max(1, round((left * old + maturity_months * usd) / total))
        loan.principal = loan.outstanding = cents_round(total)
        loan.start, loan.grace_months = t, 0
        return usd

    def place_order(self, order: ChipOrder) -> ChipOrder:
        """Record a chip order (nothing is paid until delivery)."""
        return self.instruments.add_order(order)

    def issue_shares(
        self,
        t: int,
        buyer: str,
        issuer: str,
        usd: float,
        price_per_share: float,
        flow: Flow = Flow.EQUITY_INVESTMENT,
        instrument: str = "",
    ) -> EquityStake:
        """``buyer`` pays ``usd`` (in cash, or in compute for ``COMPUTE_CREDIT``) for new
        shares of ``issuer`` at ``price_per_share`` USD."""
        self.ledger.post(t, buyer, issuer, usd, flow, instrument)
        return self.instruments.issue_shares(issuer, buyer, usd / price_per_share, usd)

    def buy_from_founders(
        self, t: int, buyer: str, issuer: str, usd: float, price_per_share: float
    ) -> EquityStake:
        """A secondary sale: ``buyer`` pays ``usd`` to ``issuer``'s founders and early holders
        (outside the system) for existing shares at ``price_per_share``; no money reaches the
        issuer and no new shares are made."""
        self.ledger.post(t, buyer, FOUNDERS, usd, Flow.SECONDARY_PURCHASE, f"secondary:{issuer}")
        return self.instruments.transfer_from_founders(issuer, buyer, usd / price_per_share, usd)

    def redeem(self, t: int, fund: str, usd: float) -> float:
        """``fund`` pays ``usd`` back to its own investors (outside the system)."""
        return self.ledger.post(t, fund, FOUNDERS, usd, Flow.REDEMPTION) / CENTS_PER_USD

    def settle_in_shares(self, t: int, ob: Obligation, price_per_share: float) -> None:
        """Settle a compute obligation with new shares of the debtor (compute credits)."""
        amount = ob.cents / CENTS_PER_USD
        self.ledger.post(t, ob.debtor, ob.creditor, amount, Flow.COMPUTE_CREDIT, ob.instrument)
        self.instruments.issue_shares(ob.debtor, ob.creditor, amount / price_per_share, amount)
        self.obligations.of(ob.debtor).remove(ob)

    def mark_stakes(self, t: int, value_of: Callable[[str], float]) -> None:
        """Mark every stake to ownership × its issuer's value (``value_of(issuer)``, USD),
        through the holder's profit and loss."""
        outstanding = self.instruments.shares_outstanding
        for stake in self.instruments.stakes.values():
            # InstrumentBook.ownership of the stake's holder, inlined (this is that stake)
            total = outstanding.get(stake.issuer, 0.0)
            value = (0.0 if total <= 0 else stake.shares / total) * value_of(stake.issuer)
            new_cents, old_cents = to_cents(value), to_cents(stake.mark_usd)
            self._unrealised_cents[stake.holder] = (
                self._unrealised_cents.get(stake.holder, 0) + new_cents - old_cents
            )
            if new_cents > old_cents:
                self.ledger.journal_cents(
                    t,
                    stake.holder,
                    Line.STAKES,
                    Line.RETAINED,
                    new_cents - old_cents,
                    "stake marked up",
                )
            elif new_cents < old_cents:
                self.ledger.journal_cents(
                    t,
                    stake.holder,
                    Line.RETAINED,
                    Line.STAKES,
                    old_cents - new_cents,
                    "stake marked down",
                )
            stake.mark_usd = new_cents / CENTS_PER_USD

    def write_off_stake(self, t: int, stake: EquityStake) -> float:
        """The issuer failed: the holder writes its stake's mark off; returns the USD."""
        usd = stake.mark_usd
        self.ledger.journal(t, stake.holder, Line.RETAINED, Line.STAKES, usd, "stake written off")
        stake.mark_usd = 0.0
        return usd

    # --- fleets ----------------------------------------------------------------------
    def write_down_fleet(self, t: int, name: str, cents: int, memo: str) -> None:
        """Depreciation, impairment or a fire-sale loss: fleet book value down, equity down."""
        self.ledger.journal_cents(t, name, Line.RETAINED, Line.FLEET, cents, memo)

    def sell_fleet(self, t: int, buyer: str, seller: str, cents: int) -> None:
        """``buyer`` pays ``seller`` for its fleet in cash."""
        self.ledger.post_cents(t, buyer, seller, cents, Flow.ASSET_SALE, "fleet")

    def pay_default_costs(self, t: int, name: str) -> None:
        """A defaulter's remaining cash goes to administrators (Rogers–Veraart costs)."""
        self.ledger.post_cents(
            t, name, ADMINISTRATORS, self.ledger.balance_cents(name), Flow.DEFAULT_COST
        )
