#!/usr/bin/env bash
# Give a new virtual environment an interpreter with libpython linked in, when its base
# Python runs from a shared libpython (configured with --enable-shared, as pyenv's builds on
# this project's machines and CI are).
#
# Why: such an interpreter calls into libpython through the dynamic linker; every access to
# the interpreter's thread state goes through __tls_get_addr and every call between its own
# functions through the PLT. Linked into the executable, the same compiled objects (the
# base install's own libpython3.X.a and python.o, which CPython's `make install` puts in
# its config directory) run without those indirections: the same results, bit for bit,
# with 5.9% fewer instructions a default run and a faster sweep (README, Speed). Debian's
# and Ubuntu's /usr/bin/python3 are linked the same way.
#
# Usage: bash install/link_interpreter.sh VENV   (run by `make setup` right after
# `python -m venv VENV`; `make setup LINK_INTERPRETER=0` skips it). It changes nothing and
# says why when it cannot link (not Linux, no C compiler, a static base, no libpython3.X.a)
# or when the linked interpreter fails its check; it never fails the setup.
set -uo pipefail

venv=${1:?usage: link_interpreter.sh VENV}
python=$venv/bin/python3

keep() { echo "link_interpreter: kept $python as it is: $*"; exit 0; }

[ "$(uname -s)" = Linux ] || keep "not Linux"
[ -x "$python" ] || keep "no such interpreter"
case "$(readlink -f "$python")" in
  "$(readlink -f "$venv")"/*) keep "already an interpreter of its own, not the base Python's" ;;
esac

# the base build: does it run from a shared libpython (read from the libraries it loaded, as
# a distribution can build both and report the shared build's configuration), its config
# directory, static library, version, compiler and linker flags
read -r shared libpl library version cc <<<"$("$python" - <<'EOF'
import sysconfig as s
from pathlib import Path
maps = Path("/proc/self/maps").read_text(errors="replace").split()
shared = any(Path(name).name.startswith("libpython") for name in maps)
v = s.get_config_var
print(int(shared), v("LIBPL") or "-", v("LIBRARY") or "-",
      v("py_version_short") or "-", (v("CC") or "cc").split()[0])
EOF
)"
flags=$("$python" -c 'import sysconfig as s; v = s.get_config_var; print(" ".join(v(k) or "" for k in ("LINKFORSHARED", "LIBS", "MODLIBS", "SYSLIBS")))')

[ -n "$cc" ] || keep "could not read its build configuration"
[ "$shared" = 1 ] || keep "its base Python has libpython linked in already"
[ -f "$libpl/$library" ] && [ -f "$libpl/python.o" ] || keep "no $library and python.o in $libpl"
command -v "$cc" >/dev/null 2>&1 || keep "no C compiler ($cc)"

target=$venv/bin/python$version
linked=$(mktemp "$venv/bin/.python-linked.XXXXXX")
trap 'rm -f "$linked"' EXIT
# every object of the library (extension modules need the whole C API), its symbols
# exported to them (LINKFORSHARED), and the libraries the build links against
# shellcheck disable=SC2086  # $flags is a list of linker options
if ! "$cc" -o "$linked" "$libpl/python.o" -Wl,--whole-archive "$libpl/$library" \
    -Wl,--no-whole-archive $flags -lpthread 2>"$linked.log"; then
  tail -n 3 "$linked.log" >&2
  rm -f "$linked.log"
  keep "linking failed"
fi
rm -f "$linked.log"
chmod 755 "$linked"

# the check: the new executable, in the venv, finds the venv and the base's standard
# library and loads its extension modules (built against the same headers; these are in
# every CPython build, and multiprocessing needs select and _socket)
if ! "$linked" - "$venv" <<'EOF'
import math, json, decimal, select, _socket, sys
from pathlib import Path
assert Path(sys.prefix).resolve() == Path(sys.argv[1]).resolve(), sys.prefix
assert math.fsum([0.1] * 10) == 1.0 and json.loads("[1]") == [1]
EOF
then
  keep "the linked interpreter failed its check"
fi

mv -f "$linked" "$target"
trap - EXIT
# python and python3 are hard links to it, not symbolic ones: the interpreter then takes the
# base Python's executable as its base (sys._base_executable), as in any venv, so a venv made
# from this one links to the base
for name in python python3; do
  [ "$venv/bin/$name" -ef "$target" ] || ln -f "$target" "$venv/bin/$name"
done
echo "link_interpreter: $target now has libpython linked in (from $libpl/$library)"
