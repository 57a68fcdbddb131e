#!/usr/bin/env bash
# The simulation part of `tlbsim run default`, binaries side by side: each
# round runs `BINARY run default --jobs 1 --out D` for every BINARY in turn
# (so machine noise hits them alike), reads each policy's wall_seconds from
# D/engine.json, and at the end prints min / median / max per binary and
# policy, and each binary's ratio of medians to the first one's.
#
#   benches/side_by_side.sh [-n ROUNDS] BINARY [BINARY ...]   (ROUNDS: 10)
#
# Run it on an idle machine: it measures wall time (BENCHMARKS.md records
# what it printed and under which load).
set -euo pipefail
rounds=10
if [ "${1:-}" = "-n" ]; then rounds=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [-n ROUNDS] BINARY [BINARY ...]" >&2; exit 2; }
for b in "$@"; do
  [ -x "$b" ] || { echo "$b: not an executable" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for r in $(seq 1 "$rounds"); do
  i=0
  for b in "$@"; do
    d="$work/r$r-b$i"
    "$b" run default --jobs 1 --out "$d" > /dev/null
    i=$((i + 1))
  done
done
python3 - "$work" "$rounds" "$@" <<'PY'
import json, statistics, sys
work, rounds, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
walls = {}
for i, b in enumerate(bins):
    for r in range(1, rounds + 1):
        for run in json.load(open(f"{work}/r{r}-b{i}/engine.json"))["runs"]:
            walls.setdefault((i, run["policy"]), []).append(run["wall_seconds"])
policies = sorted({p for _, p in walls})
print("| binary | policy | min s | median s | max s | first / this (medians) |")
print("|---|---|---|---|---|---|")
for p in policies:
    first = statistics.median(walls[(0, p)])
    for i, b in enumerate(bins):
        w = walls[(i, p)]
        m = statistics.median(w)
        print(f"| {b} | {p} | {min(w):.4f} | {m:.4f} | {max(w):.4f} | {first / m:.2f}x |")
PY
