"""Mechanisms that book what agents decided: sign a contract, place an order, sell new
shares, lend. Each takes the agents' answers as arguments and writes through
:class:`~sim.books.Books` (the JMAB pattern: the agent states its requirement or offer, a
mechanism books the match). Phases and deals call these; nothing here decides.
"""

from __future__ import annotations

from typing import NamedTuple

from sim.agents import ChipVendor, Cloud, Investor, Lab, MarketAgent
from sim.books import Books, cents_round
from sim.config import Scenario
from sim.instruments import CapacityContract, ChipOrder, ConvertibleNote, Loan


def sign_contract(
    books: Books,
    cfg: Scenario,
    t: int,
    lab: Lab,
    seller: str,
    gpus: float,
    price: float,
    start: int,
    tag: str = "",
) -> CapacityContract:
    """``lab`` contracts ``gpus`` from ``seller`` at ``price`` USD/GPU-hour from ``start``,
    for the standard term and take-or-pay share; it prepays what it chooses to."""
    mkt = cfg.market
    contract = CapacityContract(
        books.instruments.new_id("contract"),
        lab.name,
        seller,
        gpus,
        price,
        start,
        mkt.contract_term_months,
        mkt.take_or_pay_share,
        signed=t,
    )
    if tag:
        contract.id += f":{tag}"
    books.sign(t, contract, lab.prepayment(contract, t))
    return contract


def commit_capacity(
    books: Books, cfg: Scenario, t: int, lab: Lab, cloud: Cloud, value_usd: float, deal: str
) -> float:
    """A purchase commitment: ``lab`` contracts capacity worth ``value_usd`` from ``cloud``
    (take-or-pay, standard term, the cloud's quoted price). Returns the GPUs contracted."""
    mkt = cfg.market
    price = max(cloud.quote_contract_price(), mkt.price_floor_usd_per_gpu_hour)
    gpus = value_usd / (
        price * mkt.hours_per_month * mkt.contract_term_months * max(mkt.take_or_pay_share, 1e-9)
    )
    sign_contract(books, cfg, t, lab, cloud.name, gpus, price, t + mkt.contract_lead_months, deal)
    return gpus


def place_order(
    books: Books, cfg: Scenario, t: int, cloud: Cloud, vendor: ChipVendor, units: float
) -> ChipOrder:
    """``cloud`` orders ``units`` GPUs from ``vendor`` at today's list price; they arrive
    after the delivery lag and come online after the build lag."""
    tech = cfg.technology
    order = ChipOrder(
        books.instruments.new_id("order"),
        cloud.name,
        vendor.name,
        units,
        vendor.unit_price(t),
        t,
        t + tech.delivery_lag_months,
        t + tech.build_lag_months,
    )
    return books.place_order(order)


def cancel_orders(books: Books, cfg: Scenario, t: int, cloud: Cloud, units: float) -> float:
    """``cloud`` cancels ``units`` GPUs on order, the most recent orders first, paying each
    vendor ``investment.cancellation_fee_share`` of the list value cancelled. Returns the
    units cancelled (at most what is undelivered)."""
    share = cfg.investment.cancellation_fee_share
    left = units
    for order in sorted(
        books.instruments.open_orders(buyer=cloud.name), key=lambda o: (-o.order_step, o.id)
    ):
        if left <= 0:
            break
        cut = min(left, order.undelivered)
        if cut <= 0:
            continue
        books.cancel_order(t, order, cut, cut * order.unit_price_usd * share)
        left -= cut
    return units - left


MIN_PRE_MONEY_SHARE = 0.01
"""A sale into a company worth (nearly) nothing is priced as if it were worth 1% of the
money paid, so it buys at most ≈ 99% of the company (a unit of the formula, not a
parameter: the buyer of a worthless company takes it over)."""


def share_price(value_usd: float, amount_usd: float, shares_outstanding: float) -> float:
    """USD per new share when ``amount_usd`` of new equity is sold by a company worth
    ``value_usd`` (its market value before the sale, the pre-money valuation): the
    pre-money valuation over the shares outstanding, so the buyer owns
    amount ÷ (value + amount) afterwards (standard venture pricing). The one definition for
    rounds, strategic stakes, compute credits paid in shares and rescues. How much a round
    may sell is the round's business (``capital.max_round_dilution``), not the price's."""
    pre_money = max(value_usd, MIN_PRE_MONEY_SHARE * amount_usd, 1.0)
    return pre_money / shares_outstanding


def buy_new_shares(
    books: Books, t: int, buyer: MarketAgent, issuer: MarketAgent, usd: float, instrument: str
) -> None:
    """``buyer`` buys new shares of ``issuer`` for ``usd`` at :func:`share_price`."""
    amount = cents_round(usd)
    if amount < 1.0:
        return
    shares = books.instruments.shares_outstanding[issuer.name]
    price = share_price(issuer.market_value(), amount, shares)
    books.issue_shares(t, buyer.name, issuer.name, amount, price, instrument=instrument)


class Lent(NamedTuple):
    """What :func:`lend` lent: the loan it is in, and the USD of this draw."""

    loan: Loan
    usd: float


def lend(
    books: Books,
    t: int,
    lender: Investor,
    borrower: MarketAgent,
    usd: float,
    rate: float,
    maturity_months: int,
    *,
    kind: str = "loan",
    seniority: int = 0,
    grace_months: int = 0,
) -> Lent:
    """``lender`` lends ``borrower`` up to ``usd`` (at most its cash) at ``rate`` a year;
    ``kind``, ``seniority`` and ``grace_months`` are the loan's terms (venture debt has its
    own). A lender's loans of one kind and rank to one borrower form one facility: a loan
    without a grace period is drawn on the open loan of the same terms if there is one
    (:meth:`Books.draw`: a delayed-draw term loan whose draws share the facility), else it
    is a new loan."""
    amount = min(usd, lender.cash)
    if not grace_months:
        for loan in books.instruments.loans_of(borrower=borrower.name, lender=lender.name):
            if (
                type(loan) is Loan
                and loan.kind == kind
                and loan.seniority == seniority
                and not loan.grace_months
                and loan.outstanding > 0
            ):
                lent = books.draw(t, loan, amount, rate, maturity_months)
                lender.record_loan(lent)
                return Lent(loan, lent)
    loan = Loan(
        books.instruments.new_id("loan"),
        lender.name,
        borrower.name,
        amount,
        rate,
        t,
        maturity_months,
        seniority=seniority,
        grace_months=grace_months,
        kind=kind,
    )
    books.lend(t, loan)
    lender.record_loan(loan.principal)
    return Lent(loan, loan.principal)


def sell_note(
    books: Books,
    t: int,
    lender: Investor,
    lab: Lab,
    usd: float,
    *,
    rate: float,
    maturity_months: int,
    discount: float,
    valuation_cap_usd: float,
    seniority: int,
) -> ConvertibleNote:
    """``lender`` buys a convertible note of ``lab`` for up to ``usd`` (at most its cash) on
    the given terms (:class:`~sim.instruments.ConvertibleNote`); it comes out of the lender's
    equity budget."""
    note = ConvertibleNote(
        books.instruments.new_id("note"),
        lender.name,
        lab.name,
        min(usd, lender.cash),
        rate,
        t,
        maturity_months,
        seniority=seniority,
        discount=discount,
        valuation_cap_usd=valuation_cap_usd,
    )
    books.lend(t, note)
    lender.record_investment(note.principal)
    return note
