"""Phase 5, finance: funds receive or pay out performance-chasing flows; convertible notes
accrue interest; labs short of runway sell equity to the investors who value them at the
round's price or above (a round can close smaller, or fail; its notes convert), then
convertible notes, then venture debt for what is still short; clouds short of cash borrow
from syndicates, all the clouds' requests rationed together; then whoever can pay, pays."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import mechanisms
from sim.agents import Lab, MarketAgent
from sim.books import FOUNDERS, cents_round
from sim.instruments import VENTURE_DEBT, ConvertibleNote
from sim.ledger import Flow, Line
from sim.phases import credit
from sim.phases.resolve import record

if TYPE_CHECKING:
    from sim.model import ComputeMarket

ROUND_FAILED = "equity_round_failed"
ROUND_SMALLER = "equity_round_closed_smaller"
"""Events of rounds that raised nothing, or less than the lab wanted (``amount_lost`` is the
USD not raised: a shortfall of the lab's, not a loss on anybody's books)."""


RECAPITALISATION = "recapitalisation_round"
"""Events row: a lab with negative book equity and debt asked its investors for equity
(:meth:`Lab.recapitalisation_wanted`; ``amount_lost`` holds the USD asked: no loss)."""


def run(world: ComputeMarket, t: int) -> None:
    fund_flows(world, t)
    accrue_notes(world, t)
    wealth = wealth_bids(world)
    for lab in world.labs:
        liquidity = lab.equity_wanted()
        debt = world.books.ledger.balance(lab.name, Line.DEBT)
        recapitalisation = lab.recapitalisation_wanted(debt)
        amount = max(liquidity, recapitalisation)
        if recapitalisation > liquidity:
            record(world, t, RECAPITALISATION, lab.name, "", recapitalisation, "round")
        if amount > 0:
            raised = equity_round(world, t, lab, amount, wealth)
            # debt bridges only the cash it needs, never a recapitalisation (only equity cures)
            if raised < liquidity - 1.0:
                raised += convertible_notes(world, t, lab, liquidity - raised)
            if raised < liquidity - 1.0:
                venture_debt(world, t, lab, liquidity - raised)
    borrow_together(world, t)
    world.books.settle_what_can_be_paid(t)


def fund_flows(world: ComputeMarket, t: int) -> None:
    """Each investor reads last month's return on its stakes; money flows in (or is
    redeemed) with the return above its hurdle (:meth:`Investor.performance_flow_usd`)."""
    capital = world.capital
    for investor in world.investors:
        investor.observe_return(
            capital.mark_gain.get(investor.name, 0.0),
            capital.stakes_before_mark.get(investor.name, 0.0),
        )
        flow = cents_round(investor.performance_flow_usd())
        if flow >= 0.01:
            world.books.receive(t, FOUNDERS, investor.name, flow, Flow.FOUNDING_CAPITAL)
        elif flow <= -0.01:
            world.books.redeem(t, investor.name, min(-flow, investor.cash))


def wealth_bids(world: ComputeMarket) -> dict[str, float]:
    """USD each holder adds to its bids this month out of last month's mark-up on its
    stakes (:meth:`MarketAgent.wealth_reinvestment`; none with ``capital.wealth_effects``
    off)."""
    gains = world.capital.mark_gain
    bids = {a.name: a.wealth_reinvestment(gains.get(a.name, 0.0)) for a in world.all_agents}
    return {name: usd for name, usd in bids.items() if usd >= 1.0}


def equity_round(
    world: ComputeMarket, t: int, lab: Lab, amount: float, wealth: dict[str, float] | None = None
) -> float:
    """Sell new shares of ``lab`` at its market value (the pre-money valuation,
    :func:`sim.mechanisms.share_price`). Investors whose own valuation at their required
    return is at least that price bid their equity budgets; holders whose stakes rose add
    what they reinvest (``wealth``, drawn down as it is used). The round raises the least of
    what the lab wants, what is bid and ``capital.max_round_dilution`` of the post-money
    company, allocated pro rata to the bids; it closes smaller, or fails, when the bids or
    the cap fall short (an event either way). Returns the USD raised."""
    books, sentiment, cap = world.books, world.sentiment, world.cfg.capital
    wealth = {} if wealth is None else wealth
    pre_money = lab.market_value()
    bidders: list[MarketAgent] = []
    bids: list[float] = []
    for investor in world.investors:
        budget = investor.equity_budget(sentiment) + wealth.get(investor.name, 0.0)
        if budget >= 1.0 and investor.joins_round(lab, pre_money, sentiment):
            bidders.append(investor)
            bids.append(min(budget, investor.cash))
    for name, usd in wealth.items():
        holder = world.agent(name)
        if holder.kind != "Investor" and name != lab.name and pre_money > 0:
            bidders.append(holder)
            bids.append(usd)
    total = float(sum(bids))
    most = cap.max_round_dilution / (1.0 - cap.max_round_dilution) * pre_money
    raise_usd = min(amount, total, most)
    if raise_usd < 1.0:
        record(world, t, ROUND_FAILED, lab.name, "", amount, "round")
        return 0.0
    shares = books.instruments.shares_outstanding[lab.name]
    price_per_share = mechanisms.share_price(pre_money, raise_usd, shares)
    raised = 0.0
    for buyer, bid in zip(bidders, np.array(bids), strict=True):
        usd = cents_round(min(raise_usd * bid / total, buyer.cash))
        if usd < 1.0:
            continue
        books.issue_shares(t, buyer.name, lab.name, usd, price_per_share, instrument="round")
        raised += usd
        from_wealth = min(usd, wealth.get(buyer.name, 0.0))
        if from_wealth > 0:
            wealth[buyer.name] -= from_wealth
        if buyer.kind == "Investor":
            buyer.record_investment(usd - from_wealth)  # type: ignore[attr-defined]
    convert_notes(world, t, lab, price_per_share, shares)
    if raised < amount - 1.0:
        record(world, t, ROUND_SMALLER, lab.name, "", amount - raised, "round")
    return raised


def notes_of(world: ComputeMarket, lab: Lab) -> list[ConvertibleNote]:
    """``lab``'s convertible notes still outstanding."""
    return [
        loan
        for loan in world.books.instruments.loans_of(borrower=lab.name)
        if isinstance(loan, ConvertibleNote)
    ]


