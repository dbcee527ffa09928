"""Capacity pricing and matching (pure functions).

The spot market sells capacity not reserved by term contracts. Its market-clearing price
equates what labs want beyond their contracts, at that price, with the uncontracted supply;
the quoted price moves part of the way toward it each month, between a floor (the cash
operating cost: below it, clouds idle GPUs) and a cap (beyond it, demand is rationed).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray


def adjust_price(previous: float, target: float, speed: float, floor: float, cap: float) -> float:
    """Move the quoted price a share ``speed`` of the way (in logs) toward ``target``."""
    price = math.exp((1 - speed) * math.log(previous) + speed * math.log(target))
    return min(max(price, floor), cap)


def pro_rata(requests: ArrayLike, available: float) -> NDArray[np.float64]:
    """Share ``available`` over ``requests`` in proportion, never giving more than asked."""
    req = np.asarray(requests, dtype=float)
    total = req.sum()
    if total <= available or total <= 0:
        return req.copy()
    return req * (available / total)


def match_in_order(bought: ArrayLike, sold: ArrayLike) -> list[tuple[int, int, float]]:
    """Who buys how much from whom, once a market has cleared each buyer's quantity
    (``bought``) and each seller's (``sold``, the same total): buyers fill their purchases
    from the sellers in turn, each buyer from the next seller with quantity left (the
    north-west corner rule of the transportation problem, Dantzig 1963, ch. 14). Every buyer
    gets its quantity and every seller sells its own, as pro rata matching would give them,
    but with at most buyers + sellers − 1 trades instead of buyers × sellers: a buyer deals
    with one seller or a few (each trading relation is an account and a bill to run; our
    own rule). Returns (buyer index, seller index, quantity > 0) in order; when the totals
    differ (rounding), the last buyer or seller keeps the difference unmatched."""
    want = [float(q) for q in np.asarray(bought, dtype=float)]
    have = [float(q) for q in np.asarray(sold, dtype=float)]
    trades: list[tuple[int, int, float]] = []
    i = j = 0
    left_want = want[0] if want else 0.0
    left_have = have[0] if have else 0.0
    while i < len(want) and j < len(have):
        q = min(left_want, left_have)
        if q > 0:
            trades.append((i, j, q))
        left_want -= q
        left_have -= q
        if left_want <= 0:  # exactly 0 when this buyer's need was the smaller
            i += 1
            left_want = want[i] if i < len(want) else 0.0
        if left_have <= 0:
            j += 1
            left_have = have[j] if j < len(have) else 0.0
    return trades


CLEARING_XTOL = 1e-14
"""Absolute tolerance of the clearing's root on log-price (a relative error of about 1e-14
in the price): below anything the model reads."""


def clearing_price_of(excess_demand: Callable[[float], float], floor: float, cap: float) -> float:
    """The price in [floor, cap] at which ``excess_demand(price)`` (GPUs wanted on spot minus
    GPUs offered, non-increasing in price) is zero: the floor in a glut, the cap in a
    shortage, otherwise found on log-price by Brent's method (``scipy.optimize.brentq``,
    Brent 1973: bracketing, so it keeps a sign change, with inverse quadratic steps that
    need about 11 evaluations a month where bisection needed about 60), to within
    :data:`CLEARING_XTOL`. Until MODEL_VERSION 0.66 the root was found by bisection; the
    price differs from it in its last bits."""
    from scipy.optimize import brentq  # scipy is already loaded with the model

    if excess_demand(floor) <= 0:
        return floor
    if excess_demand(cap) >= 0:
        return cap
    root = brentq(
        lambda log_price: excess_demand(math.exp(log_price)),
        math.log(floor),
        math.log(cap),
        xtol=CLEARING_XTOL,
    )
    return math.exp(root)


def marginal_cost(
    contract_price: float, contracted_gpus: float, need_gpus: float, spot_price: float
) -> float:
    """USD per GPU-hour of serving one more GPU-hour for a buyer holding ``contracted_gpus``
    at ``contract_price`` and needing ``need_gpus``: the contract price while its contracts
    cover its need, the spot price once it buys at the margin on spot (or holds no
    contracts)."""
    if contracted_gpus <= 0 or need_gpus > contracted_gpus:
        return spot_price
    return contract_price
