#!/usr/bin/env python3
"""Compare the mapping policies from Python: IPIs per I/O and IOPS as the
CPU count grows (a small sweep), then one run as a dict.

    pip install ./python && python3 examples/compare_policies.py

CI runs it (.ci/run); pass --ios N for a longer run (default: CI size).
"""

import argparse

import tlbsim

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--ios", type=int, default=300, help="measured I/Os per simulation")
args = parser.parse_args()
size = {"stop.ios": args.ios, "stop.warmup_ios": args.ios // 10}

# A sweep as a dict, in the sweep file's structure: 2 policies x 3 CPU counts.
frame = tlbsim.sweep(
    {
        "base": "default",
        "policies": ["global", "percpu"],
        "seeds": [1],
        "set": size,
        "axes": {"machine.cpus": [2, 4, 8]},
    }
)
table = frame.pivot(index="machine.cpus", columns="policy", values="ipis_per_io")
print("IPIs per I/O by CPU count:")
print(table.to_string())

# One run: summary.json as a dict (what `tlbsim run default --json` prints).
summary = tlbsim.run("default", set=size)
for run in summary["runs"]:
    print(f"{run['policy']:>8}: {run['throughput']['iops']:,.0f} IOPS")

# The global policy shoots down every CPU's TLB; per-CPU mappings need none.
assert (table["global"] > table["percpu"]).all(), table
