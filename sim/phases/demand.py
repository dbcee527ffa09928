"""Phase 1, demand: labs post their service prices, end users choose labs, and the month's
demand is drawn.

Each lab sets its margin over its own marginal cost (``Lab.set_margin``, ``Lab.marginal_cost``);
customers in the consumer and enterprise segments who reconsider this month choose a lab by a
logit on capability and price (``sim.demand.logit_shares``, ``switch_customers``), so a lab that
loses customers loses them to its rivals; the customers a segment gains as it grows choose the
same way (``sim.demand.enter_customers``), and each segment has its own logit (a lab's appeal
there, its ``enterprise_edge``). The enterprise segment grows faster than the consumer path
(``demand.enterprise_growth_premium_per_month``), so its weight in demand rises. Total demand
follows the regime path and rises with the share-weighted capability of the labs
(``competition.capability_demand_elasticity``).
The demand from buyers beyond the labs (``sim.demand.OutsideDemand``) moves along its own path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.demand import (
    capability_spread,
    enter_customers,
    logit_shares,
    opening_enterprise_weight,
    segment_weight,
    switch_customers,
)
from sim.phases import repricing

if TYPE_CHECKING:
    from sim.agents import Lab
    from sim.model import ComputeMarket


def post_prices(world: ComputeMarket, t: int, active: list[Lab]) -> None:
    """Each active lab decides its margin (from the second month) and posts its price over
    its own marginal cost at last month's spot price."""
    spread = capability_spread([lab.capability for lab in active])
    for lab in active:
        contracted = world.books.instruments.contracted_gpus(buyer=lab.name, step=t)
        need = (
            lab.need_gpus
            if t > 0
            else lab.need_at(lab.demand_share * world.reference_inference_gpus, 0)
        )
        if t > 0:
            lab.set_margin(spread)
        lab.price = lab.service_price(lab.marginal_cost(world.spot_price, contracted, need, t))


def choose_labs(world: ComputeMarket, t: int, active: list[Lab]) -> None:
    """Customers who reconsider choose among the active labs by logit; a defaulted lab's
    customers all leave; the shocked lab loses ``shock.revenue_shortfall`` of its customers
    to its rivals in the shock month."""
    choice = dict(
        zip(
            (lab.name for lab in active),
            logit_shares([lab.utility(lab.price) for lab in active]),
            strict=True,
        )
    )
    shock = world.cfg.shock
    if shock.lab and t == shock.month and shock.revenue_shortfall > 0:
        shocked = next(lab for lab in world.labs if lab.name == shock.lab)
        rivals = [lab for lab in active if lab is not shocked]
        if not shocked.defaulted and rivals:
            left = shocked.lose_customers(shock.revenue_shortfall)
            total = sum(choice[lab.name] for lab in rivals) or 1.0
            for lab in rivals:
                for segment, share in left.items():
                    lab.customers[segment] += share * choice[lab.name] / total
    if t == 0:
        return
    growth = world.demand.segment_growth()
    for segment in world.labs[0].segments:
        in_segment = dict(
            zip(
                (lab.name for lab in active),
                logit_shares([lab.utility(lab.price, segment) for lab in active]),
                strict=True,
            )
        )
        bases = [lab.customers[segment] for lab in world.labs]
        reconsider = [1.0 if lab.defaulted else lab.reconsider_rate(segment) for lab in world.labs]
        probs = [in_segment.get(lab.name, 0.0) for lab in world.labs]
        switched = switch_customers(bases, probs, reconsider)
        entered = enter_customers(switched, probs, growth[segment])
        for lab, base in zip(world.labs, entered, strict=True):
            lab.customers[segment] = float(base)


def run(world: ComputeMarket, t: int) -> None:
    """Post prices, let customers choose, draw end-user demand and give each active lab its
    demand, in inference GPUs at its reference price."""
    level = world.demand.level if t == 0 else world.demand.advance(t)
    if t > 0:
        world.outside.advance(t)  # the buyers beyond the labs (draws only if there are any)
    shock = world.cfg.shock
    if shock.lab and t == shock.month:
        world.sentiment *= 1.0 - shock.sentiment_drop
    repricing.run(world, t)  # contracts far above spot repriced before prices are posted
    active = [lab for lab in world.labs if not lab.defaulted]
    if active:
        post_prices(world, t, active)
        choose_labs(world, t, active)
    # the segments' weights: the enterprise segment grows faster than the consumer path
    opening = opening_enterprise_weight(world.cfg.labs, world.cfg.competition.enterprise_share)
    multiple = world.demand.enterprise_multiple
    weight = segment_weight(opening, multiple)
    for lab in world.labs:
        lab.observe_segments({"consumer": 1.0 - weight, "enterprise": weight})
    segments = (1.0 - opening) + opening * multiple  # demand of both segments, × the path
    start = sum(lab.demand_share * lab.spec.capability for lab in world.labs)
    held = sum(lab.share for lab in active)
    capability = sum(lab.share * lab.capability for lab in active) / held if held > 0 else 0.0
    eta = world.cfg.competition.capability_demand_elasticity
    volume = world.reference_inference_gpus * level * segments * (capability / start) ** eta
    for lab in world.labs:
        share = 0.0 if lab.defaulted else lab.share
        lab.share_history.append(share)
        lab.observe_demand(share * volume)
