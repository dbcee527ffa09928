"""Figures, in one style: fan charts, heatmaps, balance sheets, networks, timelines, flows.

Every function takes plain tables and returns a matplotlib Figure with a title, axis labels
with units and a legend; :func:`save_figure` writes it byte-identically (Agg backend, fixed
size and dpi, no software or date metadata) and closes it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

STYLE = {
    "figure.figsize": (9.0, 5.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "font.family": "DejaVu Sans",
    "svg.hashsalt": "computesim",
}
"""The project's matplotlib style (rc parameters)."""

TYPE_COLOURS = {
    "Lab": "#1f77b4",
    "Cloud": "#ff7f0e",
    "ChipVendor": "#2ca02c",
    "Investor": "#9467bd",
    "World": "#7f7f7f",
}
"""One colour per agent type, used in every figure."""

DPI = 100


def new_figure(
    nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None, **kwargs: object
) -> tuple[Figure, np.ndarray]:
    """A figure in the project style; axes always returned as a 2-D array."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=size or STYLE["figure.figsize"],
            squeeze=False,
            layout="constrained",
            **kwargs,
        )
    return fig, axes


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a PNG that is identical byte for byte when rebuilt from the same data."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------
def fan_chart(
    df: pd.DataFrame,
    x: str,
    y: str,
    by: str = "seed",
    *,
    title: str,
    ylabel: str,
    scale: float = 1.0,
    ax: plt.Axes | None = None,
    colour: str = "#1f77b4",
    label: str = "median",
    logy: bool = False,
) -> Figure:
    """Median with 50% and 90% bands of ``y`` over runs (``by``); n runs in the title."""
    if ax is None:
        fig, axes = new_figure()
        ax = axes[0, 0]
    else:
        fig = ax.figure
    wide = df.pivot_table(index=x, columns=by, values=y) * scale
    q = wide.quantile([0.05, 0.25, 0.5, 0.75, 0.95], axis=1).T
    ax.fill_between(
        q.index, q[0.05], q[0.95], color=colour, alpha=0.15, lw=0, label=f"{label}: 90% band"
    )
    ax.fill_between(
        q.index, q[0.25], q[0.75], color=colour, alpha=0.35, lw=0, label=f"{label}: 50% band"
    )
    ax.plot(q.index, q[0.5], color=colour, lw=2, label=label)
    n = wide.shape[1]
    ax.set_title(f"{title} (n = {n} seeds)")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("month" if x != "date" else "date")
    if logy:
        ax.set_yscale("log")
    ax.legend(loc="best")
    return fig


def heatmap(
    df: pd.DataFrame,
    x: str,
    y: str,
    value: str,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    cbar_label: str,
    contour: float | None = None,
    cmap: str = "magma_r",
) -> Figure:
    """A phase diagram: ``value`` averaged over runs on the (x, y) grid, with a colour bar and
    an optional contour line at ``contour``."""
    fig, axes = new_figure(size=(7.5, 5.5))
    ax = axes[0, 0]
    grid = df.pivot_table(index=y, columns=x, values=value, aggfunc="mean").sort_index()
    xs, ys = grid.columns.to_numpy(dtype=float), grid.index.to_numpy(dtype=float)
    mesh = ax.pcolormesh(_edges(xs), _edges(ys), grid.to_numpy(), cmap=cmap, shading="flat")
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(cbar_label)
    if contour is not None and grid.shape[0] > 1 and grid.shape[1] > 1:
        cs = ax.contour(xs, ys, grid.to_numpy(), levels=[contour], colors="white", linewidths=1.5)
        ax.clabel(cs, fmt={contour: f"{contour:g}"})
        ax.legend(
            [Line2D([], [], color="white", lw=1.5)],
            [f"{cbar_label} = {contour:g}"],
            loc="upper left",
            facecolor="0.3",
            framealpha=0.6,
            labelcolor="white",
        )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(False)
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mids = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mids[0]], mids, [2 * centres[-1] - mids[-1]]])


ASSET_COLUMNS = {
    "cash_usd": "cash",
    "receivables_usd": "receivables",
    "fleet_usd": "GPU fleet",
    "stakes_usd": "equity stakes",
    "loans_usd": "loans granted",
}
CLAIM_COLUMNS = {"payables_usd": "payables", "debt_usd": "debt", "equity_usd": "equity"}


def balance_sheets(agents: pd.DataFrame, step: int, *, title: str) -> Figure:
    """Stacked balance sheets by agent type at ``step``: assets (left bar) against
    liabilities and equity (right bar), in USD billion."""
    fig, axes = new_figure(size=(10, 5.5))
    ax = axes[0, 0]
    at = (
        agents[agents["step"] == step]
        .groupby("agent_type")[list(ASSET_COLUMNS) + list(CLAIM_COLUMNS)]
        .sum()
        / 1e9
    )
    types = [t for t in TYPE_COLOURS if t in at.index]
    xs = np.arange(len(types))
    cmap = plt.get_cmap("tab20")
    for side, columns, offset in ((0, ASSET_COLUMNS, -0.2), (1, CLAIM_COLUMNS, 0.2)):
        bottom_pos = np.zeros(len(types))
        bottom_neg = np.zeros(len(types))
        for k, (col, name) in enumerate(columns.items()):
            vals = at.loc[types, col].to_numpy()
            pos, neg = np.clip(vals, 0, None), np.clip(vals, None, 0)
            colour = cmap(2 * k + side)
            ax.bar(
                xs + offset,
                pos,
                0.38,
                bottom=bottom_pos,
                color=colour,
                label=f"{'assets' if side == 0 else 'claims'}: {name}",
            )
            ax.bar(xs + offset, neg, 0.38, bottom=bottom_neg, color=colour, hatch="//")
            bottom_pos += pos
            bottom_neg += neg
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(xs, [f"{t}\n(assets | claims)" for t in types])
    ax.set(title=title, ylabel="USD billion")
    ax.legend(loc="upper left", ncols=2)
    return fig


def exposure_network(
    exposures: pd.DataFrame, types: Mapping[str, str], *, title: str, defaulted: Iterable[str] = ()
) -> Figure:
    """Who is exposed to whom: an arrow creditor → debtor sized by the amount (USD),
    coloured nodes by agent type, defaulted parties marked with a red cross."""
    fig, axes = new_figure(size=(9, 7.5))
    ax = axes[0, 0]
    g = nx.DiGraph()
    agg = exposures.groupby(["creditor", "debtor"], sort=True)["amount"].sum()
    for (c, d), amount in agg.items():
        if amount > 0:
            g.add_edge(c, d, weight=float(amount))
    for node in sorted(types):
        g.add_node(node)
    pos = _typed_circle(sorted(g.nodes), types)
    top = max((w for *_, w in g.edges(data="weight")), default=1.0)
    widths = [0.3 + 6 * w / top for *_, w in g.edges(data="weight")]
    nx.draw_networkx_edges(
        g,
        pos,
        ax=ax,
        width=widths,
        alpha=0.5,
        arrowsize=10,
        edge_color="0.35",
        connectionstyle="arc3,rad=0.08",
    )
    colours = [TYPE_COLOURS.get(types.get(n, "World"), "0.5") for n in g.nodes]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colours, node_size=260)
    nx.draw_networkx_labels(g, {k: (x, y + 0.08) for k, (x, y) in pos.items()}, ax=ax, font_size=7)
    failed = [n for n in g.nodes if n in set(defaulted)]
    if failed:
        ax.scatter(
            [pos[n][0] for n in failed],
            [pos[n][1] for n in failed],
            marker="x",
            s=260,
            c="red",
            linewidths=3,
            zorder=5,
        )
    handles = [Patch(color=c, label=t) for t, c in TYPE_COLOURS.items() if t in set(types.values())]
    handles.append(Line2D([], [], marker="x", color="red", lw=0, markersize=10, label="defaulted"))
    handles.append(
        Line2D([], [], color="0.35", lw=3, label=f"exposure (widest = ${top / 1e9:,.1f}B)")
    )
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, -0.08), ncols=3)
    ax.set_title(title)
    ax.set_axis_off()
    return fig


def _typed_circle(nodes: list[str], types: Mapping[str, str]) -> dict[str, tuple[float, float]]:
    """Nodes on a circle, grouped by type in the order of TYPE_COLOURS (deterministic)."""
    order = {t: k for k, t in enumerate(TYPE_COLOURS)}
    ranked = sorted(nodes, key=lambda n: (order.get(types.get(n, "World"), 99), n))
    n = max(len(ranked), 1)
    return {
        name: (math.cos(2 * math.pi * k / n), math.sin(2 * math.pi * k / n))
        for k, name in enumerate(ranked)
    }


def cascade_timeline(
    events: pd.DataFrame, types: Mapping[str, str], months: int, *, title: str
) -> Figure:
    """Top: each default, by month and round (marker per defaulter, coloured by type).
    Bottom: losses per month by who bore them, USD billion."""
    fig, axes = new_figure(2, 1, size=(10, 7), sharex=True)
    top, bottom = axes[0, 0], axes[1, 0]
    defaults = events[events["event"].astype(str).str.startswith("default")]
    for t, colour in TYPE_COLOURS.items():
        rows = defaults[[types.get(d) == t for d in defaults["defaulter"]]]
        if len(rows):
            top.scatter(
                rows["step"],
                rows["round"],
                color=colour,
                s=60,
                label=f"{t} default",
                edgecolor="black",
            )
    for row in defaults.itertuples():
        top.annotate(
            row.defaulter,
            (row.step, row.round),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    top.set(title=title, ylabel="round within the month")
    if len(defaults):
        top.legend(loc="upper left")
    else:
        top.text(0.5, 0.5, "no defaults", transform=top.transAxes, ha="center")
    from sim.metrics import LOSS_EVENTS

    losses = events[events["event"].isin(LOSS_EVENTS)].copy()
    losses["bearer_type"] = [
        "World" if str(c).startswith("world:") or not c else types.get(c, "World")
        for c in np.where(losses["event"] == "fire_sale", losses["defaulter"], losses["creditor"])
    ]
    table = (
        losses.pivot_table(
            index="step", columns="bearer_type", values="amount_lost", aggfunc="sum", fill_value=0.0
        ).reindex(range(months), fill_value=0.0)
        / 1e9
    )
    bottom_acc = np.zeros(len(table))
    for t in [c for c in TYPE_COLOURS if c in table.columns]:
        bottom.bar(
            table.index, table[t], bottom=bottom_acc, color=TYPE_COLOURS[t], label=f"borne by {t}"
        )
        bottom_acc += table[t].to_numpy()
    bottom.set(ylabel="losses, USD billion", xlabel="month")
    if table.to_numpy().sum() > 0:
        bottom.legend(loc="upper left")
    return fig


def flow_diagram(
    flows: pd.DataFrame, types: Mapping[str, str], *, title: str, min_share: float = 0.002
) -> Figure:
    """One month's payments among named agents: arrows payer → payee with widths ∝ amount,
    the largest labelled in USD billion; money from and to the world as grey nodes."""
    fig, axes = new_figure(size=(10, 9))
    ax = axes[0, 0]
    agg = flows.groupby(["payer", "payee"], sort=True)["amount"].sum()
    total = float(agg.sum()) or 1.0
    agg = agg[agg >= min_share * total]
    g = nx.DiGraph()
    for (p, q), amount in agg.items():
        g.add_edge(p, q, weight=float(amount))
    all_types = {n: types.get(n, "World") for n in g.nodes}
    pos = _typed_circle(sorted(g.nodes), all_types)
    top = max((w for *_, w in g.edges(data="weight")), default=1.0)
    widths = [0.4 + 8 * w / top for *_, w in g.edges(data="weight")]
    nx.draw_networkx_edges(
        g,
        pos,
        ax=ax,
        width=widths,
        alpha=0.45,
        arrowsize=12,
        edge_color="0.3",
        connectionstyle="arc3,rad=0.12",
    )
    nx.draw_networkx_nodes(
        g, pos, ax=ax, node_size=300, node_color=[TYPE_COLOURS[all_types[n]] for n in g.nodes]
    )
    nx.draw_networkx_labels(
        g, {k: (x * 1.12, y * 1.12) for k, (x, y) in pos.items()}, ax=ax, font_size=7
    )
    big = sorted(g.edges(data="weight"), key=lambda e: -e[2])[:8]
    nx.draw_networkx_edge_labels(
        g, pos, ax=ax, font_size=7, edge_labels={(p, q): f"${w / 1e9:,.1f}B" for p, q, w in big}
    )
    handles = [
        Patch(color=c, label=t) for t, c in TYPE_COLOURS.items() if t in set(all_types.values())
    ]
    handles.append(Line2D([], [], color="0.3", lw=4, label=f"payment (widest ${top / 1e9:,.1f}B)"))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, -0.06), ncols=3)
    ax.set_title(f"{title} — total ${total / 1e9:,.0f}B")
    ax.set_axis_off()
    return fig


def lines(
    df: pd.DataFrame,
    x: str,
    ys: Mapping[str, str],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    scale: float = 1.0,
    ax: plt.Axes | None = None,
    err: Mapping[str, tuple[str, str]] | None = None,
) -> Figure:
    """Several named series against ``x`` (with optional error bands from low/high columns)."""
    if ax is None:
        fig, axes = new_figure()
        ax = axes[0, 0]
    else:
        fig = ax.figure
    for label, col in ys.items():
        ax.plot(df[x], df[col] * scale, marker="o", label=label)
        if err and label in err:
            lo, hi = err[label]
            ax.fill_between(df[x], df[lo] * scale, df[hi] * scale, alpha=0.2)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="best")
    return fig
