"""A sweep worker computes only what the sweep keeps, and gets the same numbers as a full
run: every summary output alone, all of them together, and the kept series."""

from __future__ import annotations

import gc
import math

import pytest

from sim import runner
from sim.agents import MarketAgent
from sim.instruments import CapacityContract
from sim.model import ComputeMarket, model_reporters
from sim.runner import (
    _SUMMARY_GROUPS,
    AGENT_TABLE_FIELDS,
    ALWAYS_RECORDED,
    NON_CASH_FIELDS,
    ROUND_TRIP_FIELDS,
    ROUND_TRIP_SERIES,
    SERIES_FIELDS,
    SUMMARY_FIELDS,
    RunTables,
    model_columns_read,
    run_model,
    simulate,
    simulate_outputs,
    summarise,
    world_records,
)

from .conftest import small_world

SCENARIO = small_world(deals=True, **{"run.months": 18, "demand.noise_sd": 0.1})
SEED = 4


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.fixture(scope="module")
def full():
    return simulate(SCENARIO, SEED)


@pytest.fixture(scope="module")
def model():
    return run_model(SCENARIO, SEED)


def test_every_output_alone_equals_the_full_run(full, model) -> None:
    for field in SUMMARY_FIELDS:
        tables = RunTables(model, round_trip=field in ROUND_TRIP_FIELDS)
        row = summarise(model, tables, fields=[field])
        assert _same(row[field], full.summary[field]), field


def test_what_is_not_asked_for_is_not_built(model) -> None:
    tables = RunTables(model, round_trip=False)
    summarise(model, tables, fields=["defaults", "mean_utilisation"])
    assert set(tables._built) == {"model", "events"}  # no flows, accruals, agents, trace
    assert "round_trip_revenue_usd" not in tables["model"]


def test_simulate_outputs_matches_simulate(full) -> None:
    summary, series = simulate_outputs(SCENARIO, SEED, None, SUMMARY_FIELDS, SERIES_FIELDS)
    assert list(summary) == list(SUMMARY_FIELDS)
    assert all(_same(summary[k], full.summary[k]) for k in SUMMARY_FIELDS)
    assert series == full.tables["model"][["step", *SERIES_FIELDS]].to_dict(orient="list")
    lean, kept = simulate_outputs(SCENARIO, SEED, None, ["losses_usd"], ROUND_TRIP_SERIES)
    assert _same(lean["losses_usd"], full.summary["losses_usd"])
    assert kept is not None and kept["round_trip_revenue_usd"] == list(
        full.tables["model"]["round_trip_revenue_usd"]
    )


def test_a_run_without_agent_rows_gives_every_other_output(full) -> None:
    # every output outside AGENT_TABLE_FIELDS, computed from a world that kept no agent rows
    # (what a sweep keeping only them runs), equals the full run's: no other output reads
    # the agents table; the agents table itself refuses to be built
    model = run_model(SCENARIO, SEED, record_agents=False)
    tables = RunTables(model, round_trip=True)
    others = [k for k in SUMMARY_FIELDS if k not in AGENT_TABLE_FIELDS]
    row = summarise(model, tables, fields=others)
    assert all(_same(row[k], full.summary[k]) for k in others)
    assert "agents" not in tables._built
    with pytest.raises(RuntimeError, match="no agent rows"):
        tables["agents"]
    assert {"final_cloud_hhi", "investor_moic", "cloud_revenue_usd"} <= AGENT_TABLE_FIELDS
    assert not {"defaults", "mean_utilisation", "losses_usd"} & AGENT_TABLE_FIELDS


def test_unknown_output_is_refused() -> None:
    with pytest.raises(ValueError, match="not an output of a run: nonsense"):
        simulate_outputs(SCENARIO, SEED, 2, ["nonsense"])


def test_every_output_alone_from_a_world_recording_only_the_columns_it_reads(full) -> None:
    # each output from a sweep worker's world, whose model table has only the columns that
    # output's group declares: a group reading an undeclared column fails here (KeyError),
    # and a reporter that moved the world would change the numbers
    for field in SUMMARY_FIELDS:
        row, _ = simulate_outputs(SCENARIO, SEED, None, [field])
        assert _same(row[field], full.summary[field]), field


