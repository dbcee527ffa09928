"""Validated configuration: every parameter with its unit, allowed range and source.

A scenario is a TOML file read with :mod:`tomllib` and validated into :class:`Scenario`.
Every field's ``description`` gives its unit and meaning, and its ``source`` names the row of
``docs/calibration.md`` it comes from, or says "estimate". Bad input (unknown key, wrong
type, out-of-range value, missing file) raises :class:`ConfigError` with a one-paragraph
message naming the field and the allowed values, before any work is done.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.errors import ConfigError  # defined apart so the command line can catch it cheaply

CALIBRATION = "docs/calibration.md"

SHARE_TOLERANCE = 1e-6
"""How far the labs' ``demand_share`` and the vendors' ``order_share`` may sum from 1."""


def param(default: Any, unit: str, source: str, doc: str, **bounds: Any) -> Any:
    """A config field with its unit, its source and its bounds (ge/gt/le/lt).

    Numbers are strict: ``"10e9"`` (a string) or ``true`` is refused where a number is
    expected; an integer is accepted where a float is expected, a float never where an
    integer is.
    """
    number = isinstance(default, (int, float)) and not isinstance(default, bool)
    return Field(
        default,
        description=f"{doc} [{unit}]",
        json_schema_extra={"unit": unit, "source": source},
        **({"strict": True} if number else {}),
        **bounds,
    )


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    def __setstate__(self, state: dict[Any, Any]) -> None:
        """Unpickle as pydantic does, with the field names interned as Python's own
        unpickling interns attribute names. Pydantic's ``__setstate__`` installs the
        unpickled ``__dict__`` as it is, keyed by new copies of the names, so every read of a
        field of a section a worker process received (a sweep's, an ensemble's, a
        calibration's scenario) compared strings instead of finding the same object: a
        default run executed 5% more instructions in every worker of every pool."""
        fields = {sys.intern(name): value for name, value in state.get("__dict__", {}).items()}
        super().__setstate__({**state, "__dict__": fields})


# --------------------------------------------------------------------------------------
# World-level sections
# --------------------------------------------------------------------------------------
class RunConfig(Section):
    start: str = param(
        "2025-01",
        "YYYY-MM",
        "issue 2: default world starts January 2025",
        "first month",
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
    )
    months: int = param(120, "months", "issue 2: 120 months", "length of the run", ge=1, le=600)
    seed: int = param(1, "integer", "estimate", "default random seed", ge=0, le=2**63 - 1)


class DemandConfig(Section):
    regime: Literal["boom", "plateau", "bust"] = param(
        "boom", "choice", "DESIGN §1", "growth path of end-user demand"
    )
    initial_revenue_usd_per_month: float = param(
        0.6e9,
        "USD/month",
        f"{CALIBRATION} Suggested defaults: lab revenue Jan 2025",
        "total lab revenue from end users in the first month at the reference price",
        gt=0,
        le=1e13,
    )
    growth_start_per_month: float = param(
        0.12,
        "1/month",
        f"{CALIBRATION} Suggested defaults: lab revenue growth 12%/month 2025",
        "growth of demand volume in the first month",
        ge=-0.5,
        le=0.5,
    )
    growth_long_run_per_month: float = param(
        0.03,
        "1/month",
        f"{CALIBRATION} Suggested defaults: adoption growth ≈ 3%/month",
        "growth the path decays toward",
        ge=-0.5,
        le=0.5,
    )
    growth_decay_months: float = param(
        16.4,
        "months",
        f"estimate (set to give ≈ 4%/month by 2028, {CALIBRATION} Suggested defaults)",
        "e-folding time of the decay from start to long-run growth",
        gt=0,
        le=600,
    )
    plateau_multiple: float = param(
        30.0,
        "× initial volume",
        "estimate",
        "plateau regime: saturation level of adoption (logistic cap)",
        gt=1,
        le=1e6,
    )
    bust_month: int = param(
        30,
        "months from start",
        "estimate (growth stops mid-2027)",
        "bust regime: month from which demand stops growing",
        ge=0,
        le=600,
    )
    bust_decline_per_month: float = param(
        0.0,
        "1/month",
        "estimate",
        "bust regime: monthly decline of demand after the bust",
        ge=0,
        le=0.5,
    )
    noise_sd: float = param(
        0.03,
        "log-units per month",
        "estimate",
        "standard deviation of the monthly log shock to demand",
        ge=0,
        le=1,
    )
    noise_persistence: float = param(
        0.7,
        "AR(1) coefficient",
        "estimate",
        "persistence of the demand shock",
        ge=0,
        lt=1,
    )
    price_elasticity: float = param(
        -1.0,
        "dimensionless",
        f"{CALIBRATION} Suggested defaults: demand price elasticity",
        "elasticity of compute demand to the compute price",
        ge=-3,
        le=0,
    )
    enterprise_growth_premium_per_month: float = param(
        0.0,
        "1/month",
        "estimate (0 = the segments grow alike; baseline.toml sets the record's: Anthropic's "
        f"run-rate $1B → $9B in 2025, ≈ 80% of it enterprise and API, against OpenAI's ×3.5, "
        f"{CALIBRATION} Labs; token volume ≈ 12.7× a year, OpenRouter; US business adoption "
        "3.7% → 9% → 17–20%, Census BTOS)",
        "extra monthly growth of the enterprise segment's demand (enterprise, API, coding) "
        "over the path the consumer segment follows, in the first month; it fades with "
        "`enterprise_premium_decay_months` (none in a bust from `bust_month`; saturates with "
        "the path in a plateau)",
        ge=0,
        le=0.5,
    )
    enterprise_premium_decay_months: float = param(
        18.0,
        "months",
        "estimate",
        "e-folding time of the enterprise segment's growth premium",
        gt=0,
        le=600,
    )


class MarketConfig(Section):
    hours_per_month: float = param(
        730.0, "hours", "365.25×24/12", "GPU-hours per GPU per month", gt=0, le=744
    )
    initial_spot_price_usd_per_gpu_hour: float = param(
        2.50,
        "USD/GPU-hour",
        f"{CALIBRATION} Suggested defaults: compute price Jan 2025",
        "spot price of an H100-equivalent GPU-hour in the first month",
        ge=0.1,
        le=50,
    )
    price_floor_usd_per_gpu_hour: float = param(
        0.30,
        "USD/GPU-hour",
        f"{CALIBRATION} Suggested defaults: price floor in a glut (cash cost)",
        "lowest spot price: clouds idle capacity rather than sell below cash cost",
        ge=0,
        le=10,
    )
    price_cap_usd_per_gpu_hour: float = param(
        12.0,
        "USD/GPU-hour",
        f"{CALIBRATION} H100 rental price: 2023 peak $8+ (cap above it)",
        "highest spot price: demand beyond it is rationed",
        gt=0,
        le=100,
    )
    price_adjustment_speed: float = param(
        0.5,
        "share per month",
        "estimate",
        "how far the spot price moves toward its market-clearing level each month "
        "(1 = clears at once, the cobweb case)",
        gt=0,
        le=1,
    )
    contract_price_ratio: float = param(
        0.85,
        "× spot",
        f"{CALIBRATION} H100 rental: 1-yr contract $1.70 vs on-demand ≈ $2 (estimate)",
        "price of a new term contract relative to the current spot price",
        gt=0,
        le=2,
    )
    contract_expectation_weight: float = param(
        0.5,
        "share",
        "estimate (adaptive expectations)",
        "weight of the 12-month average spot price, against today's spot price, in the price "
        "of new contracts",
        ge=0,
        le=1,
    )
    contract_term_months: int = param(
        60,
        "months",
        f"{CALIBRATION} Suggested defaults: contract term",
        "term of new contracts",
        ge=1,
        le=240,
    )
    take_or_pay_share: float = param(
        0.90,
        "share",
        f"{CALIBRATION} Suggested defaults: take-or-pay share",
        "share of contracted capacity paid for whether used or not",
        ge=0,
        le=1,
    )
    prepayment_share: float = param(
        0.0,
        "share of take-or-pay value",
        "estimate (DESIGN §2 contract field; CALIBRATION gives no figure, so off by default)",
        "share of a new contract's take-or-pay value the lab pays in cash at signing; used "
        "against its first bills, forfeited if unused at the end of the term",
        ge=0,
        le=1,
    )
    prepayment_max_cash_share: float = param(
        0.5,
        "share of cash",
        "estimate",
        "most of its cash a lab puts into one contract's prepayment",
        ge=0,
        le=1,
    )
    contract_lead_months: int = param(
        6,
        "months",
        f"{CALIBRATION} Lead times 6–12 months (estimate)",
        "months between signing a contract and the start of delivery",
        ge=0,
        le=60,
    )


class TechnologyConfig(Section):
    compute_per_dollar_growth_per_year: float = param(
        1.4,
        "× per year",
        f"{CALIBRATION} Suggested defaults: compute per dollar improvement",
        "improvement of H100-equivalents per dollar of chips each year",
        ge=1,
        le=4,
    )
    chip_life_months: int = param(
        72,
        "months",
        f"{CALIBRATION} Accounting life of servers 5–6 years",
        "accounting (straight-line) and service life of GPUs",
        ge=12,
        le=240,
    )
    facility_life_months: int = param(
        180,
        "months",
        f"{CALIBRATION} Suggested defaults: facility life",
        "accounting life of data-centre facilities",
        ge=12,
        le=480,
    )
    facility_capex_usd_per_gpu: float = param(
        25_000.0,
        "USD per H100-eq (2025)",
        f"{CALIBRATION} Capex per GW $50B × 35% facility ÷ ≈ 0.7M GPUs per GW",
        "non-chip capex (building, power, networking) per GPU installed",
        ge=0,
        le=1e6,
    )
    build_lag_months: int = param(
        12,
        "months",
        f"{CALIBRATION} Build time 12–15 months per phase",
        "months from a capacity order to capacity online",
        ge=1,
        le=60,
    )
    delivery_lag_months: int = param(
        6,
        "months",
        f"{CALIBRATION} Suggested defaults: chip delivery lag",
        "months from a chip order to delivery (if the vendor has capacity)",
        ge=0,
        le=36,
    )
    operating_cost_usd_per_gpu_hour: float = param(
        0.30,
        "USD/GPU-hour",
        f"{CALIBRATION} Suggested defaults: cash cost ≈ $0.30/hr",
        "cash operating cost (power, staff, maintenance) of an installed GPU",
        ge=0,
        le=10,
    )

    cost_of_capital_per_year: float = param(
        0.08,
        "per year",
        f"{CALIBRATION} interest rates 5–10% (blend, estimate)",
        "return on capex included in the full cost of a GPU-hour",
        ge=0,
        le=1,
    )
    impairment: bool = param(
        True,
        "switch",
        "DESIGN §1 (economic obsolescence)",
        "write fleets down when their economic value falls below book value",
    )

    @model_validator(mode="after")
    def _build_after_delivery(self) -> TechnologyConfig:
        if self.build_lag_months < self.delivery_lag_months:
            raise ValueError(
                f"technology.build_lag_months ({self.build_lag_months}) must be >= "
                f"technology.delivery_lag_months ({self.delivery_lag_months}): capacity comes "
                "online once the facility is built and the chips are delivered"
            )
        return self


class FinanceConfig(Section):
    max_loan_to_backlog: float = param(
        0.7,
        "× contracted revenue",
        f"{CALIBRATION} CoreWeave debt $21.4B vs backlog $60.7B (≈0.35–0.7)",
        "leverage: lenders lend up to this share of a cloud's remaining contracted revenue "
        "plus `max_loan_to_fleet` of its fleet book value",
        ge=0,
        le=5,
    )
    max_loan_to_fleet: float = param(
        0.5,
        "× fleet book value",
        "estimate",
        "collateral value lenders accept on GPUs",
        ge=0,
        le=2,
    )
    loan_maturity_months: int = param(
        60,
        "months",
        f"{CALIBRATION} CoreWeave contract terms 3–5 years (debt matched, estimate)",
        "maturity of new loans, amortised in equal monthly principal",
        ge=1,
        le=360,
    )
    syndicate_size: int = param(
        3,
        "lenders",
        "estimate (syndicated loans, a few lead lenders)",
        "most lenders that share one borrowing",
        ge=1,
        le=100,
    )
    cash_buffer_months: float = param(
        3.0,
        "months of costs",
        "estimate",
        "agents raise capital when cash falls below this many months of cash costs",
        ge=0,
        le=60,
    )
    lab_runway_target_months: float = param(
        18.0,
        "months of burn",
        "estimate (labs raise for 12–24 months of burn)",
        "a lab's equity round targets this many months of cash burn",
        ge=1,
        le=120,
    )
    revenue_multiple: float = param(
        25.0,
        "× annual revenue",
        f"{CALIBRATION} OpenAI $300B on ≈$12B run-rate (Mar 2025)",
        "valuation of a lab as a multiple of annualised revenue, at neutral sentiment",
        gt=0,
        le=500,
    )
    sentiment_initial: float = param(
        1.0, "index", "estimate", "initial investor sentiment (1 = neutral)", ge=0.05, le=3
    )
    sentiment_recovery_per_month: float = param(
        0.03,
        "share per month",
        "estimate",
        "how fast sentiment returns toward neutral",
        ge=0,
        le=1,
    )
    sentiment_hit_per_default: float = param(
        0.15,
        "share",
        "estimate",
        "fall of sentiment (multiplicative) for each default",
        ge=0,
        le=1,
    )
    sentiment_floor: float = param(0.1, "index", "estimate", "lowest sentiment", gt=0, le=1)
    stress_spread_per_sentiment: float = param(
        0.06,
        "per year at zero sentiment",
        f"{CALIBRATION} stress spread shock +300 to +600 bp",
        "credit spread added to new loans: spread × (1 − sentiment), if sentiment < 1",
        ge=0,
        le=1,
    )


class CapitalMarketsConfig(Section):
    """Capital markets (issue 14): valuations from expectations (Brock–Hommes switching
    between a trend-following and a fundamental growth forecast), listed shares for clouds
    and vendors, endogenous sentiment, finite return-sensitive investors, wealth effects."""

    fundamental_growth_per_month: float = param(
        0.03,
        "1/month",
        f"{CALIBRATION} Suggested defaults: adoption growth ≈ 3%/month",
        "the fundamentalists' anchor: revenue growth they expect, and the growth against "
        "which sentiment reads revenue news",
        ge=-0.1,
        le=0.3,
    )
    trend_extrapolation: float = param(
        0.3,
        "× last change of growth",
        "Brock & Hommes 1998 (trend followers, γ > 0); estimate",
        "γ of the trend followers' forecast g_{t-1} + γ (g_{t-1} − g_{t-2})",
        ge=0,
        le=3,
    )
    switching_intensity: float = param(
        2000.0,
        "1 / (monthly growth)²",
        "Brock & Hommes 1998 (intensity of choice β); fitted",
        "β of the logit that moves the market between the two forecasts by past accuracy",
        ge=0,
        le=1e6,
    )
    fitness_memory: float = param(
        0.7,
        "share per month",
        "Brock & Hommes 1998 (memory η); estimate",
        "weight of past accuracy in each forecast's fitness",
        ge=0,
        lt=1,
    )
    growth_window_months: int = param(
        6,
        "months",
        "estimate",
        "revenue growth is observed as the average monthly growth over this many months",
        ge=1,
        le=24,
    )
    max_expected_growth_per_year: float = param(
        3.0,
        "1/year",
        f"{CALIBRATION} lab revenue ×3–4 a year in 2024–25 (estimate of the largest belief)",
        "largest annual revenue growth anybody projects",
        gt=0,
        le=20,
    )
    long_run_growth_per_year: float = param(
        0.03,
        "1/year",
        "estimate (nominal GDP-like terminal growth)",
        "growth after the projection horizon (Gordon terminal value); below every return",
        ge=0,
        le=0.08,
    )
    growth_persistence_per_year: float = param(
        0.55,
        "share per year",
        "estimate (high growth fades within a few years)",
        "δ: expected growth approaches the long-run rate as g∞ + (g0 − g∞) δ^k in year k",
        ge=0,
        le=0.99,
    )
    horizon_years: int = param(
        10,
        "years",
        "estimate (standard DCF horizon)",
        "years projected before the terminal value",
        ge=1,
        le=40,
    )
    lab_target_margin: float = param(
        0.25,
        "share of revenue",
        "estimate (mature software free-cash-flow margin)",
        "free-cash-flow margin a lab is expected to reach",
        ge=-1,
        le=1,
    )
    margin_convergence_per_year: float = param(
        0.6,
        "share per year",
        "estimate",
        "how much of the gap between today's margin and the target is left after a year",
        ge=0,
        le=1,
    )
    worst_margin: float = param(
        -3.0,
        "share of revenue",
        "estimate",
        "today's margin is read as at least this (a lab burning more is valued at it)",
        ge=-100,
        le=0,
    )
    market_required_return: float = param(
        0.10,
        "1/year",
        "estimate (venture-backed late stage, before the risk premium)",
        "the market's required return on a lab or listed firm at which marks are set",
        gt=0.08,
        le=1,
    )
    equity_risk_premium: float = param(
        0.08,
        "1/year at neutral sentiment",
        "Damodaran implied ERP ≈ 4–6% plus an AI risk premium (estimate)",
        "premium added to every required return, divided by sentiment (a boom lowers it)",
        ge=0,
        le=1,
    )
    backlog_margin: float = param(
        0.3,
        "share of backlog",
        f"{CALIBRATION} Oracle/CoreWeave: contract gross margins (estimate)",
        "margin a listed cloud is expected to earn on its remaining performance obligations",
        ge=0,
        le=1,
    )
    backlog_years: float = param(
        2.5,
        "years",
        f"{CALIBRATION} CoreWeave contract terms 3–5 years (average remaining, estimate)",
        "years over which backlog margin is discounted on average",
        gt=0,
        le=20,
    )
    max_listed_growth_per_year: float = param(
        0.6,
        "1/year",
        "estimate (analysts' long-term earnings growth for NVIDIA, Oracle, CoreWeave 2025: "
        "≈ 30–60%)",
        "largest annual earnings growth the market projects for a listed cloud or vendor",
        gt=0,
        le=20,
    )
    listed_growth_weight: float = param(
        1.0,
        "share",
        "estimate",
        "weight of the volume growth expectation in a listed firm's earnings growth",
        ge=0,
        le=1,
    )
    utility_return_discount: float = param(
        0.04,
        "1/year",
        "Damodaran, cost of equity by industry (US, Jan 2025): utilities ≈ 6–7%, software and "
        "semiconductors ≈ 10–11% (the gap, estimate)",
        "how much less return the market requires of a lab's owned-infrastructure business "
        "than of its growth business (business-model multiples)",
        ge=0,
        le=0.5,
    )
    utility_max_growth_per_year: float = param(
        0.15,
        "1/year",
        "estimate (data-centre REITs and utilities: analysts' growth ≈ 5–15% a year)",
        "largest annual revenue growth the market projects for the infrastructure-owning "
        "part of a lab",
        ge=0,
        le=20,
    )
    max_round_dilution: float = param(
        0.35,
        "share of post-money",
        "estimate (venture rounds sell 10–25%, rarely more than a third)",
        "most of a company one equity round sells; a larger need closes the round smaller",
        gt=0,
        lt=1,
    )
    sentiment_mean_reversion: float = param(
        0.1,
        "share per month",
        "estimate (AR(1) in log sentiment)",
        "how fast log sentiment returns to 0 (sentiment 1) without news",
        ge=0,
        le=1,
    )
    sentiment_growth_weight: float = param(
        0.3,
        "per unit of monthly growth surprise",
        "fitted (sentiment > 1.2 in 2025–26; −20% in the telecom bust)",
        "push on log sentiment of labs' revenue growth above the fundamental anchor",
        ge=0,
        le=100,
    )
    sentiment_surprise_weight: float = param(
        10.0,
        "per unit of monthly growth surprise",
        "fitted (telecom bust: sentiment −20% within 6 months of the bust, before any "
        "default; Bernard & Thomas 1989 for prices reacting to earnings surprises)",
        "push on log sentiment of labs' revenue growth above what the market expected "
        "(its Brock–Hommes forecast)",
        ge=0,
        le=100,
    )
    sentiment_return_weight: float = param(
        0.1,
        "per unit of monthly return",
        "estimate (momentum: De Long et al. 1990 positive feedback traders)",
        "push on log sentiment of the month's return on the sector's market value",
        ge=0,
        le=10,
    )
    sentiment_utilisation_weight: float = param(
        0.05,
        "per unit of utilisation gap",
        f"{CALIBRATION} lit networks ≈ 35% used in the telecom bust (estimate)",
        "push on log sentiment of utilisation above `reference_utilisation`",
        ge=0,
        le=10,
    )
    reference_utilisation: float = param(
        0.8, "share", "estimate", "utilisation read as neutral news", ge=0, le=1
    )
    sentiment_default_weight: float = param(
        2.0,
        "per share of the sector's value",
        "estimate (defaults weighted by size)",
        "fall of log sentiment per share of the sector's market value that defaulted",
        ge=0,
        le=100,
    )
    sentiment_cap: float = param(2.5, "index", "estimate", "highest sentiment", gt=1, le=10)
    performance_flow_sensitivity: float = param(
        0.5,
        "per unit of excess annual return",
        "Chevalier & Ellison 1997; Berk & Green 2004 (flows chase returns); estimate",
        "extra annual inflow (or redemption), as a share of a fund's value, per unit of its "
        "trailing annual return above its hurdle",
        ge=0,
        le=10,
    )
    max_redemption_share: float = param(
        0.02,
        "share of cash per month",
        "estimate (redemption gates)",
        "most of its cash a fund pays out in redemptions in a month",
        ge=0,
        le=1,
    )
    venture_debt_value_share: float = param(
        0.1,
        "share of the market's valuation",
        "estimate (venture debt sized at 20–35% of the last round, i.e. a few % of value)",
        "most venture debt a lab may owe: lenders want an equity cushion (0 = none offered)",
        ge=0,
        le=1,
    )
    venture_debt_rate_per_year: float = param(
        0.12,
        "1/year",
        "estimate (venture debt at prime + 3–6%, 2025)",
        "interest rate of venture debt before the lender's stress spread",
        ge=0,
        le=1,
    )
    venture_debt_maturity_months: int = param(
        36,
        "months",
        "estimate (venture loans run 3–4 years)",
        "maturity of venture debt",
        ge=1,
        le=120,
    )
    venture_debt_grace_months: int = param(
        12,
        "months",
        "estimate (interest-only period of 6–12 months)",
        "venture debt pays interest only for this many months, then equal instalments",
        ge=0,
        le=119,
    )
    venture_debt_seniority: int = param(
        1,
        "rank (0 = senior secured)",
        "estimate (behind senior secured lenders)",
        "rank of venture debt among a defaulter's creditors",
        ge=0,
        le=10,
    )
    convertible_notes: bool = param(
        True,
        "on/off",
        "issue 14 (labs raise bridge financing when a round falls short)",
        "a lab whose round falls short sells convertible notes before it borrows venture debt",
    )
    note_discount: float = param(
        0.2,
        "share of the round's price",
        "estimate (convertible notes and SAFEs: discounts of 15–25%; Coyle & Green 2014)",
        "a note converts at the next round's price per share less this share",
        ge=0,
        lt=1,
    )
    note_cap_multiple: float = param(
        1.0,
        "× the valuation at issue",
        "estimate (the cap is usually set near the last round's valuation)",
        "valuation cap of a note, as a multiple of the lab's market value when it is sold "
        "(0 = no cap)",
        ge=0,
        le=100,
    )
    note_rate_per_year: float = param(
        0.08,
        "1/year",
        "estimate (convertible notes accrue 2–8% a year, paid in kind)",
        "interest a note accrues into its principal",
        ge=0,
        le=1,
    )
    note_maturity_months: int = param(
        24,
        "months",
        "estimate (notes mature in 18–24 months)",
        "a note not converted by then falls due in one payment",
        ge=1,
        le=120,
    )
    note_seniority: int = param(
        2,
        "rank (0 = senior secured)",
        "estimate (notes rank behind secured and senior lenders, ahead of equity)",
        "rank of a convertible note among a defaulter's creditors",
        ge=0,
        le=10,
    )
    note_value_share: float = param(
        0.1,
        "share of the market's valuation",
        "estimate (bridge notes are a fraction of a round)",
        "most convertible notes a lab may have outstanding, as a share of its valuation",
        ge=0,
        le=1,
    )
    wealth_effects: bool = param(
        True,
        "on/off",
        "issue 14 (the seeds' Oracle loop)",
        "holders reinvest part of the month's gain on their stakes in labs' next rounds",
    )
    wealth_reinvestment_share: float = param(
        0.2,
        "share of the gain",
        "estimate (marginal propensity to invest out of capital gains)",
        "share of a month's mark-up on its stakes a holder adds to its bids in rounds",
        ge=0,
        le=1,
    )


class NetworkConfig(Section):
    partners_per_lab: int = param(
        2,
        "clouds",
        f"{CALIBRATION} OpenAI commitments (Oracle, Microsoft, AWS, CoreWeave)",
        "connectivity: how many clouds each lab contracts with",
        ge=1,
        le=50,
    )


class CascadeConfig(Section):
    alpha: float = param(
        1.0,
        "share",
        "Rogers & Veraart 2013 (1 = Eisenberg–Noe, no default costs)",
        "share of its own cash a defaulter can still pay out (the rest is lost to costs)",
        ge=0,
        le=1,
    )
    beta: float = param(
        1.0,
        "share",
        "Rogers & Veraart 2013 (1 = Eisenberg–Noe, no default costs)",
        "share of what it receives from others a defaulter can still pay out",
        ge=0,
        le=1,
    )
    fire_sale_discount: float = param(
        0.5,
        "share",
        f"{CALIBRATION} bust outcomes: leveraged lenders recover 5–20% (estimate)",
        "discount on seized GPUs sold by lenders, on top of the glut (spot ÷ full cost)",
        ge=0,
        le=1,
    )
    insolvency_defaults: bool = param(
        True,
        "switch",
        "DESIGN §4 step 6",
        "a party whose book equity turns negative from others' defaults defaults too "
        "(its loans are accelerated) in the next round",
    )
    debtrank_months: tuple[int, ...] = param(
        (12, 36, 60), "months from start", "issue 3", "months at which DebtRank is computed"
    )
    rescue: bool = param(
        False,
        "switch",
        "issue 3: too interconnected to fail (off by default)",
        "partners with a large exposure recapitalise a distressed counterparty",
    )
    rescue_budget_share: float = param(
        0.10,
        "× rescuer equity",
        "estimate",
        "most a party puts into rescues over the whole run, as a share of its equity",
        ge=0,
        le=10,
    )
    rescue_sales_margin: float = param(
        0.3,
        "share of lost revenue",
        "estimate (a cloud's or vendor's margin on the sales a customer's default ends)",
        "share of the take-or-pay backlog and undelivered chip orders of a failing customer "
        "that a seller counts as a loss a rescue avoids",
        ge=0,
        le=1,
    )
    rescue_max_cash_share: float = param(
        0.5,
        "share of cash",
        "estimate",
        "most of its cash a rescuer puts in (after its own obligations)",
        ge=0,
        le=1,
    )
    systemic_share: float = param(
        0.2,
        "share of agents",
        "estimate (Gai & Kapadia 2010 count a contagion as global above 5% of banks; "
        "stricter here because our networks have ~20 parties)",
        "a run has a systemic cascade when at least this share of the non-investor agents defaults",
        gt=0,
        le=1,
    )


class DistressConfig(Section):
    """Issue 13: every borrower is tested every month (covenants), lenders decide what a
    breach leads to, and a defaulter's estate is shared by seniority."""

    covenants: bool = param(
        True,
        "switch",
        "issue 13",
        "test every borrower's covenants every month (off: only missed payments default)",
    )
    dscr_floor: float = param(
        1.0,
        "× debt service",
        "estimate (leveraged-loan and project-finance covenants set 1.0–1.3×; Moody's)",
        "debt service coverage (operating income ÷ interest and principal due) below this "
        "is a breach month",
        ge=0,
        le=10,
    )
    dscr_breach_months: int = param(
        3,
        "months",
        "estimate (covenants are tested on trailing quarters)",
        "consecutive months below the coverage floor that make a covenant breach",
        ge=1,
        le=60,
    )
    ltv_ceiling: float = param(
        1.25,
        "× borrowing base",
        "estimate (borrowing-base facilities allow a cure band above the base)",
        "loans ÷ borrowing base (finance.max_loan_to_backlog × backlog + "
        "finance.max_loan_to_fleet × fleet at the secondary price) above this is a breach",
        gt=0,
        le=100,
    )
    continuation_horizon_months: int = param(
        12,
        "months",
        "estimate (a restructuring plan's horizon)",
        "months of the borrower's operating cash flow a lender counts when it weighs letting "
        "a borrower in breach continue against calling its loans now",
        ge=0,
        le=120,
    )
    extension_months: int = param(
        24,
        "months",
        "estimate (amend-and-extend deals push maturities 2–3 years; S&P LCD)",
        "months a restructuring adds to a loan's remaining maturity",
        ge=1,
        le=240,
    )
    fire_sale_impact: float = param(
        2.0,
        "per share of the market sold",
        "estimate (Cifuentes, Ferrucci and Shin 2005 exponential inverse demand; selling "
        "10% of the installed GPUs lowers their secondary price by 18%)",
        "α of the secondary price of GPUs, exp(−α × GPUs sold by defaulters this month ÷ "
        "GPUs installed)",
        ge=0,
        le=100,
    )
    cash_sweep_share: float = param(
        0.0,
        "share of excess cash",
        "estimate (leveraged loans sweep up to 50% of excess cash flow to prepayment, S&P "
        "LCD; off by default: with the baseline's capex it repays every neocloud loan by "
        "2025-12 and the neocloud debt and spread targets can no longer be measured)",
        "share of a cloud's cash beyond its buffer (finance.cash_buffer_months of costs) "
        "that prepays its loans each month, dearest first",
        ge=0,
        le=1,
    )
    estate_claim_cap_months: int = param(
        12,
        "months of payments",
        "11 U.S.C. §502(b)(6) (Bankruptcy Reform Act 1978): a lessor's claim is capped at "
        "the greater of one year's rent and 15% of the remaining term",
        "a terminated take-or-pay contract's claim on the defaulted buyer is at most the "
        "greater of this many months of take-or-pay payments and "
        "`estate_claim_cap_share` of what remains",
        ge=0,
        le=240,
    )
    estate_claim_cap_share: float = param(
        0.15,
        "share of remaining payments",
        "11 U.S.C. §502(b)(6) (Bankruptcy Reform Act 1978)",
        "see `estate_claim_cap_months`",
        ge=0,
        le=1,
    )
    estate_discount_rate_per_year: float = param(
        0.10,
        "per year",
        "estimate (the sellers' cost of capital, as technology.cost_of_capital_per_year)",
        "rate at which the remaining take-or-pay payments are discounted into a claim",
        ge=0,
        le=1,
    )
    leverage_spread: float = param(
        0.08,
        "per year per unit of debt ÷ assets",
        "estimate (spreads rise with leverage: Merton 1974; Collin-Dufresne, Goldstein and "
        "Martin 2001)",
        "credit spread a lender adds per unit of the borrower's book leverage above "
        "distress.leverage_spread_free",
        ge=0,
        le=1,
    )
    leverage_spread_free: float = param(
        0.3,
        "debt ÷ assets",
        "estimate (investment-grade book leverage)",
        "book leverage below which a borrower pays no leverage spread",
        ge=0,
        le=1,
    )
    flight_to_quality_leverage: float = param(
        0.4,
        "debt ÷ assets",
        "estimate (flight to quality: Bernanke, Gertler and Gilchrist 1996; Lang and Nakamura "
        "1995; an investment-grade balance sheet keeps its access to credit in a downturn)",
        "book leverage at or above which lenders cut a borrower's credit by the market's whole "
        "fall in sentiment; a borrower with less leverage is cut in proportion, one without "
        "debt not at all (0 = every borrower bears the whole cut)",
        ge=0,
        le=1,
    )
    concentration_spread: float = param(
        0.02,
        "per year at one customer",
        "estimate (Campello and Gao 2017: customer concentration raises loan spreads)",
        "credit spread a lender adds times the Herfindahl concentration of the borrower's "
        "take-or-pay backlog by buyer",
        ge=0,
        le=1,
    )
    backlog_weight_floor: float = param(
        0.5,
        "share of backlog",
        "estimate",
        "share of a cash-burning buyer's take-or-pay backlog a lender counts as collateral "
        "however short the buyer's runway (the rest counts in proportion to the share of the "
        "contract its cash covers)",
        ge=0,
        le=1,
    )


class ProjectFinanceConfig(Section):
    """Contract-backed project finance of a cloud's build (credit6): the delayed-draw term
    loans that financed the chips it had ordered before the run opened."""

    opening_gearing: float = param(
        0.8,
        "share of the opening pipeline's cost",
        "estimate (Yescombe, Principles of Project Finance, 2014, ch. 12: contracted projects "
        "are geared 70–90% debt; CoreWeave financed its 2024–25 GPU orders on delayed-draw "
        "term loans secured on the GPUs and its customer contracts, DDTL 2.0 $7.6B, S-1 Mar "
        "2025)",
        "share of the cost of a cloud's opening pipeline (investment."
        "opening_pipeline_share_of_fleet) that lenders committed, before the run, to lend "
        "on delivery, as far as its own funding does not cover it (0 = the opening pipeline "
        "is capped by what the cloud can fund in its first month)",
        ge=0,
        le=1,
    )


class RevolverConfig(Section):
    """A cloud's committed revolving credit facility (dist7): the liquidity line its bank
    group keeps open beside its term loans, drawn when a payment falls due and cash is
    short, so that a solvent borrower does not default on a liquidity blip in a month its
    lenders' new-lending budgets are spent."""

    enabled: bool = param(
        True,
        "switch",
        "estimate (neoclouds keep a revolving credit facility beside their GPU term loans, "
        "CoreWeave's about $1.5B in its 2025 filings, not in CALIBRATION.md; committed lines "
        "as liquidity insurance, Holmström and Tirole 1998; Sufi 2009)",
        "clouds with lenders can draw a committed revolver when their bills exceed their "
        "cash (false = a month's shortfall is met only from what the lenders lend that month)",
    )
    limit_months_of_costs: float = param(
        3.0,
        "months of cash costs",
        "estimate (a revolver of a few months of cash costs: CoreWeave's about $1.5B against "
        "roughly $0.5B a month of cash costs and debt service in 2025; the same months as "
        "finance.cash_buffer_months)",
        "the most a cloud may have drawn on its revolver: this many months of its cash "
        "costs (operating costs and debt service)",
        ge=0,
        le=60,
    )
    maturity_months: int = param(
        12,
        "months",
        "estimate (revolver drawings are short-term; repaid in equal monthly instalments "
        "over this many months, or early from excess cash)",
        "maturity of a revolver drawing",
        ge=1,
        le=120,
    )


class CreditRationingConfig(Section):
    """Issues 13-14 (dist8): how lenders share a month's budget over the month's borrowing
    requests, all collected before any is served (a two-pass allocation, not the order in
    which borrowers happen to be visited)."""

    rule: Literal["uniform", "proportional", "first_come"] = param(
        "uniform",
        "rule",
        "Benassy (1982) and Sprumont (1991): the uniform rationing rule; Stiglitz and Weiss "
        "(1981): lenders ration quantities rather than raise rates; the weights are the "
        "lender's scoring of each borrower (Caiani et al. 2016, JMAB banks rank demands)",
        "how a lender shares its budget over the month's requests when they exceed it: "
        "'uniform' (constrained equal awards weighted by the lender's score of each borrower: "
        "every request up to a common level is met in full, small liquidity needs first), "
        "'proportional' (pro rata to requests times scores), 'first_come' (in the order the "
        "borrowers are visited, hyperscalers first, as until MODEL_VERSION 0.50, though the "
        "syndicates are now chosen once every request is in, so it does not reproduce 0.49)",
    )


class RecapitalisationConfig(Section):
    """Issue 13 (dist9): a lab whose losses have taken its book equity below zero while it
    owes debt raises equity to restore it, not only when its cash runs short."""

    enabled: bool = param(
        True,
        "switch",
        "Leary and Roberts (2005), Flannery and Rangan (2006): firms rebalance toward a "
        "target leverage; Ibrahim (2010), Hochberg, Serrano and Ziedonis (2018): venture "
        "lenders lend on the expectation of the next equity round",
        "a lab with negative book equity and debt outstanding asks its investors for the "
        "deficit plus a cushion (off: it raises equity only when its cash runs short, as "
        "until MODEL_VERSION 0.55)",
    )
    cushion_months: float = param(
        6.0,
        "months of burn",
        "estimate (a round sized to leave the book equity positive for half a year of "
        "losses; the runway rule's own target is finance.lab_runway_target_months)",
        "book equity, in months of the lab's cash burn, a recapitalisation round restores "
        "above zero (so that it is not asked for again next month)",
        ge=0,
        le=60,
    )
    restructure_cushion_share: float = param(
        0.1,
        "share of the debt",
        "estimate (Gilson 1997: firms leave out-of-court workouts still highly levered and "
        "many restructure again; a swap to exactly zero equity is breached by the next "
        "month's loss)",
        "when a restructuring swaps debt for equity to cure negative equity, it swaps this "
        "share of the borrower's debt more, so that equity is left positive (0 = back to "
        "exactly zero, as until MODEL_VERSION 0.55.2)",
        ge=0,
        le=1,
    )


class CashConfig(Section):
    """Issue 13: cash behaves like cash — deposits earn a rate, firms pay out a share of
    their profits (dividends or buybacks; the cash effect is the same)."""

    deposit_rate_per_year: float = param(
        0.04,
        "per year",
        "estimate (US 3-month Treasury bill yield, about 4% in 2025; FRED DTB3)",
        "interest every party earns on its cash, from outside the system",
        ge=0,
        le=0.5,
    )
    payout_share_hyperscaler: float = param(
        0.7,
        "share of monthly profit",
        "estimate (Microsoft, Alphabet, Meta, Amazon: dividends and buybacks ÷ net income "
        "≈ 0.5–0.9 in their 2024 10-K filings)",
        "share of a hyperscaler's monthly profit paid out to its shareholders",
        ge=0,
        le=1,
    )
    payout_share_neocloud: float = param(
        0.0,
        "share of monthly profit",
        "estimate (CoreWeave, Nebius pay no dividends; 2025 filings)",
        "share of a neocloud's or lease vehicle's monthly profit paid out",
        ge=0,
        le=1,
    )
    payout_share_vendor: float = param(
        0.5,
        "share of monthly profit",
        "estimate (NVIDIA returned $34.5B of $72.9B net income in FY2025, 10-K 2025)",
        "share of a chip vendor's monthly profit paid out",
        ge=0,
        le=1,
    )
    prepayment_share_neocloud: float = param(
        1.0,
        "share of excess cash",
        "estimate (pecking order, Myers and Majluf 1984: a borrower repays debt dearer than "
        "its deposits from cash it does not need; GPU-backed term loans are prepayable)",
        "share of a neocloud's cash beyond its buffer (finance.cash_buffer_months of its "
        "monthly costs) that it uses each month to repay its dearest loans early, when they "
        "cost more than cash earns (0 = cash piles up beside the debt)",
        ge=0,
        le=1,
    )
    prepayment_share_hyperscaler: float = param(
        0.0,
        "share of excess cash",
        "estimate (investment-grade bonds carry make-whole calls: hyperscalers hold cash "
        "beside their bonds rather than retire them early, as Meta, Oracle and Alphabet do)",
        "the same for a hyperscaler",
        ge=0,
        le=1,
    )
    excess_cash_payout_share: float = param(
        0.1,
        "share of excess cash per month",
        "estimate (firms move toward a target cash holding and return the excess by "
        "repurchases: Opler, Pinkowitz, Stulz and Williamson 1999; Jensen 1986's free cash "
        "flow; Dittmar 2000; 0.1 a month closes about 70% of an excess within a year)",
        "share of a hyperscaler's cash beyond its target holding (bonds."
        "target_cash_capex_months of its capex of the last 12 months, plus the cash it keeps "
        "for its buffer and ordered capex) that it pays out each month beside its payout "
        "ratio (0 = cash piles up when capex stops)",
        ge=0,
        le=1,
    )
    payout_share_lab: float = param(
        0.0,
        "share of monthly profit",
        "estimate (loss-making labs pay nothing out)",
        "share of a lab's monthly profit paid out",
        ge=0,
        le=1,
    )


class InvestmentConfig(Section):
    """How clouds decide to build (issue 16): the expected-return rule, the glut stop,
    competitive pre-emption, order cancellation, and the pipeline the run opens with."""

    opening_pipeline_share_of_fleet: float = param(
        2.0,
        "share of opening GPUs",
        f"{CALIBRATION} OpenAI compute 0.6 GW (2024) → 1.9 GW (2025); lead times 6–12 months "
        "(estimate)",
        "chip orders the clouds placed before the run opens, as a share of their opening "
        "fleets; delivered evenly over the first delivery-lag months within the vendors' "
        "output, split over vendors by order share (0 = the run opens with no orders)",
        ge=0,
        le=10,
    )
    opening_pipeline_months: int = param(
        9,
        "months",
        f"{CALIBRATION} Lead times 6–12 months (midpoint)",
        "months over which the opening pipeline falls due, evenly",
        ge=1,
        le=36,
    )
    opening_pipeline_install_months: int = param(
        6,
        "months",
        "estimate: the 2024 pipeline's halls were built while its chips were on order (build "
        "12–15 months, chip lead 6–12: CALIBRATION.md), so its racks went live on delivery "
        "plus installation",
        "months from the delivery of an opening-pipeline chip to its capacity online (new "
        "orders take technology.build_lag_months - delivery_lag_months); at most that",
        ge=0,
        le=36,
    )
    expected_utilisation: float = param(
        0.85,
        "share",
        f"{CALIBRATION} CoreWeave: 96% of revenue contracted; utilisation 85–95% (estimate)",
        "expected_return: share of a new GPU's hours the cloud expects to sell over its life",
        gt=0,
        le=1,
    )
    q_sensitivity: float = param(
        2.0,
        "per unit of q",
        "estimate (Tobin's q investment I/K = a + b(q − 1), ECONOMICS.md §4)",
        "expected_return: b in the share of the uncontracted gap built, 1 + b(q − 1) between "
        "0 and 1, with q the present value of a new GPU's margins over its cost",
        ge=0,
        le=100,
    )
    glut_price_ratio: float = param(
        0.8,
        "× full cost",
        "issue 16 (Must show: no order after 6 months of spot < 0.8 × full cost)",
        "a cloud orders only for its contracts once the spot price has been below this "
        "multiple of the full cost of a new GPU-hour for `glut_months` months running",
        ge=0,
        le=10,
    )
    glut_months: int = param(
        6,
        "months",
        "issue 16 (Must show)",
        "months of spot below `glut_price_ratio` × full cost that stop uncontracted orders",
        ge=1,
        le=120,
    )
    cancellation: bool = param(
        True,
        "switch",
        "issue 16 (Must contain 3: orders can be cancelled)",
        "clouds may cancel chips on order in a glut (false: every order, once placed, is built)",
    )
    cancellation_fee_share: float = param(
        0.2,
        "share of the cancelled value",
        "estimate (hardware purchase orders: cancellation or restocking fees of 10–25%; "
        "NVIDIA's own supply orders are largely non-cancellable, 10-K FY25)",
        "fee a cloud pays its vendor on the list value of chips it cancels",
        ge=0,
        le=1,
    )
    preemption_weight: float = param(
        0.0,
        "share",
        "estimate (Spence 1977; Dixit 1980: capacity commitment as strategy)",
        "competitive pre-emption: share of the capacity rivals have on order that a cloud "
        "matches in proportion to its market share, s/(1 − s) × rivals' orders, on top of its "
        "own forecast (0 = no pre-emption)",
        ge=0,
        le=10,
    )
    buyer_default_probability_per_year: float = param(
        0.05,
        "per year",
        "estimate (Moody's single-B issuers' one-year default rate ≈ 3–6%, long-run average; "
        "an unrated lab burning cash is about there)",
        "a cloud's expected default rate of the buyer of a capacity commitment, in the cost "
        "of the exposure it weighs before signing (Cloud.accepts_commitment)",
        ge=0,
        le=1,
    )
    risk_free_rate_per_year: float = param(
        0.043,
        "per year",
        "estimate (US 5-year Treasury yield ≈ 4–4.5% in 2025)",
        "the rate a cloud buyer's borrowing rate is read against: its default probability "
        "is the spread over this ÷ loss given default (the credit triangle)",
        ge=0,
        le=1,
    )
    exposure_loss_given_default: float = param(
        0.6,
        "share of the exposure",
        "estimate (Global Crossing: $12.4B debt sold for $250M; GPUs resold at the secondary "
        "price recover part of it)",
        "share of the capital a cloud sinks for a buyer's commitment that it loses if the "
        "buyer defaults",
        ge=0,
        le=1,
    )
    exposure_limit_to_funding: float = param(
        1.5,
        "× funding capacity",
        "estimate (a large-exposure limit, as Basel's 25% of capital for banks; a cloud's own "
        "is its funding: cash, credit headroom with the new backlog, other income)",
        "a cloud signs a capacity commitment only if the capital it must sink for it is at "
        "most this multiple of what it can fund, the new contract's backlog counted",
        ge=0,
        le=100,
    )
    overflow_buying: bool = param(
        True,
        "switch",
        "issue 16 (Must contain 5: a hyperscaler buys overflow from a neocloud; CALIBRATION: "
        "Microsoft 62–67% of CoreWeave's revenue)",
        "a hyperscaler whose orders the vendors refused (allocation) or it could not fund "
        "contracts the shortfall from a neocloud with room (buy or build)",
    )


class PreemptionConfig(Section):
    """What a cloud counts as its rivals' announced capacity when it pre-empts them
    (supply8, issue 16 Must contain 2: "clouds react to rivals' announced pipelines and
    backlogs"); the weight of the response is `investment.preemption_weight`."""

    counts_backlog: bool = param(
        True,
        "switch",
        "issue 16 (Must contain 2: rivals' announced pipelines and backlogs); CALIBRATION "
        "Oracle: RPO $455B announced Sep 2025, for capacity online 2027-30",
        "rivals' pipelines include the contracted capacity they have sold and not yet "
        "ordered (a phased commitment's later phases); false: only GPUs on order and being "
        "built count (the rule until MODEL_VERSION 0.51)",
    )


class OrderBookConfig(Section):
    """How a chip vendor reads orders it turned away (supply9, issue 16 Must contain 4: "a
    vendor that decides"; the finite order book). A vendor on allocation books at most
    ``chip_vendors[].max_lead_months`` of its output; what it refuses is a signal of demand
    only in part: buyers who are rationed inflate their orders (shortage gaming, Lee,
    Padmanabhan and Whang 1997; Cachon and Lariviere 1999), so a vendor that expands for
    every refused unit builds for phantom demand."""

    capacity_counts_refused: float = param(
        1.0,
        "share of refused units",
        "estimate (Lee, Padmanabhan and Whang 1997: rationed buyers inflate orders; Cachon "
        "and Lariviere 1999: allocation invites order inflation)",
        "share of the orders a vendor refused this month (its book full) that it counts as "
        "order intake when it plans its capacity (1 = every refused unit, the rule until "
        "MODEL_VERSION 0.56; 0 = only what it booked)",
        ge=0,
        le=1,
    )


class OverflowConfig(Section):
    """Overflow contracts between clouds ahead of the spot market (supply8, issue 16 Must
    contain 5 and Must show "hyperscaler-a buys 60-70% of the leading neocloud's compute
    revenue"): a neocloud sells the capacity it will have online under term contracts
    before it sells it on spot, and a hyperscaler short of what its investment rule wants
    online within the contract lead buys it (buy or build)."""

    sells_ahead: bool = param(
        True,
        "switch",
        f"{CALIBRATION} CoreWeave: 96% of revenue contracted, take-or-pay; Microsoft 62-67% "
        "of revenue",
        "neoclouds offer their uncontracted capacity coming online to hyperscalers short "
        "of capacity, under term contracts, before the spot market (false: a hyperscaler "
        "buys overflow only for the orders vendors refused, the rule until MODEL_VERSION "
        "0.51)",
    )
    contracted_share: float = param(
        0.96,
        "share of installed GPUs",
        f"{CALIBRATION} CoreWeave: 96% of revenue contracted",
        "share of the capacity it will have online that a neocloud sells under term "
        "contracts when buyers want it; the rest it keeps for the spot market",
        ge=0,
        le=1,
    )
    new_buyers: bool = param(
        False,
        "switch",
        "estimate (relational contracting, Baker, Gibbons and Murphy 2002: repeat orders "
        "under a master agreement need no new negotiation or credit review)",
        "a neocloud also sells ahead to hyperscalers it has no contract with, after its "
        "existing buyers (false: only under an existing contract relationship)",
    )
    term_months: int = param(
        48,
        "months",
        f"{CALIBRATION} CoreWeave contract terms 3-5 years (≈ 4.5 weighted); the named "
        "Microsoft-CoreWeave overflow contract's 4 years",
        "term of an overflow contract a neocloud sells ahead",
        ge=1,
        le=240,
    )


class SourcingConfig(Section):
    """Whom a buyer trades with (issue 20, linear scaling): a buyer deals with a few
    counterparties it knows, not with every seller in the market — firms buy from the
    suppliers they know (Dosi, Fagiolo and Roventini 2010, the K+S model: a consumption-good
    firm orders machines from the few capital-good firms whose brochures reach it), so the
    trading relations grow with the world, not with its square. In the default world every
    product line has one vendor and there are four neoclouds, so the first two parameters
    bind only in larger worlds (``Scenario.scaled``, a ``count`` above 1)."""

    suppliers_per_line: int = param(
        1,
        "vendors",
        "estimate (a cloud buys each kind of chip from the maker it has a supply agreement "
        "with; the K+S model's firms know a few suppliers, Dosi et al. 2010)",
        "chip vendors a cloud orders from, and second-sources from, among the vendors of one "
        "product line (the copies of one chip_vendors entry): the ones it knows, by its place "
        "in the market's creation order, so interchangeable vendors share the buyers evenly",
        ge=1,
        le=1000,
    )
    overflow_sellers: int = param(
        5,
        "neoclouds",
        "estimate (Microsoft contracted overflow capacity from five neoclouds in 2025: "
        "CoreWeave, Nebius, Nscale, Lambda and IREN, press Sep–Nov 2025; not in "
        "CALIBRATION.md)",
        "the most neoclouds a hyperscaler contracts overflow capacity from in a month: those "
        "with the most room (installed and coming, not yet contracted)",
        ge=1,
        le=1000,
    )
    spot_matching: Literal["in_order", "pro_rata"] = param(
        "in_order",
        "rule",
        "estimate (a spot buyer rents from as few providers as it can: every provider is an "
        "account, a contract and an integration to run; issue 20)",
        "who buys from whom on the spot market, once the market has cleared each buyer's and "
        "each seller's quantity: in_order = buyers fill their purchases from the sellers in "
        "turn (buyers and sellers in the market's creation order), so a buyer deals with one "
        "seller or a few and the bills grow with the number of traders; pro_rata = every "
        "buyer buys from every seller in proportion to what it offers (the rule until "
        "MODEL_VERSION 0.49; the bills grow with buyers × sellers)",
    )


class BondsConfig(Section):
    """How hyperscalers borrow (capex6): investment-grade firms issue unsecured bonds against
    their cash flow, not loans against collateral, to fund the capex their operating cash
    flow does not cover (CALIBRATION: hyperscaler bonds $121B in 2025; Meta $30B, Oracle
    $18B, Alphabet $25B, Amazon $15B)."""

    enabled: bool = param(
        True,
        "switch",
        f"{CALIBRATION} Hyperscaler bonds $121B issued in 2025 (vs ≈ $28B a year before)",
        "hyperscalers borrow against their cash flow (up to `max_debt_to_income_years`) and "
        "keep cash for the capex they have ordered (Cloud.borrowing_wanted); false = they "
        "borrow only against collateral (backlog and fleet) for a cash buffer, as neoclouds",
    )
    max_debt_to_income_years: float = param(
        2.5,
        "years of other-business income",
        "estimate (rating agencies' leverage ceilings for investment grade: debt ÷ EBITDA "
        "≈ 1.5× for AA to ≈ 3.5× for BBB; Moody's and S&P technology methodologies; Oracle "
        "≈ 4× in late 2025 at BBB)",
        "a hyperscaler's unsecured borrowing capacity: this many years of its other "
        "businesses' income (CloudSpec.other_business_income_usd_per_month × 12), less its "
        "debt, when that is above what its collateral supports",
        ge=0,
        le=20,
    )
    target_cash_capex_months: float = param(
        11.0,
        "months of capex",
        "estimate (the big three held ≈ $80–95B of cash and short-term investments each in "
        "2025 against ≈ $90–130B a year of capex, ≈ 8–12 months; a target cash holding that "
        "firms return to, Opler, Pinkowitz, Stulz and Williamson 1999)",
        "a hyperscaler keeps at least this many months of its capex of the last 12 months "
        "(chips and facilities delivered) as cash, and borrows to restore it",
        ge=0,
        le=60,
    )
    maturity_months: int = param(
        120,
        "months",
        "estimate (hyperscaler bond deals of 2025 in tranches of 5–40 years, e.g. Meta's $30B "
        "in October 2025; ten years as the weighted middle)",
        "maturity of a hyperscaler's borrowing for capex and cash, amortised in equal "
        "monthly principal",
        ge=1,
        le=480,
    )


class ShockConfig(Section):
    lab: str = param(
        "", "agent name", "issue 3", "lab whose revenue falls short ('' = no shock)", max_length=64
    )
    month: int = param(
        24, "months from start", "scenario", "month the shortfall begins", ge=0, le=600
    )
    revenue_shortfall: float = param(
        0.0,
        "share",
        "scenario",
        "share of the lab's end-user demand that does not materialise from `month` on",
        ge=0,
        le=1,
    )
    sentiment_drop: float = param(
        0.0,
        "share",
        "scenario",
        "fall of investor sentiment in the shock month (markets reprice the sector)",
        ge=0,
        le=0.99,
    )


class LabCostsConfig(Section):
    """How a lab's costs other than compute move with its business (issue 14: the leading
    lab's costs do not vanish with its revenue)."""

    opex_downward_adjustment_per_month: float = param(
        0.1,
        "share of the gap per month",
        "estimate (sticky costs: SG&A falls less with revenue than it rises, Anderson, "
        "Banker and Janakiraman 2003, J. Accounting Research 41)",
        "share of the gap between last month's operating costs and `other_opex_share_of_revenue` "
        "× revenue closed in a month when revenue falls (staff and research are committed "
        "ahead; 1 = costs fall with revenue at once, as before 0.26.0)",
        ge=0,
        le=1,
    )
    opex_revenue_elasticity: float = param(
        0.55,
        "dimensionless",
        "Anderson, Banker and Janakiraman 2003, J. Accounting Research 41: SG&A rises 0.55% "
        "for a 1% rise in sales (their pooled estimate)",
        "elasticity of a lab's operating costs other than compute to its revenue: the costs "
        "a growing lab needs are `other_opex_share_of_revenue` × its opening revenue × "
        "(revenue ÷ opening revenue)^elasticity (1 = a fixed share of revenue, the rule "
        "until MODEL_VERSION 0.60; below 1 staff, research and sales grow slower than "
        "revenue: operating leverage)",
        ge=0,
        le=1,
    )


class LabPricingConfig(Section):
    """What a lab counts as the marginal cost of serving from contracted capacity it holds
    beyond its need (issue 15: circular money and overbuilding reach service prices)."""

    opportunity_cost: bool = param(
        False,
        "switch",
        "Buchanan 1969, Cost and Choice: sunk take-or-pay bills do not enter the marginal "
        "decision; the cost of serving from idle capacity is what reselling it fetches",
        "a lab long on contracts prices its marginal user at spot × (1 − resale_friction) "
        "(with resale on), not at its contracts' price; off: its contracts' capacity-weighted "
        "price, the rule until MODEL_VERSION 0.49",
    )


class RepricingConfig(Section):
    """A lab with buyer power renegotiates its capacity contracts when the spot price has
    fallen well below what it pays (issue 15: overbuild on purpose; the glut reaches the
    holder of the contracts). Nash bargaining over the price, the buyer's weight being its
    share of the seller's contracted backlog (countervailing power: Galbraith 1952, Snyder
    1996; Nash 1950, Binmore, Rubinstein and Wolinsky 1986)."""

    enabled: bool = param(
        True,
        "switch",
        "issue 15 (contract repricing by a lab with market power)",
        "labs ask their sellers to reprice contracts that cost far above the spot price",
    )
    trigger_premium: float = param(
        0.25,
        "share over spot",
        "estimate (long-term capacity is worth a premium over spot for its certainty; "
        "renegotiations start when a contract costs clearly more than the market)",
        "a lab asks for repricing when a contract's price exceeds spot × (1 + this); it asks "
        "for spot × (1 + this)",
        ge=0,
        le=10,
    )
    min_idle_share: float = param(
        0.0,
        "share of its contracted capacity",
        "estimate",
        "a lab asks only while more than this share of its contracted capacity was idle last "
        "month: a buyer long on contracts can resell the surplus on spot against its seller, "
        "a buyer that uses all it holds has no threat under take-or-pay",
        ge=0,
        lt=1,
    )
    interval_months: int = param(
        12,
        "months",
        "estimate (annual price reviews of long-term supply contracts)",
        "months between two repricings of the same contract",
        ge=1,
        le=120,
    )


class OutsideDemandConfig(Section):
    """Demand for compute from beyond the frontier labs (the scale issue): the hyperscalers'
    own AI workloads (search, ads, recommendation, copilots, their own models), enterprises
    and governments renting AI capacity, other model builders. A price-responsive process
    with its own growth path (``sim.demand.OutsideDemand``), served from the clouds' fleets:
    a share in-house by the hyperscalers, the rest bought on the spot market. Paid by the
    world (``Flow.OUTSIDE_COMPUTE``). 0 GPUs (the default) is a market of the labs alone."""

    initial_gpus: float = param(
        0.0,
        "H100-eq GPUs",
        f"estimate from {CALIBRATION} Chips: NVIDIA data-centre revenue FY25 $115.2B ≈ 2.9M "
        "H100-eq at $40k, with FY24's ≈ 1.2M an installed base of ≈ 4M at the start of 2025, "
        "less the frontier labs' ≈ 0.5M (OpenAI compute); 0 = no outside market",
        "GPUs demanded by buyers beyond the frontier labs in the first month at the opening "
        "spot price",
        ge=0,
        le=1e9,
    )
    growth_start_per_month: float = param(
        0.04,
        "1/month",
        f"estimate from {CALIBRATION}: big-four capex 2024 $246B → 2025 ≈ $395B (+60%), NVIDIA "
        "data-centre revenue FY26 +68%",
        "growth of the outside demand in the first month",
        ge=-0.5,
        le=0.5,
    )
    growth_long_run_per_month: float = param(
        0.015,
        "1/month",
        "estimate (≈ 20% a year: enterprise adoption after the build-out)",
        "growth the outside demand's path decays toward",
        ge=-0.5,
        le=0.5,
    )
    growth_decay_months: float = param(
        36.0,
        "months",
        f"estimate from {CALIBRATION}: big-four capex guidance 2026 $630–700B (+68%) keeps 2026 "
        "growth near 2025's",
        "e-folding time of the decay from start to long-run growth",
        gt=0,
        le=600,
    )
    price_elasticity: float = param(
        -1.0,
        "dimensionless",
        f"{CALIBRATION} Suggested defaults: demand price elasticity (as the labs' end users)",
        "elasticity of the outside demand to the spot price",
        ge=-3,
        le=0,
    )
    in_house_share: float = param(
        0.5,
        "share",
        "estimate: the hyperscalers' own workloads (Meta wholly, Google and Microsoft "
        "largely) against rented enterprise capacity",
        "share of the outside demand the hyperscalers serve in-house from their own free "
        "capacity; the rest is bought on the spot market from every cloud",
        ge=0,
        le=1,
    )
    own_workloads_by_income: bool = param(
        True,
        "switch",
        "estimate (a hyperscaler's own AI workloads serve its other businesses: Microsoft's "
        "copilots, Google's search and ads, Amazon's retail; Oracle has few of its own)",
        "the hyperscalers' own workloads are shared over them by the income of their other "
        "businesses (CloudSpec.other_business_income_usd_per_month); false: by installed "
        "GPUs, so a cloud building for a lab's contract takes a growing share of them",
    )
    bust_decline_per_month: float = param(
        0.0,
        "1/month",
        "estimate (as demand.bust_decline_per_month: the telecom bust's demand stopped "
        "growing rather than fell)",
        "bust regime: monthly decline of the outside demand from demand.bust_month",
        ge=0,
        le=0.5,
    )
    plateau_multiple: float = param(
        5.0,
        "× initial volume",
        "estimate",
        "plateau regime: saturation level of the outside demand (logistic cap)",
        gt=1,
        le=1e6,
    )
    noise_sd: float = param(
        0.02,
        "log-units per month",
        "estimate (smaller than the labs': many buyers)",
        "standard deviation of the monthly log shock to the outside demand (drawn only "
        "when initial_gpus > 0)",
        ge=0,
        le=1,
    )
    noise_persistence: float = param(
        0.7,
        "AR(1) coefficient",
        "estimate (as the labs' demand)",
        "persistence of the outside demand's shock",
        ge=0,
        lt=1,
    )


class CompetitionConfig(Section):
    """Labs compete: capability, service prices as markups, demand shared by choice with
    switching costs, and the resale of idle contracted capacity (issue 15)."""

    capability_gain: float = param(
        0.006,
        "share per month",
        "estimate",
        "κ in q_{t+1} = q_t (1 + κ (T_t / T_ref)^θ) + λ (q_max − q_t): growth of capability "
        "in a month of training at the reference compute",
        ge=0,
        le=1,
    )
    capability_returns: float = param(
        0.3,
        "exponent",
        "estimate (diminishing returns to training compute, θ < 1)",
        "θ: elasticity of capability gains to training compute",
        ge=0,
        le=1,
    )
    reference_training_gpus: float = param(
        100_000.0,
        "H100-eq GPUs",
        "estimate",
        "T_ref: training compute at which a lab's capability grows κ a month",
        gt=0,
        le=1e9,
    )
    spillover_per_month: float = param(
        0.03,
        "share of the gap per month",
        "estimate (diffusion of methods, distillation, open weights)",
        "λ: share of its gap to the leading capability a lab closes each month by spill-over "
        "(1 = full convergence)",
        ge=0,
        le=1,
    )
    reference_spread: float = param(
        0.2,
        "share of the leading capability",
        "estimate (near the baseline's steady spread; its opening spread is 0.3)",
        "capability spread (q_max − q_min) / q_max at which labs hold their calibrated margin; "
        "below it the target margin falls toward the floor",
        gt=0,
        le=1,
    )
    margin_floor: float = param(
        0.10,
        "share",
        "estimate (commodity inference pricing)",
        "gross margin of a lab with no capability edge (full convergence)",
        ge=0,
        lt=1,
    )
    margin_cap: float = param(
        0.80,
        "share",
        "estimate",
        "highest gross margin a lab sets",
        gt=0,
        lt=1,
    )
    margin_adjustment: float = param(
        0.10,
        "share of the gap per month",
        "estimate",
        "how far a lab moves its margin toward its capability-based target each month",
        ge=0,
        le=1,
    )
    margin_share_response: float = param(
        0.5,
        "margin per unit of share growth",
        "Dosi, Fagiolo and Roventini 2010 (K+S): markups adapt to market-share changes (υ)",
        "rise of the margin per unit of relative growth of the lab's market share",
        ge=0,
        le=10,
    )
    margin_idle_response: float = param(
        0.03,
        "margin per unit of idle share",
        "estimate",
        "fall of the margin per month per unit share of the lab's contracted capacity left idle",
        ge=0,
        le=10,
    )
    capability_weight: float = param(
        3.0,
        "utility per log capability",
        "estimate",
        "a in the logit s_i ∝ exp(a ln q_i − b ln p_i + c L_i)",
        ge=0,
        le=50,
    )
    network_weight: float = param(
        0.0,
        "utility per unit of segment share",
        "Katz and Shapiro 1985 (AER 75), Arthur 1989 (EJ 99): network externalities, "
        "increasing returns to adoption; off by default, the default world's size (1.0) is "
        "our own estimate",
        "rise of a lab's appeal to a segment's buyers (log-odds) per unit of the segment's "
        "customers it has gained since the start (0 = no network effect, the rule until "
        "MODEL_VERSION 0.60.1)",
        ge=0,
        le=50,
    )
    price_weight: float = param(
        2.0,
        "utility per log price",
        "estimate",
        "b in the logit s_i ∝ exp(a ln q_i − b ln p_i + c L_i)",
        ge=0,
        le=50,
    )
    service_price_elasticity: float = param(
        -1.2,
        "dimensionless",
        f"{CALIBRATION} Suggested defaults: demand price elasticity, range −0.5 to −1.5; the "
        "elastic end (Jevons): token volume ≈ 12.7× a year while the price at constant "
        "capability falls ≈ 10× (a16z Nov 2024, Epoch AI Mar 2025, OpenRouter) — estimate",
        "ε: end users' demand for AI services responds to the lab's service price as "
        "(p / p_ref)^ε; at −1 spending on AI does not depend on its price, below −1 cheaper "
        "services (cheaper compute, lower margins) raise what the market spends",
        ge=-3,
        le=0,
    )
    jv_lock_in: float = param(
        1.0,
        "log-odds of staying",
        "estimate (integration into portfolio companies' systems; ECONOMICS.md §3 lock-in L)",
        "rise of a lab's enterprise lock-in while it has an enterprise joint venture: its "
        "enterprise customers reconsider exp(−L) as often",
        ge=0,
        le=10,
    )
    jv_yield_per_month: float = param(
        0.02,
        "share of deployed capital per month",
        "estimate (≈ 24% a year of revenue on capital put into deployments)",
        "revenue a joint venture earns from portfolio companies each month per USD it has "
        "spent deploying the lab's models",
        ge=0,
        le=1,
    )
    jv_margin: float = param(
        0.3,
        "share of the JV's revenue",
        "estimate (IT-services gross margins ≈ 25–35%)",
        "share of a joint venture's revenue it keeps as profit; the rest buys the lab's "
        "services that run the deployments",
        ge=0,
        le=1,
    )
    capability_demand_elasticity: float = param(
        0.3,
        "dimensionless",
        "estimate",
        "η: end-user demand rises as (share-weighted capability ÷ opening)^η",
        ge=0,
        le=3,
    )
    enterprise_share: float = param(
        0.4,
        "share of demand",
        "estimate (enterprise and API ≈ 30–40% of the leader's revenue, 2025)",
        "share of end-user demand in the enterprise segment (the rest is consumer)",
        ge=0,
        le=1,
    )
    consumer_switching_per_month: float = param(
        0.10,
        "share per month",
        "estimate",
        "share of a lab's consumer customers who reconsider their lab each month",
        ge=0,
        le=1,
    )
    enterprise_switching_per_month: float = param(
        0.03,
        "share per month",
        "estimate (enterprise integration is sticky)",
        "share of a lab's enterprise customers who reconsider their lab each month",
        ge=0,
        le=1,
    )
    training_absorption: float = param(
        1.5,
        "× planned training compute",
        "estimate",
        "most compute a lab puts into training, as a multiple of its planned training "
        "compute; contracted capacity beyond serving and this is idle",
        ge=1,
        le=20,
    )
    resale: bool = param(
        True,
        "switch",
        "issue 15",
        "holders of idle contracted capacity resell it on the spot market",
    )
    resale_friction: float = param(
        0.2,
        "share",
        "estimate (fragmented blocks, notice periods, transfer costs)",
        "share of idle contracted capacity that cannot be resold on the spot market",
        ge=0,
        le=1,
    )


# --------------------------------------------------------------------------------------
# Agent archetypes
# --------------------------------------------------------------------------------------
class LabSpec(Section):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    archetype: Literal["frontier", "follower"] = "follower"
    count: int = param(1, "agents", "scenario", "how many labs of this archetype", ge=1, le=1000)
    demand_share: float = param(
        0.05,
        "share",
        f"{CALIBRATION} Suggested defaults: leader ≈ 75% of lab revenue",
        "share of end-user demand this archetype serves (split evenly over `count`)",
        gt=0,
        le=1,
    )
    initial_cash_usd: float = param(2e9, "USD", "estimate", "cash at the start", ge=0, le=1e13)
    partners: tuple[str, ...] = param(
        (),
        "cloud names",
        "scenario (issue 16, Must contain 7: the named network)",
        "the lab's named partner clouds (its opening contracts and where it contracts more); "
        "empty = `network.partners_per_lab` drawn at random in proportion to installed GPUs",
        max_length=16,
    )
    optimism: float = param(
        1.0,
        "× observed growth",
        "estimate",
        "multiplies the growth the lab projects",
        ge=0,
        le=5,
    )
    training_compute_ratio: float = param(
        1.5,
        "GPU-hours per inference GPU-hour",
        "estimate (training ≈ 1.5× inference spend, 2024)",
        "compute used for training and research per unit of compute serving users",
        ge=0,
        le=20,
    )
    training_halving_months: float = param(
        36.0,
        "months",
        "estimate (training share of compute falls as serving scales)",
        "months for the training-to-serving compute ratio to halve",
        gt=0,
        le=1200,
    )
    min_contract_share: float = param(
        0.02,
        "share of projected need",
        "estimate",
        "smallest contract gap worth signing, relative to projected need",
        ge=0,
        le=1,
    )
    gross_margin: float = param(
        0.45,
        "share",
        f"{CALIBRATION} Suggested defaults: lab gross margin",
        "margin of AI-service price over its compute cost",
        ge=0,
        lt=1,
    )
    other_opex_share_of_revenue: float = param(
        0.3,
        "share of revenue",
        "estimate (staff and other costs)",
        "operating costs other than compute, paid outside the system, as a share of the "
        "lab's opening revenue (they grow with revenue at `lab_costs.opex_revenue_elasticity`)",
        ge=0,
        le=5,
    )
    contract_coverage: float = param(
        0.8,
        "share",
        f"{CALIBRATION} CoreWeave 96% of revenue contracted (estimate for labs)",
        "share of projected compute need the lab covers with term contracts",
        ge=0,
        le=2,
    )
    projection_window_months: int = param(
        6,
        "months",
        "estimate",
        "window over which a lab measures its own growth",
        ge=1,
        le=60,
    )
    capability: float = param(
        1.0,
        "index (leading lab at the start = 1)",
        "estimate",
        "the lab's model capability at the start",
        gt=0,
        le=100,
    )
    enterprise_revenue_share: float | None = param(
        None,
        "share of the lab's revenue",
        f"{CALIBRATION} Labs (estimate per lab: OpenAI ≈ 0.3, ChatGPT subscriptions ≈ 70% of "
        "its 2025 revenue; Anthropic ≈ 0.8–0.85 from business and API, The Information / "
        "Reuters 2025)",
        "share of the lab's opening demand in the enterprise segment (the rest consumer); "
        "none = `competition.enterprise_share`. Sets its opening customer share in each "
        "segment; the labs' mix sets the enterprise segment's opening weight",
        ge=0,
        le=1,
        strict=True,
    )
    enterprise_edge: float = param(
        0.0,
        "log-odds",
        "estimate (Menlo Ventures, mid-2025 LLM market update: Anthropic's share of "
        "enterprise LLM API spend 12% (2023) → 24% (2024) → 32% (mid-2025), OpenAI's 50% → "
        "34% → 25%; in coding 42% against 21%)",
        "the lab's appeal to enterprise buyers beyond its capability index (a lead in coding "
        "and agentic work, enterprise sales): added to its logit utility in the enterprise "
        "segment from the first month (the opening shares are the Dec 2024 ones)",
        ge=-10,
        le=10,
    )


class CloudSpec(Section):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    archetype: Literal["hyperscaler", "neocloud", "lease_vehicle"] = "hyperscaler"
    count: int = param(1, "agents", "scenario", "how many clouds of this archetype", ge=1, le=1000)
    initial_gpus: float = param(
        100_000.0,
        "H100-eq GPUs",
        f"{CALIBRATION} OpenAI compute 0.6 GW (2024) (estimate split)",
        "installed GPUs at the start, per agent",
        ge=0,
        le=1e9,
    )
    initial_cash_usd: float = param(5e9, "USD", "estimate", "cash at the start", ge=0, le=1e13)
    initial_debt_usd: float = param(0.0, "USD", "estimate", "debt at the start", ge=0, le=1e13)
    interest_rate_per_year: float = param(
        0.05,
        "per year",
        f"{CALIBRATION} Suggested defaults: interest rates",
        "base rate on new loans",
        ge=0,
        le=1,
    )
    other_business_income_usd_per_month: float = param(
        0.0,
        "USD/month",
        f"{CALIBRATION} Capex, big four (operating cash flow funds it; estimate)",
        "cash flow from businesses outside AI compute (hyperscalers)",
        ge=0,
        le=1e12,
    )
    other_business_capex_usd_per_month: float = param(
        0.0,
        "USD/month",
        "estimate (the hyperscalers' capex before the AI build: Microsoft FY2022 $23.9B, "
        "Alphabet 2022 $31.5B, Amazon 2022 $63.6B, Oracle FY2024 $6.9B; 10-K filings)",
        "capex of its businesses outside AI compute (CPU cloud, storage, offices, logistics), "
        "paid each month from their cash flow and expensed (their asset base is in steady "
        "state, so this capex is their depreciation); counted in the capex the record reports",
        ge=0,
        le=1e12,
    )
    project_finance: bool = param(
        True,
        "switch",
        "estimate (Microsoft, Alphabet and Amazon fund capex from cash flow and unsecured "
        "bonds, 10-K 2025; Oracle's Stargate sites and the neoclouds' builds are financed "
        "by project lenders, CALIBRATION Oracle and CoreWeave)",
        "whether it arranges delayed-draw project credit for the chips it orders "
        "(Cloud.credit_commitment_wanted); false: a bond issuer funds them with bonds",
    )
    reserve_margin: float = param(
        0.10,
        "share",
        "estimate",
        "spare capacity a cloud plans above its forecast",
        ge=0,
        le=2,
    )
    forecast_window_months: int = param(
        6,
        "months",
        "estimate",
        "window of the trend extrapolation of demand",
        ge=1,
        le=60,
    )
    investment_rule: Literal["expected_return", "stock_adjustment", "price_driven"] = param(
        "expected_return",
        "choice",
        "issue 16 (expected_return: ECONOMICS.md §4); DESIGN §4 step 4; Ezekiel 1938 for "
        "price_driven",
        "expected_return: backlog + the forecast need at a cost-covering price, scaled by "
        "Tobin's q of a new GPU; stock_adjustment: backlog + the trend of need at today's "
        "price; price_driven: capacity offered L months on = base + slope × today's price "
        "(the cobweb supply curve)",
    )
    price_driven_base_gpus: float = param(
        0.0,
        "H100-eq GPUs",
        "scenario",
        "price_driven: capacity offered at a zero price (c)",
        ge=-1e9,
        le=1e9,
    )
    price_driven_slope_gpus_per_usd: float = param(
        0.0,
        "GPUs per USD/GPU-hour",
        "scenario",
        "price_driven: slope of the supply curve (d)",
        ge=0,
        le=1e9,
    )
    supply_line_weight: float = param(
        1.0,
        "share",
        "estimate (Sterman 1989: often < 1 in practice)",
        "share of capacity already on order the cloud counts when ordering more",
        ge=0,
        le=1,
    )


class ChipVendorSpec(Section):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    count: int = param(1, "agents", "scenario", "how many vendors of this archetype", ge=1, le=100)
    order_share: float = param(
        0.5,
        "share",
        f"{CALIBRATION} NVIDIA vs AMD data-centre revenue 2025",
        "share of the clouds' chip orders this vendor receives",
        gt=0,
        le=1,
    )
    unit_price_usd: float = param(
        40_000.0,
        "USD per H100-eq (2025)",
        f"{CALIBRATION} Suggested defaults: accelerator price",
        "price of one H100-equivalent unit in the first month (falls with technology)",
        gt=0,
        le=1e6,
    )
    gross_margin: float = param(
        0.73,
        "share",
        f"{CALIBRATION} Suggested defaults: vendor gross margin",
        "margin over the cost of goods paid to foundries",
        ge=0,
        lt=1,
    )
    production_ceiling_units_per_month: float = param(
        60_000.0,
        "H100-eq units/month",
        f"{CALIBRATION} Supply ceiling CoWoS (scaled to this world; estimate)",
        "most units the vendor can deliver in the first month",
        gt=0,
        le=1e9,
    )
    ceiling_growth_per_month: float = param(
        0.037,
        "1/month",
        f"{CALIBRATION} CoWoS 75–80k → 120–130k wafers/month in ≈ 13 months",
        "fastest monthly growth of packaging capacity (wafers); the ceiling in H100-equivalent "
        "units also grows with the compute a wafer yields "
        "(technology.compute_per_dollar_growth_per_year)",
        ge=0,
        le=0.5,
    )
    capacity_adjustment_months: float = param(
        12.0,
        "months",
        f"{CALIBRATION} Lead times 6–12 months (estimate)",
        "time constant with which the production ceiling moves toward the order rate "
        "(growth capped at `ceiling_growth_per_month`, decline at `max_ceiling_decline_per_month`)",
        gt=0,
        le=240,
    )
    max_ceiling_decline_per_month: float = param(
        0.02, "1/month", "estimate", "fastest monthly fall of the production ceiling", ge=0, le=1
    )
    normal_lead_months: float = param(
        6.0,
        "months",
        f"{CALIBRATION} Lead times 6–12 months; suggested chip delivery lag 6",
        "order queue, in months of output, at which the vendor neither raises nor cuts its "
        "price and aims its capacity",
        gt=0,
        le=60,
    )
    queue_price_sensitivity: float = param(
        0.02,
        "share per month of queue",
        f"{CALIBRATION} fitted: gross margins 71–75% (NVIDIA) and 50–58% (AMD) with a full "
        "order book (ECONOMICS.md §4: price rises with the backlog relative to output)",
        "price premium over the cost-and-margin path per month of queue above the normal lead "
        "time (0 = the list price follows the path)",
        ge=0,
        le=2,
    )
    idle_price_sensitivity: float = param(
        0.5,
        "share per share of idle capacity",
        "estimate (ECONOMICS.md §4: price falls with idle capacity)",
        "price discount per share of the production ceiling left idle last month",
        ge=0,
        le=5,
    )
    max_price_premium: float = param(
        0.5,
        "share",
        "estimate (2023–24 street prices of H100 ≈ 1.25–1.5× list)",
        "highest premium over the cost-and-margin path",
        ge=0,
        le=5,
    )
    price_adjustment_per_month: float = param(
        0.3,
        "share per month",
        "estimate",
        "share of the gap to the target premium closed each month (partial adjustment)",
        gt=0,
        le=1,
    )
    capacity_lag_months: int = param(
        6,
        "months",
        f"{CALIBRATION} CoWoS packaging expansions take ≈ 2 quarters (TrendForce; estimate)",
        "months from a decision to expand (or idle) production capacity to its effect",
        ge=0,
        le=36,
    )
    max_lead_months: float = param(
        10.0,
        "months",
        f"{CALIBRATION} Lead times 6–12 months for new generations",
        "longest order book the vendor accepts, in months of today's output: orders beyond it "
        "are refused this month (allocation at booking; 0 = accept every order)",
        ge=0,
        le=120,
    )
    allocation_rule: Literal["fifo", "pro_rata"] = param(
        "fifo",
        "choice",
        "issue 16; ECONOMICS.md §4 (allocation of scarce output by a stated rule)",
        "how scarce output is shared among due orders: fifo (oldest due first) or pro_rata "
        "(every due order gets the same share of what it is owed)",
    )
    initial_cash_usd: float = param(20e9, "USD", "estimate", "cash at the start", ge=0, le=1e13)


class InvestorSpec(Section):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    archetype: Literal["vc", "sovereign", "asset_manager", "bank", "credit_fund"] = "vc"
    count: int = param(
        1, "agents", "scenario", "how many investors of this archetype", ge=1, le=1000
    )
    initial_cash_usd: float = param(
        50e9, "USD", "estimate", "dry powder at the start", ge=0, le=1e14
    )
    inflow_usd_per_month: float = param(
        2e9,
        "USD/month",
        "estimate",
        "new money committed by the fund's own investors",
        ge=0,
        le=1e13,
    )
    equity_appetite: float = param(
        0.0,
        "share of cash per month",
        "estimate",
        "most of its cash it puts into equity in a month",
        ge=0,
        le=1,
    )
    loan_appetite: float = param(
        0.0,
        "share of cash per month",
        "estimate",
        "most of its cash it lends in a month",
        ge=0,
        le=1,
    )
    sentiment_sensitivity: float = param(
        1.0,
        "exponent",
        "estimate",
        "appetite scales with sentiment to this power",
        ge=0,
        le=10,
    )
    hurdle_return_per_year: float = param(
        0.10,
        "1/year",
        "estimate (VC 20–30%, growth equity 10–15%, sovereign and pension 7–10%; "
        "the default is `capital.market_required_return`)",
        "return the investor requires before the equity risk premium: it joins a round only "
        "if its own valuation of the company at this return is at least the round's price",
        gt=0.03,
        le=1,
    )


DealKind = Literal[
    "strategic_equity",
    "vendor_financing",
    "compute_credit",
    "backstop",
    "lease_vehicle",
    "secondary_sale",
    "lab_cloud",
    "enterprise_jv",
    "capacity_commitment",
    "warrant",
    "revenue_share",
]


class DealSpec(Section):
    """A deal between two named agents (see ``sim.deals`` for what each kind does)."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: DealKind = param("strategic_equity", "choice", "issue 5", "what kind of deal")
    provider: str = param(
        "",
        "agent name",
        "scenario",
        "who provides money or capacity: investor of strategic equity, vendor that finances, "
        "backstops or funds a vehicle's equity, cloud that grants compute credits",
        min_length=1,
    )
    receiver: str = param(
        "",
        "agent name",
        "scenario",
        "who receives it: the investee, the financed or backstopped cloud, the lab given "
        "credits, the lab leasing from a vehicle",
        min_length=1,
    )
    vehicle: str = param(
        "",
        "agent name",
        "scenario",
        "lease_vehicle: the vehicle (a cloud of archetype lease_vehicle that owns the GPUs)",
        max_length=64,
    )
    month: int = param(0, "months from start", "scenario", "month the deal starts", ge=0, le=600)
    months: int = param(
        1,
        "months",
        "scenario",
        "strategic_equity: tranches paid monthly; compute_credit, backstop, lease_vehicle, "
        "vendor_financing: how long it runs (lease term, loan maturity)",
        ge=1,
        le=600,
    )
    amount_usd: float = param(
        0.0,
        "USD",
        "scenario",
        "equity invested; credit line (vendor_financing); credits granted; backstop "
        "commitment; equity of the vehicle",
        ge=0,
        le=1e13,
    )
    spend_back_share: float = param(
        0.5,
        "× amount",
        f"{CALIBRATION} Suggested defaults: vendor equity spent back 50%",
        "strategic_equity: purchase commitment with the provider or its supply chain, as a "
        "multiple of the money invested",
        ge=0,
        le=20,
    )
    revenue_share: float = param(
        0.2,
        "share of revenue",
        f"{CALIBRATION} Microsoft ↔ OpenAI: 20% revenue share",
        "revenue_share: share of the receiver's end-user revenue it pays the provider each "
        "month of the deal",
        ge=0,
        le=1,
    )
    financed_share: float = param(
        0.3,
        "share of invoices",
        f"{CALIBRATION} Lucent $5.7B vendor-finance (estimate)",
        "vendor_financing: share of each chip invoice the vendor lends back",
        ge=0,
        le=1,
    )
    rate_per_year: float = param(
        0.08,
        "per year",
        f"{CALIBRATION} Meta Hyperion vehicle debt 6.58% (estimate)",
        "vendor_financing and lease_vehicle debt: interest rate",
        ge=0,
        le=1,
    )
    debt_usd: float = param(
        0.0,
        "USD",
        "scenario",
        "lease_vehicle: debt the vehicle raises from lenders",
        ge=0,
        le=1e13,
    )
    partners: tuple[str, ...] = param(
        (),
        "agent names",
        "scenario",
        "enterprise_jv: co-investors beside the provider (the lead partner); each puts in an "
        "equal part of the partners' capital",
    )
    receiver_share: float = param(
        0.0,
        "share of amount",
        "scenario",
        "enterprise_jv: share of the vehicle's capital the lab puts in",
        ge=0,
        lt=1,
    )
    valuation_usd: float = param(
        0.0,
        "USD",
        f"{CALIBRATION} OpenAI secondary: $6.6B at $500B (Oct 2025); the seeds' $40B at $300B",
        "secondary_sale: the whole company's value at the sale's price per share (0 = the "
        "market's valuation of the month)",
        ge=0,
        le=1e15,
    )
    start_month: int = param(
        -1,
        "months from start",
        "scenario",
        "capacity_commitment: first month of delivery (-1 = the signing month plus "
        "market.contract_lead_months)",
        ge=-1,
        le=600,
    )
    phases: int = param(
        1,
        "count",
        f"scenario ({CALIBRATION} Build time: 12–15 months per phase, Abilene)",
        "capacity_commitment: the committed capacity comes online in this many equal phases, "
        "`phase_interval_months` apart, all ending with the term (1 = all of it at "
        "`start_month`); the commitment's value is the same",
        ge=1,
        le=24,
    )
    phase_interval_months: int = param(
        6,
        "months",
        f"estimate ({CALIBRATION} Build time: 12–15 months per phase, phases overlapping)",
        "capacity_commitment: months between the starts of successive phases",
        ge=1,
        le=60,
    )
    warrant_share: float = param(
        0.099,
        "share of the issuer's shares",
        f"{CALIBRATION} AMD → OpenAI: 160M shares of ≈ 1.62B outstanding",
        "warrant: new shares the holder may buy, as a share of the issuer's shares "
        "outstanding at grant",
        ge=0,
        le=1,
    )
    exercise_price_usd: float = param(
        1.6e6,
        "USD",
        f"{CALIBRATION} AMD → OpenAI: 160M shares at $0.01",
        "warrant: what exercising all its shares costs the holder",
        ge=0,
        le=1e13,
    )


class Scenario(Section):
    """A whole world: the run, the markets, and the agents."""

    name: str = Field("scenario", min_length=1, max_length=100)
    run: RunConfig = RunConfig()
    demand: DemandConfig = DemandConfig()
    market: MarketConfig = MarketConfig()
    technology: TechnologyConfig = TechnologyConfig()
    finance: FinanceConfig = FinanceConfig()
    capital: CapitalMarketsConfig = CapitalMarketsConfig()
    network: NetworkConfig = NetworkConfig()
    cascade: CascadeConfig = CascadeConfig()
    distress: DistressConfig = DistressConfig()
    cash: CashConfig = CashConfig()
    project_finance: ProjectFinanceConfig = ProjectFinanceConfig()
    revolver: RevolverConfig = RevolverConfig()
    credit_rationing: CreditRationingConfig = CreditRationingConfig()
    recapitalisation: RecapitalisationConfig = RecapitalisationConfig()
    shock: ShockConfig = ShockConfig()
    investment: InvestmentConfig = InvestmentConfig()
    preemption: PreemptionConfig = PreemptionConfig()
    overflow: OverflowConfig = OverflowConfig()
    order_book: OrderBookConfig = OrderBookConfig()
    sourcing: SourcingConfig = SourcingConfig()
    bonds: BondsConfig = BondsConfig()
    competition: CompetitionConfig = CompetitionConfig()
    lab_costs: LabCostsConfig = LabCostsConfig()
    lab_pricing: LabPricingConfig = LabPricingConfig()
    repricing: RepricingConfig = RepricingConfig()
    outside: OutsideDemandConfig = OutsideDemandConfig()
    labs: tuple[LabSpec, ...] = Field(min_length=1)
    clouds: tuple[CloudSpec, ...] = Field(min_length=1)
    chip_vendors: tuple[ChipVendorSpec, ...] = Field(min_length=1)
    investors: tuple[InvestorSpec, ...] = Field(min_length=1)
    deals: tuple[DealSpec, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> Scenario:
        names = [
            s.name
            for group in (self.labs, self.clouds, self.chip_vendors, self.investors)
            for s in group
        ]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"agent names must be unique; repeated: {', '.join(dupes)}")
        lab_names = {n for s in self.labs for n in agent_names(s.name, s.count)}
        if self.shock.lab and self.shock.lab not in lab_names:
            raise ValueError(
                f"shock.lab '{self.shock.lab}' is not a lab; allowed: "
                + ", ".join(sorted(lab_names))
            )
        self._check_deals()
        self._check_shares()
        self._check_opening_partners()
        self._check_named_partners()
        if self.market.price_floor_usd_per_gpu_hour >= self.market.price_cap_usd_per_gpu_hour:
            raise ValueError("market.price_floor_usd_per_gpu_hour must be below the price cap")
        return self

    def _check_joint_venture(self, deal: DealSpec, kinds: dict[str, str]) -> None:
        """An enterprise JV's vehicle is an investor other than its partners (a scenario
        gives it no equity or loan appetite and no inflow, so it invests in nothing else);
        its partners are investors."""
        if kinds.get(deal.vehicle) != "Investor" or deal.vehicle in (
            deal.provider,
            *deal.partners,
        ):
            raise ValueError(
                f"deals.{deal.name}.vehicle '{deal.vehicle}' must name an Investor agent that "
                "is not one of the JV's partners"
            )
        for who in deal.partners:
            if kinds.get(who) != "Investor":
                raise ValueError(f"deals.{deal.name}.partners '{who}' must name an Investor agent")

    def _check_named_partners(self) -> None:
        """A lab's named partners are distinct clouds that sell to the market."""
        sellers = {
            n
            for s in self.clouds
            if s.archetype != "lease_vehicle"
            for n in agent_names(s.name, s.count)
        }
        for lab in self.labs:
            unknown = [p for p in lab.partners if p not in sellers]
            if unknown or len(set(lab.partners)) < len(lab.partners):
                raise ValueError(
                    f"labs.{lab.name}.partners {list(lab.partners)} must name distinct clouds "
                    f"that sell to the market; allowed: {', '.join(sorted(sellers))}"
                )

    def _check_opening_partners(self) -> None:
        """Each lab's opening contracts pick ``network.partners_per_lab`` distinct clouds in
        proportion to their ``initial_gpus``: when only some clouds have GPUs, there must be
        enough of them."""
        clouds = [s for s in self.clouds if s.archetype != "lease_vehicle"]
        total = sum(s.initial_gpus * s.count for s in clouds)
        # a cloud counts if its share of the GPUs is above zero in floating point
        with_gpus = sum(s.count for s in clouds if total > 0 and s.initial_gpus / total > 0)
        wanted = min(self.network.partners_per_lab, sum(s.count for s in clouds))
        if 0 < with_gpus < wanted:
            raise ValueError(
                f"network.partners_per_lab ({self.network.partners_per_lab}) is more than the "
                f"{with_gpus} clouds with a share of clouds[].initial_gpus above 0: each lab's "
                "opening "
                "contracts go to distinct clouds that have GPUs; give more clouds GPUs or "
                "lower network.partners_per_lab"
            )

    def _check_shares(self) -> None:
        """Demand shares of the labs and order shares of the vendors each sum to 1."""
        for group, field in ((self.labs, "demand_share"), (self.chip_vendors, "order_share")):
            shares = {s.name: getattr(s, field) for s in group}
            total = sum(shares.values())
            if abs(total - 1) > SHARE_TOLERANCE:
                listed = ", ".join(f"{n} {v:g}" for n, v in shares.items())
                where = "labs" if field == "demand_share" else "chip_vendors"
                raise ValueError(
                    f"{where}[].{field} must sum to 1 (within {SHARE_TOLERANCE:g}) over all "
                    f"{where} (each archetype's share is split evenly over its `count`); they "
                    f"sum to {total:.10g} ({listed})"
                )

    def _check_deals(self) -> None:
        kinds = {}
        for group, kind in (
            (self.labs, "Lab"),
            (self.clouds, "Cloud"),
            (self.chip_vendors, "ChipVendor"),
            (self.investors, "Investor"),
        ):
            for spec in group:
                for name in agent_names(spec.name, spec.count):
                    kinds[name] = kind
        vehicles = {
            n
            for s in self.clouds
            if s.archetype == "lease_vehicle"
            for n in agent_names(s.name, s.count)
        }
        allowed = {
            "strategic_equity": ({"Cloud", "ChipVendor", "Investor"}, {"Lab", "Cloud"}),
            "vendor_financing": ({"ChipVendor"}, {"Cloud"}),
            "compute_credit": ({"Cloud"}, {"Lab"}),
            "backstop": ({"ChipVendor"}, {"Cloud"}),
            "lease_vehicle": ({"ChipVendor", "Investor", "Cloud"}, {"Lab"}),
            "secondary_sale": ({"Cloud", "ChipVendor", "Investor"}, {"Lab", "Cloud"}),
            "lab_cloud": ({"Lab"}, {"Cloud"}),
            "enterprise_jv": ({"Investor"}, {"Lab"}),
            "capacity_commitment": ({"Cloud"}, {"Lab", "Cloud"}),
            "warrant": ({"ChipVendor"}, {"Lab"}),
            "revenue_share": ({"Cloud", "ChipVendor", "Investor"}, {"Lab"}),
        }
        seen = set()
        for deal in self.deals:
            if deal.name in seen:
                raise ValueError(f"deal names must be unique; repeated: {deal.name}")
            seen.add(deal.name)
            providers, receivers = allowed[deal.kind]
            for role, who, ok in (
                ("provider", deal.provider, providers),
                ("receiver", deal.receiver, receivers),
            ):
                if kinds.get(who) not in ok:
                    raise ValueError(
                        f"deals.{deal.name}.{role} '{who}' must name a "
                        f"{' or '.join(sorted(ok))} agent for a {deal.kind} deal"
                    )
            if deal.kind == "enterprise_jv":
                self._check_joint_venture(deal, kinds)
            if deal.kind == "capacity_commitment" and deal.provider == deal.receiver:
                raise ValueError(
                    f"deals.{deal.name}.receiver '{deal.receiver}' must differ from the provider"
                )
            if (
                deal.kind == "capacity_commitment"
                and (deal.phases - 1) * deal.phase_interval_months >= deal.months
            ):
                lag = (deal.phases - 1) * deal.phase_interval_months
                raise ValueError(
                    f"deals.{deal.name}.phases: the last phase starts {lag} months after the "
                    f"first ((phases − 1) × phase_interval_months), which must be below "
                    f"months ({deal.months}) so that it has a term"
                )
            if deal.kind == "lease_vehicle" and deal.vehicle not in vehicles:
                raise ValueError(
                    f"deals.{deal.name}.vehicle '{deal.vehicle}' must name a cloud of archetype "
                    f"lease_vehicle (have: {', '.join(sorted(vehicles)) or 'none'})"
                )

    def without_deal(self, name: str) -> Scenario:
        """The same world without the deal called ``name`` (for deal surgery)."""
        if name not in {d.name for d in self.deals}:
            have = ", ".join(d.name for d in self.deals) or "none"
            raise ConfigError(f"no deal named '{name}' (have: {have})")
        data = self.model_dump(mode="python")
        data["deals"] = [d for d in data["deals"] if d["name"] != name]
        return validate_scenario(data, source=f"{self.name} without deal {name}")

    # ---------------------------------------------------------------------------------
    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A copy with dotted-path overrides applied, e.g. ``{"demand.noise_sd": 0.1}``.

        List sections are addressed by agent name: ``"labs.frontier-leader.optimism"``, or
        ``"labs.*.optimism"`` for every lab. Raises :class:`ConfigError` on an unknown path or
        an invalid value.
        """
        data = self.model_dump(mode="python")
        for path, value in overrides.items():
            _set_path(data, path.split("."), value, path)
        return validate_scenario(data, source=f"overrides {dict(overrides)}")

    def scaled(self, factor: int) -> Scenario:
        """The same world with ``factor`` times as many agents of every archetype (and each
        deal repeated between the copies of its parties, each lab's named partners those of
        its own copy: ``factor`` copies of the world side by side, which trade with each
        other only on the spot market and through the random network). End users' demand and
        the buyers beyond the labs grow ``factor`` times with the agents and every deal keeps
        its size in each copy, so each copy is the original world (before 2026-11-26 the
        copies shared one world's demand and deals: at 2× every neocloud defaulted)."""
        data = self.model_dump(mode="python")
        copies: dict[str, list[str]] = {}  # agent name -> its name in each copy of the world
        for group in ("labs", "clouds", "chip_vendors", "investors"):
            for spec in data[group]:
                old = agent_names(spec["name"], spec["count"])
                new = agent_names(spec["name"], spec["count"] * factor)
                for j, name in enumerate(old):
                    copies[name] = [new[k * len(old) + j] for k in range(factor)]
                spec["count"] *= factor
        if factor > 1:
            data["demand"]["initial_revenue_usd_per_month"] *= factor
            data["outside"]["initial_gpus"] *= factor
            # a lab with named partners becomes one lab per copy of the world, each partnered
            # with the copies of its partners in its own copy (same agent names and demand
            # share per lab), so the named network grows with the world, not as its square
            labs = []
            for spec in data["labs"]:
                if not spec["partners"]:
                    labs.append(spec)
                    continue
                new = agent_names(spec["name"], spec["count"])
                per_copy = len(new) // factor
                for i, name in enumerate(new):
                    k = i // per_copy
                    partners = tuple(copies.get(p, [p] * factor)[k] for p in spec["partners"])
                    labs.append(
                        dict(
                            spec,
                            name=name,
                            count=1,
                            demand_share=spec["demand_share"] / len(new),
                            partners=partners,
                        )
                    )
            data["labs"] = labs
            # every deal is repeated in each copy, between the copies of its parties, at
            # its own size
            deals = []
            for deal in data["deals"]:
                for k in range(factor):
                    copy = dict(deal, name=f"{deal['name']}-{k + 1}")
                    for role in ("provider", "receiver", "vehicle"):
                        if copy[role]:
                            copy[role] = copies.get(copy[role], [copy[role]] * factor)[k]
                    deals.append(copy)
            data["deals"] = deals
        return validate_scenario(data, source=f"{self.name} scaled ×{factor}")


def agent_names(base: str, count: int) -> list[str]:
    """Names of the agents an archetype creates: ``base``, or ``base-1`` … ``base-n``.
    Interned: the names key the books, the indices and the memos, and are compared in every
    scan of the contracts, where one object per name is found by identity (0.3% of a run)."""
    names = [base] if count == 1 else [f"{base}-{k}" for k in range(1, count + 1)]
    return [sys.intern(name) for name in names]


def _set_path(data: Any, keys: list[str], value: Any, full: str) -> None:
    key, rest = keys[0], keys[1:]
    if isinstance(data, (list, tuple)):
        if not rest:
            raise ConfigError(f"parameter path '{full}' must name a field of the agent")
        targets = [d for d in data if key == "*" or d.get("name") == key]
        if not targets:
            names = ", ".join(d.get("name", "?") for d in data)
            raise ConfigError(f"unknown parameter path '{full}': no agent '{key}' (have: {names})")
        for target in targets:
            _set_path(target, rest, value, full)
        return
    if not isinstance(data, dict) or key not in data:
        allowed = ", ".join(sorted(data)) if isinstance(data, dict) else "(none)"
        raise ConfigError(f"unknown parameter path '{full}': '{key}' is not one of: {allowed}")
    if rest:
        _set_path(data[key], rest, value, full)
    else:
        data[key] = value


def validate_scenario(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Validate a mapping into a :class:`Scenario`, or raise a readable :class:`ConfigError`."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def parse_settings(
    items: Sequence[str], flag: str = "--set", example: str = "investment.preemption_weight=2"
) -> dict[str, Any]:
    """Dotted-path overrides from the command line (``PATH=VALUE``, e.g.
    ``investment.preemption_weight=2`` or ``labs.*.optimism=0.1``), for
    :meth:`Scenario.with_overrides`: VALUE is read as a TOML value (a number, ``true``,
    ``[1, 2]``, a quoted string), or as a bare string if it is none. Raises
    :class:`ConfigError` naming ``flag`` (and showing ``example``) for an item without
    ``=`` or without a path."""
    out: dict[str, Any] = {}
    for item in items:
        path, sep, raw = item.partition("=")
        path = path.strip()
        if not sep or not path:
            raise ConfigError(
                f"{flag} takes PATH=VALUE, e.g. {example} (got '{item}'). "
                "Nothing was run or written."
            )
        try:
            out[path] = tomllib.loads(f"value = {raw.strip()}")["value"]
        except tomllib.TOMLDecodeError:
            out[path] = raw.strip()
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file (following its ``base`` chain, if any)."""
    return _load_scenario(Path(path), ())


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict, or a :class:`ConfigError` saying why it cannot be read
    (missing, a folder, unreadable, not UTF-8, not TOML)."""
    if not path.is_file():
        exists = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(
            f"{what} '{path}' {exists} (give the path to a .toml file). Nothing was run or written."
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{what} '{path}' cannot be read ({exc.strerror}). Nothing was run or written."
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.end]
        raise ConfigError(
            f"{what} '{path}' is not UTF-8 text (byte {exc.start} is {bad!r}); TOML files "
            "must be UTF-8: save it as UTF-8. Nothing was run or written."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{what} '{path}' is not valid TOML: {exc}. Nothing was run or written."
        ) from None


def _load_scenario(path: Path, chain: tuple[Path, ...]) -> Scenario:
    """Load ``path``; ``chain`` holds the files whose ``base`` led here (to find cycles)."""
    here = path.resolve()
    if here in chain:
        loop = " -> ".join(str(p) for p in (*chain, here))
        raise ConfigError(
            f"scenario file '{chain[0]}': its `base` leads back to itself, a cycle ({loop}); "
            "a `base` must end at a scenario without `base`. Nothing was run or written."
        )
    data = read_toml(path, "scenario file")
    if "base" in data:
        return _derived_scenario(path, data, (*chain, here))
    return validate_scenario(data, source=str(path))


def _derived_scenario(path: Path, data: dict[str, Any], chain: tuple[Path, ...]) -> Scenario:
    """A scenario written as ``base = "other.toml"`` plus ``[overrides]`` (dotted paths)."""
    unknown = sorted(set(data) - {"name", "base", "overrides", "deals", "clouds", "investors"})
    if unknown:
        raise ConfigError(
            f"invalid {path}: a scenario with `base` may only have the fields name, base, "
            "overrides, and clouds, investors and deals (added to the base's); found "
            f"{', '.join(unknown)}. Nothing was run or written."
        )
    if not isinstance(data["base"], str) or not data["base"]:
        raise ConfigError(
            f"invalid {path}: `base` must be the path of another scenario file, relative to "
            f"this one (got {data['base']!r}). Nothing was run or written."
        )
    base = _load_scenario(path.parent / data["base"], chain)
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise ConfigError(
            f"invalid {path}: `overrides` must be a table of dotted paths. Nothing was run or "
            "written."
        )
    if "name" in data:
        overrides = {**overrides, "name": data["name"]}
    added = [key for key in ("clouds", "investors", "deals") if key in data]
    for key in added:  # [[clouds]], [[investors]], [[deals]] of a based file add to the base's
        if not isinstance(data[key], list):
            raise ConfigError(
                f"invalid {path}: `{key}` must be an array of tables ([[{key}]]). Nothing "
                "was run or written."
            )
    if added:
        merged = base.model_dump(mode="python")
        for key in added:
            merged[key] = [*merged[key], *data[key]]
        base = validate_scenario(merged, source=str(path))
    try:
        return base.with_overrides(overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One paragraph naming each bad field, what it got, and what is allowed.

    A cross-field check (a validator of a whole section or scenario) reports its own message,
    which names its fields, without dumping the section; a too-short list whose items are
    themselves invalid reports only the items (pydantic counts only the valid ones).
    """
    errors = exc.errors()
    bad_items = {tuple(e["loc"][:-2]) for e in errors if len(e["loc"]) >= 2}
    parts = []
    for err in errors:
        loc_key = tuple(err["loc"])
        if err["type"] == "too_short" and any(
            b[: len(loc_key)] == loc_key for b in bad_items if len(b) >= len(loc_key)
        ):
            continue
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "value_error":
            msg = str(err["msg"]).removeprefix("Value error, ")
            parts.append(msg if not loc or msg.startswith(loc.split(".")[0]) else f"{loc}: {msg}")
            continue
        if err["type"] == "extra_forbidden":
            msg = "is not a known field (check the spelling; `computesim params` lists them)"
        elif err["type"] == "missing":
            msg = "is required but missing"
        elif err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            field = _field_at(err["loc"])
            unit = f" {field['unit']}" if field and field.get("unit") else ""
            allowed = field["bounds"] if field else err["msg"]
            msg = f"is out of range: allowed {allowed}{unit}"
        else:
            msg = err["msg"]
        got = "" if err["type"] == "missing" else f" (got {_short(err.get('input'))})"
        parts.append(f"field `{loc or '(top level)'}` {msg}{got}")
    return f"invalid {source}: " + "; ".join(parts) + ". Nothing was run or written."


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a whole section is not worth printing)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounds_text(field: Any) -> str:
    """'between 0 and 0.5' style text for a field's numeric bounds."""
    names = ("ge", "gt", "le", "lt")
    b = {n: getattr(m, n) for m in field.metadata for n in names if hasattr(m, n)}
    low = f">= {b['ge']}" if "ge" in b else f"> {b['gt']}" if "gt" in b else ""
    high = f"<= {b['le']}" if "le" in b else f"< {b['lt']}" if "lt" in b else ""
    return " and ".join(x for x in (low, high) if x)


def _field_at(loc: tuple[Any, ...]) -> dict[str, str] | None:
    """Unit and bounds of the scenario field at a pydantic error location."""
    model: Any = Scenario
    field = None
    for key in loc:
        if isinstance(key, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(key))
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        model = args[0] if args else ann
    if field is None:
        return None
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return {"bounds": _bounds_text(field), "unit": str(extra.get("unit", ""))}


def parameter_table() -> list[dict[str, str]]:
    """Every scalar parameter with its unit, default, bounds and source (for docs and --help)."""
    rows: list[dict[str, str]] = []
    sections: list[tuple[str, type[BaseModel]]] = [
        ("run", RunConfig),
        ("demand", DemandConfig),
        ("market", MarketConfig),
        ("technology", TechnologyConfig),
        ("cascade", CascadeConfig),
        ("distress", DistressConfig),
        ("cash", CashConfig),
        ("project_finance", ProjectFinanceConfig),
        ("revolver", RevolverConfig),
        ("shock", ShockConfig),
        ("finance", FinanceConfig),
        ("network", NetworkConfig),
        ("competition", CompetitionConfig),
        ("capital", CapitalMarketsConfig),
        ("investment", InvestmentConfig),
        ("bonds", BondsConfig),
        ("lab_costs", LabCostsConfig),
        ("lab_pricing", LabPricingConfig),
        ("outside", OutsideDemandConfig),
        ("labs[]", LabSpec),
        ("clouds[]", CloudSpec),
        ("chip_vendors[]", ChipVendorSpec),
        ("investors[]", InvestorSpec),
        ("deals[]", DealSpec),
    ]
    for prefix, model in sections:
        for name, field in model.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            bounds = _bounds_text(field)
            rows.append(
                {
                    "parameter": f"{prefix}.{name}",
                    "default": "required" if field.is_required() else repr(field.default),
                    "unit": str(extra.get("unit", "")),
                    "bounds": bounds,
                    "source": str(extra.get("source", "")),
                    "meaning": (field.description or "").split(" [")[0],
                }
            )
    return rows


@dataclass(frozen=True)
class ParameterInfo:
    """One scalar parameter as the parameter table gives it, with numeric bounds (for
    controls that are generated from the table)."""

    path: str
    """Dotted path as in :meth:`Scenario.with_overrides`, e.g. ``demand.price_elasticity``."""
    unit: str
    source: str
    meaning: str
    default: Any
    low: float | None
    """Lowest allowed value (``None``: unbounded); ``low_open``: the bound itself is not."""
    high: float | None
    bounds: str = ""
    """The bounds as ``computesim params`` prints them, e.g. ``>= 0 and <= 1``."""
    low_open: bool = False
    high_open: bool = False
    integer: bool = False


_SECTIONS: dict[str, type[BaseModel]] = {
    "run": RunConfig,
    "demand": DemandConfig,
    "market": MarketConfig,
    "technology": TechnologyConfig,
    "cascade": CascadeConfig,
    "distress": DistressConfig,
    "cash": CashConfig,
    "project_finance": ProjectFinanceConfig,
    "shock": ShockConfig,
    "finance": FinanceConfig,
    "network": NetworkConfig,
    "competition": CompetitionConfig,
    "capital": CapitalMarketsConfig,
    "investment": InvestmentConfig,
    "bonds": BondsConfig,
    "lab_costs": LabCostsConfig,
    "lab_pricing": LabPricingConfig,
    "outside": OutsideDemandConfig,
    "labs": LabSpec,
    "clouds": CloudSpec,
    "chip_vendors": ChipVendorSpec,
    "investors": InvestorSpec,
}


def parameter_info(path: str) -> ParameterInfo:
    """Unit, source, meaning, default and bounds of the parameter at ``path``: a section
    field (``finance.max_loan_to_backlog``) or an agent field (``labs.optimism``; an agent
    name or ``*`` may stand between, as in ``labs.*.optimism``). Raises :class:`ConfigError`
    for an unknown path."""
    keys = path.split(".")
    model = _SECTIONS.get(keys[0])
    name = keys[-1]
    if model is None or len(keys) not in (2, 3) or name not in model.model_fields:
        raise ConfigError(
            f"unknown parameter '{path}': give section.field, e.g. demand.price_elasticity "
            "or labs.optimism (`computesim params` lists them)"
        )
    field = model.model_fields[name]
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    b = {
        n: getattr(m, n)
        for m in field.metadata
        for n in ("ge", "gt", "le", "lt")
        if getattr(m, n, None) is not None
    }
    low, high = b.get("ge", b.get("gt")), b.get("le", b.get("lt"))
    return ParameterInfo(
        path=path,
        unit=str(extra.get("unit", "")),
        source=str(extra.get("source", "")),
        meaning=(field.description or "").split(" [")[0],
        default=field.default,
        low=None if low is None else float(low),
        high=None if high is None else float(high),
        bounds=_bounds_text(field),
        low_open="gt" in b,
        high_open="lt" in b,
        integer=field.annotation is int,
    )
