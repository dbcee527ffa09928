"""Figures, in one style: fan charts, heatmaps and phase diagrams, balance sheets, exposure
networks, cascade timelines and flow diagrams, and the figures of scenario discovery (PRIM's
peeling trade-off, a box's limits, feature scores, a CART tree).

Every function takes plain tables (the run tables of DESIGN §7) and returns a matplotlib
:class:`~matplotlib.figure.Figure` with a title, axis labels with units and a legend or colour
bar. :func:`save_figure` writes it byte-identically (Agg backend, fixed size and dpi, no
software or date metadata) and closes it.

Style: :data:`STYLE` (rc parameters) is applied when this module is imported and again inside
every plot function; :data:`TYPE_COLOURS` gives one colour per agent type. Money is shown in
USD billion (or million when small) with the unit in the label; time series use dates.
"""

from __future__ import annotations

import functools
import math
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import matplotlib

if "IPython" not in sys.modules:  # headless PNGs; a notebook keeps its own backend (inline)
    matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import MaxNLocator

from sim.metrics import LOSS_EVENTS

STYLE: dict[str, Any] = {
    "figure.figsize": (9.0, 5.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": True,
    "legend.framealpha": 0.85,
    "legend.edgecolor": "0.85",
    "font.family": "DejaVu Sans",
    "image.cmap": "viridis",
    "svg.hashsalt": "computesim",
    "date.autoformatter.month": "%b %Y",
}
"""The project's matplotlib style (rc parameters), used by every figure."""

TYPE_COLOURS: dict[str, str] = {
    "Lab": "#1f77b4",
    "Cloud": "#ff7f0e",
    "ChipVendor": "#2ca02c",
    "Investor": "#9467bd",
    "World": "#7f7f7f",
}
"""One colour per agent type, in every figure (``World``: parties outside the system)."""

SERIES_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
"""Colours for series that are not agent types (kinds of payment, instruments, variants)."""

DEFAULT_COLOUR = "#d62728"
"""Colour that marks defaults and losses."""

DPI = 100

matplotlib.rcParams.update(STYLE)


def styled[F: Callable[..., Any]](fn: F) -> F:
    """Run a plot function inside the project style (whatever the global rc parameters)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with plt.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@styled
def new_figure(
    nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[Figure, np.ndarray]:
    """A figure in the project style with a fixed (constrained) layout; the axes are always
    returned as a 2-D array (``axes[row, col]``)."""
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
    """Write ``fig`` as a PNG that is identical byte for byte when rebuilt from the same data
    (fixed dpi, no ``Software`` metadata, no timestamps), close it and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


# -------------------------------------------------------------------------------- helpers
def money_unit(values: Iterable[float] | float) -> tuple[float, str]:
    """Scale and unit label for money: USD billion, or USD million when everything is small."""
    arr = np.abs(np.asarray(list(values) if not np.isscalar(values) else [values], dtype=float))
    top = float(np.nanmax(arr)) if arr.size and np.isfinite(arr).any() else 0.0
    return (1e-9, "USD billion") if top >= 1e9 else (1e-6, "USD million")


def money(amount: float) -> str:
    """``$12.3B`` or ``$450M``."""
    if abs(amount) >= 1e9:
        return f"${amount / 1e9:,.1f}B"
    return f"${amount / 1e6:,.0f}M"


def _x_label(x: str) -> str:
    return {"date": "date", "step": "month of the run"}.get(x, x.replace("_", " "))


def _axes_or_new(ax: Axes | None, size: tuple[float, float] | None = None) -> tuple[Figure, Axes]:
    if ax is None:
        fig, axes = new_figure(size=size)
        return fig, axes[0, 0]
    return ax.figure, ax  # type: ignore[return-value]


def agent_type(agent: str, types: Mapping[str, str]) -> str:
    """Type of ``agent`` (``World`` for ``world:…`` ids and unknown parties)."""
    if str(agent).startswith("world:"):
        return "World"
    return types.get(agent, "World")


def _typed_circle(nodes: Sequence[str], types: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Nodes on a circle, grouped by type in the order of TYPE_COLOURS, then by name, with a
    gap between groups (deterministic)."""
    order = {t: k for k, t in enumerate(TYPE_COLOURS)}
    ranked = sorted(nodes, key=lambda n: (order.get(agent_type(n, types), 99), n))
    slots: list[str | None] = []
    for k, name in enumerate(ranked):
        if k and agent_type(name, types) != agent_type(ranked[k - 1], types):
            slots.append(None)  # gap between groups
        slots.append(name)
    n = max(len(slots), 1)
    return {
        name: np.array([math.sin(2 * math.pi * k / n), math.cos(2 * math.pi * k / n)])
        for k, name in enumerate(slots)
        if name is not None
    }


def _node_labels(ax: Axes, pos: Mapping[str, np.ndarray], radius: float = 1.09) -> None:
    """Names outside the circle, aligned away from the centre."""
    for name, (x, y) in pos.items():
        ha = "left" if x > 0.05 else "right" if x < -0.05 else "center"
        va = "bottom" if y > 0.05 else "top" if y < -0.05 else "center"
        ax.text(x * radius, y * radius, name, ha=ha, va=va, fontsize=7, zorder=6)


def _arrow(
    ax: Axes,
    a: np.ndarray,
    b: np.ndarray,
    *,
    width: float,
    colour: str,
    rad: float,
    alpha: float = 0.6,
) -> np.ndarray:
    """A curved arrow a → b; returns the midpoint of the curve (for a label)."""
    ax.add_patch(
        FancyArrowPatch(
            tuple(a),
            tuple(b),
            connectionstyle=f"arc3,rad={rad}",
            arrowstyle=f"-|>,head_length={0.4 + 0.06 * width},head_width={0.2 + 0.04 * width}",
            mutation_scale=10,
            linewidth=width,
            color=colour,
            alpha=alpha,
            shrinkA=9,
            shrinkB=9,
            zorder=2,
        )
    )
    d = b - a
    control = (a + b) / 2 + rad * np.array([d[1], -d[0]])
    return 0.25 * a + 0.5 * control + 0.25 * b


def _network_frame(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.set_axis_off()


# -------------------------------------------------------------------------------- fan chart
@styled
def fan_chart(
    df: pd.DataFrame,
    x: str,
    y: str,
    by: str = "seed",
    *,
    title: str,
    ylabel: str,
    scale: float = 1.0,
    ax: Axes | None = None,
    colour: str = "#1f77b4",
    label: str = "median",
    logy: bool = False,
    xlabel: str | None = None,
) -> Figure:
    """Median of ``y`` over runs (one per value of ``by``) with 50% and 90% bands.

    Call it again with the same ``ax`` to add series; the title ends with the number of
    seeds. ``df`` is long: one row per (run, x). ``scale`` multiplies ``y`` (e.g. ``1e-9`` for
    USD billion — say so in ``ylabel``)."""
    fig, ax = _axes_or_new(ax)
    wide = df.pivot_table(index=x, columns=by, values=y, aggfunc="mean").sort_index() * scale
    q = wide.quantile([0.05, 0.25, 0.5, 0.75, 0.95], axis=1).T
    xs = q.index.to_numpy()
    ax.fill_between(xs, q[0.05], q[0.95], color=colour, alpha=0.15, lw=0)
    ax.fill_between(xs, q[0.25], q[0.75], color=colour, alpha=0.35, lw=0)
    ax.plot(xs, q[0.5], color=colour, lw=2, label=label)
    seen = sorted({*getattr(ax, "_computesim_seeds", ()), wide.shape[1]})
    ax._computesim_seeds = seen  # type: ignore[attr-defined]
    count = f"{seen[0]}" if len(seen) == 1 else f"{seen[0]}–{seen[-1]}"
    ax.set_title(f"{title} (n = {count} seeds)")
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel or _x_label(x))
    if logy:
        ax.set_yscale("log")
    _fan_legend(ax)
    return fig


def _fan_legend(ax: Axes) -> None:
    """Series medians plus one explanation of the two bands."""
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Patch(facecolor="0.45", alpha=0.35, label="middle 50% of seeds"),
        Patch(facecolor="0.45", alpha=0.15, label="middle 90% of seeds"),
    ]
    labels += ["middle 50% of seeds", "middle 90% of seeds"]
    ax.legend(handles, labels, loc="best")


@styled
def lines(
    df: pd.DataFrame,
    x: str,
    ys: Mapping[str, str],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    scale: float = 1.0,
    ax: Axes | None = None,
    err: Mapping[str, tuple[str, str]] | None = None,
) -> Figure:
    """Several named series (``label → column``) against ``x``, with optional bands from
    (low, high) columns per label."""
    fig, ax = _axes_or_new(ax)
    for k, (label, col) in enumerate(ys.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        ax.plot(df[x], df[col] * scale, marker="o", color=colour, label=label)
        if err and label in err:
            lo, hi = err[label]
            ax.fill_between(df[x], df[lo] * scale, df[hi] * scale, color=colour, alpha=0.2)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="best")
    return fig


# -------------------------------------------------------------------------------- sweeps
def _grid(df: pd.DataFrame, x: str, y: str, value: str, aggfunc: str = "mean") -> pd.DataFrame:
    return (
        df.pivot_table(index=y, columns=x, values=value, aggfunc=aggfunc)
        .sort_index()
        .sort_index(axis=1)
    )


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around (possibly unevenly spaced) cell centres."""
    if len(centres) == 1:
        half = 0.5 * abs(centres[0]) or 0.5
        return np.array([centres[0] - half, centres[0] + half])
    mids = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mids[0]], mids, [2 * centres[-1] - mids[-1]]])


