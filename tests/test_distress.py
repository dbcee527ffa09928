"""Issue 13, distress: covenants tested every month, lenders' decisions, causes of default,
contagion attribution, estates shared by seniority."""

from __future__ import annotations

import math

import mesa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import distress, mechanisms, price_impact
from sim.agents import Cloud, Investor, Vintage
from sim.books import OPERATIONS
from sim.clearing import (
    by_seniority,
    clearing_vector,
    estate_waterfall,
    priority_clearing_vector,
)
from sim.config import load_scenario
from sim.distress import CovenantTest
from sim.instruments import BacklogTerms, CapacityContract, ChipOrder
from sim.ledger import Flow, Line
from sim.model import ComputeMarket
from sim.phases import credit
from sim.runner import simulate

from .conftest import ROOT, small_world
from .fakes import FakeMarket
from .test_cascade import SHOCK
from .test_properties import later_round_defaults_without_loss


# --- seniority: a hand-computed estate --------------------------------------------------
def test_estate_waterfall_hand_computed() -> None:
    """A defaulter's GPUs fetch $60 and it has $40 of other cash. It owes a secured lender
    $100, a senior unsecured lender $30, and two trade creditors $50 each.

    The secured lender takes the whole $60 of collateral; its $40 deficiency joins the
    general unsecured claims. The $40 of cash pays the senior unsecured lender its $30; the
    last $10 is shared by the $140 of general unsecured claims: 10 × 40/140 = 2.857 to the
    secured lender's deficiency and 10 × 50/140 = 3.571 to each trade creditor."""
    paid = estate_waterfall(60.0, 40.0, [(0, 100.0), (1, 30.0), (2, 50.0), (2, 50.0)])
    assert paid == pytest.approx([60 + 10 * 40 / 140, 30.0, 10 * 50 / 140, 10 * 50 / 140])
    assert sum(paid) == pytest.approx(100.0)  # the whole estate, no more


def test_collateral_beyond_the_secured_claims_goes_to_the_rest() -> None:
    """$150 of collateral against a $100 secured claim: $50 is left for the $80 of
    unsecured claims (62.5% each); the subordinated claim (rank 3) gets nothing."""
    paid = estate_waterfall(150.0, 0.0, [(0, 100.0), (2, 40.0), (2, 40.0), (3, 10.0)])
    assert paid == pytest.approx([100.0, 25.0, 25.0, 0.0])


def test_absolute_priority_pays_ranks_in_order_and_pro_rata_within() -> None:
    assert by_seniority(50.0, [(1, 40.0), (0, 30.0), (1, 20.0)]) == pytest.approx(
        [40 * 20 / 60, 30.0, 20 * 20 / 60]
    )
    assert by_seniority(0.0, [(0, 10.0)]) == [0.0]
    assert by_seniority(1e3, [(0, 10.0), (5, 1.0)]) == pytest.approx([10.0, 1.0])


def test_estate_claim_of_a_terminated_contract() -> None:
    """$10 a month for 36 more months, undiscounted, is $360 of payments; the claim is capped
    at the greater of 12 months ($120) and 15% of what remains ($54): $120. With 6 months
    left at 10% a year the discounted payments (below one year's) are the claim."""
    assert distress.estate_claim_usd(10.0, 36, 0.0, 12, 0.15) == pytest.approx(120.0)
    r = 1.1 ** (1 / 12) - 1
    assert distress.estate_claim_usd(10.0, 6, 0.10, 12, 0.15) == pytest.approx(
        10 * (1 - (1 + r) ** -6) / r
    )
    assert distress.estate_claim_usd(10.0, 0, 0.10, 12, 0.15) == 0.0
    assert distress.estate_claim_usd(10.0, 100, 0.0, 12, 0.15) == pytest.approx(150.0)


# --- covenants -------------------------------------------------------------------------
def test_breaches_each_covenant() -> None:
    ok = CovenantTest(2.0, 0, 0.5, 10.0, 5.0)
    assert distress.breaches(ok, 3, 1.25) == ()
    assert distress.breaches(CovenantTest(0.5, 3, 0.5, 10.0, 5.0), 3, 1.25) == ("dscr",)
    assert distress.breaches(CovenantTest(0.5, 2, 0.5, 10.0, 5.0), 3, 1.25) == ()
    assert distress.breaches(CovenantTest(2.0, 0, 1.3, 10.0, 5.0), 3, 1.25) == ("ltv",)
    # equity at market value, not only at book value
    assert distress.breaches(CovenantTest(2.0, 0, 0.5, 10.0, -1.0), 3, 1.25) == ("equity",)
    assert distress.breaches(CovenantTest(2.0, 0, 0.5, -1.0, 1.0), 3, 1.25) == ("equity",)
    assert distress.coverage(5.0, 0.0) == math.inf
    assert distress.loan_to_value(10.0, 0.0) == math.inf
    assert distress.loan_to_value(0.0, 0.0) == 0.0


def test_recoveries_compare_calling_with_continuing() -> None:
    # $10 cash and $100 of GPUs: sold at a 50% discount, $60; continuing while burning $2 a
    # month for 12 months, $86; earning $1 a month, $122
    assert distress.liquidation_value(10.0, 100.0, 0.5) == pytest.approx(60.0)
    assert distress.continuation_value(10.0, 100.0, -2.0, 12) == pytest.approx(86.0)
    assert distress.continuation_value(10.0, 100.0, 1.0, 12) == pytest.approx(122.0)
    assert distress.continuation_value(0.0, 10.0, -5.0, 12) == 0.0
    # swap enough debt to bring equity to zero at market value and LTV back to its ceiling
    assert distress.restructure_swap_usd(5.0, -20.0, 100.0, 80.0, 1.0) == pytest.approx(20.0)
    assert distress.restructure_swap_usd(5.0, 5.0, 100.0, 50.0, 1.25) == pytest.approx(37.5)
    assert distress.restructure_swap_usd(5.0, 5.0, 100.0, 90.0, 1.25) == 0.0
    # with a cushion of 10% of the debt: a market-value deficit of $20 swaps 20 + 10 = $30;
    # none when equity is positive (a loan-to-value cure is unchanged)
    assert distress.restructure_swap_usd(5.0, -20.0, 100.0, 80.0, 1.0, 0.1) == pytest.approx(30.0)
    assert distress.restructure_swap_usd(5.0, 5.0, 100.0, 50.0, 1.25, 0.1) == pytest.approx(37.5)


