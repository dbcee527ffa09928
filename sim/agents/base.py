"""What every agent shares: a name, a view of the market, books it reads, a default flag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import mesa

from sim.agents.view import MarketView
from sim.ledger import Line

Column = Callable[[Any], object]
"""A table column: a function of the agent (see :attr:`MarketAgent.columns`)."""


def _line(line: Line) -> Column:
    return lambda a: a.market.balance(a.name, line)


class MarketAgent(mesa.Agent):
    """A named party with books in the ledger. It reads its books through ``market`` (a
    :class:`MarketView`); it never writes them: it answers role questions, and the world's
    mechanisms book the answers."""

    kind: ClassVar[str] = "agent"
    """The role this class plays (``Lab``, ``Cloud``, ``ChipVendor``, ``Investor``)."""

    columns: ClassVar[dict[str, Column]] = {
        "name": lambda a: a.name,
        "archetype": lambda a: a.archetype,
        "defaulted": lambda a: a.defaulted,
        "cash_usd": lambda a: a.cash,
        "receivables_usd": _line(Line.RECEIVABLES),
        "fleet_usd": _line(Line.FLEET),
        "stakes_usd": _line(Line.STAKES),
        "loans_usd": _line(Line.LOANS),
        "prepaid_usd": _line(Line.PREPAID),
        "payables_usd": _line(Line.PAYABLES),
        "deferred_revenue_usd": _line(Line.DEFERRED_REVENUE),
        "debt_usd": _line(Line.DEBT),
        "paid_in_usd": _line(Line.PAID_IN),
        "retained_usd": _line(Line.RETAINED),
        "equity_usd": lambda a: a.equity,
        "market_value_usd": lambda a: a.market_value(),
    }
    """Columns of the agents table, each a function of the agent; a subclass extends them."""

    def __init__(self, model: mesa.Model, market: MarketView, name: str, archetype: str) -> None:
        super().__init__(model)
        self.market = market
        self.name = name
        self.archetype = archetype
        self.defaulted = False
        self.rescued_usd = 0.0  # new equity put into distressed counterparties so far, USD

    @property
    def cash(self) -> float:
        return self.market.balance(self.name, Line.CASH)

    @property
    def arrears_usd(self) -> float:
        """What this agent owes now and has not paid (payables plus unpaid external costs)."""
        return self.market.arrears_usd(self.name)

    @property
    def equity(self) -> float:
        return self.market.equity_of(self.name)

    def market_value(self) -> float:
        """What holders mark a stake in this party to, USD: its listed market
        capitalisation (clouds and vendors, :func:`sim.valuation.listed_value`) or, before it
        is first priced, book equity (at least 0); 0 once it has defaulted. A lab overrides
        this with its valuation from expectations."""
        if self.defaulted:
            return 0.0
        cap = self.market.market_cap_usd(self.name)
        return max(0.0, self.equity) if cap is None else cap

    def wealth_reinvestment(self, gain_usd: float) -> float:
        """USD of this month's mark-up on its stakes, ``gain_usd``, it adds to its bids in
        labs' next rounds: ``capital.wealth_reinvestment_share`` of a gain, within its cash
        beyond what it owes, 0 with ``capital.wealth_effects`` off (a marginal propensity to
        invest out of capital gains; the seeds' Oracle loop; our own estimate)."""
        cap = self.market.cfg.capital
        if not cap.wealth_effects or self.defaulted or gain_usd <= 0:
            return 0.0
        return max(0.0, min(cap.wealth_reinvestment_share * gain_usd, self.cash - self.arrears_usd))

    def strategic_tranche_usd(self, receiver: MarketAgent, tranche_usd: float) -> float:
        """USD of a strategic stake's tranche (``tranche_usd`` planned this month) this
        provider pays for new shares of ``receiver``: none if the receiver is valued at
        nothing or this provider has defaulted; at most its cash; and at most
        ``capital.max_round_dilution`` of the receiver's post-money valuation, the cap every
        priced round obeys — a "strategic" tranche of $3B into a lab valued at $3B would
        buy half of it in a month, a takeover no strategic investor makes nor any board
        accepts (the NVIDIA–OpenAI letter of intent paid "progressively as each gigawatt is
        deployed", at the valuation of the day: NVIDIA press release, 22 Sep 2025). The
        tranche is priced at the market's valuation, the value of the receiver's expected
        cash flows at the market's required return, so a provider requiring that return
        meets its hurdle at any price the cap allows; an investor with its own hurdle
        overrides this (:meth:`sim.agents.Investor.strategic_tranche_usd`). A tranche not
        paid in its month lapses."""
        valuation = receiver.market_value()
        if self.defaulted or tranche_usd <= 0 or valuation <= 0:
            return 0.0
        dilution = self.market.cfg.capital.max_round_dilution
        most = dilution / (1.0 - dilution) * valuation  # A ÷ (V + A) ≤ dilution
        return max(0.0, min(tranche_usd, self.cash, most))

    def joins_rescue(
        self,
        injection_usd: float,
        avoided_loss_usd: float,
        repaid_to_self_usd: float,
        budget_usd: float,
    ) -> bool:
        """Put ``injection_usd`` of new equity into a distressed counterparty (alone or as
        its share of a consortium)? Only if what it really puts at risk — the injection less
        ``repaid_to_self_usd``, the part that comes straight back to it as the payment of
        what the counterparty owes it now — is positive (a lender never "rescues" its own
        borrower only to be repaid with the same money), smaller than the loss the rescue
        avoids (``avoided_loss_usd``: its exposure × loss given default, plus the margin on
        the sales it would lose, less the part repaid to it anyway), and within what it
        can spare: ``cascade.rescue_max_cash_share`` of its free cash and the
        ``budget_usd`` left of its rescue budget across months. A rescue is worth it to a
        solvent creditor exactly when it costs less than the default it avoids (Rogers and
        Veraart 2013, who show when solvent banks gain from a rescue consortium)."""
        cfg = self.market.cfg.cascade
        if self.defaulted or self.equity <= 0:
            return False
        at_risk = injection_usd - repaid_to_self_usd
        spare = (self.cash - self.arrears_usd) * cfg.rescue_max_cash_share
        return (
            at_risk > 0.01
            and at_risk < avoided_loss_usd
            and injection_usd <= spare
            and injection_usd <= budget_usd
        )

    def rescue_budget_usd(self) -> float:
        """What this party may still put into rescues: ``cascade.rescue_budget_share`` of
        its equity, less what it has put in over earlier months (our own estimate)."""
        cfg = self.market.cfg.cascade
        return max(0.0, cfg.rescue_budget_share * max(0.0, self.equity) - self.rescued_usd)

    def respond_to_breach(
        self,
        breached: tuple[str, ...],
        outstanding_usd: float,
        liquidation_usd: float,
        continuation_usd: float,
        shortfall_usd: float = 0.0,
    ) -> str:
        """What this lender does about a borrower's covenant breach (``breached``: the
        covenants, see :mod:`sim.distress`) on its ``outstanding_usd`` of loans: it compares
        what each option recovers — ``liquidation_usd`` if it calls the loans now (the
        borrower's estate sold at fire-sale prices, shared by seniority), ``continuation_usd``
        if the borrower goes on (its going-concern value, shared the same way).
        ``shortfall_usd`` is what the borrower cannot pay of this month's bills from its cash
        and its committed revolver: a waiver leaves that payment missed and the borrower in
        default at the fire-sale value the lender just judged worse than continuing, so a
        borrower that is short is never waived but restructured (amend and extend, debt for
        equity to the loan-to-value ceiling) when continuing is worth more. Covenant
        violations are renegotiated, not simply forgiven (Chava and Roberts 2008; Roberts
        and Sufi 2009: most private debt is renegotiated before maturity, mostly by
        extension). Until MODEL_VERSION 0.55.1 a lender waived a borrower that could not pay
        its month (telecom bust, a neocloud with positive equity defaulted illiquid in month
        17, before the bust, $3.4M short, the month its lenders had waived its LTV breach).

        Returns ``"waive"`` when continuing recovers the whole loan and the breach is one of
        coverage or loan-to-value only (a borrower with negative equity must be cured, never
        waived); ``"restructure"`` (extend, or swap debt for equity) when continuing recovers
        more than calling; ``"accelerate"`` otherwise. The comparison of liquidation and
        continuation values is the creditor's choice in Gertner and Scharfstein (1991) and
        Bulow and Shoven (1978); the waiver condition is our own estimate."""
        solvent = "equity" not in breached and shortfall_usd < 0.01
        if continuation_usd >= outstanding_usd - 0.01 and solvent:
            return "waive"
        if continuation_usd > liquidation_usd:
            return "restructure"
        return "accelerate"

    def cash_to_keep_usd(self) -> float:
        """USD of cash this firm keeps back from a payout for bills it has already committed
        to; none by default (a cloud keeps its buffer and a month of ordered chips)."""
        return 0.0

    def payout_share(self) -> float:
        """The payout ratio of this firm's archetype (``cash.payout_share_*``); none for a
        party that is not a firm of the model (investors)."""
        return 0.0

    def payout(self, profit_usd: float, payout_share: float, keep_usd: float = 0.0) -> float:
        """USD to pay out to shareholders this month (dividends or buybacks): the target
        share ``payout_share`` of a positive month's ``profit_usd`` (Lintner's 1956 target
        payout ratio, adjusted in full every month), only with positive equity and never
        more than the cash it holds beyond ``keep_usd`` (what it needs for bills it has
        already committed to: our own estimate of a firm's liquidity-first payout), nor more
        than its book equity (:meth:`distributable_usd`)."""
        if self.defaulted or self.equity <= 0 or profit_usd <= 0:
            return 0.0
        return max(
            0.0, min(payout_share * profit_usd, self.cash - keep_usd, self.distributable_usd())
        )

    def distributable_usd(self) -> float:
        """The most this firm may pay out now, USD: its book equity (≥ 0). A distribution
        may not leave the balance sheet insolvent — corporate law's capital maintenance
        (Delaware GCL §§ 160, 170: dividends and buybacks only out of surplus; UK Companies
        Act 2006 s. 830) and the restricted-payments covenants of loan and bond contracts
        (Smith and Warner 1979; Kalay 1982). Until MODEL_VERSION 0.50.1 a hyperscaler's
        payouts could take its equity below zero after the month's covenant test, where it
        stayed for 11 months without a breach (baseline seed 5)."""
        return max(0.0, self.equity)

    def record_default(self, step: int) -> None:
        """This agent has defaulted in month ``step``: it stops trading."""
        self.defaulted = True

    def row(self) -> dict[str, object]:
        """This month's row of the agents table."""
        return {column: value(self) for column, value in self.columns.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
