#!/usr/bin/env bash
# Regenerates the committed figures of experiments/figures/ at full size.
# Usage: experiments/regenerate.sh [EXPERIMENT...]   (default: all six)
# `sensitivity`'s tornado figure is drawn by experiments/tornado.py (python3,
# standard library only) from its sweep.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
mkdir -p experiments/figures target/experiments
for e in "${@:-scaling io-size migration ipi-cost policies sensitivity}"; do
  for name in $e; do
    ./target/release/tlbsim sweep "$name" --out "target/experiments/$name"
    if [ "$name" = sensitivity ]; then
      python3 experiments/tornado.py "target/experiments/$name/sweep.csv" experiments/figures/sensitivity.svg
    else
      cp "target/experiments/$name/plots/figure.png" "experiments/figures/$name.png"
    fi
  done
done
