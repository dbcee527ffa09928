"""The resolve phase: clearing the month's obligations network and the cascade of defaults.

Everyone who could pay all it owed has already paid (``settle_what_can_be_paid``). What is
left forms the obligations network: L[k, i, j] is what i still owes j this month in seniority
rank k (secured loans, senior unsecured loans, then take-or-pay bills, chip invoices and, as
one node "world", external costs). It is cleared with
:func:`sim.clearing.priority_clearing_vector` (Eisenberg–Noe with seniorities and
Rogers–Veraart default costs): a defaulter's cash pays its secured lenders first, then its
senior unsecured ones, then the rest; the default costs are paid away, and each defaulter's
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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim import distress, price_impact
from sim.agents import Cloud, MarketAgent
from sim.books import SHAREHOLDERS
from sim.clearing import (
    GENERAL_UNSECURED,
    SENIOR_UNSECURED,
    by_seniority,
    debtrank_of_each,
    estate_waterfall,
    priority_clearing_vector,
)
from sim.distress import FIRE_SALE_MARK, CovenantTest
from sim.instruments import CONVERTIBLE_NOTE, VENTURE_DEBT, CapacityContract, Loan
from sim.ledger import CENTS_PER_USD, Flow, Line, to_cents
from sim.mechanisms import share_price
from sim.metrics import LOSS_EVENTS
from sim.phases import credit
from sim.settlement import Obligation

if TYPE_CHECKING:
    from sim.model import ComputeMarket

WORLD = "world:creditors"  # one node for every external creditor in the clearing
CONTAGION_LOSSES = (*LOSS_EVENTS, FIRE_SALE_MARK)
"""Rows of the events table that are a loss one party's default caused another: the ledger
losses (:data:`sim.metrics.LOSS_EVENTS`) and fire-sale marks of GPUs held."""


@dataclass
class DistressMonth:
    """What the resolution of one month knows as it goes: the borrowers whose loans were
    called after a covenant breach (``called``), the round in which each party defaulted
    (``round_of``), and where this month's rows of the events table begin (``first_event``)."""

    first_event: int
    called: set[str] = field(default_factory=set)
    breached: set[str] = field(default_factory=set)
    round_of: dict[str, int] = field(default_factory=dict)


def run(model: ComputeMarket, t: int) -> None:
    """Phase 6, resolve: every borrower's covenants are tested; whoever still owes what it
    cannot pay defaults."""
    new = resolve_defaults(model, t)
    model.month_state.new_defaults = float(len(new))
    model.defaults_total += len(new)


def resolve_defaults(model: ComputeMarket, t: int) -> list[str]:
    """Test every borrower's covenants (lenders decide what a breach leads to), then clear
    the month's remaining obligations in rounds; return the new defaulters.

    Round 1 is the first wave of the first clearing. A party defaults in a later round only
    through a loss from an earlier-round defaulter of the same month: a later wave of the
    clearing (it is paid less by a defaulter) or a call of its loans after its own covenants,
    tested again after that loss, are breached. Every default row carries its cause, and
    each contagion default one ``contagion_loss`` row per counterparty whose default cost it
    money (how much)."""
    month = DistressMonth(first_event=len(model.events))
    if model.cfg.distress.covenants:
        test_every_borrower(model, t, month)
    if model.cfg.revolver.enabled:
        draw_revolvers(model, t, month)
    new: list[str] = []
    wave_offset = 0
    obligations = model.books.obligations
    while obligations.debtors():
        if model.cfg.cascade.rescue:
            attempt_rescues(model, t)
            if not obligations.debtors():
                break
        defaulted, wave_of, waves = clear_round(model, t, wave_offset)
        fresh = sorted(
            (name for name in defaulted if not model.agent(name).defaulted),
            key=lambda name: (wave_of[name], name),
        )
        month.round_of.update({name: wave_of[name] for name in fresh})
        for name in fresh:
            round_ = wave_of[name]
            cause = default_cause(model, t, name, round_, month)
            default_party(model, model.agent(name), t, round_, cause)
        wave_offset += max(waves, 1)
        new.extend(fresh)
        if model.cfg.cascade.insolvency_defaults:
            for agent in contagion_candidates(model, t, month):
                test_after_losses(model, t, agent, month, wave_offset + 1)
        if not fresh and not obligations.debtors():
            break
    pay_out_profits(model, t, month)
    prepay_from_cash(model, t)
    sweep_cash(model, t)
    model.books.start_covenant_month()
    return new


REVOLVER_DRAW = "revolver_draw"
"""Events row: a cloud drew on its committed revolver to pay its bills (no loss:
``amount_lost`` holds the USD drawn, ``creditor`` the lender)."""


