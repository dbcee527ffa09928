"""Phase 5, finance: labs short of runway sell equity; clouds short of cash borrow from a
syndicate; then whoever can pay, pays."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import market, mechanisms
from sim.agents import Cloud, Lab
from sim.books import cents_round

if TYPE_CHECKING:
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> None:
    for lab in world.labs:
        amount = lab.equity_wanted()
        if amount > 0:
            equity_round(world, t, lab, amount)
    for cloud in world.clouds:
        if cloud.defaulted or not cloud.sells_to_market:
            continue
        borrow(world, t, cloud, cloud.borrowing_wanted(t))
    world.books.settle_what_can_be_paid(t)


def equity_round(world: ComputeMarket, t: int, lab: Lab, amount: float) -> None:
    """Sell new shares of ``lab``: investors bid their equity budgets, the round raises at
    most what they bid, priced at the lab's valuation (:func:`sim.mechanisms.share_price`),
    allocated pro rata to the bids."""
    books, sentiment = world.books, world.sentiment
    investors = [i for i in world.investors if i.equity_budget(sentiment) > 0]
    budgets = np.array([i.equity_budget(sentiment) for i in investors])
    if budgets.sum() < 1.0:
        return
    raise_usd = min(amount, float(budgets.sum()))
    shares = books.instruments.shares_outstanding[lab.name]
    price_per_share = mechanisms.share_price(lab.market_value(), raise_usd, shares)
    for investor, budget in zip(investors, budgets, strict=True):
        usd = cents_round(raise_usd * budget / budgets.sum())
        if usd < 1.0:
            continue
        books.issue_shares(t, investor.name, lab.name, usd, price_per_share, instrument="round")
        investor.record_investment(usd)


def borrow(world: ComputeMarket, t: int, cloud: Cloud, amount: float) -> None:
    """Book a loan of up to ``amount`` from the syndicate ``cloud`` chooses, shared pro rata
    to the lenders' offers, at the rate each lender quotes."""
    sentiment = world.sentiment
    syndicate = cloud.choose_syndicate(world.investors, sentiment)
    budgets = np.array([offer for _, offer in syndicate])
    if amount < 1.0 or budgets.sum() < 1.0:
        return
    take = market.pro_rata(budgets * (amount / budgets.sum()), float(budgets.sum()))
    maturity = world.cfg.finance.loan_maturity_months
    for (lender, _), usd in zip(syndicate, take, strict=True):
        if usd >= 1.0:
            rate = lender.loan_rate(cloud.spec.interest_rate_per_year, sentiment)
            usd = float(min(usd, lender.loan_budget(sentiment)))
            mechanisms.lend(world.books, t, lender, cloud, usd, rate, maturity)
