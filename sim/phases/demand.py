"""Phase 1, demand: end-user demand is drawn; each active lab's inference need follows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> None:
    """Draw end-user demand and give each active lab its share, in GPUs at the reference
    price (a shocked lab loses ``shock.revenue_shortfall`` of its share: the lost demand goes
    nowhere)."""
    level = world.demand.level if t == 0 else world.demand.advance(t)
    active = [lab for lab in world.labs if not lab.defaulted]
    share_total = sum(lab.demand_share for lab in active) or 1.0
    shock = world.cfg.shock
    if shock.lab and t == shock.month:
        world.sentiment *= 1.0 - shock.sentiment_drop
    for lab in world.labs:
        share = lab.demand_share / share_total if not lab.defaulted else 0.0
        if lab.name == shock.lab and t >= shock.month:
            share *= 1.0 - shock.revenue_shortfall
        lab.observe_demand(share * world.reference_inference_gpus * level)