def draw_revolvers(model: ComputeMarket, t: int, month: DistressMonth) -> None:
    """Before the month's bills are cleared, each cloud whose bills exceed its cash draws
    on its committed revolver what it wants (:meth:`Cloud.revolver_draw_wanted`), unless
    its lenders may refuse: its loans were called this month, or its book equity is not
    positive (a drawing's conditions: no event of default continuing and the borrower's
    representations, solvency among them, true when it draws; LMA facility agreements,
    "further conditions precedent"). A solvent firm does not miss a payment for want of
    a month's new credit; an insolvent one still defaults."""
    books = model.books
    for cloud in model.clouds:
        if cloud.defaulted or cloud.name in month.called or cloud.equity <= 0:
            continue
        owed = books.obligations.owed_cents(cloud.name) / CENTS_PER_USD
        if owed <= cloud.cash:
            continue
        want = cloud.revolver_draw_wanted(
            owed, credit.revolver_drawn_usd(model, cloud), cloud.borrowing_headroom(t)
        )
        if want < 0.01:
            continue
        for loan, drawn in credit.draw_revolver(model, t, cloud, want):
            record(
                model,
                t,
                REVOLVER_DRAW,
                cloud.name,
                loan.lender,
                drawn,
                loan.id,
                1,
                credit.REVOLVER,
            )


def prepay_from_cash(model: ComputeMarket, t: int) -> None:
    """Each cloud selling to the market decides how much of its loans to repay early out of
    cash it does not need (:meth:`Cloud.prepayment_wanted`), dearest loans first; one with
    bills still open this month repays nothing."""
    books, cash = model.books, model.cfg.cash
    for cloud in model.clouds:
        loans = books.instruments.loans_of(borrower=cloud.name)
        if cloud.defaulted or not cloud.sells_to_market or not loans:
            continue
        if books.obligations.owes(cloud.name):
            continue
        dearest = min(loans, key=_dearest_first)  # the first of them sorted, found in one pass
        left = cloud.prepayment_wanted(
            dearest.rate_per_year,
            cash.deposit_rate_per_year,
            cash.prepayment_share_hyperscaler
            if cloud.archetype == "hyperscaler"
            else cash.prepayment_share_neocloud,
            books.debt_service_usd(cloud.name),
        )
        repaid = 0.0
        if left < 1.0:
            continue
        for loan in sorted(loans, key=_dearest_first):
            if left - repaid < 1.0:
                break
            repaid += books.prepay(t, loan, left - repaid)
        if repaid > 0:
            record(model, t, "prepayment", cloud.name, "", repaid, "cash", 1, "loan")


def _dearest_first(loan: Loan) -> tuple[float, str]:
    """The order a borrower repays its loans early in: the highest rate first, then by id."""
    return (-loan.rate_per_year, loan.id)


def sweep_cash(model: ComputeMarket, t: int) -> None:
    """The excess-cash sweep of a leveraged loan: each cloud selling to the market that has
    not defaulted prepays ``distress.cash_sweep_share`` of its cash beyond its buffer
    (``finance.cash_buffer_months`` of its monthly costs), on its dearest loans first."""
    share = model.cfg.distress.cash_sweep_share
    if share <= 0:
        return
    books, months = model.books, model.cfg.finance.cash_buffer_months
    for cloud in model.clouds:
        loans = books.instruments.loans_of(borrower=cloud.name)
        if (
            cloud.defaulted
            or not cloud.sells_to_market  # a lease vehicle's cash is its project's
            or not loans
            or books.obligations.owes(cloud.name)
        ):
            continue
        excess = share * (cloud.cash - months * cloud.costs_usd)
        if excess < 1.0:
            continue
        for loan in sorted(loans, key=_dearest_first):
            if excess < 1.0:
                break
            excess -= books.prepay(t, loan, excess)


EXCESS_CASH_PAYOUT = "excess_cash_payout"
"""Events row: a hyperscaler returned cash beyond its target holding (no loss:
``amount_lost`` holds the USD paid out beside its payout ratio)."""


