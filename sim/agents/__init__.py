"""The four kinds of agent. Agents decide; the ledger records; the model orders the phases."""

from sim.agents.base import MarketAgent
from sim.agents.chip_vendor import ChipVendor
from sim.agents.cloud import Cloud, Vintage
from sim.agents.investor import Investor
from sim.agents.lab import Lab

__all__ = ["ChipVendor", "Cloud", "Investor", "Lab", "MarketAgent", "Vintage"]
