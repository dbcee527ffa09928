"""Strategic equity with a purchase commitment: the provider buys new shares of the receiver
(in ``months`` tranches) and the receiver commits to spend ``spend_back_share`` × the money
with the provider or its supply chain — a capacity contract with a provider cloud; with a
provider vendor, a contract with the receiver's cloud partner, which orders the matching
chips from the vendor (or, for a receiving cloud, a chip order from the vendor directly).
CALIBRATION: Microsoft ↔ OpenAI, NVIDIA → OpenAI / Anthropic / CoreWeave."""

from __future__ import annotations

from sim import mechanisms
from sim.agents import ChipVendor, Cloud, Lab
from sim.deals.base import Deal, DealWorld, first_active_partner, register


@register
class StrategicEquity(Deal):
    kind = "strategic_equity"

    def on_invest(self, world: DealWorld, t: int) -> None:
        deal = self.spec
        if not self.running(t):
            return
        provider, receiver = world.agent(deal.provider), world.agent(deal.receiver)
        amount = provider.strategic_tranche_usd(receiver, deal.amount_usd / deal.months)
        if amount < 1.0:
            return  # the provider declines (valued at nothing) or pays less (the dilution cap)
        mechanisms.buy_new_shares(world.books, t, provider, receiver, amount, deal.name)
        commitment = amount * deal.spend_back_share
        if commitment <= 0:
            return
        if isinstance(receiver, Lab):
            seller = (
                provider if isinstance(provider, Cloud) else first_active_partner(world, receiver)
            )
            if seller is None:
                return
            gpus = mechanisms.commit_capacity(
                world.books, world.cfg, t, receiver, seller, commitment, deal.name
            )
            if isinstance(provider, ChipVendor) and gpus > 0:
                mechanisms.place_order(world.books, world.cfg, t, seller, provider, gpus)
        elif isinstance(receiver, Cloud) and isinstance(provider, ChipVendor):
            unit = provider.unit_price(t) + world.facility_cost(t)
            mechanisms.place_order(world.books, world.cfg, t, receiver, provider, commitment / unit)