def pay_out_profits(model: ComputeMarket, t: int, month: DistressMonth) -> None:
    """Firms pay out what they choose (:meth:`MarketAgent.payout`) of the month's profit,
    and a hyperscaler also part of its cash beyond its target holding
    (:meth:`Cloud.excess_cash_payout_usd`), to their shareholders in the model by ownership
    and the rest outside; a borrower in breach of a covenant this month pays nothing out (a
    restricted-payments covenant)."""
    books = model.books
    for agent in model.all_agents:
        share = agent.payout_share()
        if share <= 0 or agent.name in month.breached or books.obligations.owes(agent.name):
            continue
        usd = agent.payout(books.profit_usd(agent.name), share, agent.cash_to_keep_usd())
        if isinstance(agent, Cloud):
            excess = agent.excess_cash_payout_usd(t, usd)
            if excess >= 0.01:
                usd += excess
                record(model, t, EXCESS_CASH_PAYOUT, agent.name, "", excess, "cash")
        if usd < 0.01:
            continue
        holders = {
            stake.holder: books.instruments.ownership(stake.holder, agent.name)
            for stake in books.instruments.stakes_in(agent.name)
        }
        books.pay_out(t, agent.name, usd, holders, SHAREHOLDERS)


# --- covenants -----------------------------------------------------------------------
def glut_factor(model: ComputeMarket, t: int) -> float:
    """Spot ÷ full cost, at most 1: what a used GPU is worth against its cost before any
    fire sale."""
    return min(1.0, model.spot_price / model.full_cost(t))


def impact_factor(model: ComputeMarket, t: int) -> float:
    """The fire sales' price impact this month (:func:`sim.price_impact.price_factor` of
    the GPUs defaulters sold against those installed)."""
    return price_impact.price_factor(
        model.month_state.fire_sold_gpus,
        model.month_state.installed_gpus,
        model.cfg.distress.fire_sale_impact,
    )


def secondary_price_factor(model: ComputeMarket, t: int) -> float:
    """The secondary price of used GPUs as a share of their book value: the glut times the
    price impact of this month's fire sales — what every holder's collateral and
    market-value marks see."""
    return glut_factor(model, t) * impact_factor(model, t)


def fleet_values(model: ComputeMarket, agent: MarketAgent, t: int) -> tuple[float, float]:
    """``agent``'s GPU fleet at book value and at the secondary price, USD."""
    book = model.books.ledger.balance(agent.name, Line.FLEET)
    return book, book * secondary_price_factor(model, t)


def covenant_test(model: ComputeMarket, agent: MarketAgent, t: int) -> tuple[CovenantTest, float]:
    """``agent``'s covenant figures this month, and its borrowing base (USD): the share of
    its backlog and of its fleet at the secondary price that lenders lend against."""
    books, fin = model.books, model.cfg.finance
    debt = sum([loan.outstanding for loan in covenanted_loans(model, agent)])
    book_fleet, market_fleet = fleet_values(model, agent, t)
    backlog = credit.collateral_backlog_usd(model, agent.name, t)
    base = fin.max_loan_to_backlog * backlog + fin.max_loan_to_fleet * market_fleet
    dscr = distress.coverage(
        books.operating_income_usd(agent.name), books.debt_service_usd(agent.name)
    )
    low = model.covenant_months.get(agent.name, 0)
    equity = agent.equity
    return (
        CovenantTest(
            dscr=dscr,
            low_dscr_months=low,
            ltv=distress.loan_to_value(debt, base),
            book_equity_usd=equity,
            market_equity_usd=equity + market_fleet - book_fleet,
        ),
        base,
    )


def covenanted_loans(model: ComputeMarket, agent: MarketAgent) -> list[Loan]:
    """``agent``'s loans that carry maintenance covenants: all but covenant-lite venture debt
    (:data:`~sim.instruments.VENTURE_DEBT`, which defaults only on a missed payment) and
    convertible notes (:data:`~sim.instruments.CONVERTIBLE_NOTE`)."""
    loans = model.books.instruments.loans_of(borrower=agent.name)
    return [loan for loan in loans if loan.kind not in (VENTURE_DEBT, CONVERTIBLE_NOTE)]


def borrowers(model: ComputeMarket) -> list[MarketAgent]:
    """Parties with covenanted loans outstanding that have not defaulted, in creation order."""
    return [a for a in model.all_agents if not a.defaulted and covenanted_loans(model, a)]


def test_every_borrower(model: ComputeMarket, t: int, month: DistressMonth) -> None:
    """Every month, every borrower: coverage, loan-to-value and equity (at book and market
    value) are tested; a breach goes to the lenders (:func:`respond_to_breach`)."""
    cfg = model.cfg.distress
    for agent in borrowers(model):
        dscr = distress.coverage(
            model.books.operating_income_usd(agent.name),
            model.books.debt_service_usd(agent.name),
        )
        low = model.covenant_months.get(agent.name, 0) + 1 if dscr < cfg.dscr_floor else 0
        model.covenant_months[agent.name] = low
        test, base = covenant_test(model, agent, t)
        breached = distress.breaches(test, cfg.dscr_breach_months, cfg.ltv_ceiling)
        if breached:
            month.breached.add(agent.name)
            respond_to_breach(model, t, agent, test, base, breached, month, 1)


