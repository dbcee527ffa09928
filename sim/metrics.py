"""Metrics of a run: pure functions on the flow log and the model tables (DESIGN §5).

Nothing here imports Mesa or the model: every function takes plain tables or arrays, so each
can be tested alone against the published or hand-computed cases of docs/validation.md.

The flow log (``sim.ledger.Ledger.flows``) has one row per payment with the columns
``step`` (month), ``payer``, ``payee`` (agent ids), ``amount`` (USD, ≥ 0), ``kind`` and
``instrument``. Ids starting with ``world:`` are outside the system (end-user customers,
suppliers, founders): they are the boundary, never nodes of the payment network.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

# --- circularity ---
#
# Circularity is the share of payments that return, directly or along a chain, to the party
# that funded them (DESIGN §5, VALIDATION "Circularity" K1, K2). Four views of it:
#
# * cycles of the month's flow graph (``payment_cycles``): which deals carry the round trips;
# * excess gross (``excess_gross_share``): how much of the gross could be netted away;
# * Finn's cycling index and each agent's round-trip share (``finn_cycling_index``,
#   ``cycled_throughflow_share``): the share of throughflow that comes back;
# * provenance (``payment_provenance``): which payments are paid with money the payee had
#   itself invested in the payer (pro-rata tracing of cash by origin, row by row).

WORLD_PREFIX = "world:"
"""Ids with this prefix are outside the system (same convention as ``sim.ledger``)."""


def is_boundary(agent_id: str) -> bool:
    """True for an id outside the system (``world:…``): a source or sink, not a node."""
    return str(agent_id).startswith(WORLD_PREFIX)


def _validated(flows: pd.DataFrame, required: Sequence[str]) -> pd.DataFrame:
    """Check the flow-log columns a metric needs and the amounts; return the log unchanged.

    Raises ``ValueError`` naming the offending column: a missing column, a negative, NaN or
    infinite ``amount``, or a row whose payer is its own payee.
    """
    if not isinstance(flows, pd.DataFrame):
        raise ValueError(f"flow log must be a pandas DataFrame, not {type(flows).__name__}")
    missing = [c for c in required if c not in flows.columns]
    if missing:
        raise ValueError(
            f"flow log is missing column {missing[0]!r} (needs {', '.join(map(repr, required))})"
        )
    if "amount" in required and len(flows):
        try:
            amount = pd.to_numeric(flows["amount"], errors="raise").to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"column 'amount' must be numeric USD: {exc}") from None
        bad = ~np.isfinite(amount)
        if bad.any():
            row = flows.index[np.flatnonzero(bad)[0]]
            raise ValueError(f"column 'amount' has a NaN or infinite value (row {row!r})")
        if (amount < 0).any():
            row = flows.index[np.flatnonzero(amount < 0)[0]]
            raise ValueError(
                f"column 'amount' has a negative payment (row {row!r}: {amount[amount < 0][0]})"
            )
    if "payer" in required and "payee" in required and len(flows):
        same = (flows["payer"] == flows["payee"]).to_numpy()
        if same.any():
            row = flows.index[np.flatnonzero(same)[0]]
            raise ValueError(f"columns 'payer' and 'payee' are equal (row {row!r}): self-payment")
    return flows


_FLOW_COLUMNS = ("payer", "payee", "amount")

INVESTMENT_KINDS: tuple[str, ...] = (
    "equity_investment",
    "loan_advance",
    "vendor_financing",
    "strategic_equity",
)
"""Flow kinds that put money into a company (the investor becomes the money's origin)."""


@dataclass(frozen=True)
class FlowNetwork:
    """A period's payments as a network.

    - ``matrix[i, j]``: total USD paid by ``nodes[i]`` to ``nodes[j]`` (gross, ≥ 0, zero
      diagonal);
    - ``inflow[i]``: USD ``nodes[i]`` received from outside the system (``world:`` payers,
      e.g. end-user service revenue);
    - ``outflow[i]``: USD ``nodes[i]`` paid outside the system (operating costs, capex).
    """

    matrix: np.ndarray
    nodes: list[str]
    inflow: np.ndarray
    outflow: np.ndarray

    @property
    def gross(self) -> float:
        """Total USD paid between agents inside the system."""
        return float(self.matrix.sum())

    @property
    def throughflow(self) -> np.ndarray:
        """Each agent's throughflow T_i, USD: the larger of its total receipts and its total
        payments, boundary flows included.

        Money an agent pays out of its opening cash (payments > receipts) counts as an input
        from its own stock, money it keeps (receipts > payments) as an output to its stock, as
        in ecological network analysis of systems that are not in steady state. With this T
        every agent's inputs and outputs balance, so the Finn matrix G is substochastic.
        """
        received = self.matrix.sum(axis=0) + self.inflow
        paid = self.matrix.sum(axis=1) + self.outflow
        return np.maximum(received, paid)


def internal_nodes(flows: pd.DataFrame) -> list[str]:
    """Sorted ids of the agents in the flow log (payers and payees not starting ``world:``)."""
    _validated(flows, ("payer", "payee"))
    ids = pd.unique(pd.concat([flows["payer"], flows["payee"]], ignore_index=True).astype(str))
    return sorted(i for i in ids if not is_boundary(i))


def flow_network(flows: pd.DataFrame, nodes: Sequence[str] | None = None) -> FlowNetwork:
    """Aggregate a flow log (any number of rows and steps) into a :class:`FlowNetwork`.

    ``nodes`` fixes the order (and may include agents that did not pay that period); by
    default the sorted internal ids of ``flows``. A payment involving an agent not in
    ``nodes`` raises ``ValueError``.
    """
    _validated(flows, _FLOW_COLUMNS)
    nodes = internal_nodes(flows) if nodes is None else [str(n) for n in nodes]
    if any(is_boundary(n) for n in nodes):
        raise ValueError("nodes must not include 'world:' ids (they are the boundary)")
    if len(set(nodes)) != len(nodes):
        raise ValueError("nodes must be unique")
    n = len(nodes)
    matrix = np.zeros((n, n))
    inflow = np.zeros(n)
    outflow = np.zeros(n)
    if len(flows) == 0:
        return FlowNetwork(matrix, nodes, inflow, outflow)
    payer = flows["payer"].astype(str)
    payee = flows["payee"].astype(str)
    amount = flows["amount"].to_numpy(dtype=float)
    pos = {a: k for k, a in enumerate(nodes)}
    src_world = payer.str.startswith(WORLD_PREFIX).to_numpy()
    dst_world = payee.str.startswith(WORLD_PREFIX).to_numpy()
    src = payer.map(pos).to_numpy(dtype=float)
    dst = payee.map(pos).to_numpy(dtype=float)
    unknown = (~src_world & np.isnan(src)) | (~dst_world & np.isnan(dst))
    if unknown.any():
        k = np.flatnonzero(unknown)[0]
        who = payer.iloc[k] if not src_world[k] and np.isnan(src[k]) else payee.iloc[k]
        raise ValueError(f"agent {who!r} in column 'payer'/'payee' is not in nodes")
    internal = ~src_world & ~dst_world
    np.add.at(matrix, (src[internal].astype(int), dst[internal].astype(int)), amount[internal])
    into = src_world & ~dst_world
    np.add.at(inflow, dst[into].astype(int), amount[into])
    out = ~src_world & dst_world
    np.add.at(outflow, src[out].astype(int), amount[out])
    return FlowNetwork(matrix, nodes, inflow, outflow)


def flow_matrix(
    flows: pd.DataFrame, nodes: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Gross flow matrix among the agents: ``F[i, j]`` = total USD paid ``nodes[i]`` → ``nodes[j]``.

    Payments to or from ``world:`` ids are left out (see :func:`boundary_inflows` and
    :func:`boundary_outflows`). Returns ``(F, nodes)``.
    """
    net = flow_network(flows, nodes)
    return net.matrix, net.nodes


def boundary_inflows(flows: pd.DataFrame, nodes: Sequence[str] | None = None) -> pd.Series:
    """USD each agent received from outside the system (``world:`` payers), by agent id."""
    net = flow_network(flows, nodes)
    return pd.Series(net.inflow, index=pd.Index(net.nodes, name="agent"), name="inflow_usd")


def boundary_outflows(flows: pd.DataFrame, nodes: Sequence[str] | None = None) -> pd.Series:
    """USD each agent paid outside the system (``world:`` payees), by agent id."""
    net = flow_network(flows, nodes)
    return pd.Series(net.outflow, index=pd.Index(net.nodes, name="agent"), name="outflow_usd")


def _as_matrix(flows_or_matrix: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, list]:
    """A gross flow matrix and its labels from a flow log or a square array."""
    if isinstance(flows_or_matrix, pd.DataFrame):
        return flow_matrix(flows_or_matrix)
    matrix = np.asarray(flows_or_matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"flow matrix must be square, got shape {matrix.shape}")
    if not np.isfinite(matrix).all() or (matrix < 0).any():
        raise ValueError("flow matrix entries ('amount') must be finite and ≥ 0")
    if np.diagonal(matrix).any():
        raise ValueError("flow matrix has a non-zero diagonal (self-payments)")
    return matrix, list(range(matrix.shape[0]))


# circularity · cycles


@dataclass(frozen=True, order=False)
class Cycle:
    """A simple cycle of payments ``nodes[0] → nodes[1] → … → nodes[0]``.

    ``amount`` (USD) is the smallest gross flow on its edges: the most money that can have
    gone all the way round. Cycles that share an edge share that edge's money, so amounts of
    different cycles do not add up. ``nodes`` starts at the smallest id, direction kept.
    """

    nodes: tuple[str, ...]
    amount: float

    @property
    def length(self) -> int:
        """Number of payments (edges) in the cycle."""
        return len(self.nodes)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """The (payer, payee) pairs along the cycle."""
        return [(a, self.nodes[(k + 1) % len(self.nodes)]) for k, a in enumerate(self.nodes)]


def _digraph(matrix: np.ndarray, labels: Sequence) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(labels)
    src, dst = np.nonzero(matrix)
    graph.add_weighted_edges_from(
        (labels[i], labels[j], float(matrix[i, j])) for i, j in zip(src, dst, strict=True)
    )
    return graph


def payment_cycles(
    flows: pd.DataFrame | np.ndarray,
    max_length: int | None = 6,
    *,
    max_cycles: int | None = 200_000,
) -> list[Cycle]:
    """Every simple cycle of the flow graph up to ``max_length`` payments, largest first.

    The graph has an edge i → j wherever i paid j (the gross of all rows between them).
    Cycles come from ``networkx.simple_cycles`` (Johnson 1975 when unbounded; the bounded
    variant of Gupta & Suzumura when ``max_length`` is set). Each is rotated to start at its
    smallest id and carries the smallest edge flow along it (USD). Order: amount descending,
    then shorter first, then by node ids, so the result does not depend on row order.

    Dense graphs have very many cycles: enumeration stops after ``max_cycles`` (``None``: no
    limit) with a ``RuntimeWarning``, and the list then holds only the cycles found.
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be ≥ 1 or None, got {max_length}")
    matrix, labels = _as_matrix(flows)
    graph = _digraph(matrix, labels)
    found: list[Cycle] = []
    for path in nx.simple_cycles(graph, length_bound=max_length):
        if max_cycles is not None and len(found) >= max_cycles:
            warnings.warn(
                f"cycle enumeration stopped at {max_cycles} cycles; the list is incomplete",
                RuntimeWarning,
                stacklevel=2,
            )
            break
        start = min(range(len(path)), key=lambda k: str(path[k]))
        nodes = tuple(path[start:] + path[:start])
        amount = min(graph[a][nodes[(k + 1) % len(nodes)]]["weight"] for k, a in enumerate(nodes))
        found.append(Cycle(nodes, float(amount)))
    found.sort(key=lambda c: (-c.amount, c.length, tuple(map(str, c.nodes))))
    return found


# circularity · excess gross (netting)


@dataclass(frozen=True)
class ExcessResult:
    """How much of a period's gross payments is more than the net positions require.

    - ``gross``: G = Σ F, total USD paid between agents;
    - ``net``: n_i = received − paid inside the network, USD by agent (Σ n = 0);
    - ``min_gross``: Σ max(n_i, 0), the smallest gross of any payment pattern that leaves
      every agent with the same net position (D'Errico & Roukny's non-conservative bound);
    - ``excess`` = G − min_gross = Σ_i min(received_i, paid_i); ``share`` = excess / G (0
      when G = 0). This is K2's measure. It counts both money that goes round cycles and
      money passed along chains (A pays B, B pays C: 10 of the gross 20 is excess), so it is
      positive even in an acyclic network as soon as some agent both receives and pays;
    - ``circular``: the largest gross that can be removed by cancelling cycles only (the
      largest circulation c with 0 ≤ c ≤ F, measured by Σ c), USD; ``circular_share`` =
      circular / G. Zero exactly when the flow graph has no cycle; ≤ ``excess``;
    - ``intermediation`` = excess − circular: the excess carried by chains, not cycles.
    """

    gross: float
    net: pd.Series
    min_gross: float
    excess: float
    share: float
    circular: float
    circular_share: float

    @property
    def intermediation(self) -> float:
        return self.excess - self.circular


def max_circulation(matrix: np.ndarray) -> float:
    """Largest total Σ c_ij of a circulation c (inflow = outflow at every node) with
    0 ≤ c ≤ ``matrix``: the gross removable by cancelling payment cycles, USD.

    Solved as a linear programme (HiGHS) on each strongly connected component; 0 exactly
    for an acyclic graph.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.size == 0 or not matrix.any():
        return 0.0
    graph = nx.DiGraph()
    graph.add_nodes_from(range(matrix.shape[0]))
    graph.add_edges_from(zip(*np.nonzero(matrix), strict=True))
    total = 0.0
    for comp in nx.strongly_connected_components(graph):
        if len(comp) < 2:
            continue
        idx = np.array(sorted(comp))
        sub = matrix[np.ix_(idx, idx)]
        scale = sub.max()
        src, dst = np.nonzero(sub)
        m, k = len(idx), len(src)
        cols = np.arange(k)
        # node balance: Σ_in c − Σ_out c = 0
        a_eq = sparse.csr_matrix(
            (
                np.concatenate([np.ones(k), -np.ones(k)]),
                (np.concatenate([dst, src]), np.concatenate([cols, cols])),
            ),
            shape=(m, k),
        )
        res = linprog(
            -np.ones(k),
            A_eq=a_eq,
            b_eq=np.zeros(m),
            bounds=np.column_stack([np.zeros(k), sub[src, dst] / scale]),
            method="highs",
        )
        if res.status != 0:  # pragma: no cover - the zero circulation is always feasible
            raise RuntimeError(f"max-circulation LP failed: {res.message}")
        total += float(np.clip(-res.fun, 0.0, sub.sum() / scale)) * scale
    return total


def excess_gross_share(flows_or_matrix: pd.DataFrame | np.ndarray) -> ExcessResult:
    """Excess gross of a period's payments (VALIDATION K2), from a flow log or a matrix
    ``F[i, j]`` = USD paid i → j. See :class:`ExcessResult` for the definitions."""
    matrix, labels = _as_matrix(flows_or_matrix)
    received = matrix.sum(axis=0)
    paid = matrix.sum(axis=1)
    gross = float(matrix.sum())
    net = received - paid
    min_gross = float(np.maximum(net, 0.0).sum())
    excess = float(np.minimum(received, paid).sum())  # = gross − min_gross, without cancellation
    circular = min(max_circulation(matrix), excess)
    return ExcessResult(
        gross=gross,
        net=pd.Series(net, index=pd.Index(labels, name="agent"), name="net_usd"),
        min_gross=min_gross,
        excess=excess,
        share=excess / gross if gross > 0 else 0.0,
        circular=circular,
        circular_share=circular / gross if gross > 0 else 0.0,
    )


# circularity · Finn cycling index and round trips

_CLOSED_TOL = 1e-12


def _return_probabilities(matrix: np.ndarray, throughflow: np.ndarray) -> np.ndarray:
    """r_i = (n_ii − 1)/n_ii with N = (I − G)⁻¹, G_ij = f(j → i)/T_j (Finn 1976).

    r_i is the probability that a dollar passing through i comes back to i, and the share of
    i's throughflow that has already been through i. Only paths inside i's strongly connected
    component can return, so N is inverted one component at a time; nodes on no cycle get
    exactly 0. A closed component (no money leaves any of its members: I − G singular) gets
    the limit r = 1.
    """
    n = matrix.shape[0]
    r = np.zeros(n)
    if n == 0 or not matrix.any():
        return r
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(zip(*np.nonzero(matrix), strict=True))
    for comp in nx.strongly_connected_components(graph):
        if len(comp) < 2:
            continue
        idx = np.array(sorted(comp))
        # P[j, i] = share of j's throughflow paid to i (P = Gᵀ restricted to the component)
        p = matrix[np.ix_(idx, idx)] / throughflow[idx][:, None]
        leak = 1.0 - p.sum(axis=1)
        if leak.max() <= _CLOSED_TOL:
            r[idx] = 1.0
            continue
        diag = np.diagonal(np.linalg.inv(np.eye(len(idx)) - p))  # diag(N) = diag(Nᵀ)
        r[idx] = np.clip(1.0 - 1.0 / diag, 0.0, 1.0)
    return r


def _finn(net: FlowNetwork, denominator: str) -> tuple[float, np.ndarray]:
    throughflow = net.throughflow
    r = _return_probabilities(net.matrix, throughflow)
    cycled = float((throughflow * r).sum())
    if denominator == "internal":
        base = net.gross
    elif denominator == "total":
        base = float(throughflow.sum())
    else:
        raise ValueError(f"denominator must be 'internal' or 'total', got {denominator!r}")
    index = cycled / base if base > 0 else 0.0
    return float(min(index, 1.0)), r


def finn_cycling_index(
    flows: pd.DataFrame, *, denominator: Literal["internal", "total"] = "internal"
) -> float:
    """Finn's (1976) cycling index of a period's payments: the share that is cycled money.

    With T_i the throughflow of agent i (USD; see :attr:`FlowNetwork.throughflow`: total
    receipts or total payments, whichever is larger, boundary flows included),
    G_ij = f(j → i)/T_j, N = (I − G)⁻¹ and r_i = (n_ii − 1)/n_ii (see
    :func:`cycled_throughflow_share`), the cycled throughflow is TST_c = Σ_i T_i r_i, USD.

    ``denominator="internal"`` (default) divides by the gross paid between agents,
    Σ_ij f(i → j) = Σ_i (receipts of i from other agents): the share of the period's
    internal payments that is money coming back round. This is the reading under which
    VALIDATION K1 gives 28/81: there T = (10, 18, 10, 8) for (lender, cloud, lab, vendor),
    TST_c = (18 + 10)·4/9 = 112/9, and the internal throughflow is 36 (the lender's 10 comes
    from outside, or from its own cash, and is not an internal receipt). It lies in [0, 1],
    below 1 unless a group of agents pays only among itself (a closed cycle, index → 1).

    ``denominator="total"`` divides by the textbook total system throughflow Σ_i T_i
    (boundary inflows included; 46 in K1, giving 56/207). The two readings agree on which
    networks cycle and differ only in scale.
    """
    _validated(flows, _FLOW_COLUMNS)
    index, _ = _finn(flow_network(flows), denominator)
    return index


def cycled_throughflow_share(flows: pd.DataFrame) -> pd.Series:
    """Per agent, the share of its throughflow that comes back to it along payment cycles.

    r_i = (n_ii − 1)/n_ii from Finn's matrix N = (I − G)⁻¹ (:func:`finn_cycling_index`):
    follow a dollar through i as it is paid on, each agent j passing on the fractions
    f(j → k)/T_j of its throughflow (the rest leaves the system or stays in j's cash);
    r_i is the probability that the dollar returns to i, equivalently the share of T_i that
    has been through i before. K1: the cloud passes 10/18 to the lab, which passes 8/10
    back, so r_cloud = 8/18. Zero for every agent on no cycle, 1 in a closed cycle.
    Indexed by agent id (sorted).
    """
    _validated(flows, _FLOW_COLUMNS)
    net = flow_network(flows)
    _, r = _finn(net, "internal")
    return pd.Series(r, index=pd.Index(net.nodes, name="agent"), name="cycled_throughflow_share")


# circularity · per month and per run

CIRCULARITY_COLUMNS = (
    "gross_usd",
    "excess_usd",
    "excess_share",
    "circular_usd",
    "circular_share",
    "finn_index",
    "n_cycles",
    "largest_cycle_usd",
    "inflow_usd",
    "outflow_usd",
)


def _circularity_row(
    flows: pd.DataFrame,
    nodes: Sequence[str],
    max_length: int | None,
    max_cycles: int | None,
    count_cycles: bool = True,
) -> dict[str, float]:
    net = flow_network(flows, nodes)
    excess = excess_gross_share(net.matrix)
    finn, _ = _finn(net, "internal")
    n_cycles, largest = math.nan, math.nan
    if count_cycles:  # the enumeration is most of the cost (seconds on a dense run)
        cycles = payment_cycles(net.matrix, max_length, max_cycles=max_cycles)
        n_cycles, largest = len(cycles), cycles[0].amount if cycles else 0.0
    return {
        "gross_usd": excess.gross,
        "excess_usd": excess.excess,
        "excess_share": excess.share,
        "circular_usd": excess.circular,
        "circular_share": excess.circular_share,
        "finn_index": finn,
        "n_cycles": n_cycles,
        "largest_cycle_usd": largest,
        "inflow_usd": float(net.inflow.sum()),
        "outflow_usd": float(net.outflow.sum()),
    }


def monthly_circularity(
    flows: pd.DataFrame, *, max_length: int | None = 6, max_cycles: int | None = 200_000
) -> pd.DataFrame:
    """Circularity of each month's flow graph, one row per step in the log.

    Columns: ``step``; ``gross_usd`` (paid between agents); ``excess_usd``/``excess_share``
    and ``circular_usd``/``circular_share`` (:func:`excess_gross_share`); ``finn_index``
    (:func:`finn_cycling_index`, internal denominator); ``n_cycles`` (simple cycles of at most
    ``max_length`` payments) and ``largest_cycle_usd`` (the largest amount one carries, 0 if
    none); ``inflow_usd``/``outflow_usd`` (across the boundary).
    """
    _validated(flows, ("step", *_FLOW_COLUMNS))
    nodes = internal_nodes(flows)
    rows = [
        {"step": step, **_circularity_row(group, nodes, max_length, max_cycles)}
        for step, group in flows.groupby("step", sort=True)
    ]
    out = pd.DataFrame(rows, columns=["step", *CIRCULARITY_COLUMNS])
    return out.astype({"n_cycles": "int64"})


def run_circularity(
    flows: pd.DataFrame,
    *,
    max_length: int | None = 6,
    max_cycles: int | None = 200_000,
    count_cycles: bool = True,
) -> pd.Series:
    """The columns of :func:`monthly_circularity` for the whole run's flows taken together.
    With ``count_cycles`` off the simple cycles are not enumerated (on a run's dense flow
    graph that takes seconds and stops at ``max_cycles``): ``n_cycles`` and
    ``largest_cycle_usd`` are NaN, every other column is the same."""
    _validated(flows, _FLOW_COLUMNS)
    row = _circularity_row(flows, internal_nodes(flows), max_length, max_cycles, count_cycles)
    return pd.Series(row, name="run")


# circularity · provenance of invested money

_OWN = "\x00own"
"""Origin label of an agent's own money (opening cash): never an agent id."""
_WORLD = WORLD_PREFIX
"""Origin label of money that came from outside the system: never an agent id."""


def payment_provenance(
    flows: pd.DataFrame,
    investment_kinds: Iterable[str] = INVESTMENT_KINDS,
    supply_chain: Mapping[str, Iterable[str]] | None = None,
    opening_cash: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """For each payment, the share paid with money its payee had invested upstream of it.

    Cash is traced by origin, pro rata (every dollar an agent holds is an equal mixture of
    the origins of its cash), processing rows by ``step`` and then in their order in the log:

    - money received through an ``investment_kinds`` payment from agent X has origin X
      (the investment re-labels the money: it is now X's money put into the receiver);
    - money received from outside the system has origin ``world``; each agent's opening
      cash (``opening_cash``, USD, optional) has origin ``own``. An agent that pays more than
      the traced cash it holds is assumed to pay the difference from opening cash not given
      (origin ``own``), so any flow log can be traced;
    - every other receipt carries the payer's mixture at that moment, and every payment
      takes the same fraction of each origin from the payer.

    ``provenance_share`` of a payment = the fraction of its mixture whose origin is the
    payee, or an agent in ``supply_chain[payee]`` (a mapping agent → agents counted with it,
    e.g. a cloud with the chip vendor it buys from): the part of the payment that is the
    payee's (or its suppliers') own invested money coming back. It is 0 for payments to or
    from the world and whenever no investment flows precede the payment on a path back.

    Returns a frame indexed like ``flows`` with ``step``, ``payer``, ``payee``, ``amount``,
    ``kind``, ``provenance_share`` (in [0, 1]) and ``round_trip_usd`` (= amount × share).
    Dict-based: about 50 agents × 20,000 rows take a few seconds.
    """
    _validated(flows, ("step", "kind", *_FLOW_COLUMNS))
    kinds = frozenset(investment_kinds)
    counted: dict[str, frozenset[str]] = {
        str(a): frozenset({str(a), *map(str, members)})
        for a, members in (supply_chain or {}).items()
    }
    cash: dict[str, dict[str, float]] = {}
    totals: dict[str, float] = {}
    for agent, usd in (opening_cash or {}).items():
        if not math.isfinite(usd) or usd < 0:
            raise ValueError(f"opening_cash of {agent!r} must be finite and ≥ 0, got {usd}")
        if usd > 0:
            cash[str(agent)] = {_OWN: float(usd)}
            totals[str(agent)] = float(usd)

    n = len(flows)
    steps = flows["step"].to_numpy()
    order = np.lexsort((np.arange(n), steps)) if n else np.arange(0)
    payers = flows["payer"].astype(str).to_numpy()
    payees = flows["payee"].astype(str).to_numpy()
    amounts = flows["amount"].to_numpy(dtype=float)
    flow_kinds = flows["kind"].astype(str).to_numpy()
    share = np.zeros(n)

    for k in order:
        payer, payee, amount = payers[k], payees[k], amounts[k]
        if amount <= 0:
            continue
        if payer.startswith(WORLD_PREFIX):
            mix: dict[str, float] = {_WORLD: amount}
        else:
            held = cash.get(payer)
            if held is None:
                held = cash[payer] = {}
            total = totals.get(payer, 0.0)
            if amount > total:  # paid from opening cash the log does not show
                held[_OWN] = held.get(_OWN, 0.0) + (amount - total)
                total = amount
            frac = amount / total
            mix = {o: v * frac for o, v in held.items()}
            if frac >= 1.0 - 1e-12:
                held.clear()
                totals[payer] = 0.0
            else:
                keep = 1.0 - frac
                floor = 1e-15 * total
                cash[payer] = {o: v * keep for o, v in held.items() if v * keep > floor}
                totals[payer] = total - amount
            if not payee.startswith(WORLD_PREFIX):
                origins = counted.get(payee)
                if origins is None:
                    back = mix.get(payee, 0.0)
                else:
                    back = sum(mix.get(o, 0.0) for o in origins)
                share[k] = min(max(back / amount, 0.0), 1.0)
        if payee.startswith(WORLD_PREFIX):
            continue
        held = cash.get(payee)
        if held is None:
            held = cash[payee] = {}
        if flow_kinds[k] in kinds and not payer.startswith(WORLD_PREFIX):
            held[payer] = held.get(payer, 0.0) + amount
        else:
            for o, v in mix.items():
                held[o] = held.get(o, 0.0) + v
        totals[payee] = totals.get(payee, 0.0) + amount

    out = pd.DataFrame(
        {
            "step": flows["step"],
            "payer": flows["payer"],
            "payee": flows["payee"],
            "amount": flows["amount"].astype(float),
            "kind": flows["kind"],
            "provenance_share": share,
        },
        index=flows.index,
    )
    out["round_trip_usd"] = out["amount"] * out["provenance_share"]
    return out


def provenance_by_pair(
    flows: pd.DataFrame,
    investment_kinds: Iterable[str] = INVESTMENT_KINDS,
    supply_chain: Mapping[str, Iterable[str]] | None = None,
    opening_cash: Mapping[str, float] | None = None,
    *,
    by_kind: bool = False,
) -> pd.DataFrame:
    """Round-trip money by (payer, payee): which deals carry invested money back.

    Aggregates :func:`payment_provenance`. Columns: ``payer``, ``payee`` (and ``kind`` if
    ``by_kind``), ``amount_usd`` (all paid), ``round_trip_usd`` (paid with money the payee,
    or its supply chain, had invested upstream), ``round_trip_share`` (their ratio). Only
    internal pairs (no ``world:`` party); sorted by ``round_trip_usd`` descending, then by
    the pair's ids.
    """
    prov = payment_provenance(flows, investment_kinds, supply_chain, opening_cash)
    keys = ["payer", "payee", "kind"] if by_kind else ["payer", "payee"]
    columns = [*keys, "amount_usd", "round_trip_usd", "round_trip_share"]
    internal = prov[
        ~prov["payer"].astype(str).str.startswith(WORLD_PREFIX)
        & ~prov["payee"].astype(str).str.startswith(WORLD_PREFIX)
    ]
    if internal.empty:
        return pd.DataFrame(columns=columns)
    agg = (
        internal.groupby(keys, sort=True)
        .agg(amount_usd=("amount", "sum"), round_trip_usd=("round_trip_usd", "sum"))
        .reset_index()
    )
    agg["round_trip_share"] = (agg["round_trip_usd"] / agg["amount_usd"]).fillna(0.0)
    agg = agg.sort_values(["round_trip_usd", *keys], ascending=[False, *[True] * len(keys)])
    return agg.reset_index(drop=True)[columns]


# circularity · round-trip revenue (the seeds' question)

SALE_KINDS: tuple[str, ...] = (
    "compute_payment",
    "compute_prepayment",
    "chip_payment",
    "outside_compute",
    "revenue_share_payment",
)
"""Cash flows that pay a seller for what it sold: compute (billed or prepaid, or bought by
the buyers beyond the labs), chips, and a partner's share of a lab's revenue (what the
partnership sold it: Microsoft's 20% of OpenAI's revenue)."""

IN_KIND_SALE = "compute_credit"
"""Compute paid for in the buyer's own shares (an accrual: no cash moves)."""


def revenue_provenance(flows: pd.DataFrame, accruals: pd.DataFrame) -> pd.DataFrame:
    """Revenue received by each seller each month, and its round-trip part.

    Revenue received is the cash a seller is paid for compute and chips (:data:`SALE_KINDS`)
    plus compute paid for in the buyer's shares (:data:`IN_KIND_SALE`). Its *round-trip*
    part traces back to money or credits the seller provided itself, directly or through a
    chain (a vendor's stake in a lab that pays a cloud that buys the vendor's chips):

    - cash is traced with :func:`payment_provenance`, the proportional (pro-rata) tracing
      rule — every dollar an agent holds is an equal mixture of the origins of its cash, the
      "proportional sharing principle" of flow tracing (Bialek 1996, *Tracing the flow of
      electricity*; the same rule as pro-rata tracing of funds); an investment (equity, a
      loan, vendor financing) makes the investor the origin of the money it put in;
    - compute paid in the buyer's shares is wholly round trip: the seller gave the compute
      in exchange for a stake, it is its own credit coming back.

    Financing cycles (lend and repay, interest) are not revenue and do not count here.
    Returns one row per (step, agent) that sold something: ``step``, ``agent_id``,
    ``revenue_received_usd``, ``round_trip_usd`` (≤ revenue received), USD.
    """
    columns = ["step", "agent_id", "revenue_received_usd", "round_trip_usd"]
    prov = payment_provenance(flows) if len(flows) else flows.assign(round_trip_usd=0.0)
    sales = prov[prov["kind"].isin(SALE_KINDS)]
    cash = sales.groupby(["step", "payee"]).agg(
        revenue_received_usd=("amount", "sum"), round_trip_usd=("round_trip_usd", "sum")
    )
    credits = accruals[accruals["kind"] == IN_KIND_SALE].groupby(["step", "payee"])["amount"].sum()
    in_kind = pd.DataFrame({"revenue_received_usd": credits, "round_trip_usd": credits})
    both = pd.concat([cash, in_kind]).groupby(level=[0, 1]).sum()
    if both.empty:
        return pd.DataFrame(columns=columns)
    out = both.reset_index().rename(columns={"payee": "agent_id"})
    out["round_trip_usd"] = np.minimum(out["round_trip_usd"], out["revenue_received_usd"])
    return out[columns].sort_values(["step", "agent_id"], ignore_index=True)


def round_trip_revenue_share(revenue: pd.DataFrame) -> float:
    """The headline circularity: round-trip revenue ÷ revenue received, all sellers (0–1)."""
    total = float(revenue["revenue_received_usd"].sum()) if len(revenue) else 0.0
    return float(revenue["round_trip_usd"].sum()) / total if total > 0 else 0.0


def round_trip_by_party(revenue: pd.DataFrame) -> pd.DataFrame:
    """Monthly round-trip revenue (columns ``agent_id``, ``revenue_received_usd`` and
    ``round_trip_usd``, as :func:`revenue_provenance` gives) summed by party: ``party``,
    ``revenue_usd`` (revenue received), ``round_trip_usd`` and ``round_trip_share`` (their
    ratio, 0–1); one row per party that sold something, sorted by share descending, then by
    party."""
    columns = ["party", "revenue_usd", "round_trip_usd", "round_trip_share"]
    agg = (
        revenue.groupby("agent_id", sort=True)
        .agg(revenue_usd=("revenue_received_usd", "sum"), round_trip_usd=("round_trip_usd", "sum"))
        .reset_index()
        .rename(columns={"agent_id": "party"})
    )
    agg = agg[agg["revenue_usd"] > 0]
    if agg.empty:
        return pd.DataFrame(columns=columns)
    agg = agg.assign(round_trip_share=agg["round_trip_usd"] / agg["revenue_usd"])
    agg = agg.sort_values(["round_trip_share", "party"], ascending=[False, True])
    return agg.reset_index(drop=True)[columns]


# --- overbuild ---
#
# Overbuild (DESIGN §5) from a run's model table: capacity against demand served at a
# cost-covering price, utilisation, spot price against full cost, stranded book value and
# capacity on order. Columns used: ``installed_gpus``, ``need_at_full_cost_gpus``,
# ``utilisation``, ``spot_price_usd_per_gpu_hour``, ``full_cost_usd_per_gpu_hour``,
# ``fleet_book_usd``, ``impairment_cumulative_usd``, ``gpus_on_order``.


def overbuild_series(model: pd.DataFrame) -> pd.DataFrame:
    """Per month: capacity against demand served at a cost-covering price, the spot price
    against full cost, stranded book value and capacity on order.

    - ``overbuild_ratio``: installed GPUs ÷ GPUs the labs would use if compute were priced at
      full cost (> 1 means more capacity than can be paid for at a price that covers cost);
    - ``price_to_full_cost``: spot price ÷ full cost of a new GPU-hour (< 1: selling at a loss);
    - ``stranded_book_usd``: value written off so far plus the book value of idle capacity;
    - ``on_order_to_installed``: capacity on order ÷ installed capacity.
    """
    out = pd.DataFrame({"step": model["step"]})
    if "date" in model:
        out["date"] = model["date"]
    out["overbuild_ratio"] = model["installed_gpus"] / model["need_at_full_cost_gpus"]
    out["utilisation"] = model["utilisation"]
    out["price_to_full_cost"] = (
        model["spot_price_usd_per_gpu_hour"] / model["full_cost_usd_per_gpu_hour"]
    )
    out["stranded_book_usd"] = model["impairment_cumulative_usd"] + model["fleet_book_usd"] * (
        1.0 - model["utilisation"].clip(0.0, 1.0)
    )
    out["on_order_to_installed"] = model["gpus_on_order"] / model["installed_gpus"]
    return out


def lab_result(tables: Mapping[str, pd.DataFrame], lab: str, since: int) -> dict[str, float]:
    """A lab's result over a run, from the run's ``model``, ``agents``, ``accruals``,
    ``flows``, ``events`` and ``exposures`` tables (one seed):

    - ``retained_usd``: its retained earnings at the last month (they stop at its default);
    - ``value_usd``: its market value at the last month (0 once it has defaulted);
    - ``revenue_usd``: its service revenue over the run;
    - ``defaulted`` (1 or 0) and ``default_month`` (NaN if it did not default);
    - ``peak_backlog_usd``: the most it owed its clouds under term contracts still to run;
    - ``compute_bills_usd``: what it was billed for compute (contracts, spot, resale);
    - ``resold_to_labs_usd``, ``resold_to_outside_usd``: what it earned reselling idle
      contracted capacity to other labs and to the buyers beyond the labs;
    - ``compute_share``: its share of all GPUs used from month ``since`` on.
    """
    model, agents = tables["model"], tables["agents"]
    accruals, flows, events = tables["accruals"], tables["flows"], tables["events"]
    mine = agents[agents["agent_id"] == lab].sort_values("step")
    defaults = events[events["event"].str.startswith("default") & (events["defaulter"] == lab)]
    exposures = tables["exposures"]
    backlog = exposures[exposures["debtor"] == lab].groupby("step")["backlog_usd"].sum()
    bills = accruals[(accruals["payer"] == lab) & (accruals["kind"] == "compute_due")]
    resale = accruals[(accruals["payee"] == lab) & (accruals["instrument"] == "resale")]
    outside = flows[(flows["payee"] == lab) & (flows["kind"] == "outside_compute")]
    used = float(model.loc[model["step"] >= since, "used_gpus"].sum())
    own = float(mine.loc[mine["step"] >= since, "gpus_used"].sum())
    return {
        "retained_usd": float(mine["retained_usd"].iloc[-1]),
        "value_usd": float(mine["market_value_usd"].iloc[-1]),
        "revenue_usd": float(mine["revenue_usd"].sum()),
        "defaulted": float(len(defaults) > 0),
        "default_month": float(defaults["step"].min()) if len(defaults) else math.nan,
        "peak_backlog_usd": float(backlog.max()) if len(backlog) else 0.0,
        "compute_bills_usd": float(bills["amount"].sum()),
        "resold_to_labs_usd": float(resale["amount"].sum()),
        "resold_to_outside_usd": float(outside["amount"].sum()),
        "compute_share": own / used if used > 0 else 0.0,
    }


@dataclass(frozen=True)
class BustOutcome:
    """How a bust played out after demand stopped growing at ``bust_month``."""

    price_fall: float  # 1 − price(bust + window) / price(bust)
    trough_utilisation: float  # lowest utilisation within `horizon` months of the bust
    peak_overbuild_ratio: float
    impairment_usd: float  # written off from the bust month on


def bust_outcome(
    model: pd.DataFrame, bust_month: int, window: int = 24, horizon: int = 60
) -> BustOutcome:
    """Outcomes to compare with the telecom bust (price −60 to −85% over two years;
    utilisation toward 35%)."""
    if not 0 <= bust_month < len(model) - window:
        raise ValueError(
            f"bust_month must be between 0 and {len(model) - window - 1} for a run of "
            f"{len(model)} months and a window of {window}, got {bust_month}"
        )
    price = model["spot_price_usd_per_gpu_hour"].to_numpy()
    after = model.iloc[bust_month : bust_month + horizon + 1]
    series = overbuild_series(after)
    impaired = model["impairment_cumulative_usd"]
    return BustOutcome(
        price_fall=float(1.0 - price[bust_month + window] / price[bust_month]),
        trough_utilisation=float(after["utilisation"].min()),
        peak_overbuild_ratio=float(series["overbuild_ratio"].max()),
        impairment_usd=float(impaired.iloc[-1] - impaired.iloc[bust_month]),
    )


# --- cascade ---
#
# Cascades (DESIGN §5) from a run's events table: columns ``step``, ``round``, ``event``,
# ``defaulter``, ``creditor``, ``amount_lost`` (USD), ``instrument`` (an id) and
# ``instrument_kind`` (its type, a field of the instrument).

LOSS_EVENTS = ("unpaid_obligation", "prepayment_written_off", "stake_written_off")
"""The one definition of losses: events whose ``amount_lost`` is a write-off on a creditor's
or a shareholder's books (claims not paid, prepayments for compute never delivered, stakes
in a failed party). A fire sale's loss falls on the defaulter itself and reaches its
creditors as unpaid claims, so counting it too would count it twice: it stays in the events
table apart, as value destroyed (the ``fire_sale`` event)."""


def loss_events(events: pd.DataFrame) -> pd.DataFrame:
    """The rows of an events table that are losses (:data:`LOSS_EVENTS`)."""
    return events[events["event"].isin(LOSS_EVENTS)]


def total_losses(events: pd.DataFrame) -> float:
    """Creditors' and shareholders' losses in an events table, USD."""
    return float(loss_events(events)["amount_lost"].sum())


def cascade_sizes(events: pd.DataFrame) -> pd.DataFrame:
    """One row per month with defaults: how many parties defaulted (size) and in how many
    rounds (depth, counting default waves and insolvency rounds)."""
    defaults = events[events["event"].astype(str).str.startswith("default")]
    if defaults.empty:
        return pd.DataFrame({"step": [], "size": [], "depth": []}).astype(int)
    out = defaults.groupby("step").agg(size=("defaulter", "nunique"), depth=("round", "max"))
    return out.reset_index()


def losses_by(events: pd.DataFrame, agent_types: Mapping[str, str]) -> pd.DataFrame:
    """Losses (USD) by creditor type and instrument kind: who bore them, through what.

    ``agent_types`` maps agent id → type (``world:…`` creditors are reported as "World")."""
    losses = loss_events(events).copy()
    losses["creditor_type"] = [
        "World" if is_boundary(b) else agent_types.get(b, "unknown") for b in losses["creditor"]
    ]
    if "instrument_kind" not in losses:
        losses["instrument_kind"] = "other"
    table = losses.pivot_table(
        index="creditor_type",
        columns="instrument_kind",
        values="amount_lost",
        aggfunc="sum",
        fill_value=0.0,
    )
    return table.sort_index().sort_index(axis=1)


# --- concentration and returns ---
#
# Who holds the market (DESIGN §5): Herfindahl–Hirschman indices of the clouds' installed
# capacity and of the labs' revenue; and what investors made: the multiple on invested capital.

INVESTED_KINDS = ("equity_investment", "loan_advance")
"""Flow kinds by which an investor puts cash into the system's companies."""


def herfindahl(values: Iterable[float]) -> float:
    """Herfindahl–Hirschman index of the shares of ``values`` (sum of squared shares, 0–1):
    1/n for n equal parties, 1 for a monopoly; 0 when the total is 0."""
    x = np.asarray(list(values), dtype=float)
    if (x < 0).any() or not np.isfinite(x).all():
        raise ValueError("herfindahl needs finite, non-negative values")
    total = x.sum()
    return float(((x / total) ** 2).sum()) if total > 0 else 0.0


def concentration_series(agents: pd.DataFrame) -> pd.DataFrame:
    """Per month: HHI and largest share of the clouds' installed GPUs (``cloud_hhi``,
    ``cloud_top_share``) and of the labs' revenue (``lab_hhi``, ``lab_top_share``).

    ``agents`` is the agent table (columns ``step``, ``agent_type``, ``gpus_installed`` for
    clouds and ``revenue_usd`` for labs); defaulted parties count with what they still hold."""
    rows = []
    for step, month in agents.groupby("step", sort=True):
        clouds = month.loc[month["agent_type"] == "Cloud", "gpus_installed"].clip(lower=0)
        labs = month.loc[month["agent_type"] == "Lab", "revenue_usd"].clip(lower=0)
        rows.append(
            {
                "step": step,
                "cloud_hhi": herfindahl(clouds),
                "cloud_top_share": _top_share(clouds),
                "lab_hhi": herfindahl(labs),
                "lab_top_share": _top_share(labs),
            }
        )
    return pd.DataFrame(rows)


def _top_share(values: pd.Series) -> float:
    total = float(values.sum())
    return float(values.max()) / total if total > 0 else 0.0


def investor_returns(flows: pd.DataFrame, agents: pd.DataFrame) -> pd.DataFrame:
    """Multiple on invested capital of each investor over the run.

    ``invested_usd``: cash it put into companies (equity rounds, loans); ``returned_usd``:
    cash companies paid it (interest, principal, other internal payments); ``held_usd``: the
    claims it holds at the end (stakes at their mark, loans outstanding, receivables);
    ``moic`` = (returned + held) / invested (NaN if it invested nothing). Below 1 it lost
    money on what it put in."""
    flows = _validated(flows, ("payer", "payee", "amount", "kind"))
    investors = agents.loc[agents["agent_type"] == "Investor", "agent_id"].unique()
    last = agents[agents["step"] == agents["step"].max()].set_index("agent_id")
    invested_flows = flows[flows["kind"].isin(INVESTED_KINDS)]
    internal = flows[~flows["payer"].map(is_boundary)]
    rows = []
    for name in investors:
        out = invested_flows[invested_flows["payer"] == name]
        back = internal[internal["payee"] == name]
        held = sum(
            float(last.at[name, col]) if name in last.index and col in last.columns else 0.0
            for col in ("stakes_usd", "loans_usd", "receivables_usd")
        )
        invested = float(out["amount"].sum())
        returned = float(back["amount"].sum())
        rows.append(
            {
                "investor": name,
                "invested_usd": invested,
                "returned_usd": returned,
                "held_usd": held,
                "moic": (returned + held) / invested if invested > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows)


def overbuild_outcome(
    tables: Mapping[str, pd.DataFrame], lab: str, months: int, since: int = 24
) -> dict[str, float]:
    """The overbuild-on-purpose figures of one run of ``months`` months (issue 15): the mean
    spot price from month ``since`` (years 3-5 of a 60-month run, USD per GPU-hour) and
    ``lab``'s result (:func:`lab_result`: retained earnings, which stop at its default;
    market value at the end, 0 once defaulted; revenue; whether and when it defaulted; its
    peak backlog and compute bills; where its resold capacity went, all USD; its share of
    the compute used from ``since``), named as the competition experiment's overbuild.csv."""
    model = tables["model"]
    model = model[model["step"] < months]
    result = lab_result(tables, lab, since=since)
    return {
        "spot years 3-5": float(
            model.loc[model["step"] >= since, "spot_price_usd_per_gpu_hour"].mean()
        ),
        "leader retained": result["retained_usd"],
        "leader value at 60": result["value_usd"],
        "leader revenue": result["revenue_usd"],
        "leader defaulted": result["defaulted"],
        "default month": result["default_month"],
        "leader share of compute used years 3-5": result["compute_share"],
        "leader peak backlog": result["peak_backlog_usd"],
        "leader compute bills": result["compute_bills_usd"],
        "resold to labs": result["resold_to_labs_usd"],
        "resold to outside": result["resold_to_outside_usd"],
    }


def longest_run(flags: Iterable[object]) -> tuple[int, int | None]:
    """Length and first index of the longest run of consecutive true values in ``flags``
    (the first such run on a tie; ``(0, None)`` without any): e.g. the months a glut
    lasts (spot below full cost) and the month it begins."""
    best = run = 0
    start = first = None
    for index, flag in enumerate(flags):
        if flag and run == 0:
            start = index
        run = run + 1 if flag else 0
        if run > best:
            best, first = run, start
    return best, first
