"""AI labs: serve end users, contract capacity from their revenue projections, raise equity."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.agents.base import MarketAgent
from sim.config import LabSpec

if TYPE_CHECKING:
    from sim.model import ComputeMarket


class Lab(MarketAgent):
    """A model developer. Needs GPUs for serving (which earns revenue) and for training."""

    kind = "Lab"

    def __init__(self, model: ComputeMarket, name: str, spec: LabSpec, demand_share: float) -> None:
        super().__init__(model, name, spec.archetype)
        self.spec = spec
        self.demand_share = demand_share  # share of end-user demand
        self.inference_gpus_history: list[float] = []  # inference GPUs wanted, at the ref price
        self.need_gpus = 0.0  # GPUs wanted this month at the current price
        self.inference_need_gpus = 0.0
        self.used_gpus = 0.0
        self.served_gpus = 0.0
        self.revenue_usd = 0.0
        self.costs_usd = 0.0  # cash costs of the month (compute bills + other opex)
        self.partners: list[str] = []

    def training_ratio(self, step: int) -> float:
        """Training GPUs per serving GPU at ``step``: falls as serving scales (halving time)."""
        return self.spec.training_compute_ratio * 0.5 ** (step / self.spec.training_halving_months)

    def need_at(self, inference_gpus: float, step: int) -> float:
        """Total GPUs wanted for ``inference_gpus`` of serving."""
        return inference_gpus * (1.0 + self.training_ratio(step))

    def service_price(self, compute_price: float) -> float:
        """Price of AI services per GPU-hour served: compute cost marked up to the gross margin."""
        return compute_price / (1.0 - self.spec.gross_margin)

    def projected_growth(self) -> float:
        """Monthly growth the lab believes in: its observed growth × optimism."""
        hist = self.inference_gpus_history
        window = min(self.spec.projection_window_months, len(hist) - 1)
        if window < 1 or hist[-1 - window] <= 0:
            return 0.0
        observed = (hist[-1] / hist[-1 - window]) ** (1.0 / window) - 1.0
        return observed * self.spec.optimism

    def contracts_wanted(self, step: int, start: int, contracted_at_start: float) -> float:
        """GPUs of new term contracts to sign now for delivery from ``start``.

        The lab projects its need at ``start`` from its own growth and covers the share
        ``contract_coverage`` of it with contracts; it never signs for less than it holds.
        """
        if self.defaulted or not self.inference_gpus_history:
            return 0.0
        growth = max(self.projected_growth(), -0.5)
        projected = self.need_at(self.inference_gpus_history[-1], start) * (
            (1.0 + growth) ** (start - step)
        )
        gap = self.spec.contract_coverage * projected - contracted_at_start
        return gap if gap > self.spec.min_contract_share * max(projected, 1.0) else 0.0

    def monthly_burn(self) -> float:
        """Cash the lab loses in a month at the current pace (≥ 0), USD."""
        return max(0.0, self.costs_usd - self.revenue_usd)

    def equity_wanted(self) -> float:
        """USD of new equity to raise now (0 if the lab has enough runway)."""
        if self.defaulted:
            return 0.0
        burn = self.monthly_burn()
        need_now = self.arrears_usd + self.model.cfg.finance.cash_buffer_months * self.costs_usd
        if self.cash >= need_now and self.cash >= self.model.cfg.finance.cash_buffer_months * burn:
            return 0.0
        target = self.arrears_usd + self.model.cfg.finance.lab_runway_target_months * burn
        return max(0.0, target - self.cash, need_now - self.cash)

    def valuation_usd(self, sentiment: float) -> float:
        """Post-money valuation investors accept: revenue multiple × annual revenue × sentiment."""
        annual = 12.0 * self.revenue_usd
        return max(annual * self.model.cfg.finance.revenue_multiple * sentiment, 1.0)

    @property
    def growth_log(self) -> float:
        hist = self.inference_gpus_history
        return math.log(hist[-1] / hist[0]) if len(hist) > 1 and hist[0] > 0 else 0.0
