#!/usr/bin/env bash
# Runs every bundled experiment at its CI size (experiments/README.md) with
# --jobs 1 and --jobs 2 and checks the outputs are byte-identical; for
# `scaling`, also runs shards 1/2 and 2/2, merges them and checks the merge
# equals the unsharded run. Usage: experiments/check.sh [TLBSIM]
set -euo pipefail
tlbsim=${1:-./target/release/tlbsim}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# CI sizes: the --set of experiments/README.md.
declare -A size=(
  [scaling]="--set stop.ios=200 --set stop.warmup_ios=20"
  [io-size]="--set stop.ios=500 --set stop.warmup_ios=50"
  [migration]="--set stop.ios=1000 --set stop.warmup_ios=100"
  [ipi-cost]="--set stop.ios=500 --set stop.warmup_ios=50"
  [policies]="--set stop.ios=200 --set stop.warmup_ios=20"
  [sensitivity]="--set stop.ios=300 --set stop.warmup_ios=30"
)

same() { # DIR_A DIR_B: every output file identical
  for f in sweep.csv sweep.json report.html plan.json; do
    cmp "$1/$f" "$2/$f"
  done
  diff -r "$1/plots" "$2/plots" > /dev/null
}

for e in scaling io-size migration ipi-cost policies sensitivity; do
  echo "experiment: $e (CI size)"
  # shellcheck disable=SC2086
  "$tlbsim" sweep "$e" ${size[$e]} --jobs 1 --out "$work/$e-j1"
  # shellcheck disable=SC2086
  "$tlbsim" sweep "$e" ${size[$e]} --jobs 2 --out "$work/$e-j2"
  same "$work/$e-j1" "$work/$e-j2"
  rows=$(($(wc -l < "$work/$e-j1/sweep.csv") - 1))
  keycols=$(head -1 "$work/$e-j1/sweep.csv" | tr , '\n' | grep -n '^seed$' | cut -d: -f1)
  uniq_rows=$(tail -n +2 "$work/$e-j1/sweep.csv" | cut -d, -f1-"$keycols" | sort -u | wc -l)
  [ "$uniq_rows" -eq "$rows" ] || { echo "$e: duplicate rows"; exit 1; }
  jobs=$(grep -c '"hash"' "$work/$e-j1/plan.json")
  [ "$rows" -eq "$((jobs - 1))" ] || { echo "$e: $rows rows for $((jobs - 1)) simulations"; exit 1; }
  echo "  --jobs 1 and --jobs 2 identical; $rows rows, no duplicates"
done

echo "experiment: sensitivity, tornado figure"
python3 experiments/tornado.py "$work/sensitivity-j1/sweep.csv" "$work/tornado-1.svg" > /dev/null
python3 experiments/tornado.py "$work/sensitivity-j2/sweep.csv" "$work/tornado-2.svg" > /dev/null
cmp "$work/tornado-1.svg" "$work/tornado-2.svg"
grep -q '<svg' "$work/tornado-1.svg"
echo "  tornado drawn, identical for --jobs 1 and 2"

echo "experiment: scaling, shards 1/2 + 2/2 merged"
# shellcheck disable=SC2086
"$tlbsim" sweep scaling ${size[scaling]} --shard 1/2 --jobs 1 --out "$work/s1"
# shellcheck disable=SC2086
"$tlbsim" sweep scaling ${size[scaling]} --shard 2/2 --jobs 1 --out "$work/s2"
"$tlbsim" merge "$work/s1" "$work/s2" --out "$work/merged"
same "$work/scaling-j1" "$work/merged"
echo "  merged shards identical to the unsharded run"
