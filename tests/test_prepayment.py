"""Contract prepayments (DESIGN §2): paid in cash at signing, drawn down before any bill,
lost by the buyer if the seller defaults, kept by the seller if the buyer does."""

from __future__ import annotations

import pytest

from sim.instruments import CapacityContract
from sim.ledger import Line
from sim.model import ComputeMarket
from sim.phases.resolve import default_party

from .conftest import small_world

DRAWN = ("prepayment_used", "prepayment_forfeited", "prepayment_write_off")


def prepaid_world(months: int) -> ComputeMarket:
    model = ComputeMarket(small_world(**{"market.prepayment_share": 0.5}), rng=4, audit=True)
    for _ in range(months):
        model.step()  # audited every month: books agree with every contract's prepayment
    return model


def test_prepayments_are_drawn_down_before_any_bill() -> None:
    model = prepaid_world(24)
    flows, accruals = model.books.ledger.flows(), model.books.ledger.accruals()
    paid = flows[flows["kind"] == "compute_prepayment"].groupby("instrument")["amount"].sum()
    assert len(paid) >= 2
    left = {c.id: c.prepaid_cents / 100 for c in model.books.instruments.contracts}
    for contract_id, amount in paid.items():
        mine = accruals[accruals["instrument"] == contract_id]
        drawn = mine.loc[mine["kind"].isin(DRAWN), "amount"].sum()
        assert amount == pytest.approx(drawn + left.get(contract_id, 0.0), abs=0.011)
        used = mine.loc[mine["kind"] == "prepayment_used", "step"]
        billed = mine.loc[(mine["kind"] == "compute_due") & (mine["amount"] > 0), "step"]
        if len(used) and len(billed):
            assert used.max() <= billed.min(), contract_id  # no bill while prepayment is left
    assert model.books.ledger.balance("lab-a", Line.PREPAID) == pytest.approx(
        sum(c.prepaid_cents for c in model.books.instruments.contracts if c.buyer == "lab-a") / 100
    )


def first_prepaid(model: ComputeMarket, **party: str) -> CapacityContract:
    for contract in model.books.instruments.contracts:
        if contract.prepaid_cents and all(getattr(contract, k) == v for k, v in party.items()):
            return contract
    raise AssertionError(f"no prepaid contract with {party}")


def test_the_buyer_loses_the_prepayment_when_the_seller_defaults() -> None:
    model = prepaid_world(3)
    contract = first_prepaid(model, seller="neo")
    between = model.books.instruments.contracts_between(seller="neo", buyer=contract.buyer)
    left = sum(c.prepaid_cents for c in between)
    buyer_before = model.books.ledger.balance_cents(contract.buyer, Line.PREPAID)
    equity_before = model.books.ledger.equity(contract.buyer)
    default_party(model, model.agent("neo"), model.month, 1)
    model.books.ledger.check()
    assert all(c.prepaid_cents == 0 and not c.active for c in between)
    assert model.books.ledger.balance_cents(contract.buyer, Line.PREPAID) == buyer_before - left
    assert model.books.ledger.equity(contract.buyer) == pytest.approx(equity_before - left / 100)
    events = model.events_table()
    lost = events[
        (events["event"] == "prepayment_written_off") & (events["creditor"] == contract.buyer)
    ]
    assert lost["amount_lost"].sum() == pytest.approx(left / 100)


def test_the_seller_keeps_the_prepayment_when_the_buyer_defaults() -> None:
    model = prepaid_world(3)
    contract = first_prepaid(model, buyer="lab-b")
    between = model.books.instruments.contracts_between(seller=contract.seller, buyer="lab-b")
    left = sum(c.prepaid_cents for c in between)
    seller_before = model.books.ledger.balance_cents(contract.seller, Line.DEFERRED_REVENUE)
    equity_before = model.books.ledger.equity(contract.seller)
    default_party(model, model.agent("lab-b"), model.month, 1)
    model.books.ledger.check()
    assert all(c.prepaid_cents == 0 for c in between)
    assert model.books.ledger.balance_cents(contract.seller, Line.DEFERRED_REVENUE) == (
        seller_before - left
    )
    assert model.books.ledger.equity(contract.seller) >= equity_before + left / 100 - 0.01
    forfeited = model.books.ledger.accruals()
    assert (forfeited["kind"] == "prepayment_forfeited").any()


def test_bills_booked_together_agree_with_one_by_one() -> None:
    """Books.bill_contracts (the operate phase's batch) leaves the ledger, the obligations
    and the covenant month's income as bill_contract called contract by contract, with
    prepaid contracts among plain ones (a prepayment drawn first)."""
    one, batch = prepaid_world(2).books, prepaid_world(2).books  # the same world twice
    every = one.instruments.contracts
    prepaid = [k for k, c in enumerate(every) if c.prepaid_cents][:3]
    plain = [k for k, c in enumerate(every) if not c.prepaid_cents][:3]
    assert prepaid and plain
    picked = [k for pair in zip(plain, prepaid, strict=False) for k in pair]
    bills = [(k, 1000.0 * (i + 1) + 0.005 * i) for i, k in enumerate(picked)]
    for k, bill in bills:
        one.bill_contract(2, one.instruments.contracts[k], bill)
    batch.bill_contracts(2, [(batch.instruments.contracts[k], bill) for k, bill in bills])
    assert one.ledger._books == batch.ledger._books
    assert one.ledger._accruals == batch.ledger._accruals
    assert one.obligations.by_debtor == batch.obligations.by_debtor
    assert one._income_cents == batch._income_cents
    assert [c.prepaid_cents for c in one.instruments.contracts] == [
        c.prepaid_cents for c in batch.instruments.contracts
    ]