@styled
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
    vmin: float | None = None,
    vmax: float | None = None,
    annotate: bool | None = None,
    fmt: str = "{:.2f}",
) -> Figure:
    """Sweep outcome ``value`` (mean over runs) on the grid of two parameters ``x`` and ``y``,
    with a labelled colour bar and an optional contour line at ``contour`` (e.g. the 50%
    line of a probability). Cells are annotated with their value when the grid is small."""
    fig, axes = new_figure(size=(7.5, 5.5))
    ax = axes[0, 0]
    grid = _grid(df, x, y, value)
    xs, ys = grid.columns.to_numpy(dtype=float), grid.index.to_numpy(dtype=float)
    values = grid.to_numpy(dtype=float)
    mesh = ax.pcolormesh(
        _edges(xs), _edges(ys), values, cmap=cmap, shading="flat", vmin=vmin, vmax=vmax
    )
    fig.colorbar(mesh, ax=ax).set_label(cbar_label)
    if annotate if annotate is not None else values.size <= 100:
        _annotate_cells(ax, xs, ys, values, mesh, fmt)
    if contour is not None and values.shape[0] > 1 and values.shape[1] > 1:
        if np.nanmin(values) < contour < np.nanmax(values):
            cs = ax.contour(xs, ys, values, levels=[contour], colors="#00bcd4", linewidths=2)
            ax.clabel(cs, fmt={contour: f"{contour:g}"}, fontsize=8)
        ax.legend(
            [Line2D([], [], color="#00bcd4", lw=2)], [f"{cbar_label} = {contour:g}"], loc="best"
        )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(False)
    return fig


def _annotate_cells(
    ax: Axes, xs: np.ndarray, ys: np.ndarray, values: np.ndarray, mesh: Any, fmt: str
) -> None:
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            v = values[i, j]
            if np.isnan(v):
                continue
            r, g, b, _ = mesh.cmap(mesh.norm(v))
            ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            ax.text(xv, yv, fmt.format(v), ha="center", va="center", fontsize=7, color=ink)


