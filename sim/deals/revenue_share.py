"""A revenue share: each month for ``months`` months from ``month``, the receiving lab owes
the provider ``revenue_share`` of its end-user revenue of the month, paid in the settlement
with its other bills (a payable of the lab, income of the provider; if the lab defaults it
is a claim on its estate like any other). CALIBRATION: Microsoft ↔ OpenAI, a 20% revenue
share beside Microsoft's stake and the Azure contracts — the investor is paid back from the
revenue its investment and its capacity made possible (a circular flow)."""

from __future__ import annotations

from sim.agents import Lab
from sim.deals.base import Deal, DealWorld, register
from sim.ledger import Flow


@register
class RevenueShare(Deal):
    kind = "revenue_share"

    def on_settle(self, world: DealWorld, t: int) -> None:
        deal = self.spec
        if not self.running(t):
            return
        partner, lab = world.agent(deal.provider), world.agent(deal.receiver)
        assert isinstance(lab, Lab)
        if lab.defaulted or partner.defaulted:
            return
        world.books.accrue(
            t,
            lab.name,
            partner.name,
            deal.revenue_share * lab.revenue_usd,
            Flow.REVENUE_SHARE_DUE,
            deal.name,
            "revenue share",
        )
