"""Which Python ran the benchmark, and how it was built: the interpreter moves every speed
figure, so the benchmarks print it beside them.

The same code, on the same machine, back to back (2026-11-27): Debian trixie's python3.13.5
(one executable with the interpreter linked in, built by Debian with profile-guided and
link-time optimisation) made 8,873 default runs an hour on 2 workers; the machine's pyenv
python3.12.1 (configured with ``--enable-shared`` only: the interpreter in libpython, called
through the dynamic linker, no PGO or LTO) made 7,033. See the README's speed section.

Since 2026-11-28 ``make setup`` links ``.venv``'s interpreter with that pyenv build's own
``libpython3.12.a`` built in (``install/link_interpreter.sh``): the same objects without the
dynamic linker's indirections, 5.9% fewer instructions a run and 7.5% less CPU a run
(``benchmarks/paired.py``, six pairs at the same moments, one on each core: 0.890-0.986;
alternating sweeps had suggested about 20%, the machine's drift). The description below
says "libpython linked in" for it.

Usage: python benchmarks/interpreter.py   (prints the description)
"""

from __future__ import annotations

import platform
import sys
import sysconfig
from pathlib import Path

OPTIMISATION_FLAGS = ("--enable-optimizations", "--with-lto")
"""``configure`` options of CPython's profile-guided and link-time optimised build."""


def libpython_is_shared(maps: Path = Path("/proc/self/maps")) -> bool | None:
    """True if the interpreter runs from a shared ``libpython`` (as ``--enable-shared`` builds
    do), False if it is linked into the executable; None where the process's memory map
    cannot be read (not Linux). Read from the loaded libraries, not from ``sysconfig``: a
    distribution can build both and report the shared build's configuration."""
    try:
        text = maps.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    mapped = (fields[-1] for fields in map(str.split, text.splitlines()) if fields)
    return any(Path(name).name.startswith("libpython") for name in mapped)


def describe() -> str:
    """One line: implementation, version, executable, how libpython is linked, and the
    optimisation options the build's ``configure`` recorded (if any)."""
    shared = libpython_is_shared()
    linked = {
        True: "libpython shared",
        False: "libpython linked in",
        None: "libpython linking unknown",
    }[shared]
    config = sysconfig.get_config_var("CONFIG_ARGS") or ""
    flags = [flag for flag in OPTIMISATION_FLAGS if flag in config]
    options = (
        ", ".join(flags)
        if flags
        else "configure recorded neither --enable-optimizations nor --with-lto"
    )
    return (
        f"{platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable}; {linked}; {options})"
    )


if __name__ == "__main__":
    print(describe())