def respond_to_breach(
    model: ComputeMarket,
    t: int,
    agent: MarketAgent,
    test: CovenantTest,
    base: float,
    breached: tuple[str, ...],
    month: DistressMonth,
    round_: int,
    event: str = "covenant",
) -> None:
    """Each lender of ``agent`` decides (:meth:`MarketAgent.respond_to_breach`) from what it
    would recover by calling its loans now and by letting ``agent`` continue, both shared
    among all its lenders by seniority; the decision is booked and recorded."""
    books, cfg = model.books, model.cfg
    loans = books.instruments.loans_of(borrower=agent.name)
    debt = sum(loan.outstanding for loan in loans)
    if debt <= 0:
        return
    owed = books.obligations.owed_cents(agent.name) / CENTS_PER_USD
    cash = max(0.0, agent.cash - owed)
    shortfall = month_shortfall_usd(model, t, agent, owed)
    _, market_fleet = fleet_values(model, agent, t)
    liquidation = distress.liquidation_value(cash, market_fleet, cfg.cascade.fire_sale_discount)
    continuation = distress.continuation_value(
        cash,
        market_fleet,
        books.operating_income_usd(agent.name),
        cfg.distress.continuation_horizon_months,
    )
    claims = [(loan.seniority, loan.outstanding) for loan in loans]
    on_liquidation = distress.by_seniority(liquidation, claims)
    on_continuation = distress.by_seniority(continuation, claims)
    swap_total = distress.restructure_swap_usd(
        test.book_equity_usd,
        test.market_equity_usd,
        debt,
        base,
        cfg.distress.ltv_ceiling,
        cfg.recapitalisation.restructure_cushion_share,
    )
    # one price for the month's swap, whichever lenders take part (a restructuring is one deal)
    price = share_price(
        agent.market_value(), swap_total, books.instruments.shares_outstanding[agent.name]
    )
    what = "+".join(breached)
    for lender_name in sorted({loan.lender for loan in loans}):
        mine = [k for k, loan in enumerate(loans) if loan.lender == lender_name]
        outstanding = sum(loans[k].outstanding for k in mine)
        lender = model.agent(lender_name)
        decision = lender.respond_to_breach(
            breached,
            outstanding,
            sum(on_liquidation[k] for k in mine),
            sum(on_continuation[k] for k in mine),
            shortfall,
        )
        amount = outstanding
        if decision == "accelerate":
            for k in mine:
                books.accelerate(t, loans[k])
            month.called.add(agent.name)
        elif decision == "restructure":
            amount = restructure(
                model,
                t,
                [loans[k] for k in mine],
                swap_total * outstanding / debt,
                price,
                forbear=shortfall > 0,
            )
            model.covenant_months[agent.name] = 0
        else:
            model.covenant_months[agent.name] = 0
        record(
            model, t, f"{event}_{decision}", agent.name, lender_name, amount, what, round_, "loan"
        )


PRINCIPAL_DEFERRED = "principal_deferred"
"""Events row: a restructuring lender put the month's unpaid principal back into its loan
(``amount_lost`` holds the USD deferred: no loss)."""


def month_shortfall_usd(model: ComputeMarket, t: int, agent: MarketAgent, owed_usd: float) -> float:
    """What ``agent`` cannot pay of the ``owed_usd`` of bills open this month from its cash
    and what its committed revolver would lend it now (:meth:`Cloud.revolver_draw_wanted`,
    within its borrowing headroom), USD (≥ 0)."""
    short = owed_usd - agent.cash
    if short <= 0:
        return 0.0
    if isinstance(agent, Cloud) and agent.equity > 0:
        short -= agent.revolver_draw_wanted(
            owed_usd, credit.revolver_drawn_usd(model, agent), agent.borrowing_headroom(t)
        )
    return max(0.0, short)


