"""What `computesim params` does: list every parameter with its default, unit, bounds and
source.

Apart from :mod:`sim.run_cli` (which imports the runner, and with it Mesa, pandas and SciPy)
because the list needs only the configuration.
"""

from __future__ import annotations

import argparse

from sim.config import parameter_table


def cmd_params(args: argparse.Namespace) -> int:
    """Print the parameter table (``--markdown``: as a Markdown table)."""
    rows = parameter_table()
    if args.markdown:
        print("| parameter | default | unit | bounds | source |")
        print("|---|---|---|---|---|")
        for r in rows:
            cells = [f"`{r['parameter']}`", r["default"], r["unit"], r["bounds"], r["source"]]
            print("| " + " | ".join(cells) + " |")
    else:
        for r in rows:
            head = f"{r['parameter']:<52} {r['default']:>14} {r['unit']:<24}"
            print(f"{head} {r['bounds']:<18} {r['source']}")
    return 0
