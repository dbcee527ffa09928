"""Compute credits paid in shares: the provider cloud grants the receiving lab capacity worth
``amount_usd`` over ``months``; the lab's bills are settled in its own shares, no cash.
CALIBRATION: the cloud-for-stake deals (Microsoft ↔ OpenAI)."""

from __future__ import annotations

from sim.agents import Cloud, Lab
from sim.deals.base import Deal, DealWorld, register
from sim.instruments import CapacityContract
from sim.mechanisms import share_price


@register
class ComputeCredit(Deal):
    kind = "compute_credit"

    def on_invest(self, world: DealWorld, t: int) -> None:
        deal = self.spec
        if t != deal.month:
            return
        cloud, lab = world.agent(deal.provider), world.agent(deal.receiver)
        assert isinstance(cloud, Cloud) and isinstance(lab, Lab)
        price = cloud.quote_contract_price()
        gpus = deal.amount_usd / (price * world.cfg.market.hours_per_month * deal.months)
        contract = CapacityContract(
            world.books.instruments.new_id("credit"),
            lab.name,
            cloud.name,
            gpus,
            price,
            t,
            deal.months,
            1.0,
            signed=t,
            in_kind=True,
            kind="compute credit",
        )
        world.books.sign(t, contract)

    def on_settle(self, world: DealWorld, t: int) -> None:
        """The receiving lab pays its in-kind bills in its own shares, at its value."""
        books = world.books
        in_kind = {c.id for c in books.instruments.contracts if c.in_kind}
        if not in_kind:
            return
        lab = world.agent(self.spec.receiver)
        for ob in [o for o in books.obligations.of(lab.name) if o.instrument in in_kind]:
            shares = books.instruments.shares_outstanding[lab.name]
            books.settle_in_shares(t, ob, share_price(lab.market_value(), ob.usd, shares))
