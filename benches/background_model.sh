#!/usr/bin/env bash
# The refill-curve background model against the exact replay at large CPU
# counts (issue 12; tests/background_model.rs covers 8-32 CPUs in CI).
# For each CPU count, runs `default` under both models (both policies,
# --jobs 1) and prints IOPS, TLB misses per I/O, stolen cycles and
# background work lost with their relative gap, and each run's wall time
# (engine.json). Fails if a gap exceeds 1%.
# Usage: benches/background_model.sh [TLBSIM] [CPUS...]
#   default: target/release/tlbsim, CPUs 64 128 256; IOS (default 2000)
#   sets stop.ios.
set -euo pipefail
tlbsim=${1:-target/release/tlbsim}
shift || true
cpus=${*:-64 128 256}
ios=${IOS:-2000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in $cpus; do
  for m in exact curve; do
    "$tlbsim" run default --jobs 1 --set machine.cpus="$n" --set stop.ios="$ios" \
      --set stop.warmup_ios=$((ios / 10)) --set background.model="\"$m\"" \
      --out "$work/$n-$m" > /dev/null
  done
done
python3 - "$work" $cpus <<'PY'
import json, sys
work, cpus = sys.argv[1], sys.argv[2:]
def load(n, m):
    s = json.load(open(f"{work}/{n}-{m}/summary.json"))
    e = json.load(open(f"{work}/{n}-{m}/engine.json"))
    return s["runs"], {r["policy"]: r["wall_seconds"] for r in e["runs"]}
def metrics(r):
    io = r["io"]["completed"]
    return {"IOPS": r["throughput"]["iops"], "misses/I/O": r["tlb"]["misses"] / io,
            "stolen": r["stolen_cycles"], "work lost %": r["background"]["work_lost_percent"]}
worst = 0.0
print("| CPUs | policy | metric | exact | curve | gap |")
print("|---|---|---|---|---|---|")
walls = []
for n in cpus:
    (er, ew), (cr, cw) = load(n, "exact"), load(n, "curve")
    for a, b in zip(er, cr):
        me, mc = metrics(a), metrics(b)
        for k in me:
            gap = abs(mc[k] - me[k]) / abs(me[k]) if me[k] else abs(mc[k])
            worst = max(worst, gap)
            print(f"| {n} | {a['policy']} | {k} | {me[k]:.6g} | {mc[k]:.6g} | {100 * gap:.3f}% |")
        walls.append((n, a["policy"], ew[a["policy"]], cw[b["policy"]]))
print()
print("| CPUs | policy | exact wall s | curve wall s | speed-up |")
print("|---|---|---|---|---|")
for n, p, e, c in walls:
    print(f"| {n} | {p} | {e:.2f} | {c:.3f} | {e / c:.0f}x |")
print(f"\nworst gap: {100 * worst:.3f}%")
sys.exit(0 if worst <= 0.01 else 1)
PY
