"""A named capacity commitment: the buyer (a lab, or a cloud buying overflow) commits to take
``amount_usd`` of take-or-pay capacity from the provider cloud over ``months`` from
``start_month``, signed in ``month`` — if the provider accepts it
(:meth:`Cloud.accepts_commitment`: expected profit on the tied sales above the cost of the
exposure, within its risk limit). CALIBRATION "OpenAI commitments": Oracle $300B over 5 years
from 2027, Microsoft $250B, AWS $38B over 7 years, CoreWeave $22.4B; Anthropic $30B to Azure;
Microsoft 62–67% of CoreWeave's revenue."""

from __future__ import annotations

from sim.agents import Cloud, MarketAgent
from sim.config import DealSpec
from sim.deals.base import Deal, DealWorld, register
from sim.instruments import CapacityContract


def unit_cost(world: DealWorld, t: int) -> float:
    """USD of one new GPU online (order-share-weighted vendor list price plus facility)."""
    vendors = [v for v in world.vendors if not v.defaulted] or list(world.vendors)
    shares = sum(v.spec.order_share for v in vendors)
    chip = sum(v.unit_price(t) * v.spec.order_share for v in vendors) / shares
    return chip + world.facility_cost(t)


def commit(
    world: DealWorld,
    t: int,
    buyer: MarketAgent,
    seller: Cloud,
    gpus: float,
    start: int,
    term_months: int,
    tag: str,
) -> CapacityContract | None:
    """Offer ``seller`` a take-or-pay contract for ``gpus`` from ``start`` over
    ``term_months`` at its quoted contract price; book it if the seller accepts. Returns the
    contract, or ``None`` if the seller declined."""
    mkt = world.cfg.market
    price = max(seller.quote_contract_price(), mkt.price_floor_usd_per_gpu_hour)
    value = gpus * price * mkt.hours_per_month * term_months * mkt.take_or_pay_share
    default = seller.buyer_default_probability(buyer)
    if not seller.accepts_commitment(
        default, value, gpus, price, start, term_months, t, unit_cost(world, t)
    ):
        return None
    contract = CapacityContract(
        world.books.instruments.new_id("contract") + f":{tag}",
        buyer.name,
        seller.name,
        gpus,
        price,
        start,
        term_months,
        mkt.take_or_pay_share,
        signed=t,
    )
    world.books.sign(t, contract)
    return contract


@register
class CapacityCommitment(Deal):
    """A named bilateral contract of the default world's network (Must contain 7)."""

    kind = "capacity_commitment"

    def __init__(self, spec: DealSpec) -> None:
        super().__init__(spec)
        self.contract: CapacityContract | None = None
        self.declined = False

    def on_invest(self, world: DealWorld, t: int) -> None:
        deal = self.spec
        if t != deal.month:
            return
        seller, buyer = world.agent(deal.provider), world.agent(deal.receiver)
        assert isinstance(seller, Cloud)
        mkt = world.cfg.market
        start = deal.start_month if deal.start_month >= 0 else t + mkt.contract_lead_months
        price = max(seller.quote_contract_price(), mkt.price_floor_usd_per_gpu_hour)
        per_gpu = price * mkt.hours_per_month * deal.months * max(mkt.take_or_pay_share, 1e-9)
        self.contract = commit(
            world, t, buyer, seller, deal.amount_usd / per_gpu, start, deal.months, deal.name
        )
        self.declined = self.contract is None