@pytest.fixture
def lender() -> Investor:
    market = FakeMarket()
    spec = market.cfg.investors[0]
    return Investor(mesa.Model(rng=0), market, "bank", spec)


def test_lender_waives_restructures_or_calls_by_what_each_recovers(lender: Investor) -> None:
    # continuing repays the whole loan: a coverage breach is waived ...
    assert lender.respond_to_breach(("dscr",), 100.0, 40.0, 100.0) == "waive"
    # ... but negative equity is never waived: restructured when continuing recovers more
    assert lender.respond_to_breach(("equity",), 100.0, 40.0, 120.0) == "restructure"
    assert lender.respond_to_breach(("ltv",), 100.0, 40.0, 70.0) == "restructure"
    # calling recovers more than continuing (the borrower burns cash faster than the
    # fire-sale discount costs): accelerate
    assert lender.respond_to_breach(("dscr", "equity"), 100.0, 60.0, 50.0) == "accelerate"


def test_a_borrower_that_cannot_pay_its_month_is_restructured_not_waived(
    lender: Investor,
) -> None:
    """A waiver would leave the month's payment missed: a borrower $3.40 short is
    restructured when continuing recovers more than calling, called otherwise; the same
    breach with nothing short is waived."""
    assert lender.respond_to_breach(("ltv",), 100.0, 40.0, 100.0) == "waive"
    assert lender.respond_to_breach(("ltv",), 100.0, 40.0, 100.0, 3.4) == "restructure"
    assert lender.respond_to_breach(("dscr",), 100.0, 60.0, 50.0, 3.4) == "accelerate"


def test_forbearance_puts_the_months_unpaid_principal_back_into_the_loan() -> None:
    """Hand-computed: $1,200 lent over 12 months falls due at $100 a month; deferred, the
    loan is $1,200 again, the borrower owes nothing this month, its debt and the lender's
    loans are back where they were (no cash moves), and an amend-and-extend re-amortises
    the $1,200 over the 11 months left plus the extension. The books balance (audit)."""
    world = ComputeMarket(small_world(), rng=1)
    world.step()
    books = world.books
    cloud, bank = world.clouds[0], world.investors[0]
    books.obligations.close(cloud.name)
    loan = mechanisms.lend(books, 1, bank, cloud, 1_200.0, 0.0, 12).loan
    debt = books.ledger.balance(cloud.name, Line.DEBT)
    cash = cloud.cash, bank.cash
    books.service_loans(2, [loan])
    assert loan.outstanding == pytest.approx(1_100.0)
    assert books.obligations.owed_cents(cloud.name) == 10_000
    assert books.defer_principal(2, loan) == pytest.approx(100.0)
    assert loan.outstanding == pytest.approx(1_200.0)
    assert books.obligations.of(cloud.name) == []
    assert books.ledger.balance(cloud.name, Line.DEBT) == pytest.approx(debt)
    assert (cloud.cash, bank.cash) == cash
    assert books.defer_principal(2, loan) == 0.0  # nothing left to defer
    books.extend_loan(2, loan, 6)
    assert loan.principal_due(3) == pytest.approx(1_200.0 / 17)
    world.audit()


# --- in the model ----------------------------------------------------------------------
def test_every_default_has_a_cause_and_contagion_names_its_sources() -> None:
    result = simulate(small_world(**SHOCK, **{"finance.max_loan_to_backlog": 3.0}), 3)
    events = result.tables["events"]
    defaults = events[events["event"].str.startswith("default")]
    assert len(defaults) > 0
    assert set(defaults["instrument"]) <= {"missed_payment", "covenant", "insolvency", "contagion"}
    for _, row in defaults[defaults["instrument"] == "contagion"].iterrows():
        sources = events[
            (events["event"] == "contagion_loss")
            & (events["step"] == row["step"])
            & (events["creditor"] == row["defaulter"])
        ]
        assert sources["amount_lost"].gt(0).all() and len(sources) > 0


def test_a_negative_equity_borrower_is_tested_the_same_month() -> None:
    """The artefact of issue 13: a cloud with negative equity and no unpaid bill was left
    alone until somebody else defaulted. Now its lenders decide in the month it happens."""
    # no early repayment: at 0.31 the month's spot revenue would repay its whole debt before
    # the covenant test, leaving no lender to decide
    world = small_world(**{"distress.cash_sweep_share": 0.0, "cash.prepayment_share_neocloud": 0.0})
    model = ComputeMarket(world, rng=1, audit=True)
    for _ in range(3):
        model.step()
    neo = model.agent("neo")
    assert model.books.instruments.loans_of(borrower="neo")
    # a loss that leaves it with negative equity and no unpaid bill: it pays out its cash
    # as a cost and its GPUs are written down to nothing (vintage by vintage)
    books, t = model.books, model.month
    books.owe_external(t, "neo", OPERATIONS, neo.cash, Flow.OPERATING_COST)
    books.pay_in_full(t, "neo")
    for vintage in neo.fleet:
        books.write_down_fleet(t, "neo", vintage.book_cents, "test impairment")
        vintage.chip_book_cents = vintage.facility_book_cents = 0
    assert neo.equity < 0
    first = len(model.events)
    model.step()
    rows = [e for e in model.events[first:] if e["defaulter"] == "neo"]
    decisions = {e["event"] for e in rows if str(e["event"]).startswith("covenant_")}
    assert decisions & {"covenant_restructure", "covenant_accelerate"}
    assert all("equity" in str(e["instrument"]) for e in rows if e["event"] in decisions)
    if "covenant_restructure" in decisions:
        assert neo.defaulted or neo.equity >= -0.01


