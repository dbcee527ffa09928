"""Results move only on purpose: the pinned worlds reproduce their recorded digests.

If this fails after a change that was meant to move results, bump ``MODEL_VERSION`` in
``sim/runner.py``, run ``.venv/bin/python -m tests.golden --update`` and say why in the
commit message. If the change was a refactor, it has changed behaviour: find out where.
"""

from __future__ import annotations

import pytest

from sim.runner import MODEL_VERSION

from . import golden


def test_digests_are_recorded_for_this_model_version() -> None:
    data = golden.recorded()
    assert data["model_version"] == MODEL_VERSION, (
        f"golden_master.json is for MODEL_VERSION {data['model_version']}, the code says "
        f"{MODEL_VERSION}: run `python -m tests.golden --update` in the commit that bumps it"
    )
    assert set(data["worlds"]) == set(golden.WORLDS)


@pytest.mark.parametrize("world", sorted(golden.WORLDS))
def test_world_reproduces_its_digests(world: str) -> None:
    expected = golden.recorded()["worlds"][world]
    actual = golden.compute(world)
    moved = {
        table: (expected.get(table), d) for table, d in actual.items() if expected.get(table) != d
    }
    assert not moved, f"{world}: results moved without a MODEL_VERSION bump: {moved}"


def test_digest_sees_a_change_in_the_last_kept_digit_but_not_row_order() -> None:
    import pandas as pd

    a = pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]})
    assert golden.table_digest(a) == golden.table_digest(a.iloc[::-1])
    assert golden.table_digest(a) == golden.table_digest(a.assign(x=[1.0 + 1e-13, 2.0]))
    assert golden.table_digest(a) != golden.table_digest(a.assign(x=[1.0 + 1e-8, 2.0]))
