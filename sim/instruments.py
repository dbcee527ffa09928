"""What agents trade: capacity contracts, loans, equity stakes and chip orders (DESIGN §2).

Instruments hold terms and state (what is outstanding); they never move money. Each knows
what it owes in a given month, and the model turns that into ledger postings.
Money is in US dollars, capacity in H100-equivalent GPUs, time in months (model steps).

Instruments and agents hold their quantities (GPUs, prices, rates, USD) as Python floats,
never as numpy scalars: a phase that computes with arrays (an allocation, a clearing) gives
the values to agents and instruments as floats. The instruments convert what they are given
(``__post_init__``), and so do the agents' recording methods (``Lab.observe_demand``,
``Cloud.record_use``). Since MODEL_VERSION 0.66, for two reasons: arithmetic on numpy
scalars is several times slower than on floats, and Python's ``sum()`` adds floats with
compensation (Neumaier) but numpy scalars without, so one quantity summed in two places gave
different last bits. ``tests/test_float_state.py`` holds the state of every agent and
instrument free of numpy scalars, month by month.

Contracts, loans and chip orders are things, not values: each is equal only to itself
(``eq=False``, hashed by identity; each has its own ``id`` anyway), so a set of them is
cheap and ``in`` never compares their terms.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Literal


@dataclass(slots=True, eq=False)
class CapacityContract:
    """A multi-year commitment: ``seller`` (a cloud) provides ``gpus`` to ``buyer`` (a lab).

    The buyer owes ``price × hours × max(used, take_or_pay_share × gpus)`` each month of the
    term: the take-or-pay part is owed whether the capacity is used or not. Its ``start``
    and ``term_months`` are fixed when it is signed (its ``end`` is kept from them).
    """

    id: str
    buyer: str
    seller: str
    gpus: float  # H100-equivalent GPUs
    price_usd_per_gpu_hour: float
    start: int  # first month of delivery
    term_months: int
    take_or_pay_share: float  # share of `gpus` paid for even if unused
    signed: int = 0  # month signed
    active: bool = True  # False once terminated by a default
    in_kind: bool = False  # compute credits: paid in the buyer's shares, not cash
    prepaid_cents: int = 0  # prepayment not yet used against bills (integer cents)
    kind: str = "capacity contract"  # or "compute credit", "lease": the type in tables
    repriced: int | None = None  # month of its last repricing (books.reprice_contract)
    # first month after the term: start + term_months, kept (the terms never change) since
    # every scan of the contracts in force reads it
    end: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Python floats, whatever the caller computed them with (module docstring)
        self.gpus = float(self.gpus)
        self.price_usd_per_gpu_hour = float(self.price_usd_per_gpu_hour)
        self.end = self.start + self.term_months

    def in_force(self, step: int) -> bool:
        return self.active and self.start <= step < self.end

    def amount_due(self, used_gpus: float, available_gpus: float, hours_per_month: float) -> float:
        """USD owed for a month in which the seller made ``available_gpus`` of the contract
        available (all of it, unless the seller is short) and the buyer used ``used_gpus``.

        Take-or-pay: the buyer pays for what it used, and at least the take-or-pay share of
        what was available.
        """
        # max(min(used, available), take-or-pay share × available), spelled as the builtins
        # choose (the first of equals) without their calls: this runs for every bill
        used = available_gpus if available_gpus < used_gpus else used_gpus
        floor = self.take_or_pay_share * available_gpus
        billable = floor if floor > used else used
        return billable * hours_per_month * self.price_usd_per_gpu_hour

    def remaining_value(self, step: int, hours_per_month: float) -> float:
        """Take-or-pay revenue still to come from month ``step`` on (the seller's backlog), USD."""
        if not self.active:
            return 0.0
        return self.backlog_term(step, hours_per_month)[1]

    def backlog_term(self, step: int, hours_per_month: float) -> tuple[int, float]:
        """(months of the term left from month ``step``, the take-or-pay revenue of those
        months in USD), active or not; (0, 0.0) once the term is over. One formula for every
        backlog sum: the same products in the same order give the same doubles."""
        start = self.start  # max(0, self.end - max(step, start)) without calls (hot)
        months = self.end - (step if step > start else start)
        if months <= 0:
            return 0, 0.0
        return months, (
            months
            * self.take_or_pay_share
            * self.gpus
            * hours_per_month
            * self.price_usd_per_gpu_hour
        )


VENTURE_DEBT = "venture debt"
"""The kind of a lab's venture loan: growth lending against the lab's equity value, covenant-lite
(no maintenance covenants on coverage, loan-to-value or equity; it defaults on a missed
payment), as venture debt usually is (Ibrahim 2010, "Debt as Venture Capital")."""


@dataclass(slots=True, eq=False)
class Loan:
    """``lender`` lent ``principal`` to ``borrower``; equal monthly principal over the maturity."""

    id: str
    lender: str
    borrower: str
    principal: float  # USD at origination
    rate_per_year: float
    start: int
    maturity_months: int
    # 0 = senior secured; higher numbers rank lower. Not read yet: issue 13 (distress) ranks
    # creditors by it in a defaulter's waterfall.
    seniority: int = 0
    grace_months: int = 0  # interest only for this many months, then equal instalments
    outstanding: float = field(default=-1.0)  # USD not yet fallen due; set from principal
    active: bool = True
    kind: str = "loan"  # or "vendor loan": the type in tables

    def __post_init__(self) -> None:
        # Python floats, whatever the caller computed them with (module docstring)
        self.principal = float(self.principal)
        self.rate_per_year = float(self.rate_per_year)
        self.outstanding = float(self.outstanding)
        if self.outstanding < 0:
            self.outstanding = self.principal

    def interest_due(self, step: int) -> float:
        """Interest for the month, USD, on the principal outstanding."""
        if not self.active or step <= self.start:
            return 0.0
        return self.outstanding * self.rate_per_year / 12.0

    def principal_due(self, step: int) -> float:
        """Principal falling due this month, USD (the last instalment takes the remainder)."""
        if not self.active or step <= self.start + self.grace_months:
            return 0.0
        if step >= self.start + self.maturity_months:
            return self.outstanding
        return min(self.outstanding, self.principal / (self.maturity_months - self.grace_months))


CONVERTIBLE_NOTE = "convertible note"
"""The kind of a lab's convertible note (:class:`ConvertibleNote`)."""


@dataclass(slots=True, eq=False)
class ConvertibleNote(Loan):
    """A convertible note: ``lender`` lent ``principal`` to a lab whose round fell short.

    Interest accrues into the principal (paid in kind, nothing in cash before maturity); at the
    lab's next priced round the whole ``outstanding`` converts into new shares at the round's
    price less ``discount``, or at ``valuation_cap_usd`` ÷ the shares outstanding before the
    round if that is lower; a note still outstanding at maturity falls due in one bullet. It
    carries no maintenance covenants, ranks by ``seniority`` in an estate (senior to equity,
    junior to secured debt), and its id starts with ``note``. The standard terms of
    seed and bridge financing (Coyle and Green 2014, "Contractual innovation in venture capital";
    the YC SAFE's discount and cap)."""

    discount: float = 0.0  # share off the next round's price per share
    valuation_cap_usd: float = 0.0  # highest pre-money valuation it converts at (0 = no cap)
    kind: str = CONVERTIBLE_NOTE

    def __post_init__(self) -> None:
        Loan.__post_init__(self)  # (zero-argument super() fails in a slots dataclass)
        self.grace_months = max(self.maturity_months - 1, 0)  # a bullet at maturity

    def interest_due(self, step: int) -> float:
        """None in cash: the interest accrues into the principal (:meth:`interest_accrued`)."""
        return 0.0

    def interest_accrued(self, step: int) -> float:
        """Interest of the month added to the principal (paid in kind), USD."""
        if not self.active or step <= self.start:
            return 0.0
        return self.outstanding * self.rate_per_year / 12.0

    def conversion_price(self, round_price_per_share: float, shares_before_round: float) -> float:
        """USD per share the note converts at in a round priced at ``round_price_per_share``:
        the round's price less the discount, at most the cap's price per share."""
        price = round_price_per_share * (1.0 - self.discount)
        if self.valuation_cap_usd > 0 and shares_before_round > 0:
            price = min(price, self.valuation_cap_usd / shares_before_round)
        return price


@dataclass
class EquityStake:
    """``holder`` owns ``shares`` of ``issuer``; marked to the issuer's latest valuation."""

    holder: str
    issuer: str
    shares: float
    cost_basis_usd: float
    mark_usd: float = 0.0  # value on the holder's books


@dataclass(slots=True, eq=False)
class ChipOrder:
    """``buyer`` (a cloud) ordered ``units`` H100-equivalent GPUs from ``vendor``.

    Delivered no earlier than ``delivery_step`` and only within the vendor's production
    ceiling; capacity comes online at ``online_step`` or on delivery if that is later.
    """

    id: str
    buyer: str
    vendor: str
    units: float
    unit_price_usd: float
    order_step: int
    delivery_step: int
    online_step: int
    delivered_units: float = 0.0
    kind: str = "chip order"  # the type in tables
    # units - delivered_units, kept (read hundreds of thousands of times a run): worked out
    # again by InstrumentBook.order_changed, which every change of an order calls
    undelivered: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Python floats, whatever the caller computed them with (module docstring)
        self.units = float(self.units)
        self.unit_price_usd = float(self.unit_price_usd)
        self.undelivered = self.units - self.delivered_units

    @property
    def undelivered_usd(self) -> float:
        """What the undelivered units are worth at the order's price, USD (the vendor's
        remaining performance obligation)."""
        return self.undelivered * self.unit_price_usd


@dataclass(frozen=True)
class BacklogTerms:
    """A seller's take-or-pay backlog in one month, one entry per contract
    (:meth:`InstrumentBook.backlog_terms`): its ``buyers``, the ``months_left`` of each term
    and each contract's remaining take-or-pay ``values`` (USD). Python lists: a lender reads
    a few dozen entries at a time, where a loop is cheaper than numpy's calls."""

    buyers: list[str]
    months_left: list[int]
    values: list[float]
    # the distinct buyers in the order they first appear, and each contract's buyer as an
    # index into them (buyers[i] == distinct[buyer_index[i]])
    distinct: list[str] = field(default_factory=list)
    buyer_index: list[int] = field(default_factory=list)

    @functools.cached_property
    def total(self) -> float:
        """The values' ``sum()`` (Python's compensated sum), computed once."""
        return sum(self.values)

    @functools.cached_property
    def running_total(self) -> float:
        """The values added one by one in contract order (a running total, not ``sum()``'s
        compensated sum), as the weighted backlog adds them; computed once (the terms never
        change)."""
        total = 0.0
        for value in self.values:
            total += value
        return total


_GpusPair = tuple[str | None, str | None]
"""The parties of a question to :meth:`InstrumentBook.contracted_gpus`: (buyer, seller)."""


@dataclass
class InstrumentBook:
    """Every instrument in the world, with look-ups by agent. Holds terms, not money."""

    contracts: list[CapacityContract] = field(default_factory=list)
    loans: list[Loan] = field(default_factory=list)
    stakes: dict[tuple[str, str], EquityStake] = field(default_factory=dict)
    orders: list[ChipOrder] = field(default_factory=list)
    shares_outstanding: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    _ids: count = field(default_factory=lambda: count(1))
    # indices by agent name, kept by add_* and prune (add instruments only through add_*)
    _contracts_by: dict[str, list[CapacityContract]] = field(default_factory=dict)
    # the contracts each agent buys, and those it sells (sub-lists of its _contracts_by, in
    # the same order): a cloud that sells hundreds of contracts and buys a few scans only
    # these for its purchases, and a hyperscaler's sales scan skips what it buys
    _bought_by: dict[str, list[CapacityContract]] = field(default_factory=dict)
    _sold_by: dict[str, list[CapacityContract]] = field(default_factory=dict)
    _loans_by: dict[str, list[Loan]] = field(default_factory=dict)
    _orders_by: dict[str, list[ChipOrder]] = field(default_factory=dict)
    # Answers about contracts in force, filed by the agent whose contracts they scan (None:
    # all contracts): contracted_gpus by (buyer, seller) then step, contracts_of by (agent,
    # step), backlog_terms by (seller, step, hours). A contract added or ended changes only
    # answers of its buyer, its seller and of all contracts (an agent's scan reads only
    # contracts it is a party to): a contract added extends the sums of GPUs whose scan it
    # is in (its parties match, in force that month; each sum kept with its terms, so the
    # extended sum is sum() of the terms a new scan would add), the lists in force and its
    # seller's backlog answers (it is the last of its parties' contracts: the last
    # element of each answer it belongs to); one ended forgets those sums, its parties'
    # lists and its seller's backlog (the backlog reads only the contracts an agent
    # sells); a repricing forgets only the seller's backlog (nothing else reads a price);
    # a prune forgets every answer of the parties of what left and of all contracts, but
    # the sums of GPUs of the prune's month and later (_forget_contracts_of), and every
    # answer about a month before the prune's (_forget_months_before).
    _gpus_memo: dict[str | None, dict[_GpusPair, dict[int, list[Any]]]] = field(
        default_factory=dict
    )
    _in_force_memo: dict[str, dict[int | None, list[CapacityContract]]] = field(
        default_factory=dict
    )
    # sales_in_force's and purchases_in_force's answers by agent, month and role, each with
    # the list in force it was taken from and that list's length then (forgotten with the
    # lists in force)
    _by_role_memo: dict[
        str, dict[tuple[int, str], tuple[list[CapacityContract], int, list[CapacityContract]]]
    ] = field(default_factory=dict)
    _backlog_memo: dict[str, dict[tuple[int, float], BacklogTerms]] = field(default_factory=dict)
    # backlog_amounts' answers, filed and forgotten as backlog_terms'
    _by_buyer_memo: dict[str, dict[tuple[int, float], dict[str, float]]] = field(
        default_factory=dict
    )
    # open_orders' answers by (buyer, vendor) asked (None: any); an order placed, delivered
    # or cancelled (order_changed) forgets the answers it is in or was in, a prune all
    _open_memo: dict[tuple[str | None, str | None], list[ChipOrder]] = field(default_factory=dict)
    # how many times each agent's orders changed (orders_version)
    _order_versions: dict[str, int] = field(default_factory=dict)
    # how many times each agent's contracts changed, and how many times they were all
    # forgotten (contracts_version)
    _contract_versions: dict[str, int] = field(default_factory=dict)
    _contract_epoch: int = 0

    def __post_init__(self) -> None:
        self._reindex()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    # --- adding ------------------------------------------------------------------------
    def add_contract(self, contract: CapacityContract) -> CapacityContract:
        self.contracts.append(contract)
        _index(self._contracts_by, contract, contract.buyer, contract.seller)
        _index(self._bought_by, contract, contract.buyer)
        _index(self._sold_by, contract, contract.seller)
        self._forget_in_force(contract, change="added")
        return contract

    def end_contract(self, contract: CapacityContract) -> None:
        """``contract`` ends early (a party defaulted): it is no longer in force."""
        contract.active = False
        self._forget_in_force(contract)

    def contract_repriced(self, contract: CapacityContract) -> None:
        """``contract``'s price changed: forget the answers that read its price (its
        seller's backlog terms; change a price only through ``books.reprice_contract``)."""
        self._forget_in_force(contract, change="repriced")

    def _forget_in_force(
        self,
        contract: CapacityContract | None = None,
        *,
        change: Literal["added", "ended", "repriced"] = "ended",
    ) -> None:
        """``contract`` was ``added``, ``ended`` or ``repriced``: keep the memoised answers
        about contracts in force true — the sums of :meth:`contracted_gpus` it is in are
        forgotten, the lists of :meth:`contracts_of` and its seller's answers of
        :meth:`backlog_terms` and :meth:`backlog_amounts` extended (added) or forgotten
        (ended; a repricing forgets only the backlog's, the only answers that read a
        price) — or forget every answer (``None``: the indices rebuilt)."""
        if contract is None:
            self._contract_epoch += 1
            self._contract_versions.clear()
            self._gpus_memo.clear()
            self._in_force_memo.clear()
            self._by_role_memo.clear()
            self._backlog_memo.clear()
            self._by_buyer_memo.clear()
            return
        versions = self._contract_versions
        for party in (contract.buyer, contract.seller):
            versions[party] = versions.get(party, 0) + 1
        if change == "added":
            self._extend_gpus(contract)
            self._extend_in_force(contract)
            self._extend_backlog(contract)
            return
        if change != "repriced":
            self._forget_gpus(contract)
            for party in (contract.buyer, contract.seller):
                self._in_force_memo.pop(party, None)
                self._by_role_memo.pop(party, None)
        self._backlog_memo.pop(contract.seller, None)
        self._by_buyer_memo.pop(contract.seller, None)

    def _forget_contracts_of(self, parties: set[str], step: int) -> None:
        """Contracts of ``parties`` were pruned at ``step``: forget every answer about their
        contracts and about all contracts (the answers of other agents scan none of the
        pruned), and change the parties' versions. Sums of GPUs in force at ``step`` or
        later are kept: a pruned contract was in force in none of those months (ended
        early, or its term over by ``step``), so a new scan adds the same GPUs in the same
        order; the prune forgets those of earlier months, everyone's
        (:meth:`_forget_months_before`)."""
        versions = self._contract_versions
        for party in parties:
            versions[party] = versions.get(party, 0) + 1
            for memo in (
                self._in_force_memo,
                self._by_role_memo,
                self._backlog_memo,
                self._by_buyer_memo,
            ):
                memo.pop(party, None)  # type: ignore[attr-defined]

    def _gpus_answers_with(
        self, contract: CapacityContract
    ) -> list[tuple[dict[int, list[Any]], list[int]]]:
        """The answers of :meth:`contracted_gpus` whose scan ``contract`` is in (asked of
        its buyer or any buyer and of its seller or any seller, for a month of its term):
        for each (buyer, seller) asked about with any, (its answers by month, the months
        it is in). Those asked about with a buyer are filed by the buyer, the others by
        the seller (None: all contracts)."""
        buyer, seller = contract.buyer, contract.seller
        start, end = contract.start, contract.end
        memo = self._gpus_memo
        found = []
        for agent, pair in (
            (None, (None, None)),
            (buyer, (buyer, None)),
            (buyer, (buyer, seller)),
            (seller, (None, seller)),
        ):
            answers = memo.get(agent)
            by_step = answers.get(pair) if answers else None
            if by_step:
                months = [m for m in by_step if start <= m < end]
                if months:
                    found.append((by_step, months))
        return found

    def _forget_gpus(self, contract: CapacityContract) -> None:
        """Forget the answers of :meth:`contracted_gpus` whose scan ``contract`` (ended) was
        in. Every other answer sums the same GPUs in the same order as a new scan."""
        for by_step, months in self._gpus_answers_with(contract):
            for month in months:
                del by_step[month]

    def _extend_gpus(self, contract: CapacityContract) -> None:
        """``contract``, just added (the last of its parties' contracts, and of all), is the
        last term of each answer of :meth:`contracted_gpus` whose scan it is in: each such
        sum becomes ``sum()`` of its terms with the contract's GPUs appended, the very sum a
        new scan gives (Python's compensated ``sum()`` of the same floats in the same
        order), without scanning the contracts again."""
        if not contract.active:  # in no scan
            return
        gpus = contract.gpus
        for by_step, months in self._gpus_answers_with(contract):
            for month in months:
                answer = by_step[month]
                answer[1].append(gpus)
                answer[0] = None  # summed again when asked

    def _extend_in_force(self, contract: CapacityContract) -> None:
        """Append ``contract``, just added (the last of its parties' contracts), to its
        parties' memoised lists of :meth:`contracts_of` it belongs to (active, and in
        force in the month asked), as a new scan would list it."""
        if not contract.active:
            return
        start, end = contract.start, contract.end
        for party in dict.fromkeys((contract.buyer, contract.seller)):
            for step, listed in self._in_force_memo.get(party, {}).items():
                if step is None or start <= step < end:
                    listed.append(contract)

    def _extend_backlog(self, contract: CapacityContract) -> None:
        """The seller's answers of :meth:`backlog_terms` and :meth:`backlog_amounts` with
        ``contract``, just added (the last of the seller's contracts), as a new scan would
        give them: its term appended where it has months left and a value above 0, its
        remaining value added to its buyer's amount (last, as the scan adds it). Answers of
        months before the latest asked are forgotten rather than extended (the month has
        passed: they are seldom asked again, and a new scan gives them)."""
        seller = contract.seller
        terms_of = _latest_only(self._backlog_memo.get(seller))
        amounts_of = _latest_only(self._by_buyer_memo.get(seller))
        if not contract.active:  # in no answer
            return
        buyer = contract.buyer
        for (step, hours), terms in list((terms_of or {}).items()):
            months, value = contract.backlog_term(step, hours)  # as backlog_terms has it
            if months <= 0 or value <= 0:
                continue
            distinct = terms.distinct
            if buyer in distinct:
                index = distinct.index(buyer)
            else:
                distinct, index = [*distinct, buyer], len(distinct)
            terms_of[(step, hours)] = BacklogTerms(  # type: ignore[index]
                [*terms.buyers, buyer],
                [*terms.months_left, months],
                [*terms.values, value],
                distinct,
                [*terms.buyer_index, index],
            )
        for (step, hours), amounts in list((amounts_of or {}).items()):
            extended = dict(amounts)
            extended[buyer] = extended.get(buyer, 0.0) + contract.remaining_value(step, hours)
            amounts_of[(step, hours)] = extended  # type: ignore[index]

    def add_loan(self, loan: Loan) -> Loan:
        self.loans.append(loan)
        _index(self._loans_by, loan, loan.borrower, loan.lender)
        return loan

    def add_order(self, order: ChipOrder) -> ChipOrder:
        self.orders.append(order)
        _index(self._orders_by, order, order.buyer, order.vendor)
        self.order_changed(order)
        return order

    def order_changed(self, order: ChipOrder) -> None:
        """``order`` was placed, or units of it delivered or cancelled: forget the answers of
        :meth:`open_orders` it can change (change an order only through the books' verbs,
        which call this), and work out again what is undelivered of it."""
        order.undelivered = order.units - order.delivered_units
        memo, versions = self._open_memo, self._order_versions
        buyer, vendor = order.buyer, order.vendor
        for asked in ((None, None), (buyer, None), (None, vendor), (buyer, vendor)):
            memo.pop(asked, None)
        for agent in (order.buyer, order.vendor):
            versions[agent] = versions.get(agent, 0) + 1

    def orders_version(self, agent: str) -> int:
        """A number that changes whenever an order of ``agent`` (as buyer or vendor) is
        placed, delivered or cancelled: an agent's figures of its open orders stay true
        while it is the same."""
        return self._order_versions.get(agent, 0)

    def contracts_version(self, agent: str) -> tuple[int, int]:
        """A value that changes whenever a contract of ``agent`` (as buyer or seller) is
        added, ended or repriced, or contracts are pruned: an agent's figures of its
        contracts stay true while it is the same (change contracts only through this
        book's verbs, which keep it)."""
        return self._contract_epoch, self._contract_versions.get(agent, 0)

    def _reindex(self) -> None:
        self._forget_in_force()
        self._contracts_by = _indexed((c, c.buyer, c.seller) for c in self.contracts)
        self._bought_by = _indexed((c, c.buyer, c.buyer) for c in self.contracts)
        self._sold_by = _indexed((c, c.seller, c.seller) for c in self.contracts)
        self._loans_by = _indexed((loan, loan.borrower, loan.lender) for loan in self.loans)
        self._orders_by = _indexed((o, o.buyer, o.vendor) for o in self.orders)
        self._open_memo.clear()

    # --- look-ups ----------------------------------------------------------------------
    def contracts_of(self, agent_id: str, step: int | None = None) -> list[CapacityContract]:
        """Active contracts where ``agent_id`` is buyer or seller (in force at ``step``), in
        the order they were added (a new list; each answer is computed once until the
        contracts change, as :meth:`contracted_gpus`'s)."""
        return list(self._in_force(agent_id, step))

    def sales_in_force(self, seller: str, step: int) -> list[CapacityContract]:
        """The contracts of :meth:`contracts_of` (``seller``, ``step``) that ``seller``
        sells, in the same order: the kept list itself, not to be modified (a new one once
        the contracts in force change)."""
        return self._in_force_as(seller, step, "seller")

    def purchases_in_force(self, buyer: str, step: int) -> list[CapacityContract]:
        """The contracts of :meth:`contracts_of` (``buyer``, ``step``) that ``buyer`` buys,
        in the same order: the kept list itself, not to be modified (a new one once the
        contracts in force change)."""
        return self._in_force_as(buyer, step, "buyer")

    def _in_force_as(
        self, agent: str, step: int, role: Literal["seller", "buyer"]
    ) -> list[CapacityContract]:
        """:meth:`sales_in_force` (``role`` "seller") or :meth:`purchases_in_force`."""
        listed = self._in_force(agent, step)
        answers = self._by_role_memo.get(agent)
        kept = answers.get((step, role)) if answers else None
        # the list in force is only ever appended to (a contract added) until forgotten
        if kept is not None and kept[0] is listed and kept[1] == len(listed):
            return kept[2]
        if role == "seller":
            chosen = [c for c in listed if c.seller == agent]
        else:
            chosen = [c for c in listed if c.buyer == agent]
        self._by_role_memo.setdefault(agent, {})[(step, role)] = (listed, len(listed), chosen)
        return chosen

    def _in_force(self, agent_id: str, step: int | None) -> list[CapacityContract]:
        """:meth:`contracts_of`'s kept answer itself (extended in place by a contract added,
        :meth:`_extend_in_force`)."""
        answers = self._in_force_memo.get(agent_id)
        if answers is None:
            answers = self._in_force_memo[agent_id] = {}
        memo = answers.get(step)
        if memo is None:
            pool = self._contracts_by.get(agent_id, ())
            if step is None:
                memo = [c for c in pool if c.active]
            else:  # CapacityContract.in_force, inlined
                memo = [c for c in pool if c.active and c.start <= step < c.end]
            answers[step] = memo
        return memo

    def contracted_gpus(
        self, *, buyer: str | None = None, seller: str | None = None, step: int
    ) -> float:
        """GPUs under contracts in force at ``step`` for a buyer and/or seller (each answer
        computed once until the contracts change: the same sum in the same order)."""
        agent = buyer if buyer is not None else seller
        answers = self._gpus_memo.get(agent)
        if answers is None:
            answers = self._gpus_memo[agent] = {}
        by_step = answers.get((buyer, seller))
        if by_step is None:
            by_step = answers[(buyer, seller)] = {}
        memo = by_step.get(step)
        if memo is not None:
            total = memo[0]
            if total is None:
                total = memo[0] = sum(memo[1])
            return total
        if agent is None:
            pool = self.contracts
        elif buyer is not None:  # a buyer's purchases: its contracts as buyer, in their order
            pool = self._bought_by.get(buyer, ())
        else:  # a seller's sales, in their order
            pool = self._sold_by.get(seller, ())
        # summed from a list rather than a generator: the same terms in the same order
        if seller is None:  # by buyer (or over all contracts): the filter for the case
            gpus = [
                c.gpus
                for c in pool
                if (buyer is None or c.buyer == buyer) and c.active and c.start <= step < c.end
            ]
        elif buyer is None:
            gpus = [c.gpus for c in pool if c.active and c.start <= step < c.end]
        else:
            gpus = [
                c.gpus
                for c in pool
                if c.buyer == buyer and c.seller == seller and c.active and c.start <= step < c.end
            ]
        total = sum(gpus)
        by_step[step] = [total, gpus]
        return total

    def contracts_between(self, seller: str, buyer: str) -> list[CapacityContract]:
        """Every recorded contract (active or not) from ``seller`` to ``buyer``."""
        return [c for c in self._sold_by.get(seller, ()) if c.buyer == buyer]

    def backlog_usd(self, seller: str, step: int, hours_per_month: float) -> float:
        """Take-or-pay revenue still to come to ``seller``, USD: ``sum()`` of each contract's
        remaining value in the order they were added. Read from :meth:`backlog_terms`, whose
        values are those above 0 in that order (``sum()`` of the same values with the zeros
        left out: a zero changes neither a compensated sum nor its compensation)."""
        return self.backlog_terms(seller, step, hours_per_month).total

    def backlog_terms(self, seller: str, step: int, hours_per_month: float) -> BacklogTerms:
        """``seller``'s take-or-pay backlog at month ``step`` contract by contract, as lists
        (:class:`BacklogTerms`): each active contract it sells with months left and a
        remaining take-or-pay value above 0, in the order the contracts were added. Computed
        once until the contracts change (as :meth:`contracts_of`), so a lender that looks at
        the backlog many times a month reads the same lists."""
        answers = self._backlog_memo.get(seller)
        terms = answers.get((step, hours_per_month)) if answers else None
        if terms is None:
            terms = self._scan_backlog(seller, step, hours_per_month)[0]
        return terms

    def backlog_amounts(self, seller: str, step: int, hours_per_month: float) -> dict[str, float]:
        """``seller``'s take-or-pay revenue still to come at month ``step``, summed by buyer
        (USD, buyers in the order of their first active contract with it, a buyer whose
        contracts have nothing left at 0): the amounts a lender's concentration measure
        reads. The kept answer itself, computed once until the contracts change (as
        :meth:`backlog_terms`; a contract added gives a new one), so that a reader can keep
        what it derives from it. Not to be modified."""
        answers = self._by_buyer_memo.get(seller)
        by_buyer = answers.get((step, hours_per_month)) if answers else None
        if by_buyer is None:
            by_buyer = self._scan_backlog(seller, step, hours_per_month)[1]
        return by_buyer

    def _scan_backlog(
        self, seller: str, step: int, hours_per_month: float
    ) -> tuple[BacklogTerms, dict[str, float]]:
        """One scan of ``seller``'s contracts for both answers about its backlog at month
        ``step`` — :meth:`backlog_terms` and :meth:`backlog_amounts` — each filed unless one
        is already (a filed answer is kept: readers keep what they derive from it by its
        identity). Both are asked of most sellers each month, and they are forgotten
        together (:meth:`_forget_in_force`, :meth:`_forget_contracts_of`)."""
        key = (step, hours_per_month)
        buyers: list[str] = []
        months_left: list[int] = []
        values: list[float] = []
        by_buyer: dict[str, float] = {}
        for c in self._sold_by.get(seller, ()):  # its sales in the order they were added
            if not c.active:
                continue
            # CapacityContract.backlog_term, inlined (the same products in the same order;
            # the property tests compare the two): this runs for every sale every month
            start = c.start
            months = c.end - (step if step > start else start)
            if months <= 0:  # remaining_value is 0.0 once the term is over: the buyer
                # keeps its place among the amounts, and its amount gains + 0.0 as before
                by_buyer[c.buyer] = by_buyer.get(c.buyer, 0.0) + 0.0
                continue
            value = (
                months * c.take_or_pay_share * c.gpus * hours_per_month * c.price_usd_per_gpu_hour
            )
            by_buyer[c.buyer] = by_buyer.get(c.buyer, 0.0) + value
            if value <= 0:
                continue
            buyers.append(c.buyer)
            months_left.append(months)
            values.append(value)
        first: dict[str, int] = {}
        index = [first.setdefault(b, len(first)) for b in buyers]
        terms = BacklogTerms(buyers, months_left, values, list(first), index)
        terms = self._backlog_memo.setdefault(seller, {}).setdefault(key, terms)
        by_buyer = self._by_buyer_memo.setdefault(seller, {}).setdefault(key, by_buyer)
        return terms, by_buyer

    def loans_of(self, *, borrower: str | None = None, lender: str | None = None) -> list[Loan]:
        agent = borrower if borrower is not None else lender
        pool = self.loans if agent is None else self._loans_by.get(agent, ())
        return [
            loan
            for loan in pool
            if loan.active
            and (borrower is None or loan.borrower == borrower)
            and (lender is None or loan.lender == lender)
        ]

    def debt_usd(self, borrower: str) -> float:
        # the same loans in the same order as loans_of(borrower=…), summed without the list
        return sum(
            [
                loan.outstanding
                for loan in self._loans_by.get(borrower, ())
                if loan.active and loan.borrower == borrower
            ]
        )

    def stakes_in(self, issuer: str) -> list[EquityStake]:
        return [s for s in self.stakes.values() if s.issuer == issuer]

    def stakes_of(self, holder: str) -> list[EquityStake]:
        return [s for s in self.stakes.values() if s.holder == holder]

    def open_orders(
        self, *, buyer: str | None = None, vendor: str | None = None
    ) -> list[ChipOrder]:
        """The orders with something undelivered of ``buyer`` and/or ``vendor`` (everyone's
        if both are None), in the order they were placed (a new list; each answer is
        computed once until an order of theirs changes)."""
        asked = (buyer, vendor)
        kept = self._open_memo.get(asked)
        if kept is None:
            agent = buyer if buyer is not None else vendor
            everything = self.orders if agent is None else self._orders_by.get(agent, ())
            kept = self._open_memo[asked] = [
                o
                for o in everything
                if o.units - o.delivered_units > 1e-9  # ChipOrder.undelivered, inlined (hot)
                and (buyer is None or o.buyer == buyer)
                and (vendor is None or o.vendor == vendor)
            ]
        return list(kept)

    # --- changes -----------------------------------------------------------------------
    def prune(self, step: int) -> None:
        """Forget instruments that can no longer owe anything: loans repaid or written off,
        contracts ended or terminated, orders fully delivered or cancelled."""

        # what stays, in order; each index list of a party of something gone loses the
        # same items (nothing is added here), the order a rebuild would give
        loans = [loan for loan in self.loans if loan.active]
        if len(loans) != len(self.loans):
            _drop_from(
                self._loans_by, [x for x in self.loans if not x.active], "borrower", "lender"
            )
            self.loans = loans
        contracts = [c for c in self.contracts if c.active and c.end > step]
        if len(contracts) != len(self.contracts):
            ended = [c for c in self.contracts if not (c.active and c.end > step)]
            parties = _drop_from(self._contracts_by, ended, "buyer", "seller")
            _drop_from(self._bought_by, ended, "buyer", "seller")
            _drop_from(self._sold_by, ended, "buyer", "seller")
            self.contracts = contracts
            self._forget_contracts_of(parties, step)
        orders = [o for o in self.orders if o.units - o.delivered_units > 1e-9]
        if len(orders) != len(self.orders):
            done = [o for o in self.orders if not o.units - o.delivered_units > 1e-9]
            _drop_from(self._orders_by, done, "buyer", "vendor")
            self.orders = orders
            self._open_memo.clear()
        self._forget_months_before(step)

    def _forget_months_before(self, step: int) -> None:
        """Forget the answers about contracts in force in months before ``step`` (of
        :meth:`contracted_gpus`, :meth:`contracts_of`, :meth:`sales_in_force` and
        :meth:`purchases_in_force`): the run has moved on, and a contract added looks through
        the answers it may be in (:meth:`_gpus_answers_with`, :meth:`_extend_in_force`), so
        they should hold only the months still asked about. A month asked again is scanned
        again: the same contracts in the same order."""
        for answers in self._gpus_memo.values():
            for by_step in answers.values():
                for month in [m for m in by_step if m < step]:
                    del by_step[month]
        for listed in self._in_force_memo.values():
            for month in [m for m in listed if m is not None and m < step]:
                del listed[month]
        for chosen in self._by_role_memo.values():
            for key in [key for key in chosen if key[0] is not None and key[0] < step]:
                del chosen[key]

    def issue_shares(self, issuer: str, holder: str, shares: float, cost_usd: float) -> EquityStake:
        """Record new shares of ``issuer`` bought by ``holder`` (cash moves in the ledger)."""
        self.shares_outstanding[issuer] += shares
        return self._add_to_stake(holder, issuer, shares, cost_usd)

    def founder_shares(self, issuer: str) -> float:
        """Shares of ``issuer`` still held by its founders, employees and early holders
        (outside the system): those outstanding less those the system's parties hold."""
        held = sum(s.shares for s in self.stakes.values() if s.issuer == issuer)
        return self.shares_outstanding.get(issuer, 0.0) - held

    def transfer_from_founders(
        self, issuer: str, holder: str, shares: float, cost_usd: float
    ) -> EquityStake:
        """``holder`` buys ``shares`` of ``issuer`` from its founders (no new shares)."""
        return self._add_to_stake(holder, issuer, shares, cost_usd)

    def _add_to_stake(
        self, holder: str, issuer: str, shares: float, cost_usd: float
    ) -> EquityStake:
        """``holder``'s stake in ``issuer`` gains ``shares`` bought for ``cost_usd``, marked
        at cost."""
        key = (holder, issuer)
        stake = self.stakes.get(key)
        if stake is None:
            stake = self.stakes[key] = EquityStake(holder, issuer, 0.0, 0.0, 0.0)
        stake.shares += float(shares)  # Python floats (module docstring)
        stake.cost_basis_usd += float(cost_usd)
        stake.mark_usd += float(cost_usd)
        return stake

    def ownership(self, holder: str, issuer: str) -> float:
        """Share of ``issuer`` that ``holder`` owns (0–1)."""
        stake = self.stakes.get((holder, issuer))
        total = self.shares_outstanding.get(issuer, 0.0)
        return 0.0 if stake is None or total <= 0 else stake.shares / total


def _latest_only[V](
    answers: dict[tuple[int, float], V] | None,
) -> dict[tuple[int, float], V] | None:
    """``answers`` keyed by (month, hours) without those of months before the latest (in
    place; the same dict)."""
    if answers and len(answers) > 1:
        latest = max(step for step, _ in answers)
        for key in [key for key in answers if key[0] < latest]:
            del answers[key]
    return answers


def _indexed[T](items: Iterable[tuple[T, str, str]]) -> dict[str, list[T]]:
    """An index of ``(item, party, other party)`` rows: each item filed under each distinct
    party, in the order given (as :func:`_index` one by one)."""
    index: dict[str, list[T]] = {}
    for item, first, second in items:
        filed = index.get(first)
        if filed is None:
            index[first] = [item]
        else:
            filed.append(item)
        if second != first:
            filed = index.get(second)
            if filed is None:
                index[second] = [item]
            else:
                filed.append(item)
    return index


def _drop_from(index: dict[str, list[Any]], gone: list[Any], *roles: str) -> set[str]:
    """Take the items ``gone`` out of the index lists of their parties (each item's
    attributes ``roles``), keeping the rest in their order; a party left with nothing leaves
    the index, as in a rebuild. Returns those parties."""
    parties = {getattr(x, role) for x in gone for role in roles}
    dropped = set(gone)  # instruments hash and compare by identity (eq=False)
    for party in parties:
        items = [x for x in index.get(party, ()) if x not in dropped]
        if items:
            index[party] = items
        else:
            index.pop(party, None)
    return parties


def _index[T](index: dict[str, list[T]], item: T, *agents: str) -> None:
    """File ``item`` under each distinct agent name (a self-dealing item once)."""
    for agent in dict.fromkeys(agents):
        index.setdefault(agent, []).append(item)