def accrue_notes(world: ComputeMarket, t: int) -> None:
    """Every outstanding convertible note accrues the month's interest into its principal."""
    for note in [loan for loan in world.books.instruments.loans if loan.active]:
        if isinstance(note, ConvertibleNote):
            world.books.capitalise_interest(t, note)


def convertible_notes(world: ComputeMarket, t: int, lab: Lab, shortfall: float) -> float:
    """A round left ``shortfall`` unraised: the lab sells convertible notes for what it wants
    (:meth:`Lab.convertible_note_wanted`) to the investors who would buy its shares at the
    note's discounted price (:meth:`Investor.buys_note`), each up to what is left of its
    equity budget, on the ``capital.note_*`` terms (the valuation cap a multiple of today's
    valuation). Returns the USD raised."""
    cap, sentiment = world.cfg.capital, world.sentiment
    owed = sum(note.outstanding for note in notes_of(world, lab))
    wanted = lab.convertible_note_wanted(shortfall, owed)
    if wanted < 1.0:
        return 0.0
    pre_money = lab.market_value()
    sold = 0.0
    for investor in world.investors:
        usd = cents_round(min(wanted - sold, investor.equity_budget(sentiment), investor.cash))
        if usd < 1.0 or not investor.buys_note(lab, pre_money, sentiment):
            continue
        note = mechanisms.sell_note(
            world.books,
            t,
            investor,
            lab,
            usd,
            rate=cap.note_rate_per_year,
            maturity_months=cap.note_maturity_months,
            discount=cap.note_discount,
            valuation_cap_usd=cap.note_cap_multiple * pre_money,
            seniority=cap.note_seniority,
        )
        sold += note.principal
    return sold


def convert_notes(
    world: ComputeMarket, t: int, lab: Lab, price_per_share: float, shares_before: float
) -> None:
    """A priced round closed at ``price_per_share``: every outstanding note of ``lab``
    converts into new shares at its conversion price (the round's price less the discount,
    or the cap ÷ the ``shares_before`` the round, whichever is lower)."""
    for note in notes_of(world, lab):
        price = note.conversion_price(price_per_share, shares_before)
        if price > 0:
            world.books.convert_note(t, note, price)


def venture_debt(world: ComputeMarket, t: int, lab: Lab, shortfall: float) -> float:
    """A round left ``shortfall`` unraised: the lab borrows venture debt for what it wants
    (:meth:`Lab.venture_debt_wanted`) from the lenders with the largest loan budgets (the
    syndicate rule of clouds), on venture terms: ``capital.venture_debt_*`` rate (plus each
    lender's stress spread), maturity, interest-only months and seniority. Returns the USD
    lent."""
    cap, sentiment = world.cfg.capital, world.sentiment
    owed = sum(
        loan.outstanding
        for loan in world.books.instruments.loans
        if loan.active and loan.borrower == lab.name and loan.kind == VENTURE_DEBT
    )
    wanted = lab.venture_debt_wanted(shortfall, owed)
    lenders = sorted(
        (i for i in world.investors if i.loan_budget(sentiment) >= 1.0 and not i.defaulted),
        key=lambda i: (-i.loan_budget(sentiment), i.name),
    )[: world.cfg.finance.syndicate_size]
    lent = 0.0
    for lender in lenders:
        usd = cents_round(min(wanted - lent, lender.loan_budget(sentiment), lender.cash))
        if usd < 1.0:
            continue
        rate = lender.loan_rate(cap.venture_debt_rate_per_year, sentiment)
        lent += mechanisms.lend(
            world.books,
            t,
            lender,
            lab,
            usd,
            rate,
            cap.venture_debt_maturity_months,
            kind=VENTURE_DEBT,
            seniority=cap.venture_debt_seniority,
            grace_months=min(cap.venture_debt_grace_months, cap.venture_debt_maturity_months - 1),
        ).usd
    return lent


def borrow_together(world: ComputeMarket, t: int) -> None:
    """Every cloud states what it wants to borrow (:meth:`Cloud.borrowing_wanted`) before
    any is served; the lenders then share their budgets over all the requests
    (:func:`sim.phases.credit.lend_to_requests`, :meth:`Investor.ration_credit`), so that
    a small borrower is not starved because the large ones were visited first. A bond
    issuer's (:attr:`Cloud.issues_bonds`) loan runs ``bonds.maturity_months``, a
    collateral borrower's ``finance.loan_maturity_months``."""
    requests = []
    bonds = world.cfg.bonds.maturity_months
    for cloud in world.clouds:
        if cloud.defaulted or not cloud.sells_to_market:
            continue
        maturity = bonds if cloud.issues_bonds else world.cfg.finance.loan_maturity_months
        requests.append((cloud, cloud.borrowing_wanted(t), maturity))
    lent = credit.lend_to_requests(world, t, requests)
    world.month_state.bonds_issued_usd += sum(
        lent.get(cloud.name, 0.0) for cloud, _, _ in requests if cloud.issues_bonds
    )
