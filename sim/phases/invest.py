"""Phase 4, invest: deals that start this month; labs sign contracts from their projections;
clouds order chips by their investment rule; vendors plan output."""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from sim import costs, mechanisms
from sim.deals import capacity_commitment
from sim.instruments import ChipOrder
from sim.phases import credit

if TYPE_CHECKING:
    from sim.agents import ChipVendor, Cloud
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> None:
    books, cfg = world.books, world.cfg
    mcfg = cfg.market
    start = t + mcfg.contract_lead_months
    active_clouds = [c for c in world.clouds if not c.defaulted and c.sells_to_market]
    world.deals.on_invest(world, t)
    month = world.month_state
    for lab in world.labs:
        contracted_then = books.instruments.contracted_gpus(buyer=lab.name, step=start)
        gpus = lab.contracts_wanted(t, start, contracted_then)
        if gpus <= 0 or not active_clouds:
            continue
        partners = lab.active_partners(active_clouds, t)
        for partner, share in lab.split_over_partners(gpus, partners).items():
            price = max(
                world.cloud(partner).quote_contract_price(), mcfg.price_floor_usd_per_gpu_hour
            )
            mechanisms.sign_contract(books, cfg, t, lab, partner, share, price, start)
        month.contracts_signed_gpus += gpus
    horizon = cfg.technology.build_lag_months
    capacity = sum(c.installed_gpus(t) for c in active_clouds) or 1.0
    vendors = [v for v in world.vendors if not v.defaulted]
    if not vendors:
        return
    share_total = sum(v.spec.order_share for v in vendors)
    unit_cost = sum(v.unit_price(t) * v.spec.order_share for v in vendors) / share_total
    unit_cost += world.facility_cost(t)
    for cloud in active_clouds:
        cancel = cloud.gpus_to_cancel(t, horizon, unit_cost)
        if cancel >= 1.0:
            month.orders_cancelled_gpus += mechanisms.cancel_orders(books, cfg, t, cloud, cancel)
    ordered = dict.fromkeys((v.name for v in vendors), 0.0)
    wanted: dict[str, dict[str, float]] = {v.name: {} for v in vendors}
    lines = vendor_lines(vendors)
    known: dict[str, list[ChipVendor]] = {}  # each ordering cloud's suppliers
    for cloud in active_clouds:
        share = cloud.installed_gpus(t) / capacity
        gpus = cloud.gpus_to_order(t, horizon, share, unit_cost)
        # the credit for it is committed now (drawn on delivery); what lenders do not commit
        # is not ordered
        arrange_credit(world, t, cloud, max(0.0, gpus) * unit_cost)
        gpus = min(gpus, max(0.0, cloud.funding_capacity(t, new_credit=False)) / unit_cost)
        if gpus < 1.0:
            continue
        known[cloud.name] = cloud.suppliers(lines)
        for vendor_name, units in cloud.split_order(gpus, known[cloud.name]).items():
            wanted[vendor_name][cloud.name] = units
    refused: dict[str, float] = {}
    vendor_booked: dict[str, dict[str, float]] = {}
    for vendor in vendors:
        vendor_booked[vendor.name] = vendor.accept_orders(wanted[vendor.name])
        for buyer, units in vendor_booked[vendor.name].items():
            refused[buyer] = refused.get(buyer, 0.0) + wanted[vendor.name][buyer] - units
            book_order(world, t, buyer, vendor, units, ordered)
    # what a vendor on allocation refused goes to the buyer's other suppliers with room left
    # (second sourcing), asked in the order the refusals arose
    second: dict[str, list[str]] = {v.name: [] for v in vendors}
    for buyer in refused:
        for supplier in known[buyer]:
            second[supplier.name].append(buyer)
    for vendor in vendors:
        asked = {b: refused[b] for b in second[vendor.name] if refused[b] >= 1.0}
        for buyer, units in vendor.accept_orders(asked).items():
            refused[buyer] -= units
            book_order(world, t, buyer, vendor, units, ordered)
    buy_overflow(world, t, active_clouds, refused)
    if cfg.overflow.sells_ahead:
        sell_ahead(world, t, active_clouds, capacity, unit_cost)
    for vendor in vendors:
        # the vendor plans for the orders it booked and what it reads as demand in those it
        # turned away (ChipVendor.order_intake)
        turned_away = sum(
            max(0.0, u - b)
            for u, b in zip(
                wanted[vendor.name].values(),
                vendor_booked[vendor.name].values(),
                strict=True,
            )
        )
        vendor.plan_production(t, vendor.order_intake(ordered[vendor.name], turned_away))


def vendor_lines(vendors: list[ChipVendor]) -> list[list[ChipVendor]]:
    """``vendors`` grouped by product line (the vendors built from one ``chip_vendors``
    entry), lines and vendors in creation order."""
    lines: dict[str, list[ChipVendor]] = {}
    for vendor in vendors:
        lines.setdefault(vendor.spec.name, []).append(vendor)
    return list(lines.values())


