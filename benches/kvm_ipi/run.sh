#!/usr/bin/env bash
# Builds kvm_ipi.c and measures, on this machine, the sender-side host cost of
# an x2APIC IPI per destination vCPU (halted or running), plus the host's
# futex wake-up per thread; prints the raw lines and a summary table
# (summarize.py: medians over runs, p10-p90 spread, least-squares slope in
# targets). Needs read-write /dev/kvm and gcc. A benchmark, not a test: it is
# not part of the cargo workspace or CI.
#
#   benches/kvm_ipi/run.sh [RUNS] [ITERS]     (defaults 3 and 200)
#
# Env: TARGETS (default "1 7 15 31 63 79"), PIN (default "1": sender's vCPU
# thread on CPU 0, targets on CPU 1; "0 1" runs both), HALT_POLL_NS (0).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runs="${1:-3}"
iters="${2:-200}"
targets="${TARGETS:-1 7 15 31 63 79}"
pins="${PIN:-1}"
hpn="${HALT_POLL_NS:-0}"
bin="${TMPDIR:-/tmp}/kvm_ipi.$$"
gcc -O2 -Wall -Wextra -o "$bin" "$here/kvm_ipi.c" -lpthread
trap 'rm -f "$bin"' EXIT
raw="$(mktemp)"
{
  echo "# $(date -u +%FT%TZ) $(uname -r) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) nproc=$(nproc)"
  echo "# kvm modules: $(ls /sys/module | grep -E '^kvm' | tr '\n' ' ')"
  for run in $(seq 1 "$runs"); do
    for pin in $pins; do
      pinarg=""; [ "$pin" = 1 ] && pinarg="--pin"
      "$bin" --mode none --targets 1 --iters "$iters" $pinarg --halt-poll-ns "$hpn"
      for t in $targets; do
        for mode in shorthand unicast cluster self; do
          "$bin" --mode "$mode" --targets "$t" --iters "$iters" $pinarg --halt-poll-ns "$hpn"
        done
        "$bin" --futex "$t" --iters "$iters" $pinarg
        "$bin" --futex "$t" --futex-baseline --iters "$iters" $pinarg
      done
      "$bin" --mode unicast --targets 1 --running --iters "$iters" $pinarg --halt-poll-ns "$hpn"
      "$bin" --mode self --targets 1 --running --iters "$iters" $pinarg --halt-poll-ns "$hpn"
    done
  done
} | tee "$raw"
python3 "$here/summarize.py" < "$raw"
rm -f "$raw"
