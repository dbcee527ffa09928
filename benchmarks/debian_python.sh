#!/usr/bin/env bash
# The sweep benchmark (bench_sweep.py) on Debian's own Python, in a chroot on this machine:
# Debian trixie's python3.13 has the interpreter linked into the executable and is built
# with profile-guided and link-time optimisation, so running the same commit there and here
# separates the speed of the interpreter's build from the speed of the code.
#
# Usage: bash benchmarks/debian_python.sh [bench_sweep.py options]     (as root)
#   ROOTFS=/path  where the Debian system goes (default /tmp/computesim-trixie; kept for
#                 the next call, which skips debootstrap)
#
# Needs root, debootstrap (installed from Debian's packages if missing), and Debian's and
# PyPI's registries. Measures the committed HEAD (git archive), not uncommitted changes.
# It prints the interpreter it ran on; run benchmarks/bench_sweep.py with the same options
# right after it for this machine's own Python.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${ROOTFS:-/tmp/computesim-trixie}
if [ "$(id -u)" -ne 0 ]; then
  echo "error: debian_python.sh needs root (debootstrap and chroot)" >&2
  exit 2
fi
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
if [ ! -x "$root/usr/bin/python3" ]; then
  debootstrap --variant=minbase --include=python3,python3-venv trixie "$root" \
    http://deb.debian.org/debian
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
rm -rf "$root/src" && mkdir -p "$root/src"
git -C "$repo" archive HEAD | tar -x -C "$root/src"
mounted=()  # unmounted on exit: only what this script mounted
trap 'for m in "${mounted[@]}"; do umount --lazy "$m" || true; done' EXIT
if ! mountpoint -q "$root/proc"; then
  mount -t proc proc "$root/proc" && mounted+=("$root/proc")
fi
if ! mountpoint -q "$root/dev"; then  # /dev/shm for the process pool
  mount --bind /dev "$root/dev" && mounted+=("$root/dev")
fi
chroot "$root" env PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_FIND_LINKS= bash -c '
  set -e
  cd /src
  [ -x /venv/bin/python ] || python3 -m venv /venv
  /venv/bin/python -m pip install --quiet --upgrade pip
  /venv/bin/python -m pip install --quiet .
  /venv/bin/python benchmarks/bench_sweep.py "$@"
' bash "$@"