# --- cash behaves like cash ---------------------------------------------------------------
def test_payout_is_a_share_of_realised_profit_within_cash(lender: Investor) -> None:
    market = lender.market
    market.set_cash("bank", 100.0)
    market.equity["bank"] = 500.0
    assert lender.payout(40.0, 0.5) == pytest.approx(20.0)
    assert lender.payout(400.0, 0.5) == pytest.approx(100.0)  # never more than its cash
    assert lender.payout(-10.0, 0.5) == 0.0  # nothing from a loss
    market.equity["bank"] = -1.0
    assert lender.payout(40.0, 0.5) == 0.0  # nor with negative equity
    market.equity["bank"] = 10.0
    assert lender.payout(40.0, 0.5) == pytest.approx(10.0)  # nor beyond its book equity


def test_a_payout_never_takes_book_equity_below_zero() -> None:
    """Baseline seed 5, months 30-46: until MODEL_VERSION 0.50.1 the Oracle-like cloud's
    payouts (its payout ratio and its excess cash) took its book equity below zero after
    the month's covenant test, where it stayed for 11 months (months 34-44) with no
    breach and no decision. A distribution is limited to book equity (capital
    maintenance, :meth:`MarketAgent.distributable_usd`): its month-end equity is never
    negative while it pays out, and it paid out in those months. Since MODEL_VERSION 0.64
    (the AA hyperscalers on bonds) it pays out its excess cash in months 23-33 of seed 2
    (none after month 29 in seed 5), so the check is made there."""
    scenario = load_scenario(ROOT / "experiments" / "baseline.toml")
    result = simulate(scenario, 2, 47)
    agents = result.tables["agents"]
    bbb = agents[agents["agent_id"] == "hyperscaler-bbb"].set_index("step")
    assert (bbb.loc[20:, "equity_usd"] >= -0.01).all()
    events = result.tables["events"]
    paid = events[(events["event"] == "excess_cash_payout") & (events["step"] >= 30)]
    assert (paid["defaulter"] == "hyperscaler-bbb").any()


def test_payouts_deposit_interest_and_the_cash_sweep_in_a_world() -> None:
    """Money still balances (audit) while the vendor and the hyperscaler pay out, every
    party earns interest on its cash, and the neocloud prepays loans from excess cash."""
    result = simulate(
        small_world(**{"run.months": 18, "distress.cash_sweep_share": 0.5}), 2, audit=True
    )
    flows = result.tables["flows"]
    paid = flows[flows["kind"] == "payout"].groupby("payer")["amount"].sum()
    assert paid.get("vendor", 0) > 0 and paid.get("hyper", 0) > 0
    assert paid.get("neo", 0) == 0  # a neocloud pays nothing out (its share is 0)
    interest = flows[flows["kind"] == "deposit_interest"]
    assert interest["amount"].sum() > 0
    principal = flows[(flows["kind"] == "principal") & (flows["payer"] == "neo")]
    assert principal["amount"].sum() > 0


def test_chips_in_the_queue_are_not_borrowed_for(lender: Investor) -> None:
    """A cloud with enough cash for its arrears and buffer borrows nothing for chips that
    wait in the vendor's queue: they are drawn on delivery (delayed draw)."""
    market = FakeMarket()
    cloud = Cloud(mesa.Model(rng=0), market, "neo", market.cfg.clouds[1])
    market.set_cash("neo", 10.0)
    market.backlog["neo"] = 1e12
    market.orders.append(ChipOrder("o1", "neo", "vendor", 1e4, 25_000.0, 0, 0, 2))
    assert cloud.borrowing_wanted(1) == 0.0


# --- fire sales move the price -------------------------------------------------------------
def test_fire_sale_marks_an_overlapping_portfolio_by_hand() -> None:
    """1,000 GPUs are installed. A defaults and sells its 100; B holds 200 and C 300, each
    worth $100 at the undisturbed price. With α = 2 the price falls to exp(−2 × 0.1) =
    0.81873 of it: B loses 20,000 × 0.18127 = $3,625.4 and C $5,438.1 in the same month.

    B owes $12,000 against a borrowing base of half its GPUs' value: LTV 12,000 ÷ 10,000
    = 1.2 before (inside a 1.25 ceiling), 12,000 ÷ 8,187.3 = 1.466 after: A's fire sale
    alone breaches B's covenant. If C then sells its 300 as well, the price is
    exp(−2 × 0.4) = 0.44933 of the undisturbed one."""
    after = price_impact.price_factor(100, 1000, 2.0)
    assert after == pytest.approx(math.exp(-0.2))
    marks = price_impact.marks_after_sale({"b": 20_000.0, "c": 30_000.0}, 1.0, after)
    assert marks == pytest.approx({"b": 3625.3849, "c": 5438.0773}, rel=1e-6)
    base_before, base_after = 0.5 * 20_000, 0.5 * (20_000 - marks["b"])
    assert distress.loan_to_value(12_000, base_before) == pytest.approx(1.2)
    assert distress.loan_to_value(12_000, base_after) == pytest.approx(1.46568, rel=1e-5)
    breached = distress.breaches(
        CovenantTest(2.0, 0, distress.loan_to_value(12_000, base_after), 1.0, 1.0), 3, 1.25
    )
    assert breached == ("ltv",)
    assert price_impact.price_factor(400, 1000, 2.0) == pytest.approx(math.exp(-0.8))
    assert price_impact.price_factor(0, 1000, 2.0) == 1.0


def test_a_defaulters_fire_sale_marks_the_other_clouds_in_the_model() -> None:
    """In a small world where the neocloud defaults and its GPUs are sold while the
    hyperscaler still holds GPUs (the first such seed of 1–20), the hyperscaler gets a
    ``fire_sale_mark`` row that month: what its GPUs lost at the secondary price."""
    overrides = {**SHOCK, "finance.max_loan_to_backlog": 3.0, "distress.fire_sale_impact": 5.0}
    for seed in range(1, 21):
        events = simulate(small_world(**overrides), seed, audit=True).tables["events"]
        sales = events[events["event"] == "fire_sale"]
        if sales.empty:
            continue
        step = sales["step"].iloc[0]
        hyper_out = events["event"].str.startswith("default") & (events["defaulter"] == "hyper")
        marked = (events["event"] == "fire_sale_mark") & (events["step"] == step)
        # the hyperscaler still holds GPUs and the sale moved the price (at 0.31 the first
        # fire sale, seed 5, marks nobody down)
        if not (hyper_out & (events["step"] <= step)).any() and marked.any():
            break
    else:
        pytest.fail("no fire sale in 20 shocked small worlds")
    sale = events[events["event"] == "fire_sale"].iloc[0]
    marks = events[(events["event"] == "fire_sale_mark") & (events["step"] == sale["step"])]
    assert list(marks["defaulter"]) == [sale["defaulter"]]
    assert sale["defaulter"] not in set(marks["creditor"])
    assert (marks["amount_lost"] > 0).all()