def buy_overflow(
    world: ComputeMarket, t: int, clouds: list[Cloud], refused: dict[str, float]
) -> None:
    """Buy or build: a cloud whose orders the vendors refused this month
    (:meth:`Cloud.overflow_wanted`) contracts that capacity from the neoclouds with the most
    room (installed or coming and not yet contracted; at most
    ``sourcing.overflow_sellers`` of them, so the contracts grow with the world, not with its
    square), spread over them in proportion to their room, and no more than that
    (multi-sourcing); each decides whether to accept (:meth:`Cloud.accepts_commitment`).
    The contract runs the standard term from the contract lead."""
    mkt = world.cfg.market
    horizon = world.cfg.technology.build_lag_months
    start = t + mkt.contract_lead_months
    most = world.cfg.sourcing.overflow_sellers
    sellers = [c for c in clouds if c.spec.archetype == "neocloud"]
    names = [s.name for s in sellers]
    spare: dict[str, float] = {}  # each neocloud's room, computed when first needed

    def room_of(s: Cloud) -> float:
        return (
            s.installed_gpus(t)
            + s.pipeline_gpus(t)
            - world.contracted_gpus(seller=s.name, step=start)
        )

    for cloud in clouds:
        gpus = cloud.overflow_wanted(t, horizon, refused.get(cloud.name, 0.0))
        if gpus < 1.0 or not sellers:
            continue
        if not spare:
            spare = {s.name: room_of(s) for s in sellers}
        chosen = sellers
        if len(sellers) > most:  # the neoclouds with the most room, in creation order
            ranked = heapq.nlargest(most, range(len(sellers)), key=lambda i: spare[names[i]])
            chosen = [sellers[i] for i in sorted(ranked)]
        room = sum(max(0.0, spare[s.name]) for s in chosen)
        if room < 1.0:
            continue
        for seller in chosen:
            # spread over the neoclouds by the room each has (multi-sourcing); a neocloud
            # sells what it has or has coming, not what it cannot build either
            units = min(gpus * max(0.0, spare[seller.name]) / room, max(0.0, spare[seller.name]))
            if units < 1.0:
                continue
            contract = capacity_commitment.commit(
                world, t, cloud, seller, units, start, mkt.contract_term_months, "overflow"
            )
            if contract is not None:
                world.month_state.contracts_signed_gpus += units
                spare[seller.name] = room_of(seller)  # only a signing changes a room


def sell_ahead(
    world: ComputeMarket, t: int, clouds: list[Cloud], capacity: float, unit_cost: float
) -> None:
    """Overflow before the spot market: each neocloud offers the capacity it will have
    online at the contract lead and has not contracted (:meth:`Cloud.spare_for_contract`)
    to the hyperscalers short of capacity then (:meth:`Cloud.capacity_gap_gpus`), its
    existing buyers first in proportion to what they already contract from it (an order
    under a master agreement: a known counterparty, no new negotiation or credit review;
    Baker, Gibbons and Murphy 2002's relational contracts), then any other in proportion to
    its gap. Each contract runs ``overflow.term_months`` at the neocloud's quoted price, if it
    accepts it (:meth:`Cloud.accepts_commitment`). ``capacity`` is the clouds' installed
    GPUs (for market shares), ``unit_cost`` the USD of a new GPU online."""
    mkt = world.cfg.market
    lead = mkt.contract_lead_months
    start = t + lead
    gaps = {
        c.name: c.capacity_gap_gpus(t, lead, c.installed_gpus(t) / capacity, unit_cost)
        for c in clouds
        if c.spec.archetype == "hyperscaler"
    }
    for seller in clouds:
        spare = seller.spare_for_contract(start, world.cfg.overflow.term_months)
        wanting = [b for b, gap in gaps.items() if gap >= 1.0]
        if spare < 1.0 or not wanting:
            continue
        ties = {b: bought_from(world, b, seller.name, t) for b in wanting}
        known = {b: g for b, g in ties.items() if g > 0}
        others = {b: gaps[b] for b in wanting if b not in known}
        if not world.cfg.overflow.new_buyers:
            others = {}
        for weights in (known, others):
            spare -= sign_overflow(world, t, seller, weights, gaps, spare)


