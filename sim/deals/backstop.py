"""A capacity backstop: each month for ``months`` months, the vendor buys the receiving
cloud's unsold capacity at the contract price, until ``amount_usd`` is spent.
CALIBRATION: NVIDIA's $6.3B promise to buy CoreWeave's unsold capacity."""

from __future__ import annotations

from sim.agents import Cloud
from sim.deals.base import Deal, DealWorld, register
from sim.ledger import Flow


@register
class Backstop(Deal):
    kind = "backstop"

    def on_allocation(self, world: DealWorld, t: int) -> None:
        deal = self.spec
        hours = world.cfg.market.hours_per_month
        vendor, cloud = world.agent(deal.provider), world.agent(deal.receiver)
        assert isinstance(cloud, Cloud)
        left = self.remaining
        if not self.running(t) or left < 1.0 or vendor.defaulted:
            return
        idle = max(0.0, cloud.offered_gpus(t) - cloud.used_gpus)
        price = cloud.quote_contract_price()
        bill = min(idle * hours * price, left)
        if bill < 1.0:
            return
        world.books.accrue(
            t, vendor.name, cloud.name, bill, Flow.COMPUTE_DUE, deal.name, "backstop"
        )
        cloud.record_use(bill / (hours * price))
        self.remaining = left - bill
