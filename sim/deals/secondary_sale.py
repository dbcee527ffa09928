"""Secondary sale: the provider (a sovereign fund, say) buys existing shares of the receiver
from its founders, employees and early holders at a negotiated valuation. No money reaches
the company and no new shares are made; the price sets the mark for every holder that month
(:meth:`sim.agents.Lab.record_trade`). CALIBRATION: the seeds' $40B secondary at a $300B
valuation; OpenAI's $6.6B employee share sale at $500B (October 2025)."""

from __future__ import annotations

from sim.agents import Lab
from sim.books import cents_round
from sim.deals.base import Deal, DealWorld, register


@register
class SecondarySale(Deal):
    kind = "secondary_sale"

    def on_invest(self, world: DealWorld, t: int) -> None:
        deal = self.spec
        if not self.running(t):
            return
        buyer, issuer = world.agent(deal.provider), world.agent(deal.receiver)
        valuation = deal.valuation_usd or issuer.market_value()
        book = world.books.instruments
        shares = book.shares_outstanding[issuer.name]
        price = valuation / shares if valuation > 0 else 0.0
        if price <= 0:
            return
        amount = cents_round(min(deal.amount_usd / deal.months, buyer.cash))
        amount = min(amount, cents_round(book.founder_shares(issuer.name) * price))
        if amount < 1.0:
            return
        world.books.buy_from_founders(t, buyer.name, issuer.name, amount, price)
        if isinstance(issuer, Lab):
            issuer.record_trade(t, valuation)
