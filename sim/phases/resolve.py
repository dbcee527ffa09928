"""The resolve phase: clearing the month's obligations network and the cascade of defaults.

Everyone who could pay all it owed has already paid (``settle_what_can_be_paid``). What is
left forms the obligations network: L[i, j] is what i still owes j this month (take-or-pay
bills, interest, principal, chip invoices, and, as one node "world", external costs). It is
cleared with :func:`sim.clearing.clearing_vector` (Eisenberg–Noe with Rogers–Veraart default
costs): the payments are made, the default costs are paid away, and each defaulter's
creditors write off the rest.

A defaulter's loans are accelerated and its lenders recover from its cash and from the sale
of its GPUs to another cloud at a glut-depressed price; its contracts end, so its capacity
(or its demand) returns to the spot market; its shareholders' stakes are written down
through their own books. Parties whose book equity those losses push below zero are
insolvent: their loans are accelerated in turn and the network is cleared again — rounds
repeat within the month until no new default. A cash shortfall with positive equity is
recorded as illiquidity, not insolvency.

Optionally (``cascade.rescue``), before any of this, a partner whose exposure to a distressed
counterparty is large recapitalises it, if its own balance sheet allows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.agents import Cloud, MarketAgent
from sim.clearing import clearing_vector, debtrank
from sim.instruments import CapacityContract
from sim.ledger import ASSETS, CENTS_PER_USD, to_cents
from sim.mechanisms import share_price
from sim.settlement import Obligation

if TYPE_CHECKING:
    from sim.model import ComputeMarket

WORLD = "world:creditors"  # one node for every external creditor in the clearing


def run(model: ComputeMarket, t: int) -> None:
    """Phase 6, resolve: whoever still owes what it cannot pay defaults."""
    new = resolve_defaults(model, t)
    model.month_state.new_defaults = float(len(new))
    model.defaults_total += len(new)


def resolve_defaults(model: ComputeMarket, t: int) -> list[str]:
    """Clear the month's remaining obligations in rounds; return the new defaulters."""
    new: list[str] = []
    wave_offset = 0
    obligations = model.books.obligations
    while obligations.debtors():
        if model.cfg.cascade.rescue:
            attempt_rescues(model, t)
            if not obligations.debtors():
                break
        defaulted, waves = clear_round(model, t, wave_offset)
        wave_offset += max(waves, 1)
        fresh = [name for name in defaulted if not model.agent(name).defaulted]
        for name in fresh:
            default_party(model, model.agent(name), t, wave_offset)
        new.extend(fresh)
        if model.cfg.cascade.insolvency_defaults:
            for agent in insolvent_parties(model):
                accelerate_loans(model, agent, t)
                record(model, t, "insolvent", agent.name, "", 0.0, "", wave_offset + 1)
        if not fresh and not obligations.debtors():
            break
    return new


def clear_round(model: ComputeMarket, t: int, wave_offset: int) -> tuple[list[str], int]:
    """Clear what is open now; pay, charge default costs, write off. Returns the parties
    that did not pay in full and the number of default waves."""
    cfg = model.cfg.cascade
    books = model.books
    obligations = books.obligations
    debtors = obligations.debtors()
    parties = sorted(
        {
            *debtors,
            *(o.creditor for d in debtors for o in obligations.of(d) if not o.external),
        }
    )
    nodes = [*parties, WORLD]
    index = {p: k for k, p in enumerate(nodes)}
    liabilities = np.zeros((len(nodes), len(nodes)))
    for d in debtors:
        for ob in obligations.of(d):
            liabilities[index[d], index[WORLD if ob.external else ob.creditor]] += ob.usd
    cash = np.array([books.ledger.cash(p) for p in parties] + [0.0])
    solvent_before = {d: model.agent(d).equity >= 0 for d in debtors}
    result = clearing_vector(liabilities, cash, alpha=cfg.alpha, beta=cfg.beta)
    wave_of = {nodes[i]: wave_offset + k + 1 for k, wave in enumerate(result.waves) for i in wave}
    # Pay each obligation its share of the debtor's clearing payment.
    owed = liabilities.sum(axis=1)
    ratio = np.divide(result.payments, owed, out=np.ones_like(owed), where=owed > 0)
    plan: list[tuple[Obligation, int]] = []
    for d in debtors:
        share = min(1.0, float(ratio[index[d]]))
        plan.extend(
            (ob, ob.cents if share >= 1.0 else int(ob.cents * share)) for ob in obligations.of(d)
        )
    _execute(model, t, plan)
    defaulted = [nodes[i] for i in np.flatnonzero(result.defaulted) if nodes[i] != WORLD]
    for name in defaulted:  # default costs: what a defaulter keeps beyond its payment is lost
        if cfg.alpha < 1.0 or cfg.beta < 1.0:
            books.pay_default_costs(t, name)
    for d in debtors:
        for ob in obligations.close(d):
            if ob.cents > 0:
                write_off(model, t, ob, wave_of.get(d, wave_offset + 1))
        books.forget_external_arrears(d)
    model.solvent_before_default = solvent_before
    return defaulted, len(result.waves)


