"""An enterprise joint venture: private-equity partners and a lab put capital into a vehicle
that deploys the lab's models into the partners' portfolio companies.

At ``month`` the lead partner (the provider) and the ``partners`` put ``amount_usd`` × (1 −
``receiver_share``) into the vehicle in equal parts, and the lab ``receiver_share`` × it
(``Lab.joint_venture_contribution``), each buying the vehicle's new shares; the lab's
enterprise lock-in rises by ``competition.jv_lock_in`` (``Lab.integrate``: its enterprise
customers switch less). Over ``months`` months the vehicle spends its capital evenly buying
the lab's services for the deployments; from then on each month the deployed capital earns
``competition.jv_yield_per_month`` from the portfolio companies (customers outside the
model), of which ``1 − competition.jv_margin`` buys the lab's services that run them and the
rest, the vehicle's profit, is paid out to its owners by their ownership (partners and lab).
The vehicle is an investor agent with no appetite of its own (``vehicle``).
CALIBRATION (the seeds): $1.5B with three private-equity partners for one lab; $10B with
about twenty asset managers for another (press, 2025–26)."""

from __future__ import annotations

from sim import mechanisms
from sim.agents import Investor, Lab
from sim.books import CUSTOMERS, SHAREHOLDERS
from sim.config import DealSpec
from sim.deals.base import Deal, DealWorld, register
from sim.ledger import Flow


@register
class EnterpriseJV(Deal):
    kind = "enterprise_jv"

    def __init__(self, spec: DealSpec) -> None:
        super().__init__(spec)
        self.capital_usd = 0.0  # capital the vehicle raised, USD
        self.deployed_usd = 0.0  # capital spent deploying the lab's models, USD
        self.deploy_until = 0  # first month it no longer deploys (settle runs before invest)

    def on_invest(self, world: DealWorld, t: int) -> None:
        """The partners and the lab capitalise the vehicle; the lab's lock-in rises."""
        deal = self.spec
        if t != deal.month:
            return
        books = world.books
        lab, vehicle = world.agent(deal.receiver), world.agent(deal.vehicle)
        assert isinstance(lab, Lab) and isinstance(vehicle, Investor)
        partners = [world.agent(name) for name in (deal.provider, *deal.partners)]
        each = deal.amount_usd * (1.0 - deal.receiver_share) / len(partners)
        for partner in partners:
            if partner.defaulted:
                continue
            usd = min(each, partner.cash)
            mechanisms.buy_new_shares(books, t, partner, vehicle, usd, deal.name)
            self.capital_usd += usd if usd >= 1.0 else 0.0
        own = lab.joint_venture_contribution(deal.amount_usd * deal.receiver_share)
        if own >= 1.0:
            mechanisms.buy_new_shares(books, t, lab, vehicle, own, deal.name)
            self.capital_usd += own
        self.deploy_until = t + 1 + deal.months
        if self.capital_usd >= 1.0:
            lab.integrate("enterprise", world.cfg.competition.jv_lock_in)

    def on_settle(self, world: DealWorld, t: int) -> None:
        """The month's deployment, the portfolio companies' revenue, the services bought
        from the lab, and the profit paid out to the vehicle's owners."""
        deal, books, comp = self.spec, world.books, world.cfg.competition
        if t < deal.month or self.capital_usd < 1.0:
            return
        lab, vehicle = world.agent(deal.receiver), world.agent(deal.vehicle)
        if lab.defaulted or vehicle.defaulted:
            return
        revenue = comp.jv_yield_per_month * self.deployed_usd
        if revenue >= 0.01:
            books.receive(t, CUSTOMERS, vehicle.name, revenue, Flow.SERVICE_REVENUE)
        services = (1.0 - comp.jv_margin) * revenue
        if t < self.deploy_until:
            deploy = min(self.capital_usd / deal.months, vehicle.cash - revenue)
            services += max(deploy, 0.0)
            self.deployed_usd += max(deploy, 0.0)
        if services >= 0.01:
            books.accrue(
                t, vehicle.name, lab.name, services, Flow.COMPUTE_DUE, deal.name, "jv services"
            )
        profit = comp.jv_margin * revenue
        if profit >= 0.01:
            holders = {
                stake.holder: books.instruments.ownership(stake.holder, vehicle.name)
                for stake in books.instruments.stakes_in(vehicle.name)
            }
            books.pay_out(t, vehicle.name, profit, holders, SHAREHOLDERS)
