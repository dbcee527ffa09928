"""End-user demand for AI services, in GPU-hours of inference per month (H100-equivalent).

Demand follows a growth path chosen by regime (boom, plateau, bust) times a persistent
log-normal shock drawn from the model's random generator, and responds to the compute price
through a constant elasticity: cheaper compute makes AI services cheaper, which raises use.
"""

from __future__ import annotations

import math

import numpy as np

from sim.config import DemandConfig


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

    @property
    def level(self) -> float:
        """Demand at the reference price relative to the first month."""
        return self.trend * math.exp(self.shock)

    def advance(self, step: int) -> float:
        """Move to month ``step`` (≥ 1) and return the new level."""
        self.trend *= 1.0 + regime_growth(step - 1, self.trend, self.cfg)
        eps = self.rng.normal(0.0, self.cfg.noise_sd) if self.cfg.noise_sd > 0 else 0.0
        self.shock = self.cfg.noise_persistence * self.shock + eps
        return self.level