# --- the borrower repays early from cash it does not need ------------------------------------
def test_a_cash_rich_borrower_repays_its_dear_debt_and_keeps_its_buffer() -> None:
    """Pecking order: cash beyond the buffer (3 months of costs) repays debt dearer than
    deposits; all of it when the cash beyond an operating buffer covers the whole debt."""
    market = FakeMarket(cfg=small_world(**{"finance.cash_buffer_months": 3.0}))
    cloud = Cloud(mesa.Model(rng=0), market, "neo", market.cfg.clouds[1])
    cloud.costs_usd = 10.0  # of which 4 debt service
    market.set_cash("neo", 100.0)
    market.debt["neo"] = 500.0
    # partial: (100 - 3 × 10) × share
    assert cloud.prepayment_wanted(0.12, 0.04, 1.0, 4.0) == pytest.approx(70.0)
    assert cloud.prepayment_wanted(0.12, 0.04, 0.5, 4.0) == pytest.approx(35.0)
    # debt cheaper than deposits: nothing
    assert cloud.prepayment_wanted(0.03, 0.04, 1.0, 4.0) == 0.0
    # cash beyond 3 months of operating costs (100 - 3 × 6 = 82) covers the debt: all of it
    market.debt["neo"] = 80.0
    assert cloud.prepayment_wanted(0.12, 0.04, 1.0, 4.0) == pytest.approx(80.0)
    market.arrears["neo"] = 5.0  # what it owes now comes first
    assert cloud.prepayment_wanted(0.12, 0.04, 1.0, 4.0) == pytest.approx(65.0)


def test_costs_its_contracts_pay_for_need_no_cash_buffer() -> None:
    """The buffer covers only the costs take-or-pay income does not: with $10 of monthly
    costs and a contract billing 100 GPUs × $0.02 × 730 h × 0.5 = $730 a month take-or-pay
    (over the costs), the cloud keeps no buffer: it repays all $100 of spare cash and
    borrows nothing; at $7.30 a month of contracted income (the contract 100 times
    smaller) its buffer is 3 × (10 − 7.30) = $8.10. Credits paid in shares bring no cash.
    Capacity still being built brings none either: with only 50 of the 100 GPUs online the
    income is half. And the buffer is at least 3 months of debt service ($4 → $12)."""
    cfg = small_world(**{"finance.cash_buffer_months": 3.0})
    market = FakeMarket(cfg=cfg)
    cloud = Cloud(mesa.Model(rng=0), market, "neo", cfg.clouds[1])
    cloud.receive_chips(Vintage(-1, -1, 100.0, 0, 0, 0, 0))
    cloud.costs_usd = 10.0
    market.set_cash("neo", 100.0)
    market.debt["neo"] = 500.0
    hours = cfg.market.hours_per_month
    market.contracts.append(CapacityContract("c", "lab", "neo", 100, 0.02, 0, 60, 0.5))
    assert cloud.contracted_income_usd(0) == pytest.approx(100 * 0.02 * hours * 0.5)
    assert cloud.cash_buffer_usd(10.0) == 0.0
    assert cloud.prepayment_wanted(0.12, 0.04, 1.0, 4.0) == pytest.approx(100.0)
    market.set_cash("neo", 0.0)
    assert cloud.borrowing_wanted(0) == 0.0
    market.debt_service["neo"] = 4.0
    assert cloud.cash_buffer_usd(10.0) == pytest.approx(12.0)
    assert cloud.cash_buffer_usd(10.0, debt_service_reserve=False) == 0.0
    market.debt_service["neo"] = 0.0
    market.contracts[0] = CapacityContract("c", "lab", "neo", 1, 0.02, 0, 60, 0.5)
    assert cloud.cash_buffer_usd(10.0) == pytest.approx(3 * (10 - 0.02 * hours * 0.5))
    market.contracts[0] = CapacityContract("c", "lab", "neo", 100, 0.02, 0, 60, 0.5, in_kind=True)
    assert cloud.cash_buffer_usd(10.0) == pytest.approx(30.0)
    market.contracts[0] = CapacityContract("c", "lab", "neo", 200, 0.02, 0, 60, 0.5)
    assert cloud.contracted_income_usd(0) == pytest.approx(100 * 0.02 * hours * 0.5)


def test_neoclouds_repay_from_excess_cash_in_a_world() -> None:
    """In a small world the neocloud repays loans early (principal beyond the schedule)
    and money still balances (audit)."""
    on = simulate(small_world(**{"run.months": 18}), 2, audit=True).tables["flows"]
    off = simulate(
        small_world(**{"run.months": 18, "cash.prepayment_share_neocloud": 0.0}), 2, audit=True
    ).tables["flows"]

    def principal(flows):  # type: ignore[no-untyped-def]
        return flows[(flows["kind"] == "principal") & (flows["payer"] == "neo")]["amount"].sum()

    assert principal(on) > principal(off)


