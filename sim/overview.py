"""The overview figure of one run: capacity and need, utilisation, price, money and defaults."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

if "IPython" not in sys.modules:  # headless PNGs; a notebook keeps its own backend (inline)
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image


def overview_figure(model: pd.DataFrame, title: str) -> Figure:
    """Four panels over time from the model table of one run."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True, layout="constrained")
    x = model["date"]
    ax = axes[0, 0]
    ax.plot(x, model["installed_gpus"] / 1e6, label="installed")
    need = "need: labs at their service prices, and buyers beyond the labs"
    ax.plot(x, model["need_gpus"] / 1e6, label=need)
    ax.plot(x, model["contracted_gpus"] / 1e6, label="under contract", linestyle="--")
    ax.set(title="Capacity and need", ylabel="million H100-eq GPUs", yscale="log")
    ax.legend(loc="best", fontsize="small")  # a fixed corner hid some world's lines
    ax = axes[0, 1]
    ax.plot(x, 100 * model["utilisation"], color="tab:green", label="utilisation")
    ax.set(title="Utilisation of installed capacity", ylabel="%", ylim=(0, 105))
    ax.legend(loc="lower left")
    ax = axes[1, 0]
    ax.plot(x, model["spot_price_usd_per_gpu_hour"], color="tab:red", label="spot price")
    ax.set(title="Compute price", ylabel="USD per H100-eq GPU-hour")
    ax.legend(loc="upper right")
    ax = axes[1, 1]
    ax.plot(x, model["lab_revenue_usd"] / 1e9, label="lab revenue from end users")
    ax.plot(x, model["capex_usd"] / 1e9, label="capex paid (chips + facilities)")
    ax.set(title="Money per month", ylabel="USD billion per month")
    twin = ax.twinx()
    twin.step(x, model["defaults_cumulative"], color="black", where="post", label="defaults (cum.)")
    twin.set_ylabel("defaults, cumulative")
    twin.set_ylim(0, max(1.0, 1.1 * float(model["defaults_cumulative"].max())))
    twin.yaxis.get_major_locator().set_params(integer=True)
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left")
    for a in axes[1]:
        a.set_xlabel("month")
    fig.suptitle(title)
    return fig


PNG_COLOURS = 256
"""Colours of the saved overview's palette. A line chart on white uses a few dozen colours
plus their anti-aliased edges; a 256-colour palette looks the same and is about a third of
the size of the full-colour PNG (about 45 kB instead of 128 kB)."""


def save_png(fig: Figure, path: str | Path) -> Path:
    """Save as a palette PNG, byte-identically (no software/time metadata), and close."""
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(colors=PNG_COLOURS, method=Image.Quantize.MEDIANCUT)
    palette.save(path, format="PNG", optimize=True)
    return path
