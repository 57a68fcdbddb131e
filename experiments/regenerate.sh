#!/usr/bin/env bash
# Regenerates the committed figures of experiments/figures/ at full size.
# Usage: experiments/regenerate.sh [EXPERIMENT...]   (default: all five)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
mkdir -p experiments/figures target/experiments
for e in "${@:-scaling io-size migration ipi-cost policies}"; do
  for name in $e; do
    ./target/release/tlbsim sweep "$name" --out "target/experiments/$name"
    cp "target/experiments/$name/plots/figure.png" "experiments/figures/$name.png"
  done
done
