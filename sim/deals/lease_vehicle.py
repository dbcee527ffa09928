"""A lease vehicle: at ``month`` the provider puts ``amount_usd`` of equity into the vehicle
and a lender lends it ``debt_usd``; the vehicle buys chips from the vendor that supplies most
and leases them to the receiving lab for ``months`` months, take-or-pay in full, at a price
that repays the debt with interest and returns the equity.
CALIBRATION: the NVIDIA → xAI vehicle ($7.5B equity + $12.5B debt); Meta Hyperion."""

from __future__ import annotations

from sim import mechanisms
from sim.agents import Cloud, Lab
from sim.deals.base import Deal, DealWorld, register
from sim.instruments import CapacityContract, Loan


@register
class LeaseVehicle(Deal):
    kind = "lease_vehicle"

    def on_invest(self, world: DealWorld, t: int) -> None:
        deal = self.spec
        if t != deal.month:
            return
        books, cfg = world.books, world.cfg
        provider, lab = world.agent(deal.provider), world.agent(deal.receiver)
        vehicle = world.agent(deal.vehicle)
        assert isinstance(vehicle, Cloud) and isinstance(lab, Lab)
        equity = min(deal.amount_usd, provider.cash)
        if equity >= 1.0:
            mechanisms.buy_new_shares(books, t, provider, vehicle, equity, deal.name)
        lender = vehicle.choose_lender(world.investors)
        debt = 0.0
        if deal.debt_usd > 0 and lender is not None:
            debt = min(deal.debt_usd, lender.cash)
            grace = cfg.technology.build_lag_months  # interest only until the lease pays
            loan = Loan(
                books.instruments.new_id("loan"),
                lender.name,
                vehicle.name,
                debt,
                deal.rate_per_year,
                t,
                grace + deal.months,
                grace_months=grace,
            )
            books.lend(t, loan)
        vendor = max(world.vendors, key=lambda v: (v.spec.order_share, v.name))
        unit = vendor.unit_price(t) + world.facility_cost(t)
        tech, hours = cfg.technology, cfg.market.hours_per_month
        # keep an interest reserve for the months before the lease pays
        reserve = debt * deal.rate_per_year / 12 * (tech.build_lag_months + 6)
        gpus = max(0.0, equity + debt - reserve) / unit
        if gpus <= 0:
            return
        mechanisms.place_order(books, cfg, t, vehicle, vendor, gpus)
        rate = deal.rate_per_year / 12
        annuity = debt / deal.months + debt * rate  # instalment plus interest, at most
        monthly = annuity + equity / deal.months * (1 + deal.rate_per_year)
        price = max(
            monthly / (gpus * hours) + tech.operating_cost_usd_per_gpu_hour,
            cfg.market.price_floor_usd_per_gpu_hour,
        )
        contract = CapacityContract(
            books.instruments.new_id("lease"),
            lab.name,
            vehicle.name,
            gpus,
            price,
            t + tech.build_lag_months,
            deal.months,
            1.0,
            signed=t,
            kind="lease",
        )
        books.sign(t, contract)
