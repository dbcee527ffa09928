"""computesim: an agent-based market simulation of the AI compute ecosystem."""
