"""Issue 16 (supply8): pre-emption sees rivals' contracted backlog, and neoclouds sell the
capacity coming online under overflow contracts to hyperscalers short of it, before spot."""

from __future__ import annotations

import pytest

from sim.agents.cloud import Cloud, Vintage
from sim.instruments import CapacityContract, ChipOrder
from sim.model import ComputeMarket
from sim.phases import invest

from .conftest import small_world
from .fakes import FakeMarket
from .test_agents import flat_tech_market, make_cloud


def online(cloud: Cloud, gpus: float, step: int) -> None:
    """``gpus`` delivered before the run, online from ``step``."""
    cloud.receive_chips(Vintage(-1, step, gpus, 0, 0, 0, 0))


# --- pre-emption counts rivals' announced backlog ------------------------------------------
def test_preemption_counts_the_backlog_rivals_have_sold_and_not_yet_ordered() -> None:
    market = flat_tech_market(**{"investment.preemption_weight": 1.5})
    cloud = make_cloud(market)
    market.orders.append(ChipOrder("r", "rival", "v", 300, 1.0, 0, 6, 12))
    market.unbuilt_backlog = {"rival": 400.0, "hyper": 9_000.0}  # its own does not count
    assert cloud.rivals_pipeline_gpus() == pytest.approx(300 + 400)
    assert cloud.preemptive_gpus(0.25) == pytest.approx(1.5 * 0.25 / 0.75 * (300 + 400))
    # the rule until 0.51: orders and builds only
    before = flat_tech_market(
        **{"investment.preemption_weight": 1.5, "preemption.counts_backlog": False}
    )
    before.orders, before.unbuilt_backlog = market.orders, market.unbuilt_backlog
    assert make_cloud(before).preemptive_gpus(0.25) == pytest.approx(1.5 * 0.25 / 0.75 * 300)


def test_a_rivals_unbuilt_backlog_is_its_peak_contracted_capacity_beyond_its_fleet() -> None:
    """A phased commitment: 100k GPUs from month 4, 100k more from month 16, both to month
    40; the neocloud has 200k installed and nothing coming. Peak contracted is the later
    phase's start, together with the opening contracts still in force then."""
    model = ComputeMarket(small_world(**{"investment.opening_pipeline_share_of_fleet": 0.0}))
    books = model.books
    for k, start in enumerate((4, 16)):
        contract = CapacityContract(f"phase{k}", "lab-a", "neo", 100_000, 2.0, start, 40 - start, 1)
        books.sign(0, contract)
    neo = model.cloud("neo")
    steps = [0, 4, 16]
    peak = max(model.contracted_gpus(seller="neo", step=s) for s in steps)
    expected = max(0.0, peak - neo.installed_gpus(0) - neo.pipeline_gpus(0))
    assert peak >= 200_000  # both phases count at the later start
    assert model.unbuilt_backlog_gpus(exclude="hyper") == pytest.approx(expected)
    assert expected > 0
    assert model.unbuilt_backlog_gpus(exclude="neo") == pytest.approx(
        max(
            0.0,
            max(model.contracted_gpus(seller="hyper", step=s) for s in [0])
            - model.cloud("hyper").installed_gpus(0)
            - model.cloud("hyper").pipeline_gpus(0),
        )
    )


# --- overflow before spot ------------------------------------------------------------------
def test_a_neocloud_offers_what_it_will_have_online_beyond_its_contracts() -> None:
    """96% of 1,000 online by month 6, less 500 contracted: 460; a contract starting in
    month 9 takes 300 more, so over a term that reaches it only 160 are free."""
    market = FakeMarket()
    neo = make_cloud(market, "neo", archetype="neocloud")
    online(neo, 1_000, 0)
    market.contracts.append(CapacityContract("a", "lab-a", "neo", 500, 2.0, 0, 60, 1.0))
    assert neo.spare_for_contract(6, 2) == pytest.approx(0.96 * 1_000 - 500)
    market.contracts.append(CapacityContract("b", "lab-b", "neo", 300, 2.0, 9, 60, 1.0))
    assert neo.spare_for_contract(6, 2) == pytest.approx(460)  # ends before month 9
    assert neo.spare_for_contract(6, 60) == pytest.approx(160)
    online(neo, 500, 9)  # capacity online by then counts
    assert neo.spare_for_contract(6, 60) == pytest.approx(460)
    assert make_cloud(market, "hyper").spare_for_contract(6, 60) == 0.0  # not a neocloud


def test_a_hyperscaler_buys_what_its_rule_wants_online_before_it_can_build_it() -> None:
    """Stock adjustment, no market share, no own workloads: it wants its 1,000 contracted
    GPUs × (1 + 10% reserve) online at the lead; it will have 600 installed and 200
    bought: it is 300 short."""
    market = FakeMarket()
    hyper = make_cloud(
        market,
        investment_rule="stock_adjustment",
        reserve_margin=0.1,
        other_business_income_usd_per_month=0.0,
    )
    online(hyper, 600, 0)
    market.contracts += [
        CapacityContract("sold", "lab-a", "hyper", 1_000, 2.0, 0, 60, 1.0),
        CapacityContract("bought", "hyper", "neo", 200, 2.0, 0, 60, 1.0),
    ]
    assert hyper.capacity_gap_gpus(0, 6, 0.0, 50_000.0) == pytest.approx(1_100 - 800)
    neo = make_cloud(market, "neo", archetype="neocloud")
    assert neo.capacity_gap_gpus(0, 6, 0.0, 50_000.0) == 0.0  # only hyperscalers buy
    off = FakeMarket(cfg=small_world(**{"investment.overflow_buying": False}))
    off.contracts = market.contracts
    hyper_off = make_cloud(off, investment_rule="stock_adjustment")
    online(hyper_off, 600, 0)
    assert hyper_off.capacity_gap_gpus(0, 6, 0.0, 50_000.0) == 0.0


