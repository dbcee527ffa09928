"""Phase 2, operate: contracts are served first, the spot market clears the rest; labs serve
end users at the prices they posted and earn revenue; idle contracted capacity is resold on
the spot market by its holder; compute bills accrue (take-or-pay owed even when unused);
labs train on the compute they hold and their capabilities move.

Buyers beyond the frontier labs (``world.outside``, the scale issue) want compute at the spot
price too: the hyperscalers serve a share of it in-house from their free capacity
(``Cloud.in_house_gpus``), the rest is bought on the spot market from every seller, pro rata
with the labs' spot purchases; the world pays for both (``Flow.OUTSIDE_COMPUTE``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from sim import market
from sim.books import CUSTOMERS, OUTSIDE_BUYERS
from sim.ledger import Flow

if TYPE_CHECKING:
    from sim.agents import Cloud
    from sim.instruments import CapacityContract
    from sim.model import ComputeMarket

Vector = NDArray[np.float64]


def run(world: ComputeMarket, t: int) -> None:
    """Allocate capacity (contracts first, then spot with resold capacity), serve users,
    accrue compute bills, train."""
    mcfg = world.cfg.market
    hours = mcfg.hours_per_month
    books = world.books
    labs, clouds = world.labs, world.clouds
    installed = {c.name: c.offered_gpus(t) for c in clouds}
    reserved = {c.name: books.instruments.contracted_gpus(seller=c.name, step=t) for c in clouds}
    availability = {
        n: (min(1.0, installed[n] / reserved[n]) if reserved[n] > 0 else 0.0) for n in installed
    }
    # capacity a cloud bought from another cloud (overflow) is part of what it offers, as
    # far as the seller can provide it
    bought = {c.name: books.instruments.purchases_in_force(c.name, t) for c in clouds}
    own_installed = sum(installed.values())
    for c in clouds:
        if bought[c.name]:
            installed[c.name] += sum([k.gpus * availability[k.seller] for k in bought[c.name]])
            if reserved[c.name] > 0:
                availability[c.name] = min(1.0, installed[c.name] / reserved[c.name])
    spot_supply = {n: max(0.0, installed[n] - reserved[n]) for n in installed}
    lab_contracts = {lab.name: books.instruments.contracts_of(lab.name, t) for lab in labs}
    available = np.array(
        [sum([c.gpus * availability[c.seller] for c in lab_contracts[lab.name]]) for lab in labs]
    )
    inference_ref = np.array([lab.inference_gpus_history[-1] for lab in labs])
    need_ref = np.array([lab.need_at(x, t) for lab, x in zip(labs, inference_ref, strict=True)])
    absorb_ref = inference_ref + np.array(
        [
            lab.training_absorbed(n - x)
            for lab, n, x in zip(labs, need_ref, inference_ref, strict=True)
        ]
    )
    contract_price = np.array([lab.contract_price(t) for lab in labs])
    keep = np.array([1.0 - lab.margin for lab in labs])
    reference = np.array([lab.reference_price for lab in labs])
    elasticity = world.cfg.competition.service_price_elasticity  # end users' response
    # a lab whose contracts cover its need even at its contract-price service price
    # serves the marginal user from them; otherwise it buys the margin on spot

    def idle_costs_at(spot: float) -> Vector:
        """What a contracted GPU-hour beyond its need costs each lab when the spot price is
        ``spot`` (``Lab.idle_capacity_cost``: what reselling it would fetch)."""
        pairs = zip(labs, contract_price, strict=True)
        return np.array([lab.idle_capacity_cost(float(p), spot) for lab, p in pairs])

    priced = np.where(contract_price > 0, idle_costs_at(world.spot_price), world.spot_price)
    at_contract = need_ref * (priced / keep / reference) ** elasticity
    long = (available > 0) & (contract_price > 0) & (at_contract <= available)

    any_long = bool(long.any())

    def prices_at(spot: float) -> Vector:
        """Each lab's service price when the spot price is ``spot``: its posted margin over
        its marginal cost (see ``Lab.marginal_cost``)."""
        # a lab long on contracts prices off its idle capacity's cost, read only if one is
        return np.where(long, idle_costs_at(spot) if any_long else 0.0, spot) / keep

    def response_at(spot: float) -> Vector:
        """Multiplier on each lab's demand at its reference price (constant elasticity)."""
        return (prices_at(spot) / reference) ** elasticity

    def offers_at(response: Vector) -> Vector:
        """Idle contracted GPUs each lab offers on spot when demand is ``response`` × ref."""
        idle = np.maximum(available - absorb_ref * response, 0.0)
        return np.array([lab.resale_offer(float(g)) for lab, g in zip(labs, idle, strict=True)])

    cloud_supply = sum(spot_supply.values())
    outside = world.outside

    def excess_at(spot: float) -> float:
        response = response_at(spot)
        wanted = float(np.maximum(need_ref * response - available, 0.0).sum())
        wanted += outside.at_price(spot, world.reference_price)
        return wanted - cloud_supply - float(offers_at(response).sum())

    if t > 0:
        target = market.clearing_price_of(
            excess_at, mcfg.price_floor_usd_per_gpu_hour, mcfg.price_cap_usd_per_gpu_hour
        )
        world.spot_price = market.adjust_price(
            world.spot_price,
            target,
            mcfg.price_adjustment_speed,
            mcfg.price_floor_usd_per_gpu_hour,
            mcfg.price_cap_usd_per_gpu_hour,
        )
    spot = world.spot_price
    response = response_at(spot)
    prices = prices_at(spot)
    need = need_ref * response
    from_contracts = np.minimum(need, available)
    extra_training = np.minimum(
        np.maximum(available - need, 0.0), np.maximum(absorb_ref * response - need, 0.0)
    )
    idle = available - from_contracts - extra_training
    offered = offers_at(response)
    outside_need = outside.at_price(spot, world.reference_price)
    in_house, own_wanted = serve_in_house(world, outside_need, spot_supply)
    spot_left = {n: spot_supply[n] - in_house.get(n, 0.0) for n in spot_supply}
    supply = sum(spot_left.values()) + float(offered.sum())
    spot_wanted = np.maximum(need - available, 0.0)
    outside_spot = max(0.0, outside_need - sum(in_house.values()))
    alloc = market.pro_rata(np.append(spot_wanted, outside_spot), supply)
    spot_alloc, outside_alloc = alloc[:-1], float(alloc[-1])
    resold = offered * (float(alloc.sum()) / supply if supply > 0 else 0.0)
    for c in clouds:
        c.start_month()
    seller_of = {c.name: c for c in clouds}  # world.cloud, read once per name (KeyError else)
    in_order = world.cfg.sourcing.spot_matching == "in_order"
    if in_order:  # who sells to which lab: each seller its share of the labs' purchases
        labs_bought = float(spot_alloc.sum())
        sold = [
            labs_bought * q / supply if supply > 0 else 0.0
            for q in (*(spot_left[c.name] for c in clouds), *offered)
        ]
        trades: list[list[tuple[int, float]]] = [[] for _ in labs]
        for k, j, gpus in market.match_in_order(spot_alloc, sold):
            trades[k].append((j, gpus))
    for k, lab in enumerate(labs):
        inference_need = float(inference_ref[k] * response[k])
        used = float(from_contracts[k] + extra_training[k] + spot_alloc[k])
        revenue = min(inference_need, used) * hours * float(prices[k])
        lab.record_service(float(need[k]), inference_need, used, revenue)
        lab.price = float(prices[k])
        lab.resold_gpus = float(resold[k])
        lab.idle_share = float(idle[k] / available[k]) if available[k] > 0 else 0.0
        books.receive(t, CUSTOMERS, lab.name, lab.revenue_usd, Flow.SERVICE_REVENUE)
        on_contract = from_contracts[k] + extra_training[k] + resold[k]
        # a Python float (the same value): each contract's bill below is then float
        # arithmetic, not numpy scalars' (see sim.instruments)
        share_used = float(on_contract / available[k]) if available[k] > 0 else 0.0
        bills = []
        for contract in lab_contracts[lab.name]:
            seller = contract.seller
            avail = contract.gpus * availability[seller]
            used = avail * share_used
            bills.append((contract, contract.amount_due(used, avail, hours)))
            # Cloud.record_use, inlined (a Python float already; once per contract a month)
            seller_of[seller].used_gpus += used
        books.bill_contracts(t, bills)
        if in_order:
            for j, gpus in trades[k]:
                usd = gpus * hours * spot
                if j < len(clouds):
                    seller = clouds[j]
                    books.accrue(
                        t, lab.name, seller.name, usd, Flow.COMPUTE_DUE, "spot", "spot purchase"
                    )
                    seller.record_use(gpus)
                else:
                    reseller = labs[j - len(clouds)].name
                    books.accrue(t, lab.name, reseller, usd, Flow.COMPUTE_DUE, "resale", "resale")
        elif spot_alloc[k] > 0:  # pro rata: from every seller
            for c in clouds:
                gpus = spot_alloc[k] * spot_left[c.name] / supply
                if gpus == 0:
                    continue  # this cloud sells nothing on spot: no bill, no use
                usd = gpus * hours * spot
                books.accrue(t, lab.name, c.name, usd, Flow.COMPUTE_DUE, "spot", "spot purchase")
                c.record_use(gpus)
            for j, seller in enumerate(labs):
                if offered[j] > 0:
                    usd = spot_alloc[k] * offered[j] / supply * hours * spot
                    books.accrue(
                        t, lab.name, seller.name, usd, Flow.COMPUTE_DUE, "resale", "resale"
                    )
    served = sell_outside(world, t, in_house, outside_alloc, spot_left, offered, supply)
    passed_on = bill_bought_capacity(world, t, bought, availability, seller_of)
    train(world)
    month = world.month_state
    month.installed_gpus = own_installed
    month.need_gpus = float(need.sum()) + outside_need
    month.outside_need_gpus = outside_need
    month.outside_served_gpus = served
    month.in_house_gpus = sum(in_house.values())
    # a GPU one cloud sold to another is used once: the buyer counts it with what it served
    month.used_gpus = sum(c.used_gpus for c in clouds) - passed_on
    month.spot_supply_gpus = supply + month.in_house_gpus
    month.spot_demand_gpus = float(spot_wanted.sum()) + outside_need
    world.deals.on_allocation(world, t)
    total_need = float(need.sum())
    for c in clouds:
        c.observe_market_need(total_need, outside_need - own_wanted)
    world.price_history.append(world.spot_price)


