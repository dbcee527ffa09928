"""Vendor financing: when the vendor delivers chips to the receiver, it lends back
``financed_share`` of the invoice (up to ``amount_usd`` in all), repaid over ``months``.
CALIBRATION: Lucent's vendor-finance lines (telecom precedent); NVIDIA's to neoclouds."""

from __future__ import annotations

from sim.agents import ChipVendor
from sim.deals.base import Deal, DealWorld, register
from sim.instruments import ChipOrder, Loan
from sim.ledger import Flow


@register
class VendorFinancing(Deal):
    kind = "vendor_financing"

    def on_delivery(self, world: DealWorld, t: int, order: ChipOrder, invoice_usd: float) -> None:
        deal = self.spec
        if (
            deal.provider != order.vendor
            or deal.receiver != order.buyer
            or t < deal.month
            or self.remaining < 1.0
        ):
            return
        vendor = world.agent(deal.provider)
        assert isinstance(vendor, ChipVendor)
        amount = vendor.finance_offer(invoice_usd, deal.financed_share, self.remaining)
        if amount < 1.0:
            return
        loan = Loan(
            world.books.instruments.new_id("vendorloan"),
            vendor.name,
            order.buyer,
            amount,
            deal.rate_per_year,
            t,
            deal.months,
            kind="vendor loan",
        )
        world.books.lend(t, loan, flow=Flow.VENDOR_FINANCING)
        self.remaining -= amount
