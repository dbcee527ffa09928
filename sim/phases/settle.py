"""Phase 3, settle: interest, principal, chip invoices and operating costs fall due;
whoever can pay everything pays (repeated to a fixed point); GPUs depreciate and retire."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim import mechanisms
from sim.agents import Cloud, Investor, Vintage
from sim.books import (
    CONTRACTORS,
    DEPOSITORS,
    FOUNDERS,
    FOUNDRIES,
    OPERATIONS,
    OTHER_BUSINESS,
    cents_up,
)
from sim.ledger import CENTS_PER_USD, Flow
from sim.phases import credit

if TYPE_CHECKING:
    from sim.model import ComputeMarket


def run(world: ComputeMarket, t: int) -> None:
    """Debt service, chip deliveries and operating costs fall due; books depreciate; pay."""
    books, cfg = world.books, world.cfg
    hours = cfg.market.hours_per_month
    books.pay_deposit_interest(t, DEPOSITORS, cfg.cash.deposit_rate_per_year)
    for cloud in world.clouds:
        if cloud.spec.other_business_income_usd_per_month > 0:
            books.receive(
                t,
                OTHER_BUSINESS,
                cloud.name,
                cloud.spec.other_business_income_usd_per_month,
                Flow.OTHER_BUSINESS_INCOME,
            )
        if cloud.spec.other_business_capex_usd_per_month > 0 and not cloud.defaulted:
            books.owe_external(
                t,
                cloud.name,
                CONTRACTORS,
                cloud.spec.other_business_capex_usd_per_month,
                Flow.OTHER_BUSINESS_CAPEX,
            )
        opex = cloud.installed_gpus(t) * hours * cfg.technology.operating_cost_usd_per_gpu_hour
        books.owe_external(t, cloud.name, OPERATIONS, opex, Flow.OPERATING_COST)
        cloud.record_costs(opex)
    for inv in world.investors:
        books.receive(t, FOUNDERS, inv.name, inv.spec.inflow_usd_per_month, Flow.FOUNDING_CAPITAL)
        inv.start_month()
    for lab in world.labs:
        if not lab.defaulted:
            books.owe_external(t, lab.name, OPERATIONS, lab.operating_costs(), Flow.OPERATING_COST)
    debt_service(world, t)
    delivered = deliver_chips(world, t)
    for cloud in delivered:
        draw_on_delivery(world, t, cloud)
    for cloud in world.clouds:
        books.write_down_fleet(t, cloud.name, cloud.depreciate(t), "depreciation")
    if cfg.technology.impairment:
        impair(world, t)
    for lab in world.labs:
        lab.record_costs(books.obligations.owed_cents(lab.name) / CENTS_PER_USD)
    world.deals.on_settle(world, t)
    books.settle_what_can_be_paid(t)


def debt_service(world: ComputeMarket, t: int) -> None:
    """Interest and scheduled principal of every active loan fall due."""
    books = world.books
    clouds = {c.name: c for c in world.clouds}
    for loan, interest, principal in books.service_loans(t, books.instruments.loans):
        borrower = clouds.get(loan.borrower)
        if borrower is not None:
            borrower.add_costs(interest + principal)


def deliver_chips(world: ComputeMarket, t: int) -> list[Cloud]:
    """Vendors deliver due orders within their ceilings; invoices and facility bills fall
    due; the GPUs join the buyer's fleet. Returns the clouds that received chips."""
    books, month = world.books, world.month_state
    received: dict[str, Cloud] = {}
    for vendor in world.vendors:
        vendor.start_month()
        for order, units in vendor.schedule_deliveries(
            t, books.instruments.open_orders(vendor=vendor.name)
        ):
            cloud = world.cloud(order.buyer)
            received[cloud.name] = cloud
            invoice = units * order.unit_price_usd
            books.deliver(order, units)
            vendor.record_delivery(units, invoice)
            invoice_cents = books.accrue(
                t, cloud.name, vendor.name, invoice, Flow.CHIP_INVOICE_DUE, order.id, order.kind
            )
            books.owe_external(
                t,
                vendor.name,
                FOUNDRIES,
                vendor.cost_of_goods(units, order.order_step),
                Flow.COST_OF_GOODS,
            )
            world.deals.on_delivery(world, t, order, invoice)
            vintage = Vintage(
                t, max(order.online_step, t), units, invoice_cents, 0, invoice_cents, 0
            )
            cloud.receive_chips(vintage)
            facility = units * world.facility_cost(order.order_step)
            books.owe_external(
                t, cloud.name, CONTRACTORS, facility, Flow.FACILITY_CAPEX, facility=vintage
            )
            month.chip_deliveries_gpus += units
            month.capex_usd += invoice + facility
    return list(received.values())


def draw_on_delivery(world: ComputeMarket, t: int, cloud: Cloud) -> None:
    """A delayed-draw capex facility: when chips arrive, the cloud borrows what its cash
    does not cover of what it now owes (the invoices and facility bills among it), within
    its borrowing headroom, from the syndicate it chooses at the rates its lenders quote —
    capex is borrowed on delivery, not while the order waits in the vendor's queue
    (the delayed-draw term loans of data-centre finance; Moody's 2024)."""
    if cloud.defaulted or not cloud.sells_to_market:
        return
    books = world.books
    short = books.obligations.owed_cents(cloud.name) / CENTS_PER_USD - cloud.cash
    # committed credit is lent whatever the borrowing base is now: the lenders took that
    # risk when they committed (their covenants can still call the loan)
    short -= draw_committed_credit(world, t, cloud, short)
    if short < 1.0:  # nothing to borrow (a syndicate lends nothing below $1)
        return
    credit.lend_from_syndicate(world, t, cloud, min(short, cloud.borrowing_headroom(t)))


def draw_committed_credit(world: ComputeMarket, t: int, cloud: Cloud, amount: float) -> float:
    """Draw up to ``amount`` USD on the credit the cloud's lenders committed when it ordered
    (``phases.invest.arrange_credit``), from each in proportion to its commitment, at the
    rate each quotes now; returns the USD drawn. A draw takes none of the lender's budget
    for the month: the commitment took it."""
    undrawn = cloud.undrawn_credit_usd()
    if undrawn < 1.0 or amount < 1.0:
        return 0.0
    books, maturity = world.books, world.cfg.finance.loan_maturity_months
    share = min(1.0, amount / undrawn)
    drawn = 0.0
    for name, committed in list(cloud.committed_credit.items()):
        lender = world.agent(name)
        usd = min(committed, cents_up(committed * share))  # the parts cover the bills
        if not isinstance(lender, Investor) or usd < 1.0 or lender.defaulted:
            continue
        rate = credit.quote(world, lender, cloud.name, cloud.spec.interest_rate_per_year, t)
        lent = mechanisms.lend(books, t, lender, cloud, usd, rate, maturity).usd
        lender.record_draw(lent)
        cloud.draw_credit(name, lent)
        drawn += lent
    world.month_state.credit_drawn_usd += drawn
    return drawn


def impair(world: ComputeMarket, t: int) -> None:
    """Each cloud writes its fleet down to economic value where it chooses to."""
    month = world.month_state
    for cloud in world.clouds:
        total = cloud.impair(t)
        if total:
            world.books.write_down_fleet(t, cloud.name, total, "impairment")
            month.impairment_usd += total / CENTS_PER_USD
    world.impairment_total_usd += month.impairment_usd