def test_a_sweep_world_records_only_the_model_columns_its_outputs_read(full) -> None:
    assert model_columns_read(["defaults", "losses_usd"]) == ALWAYS_RECORDED
    columns = model_columns_read(["capex_usd"], ["installed_gpus", "round_trip_revenue_usd"])
    assert {"capex_usd", "utilisation", "installed_gpus"} <= columns
    assert "round_trip_revenue_usd" not in columns  # traced from the payments, not recorded
    assert "fleet_book_usd" not in columns
    model = run_model(SCENARIO, SEED, model_columns=model_columns_read(["defaults"]))
    table = model.model_table()
    assert list(table.columns) == ["step", "date", *ALWAYS_RECORDED]
    assert table["spot_price_usd_per_gpu_hour"].tolist() == (
        full.tables["model"]["spot_price_usd_per_gpu_hour"].tolist()
    )


def test_unknown_or_no_model_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="not a column of the model table: nonsense"):
        model_reporters(["utilisation", "nonsense"])
    with pytest.raises(ValueError, match="at least one column"):
        model_reporters([])


def test_a_world_without_the_non_cash_log_has_the_same_books_and_other_outputs(full, model) -> None:
    # the ledger without its accruals, allocations and journal logs: every balance, the flow
    # log and every output outside NON_CASH_FIELDS as with them; the three tables refuse
    lean = run_model(SCENARIO, SEED, record_non_cash=False)
    ledger, kept = lean.books.ledger, model.books.ledger
    assert ledger._books == kept._books
    assert ledger._log == kept._log and ledger.n_postings == kept.n_postings
    assert len(kept.accruals()) and len(kept.allocations()) and len(kept.journal_entries())
    for table in (ledger.accruals, ledger.allocations, ledger.journal_entries):
        with pytest.raises(RuntimeError, match="record_non_cash=False"):
            table()
    others = [k for k in SUMMARY_FIELDS if k not in NON_CASH_FIELDS]
    row = summarise(lean, RunTables(lean, round_trip=False), fields=others)
    assert all(_same(row[k], full.summary[k]) for k in others)
    assert {"cloud_revenue_usd", "vendor_revenue_usd"} | ROUND_TRIP_FIELDS <= NON_CASH_FIELDS
    assert not {"defaults", "losses_usd", "capex_usd", "money_moved_usd"} & NON_CASH_FIELDS


def test_a_sweep_world_keeps_the_non_cash_log_only_for_outputs_that_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = []
    original = runner.run_model

    def recording(*args, **kwargs):
        world = original(*args, **kwargs)
        built.append(world.books.ledger.record_non_cash)
        return world

    monkeypatch.setattr(runner, "run_model", recording)
    simulate_outputs(SCENARIO, SEED, 3, ["defaults", "losses_usd", "capex_usd"])
    simulate_outputs(SCENARIO, SEED, 3, ["cloud_revenue_usd"])
    simulate_outputs(SCENARIO, SEED, 3, ["defaults"], ["round_trip_revenue_usd"])
    assert built == [False, True, True]


def test_world_records_names_what_a_sweep_world_keeps() -> None:
    lean = world_records(["defaults", "losses_usd", "capex_usd"])
    assert lean == {
        "record_agents": False,
        "model_columns": model_columns_read(["capex_usd"]),
        "record_non_cash": False,
    }
    assert world_records(["final_cloud_hhi"])["record_agents"] is True
    assert world_records(["cloud_revenue_usd"])["record_non_cash"] is True
    assert world_records(["defaults"], ["round_trip_revenue_usd"])["record_non_cash"] is True


def test_each_summary_group_reads_only_the_tables_it_declares(model) -> None:
    # the declarations decide what a sweep world records (AGENT_TABLE_FIELDS,
    # NON_CASH_FIELDS): a group reading a table it does not declare fails here
    for group in _SUMMARY_GROUPS:
        tables = RunTables(model, round_trip=bool(group.fields & ROUND_TRIP_FIELDS))
        group.compute(model, tables)
        built = {name for name in tables._built if not name.startswith("\x00")}
        assert built <= group.tables, (group.compute.__name__, built - group.tables)
        assert group.columns <= set(model.model_table().columns)


def test_a_sweep_run_leaves_no_world_behind() -> None:
    """simulate_outputs frees its world before it returns (one collection of the run's own
    objects), even with the cycle collector off: no ComputeMarket, agent or contract of the
    run is left for a later full collection to find (a worker's memory stays flat), and the
    collector is as it was."""

    def left() -> int:
        kinds = (ComputeMarket, MarketAgent, CapacityContract)
        return sum(1 for o in gc.get_objects() if isinstance(o, kinds))

    gc.collect()
    before = left()
    gc.disable()
    try:
        row, _ = simulate_outputs(SCENARIO, SEED, None, ["defaults", "capex_usd"])
        assert left() == before
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert row["capex_usd"] > 0