def sign_overflow(
    world: ComputeMarket,
    t: int,
    seller: Cloud,
    weights: dict[str, float],
    gaps: dict[str, float],
    spare: float,
) -> float:
    """Offer ``spare`` GPUs of ``seller`` to the buyers in ``weights``, in proportion to
    their weights and no more than each one's gap (``gaps``, reduced by what it signs), from
    the contract lead over ``overflow.term_months``. Returns the GPUs signed."""
    total = sum(weights.values())
    if spare < 1.0 or total <= 0:
        return 0.0
    mkt = world.cfg.market
    signed = 0.0
    for buyer, weight in weights.items():
        units = min(gaps[buyer], spare * weight / total)
        if units < 1.0:
            continue
        contract = capacity_commitment.commit(
            world,
            t,
            world.cloud(buyer),
            seller,
            units,
            t + mkt.contract_lead_months,
            world.cfg.overflow.term_months,
            "overflow-ahead",
        )
        if contract is not None:
            gaps[buyer] -= units
            signed += units
            world.month_state.contracts_signed_gpus += units
    return signed


def bought_from(world: ComputeMarket, buyer: str, seller: str, t: int) -> float:
    """GPUs ``buyer`` contracts from ``seller`` under contracts in force at ``t``."""
    return sum(
        [k.gpus for k in world.books.instruments.contracts_of(seller, t) if k.buyer == buyer]
    )


def arrange_credit(world: ComputeMarket, t: int, cloud: Cloud, order_usd: float) -> None:
    """The cloud's committed capex credit (:meth:`Cloud.credit_commitment_wanted`): a
    syndicate it chooses commits what it asks, within each lender's budget for the month
    (a commitment takes lending capacity when made, not when drawn), or the cloud gives back
    what it no longer needs. No money moves until the commitment is drawn on delivery
    (``phases.settle.draw_on_delivery``)."""
    change = cloud.credit_commitment_wanted(t, order_usd)
    if change <= -1.0:
        cloud.release_credit(-change)
        return
    if change < 1.0:
        return
    world.month_state.credit_committed_usd += credit.commit_from_syndicate(
        world, cloud, change, from_budgets=True
    )


def book_order(
    world: ComputeMarket,
    t: int,
    buyer: str,
    vendor: ChipVendor,
    units: float,
    ordered: dict[str, float],
) -> None:
    """Book ``units`` GPUs ordered by ``buyer`` from ``vendor`` (nothing below one GPU)."""
    if units < 1.0:
        return
    ordered[vendor.name] += units
    mechanisms.place_order(world.books, world.cfg, t, world.cloud(buyer), vendor, units)
    world.month_state.orders_placed_gpus += units


def open_pipeline(world: ComputeMarket) -> None:
    """Orders placed before the run opens: ``investment.opening_pipeline_share_of_fleet`` of
    each cloud's opening fleet, ordered before month 0 and falling due evenly over the first
    ``opening_pipeline_months`` (within the vendors' output; an order is due a delivery lag
    after it was placed, or later), online ``opening_pipeline_install_months`` after
    delivery (at most the build lag less the delivery lag: its halls were started in 2024);
    split over its suppliers (:meth:`Cloud.suppliers`) by their order shares (the pipeline
    the 2024 boom left; without it no new capacity comes online in the first year). A
    cloud's share is capped by what it could fund at the opening
    (:meth:`Cloud.funding_capacity`)."""
    books, cfg = world.books, world.cfg
    tech = cfg.technology
    share = cfg.investment.opening_pipeline_share_of_fleet
    clouds = [c for c in world.clouds if c.sells_to_market and c.spec.initial_gpus > 0]
    vendors = world.vendors
    if share <= 0 or not clouds or not vendors:
        return
    months = cfg.investment.opening_pipeline_months
    lag = tech.delivery_lag_months
    install = min(cfg.investment.opening_pipeline_install_months, tech.build_lag_months - lag)
    unit_cost = costs.chip_price(cfg, -lag) + world.facility_cost(-lag)
    for cloud in clouds:  # the lines that financed the pipeline (contract-backed, pre-run)
        credit.open_project_line(world, cloud, share * cloud.spec.initial_gpus * unit_cost)
    fundable = {c.name: max(0.0, c.funding_capacity(0)) / unit_cost for c in clouds}
    # each vendor's buyers: the clouds whose suppliers it is (Cloud.suppliers), in order,
    # with the order shares of their suppliers
    lines = vendor_lines(list(vendors))
    buyers: dict[str, list[Cloud]] = {v.name: [] for v in vendors}
    shares_of: dict[str, float] = {}
    for cloud in clouds:
        known = cloud.suppliers(lines)
        shares_of[cloud.name] = sum(v.spec.order_share for v in known)
        for vendor in known:
            buyers[vendor.name].append(cloud)
    for d in range(months):
        ordered = min(d - lag, -1)
        for vendor in vendors:
            for cloud in buyers[vendor.name]:
                gpus = min(share * cloud.spec.initial_gpus, fundable[cloud.name])
                units = gpus / months * vendor.spec.order_share / shares_of[cloud.name]
                order = ChipOrder(
                    books.instruments.new_id("order"),
                    cloud.name,
                    vendor.name,
                    units,
                    vendor.path_price(ordered),
                    ordered,
                    d,
                    d + install,
                )
                books.place_order(order)