def _execute(model: ComputeMarket, t: int, plan: list[tuple[Obligation, int]]) -> None:
    """Make the clearing payments. The network of what is still owed within a month is
    acyclic in this model (labs → clouds → vendors and lenders), so paying whoever can, over
    and over, reaches every payment; any cent a cycle would block is written off instead."""
    books = model.books
    pending = [(ob, cents) for ob, cents in plan if cents > 0]
    while pending:
        still = []
        for ob, cents in pending:
            if books.ledger.balance_cents(ob.debtor) >= cents:
                books.pay(t, ob, cents)
            else:
                still.append((ob, cents))
        if len(still) == len(pending):
            for ob, _ in still:  # blocked: pay what cash allows
                books.pay(t, ob, min(books.ledger.balance_cents(ob.debtor), ob.cents))
            break
        pending = still


def settle_prepayment(
    model: ComputeMarket, t: int, contract: CapacityContract, defaulter: str, round_: int
) -> None:
    """What is left of a terminated contract's prepayment: lost by the buyer if the seller
    defaulted (it paid for compute it will not get), kept by the seller if the buyer did."""
    if not contract.prepaid_cents:
        return
    if contract.seller == defaulter:
        usd = model.books.write_off_prepayment(t, contract)
        record(
            model,
            t,
            "prepayment_written_off",
            defaulter,
            contract.buyer,
            usd,
            contract.id,
            round_,
            contract.kind,
        )
    else:
        model.books.forfeit_prepayment(t, contract)


def write_off(model: ComputeMarket, t: int, ob: Obligation, round_: int) -> None:
    """The creditor of an unpaid obligation writes it off (a loss on its books)."""
    what = ob.instrument or ob.flow.label
    usd = model.books.write_off(t, ob)
    record(model, t, "unpaid_obligation", ob.debtor, ob.creditor, usd, what, round_, ob.kind)


