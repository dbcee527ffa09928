"""The obligations network: what each party owes whom this month, and how it gets paid.

Obligations are created by accrual postings (a take-or-pay bill, interest, principal, a chip
invoice falling due) and by external costs (power, staff, facilities, foundries). They are
paid by cash postings, or written off when the debtor defaults. Amounts are integer cents so
that the open obligations always equal the payables on the books.

A buyer's compute bills of a month are filed as one :class:`ObligationBatch` (speed: about
700 bills a month in the default world). Settling in full pays a batch by its (creditor,
flow) groups; every other reader sees its obligations one by one, exactly as if they had
been filed one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sim.ledger import CENTS_PER_USD, PAYMENT_FOR_ACCRUAL, WORLD_PREFIX, Flow


@dataclass(slots=True)
class Obligation:
    """``debtor`` owes ``creditor`` ``cents`` for ``flow`` under ``instrument``.

    For an internal creditor, ``flow`` is the accrual that created the payable (its payment
    kind is :data:`PAYMENT_FOR_ACCRUAL`); for an external one (``world:…``), ``flow`` is the
    cash flow to post when it is paid.
    """

    debtor: str
    creditor: str
    cents: int
    flow: Flow
    instrument: str = ""  # the instrument's id, if any
    step: int = 0
    kind: str = ""  # the instrument's type ("loan", "capacity contract", …, "external cost")

    @property
    def external(self) -> bool:
        return self.creditor.startswith(WORLD_PREFIX)  # sim.ledger.is_world, inlined (hot)

    @property
    def payment_flow(self) -> Flow:
        return (
            self.flow if self.creditor.startswith(WORLD_PREFIX) else PAYMENT_FOR_ACCRUAL[self.flow]
        )

    @property
    def usd(self) -> float:
        return self.cents / CENTS_PER_USD


@dataclass(slots=True)
class PaymentGroup:
    """What one debtor owes one creditor for one flow in an :class:`ObligationBatch`: the
    cents of each instrument and the instrument's id, in the order they arose."""

    creditor: str
    flow: Flow
    cents: list[int]
    instruments: list[str]


@dataclass(slots=True)
class ObligationBatch:
    """Many internal obligations of one debtor that arose together (a buyer's compute
    bills of a month), filed as one entry: ``cents`` is their total, ``groups`` the parts
    by (creditor, flow) in the order each pair first arose, ``make_parts`` makes the
    obligations one by one in the order they arose. :class:`ObligationBook` replaces a batch
    by those the first time anything but :meth:`ObligationBook.take` reads its debtor's
    obligations; settling in full pays it by groups without making them."""

    debtor: str
    cents: int
    groups: list[PaymentGroup]
    make_parts: Callable[[], list[Obligation]]


class ObligationBook:
    """Open obligations, grouped by debtor, in the order they arose."""

    def __init__(self) -> None:
        self._open: dict[str, list[Obligation | ObligationBatch]] = {}

    @property
    def by_debtor(self) -> dict[str, list[Obligation]]:
        """The open obligations by debtor, in the order they arose (the book itself, to
        read: obligations are filed through :meth:`add` and :meth:`add_all`)."""
        for debtor in list(self._open):
            self._unbatch(debtor)
        return self._open  # type: ignore[return-value]

    def _unbatch(self, debtor: str) -> list[Obligation]:
        """``debtor``'s open obligations one by one: its batches replaced, in place, by
        their parts."""
        owed = self._open.get(debtor)
        if owed is None:
            return []
        if any(type(o) is ObligationBatch for o in owed):
            owed[:] = [
                part
                for o in owed
                for part in (o.make_parts() if type(o) is ObligationBatch else (o,))  # type: ignore[union-attr]
            ]
        return owed  # type: ignore[return-value]

    def add(self, obligation: Obligation) -> None:
        if obligation.cents > 0:
            self._open.setdefault(obligation.debtor, []).append(obligation)

    def add_batch(self, batch: ObligationBatch) -> None:
        """File ``batch`` after what its debtor already owes."""
        if batch.cents > 0:
            self._open.setdefault(batch.debtor, []).append(batch)

    def add_all(self, obligations: Iterable[Obligation]) -> None:
        """:meth:`add` for each of ``obligations``, in order (a month's bills or loan
        instalments filed together)."""
        book = self._open
        for ob in obligations:
            if ob.cents > 0:
                listed = book.get(ob.debtor)
                if listed is None:
                    book[ob.debtor] = [ob]
                else:
                    listed.append(ob)

    def of(self, debtor: str) -> list[Obligation]:
        """``debtor``'s open obligations, one by one, in the order they arose (the book's
        own list: a caller may close them in place)."""
        return self._unbatch(debtor)

    def owed_cents(self, debtor: str) -> int:
        owed = self._open.get(debtor)
        if owed is None:
            return 0
        return sum([o.cents for o in owed])  # integer cents, exact in any order; a batch: its total

    def owes(self, debtor: str) -> bool:
        """Whether ``debtor`` has anything open (closed obligations not yet dropped count)."""
        return bool(self._open.get(debtor))

    def debtors(self) -> list[str]:
        """Parties with something open, sorted for a deterministic order."""
        return sorted(d for d, obs in self._open.items() if obs)

    def drop_closed(self, debtor: str) -> None:
        """Forget ``debtor``'s obligations that were closed in place (brought to 0 cents)."""
        owed = self._open.get(debtor)
        if owed is None:
            return
        self._unbatch(debtor)
        owed[:] = [o for o in owed if o.cents > 0]  # in place: a caller may hold the list
        if not owed:
            del self._open[debtor]

    def close(self, debtor: str) -> list[Obligation]:
        """Remove and return everything ``debtor`` owes, one by one."""
        self._unbatch(debtor)
        return self._open.pop(debtor, [])  # type: ignore[return-value]

    def take(self, debtor: str) -> list[Obligation | ObligationBatch]:
        """Remove and return everything ``debtor`` owes as filed, batches whole (to pay it
        all: :meth:`Books.pay_all <sim.books.Books.pay_all>`)."""
        return self._open.pop(debtor, [])