def restructure(
    model: ComputeMarket,
    t: int,
    loans: list[Loan],
    swap_usd: float,
    price: float,
    *,
    forbear: bool = False,
) -> float:
    """A lender restructures its ``loans``: it swaps ``swap_usd`` of them for new shares of
    the borrower at ``price`` USD a share (:func:`sim.mechanisms.share_price` of the whole
    swap), and extends what is left by ``distress.extension_months``; with ``forbear`` (the
    borrower cannot pay this month's bills) the month's unpaid principal of those loans goes
    back into them first (:meth:`Books.defer_principal`), so the amended schedule starts
    next month (a payment holiday: amend-and-extend workouts reschedule the principal due,
    Gilson, John and Lang 1990; Roberts and Sufi 2009). Returns the USD swapped (each part
    rounded up to the cent, so that equity is not left a cent short)."""
    books = model.books
    swapped = 0.0
    total = sum(loan.outstanding for loan in loans)
    for loan in loans:
        part = swap_usd * loan.outstanding / total + 0.01 if total > 0 and swap_usd > 0 else 0.0
        if part >= 0.02:
            books.swap_debt_for_equity(t, loan, part, price)
            swapped += part
        if forbear:
            deferred = books.defer_principal(t, loan)
            if deferred > 0:
                record(model, t, PRINCIPAL_DEFERRED, loan.borrower, loan.lender, deferred, loan.id)
        if loan.active:
            books.extend_loan(t, loan, model.cfg.distress.extension_months)
    return swapped


def losses_from_defaulters(
    model: ComputeMarket, t: int, name: str, month: DistressMonth, before_round: int
) -> dict[str, float]:
    """What ``name`` lost this month (:data:`CONTAGION_LOSSES`) from each party that
    defaulted this month in a round before ``before_round``, USD."""
    out: dict[str, float] = {}
    for row in model.events[month.first_event :]:
        source = str(row["defaulter"])
        if (
            row["creditor"] == name
            and row["event"] in CONTAGION_LOSSES
            and month.round_of.get(source, before_round) < before_round
            and float(row["amount_lost"]) > 0  # type: ignore[arg-type]
        ):
            out[source] = out.get(source, 0.0) + float(row["amount_lost"])  # type: ignore[arg-type]
    return out


def default_cause(
    model: ComputeMarket, t: int, name: str, round_: int, month: DistressMonth
) -> str:
    """Why ``name`` defaults in ``round_``: ``covenant`` (its loans were called after a
    breach), ``insolvency`` (found with negative equity in clearing), ``missed_payment``
    (in round 1), or ``contagion`` (a later round); a contagion default records one
    ``contagion_loss`` row per earlier-round defaulter of the month whose default cost it
    money. A later-round default without such a loss cannot happen (the clearing's later
    waves are paid less by earlier defaulters; loans are called in later rounds only after
    such a loss), and would raise."""
    if round_ <= 1:
        if name in month.called:
            return "covenant"
        return "missed_payment" if model.solvent_before_default.get(name, True) else "insolvency"
    sources = losses_from_defaulters(model, t, name, month, round_)
    if not sources:
        raise AssertionError(
            f"{name} defaults in round {round_} of month {t} without a loss from an "
            "earlier-round defaulter"
        )
    for source, usd in sorted(sources.items()):
        record(model, t, "contagion_loss", source, name, usd, "contagion", round_)
    return "contagion"


def contagion_candidates(model: ComputeMarket, t: int, month: DistressMonth) -> list[MarketAgent]:
    """Borrowers that have not defaulted and lost money this month to its defaulters."""
    return [a for a in borrowers(model) if losses_from_defaulters(model, t, a.name, month, 10**9)]


def test_after_losses(
    model: ComputeMarket, t: int, agent: MarketAgent, month: DistressMonth, round_: int
) -> None:
    """A borrower that lost money to this month's defaulters is tested again: if its
    equity (book or market) or loan-to-value covenant is now breached, its lenders decide;
    loans called now are ``insolvent`` rows, cleared in the next round."""
    cfg = model.cfg.distress
    test, base = covenant_test(model, agent, t)
    breached = tuple(
        b for b in distress.breaches(test, 10**9, cfg.ltv_ceiling) if b != distress.DSCR
    )
    if breached:
        respond_to_breach(model, t, agent, test, base, breached, month, round_, "insolvent")


