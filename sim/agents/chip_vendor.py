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
        self.initial_ceiling = spec.production_ceiling_units_per_month * ceiling_share
        self.ceiling = self.initial_ceiling  # units/month it can deliver now
        self.orders_history: list[float] = []  # units ordered from it each month
        self.delivered_units = 0.0
        self.revenue_usd = 0.0
        self.costs_usd = 0.0

    def production_ceiling(self, step: int) -> float:
        """Most units the vendor can deliver in month ``step`` (set by :meth:`plan_output`)."""
        return self.ceiling

    def plan_output(self, order_rate: float) -> None:
        """Move the ceiling toward the recent order rate (units/month), with a lag: growth is
        capped by how fast packaging capacity can expand, decline by how fast it is idled."""
        spec = self.spec
        gap = (order_rate - self.ceiling) / spec.capacity_adjustment_months
        step = min(
            max(gap, -spec.max_ceiling_decline_per_month * self.ceiling),
            spec.ceiling_growth_per_month * self.ceiling,
        )
        self.ceiling = max(self.ceiling + step, self.initial_ceiling * 0.1)

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
