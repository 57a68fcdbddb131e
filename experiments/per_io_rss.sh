#!/usr/bin/env bash
# Benchmark (not a timed test): `tlbsim run --per-io` streams its rows, so a
# run of 1,000,000 measured I/Os keeps its peak RSS within 10% of a run of
# 10,000 (issue 13). Prints both peaks (engine.json's peak_rss_bytes, the
# process's VmHWM) and the ratio; exits 1 if the ratio exceeds 1.10.
# Results are written down in BENCHMARKS.md ("Per-I/O records").
#
# Usage: experiments/per_io_rss.sh [path/to/tlbsim]   (default: target/release/tlbsim)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/tlbsim}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

peak() { # IOS -> peak RSS in bytes (from engine.json)
  local ios=$1 out=$tmp/run-$1
  "$bin" run default --set "stop.ios=$ios" --set stop.warmup_ios=1000 \
    --per-io "$tmp/io-$ios.csv" --out "$out" > /dev/null
  local rows
  rows=$(($(wc -l < "$tmp/io-$ios.csv") - 1))
  echo "ios=$ios rows=$rows csv_bytes=$(stat -c %s "$tmp/io-$ios.csv")" >&2
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["peak_rss_bytes"])' "$out/engine.json"
}

small=$(peak 10000)
large=$(peak 1000000)
python3 - "$small" "$large" <<'PY'
import sys
small, large = int(sys.argv[1]), int(sys.argv[2])
ratio = large / small
print(f"peak RSS: 10,000 I/Os {small/1e6:.2f} MB, 1,000,000 I/Os {large/1e6:.2f} MB, ratio {ratio:.3f}")
sys.exit(0 if ratio <= 1.10 else 1)
PY
