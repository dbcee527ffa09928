"""Check a variant of the default world against the calibration and issue 16's lines at once.

    .venv/bin/python benchmarks/variant_check.py --set K=V [--set K=V ...] [--seeds 8]
        [--glut-seeds 10] [--no-glut] [--out DIR]

Prints, for the default world with the ``--set`` overrides (dotted paths, as
``computesim calibrate --set``): the calibration table's count in range and beyond a factor
of 2 over ``--seeds`` seeds, with every target out of range; then issue 16's baseline lines
(lead time, the leading vendor's FY26 revenue, the October 2025 price), its named-network
lines and, unless ``--no-glut``, the endogenous glut by pre-emption weight
(``benchmarks/issue16_must_show.py``). The calibration runs are kept in ``--out`` (default
``results/variants/<hash of the settings>``), so a rerun reuses them. This is the loop that
found the trade-off in the README's "What holds it back": a variant that brings the 2025 price
into range can lose the glut, the Stargate contract or CoreWeave's backlog.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import issue16_must_show as issue16

from sim.calibration import in_range_count, within_factor_2_count
from sim.cli import main as computesim
from sim.config import ConfigError, parse_settings


def calibration_summary(settings: list[str], seeds: int, out: Path) -> None:
    """Run ``computesim calibrate`` with the settings and print the out-of-range targets."""
    args = ["calibrate", "--seeds", str(seeds), "--out", str(out), "--no-progress"]
    for item in settings:
        args += ["--set", item]
    code = computesim(args)
    if code != 0:
        raise SystemExit(code)
    report = pd.read_csv(out / "report.csv")
    inside = in_range_count(report)
    beyond = len(report) - within_factor_2_count(report["ratio"])
    print(f"\nIN RANGE {inside} of {len(report)}; beyond a factor of 2: {beyond}")
    for row in report[~report["in_range"]].itertuples():
        print(
            f"  {row.id:<40} {row.median:>9.3g}  [{row.low:g}, {row.high:g}]  "
            f"model/record {row.ratio:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="K=V")
    parser.add_argument("--seeds", type=int, default=8, help="calibration seeds (default 8)")
    parser.add_argument("--issue16-seeds", type=int, default=5, help="default 5")
    parser.add_argument("--glut-seeds", type=int, default=10, help="default 10")
    parser.add_argument("--no-glut", action="store_true", help="skip the endogenous glut")
    parser.add_argument("--out", type=Path, default=None, help="calibration runs folder")
    args = parser.parse_args()
    try:  # a malformed item is refused before any run
        settings = parse_settings(args.set)
    except ConfigError as exc:
        parser.error(str(exc))
    key = hashlib.sha256(repr(sorted(settings.items())).encode()).hexdigest()[:12]
    out = args.out or Path("results") / "variants" / key
    print(f"variant: {settings or 'the default world'}; calibration runs in {out}")
    calibration_summary(args.set, args.seeds, out)
    issue16.OVERRIDES.update(settings)
    print()
    issue16.baseline_figures(args.issue16_seeds)
    issue16.named_network(args.issue16_seeds)
    if not args.no_glut:
        issue16.endogenous_glut(args.glut_seeds)


if __name__ == "__main__":
    main()
