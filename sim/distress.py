"""Distress economics (pure functions of numbers): covenant tests, what a lender recovers by
calling a loan or by letting the borrower continue, a defaulter's estate shared by
seniority, and the claim a terminated take-or-pay contract leaves its seller.

Money is in US dollars; months are model steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.clearing import by_seniority

__all__ = ["by_seniority"]  # re-exported: lenders weigh their options by the same waterfall

DSCR = "dscr"
LTV = "ltv"
EQUITY = "equity"
BREACHES = (DSCR, LTV, EQUITY)
"""The covenants tested every month, in the order they are reported."""

FIRE_SALE_MARK = "fire_sale_mark"
"""Events row: a holder's GPUs marked down by a defaulter's fire sale (not a ledger loss:
GPUs stay at book value; it moves market-value equity and loan-to-value)."""


@dataclass(frozen=True)
class CovenantTest:
    """One borrower's covenant figures in one month.

    ``dscr``: operating income ÷ debt service due this month (``inf`` when nothing is due);
    ``low_dscr_months``: consecutive months, this one included, with ``dscr`` below the
    floor; ``ltv``: loans outstanding ÷ borrowing base (``inf`` with debt and no base);
    ``book_equity_usd`` and ``market_equity_usd``: equity at book value and with the GPU
    fleet marked to the secondary price.
    """

    dscr: float
    low_dscr_months: int
    ltv: float
    book_equity_usd: float
    market_equity_usd: float


def breaches(test: CovenantTest, dscr_breach_months: int, ltv_ceiling: float) -> tuple[str, ...]:
    """The covenants ``test`` breaches: coverage below its floor for ``dscr_breach_months``
    months in a row, loan-to-value above ``ltv_ceiling``, equity below zero at book or at
    market value (maintenance covenants of a leveraged loan; Chava and Roberts 2008)."""
    out = []
    if test.low_dscr_months >= dscr_breach_months:
        out.append(DSCR)
    if test.ltv > ltv_ceiling:
        out.append(LTV)
    if min(test.book_equity_usd, test.market_equity_usd) < 0:
        out.append(EQUITY)
    return tuple(out)


def coverage(operating_income_usd: float, debt_service_usd: float) -> float:
    """Debt service coverage ratio: operating income ÷ debt service (``inf`` if none due)."""
    if debt_service_usd <= 0:
        return math.inf
    return operating_income_usd / debt_service_usd


def loan_to_value(debt_usd: float, base_usd: float) -> float:
    """Loans ÷ borrowing base (0 without debt, ``inf`` with debt and a base under a cent)."""
    if debt_usd <= 0:
        return 0.0
    return debt_usd / base_usd if base_usd >= 0.01 else math.inf


def liquidation_value(cash_usd: float, fleet_market_usd: float, fire_sale_discount: float) -> float:
    """What the borrower's creditors share if its loans are called now: its cash and its
    fleet sold at the secondary price less the fire-sale discount (Shleifer and Vishny
    1992: the natural buyers are distressed too)."""
    return max(0.0, cash_usd + fleet_market_usd * (1.0 - fire_sale_discount))


def continuation_value(
    cash_usd: float, fleet_market_usd: float, operating_income_usd: float, horizon_months: int
) -> float:
    """What the borrower's creditors can expect if it continues: its cash and fleet at the
    secondary price, plus (or, when it burns cash, minus) ``horizon_months`` of its
    operating income (our own estimate of a going-concern value)."""
    return max(0.0, cash_usd + fleet_market_usd + horizon_months * operating_income_usd)


def restructure_swap_usd(
    book_equity_usd: float,
    market_equity_usd: float,
    debt_usd: float,
    base_usd: float,
    ltv_ceiling: float,
    cushion_share: float = 0.0,
) -> float:
    """Debt to swap for equity so that equity is at least zero at book and at market value
    — plus a cushion of ``cushion_share`` of the debt when it was negative, so that the next
    month's loss does not breach again — and loan-to-value is back at its ceiling (0: a
    maturity extension suffices). Restructurings that leave the firm at the edge of
    insolvency are followed by more (Gilson 1997: firms leave out-of-court workouts still
    highly levered, and a third restructure again; Hotchkiss 1995); the cushion is our own
    estimate."""
    deficit = max(0.0, -book_equity_usd, -market_equity_usd)
    if deficit > 0:
        deficit += cushion_share * debt_usd
    excess = max(0.0, debt_usd - ltv_ceiling * base_usd)
    return min(debt_usd, max(deficit, excess))


def estate_claim_usd(
    monthly_payment_usd: float,
    months_left: int,
    discount_rate_per_year: float,
    cap_months: int,
    cap_share: float,
) -> float:
    """The unsecured claim a terminated take-or-pay contract leaves its seller on the
    defaulted buyer: the remaining payments discounted at ``discount_rate_per_year``,
    capped at the greater of ``cap_months`` payments and ``cap_share`` of what remains
    (the lessor cap of US Bankruptcy Code §502(b)(6))."""
    if monthly_payment_usd <= 0 or months_left <= 0:
        return 0.0
    r = (1.0 + discount_rate_per_year) ** (1.0 / 12.0) - 1.0
    if r > 0:
        present = monthly_payment_usd * (1.0 - (1.0 + r) ** (-months_left)) / r
    else:
        present = monthly_payment_usd * months_left
    cap = max(
        min(cap_months, months_left) * monthly_payment_usd,
        cap_share * months_left * monthly_payment_usd,
    )
    return min(present, cap)


def backlog_weight(
    buyer_cash_usd: float, buyer_burn_usd_per_month: float, months_left: int, floor: float
) -> float:
    """How much of a take-or-pay backlog a lender counts as collateral, by its buyer: all of
    it from a buyer that does not burn cash; from one that does, ``floor`` plus the rest in
    proportion to the share of the contract's ``months_left`` its cash covers at its burn
    rate (a buyer with a year's runway on a four-year contract: floor + ¼ of the rest).
    The collateral value of receivables depends on the obligor's credit (Basel III's
    eligible-receivables haircuts); the rule is our own estimate."""
    if buyer_burn_usd_per_month <= 0 or months_left <= 0:
        return 1.0
    runway = max(0.0, buyer_cash_usd) / buyer_burn_usd_per_month
    return floor + (1.0 - floor) * min(1.0, runway / months_left)


def herfindahl(amounts: list[float]) -> float:
    """Concentration of ``amounts`` (e.g. a seller's backlog by buyer): the sum of squared
    shares, 1 for one customer, 1/n for n equal ones, 0 with nothing."""
    total = sum([a for a in amounts if a > 0])
    if total <= 0:
        return 0.0
    return sum([(a / total) ** 2 for a in amounts if a > 0])


def lending_sentiment(sentiment: float, leverage: float, safe_leverage: float) -> float:
    """The sentiment a lender applies to one borrower. In a downturn (``sentiment`` < 1)
    lenders cut risky borrowers first and keep lending to safe ones — the flight to quality
    of Bernanke, Gertler and Gilchrist (1996) and Lang and Nakamura (1995): a borrower
    without debt sees no cut, one with book ``leverage`` (debt ÷ assets) at or above
    ``safe_leverage`` the market's whole cut, linearly in between (a stated rule; the
    threshold is our own estimate). In a boom (``sentiment`` ≥ 1) every borrower sees the
    market's sentiment; ``safe_leverage`` 0 switches the rule off."""
    if sentiment >= 1.0 or safe_leverage <= 0:
        return sentiment
    exposed = min(1.0, max(0.0, leverage) / safe_leverage)
    return 1.0 - (1.0 - sentiment) * exposed


