"""Chip vendors: deliver ordered accelerators within a production ceiling that grows."""

from __future__ import annotations

from typing import ClassVar

import mesa

from sim.agents.base import Column, MarketAgent
from sim.agents.view import MarketView
from sim.config import ChipVendorSpec
from sim.instruments import ChipOrder


class ChipVendor(MarketAgent):
    """Sells H100-equivalent units at a price that falls with technology."""

    kind: ClassVar[str] = "ChipVendor"
    columns: ClassVar[dict[str, Column]] = {
        **MarketAgent.columns,
        "units_delivered": lambda a: a.delivered_units,
        "revenue_usd": lambda a: a.revenue_usd,
    }

    def __init__(
        self,
        model: mesa.Model,
        market: MarketView,
        name: str,
        spec: ChipVendorSpec,
        ceiling_share: float,
    ) -> None:
        super().__init__(model, market, name, "vendor")
        self.spec = spec
        self.initial_ceiling = spec.production_ceiling_units_per_month * ceiling_share
        self.ceiling = self.initial_ceiling  # units/month it can deliver now
        self.orders_history: list[float] = []  # units ordered from it each month
        self.delivered_units = 0.0
        self.revenue_usd = 0.0

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

    def plan_production(self, step: int, ordered_units: float) -> None:
        """After this month's orders (``ordered_units``): aim output at the 3-month average
        order rate plus overdue orders worked off over ``capacity_adjustment_months`` (a
        partial-adjustment production rule, as in Dosi et al.'s K+S capital-good firms)."""
        self.orders_history.append(ordered_units)
        recent = self.orders_history[-3:]
        overdue = sum(
            o.undelivered
            for o in self.market.open_orders(vendor=self.name)
            if o.delivery_step <= step + 1
        )
        self.plan_output(sum(recent) / len(recent) + overdue / self.spec.capacity_adjustment_months)

    def unit_price(self, step: int) -> float:
        """List price of one H100-equivalent unit ordered in month ``step``, USD."""
        improvement = self.market.cfg.technology.compute_per_dollar_growth_per_year
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

    def start_month(self) -> None:
        """Nothing delivered yet this month."""
        self.delivered_units = self.revenue_usd = 0.0

    def record_delivery(self, units: float, invoice_usd: float) -> None:
        """``units`` delivered and invoiced for ``invoice_usd``."""
        self.delivered_units += units
        self.revenue_usd += invoice_usd

    def finance_offer(self, invoice_usd: float, financed_share: float, line_left: float) -> float:
        """USD to lend back to a customer on an invoice under a vendor-financing line: the
        agreed share, within what is left of the line and of the vendor's cash."""
        return min(invoice_usd * financed_share, line_left, self.cash)