def serve_in_house(
    world: ComputeMarket, outside_need: float, free: dict[str, float]
) -> tuple[dict[str, float], float]:
    """GPUs of the outside demand each hyperscaler serves in-house this month, and the GPUs
    their own workloads wanted: the ``outside.in_house_share`` of ``outside_need`` is the
    hyperscalers' own workloads, shared over them by installed fleet; each observes its own
    need (:meth:`Cloud.observe_own_need`, what it builds for) and runs what it decides on its
    ``free`` (uncontracted) capacity (:meth:`Cloud.in_house_gpus`); what they cannot run
    goes to the spot market."""
    if outside_need <= 0:
        return {}, 0.0
    owners = [c for c in world.clouds if c.runs_own_workloads]
    fleet = {c.name: c.own_workload_weight(world.month) for c in owners}
    total = sum(fleet.values())
    if total <= 0:  # no hyperscaler reports other income: by installed fleet
        fleet = {c.name: c.installed_gpus(world.month) for c in owners}
        total = sum(fleet.values())
    if total <= 0:
        return {}, 0.0
    own = world.cfg.outside.in_house_share * outside_need
    served = {}
    for c in owners:
        wanted = own * fleet[c.name] / total
        c.observe_own_need(wanted)
        served[c.name] = c.in_house_gpus(wanted, max(0.0, free[c.name]))
    return served, own