# --- clearing ------------------------------------------------------------------------
def clear_round(
    model: ComputeMarket, t: int, wave_offset: int
) -> tuple[list[str], dict[str, int], int]:
    """Clear what is open now; pay, charge default costs, write off. Returns the parties
    that did not pay in full, the round of each (its wave, after ``wave_offset``), and the
    number of default waves."""
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
    loans = {loan.id: loan for d in debtors for loan in books.instruments.loans_of(borrower=d)}
    ranks = max(
        [GENERAL_UNSECURED, *(claim_rank(ob, loans) for d in debtors for ob in obligations.of(d))]
    )
    liabilities = np.zeros((ranks + 1, len(nodes), len(nodes)))
    for d in debtors:
        for ob in obligations.of(d):
            creditor = index[WORLD if ob.external else ob.creditor]
            liabilities[claim_rank(ob, loans), index[d], creditor] += ob.usd
    cash = np.array([books.ledger.cash(p) for p in parties] + [0.0])
    solvent_before = {d: model.agent(d).equity >= 0 for d in debtors}
    result = priority_clearing_vector(liabilities, cash, alpha=cfg.alpha, beta=cfg.beta)
    wave_of = {nodes[i]: wave_offset + k + 1 for k, wave in enumerate(result.waves) for i in wave}
    # Pay each obligation its share of the debtor's clearing payment: rank by rank
    # (secured loans first, then senior unsecured, then the rest), pro rata within a rank.
    plan: list[tuple[Obligation, int]] = []
    for d in debtors:
        i = index[d]
        by_rank = liabilities[:, i, :].sum(axis=1)
        paid_by_rank = by_seniority(
            float(result.payments[i]), [(k, float(v)) for k, v in enumerate(by_rank)]
        )
        for ob in obligations.of(d):
            k = claim_rank(ob, loans)
            share = min(1.0, paid_by_rank[k] / by_rank[k]) if by_rank[k] > 0 else 1.0
            plan.append((ob, ob.cents if share >= 1.0 else int(ob.cents * share)))
        owed_total = float(by_rank.sum())
        if result.defaulted[i] and owed_total > 0:
            pro_rata = float(result.payments[i]) * by_rank / owed_total
            moved = float(np.maximum(0.0, np.array(paid_by_rank) - pro_rata).sum())
            if moved >= 0.01:  # what seniority gave senior creditors beyond a pro rata share
                record(
                    model,
                    t,
                    "paid_by_seniority",
                    d,
                    "",
                    moved,
                    "clearing",
                    wave_of.get(d, wave_offset + 1),
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
    return defaulted, wave_of, len(result.waves)


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


def default_party(
    model: ComputeMarket,
    agent: MarketAgent,
    t: int,
    round_: int,
    cause: str = "missed_payment",
) -> None:
    """``agent`` defaults: insolvency or illiquidity recorded with its ``cause`` (in the
    row's ``instrument``); GPUs sold to repay lenders; loans written off; contracts end;
    its shareholders' stakes are written down."""
    agent.record_default(t)
    solvent = model.solvent_before_default.get(agent.name, agent.equity >= 0)
    kind = "default_illiquid" if solvent else "default_insolvent"
    record(model, t, kind, agent.name, "", 0.0, cause, round_)
    books = model.books
    collateral = fire_sale(model, agent, t, round_) if isinstance(agent, Cloud) else 0
    loans = {loan.id: loan for loan in books.instruments.loans_of(borrower=agent.name)}
    accelerate_loans(model, agent, t)
    file_estate_claims(model, t, agent)
    share_estate(model, t, agent, collateral, loans, round_)
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


def file_estate_claims(model: ComputeMarket, t: int, agent: MarketAgent) -> None:
    """Each seller of a take-or-pay contract ``agent`` bought (paid in cash) claims on its
    estate: the remaining take-or-pay payments, discounted and capped
    (:func:`sim.distress.estate_claim_usd`), less the prepayment the seller keeps."""
    cfg, books = model.cfg.distress, model.books
    hours = model.cfg.market.hours_per_month
    for contract in books.instruments.contracts_of(agent.name):
        if contract.buyer != agent.name or contract.in_kind:
            continue
        monthly = (
            contract.take_or_pay_share * contract.gpus * hours * contract.price_usd_per_gpu_hour
        )
        months = max(0, contract.end - max(t + 1, contract.start))
        claim = (
            distress.estate_claim_usd(
                monthly,
                months,
                cfg.estate_discount_rate_per_year,
                cfg.estate_claim_cap_months,
                cfg.estate_claim_cap_share,
            )
            - contract.prepaid_cents / CENTS_PER_USD
        )
        if claim >= 0.01:
            books.claim_on_estate(t, contract, claim)


def claim_rank(ob: Obligation, loans: dict[str, Loan]) -> int:
    """Where an obligation ranks in a defaulter's estate: a loan by its ``seniority`` (0
    secured, 1 senior unsecured, 2 and below after the general unsecured creditors), any
    other claim as general unsecured (:data:`sim.clearing.GENERAL_UNSECURED`)."""
    loan = loans.get(ob.instrument)
    if loan is None:
        return GENERAL_UNSECURED
    return loan.seniority if loan.seniority <= SENIOR_UNSECURED else loan.seniority + 1


def share_estate(
    model: ComputeMarket,
    t: int,
    agent: MarketAgent,
    collateral_cents: int,
    loans: dict[str, Loan],
    round_: int,
) -> None:
    """What ``agent`` owes after its default is paid from its estate (its cash, of which
    ``collateral_cents`` came from its seized GPUs) by seniority
    (:func:`sim.clearing.estate_waterfall`); the rest is written off. Estate claims of
    terminated contracts are recorded as ``estate_claim`` rows (the claim, and what it
    recovered, as ``amount_lost`` = the unpaid part)."""
    books = model.books
    obligations = books.obligations.close(agent.name)
    if not obligations:
        return
    cash = books.ledger.balance_cents(agent.name)
    collateral = min(collateral_cents, cash)
    paid = estate_waterfall(
        collateral, cash - collateral, [(claim_rank(ob, loans), ob.cents) for ob in obligations]
    )
    for ob, cents in zip(obligations, paid, strict=True):
        books.pay(t, ob, min(ob.cents, int(cents), books.ledger.balance_cents(agent.name)))
    for ob in obligations:
        if ob.flow is Flow.ESTATE_CLAIM_DUE:
            usd = books.write_off(t, ob) if ob.cents > 0 else 0.0
            record(
                model,
                t,
                "estate_claim",
                agent.name,
                ob.creditor,
                usd,
                ob.instrument,
                round_,
                "estate claim",
            )
        elif ob.cents > 0:
            write_off(model, t, ob, round_)


def accelerate_loans(model: ComputeMarket, agent: MarketAgent, t: int) -> None:
    """All of ``agent``'s outstanding loans fall due now (a default or insolvency event)."""
    for loan in model.books.instruments.loans_of(borrower=agent.name):
        model.books.accelerate(t, loan)


def fire_sale(model: ComputeMarket, cloud: MarketAgent, t: int, round_: int) -> int:
    """Lenders seize the GPUs and offer them to the cloud with the most cash, at book value ×
    (spot ÷ full cost, at most 1) × (1 − fire-sale discount). Proceeds stay with the
    defaulter for its creditors, secured lenders first; returns them in cents. With no
    buyer able to pay, the GPUs stay in service under administration, selling on the spot
    market."""
    assert isinstance(cloud, Cloud)
    books = model.books
    book = cloud.fleet_book_cents()
    if book <= 0:
        return 0
    gpus = sum(v.gpus for v in cloud.fleet)
    glut = glut_factor(model, t)
    before = impact_factor(model, t)
    model.month_state.fire_sold_gpus += gpus  # the sale moves the price it fetches
    after = impact_factor(model, t)
    mark_holders(model, t, cloud.name, glut, before, after, round_)
    price = to_cents(
        book / CENTS_PER_USD * glut * after * (1.0 - model.cfg.cascade.fire_sale_discount)
    )
    buyers = sorted(
        (c for c in model.clouds if not c.defaulted and c is not cloud),
        key=lambda c: (-c.cash, c.name),
    )
    if not buyers or price <= 0 or not buyers[0].bid_for_fleet(price / CENTS_PER_USD):
        return 0
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
    return price


def mark_holders(
    model: ComputeMarket,
    t: int,
    seller: str,
    glut: float,
    before: float,
    after: float,
    round_: int,
) -> None:
    """A fire sale moved the secondary price from ``before`` to ``after`` (× the glut):
    every other cloud's GPUs are marked down the same month — its collateral and its
    market-value equity fall (overlapping portfolios, Greenwood, Landier and Thesmar 2015).
    One ``fire_sale_mark`` row per holder, with the USD it lost at market value."""
    holdings = {
        c.name: c.fleet_book_cents() / CENTS_PER_USD * glut
        for c in model.clouds
        if c.name != seller and not c.defaulted
    }
    for holder, usd in price_impact.marks_after_sale(holdings, before, after).items():
        record(model, t, FIRE_SALE_MARK, seller, holder, usd, "GPUs", round_, "fleet")


def loss_given_default(model: ComputeMarket, agent: MarketAgent, t: int) -> float:
    """The share of what ``agent`` owes its creditors would lose if it defaulted now: 1 −
    its liquidation value (cash and fleet at the fire-sale price) ÷ its liabilities (loans
    and what it owes now), between 0 and 1."""
    books = model.books
    owed = books.obligations.owed_cents(agent.name) / CENTS_PER_USD
    liabilities = books.instruments.debt_usd(agent.name) + owed
    if liabilities <= 0:
        return 0.0
    _, market_fleet = fleet_values(model, agent, t)
    value = distress.liquidation_value(
        agent.cash, market_fleet, model.cfg.cascade.fire_sale_discount
    )
    return min(1.0, max(0.0, 1.0 - value / liabilities))


def rescue_stakes(
    model: ComputeMarket, t: int, partner: MarketAgent, name: str, lgd: float
) -> tuple[float, float]:
    """What ``partner`` avoids if ``name`` is rescued (its claims × ``lgd`` plus the margin
    on the backlog and chip orders it would lose, USD), and what of the rescue money would
    come straight back to it now (``name``'s obligations to it this month, USD)."""
    hours = model.cfg.market.hours_per_month
    book = model.books.instruments
    due = sum(o.usd for o in model.books.obligations.of(name) if o.creditor == partner.name)
    loans = sum(loan.outstanding for loan in book.loans_of(borrower=name, lender=partner.name))
    stake = book.stakes.get((partner.name, name))
    claims = loans + due + (stake.mark_usd if stake else 0.0)
    sales = sum(
        c.remaining_value(t + 1, hours)
        for c in book.contracts_between(seller=partner.name, buyer=name)
    ) + sum(o.undelivered_usd for o in book.open_orders(buyer=name) if o.vendor == partner.name)
    avoided = max(0.0, claims - due) * lgd + model.cfg.cascade.rescue_sales_margin * sales
    return avoided, due


def attempt_rescues(model: ComputeMarket, t: int) -> None:
    """For each party about to default, its partners decide (:meth:`MarketAgent.joins_rescue`)
    whether to buy new equity for its shortfall: the partner that avoids the largest loss
    alone, if it will; otherwise a consortium of every partner that avoids a loss, each
    paying in proportion to the loss it avoids, if all of them will (Rogers and Veraart
    2013). One ``rescue`` row per rescuer."""
    books = model.books
    for name in books.obligations.debtors():
        distressed = model.agent(name)
        shortfall = (
            books.obligations.owed_cents(name) - books.ledger.balance_cents(name)
        ) / CENTS_PER_USD
        if shortfall <= 0.01 or distressed.defaulted:
            continue
        lgd = loss_given_default(model, distressed, t)
        stakes = [
            (partner, *rescue_stakes(model, t, partner, name, lgd))
            for partner in model.all_agents
            if partner is not distressed and not partner.defaulted
        ]
        stakes = [s for s in stakes if s[1] > 0]
        if not stakes:
            continue
        stakes.sort(key=lambda s: (-s[1], s[0].name))
        rescuers: list[tuple[MarketAgent, float]] = []
        for partner, avoided, due in stakes:
            if partner.joins_rescue(shortfall, avoided, due, partner.rescue_budget_usd()):
                rescuers = [(partner, shortfall)]
                break
        if not rescuers and len(stakes) > 1:
            total = sum(avoided for _, avoided, _ in stakes)
            shares = [(p, shortfall * avoided / total, avoided, due) for p, avoided, due in stakes]
            if all(
                p.joins_rescue(part, avoided, due, p.rescue_budget_usd())
                for p, part, avoided, due in shares
            ):
                # each part rounded up to the cent, so the parts cover the shortfall
                rescuers = [
                    (p, float(np.ceil(part * CENTS_PER_USD)) / CENTS_PER_USD)
                    for p, part, _, _ in shares
                ]
        if not rescuers:
            continue
        price = share_price(
            distressed.market_value(), shortfall, books.instruments.shares_outstanding[name]
        )
        for rescuer, amount in rescuers:
            books.issue_shares(t, rescuer.name, name, amount, price, instrument="rescue")
            rescuer.rescued_usd += amount
            what = "rescue" if len(rescuers) == 1 else "rescue consortium"
            record(model, t, "rescue", name, rescuer.name, amount, what, 1, "equity stake")
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
    # only the pairs with a loan, a stake or a backlog, in the order of the agents' pairs
    # (the matrix is dense, its Python loop is not: n² pairs cost at 20× the world)
    index = {a.name: k for k, a in enumerate(agents)}
    exposures = np.zeros((n, n))
    claimed = {
        (index[h], index[i])
        for h, i in (*lent, *book.stakes)
        if h in index and i in index and h != i
    }
    for i, j in claimed:
        holder, other = agents[i].name, agents[j].name
        stake = book.stakes.get((holder, other))
        loans = lent.get((holder, other), 0)
        exposures[i, j] = loans + (stake.mark_usd if stake else 0.0)
    pairs = claimed | {(index[s], index[b]) for s, b in backlogs if s in index and b in index}
    rows: list[dict[str, object]] = []
    for i, j in sorted(pairs):
        holder, other = agents[i], agents[j]
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
    weights = np.array([ledger.assets_usd(a.name) for a in agents])
    weights = np.maximum(weights, 1.0)
    rows = []
    each = debtrank_of_each(exposures, buffers, weights)  # the impact matrix built once
    for j, agent in enumerate(agents):
        result = each[j]
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