# --- credit priced by the borrower -----------------------------------------------------------
def test_spread_rises_with_leverage_and_concentration(lender: Investor) -> None:
    cfg = lender.market.cfg.distress
    base = lender.loan_rate(0.10, 1.0)
    assert base == pytest.approx(0.10)
    # below the leverage-free level only concentration is priced
    low = lender.loan_rate(0.10, 1.0, leverage=cfg.leverage_spread_free, concentration=0.0)
    assert low == pytest.approx(0.10)
    lev = lender.loan_rate(0.10, 1.0, leverage=cfg.leverage_spread_free + 0.5)
    assert lev == pytest.approx(0.10 + 0.5 * cfg.leverage_spread)
    one_customer = lender.loan_rate(0.10, 1.0, leverage=0.0, concentration=1.0)
    four_equal = lender.loan_rate(0.10, 1.0, leverage=0.0, concentration=0.25)
    assert one_customer - 0.10 == pytest.approx(cfg.concentration_spread)
    assert 0.10 < four_equal < one_customer
    assert distress.herfindahl([1.0, 1.0, 1.0, 1.0]) == pytest.approx(0.25)
    assert distress.herfindahl([3.0]) == 1.0 and distress.herfindahl([]) == 0.0


def test_backlog_from_a_cash_burning_buyer_counts_for_less() -> None:
    # a buyer that makes money: all of it
    assert distress.backlog_weight(0.0, 0.0, 48, 0.5) == 1.0
    # 12 months of runway on a 48-month contract: 0.5 + 0.5 × 12/48
    assert distress.backlog_weight(120.0, 10.0, 48, 0.5) == pytest.approx(0.625)
    # runway beyond the contract: all of it
    assert distress.backlog_weight(1000.0, 10.0, 48, 0.5) == 1.0
    # no cash: the floor
    assert distress.backlog_weight(0.0, 10.0, 48, 0.5) == 0.5


finite = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 5),  # the buyer
            st.integers(1, 120),  # months left
            st.floats(min_value=1e-3, max_value=1e12, allow_nan=False),  # the value
        ),
        min_size=1,
        max_size=30,
    ),
    positions=st.lists(
        st.tuples(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), finite),
        min_size=6,
        max_size=6,
    ),
    floor=st.floats(min_value=0.0, max_value=1.0),
)
def test_weighted_backlog_is_the_scalar_rule_contract_by_contract(
    rows: list[tuple[int, int, float]], positions: list[tuple[float, float]], floor: float
) -> None:
    """The lenders' scan of a seller's contracts (:func:`credit._weighted_backlog`, each
    buyer's runway worked out once) gives, bit for bit, each contract's value × the scalar
    rule :func:`distress.backlog_weight` of its buyer, added one by one in contract order —
    buyers that burn cash or not, runways short of the term or beyond it."""
    buyers = [f"lab-{i}" for i, _, _ in rows]
    first: dict[str, int] = {}
    index = [first.setdefault(b, len(first)) for b in buyers]
    terms = BacklogTerms(
        buyers, [m for _, m, _ in rows], [v for _, _, v in rows], list(first), index
    )
    position = {b: positions[int(b.split("-")[1])] for b in first}
    expected = 0.0
    for buyer, months, value in zip(buyers, terms.months_left, terms.values, strict=True):
        cash, burn = position[buyer]
        expected += value * distress.backlog_weight(cash, burn, months, floor)
    assert credit._weighted_backlog(terms, position, floor) == expected


def test_collateral_backlog_equals_the_contract_by_contract_sum_exactly() -> None:
    """The month's backlog arrays give the running total of the contract-by-contract rule
    (each remaining take-or-pay value × its buyer's weight, in contract order), exactly, and
    follow a contract signed in the month."""
    model = ComputeMarket(small_world(), rng=1)
    for _ in range(6):
        model.step()
    t, hours = model.month, model.cfg.market.hours_per_month
    floor = model.cfg.distress.backlog_weight_floor

    def by_hand(seller: str) -> float:
        total = 0.0
        for c in model.books.instruments.contracts_of(seller):
            months = c.end - max(t, c.start)
            if c.seller == seller and months > 0 and c.remaining_value(t, hours) > 0:
                cash, burn = credit.buyer_position(model, c.buyer)
                assert cash == model.agent(c.buyer).cash
                weight = distress.backlog_weight(cash, burn, months, floor)
                total += c.remaining_value(t, hours) * weight
        return total

    before = credit.collateral_backlog_usd(model, "neo", t)
    assert before > 0 and before == by_hand("neo")
    lab = model.labs[0].name
    model.books.sign(t, CapacityContract("c-new", lab, "neo", 100.0, 2.0, t, 24, 0.8))
    after = credit.collateral_backlog_usd(model, "neo", t)
    assert after > before and after == by_hand("neo")


def test_kept_concentration_follows_the_contracts() -> None:
    """A lender's concentration measure is kept while the seller's backlog amounts by buyer
    are the same object, and follows a contract signed: before and after, it is the
    Herfindahl index of a fresh computation, and the contract (with a buyer the seller had
    none with) changes it."""
    model = ComputeMarket(small_world(), rng=1)
    for _ in range(4):
        model.step()
    t, hours = model.month, model.cfg.market.hours_per_month
    book = model.books.instruments

    def fresh(seller: str) -> float:
        return distress.herfindahl(list(book.backlog_amounts(seller, t, hours).values()))

    before = credit.credit_profile(model, "neo", t)[1]
    assert before > 0 and before == fresh("neo")
    assert credit.credit_profile(model, "neo", t)[1] == before  # kept
    assert book.backlog_amounts("neo", t, hours) is book.backlog_amounts("neo", t, hours)
    buyer = next(c.name for c in model.clouds if c.name != "neo")
    model.books.sign(t, CapacityContract("c-new", buyer, "neo", 1e5, 2.0, t, 24, 0.8))
    after = credit.credit_profile(model, "neo", t)[1]
    assert after == fresh("neo") and after != before


def test_borrowing_base_counts_backlog_by_buyer_quality_in_a_world() -> None:
    """The neocloud's collateral backlog is below its backlog when its buyer (a lab) burns
    cash, and equals it when the floor is 1."""
    model = ComputeMarket(small_world(), rng=1)
    for _ in range(6):
        model.step()
    t = model.month
    backlog = model.backlog_usd("neo", t)
    assert backlog > 0
    lab = model.labs[0]
    assert lab.monthly_burn() > 0, "the lab must burn cash for this test"
    assert model.collateral_backlog_usd("neo", t) < backlog
    full = ComputeMarket(small_world(**{"distress.backlog_weight_floor": 1.0}), rng=1)
    for _ in range(6):
        full.step()
    assert full.collateral_backlog_usd("neo", t) == pytest.approx(full.backlog_usd("neo", t))


