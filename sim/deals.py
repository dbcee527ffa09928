"""Circular deals: strategic stakes, vendor financing, compute credits, backstops, vehicles.

Each deal of the scenario (``[[deals]]``) is carried out here with its own cash flows, all
through the ledger, so the circularity metrics see exactly the money that goes round:

- ``strategic_equity``: the provider buys new shares of the receiver (in ``months``
  tranches) and the receiver commits to spend ``spend_back_share`` × the money with the
  provider or its supply chain — a capacity contract with a provider cloud; with a provider
  vendor, a contract with the receiver's cloud partner, which orders the matching chips from
  the vendor (or, for a receiving cloud, a chip order from the vendor directly).
- ``vendor_financing``: when the vendor delivers chips to the receiver, it lends back
  ``financed_share`` of the invoice (up to ``amount_usd`` in all), repaid over ``months``.
- ``compute_credit``: the provider cloud grants the receiving lab capacity worth
  ``amount_usd`` over ``months``; the lab's bills are settled in its own shares, no cash.
- ``backstop``: each month for ``months`` months, the vendor buys the receiver's unsold
  capacity at the contract price, until ``amount_usd`` is spent.
- ``lease_vehicle``: at ``month`` the provider puts ``amount_usd`` of equity into the vehicle
  and lenders lend it ``debt_usd``; the vehicle buys chips from the vendor that supplies
  most and leases them to the receiving lab for ``months`` months, take-or-pay in full, at a
  price that repays the debt with interest and returns the equity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.agents import ChipVendor, Cloud, Lab
from sim.config import DealSpec
from sim.instruments import CapacityContract, ChipOrder, Loan
from sim.ledger import Flow

if TYPE_CHECKING:
    from sim.model import ComputeMarket


class DealBook:
    """The scenario's deals and what is left of each (credit lines, backstop commitments)."""

    def __init__(self, deals: tuple[DealSpec, ...]) -> None:
        self.deals = deals
        self.remaining = {d.name: d.amount_usd for d in deals}

    def of_kind(self, kind: str) -> list[DealSpec]:
        return [d for d in self.deals if d.kind == kind]

    # --- invest phase ------------------------------------------------------------------
    def start(self, model: ComputeMarket, t: int) -> None:
        """Deals that pay or start this month."""
        for deal in self.deals:
            provider, receiver = model.agent(deal.provider), model.agent(deal.receiver)
            if provider.defaulted or receiver.defaulted:
                continue
            if deal.kind == "strategic_equity" and deal.month <= t < deal.month + deal.months:
                self._equity_tranche(model, t, deal)
            elif deal.kind == "compute_credit" and t == deal.month:
                self._grant_credits(model, t, deal)
            elif deal.kind == "lease_vehicle" and t == deal.month:
                self._set_up_vehicle(model, t, deal)

    def _equity_tranche(self, model: ComputeMarket, t: int, deal: DealSpec) -> None:
        provider, receiver = model.agent(deal.provider), model.agent(deal.receiver)
        amount = min(deal.amount_usd / deal.months, provider.cash)
        if amount < 1.0:
            return
        model.invest_equity(t, provider, receiver, amount, deal.name)
        commitment = amount * deal.spend_back_share
        if commitment <= 0:
            return
        if isinstance(receiver, Lab):
            seller = provider if isinstance(provider, Cloud) else _partner(model, receiver)
            if seller is None:
                return
            gpus = model.commit_capacity(t, receiver, seller, commitment, deal.name)
            if isinstance(provider, ChipVendor) and gpus > 0:
                model.place_order(t, seller, provider, gpus, tied_to=deal.name)
        elif isinstance(receiver, Cloud) and isinstance(provider, ChipVendor):
            unit = provider.unit_price(t) + model.facility_cost(t)
            model.place_order(t, receiver, provider, commitment / unit, tied_to=deal.name)

    def _grant_credits(self, model: ComputeMarket, t: int, deal: DealSpec) -> None:
        cloud, lab = model.agent(deal.provider), model.agent(deal.receiver)
        assert isinstance(cloud, Cloud) and isinstance(lab, Lab)
        price = model.contract_price()
        gpus = deal.amount_usd / (price * model.cfg.market.hours_per_month * deal.months)
        model.book.add_contract(
            CapacityContract(
                model.book.new_id("credit"),
                lab.name,
                cloud.name,
                gpus,
                price,
                t,
                deal.months,
                1.0,
                signed=t,
                in_kind=True,
            )
        )

    def _set_up_vehicle(self, model: ComputeMarket, t: int, deal: DealSpec) -> None:
        provider, lab = model.agent(deal.provider), model.agent(deal.receiver)
        vehicle = model.agent(deal.vehicle)
        assert isinstance(vehicle, Cloud) and isinstance(lab, Lab)
        equity = min(deal.amount_usd, provider.cash)
        if equity >= 1.0:
            model.invest_equity(t, provider, vehicle, equity, deal.name)
        lenders = sorted(model.investors, key=lambda i: (-i.cash, i.name))
        debt = 0.0
        if deal.debt_usd > 0 and lenders:
            debt = min(deal.debt_usd, lenders[0].cash)
            grace = model.cfg.technology.build_lag_months  # interest only until the lease pays
            loan = Loan(
                model.book.new_id("loan"),
                lenders[0].name,
                vehicle.name,
                debt,
                deal.rate_per_year,
                t,
                grace + deal.months,
                grace_months=grace,
            )
            model.advance_loan(t, loan)
        vendor = max(model.vendors, key=lambda v: (v.spec.order_share, v.name))
        unit = vendor.unit_price(t) + model.facility_cost(t)
        tech, hours = model.cfg.technology, model.cfg.market.hours_per_month
        # keep an interest reserve for the months before the lease pays
        reserve = debt * deal.rate_per_year / 12 * (tech.build_lag_months + 6)
        gpus = max(0.0, equity + debt - reserve) / unit
        if gpus <= 0:
            return
        model.place_order(t, vehicle, vendor, gpus, tied_to=deal.name)
        rate = deal.rate_per_year / 12
        annuity = debt / deal.months + debt * rate  # instalment plus interest, at most
        monthly = annuity + equity / deal.months * (1 + deal.rate_per_year)
        price = max(
            monthly / (gpus * hours) + tech.operating_cost_usd_per_gpu_hour,
            model.cfg.market.price_floor_usd_per_gpu_hour,
        )
        start = t + model.cfg.technology.build_lag_months
        model.book.add_contract(
            CapacityContract(
                model.book.new_id("lease"),
                lab.name,
                vehicle.name,
                gpus,
                price,
                start,
                deal.months,
                1.0,
                signed=t,
            )
        )

    # --- operate phase -----------------------------------------------------------------
    def backstops(self, model: ComputeMarket, t: int) -> None:
        """Vendors buy their backstopped clouds' unsold capacity at the contract price."""
        hours = model.cfg.market.hours_per_month
        for deal in self.of_kind("backstop"):
            vendor, cloud = model.agent(deal.provider), model.agent(deal.receiver)
            assert isinstance(cloud, Cloud)
            left = self.remaining[deal.name]
            if not deal.month <= t < deal.month + deal.months or left < 1.0 or vendor.defaulted:
                continue
            idle = max(0.0, cloud.offered_gpus(t) - cloud.used_gpus)
            price = model.contract_price()
            bill = min(idle * hours * price, left)
            if bill < 1.0:
                continue
            model.accrue_compute(t, vendor, cloud, bill, deal.name)
            cloud.used_gpus += bill / (hours * price)
            self.remaining[deal.name] = left - bill

    # --- settle phase ------------------------------------------------------------------
    def finance_delivery(
        self, model: ComputeMarket, t: int, order: ChipOrder, invoice: float
    ) -> None:
        """Vendor financing: lend back a share of an invoice to the buyer."""
        for deal in self.of_kind("vendor_financing"):
            if (
                deal.provider != order.vendor
                or deal.receiver != order.buyer
                or t < deal.month
                or self.remaining[deal.name] < 1.0
            ):
                continue
            vendor = model.agent(deal.provider)
            amount = min(invoice * deal.financed_share, self.remaining[deal.name], vendor.cash)
            if amount < 1.0:
                continue
            loan = Loan(
                model.book.new_id("vendorloan"),
                vendor.name,
                order.buyer,
                amount,
                deal.rate_per_year,
                t,
                deal.months,
            )
            model.advance_loan(t, loan, flow=Flow.VENDOR_FINANCING)
            self.remaining[deal.name] -= amount

    def settle_credits(self, model: ComputeMarket, t: int) -> None:
        """Compute credits: the lab pays those bills in its own shares, at its valuation."""
        in_kind = {c.id for c in model.book.contracts if c.in_kind}
        if not in_kind:
            return
        for lab in model.labs:
            for ob in [o for o in model.obligations.of(lab.name) if o.instrument in in_kind]:
                model.settle_in_shares(t, ob)


def _partner(model: ComputeMarket, lab: Lab) -> Cloud | None:
    """The lab's first partner cloud still in business, if any."""
    for name in lab.partners:
        cloud = model.agent(name)
        if isinstance(cloud, Cloud) and not cloud.defaulted:
            return cloud
    return None


def supply_chain(model: ComputeMarket) -> dict[str, set[str]]:
    """Each vendor's supply chain for provenance: the clouds that bought its chips."""
    return {v.name: set(model.book.buyers_of.get(v.name, set())) for v in model.vendors}


__all__ = ["DealBook", "supply_chain"]
