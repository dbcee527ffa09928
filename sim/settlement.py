"""The obligations network: what each party owes whom this month, and how it gets paid.

Obligations are created by accrual postings (a take-or-pay bill, interest, principal, a chip
invoice falling due) and by external costs (power, staff, facilities, foundries). They are
paid by cash postings, or written off when the debtor defaults. Amounts are integer cents so
that the open obligations always equal the payables on the books.
"""

from __future__ import annotations

from collections.abc import Iterable
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


class ObligationBook:
    """Open obligations, grouped by debtor, in the order they arose."""

    def __init__(self) -> None:
        self._open: dict[str, list[Obligation]] = {}

    @property
    def by_debtor(self) -> dict[str, list[Obligation]]:
        """The open obligations by debtor, in the order they arose (the book itself, to
        read: obligations are filed through :meth:`add` and :meth:`add_all`)."""
        return self._open

    def add(self, obligation: Obligation) -> None:
        if obligation.cents > 0:
            self._open.setdefault(obligation.debtor, []).append(obligation)

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
        return self._open.get(debtor, [])

    def owed_cents(self, debtor: str) -> int:
        return sum([o.cents for o in self.of(debtor)])  # integer cents: exact in any order

    def debtors(self) -> list[str]:
        """Parties with something open, sorted for a deterministic order."""
        return sorted(d for d, obs in self._open.items() if obs)

    def drop_closed(self, debtor: str) -> None:
        """Forget ``debtor``'s obligations that were closed in place (brought to 0 cents)."""
        owed = self._open.get(debtor)
        if owed is None:
            return
        owed[:] = [o for o in owed if o.cents > 0]  # in place: a caller may hold the list
        if not owed:
            del self._open[debtor]

    def close(self, debtor: str) -> list[Obligation]:
        """Remove and return everything ``debtor`` owes."""
        return self._open.pop(debtor, [])
