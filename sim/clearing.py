"""Default resolution algorithms (pure functions on numpy arrays).

- :func:`clearing_vector`: the Eisenberg–Noe (2001) clearing payment vector with the default
  costs of Rogers & Veraart (2013), by the fictitious-default algorithm, which also gives the
  default *waves* (who fails first, who fails only because others did).
- :func:`priority_clearing_vector`: the same with seniorities (debts in ranks, each rank paid
  before the next; Elsinger 2009, Fischer 2014), the month's clearing in the model.
- :func:`fixed_point_clearing`: the same vector by plain iteration from full payment, used to
  check the algorithm.
- :func:`debtrank`: DebtRank of Battiston et al. (2012), original definition.
- :func:`by_seniority` and :func:`estate_waterfall`: a defaulter's estate shared by absolute
  priority (secured creditors from their collateral, then by rank, pro rata within a rank).

Conventions: ``liabilities[i, j]`` is what party i owes party j (USD, ≥ 0, zero diagonal);
``outside_assets[i]`` is i's cash and claims on parties outside the network (USD, ≥ 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

FloatArray = NDArray[np.float64]
TOLERANCE = 1e-12  # relative slack in "can it pay?" comparisons


@dataclass(frozen=True)
class ClearingResult:
    """The outcome of clearing an obligations network.

    ``payments[i]`` is what i pays in total (p*); ``payment_matrix[i, j]`` what it pays j
    (its payment shared pro rata to what it owes); ``defaulted[i]`` whether it pays less than
    it owes; ``waves[k]`` the parties that default in round k of the fictitious-default
    algorithm (0-based list, first wave first); ``net_worth[i] = e_i + (Πᵀp*)_i − p̄_i`` what
    each holds against what it owes after clearing (negative for defaulters).
    """

    payments: FloatArray
    total_obligations: FloatArray
    payment_matrix: FloatArray
    defaulted: NDArray[np.bool_]
    waves: list[list[int]]
    net_worth: FloatArray


def _check_network(
    liabilities: ArrayLike, outside_assets: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    L = np.asarray(liabilities, dtype=float)
    e = np.asarray(outside_assets, dtype=float)
    if L.ndim != 2 or L.shape[0] != L.shape[1]:
        raise ValueError(f"liabilities must be a square matrix, got shape {L.shape}")
    if e.shape != (L.shape[0],):
        raise ValueError(
            f"outside_assets must have one entry per party ({L.shape[0]}), got shape {e.shape}"
        )
    for name, arr in (("liabilities", L), ("outside_assets", e)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite numbers (no NaN or infinity)")
        if np.any(arr < 0):
            raise ValueError(f"{name} must be >= 0")
    if np.any(np.diag(L) != 0):
        raise ValueError("liabilities must have a zero diagonal (nobody owes itself)")
    return L, e


def _check_share(name: str, value: float) -> None:
    if not (0.0 <= value <= 1.0) or not np.isfinite(value):
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


def _relative_liabilities(L: FloatArray) -> tuple[FloatArray, FloatArray]:
    p_bar = L.sum(axis=1)
    pi = np.divide(L, p_bar[:, None], out=np.zeros_like(L), where=p_bar[:, None] > 0)
    return p_bar, pi


def clearing_vector(
    liabilities: ArrayLike, outside_assets: ArrayLike, alpha: float = 1.0, beta: float = 1.0
) -> ClearingResult:
    """Greatest clearing vector of Rogers & Veraart (2013); α = β = 1 is Eisenberg–Noe.

    A solvent party pays all it owes, p̄_i. A party that cannot (p̄_i > e_i + (Πᵀp)_i)
    defaults and pays ``alpha·e_i + beta·(Πᵀp)_i``: default costs destroy the rest.

    Fictitious default: start from p = p̄; find who cannot pay; solve the linear system in
    which those parties pay their recovery value and the others pay in full; repeat with the
    new payments until nobody new defaults. Each repetition is a wave.
    """
    L, e = _check_network(liabilities, outside_assets)
    _check_share("alpha", alpha)
    _check_share("beta", beta)
    n = L.shape[0]
    p_bar, pi = _relative_liabilities(L)
    p = p_bar.copy()
    defaulted = np.zeros(n, dtype=bool)
    waves: list[list[int]] = []
    while True:
        value = e + pi.T @ p
        newly = (~defaulted) & (p_bar > value + TOLERANCE * np.maximum(1.0, p_bar))
        if not newly.any():
            break
        waves.append([int(i) for i in np.flatnonzero(newly)])
        defaulted |= newly
        p = _solve_given_defaults(pi, e, p_bar, defaulted, alpha, beta)
    p = np.minimum(p, p_bar)
    return ClearingResult(
        payments=p,
        total_obligations=p_bar,
        payment_matrix=pi * p[:, None],
        defaulted=defaulted,
        waves=waves,
        net_worth=e + pi.T @ p - p_bar,
    )


def _solve_given_defaults(
    pi: FloatArray,
    e: FloatArray,
    p_bar: FloatArray,
    defaulted: NDArray[np.bool_],
    alpha: float,
    beta: float,
) -> FloatArray:
    """Payments when the parties in ``defaulted`` pay α·e + β·(Πᵀp) and the others pay p̄."""
    d = np.flatnonzero(defaulted)
    s = np.flatnonzero(~defaulted)
    p = p_bar.copy()
    # for i in D: p_i − β Σ_{j∈D} Π_ji p_j = α e_i + β Σ_{j∈S} Π_ji p̄_j
    a = np.eye(len(d)) - beta * pi[np.ix_(d, d)].T
    b = alpha * e[d] + beta * pi[np.ix_(s, d)].T @ p_bar[s]
    p[d] = np.linalg.solve(a, b)
    return np.maximum(p, 0.0)


def priority_payments(owed_by_rank: FloatArray, paid: float) -> FloatArray:
    """Share a debtor's payment ``paid`` over its creditors by absolute priority:
    ``owed_by_rank[k, j]`` is what it owes creditor j in rank k (0 first); each rank is paid
    in full before the next, pro rata within a rank. Returns the payment to each creditor."""
    out = np.zeros(owed_by_rank.shape[1])
    left = max(0.0, paid)
    for row in owed_by_rank:
        owed = float(row.sum())
        if owed <= 0:
            continue
        share = min(1.0, left / owed)
        out += row * share
        left -= owed * share
        if left <= 0:
            break
    return out


def priority_clearing_vector(
    liabilities_by_rank: ArrayLike,
    outside_assets: ArrayLike,
    alpha: float = 1.0,
    beta: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> ClearingResult:
    """The greatest clearing vector of a network whose debts have seniorities (Elsinger
    2009; Fischer 2014; Kusnetsov and Veraart 2019, "Interbank clearing in financial networks
    with multiple maturities" treats the same priority structure), with the default costs
    of Rogers and Veraart (2013).

    ``liabilities_by_rank[k, i, j]`` is what i owes j in seniority rank k (rank 0 is paid
    first: secured, then senior unsecured, then general unsecured, ...). A party that can pay
    all it owes pays it; one that cannot pays ``alpha·e_i + beta·(inflows)_i``, shared over
    its creditors rank by rank (:func:`priority_payments`), pro rata within a rank. With one
    rank this is :func:`clearing_vector`.

    Waves as in :func:`clearing_vector` (fictitious default): from full payment, find who
    cannot pay; given that set, iterate the clearing map down to its greatest fixed point
    (the map is monotone: a creditor's receipt never falls when its debtor pays more);
    repeat until nobody new defaults. ``payment_matrix`` is the payment of each debtor to
    each creditor (summed over ranks)."""
    Lk = np.asarray(liabilities_by_rank, dtype=float)
    if Lk.ndim != 3 or Lk.shape[1] != Lk.shape[2] or Lk.shape[0] < 1:
        raise ValueError(f"liabilities_by_rank must have shape (ranks, n, n), got shape {Lk.shape}")
    L, e = _check_network(Lk.sum(axis=0), outside_assets)
    if np.any(Lk < 0):
        raise ValueError("liabilities_by_rank must be >= 0")
    _check_share("alpha", alpha)
    _check_share("beta", beta)
    n = L.shape[0]
    p_bar = L.sum(axis=1)
    per_debtor = [Lk[:, i, :] for i in range(n)]

    def matrix(p: FloatArray) -> FloatArray:
        return np.array([priority_payments(per_debtor[i], float(p[i])) for i in range(n)])

    p = p_bar.copy()
    defaulted = np.zeros(n, dtype=bool)
    waves: list[list[int]] = []
    scale = max(1.0, float(p_bar.max(initial=0.0)))
    while True:
        value = e + matrix(p).sum(axis=0)
        newly = (~defaulted) & (p_bar > value + TOLERANCE * np.maximum(1.0, p_bar))
        if not newly.any():
            break
        waves.append([int(i) for i in np.flatnonzero(newly)])
        defaulted |= newly
        for _ in range(max_iter):
            inflow = matrix(p).sum(axis=0)
            nxt = np.where(defaulted, np.minimum(p_bar, alpha * e + beta * inflow), p_bar)
            nxt = np.maximum(nxt, 0.0)
            if np.max(np.abs(nxt - p), initial=0.0) <= tol * scale:
                p = nxt
                break
            p = nxt
    pay = matrix(p)
    return ClearingResult(
        payments=p,
        total_obligations=p_bar,
        payment_matrix=pay,
        defaulted=defaulted,
        waves=waves,
        net_worth=e + pay.sum(axis=0) - p_bar,
    )


def fixed_point_clearing(
    liabilities: ArrayLike,
    outside_assets: ArrayLike,
    alpha: float = 1.0,
    beta: float = 1.0,
    tol: float = 1e-13,
    max_iter: int = 100_000,
) -> FloatArray:
    """The greatest clearing vector by iterating the clearing map down from p̄.

    Map: p_i ← p̄_i if p̄_i ≤ e_i + (Πᵀp)_i, else α e_i + β (Πᵀp)_i. The map is monotone, so
    the iteration from p̄ decreases to its greatest fixed point. It can be slow: with β just
    below 1 and a cycle of defaulters without outside assets, each step shrinks payments by
    only β (about 1.6 million steps to 10⁻⁷ at β = 0.99999); after ``max_iter`` steps it
    returns where it stands, which is then no fixed point.
    """
    L, e = _check_network(liabilities, outside_assets)
    _check_share("alpha", alpha)
    _check_share("beta", beta)
    p_bar, pi = _relative_liabilities(L)
    p = p_bar.copy()
    for _ in range(max_iter):
        value = e + pi.T @ p
        solvent = p_bar <= value + TOLERANCE * np.maximum(1.0, p_bar)
        nxt = np.where(solvent, p_bar, np.minimum(p_bar, alpha * e + beta * (pi.T @ p)))
        if np.max(np.abs(nxt - p), initial=0.0) <= tol * max(1.0, float(p_bar.max(initial=0))):
            return nxt
        p = nxt
    return p


@dataclass(frozen=True)
class DebtRankResult:
    """``R``: DebtRank of the shock (economic value lost beyond the initial shock, as a share
    of the total); ``distress[i]``: final distress h_i in [0, 1]; ``rounds``: rounds taken."""

    R: float
    distress: FloatArray
    rounds: int


def debtrank(
    exposures: ArrayLike,
    buffers: ArrayLike,
    weights: ArrayLike,
    shocked: int | Sequence[int] | ArrayLike,
    initial_distress: float = 1.0,
) -> DebtRankResult:
    """DebtRank (Battiston et al. 2012), in the original definition.

    ``exposures[i, j]`` is i's exposure to j (USD), ``buffers[i]`` i's equity (USD, > 0),
    ``weights`` the relative economic value of each party (normalised here). The impact of
    j on i is W_ij = min(1, A_ij / E_i). Shocked parties start with distress
    ``initial_distress`` and are distressed (D); everyone else undistressed (U). In each round
    every party's distress rises by Σ_j W_ij h_j over the parties j that were D in the
    previous round (capped at 1) — also for parties that have already propagated, which is
    how a party's distress keeps rising when others it is exposed to fail later — then the D
    parties become inactive and the parties with new distress that had not yet propagated
    become D. Each party propagates once. R = Σ v_j h_j(T) − Σ v_j h_j(1).

    ``exposures`` may be a SciPy sparse matrix: a large network where each party is exposed
    to a few others then costs O(links) per round instead of O(n²), same result.
    """
    if sparse.issparse(exposures):
        return _debtrank_sparse(
            sparse.csr_array(exposures, dtype=float), buffers, weights, shocked, initial_distress
        )
    A = np.asarray(exposures, dtype=float)
    E = np.asarray(buffers, dtype=float)
    v = np.asarray(weights, dtype=float)
    n = A.shape[0] if A.ndim == 2 else -1
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"exposures must be a square matrix, got shape {A.shape}")
    for name, arr in (("buffers", E), ("weights", v)):
        if arr.shape != (n,):
            raise ValueError(f"{name} must have one entry per party ({n}), got shape {arr.shape}")
    for name, arr in (("exposures", A), ("buffers", E), ("weights", v)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite numbers (no NaN or infinity)")
    if np.any(A < 0) or np.any(v < 0):
        raise ValueError("exposures and weights must be >= 0")
    if np.any(E <= 0):
        raise ValueError("buffers must be > 0 (equity that absorbs losses)")
    if v.sum() <= 0:
        raise ValueError("weights must not all be zero")
    _check_share("initial_distress", initial_distress)
    mask = _shock_mask(shocked, n)
    W = np.minimum(1.0, A / E[:, None])
    np.fill_diagonal(W, 0.0)
    return _propagate(W, v / v.sum(), mask, initial_distress)


def _propagate(
    W: FloatArray, v: FloatArray, mask: NDArray[np.bool_], initial_distress: float
) -> DebtRankResult:
    """DebtRank's rounds on the dense impact matrix ``W`` with normalised weights ``v``,
    from the shocked parties ``mask`` (see :func:`debtrank`)."""
    n = W.shape[0]
    h = np.where(mask, initial_distress, 0.0)
    h1 = h.copy()
    distressed = mask.copy()
    inactive = np.zeros(n, dtype=bool)
    rounds = 0
    while distressed.any():
        rounds += 1
        h_new = np.minimum(1.0, h + W[:, distressed] @ h[distressed])
        inactive |= distressed
        distressed = (h_new > 0) & ~inactive
        h = h_new
    return DebtRankResult(R=float(v @ h - v @ h1), distress=h, rounds=rounds)


def debtrank_of_each(
    exposures: ArrayLike, buffers: ArrayLike, weights: ArrayLike, initial_distress: float = 1.0
) -> list[DebtRankResult]:
    """:func:`debtrank` of each party's shock alone, one result per party in order: the
    impact matrix is built and checked once for all of them (n shocks then cost n times
    the rounds, not n times an n × n matrix as well). The same numbers as calling
    :func:`debtrank` for each party (a dense matrix; a sparse one goes party by party)."""
    if sparse.issparse(exposures):
        return [
            debtrank(exposures, buffers, weights, [j], initial_distress)
            for j in range(exposures.shape[0])
        ]
    A = np.asarray(exposures, dtype=float)
    n = A.shape[0] if A.ndim == 2 else -1
    if n <= 0:
        return []
    first = debtrank(A, buffers, weights, [0], initial_distress)  # checks every input
    E = np.asarray(buffers, dtype=float)
    v = np.asarray(weights, dtype=float)
    W = np.minimum(1.0, A / E[:, None])
    np.fill_diagonal(W, 0.0)
    v = v / v.sum()
    results = [first]
    for j in range(1, n):
        mask = np.zeros(n, dtype=bool)
        mask[j] = True
        results.append(_propagate(W, v, mask, initial_distress))
    return results


def _debtrank_sparse(
    A: sparse.csr_array,
    buffers: ArrayLike,
    weights: ArrayLike,
    shocked: int | Sequence[int] | ArrayLike,
    initial_distress: float,
) -> DebtRankResult:
    """:func:`debtrank` on a sparse exposure matrix (the same checks and rounds)."""
    E = np.asarray(buffers, dtype=float)
    v = np.asarray(weights, dtype=float)
    n = A.shape[0]
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"exposures must be a square matrix, got shape {A.shape}")
    for name, arr in (("buffers", E), ("weights", v)):
        if arr.shape != (n,):
            raise ValueError(f"{name} must have one entry per party ({n}), got shape {arr.shape}")
    for name, arr in (("exposures", A.data), ("buffers", E), ("weights", v)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite numbers (no NaN or infinity)")
    if np.any(A.data < 0) or np.any(v < 0):
        raise ValueError("exposures and weights must be >= 0")
    if np.any(E <= 0):
        raise ValueError("buffers must be > 0 (equity that absorbs losses)")
    if v.sum() <= 0:
        raise ValueError("weights must not all be zero")
    _check_share("initial_distress", initial_distress)
    mask = _shock_mask(shocked, n)
    W = A.copy()
    W.sum_duplicates()
    rows = np.repeat(np.arange(n), np.diff(W.indptr))
    W.data = np.minimum(1.0, W.data / E[rows])  # W_ij = min(1, A_ij / E_i), as dense
    W.data[W.indices == rows] = 0.0  # no self-impact
    W.eliminate_zeros()
    v = v / v.sum()
    h = np.where(mask, initial_distress, 0.0)
    h1 = h.copy()
    distressed = mask.copy()
    inactive = np.zeros(n, dtype=bool)
    rounds = 0
    while distressed.any():
        rounds += 1
        h_new = np.minimum(1.0, h + W @ np.where(distressed, h, 0.0))
        inactive |= distressed
        distressed = (h_new > 0) & ~inactive
        h = h_new
    return DebtRankResult(R=float(v @ h - v @ h1), distress=h, rounds=rounds)


def _shock_mask(shocked: int | Sequence[int] | ArrayLike, n: int) -> NDArray[np.bool_]:
    arr = np.asarray(shocked)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"a boolean shocked mask must have length {n}, got {arr.shape}")
        return arr.copy()
    idx = np.atleast_1d(arr).astype(int)
    if idx.size == 0 or np.any(idx < 0) or np.any(idx >= n):
        raise ValueError(f"shocked must name parties between 0 and {n - 1}, got {arr.tolist()}")
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return mask


def debtrank_by_node(exposures: ArrayLike, buffers: ArrayLike, weights: ArrayLike) -> FloatArray:
    """DebtRank of the single default of each party: a ranking of systemic importance."""
    return np.array([result.R for result in debtrank_of_each(exposures, buffers, weights)])


def by_seniority(value_usd: float, claims: Sequence[tuple[int, float]]) -> list[float]:
    """Share ``value_usd`` among ``claims`` (rank, amount) by absolute priority: rank 0
    first, then 1, …; pro rata to the amounts within a rank. Returns what each claim gets,
    in the order given (never more than its amount, never more than the value in all)."""
    paid = [0.0] * len(claims)
    left = max(0.0, value_usd)
    for rank in sorted({r for r, _ in claims}):
        members = [k for k, (r, _) in enumerate(claims) if r == rank]
        owed = sum(claims[k][1] for k in members)
        if owed <= 0 or left <= 0:
            continue
        share = min(1.0, left / owed)
        for k in members:
            paid[k] = claims[k][1] * share
        left -= owed * share
    return paid


SECURED = 0
"""Rank of a secured claim (a loan with ``seniority`` 0, against the borrower's GPUs)."""
SENIOR_UNSECURED = 1
"""Rank of a senior unsecured claim (a loan with ``seniority`` 1)."""
GENERAL_UNSECURED = 2
"""Rank of everything else: trade creditors, estate claims of terminated contracts, external
costs, and what secured lenders are still owed beyond their collateral."""


def estate_waterfall(
    collateral_usd: float, other_usd: float, claims: Sequence[tuple[int, float]]
) -> list[float]:
    """A defaulter's estate shared by absolute priority (the US Bankruptcy Code's order,
    §§506, 507, 726): secured claims (rank :data:`SECURED`) are paid first from the
    collateral (``collateral_usd``, what the seized GPUs fetched), pro rata among them; what
    is left of the collateral joins ``other_usd`` (the rest of the estate), which pays
    senior unsecured claims (rank 1), then general unsecured claims (rank 2, which include
    the secured claims' deficiency), then subordinated ones (ranks 3, …), pro rata within a
    rank. ``claims`` are (rank, amount, USD); returns what each gets, in order."""
    secured = [(0, amount if rank == SECURED else 0.0) for rank, amount in claims]
    first = by_seniority(min(collateral_usd, sum(a for _, a in secured)), secured)
    rest_value = max(0.0, collateral_usd - sum(first)) + max(0.0, other_usd)
    rest = [
        (GENERAL_UNSECURED if rank == SECURED else rank, amount - paid)
        for (rank, amount), paid in zip(claims, first, strict=True)
    ]
    second = by_seniority(rest_value, rest)
    return [a + b for a, b in zip(first, second, strict=True)]