# --- seniority in the month's clearing ----------------------------------------------------------
def test_priority_clearing_hand_computed() -> None:
    """A (cash 80) owes its secured lender S 60, its senior unsecured lender U 30 and a trade
    creditor T 40; T (cash 10) owes W 30. By seniority A pays S 60, U 20, T 0 (Eisenberg–Noe
    pro rata would pay T 80 × 40/130 = 24.6, enough for T to pay W in full); T then pays its
    10 and defaults in the second wave — because of A, by 30 - 10 = 20 short."""
    A, S, U, T, W = range(5)
    L = np.zeros((3, 5, 5))
    L[0, A, S], L[1, A, U], L[2, A, T], L[2, T, W] = 60.0, 30.0, 40.0, 30.0
    cash = np.array([80.0, 0.0, 0.0, 10.0, 0.0])
    result = priority_clearing_vector(L, cash)
    assert result.payment_matrix[A, S] == pytest.approx(60.0)
    assert result.payment_matrix[A, U] == pytest.approx(20.0)
    assert result.payment_matrix[A, T] == pytest.approx(0.0)
    assert result.payments[T] == pytest.approx(10.0)
    assert result.waves == [[A], [T]]
    # pro rata (one rank): T is paid 24.6 and pays W in full
    flat = clearing_vector(L.sum(axis=0), cash)
    assert flat.payment_matrix[A, T] == pytest.approx(80 * 40 / 130)
    assert not flat.defaulted[T]
    # default costs (Rogers–Veraart): A keeps alpha = 0.5 of its cash for its creditors
    costly = priority_clearing_vector(L, cash, alpha=0.5)
    assert costly.payment_matrix[A, S] == pytest.approx(40.0)
    assert costly.payment_matrix[A, U] == pytest.approx(0.0)


AMOUNT = st.floats(min_value=0, max_value=100, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=6).flatmap(
        lambda n: st.tuples(
            st.lists(
                st.floats(min_value=0, max_value=100, allow_nan=False),
                min_size=n * n,
                max_size=n * n,
            ),
            st.lists(
                st.floats(min_value=0, max_value=100, allow_nan=False), min_size=n, max_size=n
            ),
        )
    ),
    st.floats(min_value=0.2, max_value=1.0),
)
def test_one_rank_priority_clearing_is_eisenberg_noe(network, alpha) -> None:  # type: ignore[no-untyped-def]
    flat, cash = network
    n = len(cash)
    L = np.array(flat).reshape(n, n)
    np.fill_diagonal(L, 0.0)
    ours = priority_clearing_vector(L[None, :, :], np.array(cash), alpha=alpha, beta=alpha)
    theirs = clearing_vector(L, np.array(cash), alpha=alpha, beta=alpha)
    assert np.allclose(ours.payments, theirs.payments, rtol=1e-7, atol=1e-6)
    assert (ours.defaulted == theirs.defaulted).all()


# --- rescues are decisions -----------------------------------------------------------------
def test_a_partner_rescues_only_when_it_costs_less_than_the_default(lender: Investor) -> None:
    market = lender.market
    market.set_cash("bank", 1000.0)
    market.equity["bank"] = 500.0
    # injection 100 against an avoided loss of 150: yes; of 80: no
    assert lender.joins_rescue(100.0, 150.0, 0.0, 1e9)
    assert not lender.joins_rescue(100.0, 80.0, 0.0, 1e9)
    # a lender whose own instalment is all the shortfall would only be repaid its own money
    assert not lender.joins_rescue(100.0, 1e6, 100.0, 1e9)
    # ... what comes straight back is not at risk: 100 - 60 = 40 < 50 avoided
    assert lender.joins_rescue(100.0, 50.0, 60.0, 1e9)
    # within its budget across months and its spare cash (half of 1000 by default)
    assert not lender.joins_rescue(100.0, 150.0, 0.0, 99.0)
    assert not lender.joins_rescue(600.0, 1e6, 0.0, 1e9)
    market.equity["bank"] = -1.0  # an insolvent party rescues nobody
    assert not lender.joins_rescue(100.0, 150.0, 0.0, 1e9)


def test_the_rescue_budget_is_spent_across_months(lender: Investor) -> None:
    lender.market.equity["bank"] = 1000.0
    budget = lender.rescue_budget_usd()
    assert budget == pytest.approx(lender.market.cfg.cascade.rescue_budget_share * 1000.0)
    lender.rescued_usd = budget / 2
    assert lender.rescue_budget_usd() == pytest.approx(budget / 2)


def test_rescues_in_a_world_cost_less_than_the_losses_they_avoid() -> None:
    """Every rescue in a shocked small world is by a partner with something to lose, and no
    rescuer is only the distressed party's lender repaid with its own money."""
    result = simulate(
        small_world(**SHOCK, **{"cascade.rescue": True, "cascade.rescue_budget_share": 1.0}),
        3,
        audit=True,
    )
    events = result.tables["events"]
    rescues = events[events["event"] == "rescue"]
    assert len(rescues) > 0
    assert (rescues["amount_lost"] > 0).all()
    assert (rescues["creditor"] != rescues["defaulter"]).all()


