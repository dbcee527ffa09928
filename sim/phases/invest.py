"""Phase 4, invest: deals that start this month; labs sign contracts from their projections;
clouds order chips by their investment rule; vendors plan output."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim import mechanisms

if TYPE_CHECKING:
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
    ordered = dict.fromkeys((v.name for v in vendors), 0.0)
    for cloud in active_clouds:
        share = cloud.installed_gpus(t) / capacity
        gpus = cloud.gpus_to_order(t, horizon, share, unit_cost)
        if gpus < 1.0:
            continue
        for vendor in vendors:
            units = cloud.split_order(gpus, vendors)[vendor.name]
            ordered[vendor.name] += units
            mechanisms.place_order(books, cfg, t, cloud, vendor, units)
        month.orders_placed_gpus += gpus
    for vendor in vendors:
        vendor.plan_production(t, ordered[vendor.name])
