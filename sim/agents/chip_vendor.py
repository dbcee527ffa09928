"""Chip vendors: price from their order queue and idle capacity, allocate scarce output by a
stated rule, and expand production capacity with a lag."""

from __future__ import annotations

from collections import deque
from typing import ClassVar

import mesa

from sim.agents.base import Column, MarketAgent
from sim.agents.view import MarketView
from sim.config import ChipVendorSpec
from sim.instruments import ChipOrder


class ChipVendor(MarketAgent):
    """Sells H100-equivalent units. Its list price follows a cost-and-margin path that falls
    with technology, marked up when its order queue is long and down when its capacity
    idles; its capacity moves toward its order intake with a lag."""

    kind: ClassVar[str] = "ChipVendor"
    columns: ClassVar[dict[str, Column]] = {
        **MarketAgent.columns,
        "units_delivered": lambda a: a.delivered_units,
        "revenue_usd": lambda a: a.revenue_usd,
        "price_premium": lambda a: a.premium,
        "queue_months": lambda a: a.queue_months(),
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
        self.premium = 0.0  # list price over the cost-and-margin path, − 1
        # capacity changes decided but not yet in effect (units/month each); the first are the
        # calibrated expansion already under way when the run opens
        self.capacity_pipeline: deque[float] = deque(
            [self.unit_growth_per_month() * self.initial_ceiling] * spec.capacity_lag_months
        )

    def unit_growth_per_month(self) -> float:
        """Fastest monthly growth of the production ceiling in H100-equivalent units: the
        packaging capacity's growth (``ceiling_growth_per_month``, CoWoS wafers) compounded
        with the compute each wafer yields, which grows as compute per dollar does
        (``technology.compute_per_dollar_growth_per_year``: the cost-and-margin path of
        :meth:`path_price` falls at that rate with a constant cost per wafer, so a wafer
        yields that many more H100-equivalents a year; Blackwell ≈ 2.5 H100s a package).
        Until MODEL_VERSION 0.42 the ceiling grew with wafers alone, so the vendors' revenue
        capacity fell behind by the whole improvement: +15% a year against NVIDIA's +68%."""
        yearly = self.market.cfg.technology.compute_per_dollar_growth_per_year
        return (1.0 + self.spec.ceiling_growth_per_month) * yearly ** (1.0 / 12.0) - 1.0

    def payout_share(self) -> float:
        """A chip vendor's payout ratio (``cash.payout_share_vendor``)."""
        return self.market.cfg.cash.payout_share_vendor

    def production_ceiling(self, step: int) -> float:
        """Most units the vendor can deliver in month ``step`` (set by :meth:`plan_output`)."""
        return self.ceiling

    def plan_output(self, order_rate: float) -> None:
        """Decide a change of capacity toward ``order_rate`` (units/month), which takes effect
        ``capacity_lag_months`` later; the change decided that long ago takes effect now.
        Growth is capped by how fast packaging capacity, and the compute a package holds, can
        expand (:meth:`unit_growth_per_month`, relative to today's ceiling), decline by how
        fast it is idled (a capital-good firm expanding with a lag, as in Dosi et al.'s K+S)."""
        spec = self.spec
        gap = (order_rate - self.ceiling) / spec.capacity_adjustment_months
        change = min(
            max(gap, -spec.max_ceiling_decline_per_month * self.ceiling),
            self.unit_growth_per_month() * self.ceiling,
        )
        self.capacity_pipeline.append(change)
        self.ceiling = max(
            self.ceiling + self.capacity_pipeline.popleft(), self.initial_ceiling * 0.1
        )

    def queue_months(self) -> float:
        """Undelivered orders in months of today's output (the queue a new order joins)."""
        queue = sum([o.undelivered for o in self.market.open_orders(vendor=self.name)])
        return queue / self.ceiling if self.ceiling > 0 else 0.0

    def plan_production(self, step: int, ordered_units: float) -> None:
        """After this month's orders (``ordered_units``): aim output at the 3-month average
        order rate plus the queue beyond ``normal_lead_months`` of output worked off over
        ``capacity_adjustment_months`` (a partial-adjustment production rule, as in Dosi et
        al.'s K+S capital-good firms), then set next month's price (:meth:`set_price`)."""
        self.orders_history.append(ordered_units)
        recent = self.orders_history[-3:]
        excess = max(0.0, self.queue_months() - self.spec.normal_lead_months) * self.ceiling
        self.plan_output(sum(recent) / len(recent) + excess / self.spec.capacity_adjustment_months)
        self.set_price()

    def order_intake(self, booked_units: float, refused_units: float) -> float:
        """Units/month of this month's orders the vendor plans its capacity for: what it
        booked (``booked_units``) and the share ``order_book.capacity_counts_refused`` of
        what it turned away with its book full (``refused_units``). Rationed buyers inflate
        their orders (shortage gaming: Lee, Padmanabhan and Whang 1997, the bullwhip
        effect; Cachon and Lariviere 1999, allocation invites order inflation), so a refused
        order is weak evidence of demand; a capital-good firm produces on the orders it has
        on its book (Dosi et al.'s K+S). Until MODEL_VERSION 0.56 every refused unit counted,
        and a full book made the vendor expand for orders it had declined."""
        return booked_units + self.market.cfg.order_book.capacity_counts_refused * refused_units

    def accept_orders(self, wanted: dict[str, float]) -> dict[str, float]:
        """Units of each buyer's order (``wanted``, by buyer) the vendor books this month: all
        while its queue stays within ``max_lead_months`` of output, else the room left shared
        in proportion to what each asked (allocation of scarce output pro rata at booking,
        as chip makers put customers "on allocation"; the limit is the calibrated lead time)."""
        limit = self.spec.max_lead_months
        total = sum(wanted.values())
        if limit <= 0 or total <= 0:
            return dict(wanted)
        queue = sum([o.undelivered for o in self.market.open_orders(vendor=self.name)])
        room = max(0.0, limit * self.ceiling - queue)
        share = 1.0 if room >= total else room / total  # no overflow on a tiny total
        return {buyer: units * share for buyer, units in wanted.items()}

    def target_premium(self) -> float:
        """Premium over the cost-and-margin path the vendor aims at: up with the queue beyond
        the normal lead time, down with the share of capacity idle last month; between
        − half the gross margin and ``max_price_premium``. A backlog-and-inventory pricing rule
        as in ECONOMICS.md §4 (Dosi et al.'s K+S firms mark up on cost and adjust the markup
        with the state of their order book); the sensitivities are our own estimates."""
        spec = self.spec
        queue_term = spec.queue_price_sensitivity * (self.queue_months() - spec.normal_lead_months)
        idle = max(0.0, 1.0 - self.delivered_units / self.ceiling) if self.ceiling > 0 else 0.0
        target = queue_term - spec.idle_price_sensitivity * idle
        return min(spec.max_price_premium, max(-0.5 * spec.gross_margin, target))

    def set_price(self) -> None:
        """Move the premium a share ``price_adjustment_per_month`` of the way to its target."""
        speed = self.spec.price_adjustment_per_month
        self.premium += speed * (self.target_premium() - self.premium)

    def unit_price(self, step: int) -> float:
        """List price of one H100-equivalent unit ordered in month ``step``, USD: the
        cost-and-margin path (:meth:`path_price`) times one plus the current premium."""
        return self.path_price(step) * (1.0 + self.premium)

    def path_price(self, step: int) -> float:
        """The cost-and-margin path: the opening price falling with compute per dollar, USD."""
        improvement = self.market.cfg.technology.compute_per_dollar_growth_per_year
        return self.spec.unit_price_usd / improvement ** (step / 12.0)

    def cost_of_goods(self, units: float, order_step: int) -> float:
        """What ``units`` ordered in month ``order_step`` cost the vendor to make, USD: the
        cost-and-margin path's cost share; a premium or discount moves the margin, not it."""
        return units * self.path_price(order_step) * (1.0 - self.spec.gross_margin)

    def schedule_deliveries(
        self, step: int, orders: list[ChipOrder]
    ) -> list[tuple[ChipOrder, float]]:
        """Units to deliver this month, up to the ceiling, among the orders that are due:
        oldest first (``fifo``) or the same share of each (``pro_rata``, allocation by
        entitlement as in capacity rationing of scarce output)."""
        room = self.production_ceiling(step)
        due = sorted(
            [o for o in orders if o.delivery_step <= step and o.undelivered > 0],
            key=lambda o: (o.delivery_step, o.order_step, o.id),
        )
        if self.spec.allocation_rule == "pro_rata":
            owed = sum(o.undelivered for o in due)
            share = min(1.0, room / owed) if owed > 0 else 0.0
            return [(o, o.undelivered * share) for o in due if share > 0]
        plan: list[tuple[ChipOrder, float]] = []
        for order in due:
            if room <= 1e-9:
                break
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