def test_a_neocloud_sells_ahead_to_its_existing_buyer_first() -> None:
    """In a small world at its opening the hyperscaler already buys from the neocloud and a
    lab's large contract leaves it short at the lead: it buys the neocloud's spare, no more
    than its gap."""
    world = small_world(
        **{"labs.*.contract_coverage": 0.3, "investment.exposure_limit_to_funding": 100.0}
    )
    model = ComputeMarket(world, rng=3)
    neo, hyper = model.cloud("neo"), model.cloud("hyper")
    model.books.sign(0, CapacityContract("msa", "hyper", "neo", 10_000, 2.0, 0, 60, 0.9))
    model.spot_price = 4.0  # a price at which the neocloud profits on a contract
    t = model.month
    lead = model.cfg.market.contract_lead_months
    # a lab's large contract from the lead on: more than the hyperscaler can build by then
    model.books.sign(t, CapacityContract("big", "lab-a", "hyper", 1e6, 2.0, t + lead, 60, 1.0))
    capacity = sum(c.installed_gpus(t) for c in model.clouds)
    spare = neo.spare_for_contract(t + lead, model.cfg.overflow.term_months)
    gap = hyper.capacity_gap_gpus(t, lead, hyper.installed_gpus(t) / capacity, 50_000.0)
    before = model.contracted_gpus(buyer="hyper", step=t + lead)
    invest.sell_ahead(model, t, list(model.clouds), capacity, 50_000.0)
    bought = model.contracted_gpus(buyer="hyper", step=t + lead) - before
    assert spare >= 1.0 and gap >= 1.0
    assert bought == pytest.approx(min(spare, gap))
    ahead = [k for k in model.books.instruments.contracts if k.id.endswith(":overflow-ahead")]
    assert all(k.buyer == "hyper" and k.seller == "neo" for k in ahead)


def test_a_commitment_from_month_0_is_in_force_when_the_run_opens() -> None:
    """Signed in month 0 to start in month 0 (the Microsoft–CoreWeave contract of the
    default world): booked before month 0's capacity is allocated and billed in month 0; one
    signed later to start at the lead is not."""
    deals = [
        {
            "name": "opening-overflow",
            "kind": "capacity_commitment",
            "provider": "neo",
            "receiver": "hyper",
            "month": 0,
            "start_month": 0,
            "months": 36,
            "amount_usd": 1e9,
        },
        {
            "name": "later",
            "kind": "capacity_commitment",
            "provider": "neo",
            "receiver": "hyper",
            "month": 0,
            "months": 36,
            "amount_usd": 1e9,
        },
    ]
    world = small_world(  # a price at which the neocloud profits on the contracts
        **{"market.initial_spot_price_usd_per_gpu_hour": 4.0}
    )
    cfg = world.model_validate({**world.model_dump(), "deals": deals})
    model = ComputeMarket(cfg, rng=1)
    opened = [k for k in model.books.instruments.contracts if k.id.endswith(":opening-overflow")]
    assert len(opened) == 1 and opened[0].start == 0
    assert not [k for k in model.books.instruments.contracts if k.id.endswith(":later")]
    model.step()
    later = [k for k in model.books.instruments.contracts if k.id.endswith(":later")]
    assert len(later) == 1 and later[0].start == model.cfg.market.contract_lead_months
    accruals = model.books.ledger.accruals()
    month0 = accruals[(accruals["step"] == 0) & (accruals["instrument"] == opened[0].id)]
    assert month0["amount"].sum() > 0  # billed for month 0


@pytest.mark.parametrize("new_buyers", [False, True])
def test_a_neocloud_sells_ahead_to_a_new_buyer_only_if_it_deals_with_new_buyers(
    new_buyers: bool,
) -> None:
    """No contract between them yet: the neocloud sells ahead to the hyperscaler short of
    capacity only with ``overflow.new_buyers``."""
    world = small_world(
        **{
            "labs.*.contract_coverage": 0.3,
            "investment.exposure_limit_to_funding": 100.0,
            "overflow.new_buyers": new_buyers,
        }
    )
    model = ComputeMarket(world, rng=3)
    model.spot_price = 4.0
    lead = model.cfg.market.contract_lead_months
    model.books.sign(0, CapacityContract("big", "lab-a", "hyper", 1e6, 2.0, lead, 60, 1.0))
    capacity = sum(c.installed_gpus(0) for c in model.clouds)
    invest.sell_ahead(model, 0, list(model.clouds), capacity, 50_000.0)
    bought = model.contracted_gpus(buyer="hyper", step=lead)
    assert (bought > 0) == new_buyers