def test_a_chain_of_later_round_defaults_each_lost_money_to_an_earlier_round() -> None:
    """Issue 13's clearing check on a world where it is not vacuous: the connectivity sweep's
    shock with one partner per lab and lenders that call (no going-concern months, no
    fire-sale discount; benchmarks/distress_figures.py LENDERS_CALL). Seed 2010 at
    MODEL_VERSION 0.64.0: the three small neoclouds default in round 2; every default in
    round ≥ 2 carries a loss from an earlier-round defaulter of the same month. At 0.64.0
    10 of seeds 2000-2015 reach round 2, 2007 round 3, and the Oracle-like cloud defaults in
    round 2 in 6 of them; seed 2005, the seed until then, reaches round 1 only. At 0.60.1
    seed 2005's three small neoclouds defaulted in round 2 of month 20. (At 0.60.1 10 of
    seeds 2000-2015 reached round 2, 2000 round 4, 2002 round 3; at 0.60.0
    seed 2005 reached round 1 only. At 0.49.0 10 of seeds 2000-2015 reached round 2,
    2000-2002 round 3, seed 2005 in month 19. Seed 2010 gave round 2
    at 0.43-0.44, seed 2005 at 0.31 to 0.37, seed 2002 at 0.38.1, seed 2008 at 0.40.1, seed
    2011 at 0.25.)"""
    scenario = load_scenario(ROOT / "experiments" / "baseline.toml").with_overrides(
        {
            "shock.lab": "frontier-leader",
            "shock.month": 12,
            "shock.revenue_shortfall": 0.8,
            "shock.sentiment_drop": 0.5,
            "network.partners_per_lab": 1,
            "distress.continuation_horizon_months": 0,
            "cascade.fire_sale_discount": 0.0,
        }
    )
    events = simulate(scenario, 2010, 30).tables["events"]
    defaults = events[events["event"].str.startswith("default")]
    assert defaults["round"].max() >= 2
    assert later_round_defaults_without_loss(events) == []
    losses = events[(events["event"] == "contagion_loss") & (events["amount_lost"] > 0)]
    assert set(defaults.loc[defaults["round"] >= 2, "defaulter"]) <= set(losses["creditor"])


# --- clouds plan on the credit lenders offer and pay out what they do not need ---------------
def test_funding_counts_credit_only_up_to_what_lenders_offer_a_month() -> None:
    """``Cloud.funding_capacity`` adds its borrowing headroom, but no more than a syndicate
    lends this month: with the offer at 0 it plans on no credit, at half its headroom on
    half, and with no limit on all of its headroom."""
    market = FakeMarket(cfg=small_world())
    cloud = Cloud(mesa.Model(rng=0), market, "neo", market.cfg.clouds[1])
    market.set_cash("neo", 100.0)
    market.balances[("neo", Line.FLEET)] = 1_000.0  # GPUs it could borrow against, USD
    headroom = cloud.borrowing_headroom(0)
    assert headroom > 0
    market.credit_offered = 0.0
    none = cloud.funding_capacity(0)
    market.credit_offered = headroom / 2
    assert cloud.funding_capacity(0) - none == pytest.approx(headroom / 2)
    market.credit_offered = math.inf
    assert cloud.funding_capacity(0) - none == pytest.approx(headroom)


def test_payout_keeps_the_cash_the_firm_needs() -> None:
    """Half of a $100 profit is $50 to pay out from $100 of cash; keeping $80 for committed
    bills leaves $20 to pay out, keeping $120 nothing."""
    market = FakeMarket(cfg=small_world())
    cloud = Cloud(mesa.Model(rng=0), market, "neo", market.cfg.clouds[1])
    market.set_cash("neo", 100.0)
    market.equity["neo"] = 100.0
    assert cloud.payout(100.0, 0.5) == pytest.approx(50.0)
    assert cloud.payout(100.0, 0.5, keep_usd=80.0) == pytest.approx(20.0)
    assert cloud.payout(100.0, 0.5, keep_usd=120.0) == 0.0


def test_a_cloud_keeps_its_buffer_and_the_cash_its_ordered_chips_need_from_a_payout() -> None:
    """A cloud with $10/month of costs no buyer is bound to pay and no debt keeps
    ``cash_buffer_months`` × $10; 100 undelivered GPUs at $30,000 plus the fake market's
    $10,000 of facility each, due in month 6 and no other income, add their $4M
    (Cloud.capex_shortfall_usd; until 0.38 a build lag's share of it, $333k)."""
    market = FakeMarket(cfg=small_world())
    cloud = Cloud(mesa.Model(rng=0), market, "neo", market.cfg.clouds[1])
    cloud.record_costs(10.0)
    months = market.cfg.finance.cash_buffer_months
    assert cloud.cash_to_keep_usd() == pytest.approx(months * 10.0)
    market.orders.append(ChipOrder("o", "neo", "v", 100, 30_000, 0, 6, 18))
    assert market.cfg.clouds[1].other_business_income_usd_per_month == 0.0
    assert cloud.cash_to_keep_usd() == pytest.approx(months * 10.0 + 100 * 40_000)


def test_the_flight_to_quality_cuts_a_safe_borrowers_credit_less() -> None:
    """Sentiment 0.1 (a crash): a debt-free borrower sees 1.0, one at half the safe leverage
    0.55, one at or above it the market's 0.1; in a boom everybody sees the market's."""
    assert distress.lending_sentiment(0.1, 0.0, 0.4) == pytest.approx(1.0)
    assert distress.lending_sentiment(0.1, 0.2, 0.4) == pytest.approx(0.55)
    assert distress.lending_sentiment(0.1, 0.4, 0.4) == pytest.approx(0.1)
    assert distress.lending_sentiment(0.1, 0.9, 0.4) == pytest.approx(0.1)
    assert distress.lending_sentiment(1.3, 0.0, 0.4) == pytest.approx(1.3)
    assert distress.lending_sentiment(0.1, 0.0, 0.0) == pytest.approx(0.1)  # rule off


@given(
    sentiment=st.floats(0.0, 2.0),
    low=st.floats(0.0, 1.0),
    high=st.floats(0.0, 1.0),
    safe=st.floats(0.0, 1.0),
)
def test_lending_sentiment_never_rises_with_leverage_and_stays_between_market_and_one(
    sentiment: float, low: float, high: float, safe: float
) -> None:
    low, high = min(low, high), max(low, high)
    a = distress.lending_sentiment(sentiment, low, safe)
    b = distress.lending_sentiment(sentiment, high, safe)
    assert b <= a + 1e-12
    assert min(sentiment, 1.0) - 1e-12 <= b <= max(sentiment, 1.0) + 1e-12


