"""Many seeds of one scenario, in parallel: the raw material of fan charts.

Seeds are derived from one base seed with :class:`numpy.random.SeedSequence`, so the set of
seeds, and so every result, is fixed by (scenario, base seed, number of runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from sim.config import Scenario
from sim.fork_server import forkserver_context
from sim.runner import RunTables, run_model, summarise


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes started by a fork server (safe in threaded parents)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=forkserver_context())


def parallel_map[T](fn: Callable[[Any], T], tasks: Iterable[Any], workers: int = 1) -> list[T]:
    """``[fn(t) for t in tasks]``, in ``workers`` processes when more than one; ``fn`` must be
    a module-level function of the ``sim`` package (so that workers can import it)."""
    tasks = list(tasks)
    if workers <= 1 or len(tasks) <= 1:
        return [fn(t) for t in tasks]
    with process_pool(workers) as pool:
        return list(pool.map(fn, tasks))


def derive_seeds(base_seed: int, n: int) -> list[int]:
    """``n`` independent 63-bit seeds from ``base_seed``."""
    children = np.random.SeedSequence(base_seed).spawn(n)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def _run(args: tuple[Scenario, int, int | None, tuple[str, ...]]) -> tuple[dict, dict]:
    """One run's whole summary and the tables in ``keep``, as :func:`sim.runner.simulate`
    gives them; the tables neither needs (allocations, journal, debtrank, exposures, …) are
    not built (:class:`sim.runner.RunTables`)."""
    scenario, seed, months, keep = args
    model = run_model(scenario, seed, months)
    tables = RunTables(model)
    return summarise(model, tables), {name: tables[name] for name in keep}


def run_ensemble(
    scenario: Scenario,
    seeds: Sequence[int],
    months: int | None = None,
    *,
    workers: int = 1,
    keep: tuple[str, ...] = ("model",),
    executor: Executor | None = None,
    on_done: Callable[[], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Run ``scenario`` once per seed; return a summary table (one row per seed) and, for
    each table named in ``keep``, all runs stacked with a ``seed`` column."""
    tasks = [(scenario, int(s), months, keep) for s in seeds]
    own = executor is None and workers > 1
    pool = process_pool(workers) if own else executor
    try:
        mapper = pool.map if pool is not None else map
        results: list[tuple[dict, dict]] = []
        for res in mapper(_run, tasks):
            results.append(res)
            if on_done is not None:
                on_done()
    finally:
        if own and pool is not None:
            pool.shutdown()
    summary = pd.DataFrame([{"seed": s, **r[0]} for s, r in zip(seeds, results, strict=True)])
    tables = {
        name: pd.concat(
            [r[1][name].assign(seed=s) for s, r in zip(seeds, results, strict=True)],
            ignore_index=True,
        )
        for name in keep
    }
    return summary, tables
