"""The resolve phase: who cannot pay what it owes defaults, and what that does to the others.

Everyone who could pay all it owed has already paid (``settle_what_can_be_paid``). What is
left is owed by parties whose cash does not cover their obligations even after the finance
phase. Each pays its creditors pro rata from the cash it has; the rest is written off by the
creditors (a loss on their books), the defaulter's loans are written off by its lenders, and
its contracts end, so its capacity (or its demand) goes back to the spot market.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.ledger import CENTS_PER_USD, Flow

if TYPE_CHECKING:
    from sim.agents import MarketAgent
    from sim.model import ComputeMarket


def resolve_defaults(model: ComputeMarket, t: int) -> list[str]:
    """Default everyone still in arrears; return the names of the new defaulters."""
    new: list[str] = []
    for debtor in model.obligations.debtors():
        agent = model.agent(debtor)
        obligations = model.obligations.close(debtor)
        owed = sum(o.cents for o in obligations)
        cash = model.ledger.balance_cents(debtor)
        for ob in obligations:  # pro-rata payment from what is there
            model.pay(t, ob, cash * ob.cents // owed if owed > 0 else 0)
        for ob in obligations:
            if ob.cents <= 0:
                continue
            if not ob.external:
                model.ledger.post(
                    t,
                    debtor,
                    ob.creditor,
                    ob.cents / CENTS_PER_USD,
                    Flow.RECEIVABLE_WRITE_OFF,
                    ob.instrument,
                )
            record(
                model,
                t,
                "unpaid_obligation",
                debtor,
                ob.creditor,
                ob.cents / CENTS_PER_USD,
                ob.instrument or ob.flow.label,
            )
            ob.cents = 0
        agent.unpaid_external_usd = 0.0
        if not agent.defaulted:
            default_party(model, agent, t)
            new.append(debtor)
    return new


def default_party(model: ComputeMarket, agent: MarketAgent, t: int) -> None:
    """Mark ``agent`` defaulted: lenders write off its loans, its contracts and orders end."""
    agent.defaulted = True
    agent.default_step = t
    record(model, t, "default", agent.name, "", 0.0, "")
    for loan in model.book.loans_of(borrower=agent.name):
        model.ledger.post(
            t, agent.name, loan.lender, loan.outstanding, Flow.LOAN_WRITE_OFF, loan.id
        )
        record(model, t, "loan_written_off", agent.name, loan.lender, loan.outstanding, loan.id)
        loan.outstanding = 0.0
        loan.active = False
    hours = model.cfg.market.hours_per_month
    for contract in model.book.contracts_of(agent.name):
        counterparty = contract.seller if contract.buyer == agent.name else contract.buyer
        lost = contract.remaining_value(t + 1, hours)
        record(model, t, "contract_terminated", agent.name, counterparty, lost, contract.id)
        contract.active = False
    for order in model.book.open_orders(buyer=agent.name):
        order.units = order.delivered_units  # undelivered chips are cancelled


def record(
    model: ComputeMarket,
    t: int,
    event: str,
    defaulter: str,
    creditor: str,
    amount: float,
    instrument: str,
    round_: int = 1,
) -> None:
    """Append one row to the events table. ``amount`` is the creditor's loss in USD (for a
    terminated contract: the take-or-pay revenue it will no longer receive)."""
    model.events.append(
        {
            "step": t,
            "round": round_,
            "event": event,
            "defaulter": defaulter,
            "creditor": creditor,
            "amount_lost": amount,
            "instrument": instrument,
        }
    )