@styled
def phase_diagram(
    df: pd.DataFrame,
    x: str,
    y: str,
    phase: str,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    cbar_label: str,
    order: Sequence[Any] | None = None,
    colours: Sequence[str] | None = None,
) -> Figure:
    """Regions of a two-parameter sweep by a categorical outcome ``phase`` (e.g. "no
    defaults" / "isolated defaults" / "systemic cascade"): each cell takes the most frequent
    phase over its runs; the colour bar names the phases in ``order``."""
    order = list(order) if order is not None else sorted(df[phase].dropna().unique(), key=str)
    codes = {p: k for k, p in enumerate(order)}
    coded = df.assign(_code=df[phase].map(codes))
    grid = _grid(coded.dropna(subset=["_code"]), x, y, "_code", aggfunc=_mode)
    xs, ys = grid.columns.to_numpy(dtype=float), grid.index.to_numpy(dtype=float)
    palette = list(colours or ["#2ca02c", "#ffbf00", "#d62728", "#7f7f7f", "#1f77b4"])
    cmap = ListedColormap([palette[k % len(palette)] for k in range(len(order))])
    norm = BoundaryNorm(np.arange(len(order) + 1) - 0.5, len(order))
    fig, axes = new_figure(size=(7.5, 5.5))
    ax = axes[0, 0]
    mesh = ax.pcolormesh(_edges(xs), _edges(ys), grid.to_numpy(float), cmap=cmap, norm=norm)
    bar = fig.colorbar(mesh, ax=ax, ticks=range(len(order)))
    bar.ax.set_yticklabels([textwrap.fill(str(p), 18) for p in order])
    bar.set_label(cbar_label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(False)
    return fig


def _mode(values: pd.Series) -> float:
    """Most frequent value (the smallest on ties, so the result is deterministic)."""
    counts = values.value_counts()
    return float(min(counts[counts == counts.max()].index))


# -------------------------------------------------------------------------------- balance sheets
ASSET_COLUMNS = {
    "cash_usd": "cash",
    "receivables_usd": "receivables",
    "fleet_usd": "GPU fleet",
    "stakes_usd": "equity stakes",
    "loans_usd": "loans granted",
    "prepaid_usd": "compute prepaid",
}
"""Asset columns of the agent table and their names in figures."""
LIABILITY_COLUMNS = {
    "payables_usd": "payables",
    "debt_usd": "debt",
    "deferred_revenue_usd": "prepayments received",
}
"""Liability columns of the agent table."""
CLAIM_COLUMNS = {**LIABILITY_COLUMNS, "equity_usd": "equity"}
"""Liabilities and equity: the right-hand side of a balance sheet."""
ASSET_COLOURS = ("#4c72b0", "#64b5cd", "#55a868", "#8172b3", "#ccb974", "#8c8c8c")
CLAIM_COLOURS = ("#c44e52", "#dd8452", "#da8bc3", "#937860")


@styled
def balance_sheets(agents: pd.DataFrame, step: int, *, title: str) -> Figure:
    """Balance sheets summed by agent type at ``step``: assets (left bar of each pair)
    against liabilities and equity (right bar), stacked, USD billion. Negative equity is
    drawn below zero, hatched."""
    at = _with_all_lines(agents[agents["step"] == step])
    sums = at.groupby("agent_type")[[*ASSET_COLUMNS, *CLAIM_COLUMNS]].sum()
    scale, unit = money_unit(sums.to_numpy().ravel())
    sums = sums * scale
    types = [t for t in TYPE_COLOURS if t in sums.index]
    xs = np.arange(len(types))
    fig, axes = new_figure(size=(10, 5.5))
    ax = axes[0, 0]
    sides = (
        (ASSET_COLUMNS, ASSET_COLOURS, -0.2, "assets"),
        (CLAIM_COLUMNS, CLAIM_COLOURS, 0.2, ""),
    )
    for columns, colours, offset, prefix in sides:
        up, down = np.zeros(len(types)), np.zeros(len(types))
        for (col, name), colour in zip(columns.items(), colours, strict=True):
            vals = sums.loc[types, col].to_numpy()
            pos, neg = np.clip(vals, 0, None), np.clip(vals, None, 0)
            label = f"{prefix}: {name}" if prefix else name
            ax.bar(xs + offset, pos, 0.38, bottom=up, color=colour, label=label)
            if (neg < 0).any():
                ax.bar(xs + offset, neg, 0.38, bottom=down, color=colour, hatch="//")
            up, down = up + pos, down + neg
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(xs, [f"{t}\nassets | liabilities & equity" for t in types])
    ax.set(title=title, ylabel=unit, xlabel="agent type")
    ax.legend(loc="upper left", ncols=2)
    return fig


def _with_all_lines(agents: pd.DataFrame) -> pd.DataFrame:
    """``agents`` with every balance-sheet column (a line a table lacks is zero)."""
    missing = [c for c in (*ASSET_COLUMNS, *CLAIM_COLUMNS) if c not in agents.columns]
    return agents.assign(**dict.fromkeys(missing, 0.0)) if missing else agents


# -------------------------------------------------------------------------------- networks
@styled
def exposure_network(
    exposures: pd.DataFrame,
    types: Mapping[str, str],
    *,
    title: str,
    defaulted: Iterable[str] = (),
    layout: Literal["circle", "spring"] = "circle",
    seed: int = 7,
) -> Figure:
    """Who is exposed to whom: an arrow creditor → debtor for each pair, width ∝ the amount
    (USD; summed over instruments), coloured by the creditor's type; nodes coloured by type;
    defaulted parties marked with a red cross. ``layout="circle"`` groups agents by type
    around a circle; ``"spring"`` uses a seeded networkx spring layout."""
    agg = exposures.groupby(["creditor", "debtor"], sort=True)["amount"].sum()
    agg = agg[agg > 0]
    nodes = sorted({*types, *agg.index.get_level_values(0), *agg.index.get_level_values(1)})
    if layout == "spring":
        g = nx.DiGraph()
        g.add_nodes_from(nodes)
        g.add_weighted_edges_from((c, d, float(a)) for (c, d), a in agg.items())
        pos = {k: np.asarray(v) for k, v in nx.spring_layout(g, seed=seed, weight=None).items()}
    else:
        pos = _typed_circle(nodes, types)
    fig, axes = new_figure(size=(9.5, 8.5))
    ax = axes[0, 0]
    top = float(agg.max()) if len(agg) else 1.0
    for (c, d), amount in agg.items():
        _arrow(
            ax,
            pos[c],
            pos[d],
            width=0.3 + 7 * amount / top,
            colour=TYPE_COLOURS[agent_type(c, types)],
            rad=0.12,
            alpha=0.45,
        )
    failed = sorted(set(defaulted) & set(nodes))
    _draw_nodes(ax, pos, types, failed)
    _node_labels(ax, pos)
    handles = _type_handles({agent_type(n, types) for n in nodes})
    handles += [
        Line2D([], [], marker="X", color=DEFAULT_COLOUR, lw=0, markersize=10, label="defaulted"),
        Line2D([], [], color="0.4", lw=7.3, label=f"exposure, widest {money(top)}"),
        Line2D([], [], color="0.4", lw=1.0, label="arrow: creditor → debtor, colour of creditor"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=3)
    _network_frame(ax, title)
    return fig


def _draw_nodes(
    ax: Axes,
    pos: Mapping[str, np.ndarray],
    types: Mapping[str, str],
    failed: Sequence[str] = (),
    sizes: Mapping[str, float] | None = None,
) -> None:
    names = list(pos)
    xy = np.array([pos[n] for n in names]).reshape(-1, 2)
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=[(sizes or {}).get(n, 160) for n in names],
        c=[TYPE_COLOURS[agent_type(n, types)] for n in names],
        edgecolors="white",
        linewidths=1,
        zorder=4,
    )
    if failed:
        fxy = np.array([pos[n] for n in failed])
        ax.scatter(
            fxy[:, 0], fxy[:, 1], marker="X", s=190, c=DEFAULT_COLOUR, edgecolors="white", zorder=5
        )


def _type_handles(present: Iterable[str]) -> list[Any]:
    present = set(present)
    return [
        Line2D([], [], marker="o", color=c, lw=0, markersize=9, label=t)
        for t, c in TYPE_COLOURS.items()
        if t in present
    ]


@styled
def flow_diagram(
    flows: pd.DataFrame,
    types: Mapping[str, str],
    *,
    title: str,
    min_share: float = 0.002,
    max_kinds: int = 7,
    labelled: int = 8,
) -> Figure:
    """The payments of one month (pass the rows of one ``step``): for each payer → payee and
    kind of payment an arrow, width ∝ amount, coloured by kind; the largest arrows labelled
    in USD. Nodes are agents grouped and coloured by type (``world:…`` parties outside the
    system in grey), sized by the money through them. Pairs below ``min_share`` of the
    total are left out (said in the legend)."""
    agg = flows.groupby(["payer", "payee", "kind"], sort=True)["amount"].sum()
    total = float(agg.sum()) or 1.0
    agg = agg[agg >= min_share * total]
    kinds = agg.groupby(level="kind").sum().sort_values(ascending=False, kind="stable")
    palette = {k: SERIES_COLOURS[i] for i, k in enumerate(kinds.index[:max_kinds])}
    nodes = sorted({*agg.index.get_level_values(0), *agg.index.get_level_values(1)})
    pos = _typed_circle(nodes, types)
    through = agg.groupby(level="payer").sum().add(agg.groupby(level="payee").sum(), fill_value=0)
    biggest = float(through.max()) if len(through) else 1.0
    sizes = {n: 60 + 500 * math.sqrt(through.get(n, 0.0) / biggest) for n in nodes}
    fig, axes = new_figure(size=(10, 9.5))
    ax = axes[0, 0]
    top = float(agg.max()) if len(agg) else 1.0
    label_at = set(agg.sort_values(ascending=False, kind="stable").index[:labelled])
    pair_count: dict[tuple[str, str], int] = {}
    for (payer, payee, kind), amount in agg.items():
        j = pair_count.get((payer, payee), 0)
        pair_count[(payer, payee)] = j + 1
        mid = _arrow(
            ax,
            pos[payer],
            pos[payee],
            width=0.4 + 8 * amount / top,
            colour=palette.get(kind, "0.6"),
            rad=0.1 + 0.07 * j,
        )
        if (payer, payee, kind) in label_at:
            ax.text(
                *mid,
                money(amount),
                fontsize=7,
                ha="center",
                va="center",
                zorder=7,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
    _draw_nodes(ax, pos, types, sizes=sizes)
    _node_labels(ax, pos)
    handles = _type_handles({agent_type(n, types) for n in nodes})
    handles += [
        Line2D([], [], color=c, lw=3, label=k.replace("_", " ")) for k, c in palette.items()
    ]
    if len(kinds) > max_kinds:
        handles.append(Line2D([], [], color="0.6", lw=3, label="other kinds"))
    handles.append(
        Line2D(
            [], [], color="0.4", lw=8.4, label=f"widest {money(top)}; < {min_share:.1%} left out"
        )
    )
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=4)
    _network_frame(ax, f"{title} — total {money(total)}")
    return fig


# -------------------------------------------------------------------------------- cascades
DEFAULT_MARKERS = {
    "default_illiquid": ("o", "default (illiquid, still solvent)"),
    "default_insolvent": ("s", "default (insolvent)"),
    "insolvent": ("v", "found insolvent, loans called"),
    "rescue": ("*", "rescued"),
}
"""Events drawn in the top panel of a cascade timeline: marker and legend text."""


def _split_events(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(default-like events, loss events). Without an ``event`` column every row with a
    defaulter is a default and every row with ``amount_lost > 0`` a loss to its creditor."""
    if "event" not in events.columns:
        ev = events.assign(event="default_insolvent")
        marks = ev.drop_duplicates(["step", "round", "defaulter"])
        return marks, ev[ev["amount_lost"] > 0].assign(event="unpaid_obligation")
    marks = events[events["event"].isin(DEFAULT_MARKERS)]
    return marks, events[events["event"].isin(LOSS_EVENTS)]


def _loss_table(
    losses: pd.DataFrame, types: Mapping[str, str], stack_by: str, months: int | None
) -> pd.DataFrame:
    if stack_by == "instrument":
        group = (
            list(losses["instrument_kind"])
            if "instrument_kind" in losses
            else ["other"] * len(losses)
        )
    else:
        group = [agent_type(b, types) if b else "World" for b in losses["creditor"]]
    table = (
        losses.assign(group=group)
        .pivot_table(index="step", columns="group", values="amount_lost", aggfunc="sum")
        .fillna(0.0)
    )
    end = months if months is not None else int(table.index.max() + 1 if len(table) else 1)
    return table.reindex(range(end), fill_value=0.0)


@styled
def cascade_timeline(
    events: pd.DataFrame,
    types: Mapping[str, str],
    months: int | None = None,
    *,
    title: str,
    stack_by: Literal["bearer", "instrument"] = "bearer",
) -> Figure:
    """Top: each default by month and clearing round (marker shape by kind of default,
    colour by the defaulter's type, names beside). Bottom: the month's losses stacked by who
    bore them (``stack_by="bearer"``, by agent type) or by instrument kind, USD."""
    fig, axes = new_figure(2, 1, size=(10, 7.5), sharex=True, height_ratios=(1, 1.2))
    top, bottom = axes[0, 0], axes[1, 0]
    marks, losses = _split_events(events)
    _default_markers(top, marks, types)
    top.set(title=title, ylabel="clearing round within the month")
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    table = _loss_table(losses, types, stack_by, months)
    scale, unit = money_unit(table.to_numpy().ravel())
    order = [t for t in TYPE_COLOURS if t in table.columns] or list(table.columns)
    order += [c for c in table.columns if c not in order]
    acc = np.zeros(len(table))
    for k, col in enumerate(order):
        colour = TYPE_COLOURS.get(col) if stack_by == "bearer" else None
        colour = colour or SERIES_COLOURS[k % len(SERIES_COLOURS)]
        vals = table[col].to_numpy() * scale
        prefix = "borne by " if stack_by == "bearer" else "on "
        bottom.bar(table.index, vals, bottom=acc, width=0.9, color=colour, label=prefix + col)
        acc += vals
    bottom.set(ylabel=f"losses in the month, {unit}", xlabel="month of the run")
    if acc.sum() > 0:
        bottom.legend(loc="upper left")
    else:
        bottom.text(0.5, 0.5, "no losses", transform=bottom.transAxes, ha="center")
    if months is not None:
        bottom.set_xlim(-1, months)
    return fig


def _default_markers(ax: Axes, marks: pd.DataFrame, types: Mapping[str, str]) -> None:
    if marks.empty:
        ax.text(0.5, 0.5, "no defaults", transform=ax.transAxes, ha="center")
        ax.set_ylim(0.5, 1.5)
        return
    for event, (marker, _text) in DEFAULT_MARKERS.items():
        rows = marks[marks["event"] == event]
        if rows.empty:
            continue
        colours = [TYPE_COLOURS[agent_type(d, types)] for d in rows["defaulter"]]
        ax.scatter(
            rows["step"],
            rows["round"],
            marker=marker,
            s=70,
            c=colours,
            edgecolors="black",
            linewidths=0.6,
            zorder=3,
        )
    for (step, rnd), group in marks.groupby(["step", "round"], sort=True):
        names = ", ".join(sorted(set(group["defaulter"])))
        ax.annotate(
            textwrap.fill(names, 40),
            (step, rnd),
            fontsize=7,
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
        )
    present = set(marks["event"])
    handles = _type_handles({agent_type(d, types) for d in marks["defaulter"]})
    handles += [
        Line2D([], [], marker=m, color="0.5", markeredgecolor="black", lw=0, label=t)
        for e, (m, t) in DEFAULT_MARKERS.items()
        if e in present
    ]
    ax.legend(handles=handles, loc="upper left", ncols=2)
    lo, hi = marks["round"].min(), marks["round"].max()
    ax.set_ylim(lo - 0.6, hi + 0.6)


# ----------------------------------------------------------------------- money by layer
MONEY_SOURCES = ("End users", "Investors", "Vendor deal money", "Cloud deal money")
"""Where the money entering the chain comes from (the left column of :func:`money_layers`)."""

MONEY_LAYERS = ("Lab", "Cloud", "ChipVendor")
"""The layers the money crosses, left to right."""

_LAYER_NAMES = {"Lab": "Labs", "Cloud": "Clouds", "ChipVendor": "Vendors"}


def layer_links(provenance: pd.DataFrame, types: Mapping[str, str]) -> pd.DataFrame:
    """Money through the chain (rows of :func:`sim.metrics.payment_provenance`, e.g. one
    year): from end users, investors, and vendors or clouds putting deal money (stakes,
    vendor financing, backstop purchases) into the layer before them, to labs, clouds and
    vendors, and between those layers, each link with its round-trip part. Debt service,
    costs and flows within a layer are left out; an enterprise joint venture's vehicle is an
    investor, so what end users pay it reaches its lab as investors' money. Columns
    ``source``, ``target``, ``amount_usd``, ``round_trip_usd``."""
    payer_type = provenance["payer"].map(lambda p: agent_type(p, types))
    payee_type = provenance["payee"].map(lambda p: agent_type(p, types))
    rank = {t: k for k, t in enumerate(MONEY_LAYERS)}
    source = payer_type.copy()
    source[provenance["payer"] == "world:customers"] = "End users"
    source[payer_type == "Investor"] = "Investors"
    upstream = payer_type.map(rank).fillna(-1) > payee_type.map(rank).fillna(99)
    source[upstream & (payer_type == "ChipVendor")] = "Vendor deal money"
    source[upstream & (payer_type == "Cloud")] = "Cloud deal money"
    frame = provenance.assign(source=source, target=payee_type)
    keep = frame["source"].isin((*MONEY_SOURCES, *MONEY_LAYERS)) & frame["target"].isin(
        MONEY_LAYERS
    )
    keep &= frame["source"] != frame["target"]
    keep &= ~frame["kind"].isin(("interest", "principal"))
    links = (
        frame[keep]
        .groupby(["source", "target"], sort=True)
        .agg(amount_usd=("amount", "sum"), round_trip_usd=("round_trip_usd", "sum"))
        .reset_index()
    )
    return links[links["amount_usd"] > 0].reset_index(drop=True)


def _band(
    ax: Axes,
    x0: float,
    y0: tuple[float, float],
    x1: float,
    y1: tuple[float, float],
    colour: str,
    alpha: float,
    hatch: str | None = None,
) -> None:
    """A Sankey band from the edge ``x0`` (``y0`` = bottom, top) to the edge ``x1``."""
    mid = (x0 + x1) / 2
    verts = [
        (x0, y0[1]),
        (mid, y0[1]),
        (mid, y1[1]),
        (x1, y1[1]),
        (x1, y1[0]),
        (mid, y1[0]),
        (mid, y0[0]),
        (x0, y0[0]),
        (x0, y0[1]),
    ]
    codes = [MplPath.MOVETO, *[MplPath.CURVE4] * 3, MplPath.LINETO, *[MplPath.CURVE4] * 3]
    codes.append(MplPath.CLOSEPOLY)
    patch = PathPatch(
        MplPath(verts, codes), facecolor=colour, edgecolor="none", alpha=alpha, hatch=hatch
    )
    ax.add_patch(patch)


@styled
def money_layers(links: pd.DataFrame, *, title: str) -> Figure:
    """Sankey-style diagram of :func:`layer_links`: the sources of money on the left, then
    labs, clouds and vendors; a band per link, width ∝ USD, coloured by its source; the
    round-trip part of each band (the receiving layer's own money or credits coming back)
    drawn red and hatched along its lower edge, with its share in the label."""
    fig, axes = new_figure(size=(12, 7))
    ax = axes[0, 0]
    colour = {
        "End users": TYPE_COLOURS["World"],
        "Investors": TYPE_COLOURS["Investor"],
        "Vendor deal money": TYPE_COLOURS["ChipVendor"],
        "Cloud deal money": TYPE_COLOURS["Cloud"],
        **{k: TYPE_COLOURS[k] for k in MONEY_LAYERS},
    }
    x_of = {**dict.fromkeys(MONEY_SOURCES, 0.0), "Lab": 1.0, "Cloud": 2.0, "ChipVendor": 3.0}
    order = {n: k for k, n in enumerate((*MONEY_SOURCES, *MONEY_LAYERS))}
    present = set(links["source"]) | set(links["target"])
    nodes = [n for n in order if n in present]
    inflow = links.groupby("target")["amount_usd"].sum()
    outflow = links.groupby("source")["amount_usd"].sum()
    size = {n: max(inflow.get(n, 0.0), outflow.get(n, 0.0)) for n in nodes}
    gap = 0.04
    column_total = max(
        sum(size[n] for n in nodes if x_of[n] == 0.0), max(size.values(), default=1.0), 1.0
    )
    scale = 1.0 / column_total
    top: dict[str, float] = {}
    y = 1.0 + gap * 3
    for n in nodes:
        if x_of[n] == 0.0:
            top[n] = y
            y -= size[n] * scale + gap
        else:
            top[n] = 1.0 + gap * 3 - (column_total - size[n]) * scale / 2
    width = 0.06
    for n in nodes:
        h = size[n] * scale
        ax.add_patch(
            Rectangle((x_of[n] - width / 2, top[n] - h), width, h, color=colour[n], zorder=3)
        )
        name = _LAYER_NAMES.get(n, n)
        if x_of[n] == 0.0:
            ax.text(
                x_of[n] - width,
                top[n] - h / 2,
                f"{name}\n{money(size[n])}",
                ha="right",
                va="center",
                fontsize=9,
            )
        else:
            ax.text(
                x_of[n],
                top[n] + 0.015,
                f"{name}\n{money(size[n])}",
                ha="center",
                va="bottom",
                fontsize=10,
                fontweight="bold",
            )
    out_at, in_at = dict(top), dict(top)
    ranked = links.assign(s=links["source"].map(order), t=links["target"].map(order)).sort_values(
        ["t", "s"]
    )
    total = float(links["amount_usd"].sum()) or 1.0
    for row in ranked.itertuples(index=False):
        w = row.amount_usd * scale
        trip = min(row.round_trip_usd, row.amount_usd) * scale
        x0, x1 = x_of[row.source] + width / 2, x_of[row.target] - width / 2
        y0 = (out_at[row.source] - w, out_at[row.source])
        y1 = (in_at[row.target] - w, in_at[row.target])
        _band(ax, x0, y0, x1, y1, colour[row.source], 0.35)
        if trip > 0:
            _band(
                ax,
                x0,
                (y0[0], y0[0] + trip),
                x1,
                (y1[0], y1[0] + trip),
                DEFAULT_COLOUR,
                0.8,
                hatch="//",
            )
        out_at[row.source] -= w
        in_at[row.target] -= w
        if row.amount_usd >= 0.02 * total:
            label = money(row.amount_usd)
            if row.round_trip_usd > 0.005 * row.amount_usd:
                label += f" ({row.round_trip_usd / row.amount_usd:.0%} round trip)"
            at = 0.5 if x1 - x0 < 1.5 else 0.2  # long bands: label near the source
            ax.text(
                x0 + (x1 - x0) * at,
                (1 - at) * (y0[0] + y0[1]) / 2 + at * (y1[0] + y1[1]) / 2,
                label,
                ha="center",
                va="center",
                fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1},
            )
    ax.set_xlim(-0.75, 3.25)
    ax.set_ylim(min(top[n] - size[n] * scale for n in nodes) - 0.12, 1.0 + gap * 3 + 0.12)
    ax.axis("off")
    ax.legend(
        handles=[
            Patch(
                facecolor=DEFAULT_COLOUR,
                alpha=0.8,
                hatch="//",
                label="round trip: the receiving layer's own money or credits coming back",
            ),
            Patch(facecolor="#cccccc", label="band width ∝ USD, coloured by source"),
        ],
        loc="lower center",
        fontsize=8,
    )
    ax.set_title(title)
    return fig


# -------------------------------------------------------------------------------- one run
MARKET_SERIES: dict[str, tuple[str, str]] = {
    "spot_price_usd_per_gpu_hour": ("spot price", "#d62728"),
    "full_cost_usd_per_gpu_hour": ("full cost of a GPU-hour", "#7f7f7f"),
    "installed_gpus": ("installed", "#1f77b4"),
    "need_gpus": ("need: labs and buyers beyond them", "#ff7f0e"),
    "need_at_full_cost_gpus": ("need at full cost", "#9467bd"),
    "utilisation": ("utilisation", "#2ca02c"),
    "defaults_cumulative": ("defaults, cumulative", "#000000"),
}
"""Columns of the model table drawn by :func:`market_panels`: legend text and colour."""


@styled
def market_panels(
    model: pd.DataFrame,
    *,
    title: str,
    reference: pd.DataFrame | None = None,
    reference_label: str = "default parameters",
    size: tuple[float, float] = (12.0, 7.5),
) -> Figure:
    """The market of one run over time (model table, one row per month, dates on x): spot
    price against the full cost of a GPU-hour; installed capacity against the labs' need
    (at the spot price and at full cost); utilisation; defaults. ``reference`` (another
    model table, e.g. the same seed with default parameters) is overlaid dashed, labelled
    ``reference_label``. An empty table gives empty, labelled panels."""
    fig, axes = new_figure(2, 2, size=size, sharex=True)
    runs = [(model, "-", 1.0, "")]
    if reference is not None:
        runs.append((reference, "--", 0.6, f" ({reference_label})"))
    panels = (
        (axes[0, 0], ("spot_price_usd_per_gpu_hour", "full_cost_usd_per_gpu_hour"), 1.0),
        (axes[0, 1], ("installed_gpus", "need_gpus", "need_at_full_cost_gpus"), 1e-6),
        (axes[1, 0], ("utilisation",), 100.0),
    )
    for ax, columns, scale in panels:
        for df, style, alpha, suffix in runs:
            for col in columns:
                label, colour = MARKET_SERIES[col]
                ax.plot(
                    df["date"], df[col] * scale, ls=style, color=colour, alpha=alpha,
                    label=label + suffix,
                )  # fmt: skip
    ax = axes[1, 1]
    for df, style, alpha, suffix in runs:
        label, colour = MARKET_SERIES["defaults_cumulative"]
        ax.step(
            df["date"], df["defaults_cumulative"], where="post", ls=style, color=colour,
            alpha=alpha, label=label + suffix,
        )  # fmt: skip
    new = model[model["new_defaults"] > 0]
    if len(new):
        ax.bar(new["date"], new["new_defaults"], width=25, color=DEFAULT_COLOUR, label="new")
    axes[0, 0].set(title="Compute price and full cost", ylabel="USD per H100-eq GPU-hour")
    axes[0, 1].set(title="Capacity and need", ylabel="million H100-eq GPUs")
    axes[1, 0].set(title="Utilisation of installed capacity", ylabel="% of installed GPUs")
    axes[1, 0].set_ylim(0, 105)
    top = max([1.0, *(float(df["defaults_cumulative"].max()) for df, *_ in runs if len(df))])
    ax.set(title="Defaults", ylabel="parties in default", ylim=(0, 1.1 * top))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for a in axes.ravel():
        a.legend(loc="best")
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    for a in axes[1]:
        a.set_xlabel("date")
        a.xaxis.set_major_locator(locator)
        a.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.suptitle(title)
    return fig


# -------------------------------------------------------------------------------- calibration
@styled
def calibration_marks(
    ax: Axes,
    marks: pd.DataFrame,
    *,
    colour: str = "black",
    label: str = "recorded (range)",
    scale: float = 1.0,
) -> None:
    """Draw calibration targets on a fan chart: a point with its acceptable range as an error
    bar for a month (``start == end``), and a line across the months with the range as a
    shaded box for a span (e.g. a year's revenue shown as its mean monthly run-rate).

    ``marks`` has columns ``start``, ``end`` (dates), ``value``, ``low``, ``high`` in the
    axis unit before ``scale``. The legend is redrawn with the fan chart's bands."""
    labelled = False
    for m in marks.itertuples():
        value, low, high = m.value * scale, m.low * scale, m.high * scale
        tag = None if labelled else label
        if m.start == m.end:
            ax.errorbar(
                [m.start],
                [value],
                yerr=[[value - low], [high - value]],
                fmt="D",
                color=colour,
                ecolor=colour,
                markersize=6,
                markeredgecolor="white",
                capsize=4,
                lw=1.5,
                zorder=5,
                label=tag,
            )
        else:
            ax.fill_between(
                [m.start, m.end], [low, low], [high, high], color=colour, alpha=0.12, lw=0
            )
            ax.plot([m.start, m.end], [value, value], color=colour, lw=2.5, ls="--", label=tag)
        labelled = True
    _fan_legend(ax)


@styled
def calibration_ratios(report: pd.DataFrame, *, title: str) -> Figure:
    """Each target's model median ÷ recorded value (log scale) with its 90% interval over
    seeds, against the acceptable range (grey bar, also ÷ value). Green: median in range.

    ``report`` has columns ``id``, ``value``, ``low``, ``high``, ``median``, ``p05``,
    ``p95``, ``in_range`` (see :func:`sim.calibration.calibration_report`)."""
    rows = report.iloc[::-1].reset_index(drop=True)
    height = max(4.0, 0.24 * len(rows) + 1.6)
    fig, axes = new_figure(size=(9.0, height))
    ax = axes[0, 0]
    ys = np.arange(len(rows))

    def rel(col: str) -> np.ndarray:
        r = rows[col].to_numpy(dtype=float) / rows["value"].to_numpy(dtype=float)
        # a model figure of the wrong sign sits at the left edge, with the tiny ones
        return np.where(np.isnan(r), np.nan, np.clip(np.where(r > 0, r, 1e-3), 1e-3, 1e2))

    lo, hi = rel("low"), rel("high")
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    ax.barh(ys, hi - lo, left=lo, height=0.6, color="0.85", label="acceptable range")
    med, p05, p95 = rel("median"), rel("p05"), rel("p95")
    p05, p95 = np.fmin(p05, p95), np.fmax(p05, p95)
    ok = rows["in_range"].to_numpy(dtype=bool)
    for mask, colour, name in ((ok, "#2ca02c", "in range"), (~ok, DEFAULT_COLOUR, "out of range")):
        ax.errorbar(
            med[mask],
            ys[mask],
            xerr=[med[mask] - p05[mask], p95[mask] - med[mask]],
            fmt="o",
            color=colour,
            capsize=2,
            markersize=4,
            lw=1,
            label=f"model median, {name} (90% of seeds)",
        )
    ax.axvline(1.0, color="0.3", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(1e-3 / 1.5, 1e2 * 1.5)
    ax.set_yticks(ys, rows["id"], fontsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(
        "model ÷ recorded value (log scale; 1 = the record; clipped at 10⁻³ and 10², "
        "wrong sign at 10⁻³)"
    )
    count = int(ok.sum())
    ax.set_title(f"{title}: {count} of {len(rows)} targets in range")
    ax.legend(loc="lower right")
    return fig


@styled
def round_trip_shares(
    table: pd.DataFrame, types: Mapping[str, str], *, title: str, size=(9.0, 6.0)
) -> Figure:
    """Circularity by party: horizontal bars of the share of each party's revenue that is
    its own invested money coming back (``round_trip_share``, from
    :func:`sim.metrics.round_trip_by_party`), coloured by agent type, each labelled with the
    round-trip amount and the revenue (USD)."""
    fig, axes = new_figure(size=size)
    ax = axes[0, 0]
    if table.empty:
        ax.text(0.5, 0.5, "no revenue between agents yet", ha="center", transform=ax.transAxes)
    else:
        rows = table.iloc[::-1]
        ys = np.arange(len(rows))
        ax.barh(
            ys,
            100 * rows["round_trip_share"],
            color=[TYPE_COLOURS[agent_type(p, types)] for p in rows["party"]],
        )
        for y, row in zip(ys, rows.itertuples(), strict=True):
            ax.text(
                100 * row.round_trip_share + 0.5,
                y,
                # escaped: two dollar signs in one text would start matplotlib mathtext
                rf"{row.round_trip_share:.0%}: {money(row.round_trip_usd)} of "
                rf"{money(row.revenue_usd)}".replace("$", r"\$"),
                va="center",
                fontsize=7,
            )
        ax.set_yticks(ys, list(rows["party"]))
        ax.set_xlim(0, 110)
        ax.legend(handles=_type_handles({agent_type(p, types) for p in rows["party"]}))
    ax.set(title=title, xlabel="share of revenue that is the party's own money coming back (%)")
    ax.grid(axis="y", visible=False)
    return fig


# ------------------------------------------------------------------- scenario discovery
@styled
def peeling_tradeoff(
    trajectory: pd.DataFrame,
    chosen: int,
    *,
    min_density: float,
    title: str,
    ax: Axes | None = None,
) -> Figure:
    """PRIM's peeling trajectory as coverage against density, one point per candidate box,
    coloured by the number of restricted inputs; the chosen box is ringed and the density
    it had to reach is a dashed line. ``trajectory``: columns ``coverage``, ``density``,
    ``res_dim`` (and optionally ``stage``, "pruned" for boxes made by dropping a
    restriction), indexed by trajectory index."""
    fig, ax = _axes_or_new(ax, size=(7.5, 5.5))
    dims = trajectory["res_dim"].astype(int)
    levels = np.arange(int(dims.min()), int(dims.max()) + 2) - 0.5
    cmap = plt.get_cmap("viridis", max(len(levels) - 1, 1))
    norm = BoundaryNorm(levels, cmap.N)
    pruned = (
        trajectory["stage"].eq("pruned")
        if "stage" in trajectory
        else pd.Series(False, index=trajectory.index)
    )
    points = None
    for mask, marker, label in (
        (~pruned, "o", "PRIM's boxes (peeling and pasting)"),
        (pruned, "s", "a non-significant restriction dropped (kept if dense enough)"),
    ):
        if mask.any():
            points = ax.scatter(
                trajectory.loc[mask, "coverage"],
                trajectory.loc[mask, "density"],
                c=dims[mask],
                cmap=cmap,
                norm=norm,
                marker=marker,
                s=28 if marker == "o" else 40,
                edgecolors="0.3",
                linewidths=0.4,
                zorder=3,
                label=label,
            )
    bar = fig.colorbar(points, ax=ax, ticks=range(int(dims.min()), int(dims.max()) + 1))
    bar.set_label("restricted inputs (count)")
    ax.axhline(
        min_density, color="0.4", ls="--", lw=1, label=f"density required ({min_density:.0%})"
    )
    pick = trajectory.loc[chosen]
    ax.scatter(
        [pick["coverage"]],
        [pick["density"]],
        s=220,
        facecolors="none",
        edgecolors=DEFAULT_COLOUR,
        linewidths=2,
        zorder=4,
        label=f"chosen box: coverage {pick['coverage']:.0%}, density {pick['density']:.0%}",
    )
    ax.set(
        title=textwrap.fill(title, 75),
        xlabel="coverage (share of the runs of interest inside the box)",
        ylabel="density (share of the runs in the box that are of interest)",
        xlim=(-0.02, 1.05),
        ylim=(0, 1.05),
    )
    ax.legend(loc="lower left")
    return fig


@styled
def box_limits(
    box: pd.DataFrame,
    ranges: Mapping[str, tuple[float, float]],
    *,
    title: str,
    labels: Mapping[str, str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A PRIM box: for each restricted input, the sampled range (grey) and the box's limits
    within it (coloured), on a common 0–1 scale of each input's range, with the limits in the
    input's units written at the ends and the quasi-p values in the labels. ``box``: rows
    with ``parameter``, ``low``, ``high``, ``qp_low``, ``qp_high``, ``coverage``,
    ``density`` (see :func:`sim.discovery.box_table`); ``ranges``: sampled (min, max) per
    parameter; ``labels``: display names (with units) per parameter."""
    n = max(len(box), 1)
    fig, ax = _axes_or_new(ax, size=(9.0, 2.0 + 0.8 * n))
    names = labels or {}
    ticks = []
    for k, row in enumerate(box.itertuples()):
        lo0, hi0 = ranges[row.parameter]
        span = (hi0 - lo0) or 1.0
        a, b = (row.low - lo0) / span, (row.high - lo0) / span
        ax.barh(
            k, 1.0, left=0.0, height=0.5, color="0.88", label="sampled range" if k == 0 else None
        )
        ax.barh(
            k,
            b - a,
            left=a,
            height=0.5,
            color=SERIES_COLOURS[0],
            label="box" if k == 0 else None,
        )
        if row.low > lo0:
            ax.text(a, k - 0.3, f"≥ {row.low:.3g}", ha="center", va="bottom", fontsize=8)
        if row.high < hi0:
            ax.text(b, k - 0.3, f"≤ {row.high:.3g}", ha="center", va="bottom", fontsize=8)
        qps = [f"{q:.1g}" for q in (row.qp_low, row.qp_high) if not pd.isna(q)]
        name = names.get(row.parameter, row.parameter)
        ticks.append(textwrap.fill(name, 34) + (f"\nquasi-p {', '.join(qps)}" if qps else ""))
    ax.set_yticks(range(len(ticks)), ticks)
    ax.invert_yaxis()
    ax.set_ylim(len(ticks) - 0.4, -0.9)
    ax.set_xlim(-0.05, 1.05)
    if box.empty:
        ax.text(0.5, 0.5, "no restricted input", transform=ax.transAxes, ha="center")
        stats = ""
    else:
        first = box.iloc[0]
        stats = (
            f"\nbox: coverage {first['coverage']:.0%}, density {first['density']:.0%}, "
            f"mass {first['mass']:.0%} of the runs"
        )
    ax.set(
        title=textwrap.fill(title, 75) + stats,
        xlabel="position within the sampled range (0 = minimum, 1 = maximum)",
    )
    ax.grid(False, axis="y")
    ax.legend(loc="lower right", ncols=2)
    return fig


@styled
def calibration_table(report: pd.DataFrame, *, title: str, fmt: Callable[[float], str]) -> Figure:
    """The calibration report as a table figure: target, unit, month(s), range, model median,
    90% interval over seeds, in range (✓ green / ✗ red) and model ÷ record."""
    header = ["target", "unit", "when", "range", "median", "90% interval", "in", "model÷rec"]
    cells = [
        [
            r.id,
            r.unit,
            r.date,
            f"{fmt(r.low)} – {fmt(r.high)}",
            fmt(r.median),
            f"{fmt(r.p05)} – {fmt(r.p95)}",
            "✓" if r.in_range else "✗",
            fmt(r.ratio),
        ]
        for r in report.itertuples()
    ]
    height = 0.22 * (len(cells) + 1) + 0.9
    fig, axes = new_figure(size=(11.0, height))
    ax = axes[0, 0]
    ax.axis("off")
    table = ax.table(
        cellText=cells,
        colLabels=header,
        loc="upper center",
        cellLoc="left",
        colWidths=[0.27, 0.15, 0.14, 0.1, 0.07, 0.12, 0.03, 0.08],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    table.scale(1.0, 1.15)
    for (row, col), cell in table.get_celld().items():
        cell.set_edgecolor("0.85")
        if row == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("0.93")
        elif col == 6:
            ok = cells[row - 1][6] == "✓"
            cell.set_facecolor("#d9f2d9" if ok else "#f8d7d7")
            cell.get_text().set_ha("center")
    count = int(report["in_range"].sum())
    ax.set_title(
        f"{title}: {count} of {len(report)} targets in range "
        f"(model median over {int(report['seeds'].max())} seeds)"
    )
    return fig


@styled
def feature_score_bars(
    scores: pd.DataFrame, *, title: str, labels: Mapping[str, str] | None = None
) -> Figure:
    """Feature scores (``parameter``, ``score``: shares summing to 1) as horizontal bars,
    highest first, with the equal-share line (1 / number of inputs) for reference."""
    names = labels or {}
    fig, axes = new_figure(size=(8.0, 1.5 + 0.45 * len(scores)))
    ax = axes[0, 0]
    ys = np.arange(len(scores))
    ax.barh(ys, scores["score"], color=SERIES_COLOURS[0], label="feature score (extra trees)")
    ax.axvline(1 / max(len(scores), 1), color="0.4", ls="--", lw=1, label="equal share (no signal)")
    ax.set_yticks(ys, [textwrap.fill(names.get(p, p), 40) for p in scores["parameter"]])
    ax.invert_yaxis()
    ax.set(title=textwrap.fill(title, 48), xlabel="share of the forest's impurity decrease")
    ax.legend(loc="best")
    return fig


@styled
def decision_tree(
    classifier: Any,
    feature_names: Sequence[str],
    *,
    title: str,
    class_names: Sequence[str] = ("not of interest", "of interest"),
) -> Figure:
    """A fitted scikit-learn decision tree (CART), drawn with ``sklearn.tree.plot_tree``:
    each node shows its split, Gini impurity, runs and runs per class; colour marks the
    majority class (orange: not of interest, blue: of interest, paler when mixed)."""
    from sklearn.tree import plot_tree  # optional extra `discover`

    leaves = int(classifier.get_n_leaves())
    depth = int(classifier.get_depth())
    fig, axes = new_figure(size=(max(9.0, 2.2 * leaves), max(4.5, 1.6 * (depth + 1))))
    ax = axes[0, 0]
    plot_tree(
        classifier,
        feature_names=list(feature_names),
        class_names=list(class_names),
        filled=True,
        impurity=True,
        proportion=False,
        rounded=True,
        fontsize=8,
        ax=ax,
    )
    ax.legend(
        handles=[
            Patch(color="#e58139", label=class_names[0]),
            Patch(color="#399de5", label=class_names[1]),
        ],
        loc="upper right",
        title="majority class",
    )
    ax.set_title(textwrap.fill(title, 90))
    return fig


@styled
def box_scatter(
    runs: pd.DataFrame,
    x: str,
    y: str,
    of_interest: pd.Series,
    box: pd.DataFrame,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    interest_label: str = "run of interest",
    ax: Axes | None = None,
) -> Figure:
    """The runs on two of the box's inputs, runs of interest in red, the others grey, and the
    box's limits on those two inputs as a rectangle (a free side reaches the sampled edge).
    ``box``: rows with ``parameter``, ``low``, ``high`` (see :func:`sim.discovery.box_table`);
    the other restricted inputs of the box are listed in the legend."""
    fig, ax = _axes_or_new(ax, size=(7.5, 5.5))
    hit = of_interest.to_numpy(dtype=bool)
    ax.scatter(runs.loc[~hit, x], runs.loc[~hit, y], s=18, color="0.65", label="other run")
    ax.scatter(runs.loc[hit, x], runs.loc[hit, y], s=22, color=DEFAULT_COLOUR, label=interest_label)
    limits = box.set_index("parameter")
    x0, x1 = limits.loc[x, ["low", "high"]] if x in limits.index else runs[x].agg(["min", "max"])
    y0, y1 = limits.loc[y, ["low", "high"]] if y in limits.index else runs[y].agg(["min", "max"])
    others = [p for p in limits.index if p not in (x, y)]
    note = (
        ""
        if not others
        else " (and limits on " + ", ".join(p.removeprefix("p:") for p in others) + ")"
    )
    ax.add_patch(
        plt.Rectangle(
            (x0, y0),
            x1 - x0,
            y1 - y0,
            fill=False,
            edgecolor=SERIES_COLOURS[0],
            lw=2,
            label=textwrap.fill("PRIM box" + note, 45),
        )
    )
    ax.set(title=textwrap.fill(title, 75), xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="best")
    return fig
