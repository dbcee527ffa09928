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
    """USD of one new GPU online, ordered in month ``t`` (order-share-weighted vendor list
    price plus facility; for a later month, the vendors' cost-and-margin path then with
    today's premium: the fall of the cost per H100-equivalent is known, the scarcity is
    expected to last)."""
    vendors = [v for v in world.vendors if not v.defaulted] or list(world.vendors)
    shares = sum([v.spec.order_share for v in vendors])
    chip = sum([v.unit_price(t) * v.spec.order_share for v in vendors]) / shares
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
    # the GPUs are bought when the build for the start is ordered, a build lag before it
    # (or now): at the vendors' price path then (Cloud.commitment_value discounts it)
    built = max(t, start - world.cfg.technology.build_lag_months)
    if not seller.accepts_commitment(
        default, value, gpus, price, start, term_months, t, unit_cost(world, built)
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


def phase_gpus(
    amount_usd: float,
    price: float,
    hours: float,
    take_or_pay: float,
    months: int,
    phases: int,
    interval: int,
) -> float:
    """GPUs in each of ``phases`` equal phases of a commitment worth ``amount_usd`` at
    ``price`` USD/GPU-hour, ``hours`` a month, of which the ``take_or_pay`` share is owed:
    phase i starts ``i × interval`` months after the first and every phase ends with the term
    of ``months``, so the phases run ``Σ_i (months − i × interval)`` GPU-months in all. One
    phase is the whole commitment from its start."""
    gpu_months = sum(months - i * interval for i in range(phases))
    return amount_usd / (price * hours * gpu_months * max(take_or_pay, 1e-9))


@register
class CapacityCommitment(Deal):
    """A named bilateral contract of the default world's network (Must contain 7).

    A large commitment comes online in phases, as its data centres are built (Stargate
    Abilene: eight buildings, 12–15 months a phase, CALIBRATION Build time; Oracle guided
    its cloud revenue up from $18B in FY26 to $144B in FY30 on these contracts): with
    ``phases`` > 1 it is booked as that many take-or-pay contracts of equal GPUs, starting
    ``phase_interval_months`` apart and ending together, worth ``amount_usd`` in all. The
    provider accepts or declines each phase (:func:`commit`)."""

    kind = "capacity_commitment"

    def __init__(self, spec: DealSpec) -> None:
        super().__init__(spec)
        self.contracts: list[CapacityContract] = []
        self.declined = False
        self.opened = False  # signed at the opening (in force from month 0)

    def on_open(self, world: DealWorld) -> None:
        """A commitment signed in month 0 to start in month 0 is in force when the run
        opens: signed before the first month's operate phase, so the provider's capacity is
        not sold on spot in month 0 (until MODEL_VERSION 0.51 it was signed in month 0's
        invest phase, after the month's capacity had been allocated)."""
        if self.spec.month == 0 and self.spec.start_month == 0:
            self.opened = True
            self.sign(world, 0)

    def on_invest(self, world: DealWorld, t: int) -> None:
        if t == self.spec.month and not self.opened:
            self.sign(world, t)

    def sign(self, world: DealWorld, t: int) -> None:
        """Offer the provider the commitment's phases in month ``t``; book those it accepts."""
        deal = self.spec
        seller, buyer = world.agent(deal.provider), world.agent(deal.receiver)
        assert isinstance(seller, Cloud)
        mkt = world.cfg.market
        start = deal.start_month if deal.start_month >= 0 else t + mkt.contract_lead_months
        price = max(seller.quote_contract_price(), mkt.price_floor_usd_per_gpu_hour)
        gpus = phase_gpus(
            deal.amount_usd,
            price,
            mkt.hours_per_month,
            mkt.take_or_pay_share,
            deal.months,
            deal.phases,
            deal.phase_interval_months,
        )
        for i in range(deal.phases):
            lag = i * deal.phase_interval_months
            tag = deal.name if deal.phases == 1 else f"{deal.name}-phase{i + 1}"
            contract = commit(world, t, buyer, seller, gpus, start + lag, deal.months - lag, tag)
            if contract is not None:
                self.contracts.append(contract)
        self.declined = not self.contracts
