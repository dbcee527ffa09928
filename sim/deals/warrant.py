"""Warrants that vest with the holder's purchases (CALIBRATION "AMD → OpenAI": a warrant for
160M AMD shares at $0.01, vesting as OpenAI buys 6 GW, ≈ $90B).

Over ``months`` from ``month`` the holder (a lab) buys up to ``amount_usd`` of the issuer's
(a vendor's) chips through its partner cloud: each month the cloud orders that month's share
from the vendor, as far as the vendor books it (:meth:`ChipVendor.accept_orders`), and the
lab contracts the capacity of those chips from the cloud (take-or-pay, standard term). The
warrant — the right to buy ``warrant_share`` of the vendor's shares outstanding at grant for
``exercise_price_usd`` in all — vests in proportion to the chips delivered on those orders.
Vested shares are exercised when the holder chooses (:meth:`Lab.exercises_warrant`): it
pays the strike in cash and receives new shares (:meth:`Books.issue_shares`), which the
capital market then marks like any stake. Until exercise the warrant is marked at its
intrinsic value, the vested shares × (the issuer's share price − the strike) (not
Black–Scholes: at a strike of $0.01 against a share price in the hundreds the time value
is nil)."""

from __future__ import annotations

from dataclasses import dataclass

from sim import mechanisms
from sim.agents import ChipVendor, Lab
from sim.config import DealSpec
from sim.deals.base import Deal, DealWorld, first_active_partner, register
from sim.instruments import ChipOrder


@dataclass
class Warrant:
    """The option: ``shares`` new shares of ``issuer`` for ``exercise_price_usd`` in all,
    vesting as ``holder``'s purchases reach ``purchases_to_vest_usd``."""

    issuer: str
    holder: str
    shares: float
    exercise_price_usd: float
    purchases_to_vest_usd: float
    purchased_usd: float = 0.0  # delivered on the tied orders so far
    exercised_shares: float = 0.0

    @property
    def strike_per_share(self) -> float:
        """USD per share on exercise."""
        return self.exercise_price_usd / self.shares if self.shares > 0 else 0.0

    def vested_share(self) -> float:
        """Share of the warrant vested (0–1): purchases so far over those that vest it all."""
        if self.purchases_to_vest_usd <= 0:
            return 1.0
        return min(1.0, self.purchased_usd / self.purchases_to_vest_usd)

    def exercisable_shares(self) -> float:
        """Vested shares not yet exercised."""
        return max(0.0, self.shares * self.vested_share() - self.exercised_shares)

    def intrinsic_value(self, share_price: float) -> float:
        """The stated mark, USD: exercisable shares × (share price − strike), at least 0."""
        return self.exercisable_shares() * max(0.0, share_price - self.strike_per_share)


@register
class WarrantDeal(Deal):
    """A vendor's warrant to a lab, vesting with the lab's purchases of its chips."""

    kind = "warrant"

    def __init__(self, spec: DealSpec) -> None:
        super().__init__(spec)
        self.warrant: Warrant | None = None
        self.tied_orders: set[str] = set()
        self.mark_usd = 0.0  # the warrant's intrinsic value at the last month's share price

    def on_invest(self, world: DealWorld, t: int) -> None:
        deal = self.spec
        if not self.running(t):
            return
        vendor, lab = world.agent(deal.provider), world.agent(deal.receiver)
        assert isinstance(vendor, ChipVendor) and isinstance(lab, Lab)
        books = world.books
        if self.warrant is None:
            outstanding = books.instruments.shares_outstanding[vendor.name]
            self.warrant = Warrant(
                vendor.name,
                lab.name,
                deal.warrant_share * outstanding,
                deal.exercise_price_usd,
                deal.amount_usd,
            )
        cloud = first_active_partner(world, lab)
        if cloud is None:
            return
        # this month's purchase, as far as the vendor books it (its allocation rule)
        wanted = deal.amount_usd / deal.months / vendor.unit_price(t)
        units = vendor.accept_orders({cloud.name: wanted})[cloud.name]
        if units < 1.0:
            return
        mkt = world.cfg.market
        price = max(cloud.quote_contract_price(), mkt.price_floor_usd_per_gpu_hour)
        start = t + mkt.contract_lead_months
        mechanisms.sign_contract(
            books, world.cfg, t, lab, cloud.name, units, price, start, deal.name
        )
        order = mechanisms.place_order(books, world.cfg, t, cloud, vendor, units)
        self.tied_orders.add(order.id)

    def on_delivery(self, world: DealWorld, t: int, order: ChipOrder, invoice_usd: float) -> None:
        if self.warrant is not None and order.id in self.tied_orders:
            self.warrant.purchased_usd += invoice_usd

    def on_settle(self, world: DealWorld, t: int) -> None:
        """Mark the warrant; the holder exercises what it chooses of the vested shares."""
        warrant = self.warrant
        if warrant is None:
            return
        vendor, lab = world.agent(warrant.issuer), world.agent(warrant.holder)
        assert isinstance(lab, Lab)
        books = world.books
        outstanding = books.instruments.shares_outstanding[vendor.name]
        price = vendor.market_value() / outstanding if outstanding > 0 else 0.0
        self.mark_usd = warrant.intrinsic_value(price)
        if vendor.defaulted or lab.defaulted:
            return
        shares = lab.exercises_warrant(
            warrant.exercisable_shares(), price, warrant.strike_per_share
        )
        if shares <= 0:
            return
        books.issue_shares(
            t,
            lab.name,
            vendor.name,
            shares * warrant.strike_per_share,
            warrant.strike_per_share,
            instrument=f"warrant:{self.name}",
        )
        warrant.exercised_shares += shares
        self.mark_usd = warrant.intrinsic_value(price)
