"""A lab that becomes a cloud (Stargate): the lab owns capacity through a cloud it capitalises.

From ``month`` the provider lab puts ``amount_usd`` of equity, in ``months`` monthly tranches,
into the receiving cloud (a cloud of the scenario, usually with no GPUs of its own at the
start); each tranche is matched by project debt in the proportion ``debt_usd : amount_usd``
from a lender the cloud chooses (borrowing against the facilities it builds), and the cloud
orders chips for the money from the vendor that supplies most. Every month after that the lab
serves its own needs first: of the term contracts it wants, it takes from its own cloud all
that cloud has not committed (``Lab.own_capacity_wanted``), and rents only the rest. The cloud
is an ordinary cloud otherwise (composition: it prices contracts with
``Cloud.quote_contract_price``, orders further chips by its own investment rule, borrows from
syndicates, sells its surplus on the spot market), and the lab holds its equity, so its
balance sheet carries the infrastructure. ``Lab.infrastructure_share`` reports the share of
the lab's compute that runs on capacity it owns.
CALIBRATION: Stargate ($500B over four years announced Jan 2025, OpenAI and partners; the
seeds' "a lab that becomes a cloud provider, valued more like a utility")."""

from __future__ import annotations

from sim import mechanisms
from sim.agents import Cloud, Lab
from sim.deals.base import Deal, DealWorld, register
from sim.instruments import Loan


@register
class LabCloud(Deal):
    kind = "lab_cloud"

    def on_invest(self, world: DealWorld, t: int) -> None:
        deal = self.spec
        if t < deal.month:
            return
        lab, cloud = world.agent(deal.provider), world.agent(deal.receiver)
        assert isinstance(lab, Lab) and isinstance(cloud, Cloud)
        lab.owned_clouds.add(cloud.name)
        if t < deal.month + deal.months:
            self.build(world, t, lab, cloud)
        self.serve_own_needs(world, t, lab, cloud)

    def build(self, world: DealWorld, t: int, lab: Lab, cloud: Cloud) -> None:
        """This month's tranche: the lab's equity, the matching project debt, the chips."""
        deal, books, cfg = self.spec, world.books, world.cfg
        equity = lab.infrastructure_investment(min(deal.amount_usd / deal.months, self.remaining))
        if equity < 1.0:
            return
        self.remaining -= equity
        mechanisms.buy_new_shares(books, t, lab, cloud, equity, deal.name)
        debt = 0.0
        lender = cloud.choose_lender(world.investors)
        if deal.debt_usd > 0 and lender is not None and deal.amount_usd > 0:
            debt = min(equity * deal.debt_usd / deal.amount_usd, lender.cash)
            grace = cfg.technology.build_lag_months  # interest only until the capacity earns
            if debt >= 1.0:
                loan = Loan(
                    books.instruments.new_id("loan"),
                    lender.name,
                    cloud.name,
                    debt,
                    deal.rate_per_year,
                    t,
                    grace + cfg.market.contract_term_months,
                    grace_months=grace,
                )
                books.lend(t, loan)
        vendors = [v for v in world.vendors if not v.defaulted]
        if not vendors:
            return
        vendor = max(vendors, key=lambda v: (v.spec.order_share, v.name))
        reserve = debt * deal.rate_per_year / 12 * cfg.technology.build_lag_months
        gpus = max(0.0, equity + debt - reserve) / (vendor.unit_price(t) + world.facility_cost(t))
        if gpus >= 1.0:
            mechanisms.place_order(books, cfg, t, cloud, vendor, gpus)

    def serve_own_needs(self, world: DealWorld, t: int, lab: Lab, cloud: Cloud) -> None:
        """Before the lab rents: contract what it wants from its own cloud's free capacity."""
        if lab.defaulted or cloud.defaulted:
            return
        books, cfg = world.books, world.cfg
        start = t + cfg.market.contract_lead_months
        held = books.instruments.contracted_gpus(buyer=lab.name, step=start)
        gap = lab.contracts_wanted(t, start, held)
        capacity = cloud.installed_gpus(start) + cloud.pipeline_gpus(t)
        free = capacity - books.instruments.contracted_gpus(seller=cloud.name, step=start)
        gpus = lab.own_capacity_wanted(gap, free)
        if gpus < 1.0:
            return
        price = max(cloud.quote_contract_price(), cfg.market.price_floor_usd_per_gpu_hour)
        mechanisms.sign_contract(books, cfg, t, lab, cloud.name, gpus, price, start, self.name)
