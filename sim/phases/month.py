"""What one month records about the whole market (the model table's per-month figures)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MonthState:
    """Market-wide figures of the current month, reset when it starts. GPUs are
    H100-equivalents, money USD."""

    installed_gpus: float = 0.0  # offered by clouds this month
    need_gpus: float = 0.0  # wanted by labs and outside buyers at this month's prices
    outside_need_gpus: float = 0.0  # wanted by buyers beyond the labs at this month's price
    outside_served_gpus: float = 0.0  # of it served (in-house and bought on spot)
    in_house_gpus: float = 0.0  # of it served by the hyperscalers in-house
    used_gpus: float = 0.0  # used, by contracts, spot and backstops
    spot_supply_gpus: float = 0.0  # installed and not reserved by contracts
    spot_demand_gpus: float = 0.0  # need beyond what contracts make available
    capex_usd: float = 0.0  # chips delivered plus their facilities
    chip_deliveries_gpus: float = 0.0
    contracts_signed_gpus: float = 0.0
    orders_placed_gpus: float = 0.0
    orders_cancelled_gpus: float = 0.0
    impairment_usd: float = 0.0
    new_defaults: float = 0.0  # parties that defaulted this month
    fire_sold_gpus: float = 0.0  # GPUs sold by defaulters this month (price impact)
    credit_committed_usd: float = 0.0  # capex credit lenders committed to clouds this month
    credit_drawn_usd: float = 0.0  # of earlier commitments, drawn on delivery this month
    bonds_issued_usd: float = 0.0  # borrowed by hyperscalers on their cash flow this month
    credit_rationed_usd: float = 0.0  # asked of lenders this month and not lent (rationing)
    contracts_repriced: int = 0  # capacity contracts repriced at a lab's ask this month

    @property
    def utilisation(self) -> float:
        """Used ÷ installed (0 when nothing is installed); at most 1 against the rounding of
        sums over clouds taken in different orders."""
        return min(1.0, self.used_gpus / self.installed_gpus) if self.installed_gpus else 0.0
