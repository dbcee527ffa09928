"""Contract repricing (issue 15): at the start of the month, each lab in business asks the
sellers of its capacity contracts to reprice those that cost far more than the spot price
(``Lab.repricing_ask``), and each seller grants a new price by the lab's bargaining power,
its share of the seller's contracted capacity (``Cloud.grants_repricing``); the books record
it (``books.reprice_contract``). A contract is reviewed at most once every
``repricing.interval_months`` from its signing or last repricing. Compute credits (paid in
shares) and contracts between clouds are not repriced. Called by the demand phase before the
labs post their prices, so a repriced contract lowers the lab's marginal cost at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> int:
    """Reprice this month's eligible contracts; returns how many were repriced."""
    cfg = world.cfg.repricing
    if not cfg.enabled or t == 0:
        return 0
    instruments = world.books.instruments
    spot = world.spot_price
    repriced = 0
    for lab in world.labs:
        if lab.defaulted:
            continue
        for contract in instruments.purchases_in_force(lab.name, t):
            if contract.in_kind:
                continue
            last = contract.signed if contract.repriced is None else contract.repriced
            if t - last < cfg.interval_months:
                continue
            ask = lab.repricing_ask(contract.price_usd_per_gpu_hour, spot)
            if ask is None:
                continue
            seller = world.cloud(contract.seller)
            if seller.defaulted:
                continue
            held = instruments.contracted_gpus(seller=seller.name, step=t)
            power = instruments.contracted_gpus(buyer=lab.name, seller=seller.name, step=t)
            share = power / held if held > 0 else 0.0
            price = seller.grants_repricing(contract.price_usd_per_gpu_hour, ask, share)
            if price < contract.price_usd_per_gpu_hour:
                world.books.reprice_contract(t, contract, price)
                repriced += 1
    world.month_state.contracts_repriced = repriced
    return repriced
