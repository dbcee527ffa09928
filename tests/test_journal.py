"""Issue 19, item 11: every balance-sheet line of every agent, at every month, rebuilt to the
cent from the exported tables alone (flows, accruals, journal, and the published mappings
kinds and lines), never from the ledger's code."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import Scenario
from sim.runner import simulate

from .conftest import small_world
from .golden import _baseline, _cascade_with_rescues, _telecom_bust


def _cents(amount: pd.Series) -> pd.Series:
    return (amount * 100).round().astype("int64")


def rebuild_books(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Balances in cents (one column per line, liabilities and equity positive) of every
    agent at the end of every month, from ``flows``, ``accruals``, ``journal``, ``kinds`` and
    ``lines`` only."""
    sign = (
        tables["lines"].set_index("line")["side"].map({"asset": 1, "liability": -1, "equity": -1})
    )
    kinds = tables["kinds"].set_index("kind")
    postings = pd.concat([tables["flows"], tables["accruals"]], ignore_index=True)
    postings = postings.join(kinds, on="kind", how="left")
    assert postings["payer_debit"].notna().all(), "a posting of a kind not in `kinds`"
    legs = []  # (step, agent, line, signed cents: + for a debit)
    for party, debit, credit in (
        ("payer", "payer_debit", "payer_credit"),
        ("payee", "payee_debit", "payee_credit"),
    ):
        inside = postings[postings[debit] != ""]
        cents = _cents(inside["amount"])
        for line_col, s in ((debit, 1), (credit, -1)):
            legs.append(
                pd.DataFrame(
                    {
                        "step": inside["step"],
                        "agent": inside[party],
                        "line": inside[line_col],
                        "d": s * cents,
                    }
                )
            )
    journal = tables["journal"]
    jc = _cents(journal["amount"])
    legs.append(
        pd.DataFrame(
            {"step": journal["step"], "agent": journal["agent"], "line": journal["debit"], "d": jc}
        )
    )
    legs.append(
        pd.DataFrame(
            {
                "step": journal["step"],
                "agent": journal["agent"],
                "line": journal["credit"],
                "d": -jc,
            }
        )
    )
    legs_df = pd.concat(legs, ignore_index=True)
    assert not legs_df["agent"].str.startswith("world:").any()
    # a debit raises an asset and lowers a liability or equity line
    legs_df["d"] = legs_df["d"] * legs_df["line"].map(sign)
    monthly = legs_df.pivot_table(
        index=["agent", "step"], columns="line", values="d", aggfunc="sum", fill_value=0
    )
    agents = tables["agents"]
    grid = pd.MultiIndex.from_product(
        [sorted(agents["agent_id"].unique()), sorted(agents["step"].unique())],
        names=["agent", "step"],
    )
    # postings before the first month (opening balances) belong to month 0
    monthly = monthly.groupby(level=0).cumsum()
    full = monthly.reindex(monthly.index.union(grid)).groupby(level=0).ffill().fillna(0)
    return full.reindex(grid).reindex(columns=list(sign.index), fill_value=0).astype("int64")


def assert_books_rebuild(tables: dict[str, pd.DataFrame]) -> int:
    """Compare the rebuild with the agents table to the cent; return the cells compared."""
    rebuilt = rebuild_books(tables)
    agents = tables["agents"].set_index(["agent_id", "step"]).sort_index()
    agents.index.names = ["agent", "step"]
    compared = 0
    for line, column in tables["lines"][["line", "column"]].itertuples(index=False):
        if column not in agents:  # a line the agents table does not report must stay empty
            assert (rebuilt[line] == 0).all(), line
            continue
        expected = _cents(agents[column])
        got = rebuilt[line].reindex(expected.index)
        bad = expected[expected != got]
        if not bad.empty:
            first = bad.index[0]
            raise AssertionError(f"{line}: {len(bad)} cells differ, first {first}: {got[first]}")
        compared += len(expected)
    sides = tables["lines"].set_index("line")["side"]
    equity = sum(rebuilt[x] for x in sides.index if sides[x] == "asset") - sum(
        rebuilt[x] for x in sides.index if sides[x] == "liability"
    )
    diff = (equity.reindex(agents.index) - _cents(agents["equity_usd"])).abs()
    assert diff.max() <= 1, diff.max()  # equity_usd is a float sum of the lines
    return compared


def _run_and_rebuild(scenario: Scenario, seed: int, months: int) -> int:
    return assert_books_rebuild(simulate(scenario, seed, months).tables)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    deals=st.booleans(),
    regime=st.sampled_from(["boom", "bust", "plateau"]),
    prepayment=st.sampled_from([0.0, 0.3]),
    leverage=st.sampled_from([0.7, 2.0]),
    months=st.integers(6, 30),
)
def test_books_rebuild_in_random_small_worlds(
    seed, deals, regime, prepayment, leverage, months
) -> None:
    scenario = small_world(
        deals=deals,
        **{
            "demand.regime": regime,
            "demand.bust_month": 4,
            "demand.bust_decline_per_month": 0.1,
            "market.prepayment_share": prepayment,
            "finance.max_loan_to_backlog": leverage,
            "labs.*.optimism": 2.0,
        },
    )
    assert _run_and_rebuild(scenario, seed, months) > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("world", "seed", "months"),
    [(_baseline, 1, 48), (_telecom_bust, 2, 60), (_cascade_with_rescues, 3, 36)],
    ids=["baseline", "telecom_bust", "cascade"],
)
def test_books_rebuild_in_the_shipped_worlds(world, seed: int, months: int) -> None:
    tables = simulate(world(), seed, months).tables
    assert assert_books_rebuild(tables) > 0
    assert len(tables["journal"]) > 0 and set(tables["journal"]["memo"]) >= {"opening fleet"}