def default_party(model: ComputeMarket, agent: MarketAgent, t: int, round_: int) -> None:
    """``agent`` defaults: insolvency or illiquidity recorded; GPUs sold to repay lenders;
    loans written off; contracts end; its shareholders' stakes are written down."""
    agent.record_default(t)
    solvent = model.solvent_before_default.get(agent.name, agent.equity >= 0)
    kind = "default_illiquid" if solvent else "default_insolvent"
    record(model, t, kind, agent.name, "", 0.0, "", round_)
    if isinstance(agent, Cloud):
        fire_sale(model, agent, t, round_)
    accelerate_loans(model, agent, t)
    books = model.books
    if books.obligations.of(agent.name):  # lenders share its cash pro rata, then write off
        owed = books.obligations.owed_cents(agent.name)
        cash = books.ledger.balance_cents(agent.name)
        obligations = books.obligations.close(agent.name)
        for ob in obligations:
            books.pay(t, ob, min(ob.cents, cash * ob.cents // owed))
        for ob in obligations:
            if ob.cents > 0:
                write_off(model, t, ob, round_)
    hours = model.cfg.market.hours_per_month
    for contract in books.instruments.contracts_of(agent.name):
        counterparty = contract.seller if contract.buyer == agent.name else contract.buyer
        lost = contract.remaining_value(t + 1, hours)
        record(
            model,
            t,
            "contract_terminated",
            agent.name,
            counterparty,
            lost,
            contract.id,
            round_,
            contract.kind,
        )
        settle_prepayment(model, t, contract, agent.name, round_)
        books.terminate(contract)
    for order in books.instruments.open_orders(buyer=agent.name):
        books.cancel_undelivered(order)
    for stake in books.instruments.stakes_in(agent.name):  # shareholders are wiped out now
        if stake.mark_usd > 0:
            usd = books.write_off_stake(t, stake)
            record(
                model,
                t,
                "stake_written_off",
                agent.name,
                stake.holder,
                usd,
                "stake",
                round_,
                "equity stake",
            )


def accelerate_loans(model: ComputeMarket, agent: MarketAgent, t: int) -> None:
    """All of ``agent``'s outstanding loans fall due now (a default or insolvency event)."""
    for loan in model.books.instruments.loans_of(borrower=agent.name):
        model.books.accelerate(t, loan)


def fire_sale(model: ComputeMarket, cloud: MarketAgent, t: int, round_: int) -> None:
    """Lenders seize the GPUs and offer them to the cloud with the most cash, at book value ×
    (spot ÷ full cost, at most 1) × (1 − fire-sale discount). Proceeds stay with the
    defaulter for its creditors. With no buyer able to pay, the GPUs stay in service under
    administration, selling on the spot market."""
    assert isinstance(cloud, Cloud)
    books = model.books
    book = cloud.fleet_book_cents()
    if book <= 0:
        return
    glut = min(1.0, model.spot_price / model.full_cost(t))
    price = to_cents(book / CENTS_PER_USD * glut * (1.0 - model.cfg.cascade.fire_sale_discount))
    buyers = sorted(
        (c for c in model.clouds if not c.defaulted and c is not cloud),
        key=lambda c: (-c.cash, c.name),
    )
    if not buyers or price <= 0 or not buyers[0].bid_for_fleet(price / CENTS_PER_USD):
        return
    buyer = buyers[0]
    loss = book - price
    books.write_down_fleet(t, cloud.name, loss, "fire-sale loss")
    books.sell_fleet(t, buyer.name, cloud.name, price)
    fleet = cloud.give_up_fleet()
    remaining = price
    for k, v in enumerate(fleet):
        value = remaining if k == len(fleet) - 1 else v.book_cents * price // book
        remaining -= value
        chip = value * v.chip_book_cents // v.book_cents if v.book_cents else 0
        v.chip_cost_cents = v.chip_book_cents = chip
        v.facility_cost_cents = v.facility_book_cents = value - chip
        buyer.receive_chips(v)
    gpus = sum(v.gpus for v in fleet)
    record(
        model,
        t,
        "fire_sale",
        cloud.name,
        buyer.name,
        loss / CENTS_PER_USD,
        f"{gpus:.0f} GPUs",
        round_,
        "fleet",
    )


def insolvent_parties(model: ComputeMarket) -> list[MarketAgent]:
    """Non-defaulted borrowers whose book equity is negative."""
    return [
        a
        for a in model.all_agents
        if not a.defaulted and a.equity < 0 and model.books.instruments.loans_of(borrower=a.name)
    ]


def attempt_rescues(model: ComputeMarket, t: int) -> None:
    """'Too interconnected to fail': for each party about to default, the partner with the
    largest exposure to it that is willing (:meth:`MarketAgent.will_rescue`) buys new
    equity for the shortfall."""
    books = model.books
    for name in books.obligations.debtors():
        distressed = model.agent(name)
        shortfall = books.obligations.owed_cents(name) - books.ledger.balance_cents(name)
        if shortfall <= 0 or distressed.defaulted:
            continue
        best = None
        for partner in model.all_agents:
            if partner is distressed or partner.defaulted or partner.equity <= 0:
                continue
            exposure = exposure_usd(model, partner.name, name)
            owed = books.obligations.owed_cents(partner.name) / CENTS_PER_USD
            if partner.will_rescue(exposure, shortfall / CENTS_PER_USD, owed) and (
                best is None or exposure > best[0]
            ):
                best = (exposure, partner)
        if best is None:
            continue
        rescuer = best[1]
        amount = shortfall / CENTS_PER_USD

        shares = books.instruments.shares_outstanding[name]
        price = share_price(distressed.market_value(), amount, shares)
        books.issue_shares(t, rescuer.name, name, amount, price, instrument="rescue")
        record(model, t, "rescue", name, rescuer.name, amount, "rescue", 1, "equity stake")
        books.pay_in_full(t, name)


def exposure_usd(model: ComputeMarket, holder: str, counterparty: str) -> float:
    """What ``holder`` stands to lose if ``counterparty`` fails: loans to it, amounts it owes
    ``holder`` now, the mark of ``holder``'s stake in it, and its remaining take-or-pay
    commitments to ``holder``."""
    hours = model.cfg.market.hours_per_month
    book = model.books.instruments
    loans = sum(loan.outstanding for loan in book.loans_of(borrower=counterparty, lender=holder))
    owed = sum(o.usd for o in model.books.obligations.of(counterparty) if o.creditor == holder)
    stake = book.stakes.get((holder, counterparty))
    backlog = sum(
        c.remaining_value(model.month, hours)
        for c in book.contracts_between(seller=holder, buyer=counterparty)
    )
    return loans + owed + (stake.mark_usd if stake else 0.0) + backlog


def exposure_pairs(model: ComputeMarket, t: int) -> tuple[np.ndarray, list[dict[str, object]]]:
    """Who stands to lose what if whom fails, at month ``t``, read from the instrument book
    without changing it: the matrix of balance-sheet claims (loans outstanding and stake
    marks, ``[holder, issuer]`` in the order of ``model.all_agents``), and one row per pair
    with a claim or take-or-pay backlog (``step``, ``creditor``, ``debtor``,
    ``balance_sheet_usd``, ``backlog_usd``, ``amount``; USD)."""
    agents = model.all_agents
    n = len(agents)
    # one pass over the instruments, in book order, then sum() per pair (compensated
    # summation: the same figures as summing each pair's instruments directly)
    book = model.books.instruments
    lent_parts: dict[tuple[str, str], list[float]] = {}
    for loan in book.loans:
        if loan.active:
            lent_parts.setdefault((loan.lender, loan.borrower), []).append(loan.outstanding)
    lent = {key: sum(parts) for key, parts in lent_parts.items()}
    hours = model.cfg.market.hours_per_month
    backlog_parts: dict[tuple[str, str], list[float]] = {}
    for c in book.contracts:
        backlog_parts.setdefault((c.seller, c.buyer), []).append(c.remaining_value(t, hours))
    backlogs = {key: sum(parts) for key, parts in backlog_parts.items()}
    exposures = np.zeros((n, n))
    for i, holder in enumerate(agents):
        for j, other in enumerate(agents):
            if i != j:
                stake = book.stakes.get((holder.name, other.name))
                loans = lent.get((holder.name, other.name), 0)
                exposures[i, j] = loans + (stake.mark_usd if stake else 0.0)
    rows: list[dict[str, object]] = []
    for i, holder in enumerate(agents):
        for j, other in enumerate(agents):
            backlog = backlogs.get((holder.name, other.name), 0)
            if exposures[i, j] > 0 or backlog > 0:
                rows.append(
                    {
                        "step": t,
                        "creditor": holder.name,
                        "debtor": other.name,
                        "balance_sheet_usd": float(exposures[i, j]),
                        "backlog_usd": backlog,
                        "amount": float(exposures[i, j]) + backlog,
                    }
                )
    return exposures, rows


def debtrank_snapshot(model: ComputeMarket, t: int) -> list[dict[str, object]]:
    """DebtRank of each agent's single default (Battiston et al. 2012) at month ``t``.

    Exposures are balance-sheet claims (loans, stake marks); buffers are book equity (at
    least one dollar); weights are total assets. Also records the exposure network of the
    month (claims plus the take-or-pay backlog a cloud stands to lose, see
    :func:`exposure_pairs`) in ``model.exposure_rows``."""
    agents = model.all_agents
    ledger = model.books.ledger
    exposures, rows = exposure_pairs(model, t)
    model.exposure_rows.extend(rows)
    buffers = np.array([max(a.equity, 1.0) for a in agents])
    weights = np.array([sum(ledger.balance(a.name, line) for line in ASSETS) for a in agents])
    weights = np.maximum(weights, 1.0)
    rows = []
    for j, agent in enumerate(agents):
        result = debtrank(exposures, buffers, weights, [j])
        rows.append(
            {
                "step": t,
                "agent_id": agent.name,
                "agent_type": agent.kind,
                "debtrank": float(result.R),
                "equity_usd": agent.equity,
                "weight": float(weights[j] / weights.sum()),
            }
        )
    return rows


def record(
    model: ComputeMarket,
    t: int,
    event: str,
    defaulter: str,
    creditor: str,
    amount: float,
    instrument: str,
    round_: int = 1,
    kind: str = "",
) -> None:
    """Append one row to the events table. ``amount`` is the creditor's loss in USD (for a
    terminated contract: the take-or-pay revenue it will no longer receive); ``instrument``
    is an id and ``kind`` its type ("loan", "capacity contract", "equity stake", …)."""
    model.events.append(
        {
            "step": t,
            "round": round_,
            "event": event,
            "defaulter": defaulter,
            "creditor": creditor,
            "amount_lost": amount,
            "instrument": instrument,
            "instrument_kind": kind,
        }
    )