def credit_spread(
    leverage: float,
    concentration: float,
    leverage_free: float,
    per_leverage: float,
    per_concentration: float,
) -> float:
    """The borrower's own credit spread, per year: ``per_leverage`` per unit of book
    leverage (debt ÷ assets) above ``leverage_free``, plus ``per_concentration`` times the
    Herfindahl concentration of its customers. Spreads rise with leverage in Merton's (1974)
    model and in the regressions of Collin-Dufresne, Goldstein and Martin (2001); lenders
    charge borrowers with concentrated customers more (Campello and Gao 2017). A stated
    linear rule, sizes our own estimate."""
    return per_leverage * max(0.0, leverage - leverage_free) + per_concentration * max(
        0.0, concentration
    )


def ration(
    claims: NDArray[np.float64] | list[float],
    weights: NDArray[np.float64] | list[float],
    budget: float,
    rule: str = "uniform",
) -> NDArray[np.float64]:
    """Share ``budget`` (USD) over ``claims`` (USD each borrower asks of this lender), each
    borrower scored by its ``weights`` (> 0; a zero weight gets nothing when the budget
    binds). Everybody gets its claim when the budget covers them all. Otherwise:

    - ``"uniform"``: constrained equal awards weighted by score — borrower *i* gets
      min(claimᵢ, λ·wᵢ), λ set so that the awards spend the budget: every claim below the
      common level is met in full and the large ones share the rest (the uniform rationing
      rule of Benassy 1982 and Sprumont 1991; the CEA rule of bankruptcy problems, Thomson
      2003). A small borrower's liquidity need is not crowded out by a large borrower's
      capex; the lender scores borrowers as a JMAB bank ranks demands (Caiani et al. 2016).
    - ``"proportional"``: in proportion to claimᵢ·wᵢ, never more than the claim (surplus
      re-shared until the budget or the claims are spent).
    - ``"first_come"``: in the order given (the rule of visiting order).

    Quantity rationing at a quoted rate, rather than a rate that clears the market, is
    Stiglitz and Weiss (1981). The awards never exceed the claims nor, in total, the
    budget."""
    want = np.maximum(0.0, np.asarray(claims, dtype=float))
    score = np.maximum(0.0, np.asarray(weights, dtype=float))
    budget = max(0.0, float(budget))
    if want.sum() <= budget:
        return want.copy()
    if rule == "first_come":
        before = np.concatenate(([0.0], np.cumsum(want)[:-1]))
        return np.clip(budget - before, 0.0, want)
    if not np.any(score[want > 0] > 0):
        return np.zeros_like(want)
    if rule == "proportional":
        out = np.zeros_like(want)
        left = budget
        for _ in range(len(want) + 1):  # each pass fills at least one claim or the budget
            open_ = (out < want) & (score > 0)
            mass = float((want * score)[open_].sum())
            if left <= 1e-9 * budget or mass <= 0:
                break
            add = np.where(open_, left * want * score / mass, 0.0)
            add = np.minimum(add, want - out)
            out += add
            left = budget - float(out.sum())
        return out
    if rule != "uniform":
        raise ValueError(f"unknown rationing rule {rule!r}")
    # λ: the awards min(want, λ·w) are non-decreasing in λ; find the level where they sum to
    # the budget from the sorted break points want/w
    active = score > 0
    level = np.full_like(want, np.inf)
    level[active] = want[active] / score[active]
    order = np.argsort(level, kind="stable")
    spent = 0.0  # claims met in full below the current level
    weight_left = float(score[active].sum())
    for k in order:
        if not active[k]:
            break
        # at λ = level[k], the claims below are full, the rest get λ·w
        if spent + level[k] * weight_left >= budget:
            break
        spent += want[k]
        weight_left -= score[k]
    lam = (budget - spent) / weight_left if weight_left > 0 else np.inf
    return np.where(active, np.minimum(want, lam * score), 0.0)
