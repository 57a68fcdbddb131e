#!/usr/bin/env python3
"""Draws the `sensitivity` experiment's tornado figure from its sweep.csv.

Usage: experiments/tornado.py SWEEP_CSV OUT_SVG

For each cost the sweep sets to its low and its high plausible value (one
`costs` axis value each, every other cost at the default), the figure has
one bar per headline ratio, from the ratio at the low value to the ratio
at the high one, around the default's ratio (the vertical line): percpu's
IOPS over global's and over batched's, and global's and batched's p99 over
percpu's (above 1: percpu has the shorter tail). Each ratio is of the means
over the sweep's seeds. Inputs are sorted by how far they move the IOPS
ratio against global, the largest on top. Only the standard library is
used (the SVG is written by hand), so CI needs nothing else; the output is
deterministic for a given sweep.csv.
"""
import csv
import json
import sys
from collections import defaultdict

RATIOS = [
    ("IOPS percpu / global", "iops", "percpu", "global"),
    ("IOPS percpu / batched", "iops", "percpu", "batched"),
    ("p99 global / percpu", "latency_p99", "global", "percpu"),
    ("p99 batched / percpu", "latency_p99", "batched", "percpu"),
]
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]


def means(rows):
    acc = defaultdict(list)
    for r in rows:
        for metric in ("iops", "latency_p99"):
            acc[(r["costs"], r["policy"], metric)].append(float(r[metric]))
    return {k: sum(v) / len(v) for k, v in acc.items()}


def ratio(m, case, metric, num, den):
    return m[(case, num, metric)] / m[(case, den, metric)]


def main(src, out):
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    m = means(rows)
    cases = []
    for r in rows:
        if r["costs"] not in cases:
            cases.append(r["costs"])
    base = cases[0]
    assert json.loads(base) == {}, "the first value of the costs axis is the default ({})"
    # Pair each input's low and high value (consecutive axis values).
    inputs = []
    for low, high in zip(cases[1::2], cases[2::2]):
        lo, hi = json.loads(low), json.loads(high)
        name = " + ".join(lo)
        label = f"{name}: {'/'.join(str(v) for v in lo.values())} .. {'/'.join(str(v) for v in hi.values())}"
        bars = [(ratio(m, low, *r[1:]), ratio(m, high, *r[1:])) for r in RATIOS]
        inputs.append((label, bars))
    base_r = [ratio(m, base, *r[1:]) for r in RATIOS]
    inputs.sort(key=lambda x: -abs(x[1][0][1] - x[1][0][0]))

    lo_x = min(min(min(b) for b in bars) for _, bars in inputs + [("", [(x, x) for x in base_r])])
    hi_x = max(max(max(b) for b in bars) for _, bars in inputs + [("", [(x, x) for x in base_r])])
    lo_x, hi_x = min(lo_x, 1.0) * 0.95, hi_x * 1.05
    left, width, row_h, bar_h, top = 360, 560, 64, 12, 60
    height = top + row_h * len(inputs) + 70
    x = lambda v: left + (v - lo_x) / (hi_x - lo_x) * width
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left + width / 2}" y="20" text-anchor="middle" font-size="14">'
        "default: percpu's ratios as one cost moves to its low / high plausible value</text>",
    ]
    for i, (label, bars) in enumerate(inputs):
        y0 = top + i * row_h
        svg.append(f'<text x="{left - 8}" y="{y0 + row_h / 2}" text-anchor="end">{label}</text>')
        for j, (a, b) in enumerate(bars):
            y = y0 + 6 + j * (bar_h + 2)
            x0, x1 = sorted((x(a), x(b)))
            svg.append(
                f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1.5):.1f}" height="{bar_h}" '
                f'fill="{COLORS[j]}" opacity="0.8"/>'
            )
            # A tick at the low value's end, to tell low from high.
            svg.append(f'<rect x="{x(a) - 1:.1f}" y="{y}" width="2" height="{bar_h}" fill="black"/>')
    for j, v in enumerate(base_r):
        svg.append(
            f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top - 5}" y2="{top + row_h * len(inputs)}" '
            f'stroke="{COLORS[j]}" stroke-dasharray="4 3"/>'
        )
    axis_y = top + row_h * len(inputs) + 5
    svg.append(f'<line x1="{left}" x2="{left + width}" y1="{axis_y}" y2="{axis_y}" stroke="black"/>')
    step = 0.5 if hi_x - lo_x > 2 else 0.25
    t = int(lo_x / step) * step
    while t <= hi_x:
        if t >= lo_x:
            svg.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{axis_y}" y2="{axis_y + 5}" stroke="black"/>')
            svg.append(f'<text x="{x(t):.1f}" y="{axis_y + 18}" text-anchor="middle">{t:g}</text>')
        t += step
    svg.append(
        f'<line x1="{x(1):.1f}" x2="{x(1):.1f}" y1="{top - 5}" y2="{axis_y}" stroke="grey"/>'
    )
    for j, (name, *_rest) in enumerate(RATIOS):
        lx = left + j * 145
        svg.append(f'<rect x="{lx}" y="{axis_y + 30}" width="12" height="12" fill="{COLORS[j]}"/>')
        svg.append(f'<text x="{lx + 16}" y="{axis_y + 40}">{name}</text>')
    svg.append(
        f'<text x="{left - 8}" y="{axis_y + 40}" text-anchor="end">ratio (dashed: default; '
        "black tick: the low value)</text>"
    )
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")
    for label, bars in inputs:
        print(label, " ".join(f"{a:.2f}..{b:.2f}" for a, b in bars))
    print("default", " ".join(f"{v:.2f}" for v in base_r))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
