#!/usr/bin/env python3
"""Summarizes kvm_ipi's output lines (stdin): per configuration the median
over runs of each run's median send/ack cycles (with the runs' min-max and
the mean p10-p90), then per mode the least-squares slope of send cycles in
the number of targets: the sender-side cost per destination vCPU."""
import statistics
import sys
from collections import defaultdict


def parse(line):
    kind, *fields = line.split()
    kv = dict(f.split("=", 1) for f in fields)
    return kind, kv


def fit(points):
    """Least-squares line through (x, y): (slope, intercept)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return float("nan"), my
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return slope, my - slope * mx


def main():
    groups = defaultdict(list)
    khz = []
    # run index of each line: the n-th line of a configuration is run n
    per_run = defaultdict(list)
    for line in sys.stdin:
        if not line.strip() or line.startswith("#"):
            continue
        kind, kv = parse(line)
        key = (kind, kv.get("mode", "-"), kv.get("running", "0"), kv.get("pin", "0"),
               int(kv["targets"]))
        per_run[(key[:4], len(groups[key]))].append((key[4], int(kv["send_median"])))
        groups[key].append(kv)
        if "tsc_khz_cal" in kv:
            khz.append(float(kv["tsc_khz_cal"]))
        elif "tsc_khz" in kv:
            khz.append(float(kv["tsc_khz"]))
    mhz = statistics.median(khz) / 1000.0
    print(f"\nTSC {mhz:.1f} MHz; cycles are TSC cycles; us = cycles / {mhz:.1f}")
    print("| kind | mode | running | pin | targets | runs | send median | runs min-max | "
          "p10-p90 | send us | ack median | ack us |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    med = {}
    for key in sorted(groups):
        rs = groups[key]
        sends = [int(r["send_median"]) for r in rs]
        acks = [int(r["ack_median"]) for r in rs]
        p10 = statistics.mean(int(r["send_p10"]) for r in rs)
        p90 = statistics.mean(int(r["send_p90"]) for r in rs)
        s, a = statistics.median(sends), statistics.median(acks)
        med[key] = s
        kind, mode, running, pin, t = key
        print(f"| {kind} | {mode} | {running} | {pin} | {t} | {len(rs)} | {s:.0f} | "
              f"{min(sends)}-{max(sends)} | {p10:.0f}-{p90:.0f} | {s / mhz:.2f} | {a:.0f} | "
              f"{a / mhz:.2f} |")
    print("\nSlope of the send time in targets (halted targets), cycles per target:")
    print("| kind | mode | pin | fit over | slope cycles | slope us | intercept cycles |")
    print("|---|---|---|---|---|---|---|")
    series = defaultdict(list)
    for (kind, mode, running, pin, t), s in med.items():
        if running == "0" and mode != "none":
            series[(kind, mode, pin)].append((t, s))
    slopes = {}
    for k in sorted(series):
        pts = sorted(series[k])
        for label, sel in (("all T", pts), ("T >= 7", [p for p in pts if p[0] >= 7]),
                           ("T <= 31", [p for p in pts if p[0] <= 31])):
            if len(sel) < 2:
                continue
            slope, icpt = fit(sel)
            slopes[(k, label)] = slope
            print(f"| {k[0]} | {k[1]} | {k[2]} | {label} | {slope:.0f} | {slope / mhz:.3f} | "
                  f"{icpt:.0f} |")
    print("\nEach run's own slope (halted targets, T = every size measured), median and range, "
          "the figure tlbsim's kvm-guest preset takes (kvm, shorthand, pin=1, all T):")
    by_series = defaultdict(lambda: defaultdict(list))
    for (k, run), pts in per_run.items():
        kind, mode, running, pin = k
        if running != "0" or mode == "none" or len(pts) < 2:
            continue
        pts = sorted(pts)
        by_series[(kind, mode, pin)]["all T"].append(fit(pts)[0])
        low = [p for p in pts if p[0] <= 31]
        if len(low) >= 2:
            by_series[(kind, mode, pin)]["T <= 31"].append(fit(low)[0])
    for k in sorted(by_series):
        for label, xs in sorted(by_series[k].items()):
            m = statistics.median(xs)
            print(f"  {k[0]} {k[1]} pin={k[2]} {label}: {len(xs)} runs, median {m:.0f} cycles = "
                  f"{m / mhz:.3f} us (range {min(xs) / mhz:.2f}-{max(xs) / mhz:.2f} us)")
    print("\nPer halted target, net of the ICR write's own exit (unicast - self), cycles:")
    for (k, label), slope in sorted(slopes.items()):
        kind, mode, pin = k
        if kind == "kvm" and mode == "unicast":
            base = slopes.get((("kvm", "self", pin), label))
            if base is not None:
                net = slope - base
                print(f"  pin={pin} {label}: {slope:.0f} - {base:.0f} = {net:.0f} cycles = "
                      f"{net / mhz:.3f} us")
    print("\nOne target, net of the rdtsc pair (mode none) and, for unicast/shorthand, "
          "of one self write:")
    for pin in sorted({k[3] for k in med}):
        none = med.get(("kvm", "none", "0", pin, 1))
        self1 = med.get(("kvm", "self", "0", pin, 1))
        if none is None or self1 is None:
            continue
        print(f"  pin={pin}: rdtsc pair {none:.0f}; self write {self1 - none:.0f}")
        for mode in ("unicast", "shorthand", "cluster"):
            s1 = med.get(("kvm", mode, "0", pin, 1))
            if s1 is not None:
                print(f"  pin={pin}: {mode} 1 halted target: {s1 - none:.0f} cycles incl. the "
                      f"exit, {s1 - self1:.0f} beyond a self write = {(s1 - self1) / mhz:.2f} us")
        run_u = med.get(("kvm", "unicast", "1", pin, 1))
        run_s = med.get(("kvm", "self", "1", pin, 1))
        if run_u is not None and run_s is not None:
            print(f"  pin={pin}: unicast to 1 running target beyond a self write: "
                  f"{run_u - run_s:.0f} cycles = {(run_u - run_s) / mhz:.3f} us")


if __name__ == "__main__":
    main()