def sell_outside(
    world: ComputeMarket,
    t: int,
    in_house: dict[str, float],
    bought: float,
    spot_left: dict[str, float],
    offered: Vector,
    supply: float,
) -> float:
    """The buyers beyond the labs pay for what they used at the spot price: the hyperscalers'
    in-house use (their own AI services earn it from the world) and ``bought`` GPUs on spot,
    from each seller (clouds' free capacity, labs' resold capacity) in proportion to what it
    offered. Returns the GPUs served."""
    hours, spot, books = world.cfg.market.hours_per_month, world.spot_price, world.books
    for name, gpus in in_house.items():
        if gpus > 0:
            books.receive(t, OUTSIDE_BUYERS, name, gpus * hours * spot, Flow.OUTSIDE_COMPUTE)
            world.cloud(name).record_use(gpus)
    if bought > 0 and supply > 0:
        for c in world.clouds:
            gpus = bought * spot_left[c.name] / supply
            if gpus > 0:
                books.receive(t, OUTSIDE_BUYERS, c.name, gpus * hours * spot, Flow.OUTSIDE_COMPUTE)
                c.record_use(gpus)
        for j, seller in enumerate(world.labs):
            if offered[j] > 0:
                usd = bought * offered[j] / supply * hours * spot
                books.receive(t, OUTSIDE_BUYERS, seller.name, usd, Flow.OUTSIDE_COMPUTE)
    return sum(in_house.values()) + bought


def bill_bought_capacity(
    world: ComputeMarket,
    t: int,
    bought: dict[str, list[CapacityContract]],
    availability: dict[str, float],
    seller_of: dict[str, Cloud],
) -> float:
    """Bill the contracts clouds hold as buyers: the buyer used its bought capacity in the
    same share as its own (it sells them as one fleet), at least the take-or-pay share.
    Returns the GPUs recorded as used at the sellers (``seller_of``: every cloud by name),
    which the buyers' use already counts."""
    hours = world.cfg.market.hours_per_month
    passed_on = 0.0
    for buyer in world.clouds:
        contracts = bought[buyer.name]
        if not contracts:
            continue
        offered = buyer.offered_gpus(t) + sum([k.gpus * availability[k.seller] for k in contracts])
        share_used = min(1.0, buyer.used_gpus / offered) if offered > 0 else 0.0
        bills = []
        for contract in contracts:
            avail = contract.gpus * availability[contract.seller]
            used = avail * share_used
            bills.append((contract, contract.amount_due(used, avail, hours)))
            # Cloud.record_use, inlined (a Python float already; once per contract a month)
            seller_of[contract.seller].used_gpus += used
            passed_on += used
        world.books.bill_contracts(t, bills)
    return passed_on


def train(world: ComputeMarket) -> None:
    """Labs in business train on the compute they used beyond serving; capabilities move
    (each lab's spill-over reads the leading capability before anyone's month of training)."""
    active = [lab for lab in world.labs if not lab.defaulted]
    if not active:
        return
    leading = max(lab.capability for lab in active)
    for lab in active:
        lab.train(max(lab.used_gpus - lab.served_gpus, 0.0), leading)
