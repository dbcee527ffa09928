"""End-user demand for AI services, in GPU-hours of inference per month (H100-equivalent).

Demand follows a growth path chosen by regime (boom, plateau, bust) times a persistent
log-normal shock drawn from the model's random generator, and responds to the compute price
through a constant elasticity: cheaper compute makes AI services cheaper, which raises use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim.config import DemandConfig, LabSpec, OutsideDemandConfig


def path_growth(step: int, cfg: DemandConfig) -> float:
    """Monthly growth rate of the boom path at ``step``: decays from start to long-run rate."""
    decay = math.exp(-step / cfg.growth_decay_months)
    return (
        cfg.growth_long_run_per_month
        + (cfg.growth_start_per_month - cfg.growth_long_run_per_month) * decay
    )


def regime_growth(step: int, level: float, cfg: DemandConfig) -> float:
    """Growth rate at ``step`` under the configured regime, given the level (× initial)."""
    g = path_growth(step, cfg)
    if cfg.regime == "plateau":
        return g * max(0.0, 1.0 - level / cfg.plateau_multiple)  # logistic saturation
    if cfg.regime == "bust" and step >= cfg.bust_month:
        return -cfg.bust_decline_per_month
    return g


def enterprise_premium(step: int, level: float, cfg: DemandConfig) -> float:
    """Extra monthly growth of the enterprise segment over the consumer path at ``step``,
    given the path's level (× initial): ``enterprise_growth_premium_per_month`` fading with
    ``enterprise_premium_decay_months``; saturating with the path in a plateau, none in a
    bust from ``bust_month``. Enterprise and API use (coding, agents) grew several times
    faster than consumer subscriptions in 2025 (docs/calibration.md; our own estimate of
    the form, the same fading path as the market's)."""
    premium = cfg.enterprise_growth_premium_per_month * math.exp(
        -step / cfg.enterprise_premium_decay_months
    )
    if cfg.regime == "plateau":
        return premium * max(0.0, 1.0 - level / cfg.plateau_multiple)
    if cfg.regime == "bust" and step >= cfg.bust_month:
        return 0.0
    return premium


def segment_weight(opening: float, enterprise_multiple: float) -> float:
    """The enterprise segment's share of end-user demand (0–1) when it opened at
    ``opening`` and has since grown ``enterprise_multiple`` times as much as the consumer
    segment."""
    enterprise = opening * enterprise_multiple
    total = (1.0 - opening) + enterprise
    return enterprise / total if total > 0 else 0.0


def opening_enterprise_weight(labs: Sequence[LabSpec], default_mix: float) -> float:
    """The enterprise segment's share of end-user demand at the start (0–1): the labs'
    demand shares weighted by the share of each one's demand that is enterprise
    (``enterprise_revenue_share``, else ``default_mix``)."""
    total = sum(s.demand_share for s in labs)
    if total <= 0:
        return default_mix
    return sum(s.demand_share * enterprise_mix(s, default_mix) for s in labs) / total


def enterprise_mix(spec: LabSpec, default_mix: float) -> float:
    """Share of a lab's opening demand that is enterprise: its own figure, else the world's."""
    return default_mix if spec.enterprise_revenue_share is None else spec.enterprise_revenue_share


def opening_customers(demand_share: float, mix: float, weight: float) -> dict[str, float]:
    """A lab's opening share of each segment's customers: the part ``mix`` of its
    ``demand_share`` that is enterprise, over the enterprise segment's weight ``weight``;
    the rest over the consumer segment's (so that ``(1 − w) c + w e`` is its demand share)."""
    enterprise = demand_share * mix / weight if weight > 0 else demand_share
    consumer = demand_share * (1.0 - mix) / (1.0 - weight) if weight < 1 else demand_share
    return {"consumer": consumer, "enterprise": enterprise}


def price_response(price: float, reference_price: float, elasticity: float) -> float:
    """Multiplier on demand volume when compute costs ``price`` instead of the reference."""
    return (price / reference_price) ** elasticity


class Demand:
    """The end-user demand process; ``level`` is demand at the reference price, × initial."""

    def __init__(self, cfg: DemandConfig, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.rng = rng
        self.trend = 1.0  # deterministic path, × initial volume
        self.shock = 0.0  # AR(1) log shock
        self.enterprise_multiple = 1.0  # enterprise growth beyond the path, × initial
        self.previous_enterprise_multiple = 1.0
        self.previous_level = 1.0

    @property
    def level(self) -> float:
        """Demand at the reference price relative to the first month."""
        return self.trend * math.exp(self.shock)

    def segment_growth(self) -> dict[str, float]:
        """Each segment's growth of demand (at the reference price) over the last month."""
        consumer = self.level / self.previous_level - 1.0 if self.previous_level > 0 else 0.0
        ratio = self.enterprise_multiple / self.previous_enterprise_multiple
        return {"consumer": consumer, "enterprise": (1.0 + consumer) * ratio - 1.0}

    def advance(self, step: int) -> float:
        """Move to month ``step`` (≥ 1) and return the new level (the consumer segment's;
        the enterprise segment grows :func:`enterprise_premium` faster)."""
        self.previous_level = self.level
        self.previous_enterprise_multiple = self.enterprise_multiple
        self.enterprise_multiple *= 1.0 + enterprise_premium(step - 1, self.trend, self.cfg)
        self.trend *= 1.0 + regime_growth(step - 1, self.trend, self.cfg)
        eps = self.rng.normal(0.0, self.cfg.noise_sd) if self.cfg.noise_sd > 0 else 0.0
        self.shock = self.cfg.noise_persistence * self.shock + eps
        return self.level


# --------------------------------------------------------------------------------------
# Demand beyond the frontier labs (the scale issue)
# --------------------------------------------------------------------------------------
def outside_growth(step: int, level: float, out: OutsideDemandConfig, cfg: DemandConfig) -> float:
    """Monthly growth of the outside demand at ``step`` given its level (× initial): its own
    path, decaying from ``growth_start`` to ``growth_long_run`` (the same form as the labs'
    end-user demand), under the world's regime — logistic saturation at ``plateau_multiple``
    in a plateau; in a bust, from ``demand.bust_month``, a decline at the outside demand's
    own ``bust_decline_per_month`` (a bust hits the whole market, not only the labs)."""
    decay = math.exp(-step / out.growth_decay_months)
    g = (
        out.growth_long_run_per_month
        + (out.growth_start_per_month - out.growth_long_run_per_month) * decay
    )
    if cfg.regime == "plateau":
        return g * max(0.0, 1.0 - level / out.plateau_multiple)
    if cfg.regime == "bust" and step >= cfg.bust_month:
        return -out.bust_decline_per_month
    return g


class OutsideDemand:
    """Compute wanted by buyers beyond the frontier labs, in GPUs (H100-eq) a month.

    ``gpus`` is the demand at the reference (opening) price: ``initial_gpus`` × a
    deterministic path (:func:`outside_growth`) × a persistent log-normal shock; at price p
    it is ``gpus × (p / p_ref)^ε`` (:meth:`at_price`, constant elasticity as the labs' end
    users). Our own estimate of the market the labs do not buy: a growth path fitted to
    the vendors' revenue and the hyperscalers' capex (docs/calibration.md), not a model
    from the literature. Without an outside market (``initial_gpus`` 0) it draws no
    random numbers, so a labs-only world's random stream is unchanged.
    """

    def __init__(
        self, out: OutsideDemandConfig, cfg: DemandConfig, rng: np.random.Generator
    ) -> None:
        self.out = out
        self.cfg = cfg
        self.rng = rng
        self.trend = 1.0
        self.shock = 0.0

    @property
    def active(self) -> bool:
        """Is there an outside market at all?"""
        return self.out.initial_gpus > 0

    @property
    def level(self) -> float:
        """Outside demand at the reference price relative to the first month."""
        return self.trend * math.exp(self.shock)

    @property
    def gpus(self) -> float:
        """GPUs wanted this month at the reference price."""
        return self.out.initial_gpus * self.level if self.active else 0.0

    def at_price(self, price: float, reference_price: float) -> float:
        """GPUs wanted this month at ``price`` USD/GPU-hour."""
        if not self.active:
            return 0.0
        return self.gpus * price_response(price, reference_price, self.out.price_elasticity)

    def advance(self, step: int) -> float:
        """Move to month ``step`` (≥ 1) and return the GPUs wanted at the reference price."""
        if not self.active:
            return 0.0
        self.trend *= 1.0 + outside_growth(step - 1, self.trend, self.out, self.cfg)
        sd = self.out.noise_sd
        eps = self.rng.normal(0.0, sd) if sd > 0 else 0.0
        self.shock = self.out.noise_persistence * self.shock + eps
        return self.gpus


# --------------------------------------------------------------------------------------
# Choice among labs (issue 15)
# --------------------------------------------------------------------------------------
def logit_shares(utilities: ArrayLike) -> NDArray[np.float64]:
    """Multinomial-logit choice probabilities ``exp(u_i) / Σ_j exp(u_j)`` (McFadden 1974),
    computed stably; an empty input gives an empty output."""
    u = np.asarray(utilities, dtype=float)
    if u.size == 0:
        return u.copy()
    e = np.exp(u - u.max())
    return e / e.sum()


def switch_customers(
    bases: ArrayLike, choice: ArrayLike, reconsider: ArrayLike
) -> NDArray[np.float64]:
    """One month of customers switching between labs; returns the new customer bases.

    A share ``reconsider[i]`` of lab i's customers looks at the market this month (the
    switching probability of Caiani et al. 2016's JMAB consumers; lock-in and switching costs
    lower it) and chooses a lab with the probabilities ``choice`` (a logit); the rest stay.
    The replicator of Dosi, Fagiolo and Roventini (2010) is the limit of small steps.
    Customers are conserved: the bases sum to what they summed to before, so a lab that
    loses customers loses them to its rivals.
    """
    f = np.asarray(bases, dtype=float)
    s = np.asarray(choice, dtype=float)
    r = np.asarray(reconsider, dtype=float)
    leaving = f * r
    return f - leaving + s * leaving.sum()


def enter_customers(bases: ArrayLike, choice: ArrayLike, growth: float) -> NDArray[np.float64]:
    """Shares of a segment's customers after it grew by ``growth`` this month: the new
    customers, ``growth / (1 + growth)`` of the segment, choose a lab with the probabilities
    ``choice`` (a logit over the offers they find); the customers already there keep their
    lab (they reconsider only through :func:`switch_customers`). In a fast-growing segment
    most customers are new, so shares follow the offers' appeal fast: the entry cohort of a
    growing market (our own form; the consumers of Caiani et al. 2016 choose among current
    offers). A shrinking segment loses customers in proportion. Shares still sum to what
    they did."""
    f = np.asarray(bases, dtype=float)
    if growth <= 0:
        return f.copy()
    s = np.asarray(choice, dtype=float)
    return (f + growth * s * f.sum()) / (1.0 + growth)


def capability_step(
    capability: float,
    leading: float,
    training_gpus: float,
    gain: float,
    returns: float,
    reference_gpus: float,
    spillover: float,
) -> float:
    """Next month's capability ``q (1 + κ (T / T_ref)^θ) + λ (q_max − q)``.

    Capability grows with training compute T with diminishing returns (θ < 1) and spills
    over to followers, which close a share λ of their gap to the leading capability each
    month (ECONOMICS.md §3). We take the growth *rate*, not the increment, as the power of
    compute (the scaling-law reading: each multiple of compute buys a similar step in log
    capability), so that capability gaps are relative and the spread q_max/q_min has a
    steady state; the coefficients are our own estimates.
    """
    rate = gain * (training_gpus / reference_gpus) ** returns if training_gpus > 0 else 0.0
    return capability * (1.0 + rate) + spillover * max(leading - capability, 0.0)


def capability_spread(capabilities: ArrayLike) -> float:
    """``(q_max − q_min) / q_max`` over the labs in business (0 when they are level); 1 for
    a lone lab, which has no rival to converge on (a monopolist keeps its margin)."""
    q = np.asarray(capabilities, dtype=float)
    if q.size < 2:
        return 1.0
    if q.max() <= 0:
        return 0.0
    return float((q.max() - q.min()) / q.max())
