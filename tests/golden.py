"""The golden master: value digests of every output table for a few pinned worlds.

A digest hashes the sorted rows of a table after turning each value into text (floats to 10
significant digits, dates to ISO), so it pins the *values* a run produces, not Parquet bytes:
a pyarrow or pandas upgrade does not move it, a change of economics does.

The digests are tied to ``sim.runner.MODEL_VERSION``. A commit that changes results bumps
``MODEL_VERSION`` and rewrites the digests in the same commit, and its message says why:

    .venv/bin/python -m tests.golden --update
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sim.config import Scenario, load_scenario
from sim.runner import MODEL_VERSION, simulate

from .conftest import ROOT, small_world

DIGESTS = Path(__file__).with_name("golden_master.json")
SIGNIFICANT_DIGITS = 10


def _text(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{SIGNIFICANT_DIGITS}g}"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def table_digest(df: pd.DataFrame) -> str:
    """SHA-256 of a table's columns and sorted rows, values as text (floats rounded)."""
    columns = sorted(df.columns)
    rows = sorted(
        "\x1f".join(_text(v) for v in row) for row in df[columns].itertuples(index=False, name=None)
    )
    h = hashlib.sha256("\x1e".join(columns).encode())
    for row in rows:
        h.update(b"\x1e")
        h.update(row.encode())
    return h.hexdigest()[:16]


def run_digests(scenario: Scenario, seed: int, months: int | None = None) -> dict[str, str]:
    """Digests of every table of one run and of its summary."""
    result = simulate(scenario, seed, months)
    out = {name: table_digest(df) for name, df in sorted(result.tables.items())}
    out["summary"] = table_digest(pd.DataFrame([result.summary]))
    return out


def _baseline() -> Scenario:
    return load_scenario(ROOT / "experiments" / "baseline.toml")


def _telecom_bust() -> Scenario:
    return load_scenario(ROOT / "experiments" / "telecom_bust.toml")


def _cascade_with_rescues() -> Scenario:
    """The cascade experiment's shock (leader's revenue 80% short from month 12) with rescues."""
    return _baseline().with_overrides(
        {
            "shock.lab": "frontier-leader",
            "shock.month": 12,
            "shock.revenue_shortfall": 0.8,
            "shock.sentiment_drop": 0.9,
            "cascade.rescue": True,
            "cascade.debtrank_months": (24,),
        }
    )


def _every_deal() -> Scenario:
    """A small world with one deal of every kind, prepayments, leverage and a bust: defaults."""
    return small_world(
        deals=True,
        **{
            "run.months": 36,
            "demand.regime": "bust",
            "demand.bust_month": 10,
            "demand.bust_decline_per_month": 0.08,
            "market.prepayment_share": 0.3,
            "labs.*.optimism": 2.0,
            "finance.max_loan_to_backlog": 2.0,
            "cascade.debtrank_months": (12,),
        },
    )


WORLDS: dict[str, tuple[Callable[[], Scenario], int, int | None]] = {
    "baseline": (_baseline, 1, None),
    "telecom_bust": (_telecom_bust, 2, None),
    "cascade_rescues": (_cascade_with_rescues, 3, 72),
    "every_deal": (_every_deal, 4, None),
}
"""name → (scenario, seed, months or None for the scenario's own)."""


def compute(name: str) -> dict[str, str]:
    make, seed, months = WORLDS[name]
    return run_digests(make(), seed, months)


def recorded() -> dict[str, object]:
    return json.loads(DIGESTS.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite golden_master.json")
    args = parser.parse_args()
    digests = {name: compute(name) for name in WORLDS}
    if args.update:
        data = {"model_version": MODEL_VERSION, "worlds": digests}
        DIGESTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        print(f"wrote {DIGESTS} for MODEL_VERSION {MODEL_VERSION}")
    else:
        print(json.dumps(digests, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
