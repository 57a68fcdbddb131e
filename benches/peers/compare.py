#!/usr/bin/env python3
"""Runs tlbsim and its SimPy peer (default_simpy.py) side by side on the
`default` scenario and prints a Markdown table: mean/p50/p99 latency and
IOPS per policy, and the wall-time ratio measured in the same run.

tlbsim runs like-for-like with the peer: `background.enabled=false` (no
background workload, whose TLB the peer does not model) and
`host.shootdown_scope=all` (the dirty mask the background would have
filled: every CPU ran dom0). The I/O statistics of that configuration are
those of the plain `default` (the background changes only TLB contents off
the I/O path); the script checks it and also times the plain `default`.

Installs simpy with pip (`python3 -m pip install simpy`) if it is missing,
and says so.

Usage: benches/peers/compare.py [--tlbsim PATH] [--ios 20000,200000]
                                [--seeds 1,2,3,4,5] [--agreement-ios 20000]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIKE_FOR_LIKE = ["--set", "background.enabled=false", "--set", "host.shootdown_scope=all"]
POLICIES = ["global", "percpu"]


def ensure_simpy():
    try:
        import simpy  # noqa: F401
    except ImportError:
        print("simpy is missing: installing it with `python3 -m pip install simpy`", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "simpy"], check=True)


def tlbsim(binary, policy, ios, seed, extra):
    """One tlbsim process; returns (stats, process wall s, engine wall s)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [binary, "run", "default", "--policies", policy, "--jobs", "1", "--seed", str(seed),
               "--set", f"stop.ios={ios}", "--out", out] + extra
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        run = json.load(open(os.path.join(out, "summary.json")))["runs"][0]
        engine = json.load(open(os.path.join(out, "engine.json")))["runs"][0]
    lat = run["latency_cycles"]
    stats = {"mean": lat["mean"], "p50": lat["p50"], "p99": lat["p99"],
             "iops": run["throughput"]["iops"]}
    return stats, wall, engine["wall_seconds"]


def peer(policy, ios, seed, extra=()):
    """One peer process; returns (stats, process wall s, simulation wall s)."""
    cmd = [sys.executable, os.path.join(HERE, "default_simpy.py"), "--policy", policy,
           "--ios", str(ios), "--seed", str(seed), *extra]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    stats = json.loads(out)
    return stats, wall, stats["wall_seconds"]


def pct(a, b):
    return f"{100.0 * (b - a) / a:+.2f}%"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tlbsim", default=os.path.join(ROOT, "target", "release", "tlbsim"))
    ap.add_argument("--ios", default="20000,200000", help="measured I/Os per timed run")
    ap.add_argument("--seeds", default="1,2,3,4,5", help="seeds of the agreement table")
    ap.add_argument("--agreement-ios", type=int, default=20000)
    a = ap.parse_args(argv)
    ensure_simpy()
    ios_list = [int(x) for x in a.ios.split(",") if x]
    seeds = [int(x) for x in a.seeds.split(",") if x]

    print("## Timing and agreement, seed 1 (latency in cycles, wall in seconds)\n")
    print("| policy | I/Os | tlbsim mean / p50 / p99 | peer mean / p50 / p99 | mean diff | "
          "tlbsim IOPS | peer IOPS | IOPS diff | tlbsim wall (process / sim) | "
          "peer wall (process / sim) | peer / tlbsim (process / sim) | plain default wall (process / sim) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for ios in ios_list:
        for policy in POLICIES:
            t, t_wall, t_sim = tlbsim(a.tlbsim, policy, ios, 1, LIKE_FOR_LIKE)
            d, d_wall, d_sim = tlbsim(a.tlbsim, policy, ios, 1, [])
            if d != t:
                sys.exit(f"plain default and the like-for-like configuration differ: {d} vs {t}")
            p, p_wall, p_sim = peer(policy, ios, 1)
            print(f"| {policy} | {ios:,} | {t['mean']:,.0f} / {t['p50']:,} / {t['p99']:,} | "
                  f"{p['mean']:,.0f} / {p['p50']:,.0f} / {p['p99']:,.0f} | {pct(t['mean'], p['mean'])} | "
                  f"{t['iops']:,.0f} | {p['iops']:,.0f} | {pct(t['iops'], p['iops'])} | "
                  f"{t_wall:.3f} / {t_sim:.3f} | {p_wall:.2f} / {p_sim:.2f} | "
                  f"{p_wall / t_wall:.0f}x / {p_sim / t_sim:.0f}x | {d_wall:.3f} / {d_sim:.3f} |",
                  flush=True)

    # The default, and the default without interrupts-off sections (the one
    # mechanism the two account differently: see README.md).
    variants = [
        ("the default", [], []),
        ("irq-off sections off (variability.irq_off.probability=0)",
         ["--set", "variability.irq_off.probability=0"], ["--irq-off-probability", "0"]),
    ]
    for name, t_extra, p_extra in variants:
        print(f"\n## Agreement over seeds {a.seeds}, {a.agreement_ios:,} I/Os each, {name} "
              "(mean latency in cycles: mean over seeds [min, max])\n")
        print("| policy | tlbsim | peer | diff of the means | tlbsim IOPS | peer IOPS | IOPS diff |")
        print("|---|---|---|---|---|---|---|")
        for policy in POLICIES:
            ts = [tlbsim(a.tlbsim, policy, a.agreement_ios, s, LIKE_FOR_LIKE + t_extra)[0]
                  for s in seeds]
            ps = [peer(policy, a.agreement_ios, s, p_extra)[0] for s in seeds]

            def summary(xs, key):
                v = [x[key] for x in xs]
                return sum(v) / len(v), min(v), max(v)

            tm, tlo, thi = summary(ts, "mean")
            pm, plo, phi = summary(ps, "mean")
            ti, _, _ = summary(ts, "iops")
            pi, _, _ = summary(ps, "iops")
            print(f"| {policy} | {tm:,.0f} [{tlo:,.0f}, {thi:,.0f}] | {pm:,.0f} [{plo:,.0f}, {phi:,.0f}] | "
                  f"{pct(tm, pm)} | {ti:,.0f} | {pi:,.0f} | {pct(ti, pi)} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
