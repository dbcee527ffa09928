"""Consumer and enterprise segments that grow apart (issue 15): the enterprise segment's
growth premium, labs' opening mix of segments, new customers choosing by logit, and the
enterprise edge of a lab."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.agents import Lab
from sim.config import DemandConfig
from sim.demand import (
    Demand,
    enter_customers,
    enterprise_premium,
    logit_shares,
    opening_customers,
    opening_enterprise_weight,
    segment_weight,
)
from sim.runner import simulate

from .conftest import small_world
from .fakes import FakeMarket


def make_lab(market: FakeMarket, name: str, share: float, **spec: object) -> Lab:
    lab_spec = market.cfg.labs[0].model_copy(update=spec)
    return Lab(market.model, market, name, lab_spec, demand_share=share)


# --- pure functions ---------------------------------------------------------------------
def test_new_customers_choose_by_logit_hand_computed() -> None:
    # a segment that grows 25%: a fifth of its customers are new and choose 0.8 / 0.2
    after = enter_customers([0.5, 0.5], [0.8, 0.2], 0.25)
    assert after == pytest.approx([(0.5 + 0.25 * 0.8) / 1.25, (0.5 + 0.25 * 0.2) / 1.25])
    assert after == pytest.approx([0.56, 0.44])
    # a shrinking segment loses customers in proportion: shares do not move
    assert enter_customers([0.3, 0.7], [1.0, 0.0], -0.1) == pytest.approx([0.3, 0.7])


@settings(max_examples=50, deadline=None)
@given(
    bases=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=5),
    growth=st.floats(-0.5, 2.0),
    utils=st.lists(st.floats(-5.0, 5.0), min_size=5, max_size=5),
)
def test_entry_conserves_customers_and_moves_toward_the_choice(bases, growth, utils) -> None:
    choice = logit_shares(utils[: len(bases)])
    after = enter_customers(bases, choice, growth)
    assert after.sum() == pytest.approx(sum(bases), abs=1e-12)
    total = sum(bases)
    if growth > 0 and total > 0:
        target = choice * total  # every share moves toward the new customers' choice
        gap_before = np.abs(np.asarray(bases) - target)
        assert (np.abs(after - target) <= gap_before + 1e-12).all()


def test_enterprise_premium_fades_and_stops_in_a_bust() -> None:
    cfg = DemandConfig(
        enterprise_growth_premium_per_month=0.1, enterprise_premium_decay_months=10.0
    )
    assert enterprise_premium(0, 1.0, cfg) == pytest.approx(0.1)
    assert enterprise_premium(10, 1.0, cfg) == pytest.approx(0.1 / math.e)
    bust = cfg.model_copy(update={"regime": "bust", "bust_month": 5})
    assert enterprise_premium(4, 1.0, bust) > 0
    assert enterprise_premium(5, 1.0, bust) == 0.0
    plateau = cfg.model_copy(update={"regime": "plateau", "plateau_multiple": 4.0})
    assert enterprise_premium(0, 3.0, plateau) == pytest.approx(0.1 * 0.25)
    assert enterprise_premium(0, 1.0, DemandConfig()) == 0.0  # default: segments alike


def test_demand_grows_the_enterprise_segment_faster() -> None:
    cfg = DemandConfig(enterprise_growth_premium_per_month=0.1, noise_sd=0.0)
    demand = Demand(cfg, np.random.default_rng(0))
    demand.advance(1)
    growth = demand.segment_growth()
    assert growth["consumer"] == pytest.approx(cfg.growth_start_per_month)
    assert growth["enterprise"] == pytest.approx(1.12 * 1.1 - 1.0)
    # a segment that opened at 40% and grew 1.1 times as much as the other now weighs
    assert segment_weight(0.4, 1.1) == pytest.approx(0.44 / (0.6 + 0.44))


def test_opening_customers_reproduce_each_labs_demand_share() -> None:
    cfg = small_world(
        **{"labs.lab-a.enterprise_revenue_share": 0.3, "labs.lab-b.enterprise_revenue_share": 0.9}
    )
    w = opening_enterprise_weight(cfg.labs, cfg.competition.enterprise_share)
    assert w == pytest.approx(0.7 * 0.3 + 0.3 * 0.9)  # 0.48
    a = opening_customers(0.7, 0.3, w)
    b = opening_customers(0.3, 0.9, w)
    for c, d in ((a, 0.7), (b, 0.3)):
        assert (1 - w) * c["consumer"] + w * c["enterprise"] == pytest.approx(d)
    assert a["enterprise"] + b["enterprise"] == pytest.approx(1.0)
    assert a["consumer"] + b["consumer"] == pytest.approx(1.0)
    assert b["enterprise"] == pytest.approx(0.27 / 0.48)


# --- the agent ----------------------------------------------------------------------------
def test_segment_logit_reproduces_opening_shares_and_the_edge_moves_enterprise_only() -> None:
    market = FakeMarket(
        cfg=small_world(
            **{
                "labs.lab-a.enterprise_revenue_share": 0.3,
                "labs.lab-b.enterprise_revenue_share": 0.9,
            }
        )
    )
    a = make_lab(market, "lab-a", 0.7, enterprise_revenue_share=0.3)
    b = make_lab(market, "lab-b", 0.3, enterprise_revenue_share=0.9)
    assert a.share == pytest.approx(0.7)
    assert b.share == pytest.approx(0.3)
    for segment in a.segments:  # Berry: the logit at opening prices gives the opening shares
        s = logit_shares([lab.utility(lab.reference_price, segment) for lab in (a, b)])
        assert s == pytest.approx([a.customers[segment], b.customers[segment]])
    edged = make_lab(market, "lab-b", 0.3, enterprise_revenue_share=0.9, enterprise_edge=1.0)
    p = edged.reference_price
    assert edged.utility(p, "enterprise") == pytest.approx(b.utility(p, "enterprise") + 1.0)
    assert edged.utility(p, "consumer") == pytest.approx(b.utility(p, "consumer"))
    assert edged.utility(p) == pytest.approx(b.utility(p))


def test_a_lab_that_gains_a_segment_gains_appeal_there_by_the_network_weight() -> None:
    """Network externalities (Katz and Shapiro 1985): a lab's appeal to a segment's buyers
    rises by ``network_weight`` × the share of the segment it has gained since the start;
    it loses as much appeal when it loses customers, none in the other segment, and none
    at all with the weight 0."""
    market = FakeMarket(cfg=small_world(**{"competition.network_weight": 2.0}))
    lab = make_lab(market, "lab-a", 0.5, enterprise_revenue_share=0.4)
    p = lab.reference_price
    before = {s: lab.utility(p, s) for s in lab.segments}
    lab.customers["enterprise"] += 0.1
    assert lab.utility(p, "enterprise") == pytest.approx(before["enterprise"] + 2.0 * 0.1)
    assert lab.utility(p, "consumer") == pytest.approx(before["consumer"])
    lab.customers["consumer"] -= 0.2
    assert lab.utility(p, "consumer") == pytest.approx(before["consumer"] - 2.0 * 0.2)
    flat = FakeMarket(cfg=small_world(**{"competition.network_weight": 0.0}))
    other = make_lab(flat, "lab-a", 0.5, enterprise_revenue_share=0.4)
    other.customers["enterprise"] += 0.1
    assert other.network_appeal("enterprise") == 0.0


def test_network_effects_make_a_gaining_lab_gain_faster() -> None:
    """In a world where lab-b's enterprise edge wins it buyers, increasing returns carry it
    further: its share after a year is larger with a network weight than without."""
    base = {"labs.lab-b.enterprise_edge": 1.0}
    without = lab_b_share(**base, **{"competition.network_weight": 0.0})
    with_network = lab_b_share(**base, **{"competition.network_weight": 3.0})
    assert with_network > without


# --- a world --------------------------------------------------------------------------------
def lab_b_share(**overrides: object) -> float:
    tables = simulate(small_world(**{"run.months": 12, **overrides}), 1).tables
    agents = tables["agents"]
    rows = agents[(agents["agent_id"] == "lab-b")].set_index("step")
    return float(rows["market_share"].iloc[-1])


def test_an_enterprise_lab_gains_share_when_enterprise_grows_faster() -> None:
    mix = {"labs.lab-a.enterprise_revenue_share": 0.2, "labs.lab-b.enterprise_revenue_share": 0.9}
    alike = lab_b_share(**mix)
    faster = lab_b_share(**mix, **{"demand.enterprise_growth_premium_per_month": 0.1})
    edged = lab_b_share(
        **mix,
        **{"demand.enterprise_growth_premium_per_month": 0.1, "labs.lab-b.enterprise_edge": 1.5},
    )
    assert faster > alike + 0.05  # its segment now weighs more
    assert edged > faster + 0.02  # and new enterprise customers prefer it
