"""Credit priced by the borrower (issue 13, item 7): what lenders see of a borrower when they
quote its rate and size its borrowing base.

- :func:`collateral_backlog_usd`: the take-or-pay backlog a lender counts as collateral,
  each contract weighted by its buyer's ability to pay (:func:`sim.distress.backlog_weight`):
  backlog from a buyer burning cash counts for less than backlog from a rich one.
- :func:`credit_profile`: the borrower's book leverage and the concentration of its
  customers, which lenders price (:meth:`sim.agents.Investor.loan_rate`).
- :func:`lend_from_syndicate`: a cloud's syndicated loan — the lenders it chooses, each
  lending its pro-rata share within its budget at the rate it quotes.
- :func:`lending_sentiment_for`: the sentiment lenders apply to the borrower's budget and
  stress spread — in a downturn, less of the market's fall for a safe balance sheet (the
  flight to quality, :func:`sim.distress.lending_sentiment`).
- :func:`open_project_line`: the delayed-draw term loans a cloud arranged before the run
  for the chips it had ordered then (contract-backed project finance).
- :func:`draw_revolver`: a drawing on a cloud's committed revolving credit facility, lent by
  its bank group (the lenders of its loans) in proportion to what each has lent it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import distress, market, mechanisms
from sim.agents import Investor, Lab
from sim.books import cents_round, cents_up
from sim.mechanisms import Lent

if TYPE_CHECKING:
    from sim.agents import Cloud
    from sim.instruments import BacklogTerms
    from sim.model import ComputeMarket


def buyer_position(world: ComputeMarket, buyer: str) -> tuple[float, float]:
    """``buyer``'s cash (USD) and what it loses in cash a month (≥ 0, USD): a lab's burn at
    its current pace; other buyers (clouds buying from clouds) are taken to pay from their
    operations (0). Read for every buyer at each look at a seller's collateral, so the
    cash is read from the ledger directly (the agent's ``cash``, two calls fewer)."""
    agent = world.agent(buyer)
    burn = agent.monthly_burn() if isinstance(agent, Lab) else 0.0
    return world.books.ledger.balance(buyer), burn


def collateral_backlog_usd(world: ComputeMarket, seller: str, t: int) -> float:
    """``seller``'s take-or-pay backlog as collateral at month ``t``, USD: each contract's
    remaining take-or-pay value × the weight of its buyer (its cash against its burn over
    the contract's remaining months, :func:`sim.distress.backlog_weight`)."""
    hours = world.cfg.market.hours_per_month
    floor = world.cfg.distress.backlog_weight_floor
    # the contracts' months left and take-or-pay values, computed once a month per seller
    terms = world.books.instruments.backlog_terms(seller, t, hours)
    if not terms.buyers:
        return 0.0
    position: dict[str, tuple[float, float]] = {}  # each buyer's (cash, burn), read once
    for buyer in terms.distinct:
        position[buyer] = buyer_position(world, buyer)
    # the answer is a function of the terms and the buyers' positions (values and types):
    # while neither changed since the seller's last answer, it is that answer
    key = tuple([(c, b, type(b)) for c, b in position.values()])
    memo = world.collateral_memo.get(seller)
    if memo is not None and memo[0] is terms and memo[1] == key:
        return memo[2]
    answer = _weighted_backlog(terms, position, floor)
    world.collateral_memo[seller] = (terms, key, answer)
    return answer


def _weighted_backlog(
    terms: BacklogTerms, position: dict[str, tuple[float, float]], floor: float
) -> float:
    """:func:`collateral_backlog_usd` from the seller's backlog ``terms`` and each buyer's
    (cash, burn) ``position``, USD: each contract's value × its buyer's weight
    (:func:`sim.distress.backlog_weight`), added one by one in contract order."""
    positions = list(position.values())
    if not any(burn > 0 for _, burn in positions):
        # nobody burns cash: every weight is 1 and the total is the values' own running
        # total (times 1, the same doubles)
        return terms.running_total
    # distress.backlog_weight, contract by contract, with each buyer's runway (months of
    # burn its cash covers; None for a buyer that does not burn) worked out once
    runways = [max(0.0, cash) / burn if burn > 0 else None for cash, burn in positions]
    rest = 1.0 - floor
    total = 0.0
    for i, months, value in zip(terms.buyer_index, terms.months_left, terms.values, strict=True):
        runway = runways[i]
        if runway is None:  # a weight of 1: the value itself
            total += value
        else:
            share = runway / months
            total += value * (floor + rest * (share if share < 1.0 else 1.0))
    return total


def credit_profile(world: ComputeMarket, borrower: str, t: int) -> tuple[float, float]:
    """``borrower``'s book leverage (loans ÷ total assets, 0 without assets) and the
    Herfindahl concentration of its take-or-pay backlog by buyer (0 without backlog)."""
    books = world.books
    leverage = leverage_of(world, borrower)
    hours = world.cfg.market.hours_per_month
    by_buyer = books.instruments.backlog_amounts(borrower, t, hours)
    kept = world.concentration_memo.get(borrower)
    if kept is not None and kept[0] is by_buyer:  # the same kept amounts: the same measure
        return leverage, kept[1]
    concentration = distress.herfindahl(list(by_buyer.values()))
    world.concentration_memo[borrower] = (by_buyer, concentration)
    return leverage, concentration


def leverage_of(world: ComputeMarket, borrower: str) -> float:
    """``borrower``'s book leverage: loans ÷ total assets (0 without assets)."""
    books = world.books
    assets = books.ledger.assets_usd(borrower)
    return books.instruments.debt_usd(borrower) / assets if assets > 0 else 0.0


def lending_sentiment_for(world: ComputeMarket, borrower: str) -> float:
    """The sentiment lenders apply to ``borrower`` this month: the market's, cut less for a
    borrower with little leverage (:func:`sim.distress.lending_sentiment`)."""
    return distress.lending_sentiment(
        world.sentiment,
        leverage_of(world, borrower),
        world.cfg.distress.flight_to_quality_leverage,
    )


def quote(world: ComputeMarket, lender: Investor, borrower: str, base_rate: float, t: int) -> float:
    """The annual rate ``lender`` asks ``borrower`` on a new loan whose base rate is
    ``base_rate``, given the borrower's leverage and customer concentration now; its stress
    spread follows the sentiment lenders apply to the borrower (:func:`lending_sentiment_for`)."""
    leverage, concentration = credit_profile(world, borrower, t)
    sentiment = distress.lending_sentiment(
        world.sentiment, leverage, world.cfg.distress.flight_to_quality_leverage
    )
    return lender.loan_rate(base_rate, sentiment, leverage, concentration)


def syndicate_shares(
    world: ComputeMarket, cloud: Cloud, amount: float, sentiment: float | None = None
) -> list[tuple[Investor, float]]:
    """Who lends ``cloud`` how much of ``amount`` USD: the syndicate it chooses
    (:meth:`Cloud.choose_syndicate`), shared pro rata to the lenders' offers, each at most
    its budget; lenders size their offers by the sentiment they apply to this borrower
    (``sentiment``, else :func:`lending_sentiment_for`: the flight to quality). Empty when
    there is nothing to lend."""
    if amount < 1.0:
        return []
    if sentiment is None:
        sentiment = lending_sentiment_for(world, cloud.name)
    syndicate = cloud.choose_syndicate(world.investors, sentiment)
    budgets = np.array([offer for _, offer in syndicate])
    offered = budgets.sum()
    if offered < 1.0:
        return []
    take = market.pro_rata(budgets * (amount / offered), float(offered))
    return [
        (lender, float(min(usd, lender.loan_budget(sentiment))))
        for (lender, _), usd in zip(syndicate, take, strict=True)
    ]


def lend_from_syndicate(
    world: ComputeMarket, t: int, cloud: Cloud, amount: float, maturity_months: int = 0
) -> float:
    """Book a loan of up to ``amount`` USD to ``cloud`` from its syndicate
    (:func:`syndicate_shares`), each lender at the rate it quotes (:func:`quote`), over
    ``maturity_months`` (0: ``finance.loan_maturity_months``). Returns the USD lent."""
    maturity = maturity_months or world.cfg.finance.loan_maturity_months
    lent = 0.0
    for lender, usd in syndicate_shares(world, cloud, amount):
        if usd >= 1.0:
            rate = quote(world, lender, cloud.name, cloud.spec.interest_rate_per_year, t)
            lent += mechanisms.lend(world.books, t, lender, cloud, usd, rate, maturity).usd
    return lent


def lend_to_requests(
    world: ComputeMarket, t: int, requests: list[tuple[Cloud, float, int]]
) -> dict[str, float]:
    """Lend the month's borrowing ``requests`` (cloud, USD wanted, maturity in months)
    together, in matching rounds of two passes each. First every borrower's unmet request
    is split over the syndicate it chooses (:meth:`Cloud.choose_syndicate`, the lenders
    with the most budget left, pro rata to their offers at the sentiment they apply to it,
    :func:`lending_sentiment_for`), each part at most what that lender would lend it
    alone; then each lender shares its budget over all the parts asked of it
    (:meth:`Investor.ration_credit`, scored by that sentiment) and lends at the rate it
    quotes (:func:`quote`). Borrowers still short go round again to the lenders with
    budget left (the borrowers' search over lenders in rounds of Delli Gatti et al. 2010),
    until a round lends nothing. What the budgets did not cover is the month's
    ``credit_rationed_usd``. Returns the USD lent to each borrower."""
    asks = [(cloud, usd, months) for cloud, usd, months in requests if usd >= 1.0]
    lent: dict[str, float] = {}
    for _ in range(len(world.investors)):
        if not lend_round(world, t, asks, lent):
            break
    asked = sum(usd for _, usd, _ in asks)
    world.month_state.credit_rationed_usd += max(0.0, asked - sum(lent.values()))
    return lent


def lend_round(
    world: ComputeMarket, t: int, asks: list[tuple[Cloud, float, int]], lent: dict[str, float]
) -> bool:
    """One matching round of :func:`lend_to_requests`: what each borrower still wants
    (its ask less ``lent``, updated in place) asked of its syndicate, each lender's budget
    rationed over what it is asked. Returns whether anything was lent."""
    scores: list[float] = []
    claims: dict[str, list[tuple[int, float]]] = {}  # lender -> (request, USD) asked of it
    for k, (cloud, amount, _) in enumerate(asks):
        sentiment = lending_sentiment_for(world, cloud.name)
        scores.append(sentiment)
        still = amount - lent.get(cloud.name, 0.0)
        for lender, part in syndicate_shares(world, cloud, still, sentiment):
            claims.setdefault(lender.name, []).append((k, part))
    booked = False
    for lender in world.investors:
        mine = claims.get(lender.name)
        if not mine:
            continue
        budget = max(lender.loan_budget(scores[k]) for k, _ in mine)
        awards = lender.ration_credit(
            [usd for _, usd in mine], [scores[k] for k, _ in mine], budget
        )
        for (k, _), usd in zip(mine, awards, strict=True):
            usd = cents_round(float(min(usd, lender.cash)))
            if usd < 1.0:
                continue
            cloud, _, months = asks[k]
            rate = quote(world, lender, cloud.name, cloud.spec.interest_rate_per_year, t)
            drawn = mechanisms.lend(world.books, t, lender, cloud, usd, rate, months).usd
            lent[cloud.name] = lent.get(cloud.name, 0.0) + drawn
            booked = True
    return booked


def commit_from_syndicate(
    world: ComputeMarket, cloud: Cloud, amount: float, *, from_budgets: bool
) -> float:
    """Commit up to ``amount`` USD of delayed-draw credit to ``cloud`` from its syndicate
    (:func:`syndicate_shares`), each lender's part recorded on the cloud
    (:meth:`Cloud.commit_credit`); with ``from_budgets`` each part also takes the lender's
    lending budget for the month (a commitment made in the run takes lending capacity when
    made; one made before the run does not). Returns the USD committed."""
    committed = 0.0
    for lender, usd in syndicate_shares(world, cloud, amount):
        if usd >= 1.0:
            if from_budgets:
                lender.record_loan(usd)
            cloud.commit_credit(lender.name, usd)
            committed += usd
    return committed


OPENING_CREDIT = "opening_credit"
"""Events row: a cloud's delayed-draw line committed before the run (no loss: ``amount_lost``
holds the USD committed)."""


def open_project_line(world: ComputeMarket, cloud: Cloud, pipeline_cost_usd: float) -> float:
    """Commit the delayed-draw line that financed ``cloud``'s opening pipeline (chips
    ordered before the run, ``pipeline_cost_usd`` with their facilities): the cloud asks for
    what its own funding does not cover within the lenders' gearing
    (:meth:`Cloud.opening_project_finance_usd`, ``project_finance.opening_gearing``), its
    syndicate commits it pro rata within their budgets (:func:`syndicate_shares`). The
    commitment was made before the run, so it takes none of the lenders' budgets for the
    first month; it is drawn on delivery like any committed capex credit
    (``phases.settle.draw_committed_credit``). Returns the USD committed."""
    want = cloud.opening_project_finance_usd(
        pipeline_cost_usd,
        cloud.funding_capacity(world.month),
        world.cfg.project_finance.opening_gearing,
    )
    committed = commit_from_syndicate(world, cloud, want, from_budgets=False)
    if committed > 0:
        world.events.append(
            {
                "step": world.month,
                "round": 1,
                "event": OPENING_CREDIT,
                "defaulter": cloud.name,
                "creditor": "",
                "amount_lost": committed,
                "instrument": "credit line",
                "instrument_kind": "loan",
            }
        )
    return committed


REVOLVER = "revolver"
"""The kind of a loan drawn on a revolving credit facility (in the tables' instrument kind)."""


def revolver_drawn_usd(world: ComputeMarket, cloud: Cloud) -> float:
    """USD ``cloud`` owes on its revolver drawings."""
    return sum(
        loan.outstanding
        for loan in world.books.instruments.loans_of(borrower=cloud.name)
        if loan.kind == REVOLVER
    )


def bank_group(world: ComputeMarket, cloud: Cloud) -> list[tuple[Investor, float]]:
    """The lenders that keep ``cloud``'s revolver open: the investors (not defaulted) that
    hold its loans, each with its share of what they have lent it (a revolver is arranged
    by the relationship lenders of the term loans, in proportion to their holdings)."""
    held: dict[str, float] = {}
    for loan in world.books.instruments.loans_of(borrower=cloud.name):
        held[loan.lender] = held.get(loan.lender, 0.0) + loan.outstanding
    lenders = [
        (lender, usd)
        for name, usd in sorted(held.items())
        if isinstance(lender := world.agent(name), Investor) and not lender.defaulted and usd > 0
    ]
    total = sum(usd for _, usd in lenders)
    return [(lender, usd / total) for lender, usd in lenders] if total > 0 else []


def draw_revolver(world: ComputeMarket, t: int, cloud: Cloud, usd: float) -> list[Lent]:
    """Lend ``cloud`` ``usd`` on its committed revolver: each lender of its bank group
    (:func:`bank_group`) its share, rounded up to the cent (so that the drawing covers the
    bill it is for), at the rate it quotes now (:func:`quote`), over
    ``revolver.maturity_months``. The line was committed before this month, so a drawing
    takes none of the lender's budget for the month. Returns each lender's draw and the loan
    it is in."""
    loans: list[Lent] = []
    maturity = world.cfg.revolver.maturity_months
    for lender, share in bank_group(world, cloud):
        part = cents_up(usd * share)
        if part < 0.01 or lender.cash < part:
            continue
        rate = quote(world, lender, cloud.name, cloud.spec.interest_rate_per_year, t)
        lent = mechanisms.lend(world.books, t, lender, cloud, part, rate, maturity, kind=REVOLVER)
        lender.record_draw(lent.usd)
        loans.append(lent)
    return loans
