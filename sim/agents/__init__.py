"""The four kinds of agent. Agents decide; the books record; the phases order the month."""

from sim.agents.base import MarketAgent
from sim.agents.chip_vendor import ChipVendor
from sim.agents.cloud import Cloud, Vintage
from sim.agents.investor import Investor
from sim.agents.lab import Lab
from sim.agents.view import MarketView

__all__ = ["ChipVendor", "Cloud", "Investor", "Lab", "MarketAgent", "MarketView", "Vintage"]
