"""Chip vendors: deliver ordered accelerators within a production ceiling that grows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.agents.base import MarketAgent
from sim.config import ChipVendorSpec
from sim.instruments import ChipOrder

if TYPE_CHECKING:
    from sim.model import ComputeMarket


class ChipVendor(MarketAgent):
    """Sells H100-equivalent units at a price that falls with technology."""

    kind = "ChipVendor"

    def __init__(
        self, model: ComputeMarket, name: str, spec: ChipVendorSpec, ceiling_share: float
    ) -> None:
        super().__init__(model, name, "vendor")
        self.spec = spec
        self.ceiling_share = ceiling_share  # this agent's share of its archetype's ceiling
        self.delivered_units = 0.0
        self.revenue_usd = 0.0
        self.costs_usd = 0.0

    def production_ceiling(self, step: int) -> float:
        """Most units the vendor can deliver in month ``step``."""
        return (
            self.spec.production_ceiling_units_per_month
            * self.ceiling_share
            * (1.0 + self.spec.ceiling_growth_per_month) ** step
        )

    def unit_price(self, step: int) -> float:
        """List price of one H100-equivalent unit ordered in month ``step``, USD."""
        improvement = self.model.cfg.technology.compute_per_dollar_growth_per_year
        return self.spec.unit_price_usd / improvement ** (step / 12.0)

    def schedule_deliveries(
        self, step: int, orders: list[ChipOrder]
    ) -> list[tuple[ChipOrder, float]]:
        """Units to deliver this month: due orders first come, first served, up to the ceiling."""
        room = self.production_ceiling(step)
        plan: list[tuple[ChipOrder, float]] = []
        for order in sorted(orders, key=lambda o: (o.delivery_step, o.order_step, o.id)):
            if room <= 1e-9:
                break
            if order.delivery_step > step:
                continue
            units = min(order.undelivered, room)
            plan.append((order, units))
            room -= units
        return plan
