#!/usr/bin/env bash
# Runs the two buffer-mapping patterns on this Linux machine (tlbpat) and the
# same patterns in tlbsim (bundled scenario linux-vm2, costs recalibrated from
# this run), and prints measured vs simulated. See VALIDATION.md.
#
#   validation/linux/run.sh [--ops N] [--json FILE]
#
# Needs: root, tracefs (tlb:tlb_flush), 2+ CPUs, a C compiler, python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

skip() { echo "validation/linux: SKIPPED: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "not root (system-wide tracepoint counting needs root)"
tp=""
for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
  [ -r "$d/events/tlb/tlb_flush/id" ] && tp="$d" && break
done
if [ -z "$tp" ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
  [ -r /sys/kernel/tracing/events/tlb/tlb_flush/id ] && tp=/sys/kernel/tracing
fi
[ -n "$tp" ] || skip "no tracefs with the tlb:tlb_flush tracepoint"
[ "$(nproc)" -ge 2 ] || skip "one CPU: there is nobody to shoot down"
grep -q '^ *TLB:' /proc/interrupts || skip "no TLB row in /proc/interrupts (not x86?)"
cc="${CC:-cc}"
command -v "$cc" >/dev/null || skip "no C compiler ($cc)"
command -v python3 >/dev/null || skip "no python3"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$cc" -O2 -Wall -o "$work/tlbpat" "$here/tlbpat.c" -lpthread

tlbsim="$root/target/release/tlbsim"
if [ ! -x "$tlbsim" ]; then
  (cd "$root" && cargo build --release --quiet)
fi
exec python3 "$here/compare.py" --tlbpat "$work/tlbpat" --tlbsim "$tlbsim" "$@"