def test_a_debt_free_cloud_keeps_its_lenders_in_a_crash() -> None:
    """In a world whose sentiment crashed to 0.1, lenders apply full sentiment to a cloud
    without debt: the biggest lender offers it ten times what it offers at the market's
    sentiment (appetite ∝ sentiment)."""
    model = ComputeMarket(small_world(), rng=1)
    model.step()
    model.sentiment = 0.1
    assert model.books.instruments.debt_usd("hyper") == 0
    safe = credit.lending_sentiment_for(model, "hyper")
    assert safe == pytest.approx(1.0)
    lender = max(model.investors, key=lambda i: i.loan_budget(1.0))
    # the next month's budgets, before anything is lent (at 0.64 the bank lent $0.7B in the
    # first month, more than its whole appetite at sentiment 0.1)
    lender.start_month()
    assert lender.loan_budget(safe) > 5 * lender.loan_budget(model.sentiment) > 0


# --- credit rationing: the month's requests together (dist8) -----------------------------
def test_uniform_rationing_hand_computed() -> None:
    """$3 to share over requests of $10, $0.2, $0.2 and $5, equal scores: the two small
    requests are met in full ($0.4), the two large share the rest equally ($1.3 each: the
    common level λ solves 0.4 + 2λ = 3). Proportional shares pro rata ($3 × r / 15.4);
    first come serves the first request only."""
    claims = [10.0, 0.2, 0.2, 5.0]
    np.testing.assert_allclose(distress.ration(claims, [1, 1, 1, 1], 3.0), [1.3, 0.2, 0.2, 1.3])
    np.testing.assert_allclose(
        distress.ration(claims, [1, 1, 1, 1], 3.0, "proportional"),
        [3 * r / 15.4 for r in claims],
    )
    np.testing.assert_allclose(
        distress.ration(claims, [1, 1, 1, 1], 3.0, "first_come"), [3.0, 0, 0, 0]
    )
    # a lender's score halves a borrower's level: 0.2 + 0.2 + λ + λ/2 = 3 → λ = 1.7333
    np.testing.assert_allclose(
        distress.ration(claims, [1, 1, 1, 0.5], 3.0), [2.6 / 1.5, 0.2, 0.2, 1.3 / 1.5]
    )
    # enough for everybody: everybody gets its claim, under every rule
    for rule in ("uniform", "proportional", "first_come"):
        np.testing.assert_allclose(distress.ration(claims, [1, 1, 1, 1], 20.0, rule), claims)


@settings(max_examples=200, deadline=None)
@given(
    claims=st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e3)), min_size=1, max_size=8),
    scores=st.lists(st.floats(0.05, 2.0), min_size=8, max_size=8),
    share=st.floats(0.0, 1.2),
    rule=st.sampled_from(["uniform", "proportional", "first_come"]),
)
def test_rationing_never_lends_more_than_asked_or_the_budget(
    claims: list[float], scores: list[float], share: float, rule: str
) -> None:
    """Whatever the rule: no award above its claim or below zero; the awards spend the
    budget or meet every claim; under the uniform rule every claim at or below the smallest
    award-to-score level of a rationed borrower is met in full (small needs come first)."""
    weights = scores[: len(claims)]
    budget = share * sum(claims)
    awards = distress.ration(claims, weights, budget, rule)
    want = np.array(claims)
    assert (awards >= -1e-9).all() and (awards <= want + 1e-6).all()
    assert awards.sum() == pytest.approx(min(budget, want.sum()), rel=1e-6, abs=1e-6)
    if rule == "uniform":
        short = awards < want - 1e-6
        if short.any():
            level = (awards / np.array(weights))[short]
            # the rationed all sit at one level, and nobody above it is served in full
            assert level.max() == pytest.approx(level.min(), rel=1e-6)
            full = ~short & (want > 0)
            assert ((want / np.array(weights))[full] <= level.min() * (1 + 1e-6) + 1e-6).all()


def test_a_lender_rations_its_budget_by_its_rule() -> None:
    """The lender's decision alone (a fake market): with $1B of budget and requests of $5B
    from a large borrower and $0.1B from a small one, it meets the small liquidity need in
    full and lends the large one the rest; under ``first_come`` with the large borrower
    first, the small one gets nothing (the starvation of visiting order)."""
    market = FakeMarket()
    lender = Investor(market.model, market, "bank", market.cfg.investors[1])
    awards = lender.ration_credit([5e9, 0.1e9], [1.0, 1.0], 1e9)
    np.testing.assert_allclose(awards, [0.9e9, 0.1e9])
    market.cfg = market.cfg.with_overrides({"credit_rationing.rule": "first_come"})
    lender = Investor(market.model, market, "bank", market.cfg.investors[1])
    np.testing.assert_allclose(lender.ration_credit([5e9, 0.1e9], [1.0, 1.0], 1e9), [1e9, 0])


def test_the_months_requests_are_lent_together_whatever_the_visiting_order() -> None:
    """In a small world, the hyperscaler asks for far more than the lenders' budgets and the
    neocloud for $50M: the neocloud gets its $50M whether it is visited first or last, the
    hyperscaler the rest of the budgets, and what was not lent is the month's rationed
    credit. Under ``first_come`` with the hyperscaler first, the neocloud gets nothing."""

    def lend(rule: str, reverse: bool) -> tuple[dict[str, float], float, float]:
        world = ComputeMarket(small_world().with_overrides({"credit_rationing.rule": rule}), rng=1)
        for investor in world.investors:
            investor.start_month()
        hyper, neo = world.cloud("hyper"), world.cloud("neo")
        budgets = sum(i.loan_budget(world.sentiment) for i in world.investors)
        requests = [(hyper, 10 * budgets, 60), (neo, 50e6, 60)]
        lent = credit.lend_to_requests(world, 0, requests[::-1] if reverse else requests)
        return lent, budgets, world.month_state.credit_rationed_usd

    for reverse in (False, True):
        lent, budgets, rationed = lend("uniform", reverse)
        assert lent["neo"] == pytest.approx(50e6)
        assert lent["hyper"] == pytest.approx(budgets - 50e6, rel=1e-6)
        assert rationed == pytest.approx(10 * budgets - (budgets - 50e6), rel=1e-6)
    lent, _, _ = lend("first_come", False)
    assert lent.get("neo", 0.0) == 0.0
