"""The error that every command reports as bad input: one paragraph naming the field and what
is allowed, exit code 2, nothing written (see :func:`sim.cli.main`).

A module of its own, with no imports, so that the command line can catch it without
importing the configuration (pydantic and every section's model: 0.3–0.5 s of a bare
``computesim --help``); :mod:`sim.config` raises it and exports it under the same name.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A scenario or sweep file that cannot be used; the message says which field and why."""
