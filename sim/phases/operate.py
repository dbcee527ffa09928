"""Phase 2, operate: contracts are served first, the spot market clears the rest; labs serve
end users and earn revenue; compute bills accrue (take-or-pay owed even when unused)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import market
from sim.books import CUSTOMERS
from sim.ledger import Flow

if TYPE_CHECKING:
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> None:
    """Allocate capacity (contracts first, then spot), serve users, accrue compute bills."""
    mcfg = world.cfg.market
    hours = mcfg.hours_per_month
    books = world.books
    labs, clouds = world.labs, world.clouds
    installed = {c.name: c.offered_gpus(t) for c in clouds}
    reserved = {c.name: books.instruments.contracted_gpus(seller=c.name, step=t) for c in clouds}
    availability = {
        n: (min(1.0, installed[n] / reserved[n]) if reserved[n] > 0 else 0.0) for n in installed
    }
    spot_supply = {n: max(0.0, installed[n] - reserved[n]) for n in installed}
    lab_contracts = {lab.name: books.instruments.contracts_of(lab.name, t) for lab in labs}
    available = np.array(
        [sum(c.gpus * availability[c.seller] for c in lab_contracts[lab.name]) for lab in labs]
    )
    need_ref = np.array([lab.need_at(lab.inference_gpus_history[-1], t) for lab in labs])
    supply = sum(spot_supply.values())
    if t > 0:
        target = market.clearing_price(
            need_ref,
            available,
            supply,
            world.reference_price,
            world.cfg.demand.price_elasticity,
            mcfg.price_floor_usd_per_gpu_hour,
            mcfg.price_cap_usd_per_gpu_hour,
        )
        world.spot_price = market.adjust_price(
            world.spot_price,
            target,
            mcfg.price_adjustment_speed,
            mcfg.price_floor_usd_per_gpu_hour,
            mcfg.price_cap_usd_per_gpu_hour,
        )
    response = (world.spot_price / world.reference_price) ** world.cfg.demand.price_elasticity
    need = need_ref * response
    from_contracts = np.minimum(need, available)
    spot_alloc = market.pro_rata(np.maximum(need - available, 0.0), supply)
    for c in clouds:
        c.start_month()
    for k, lab in enumerate(labs):
        inference_need = lab.inference_gpus_history[-1] * response
        used = float(from_contracts[k] + spot_alloc[k])
        revenue = min(inference_need, used) * hours * lab.service_price(world.spot_price)
        lab.record_service(float(need[k]), inference_need, used, revenue)
        books.receive(t, CUSTOMERS, lab.name, lab.revenue_usd, Flow.SERVICE_REVENUE)
        share_used = from_contracts[k] / available[k] if available[k] > 0 else 0.0
        for contract in lab_contracts[lab.name]:
            avail = contract.gpus * availability[contract.seller]
            bill = contract.amount_due(avail * share_used, avail, hours)
            books.bill_contract(t, contract, bill)
            world.cloud(contract.seller).record_use(avail * share_used)
        if spot_alloc[k] > 0:
            for c in clouds:
                gpus = spot_alloc[k] * spot_supply[c.name] / supply
                usd = gpus * hours * world.spot_price
                books.accrue(t, lab.name, c.name, usd, Flow.COMPUTE_DUE, "spot", "spot purchase")
                c.record_use(gpus)
    month = world.month_state
    month.installed_gpus = sum(installed.values())
    month.need_gpus = float(need.sum())
    month.used_gpus = sum(c.used_gpus for c in clouds)
    month.spot_supply_gpus = supply
    month.spot_demand_gpus = float(np.maximum(need - available, 0.0).sum())
    world.deals.on_allocation(world, t)
    total_need = float(need.sum())
    for c in clouds:
        c.observe_market_need(total_need)
    world.price_history.append(world.spot_price)
