#!/usr/bin/env python3
"""Write the address-trace families that check `tlbsim tlb` against the
pycachesim oracle (tests/tlb_oracle.rs), one file per family, in tlbsim's
trace format (one 0x-hex address per line).

Usage: tlb_traces.py OUTDIR [--seed N] [--scale F]

Families (all deterministic for a seed):
  uniform   uniformly random addresses over 8,192 pages (32 MiB)
  strided   set-conflict bursts: c pages k*stride apart (stride 16..512 pages,
            c = 2..40) swept cyclically, so a set gets more pages than it has
            ways (and fewer, for contrast)
  hotcold   90% of accesses to 48 hot pages, 10% to 60,000 cold pages
  cyclic    repeated sweeps over 40..2,200 pages: larger than a 64-entry L1
            and a 1,536-entry L2, LRU's worst case, mixed with sweeps that fit
  fio       the pages of every I/O of a real recorded fio trace
            (validation/data/fio-randrw-zipf.iolog): offset..offset+len, one
            address per 4 KiB, in the order fio issued them
  huge      for 2 MiB pages: uniform over 16 GiB plus 2 MiB-stride sweeps
"""
import argparse
import os
import random

PAGE = 4096
HERE = os.path.dirname(os.path.abspath(__file__))
FIO_LOG = os.path.join(HERE, "data", "fio-randrw-zipf.iolog")
BASE = 0x7F00_0000_0000  # a user-space-like base; every address stays < 2^47


def uniform(r, n):
    return [BASE + r.randrange(8192 * PAGE) for _ in range(n)]


def strided(r, n):
    out = []
    while len(out) < n:
        stride = r.choice([16, 32, 64, 128, 256, 512])
        count = r.randint(2, 40)
        first = r.randrange(4096)
        reps = r.randint(2, 12)
        pages = [first + k * stride for k in range(count)]
        for _ in range(reps):
            for p in pages:
                out.append(BASE + p * PAGE + r.randrange(PAGE))
    return out[:n]


def hotcold(r, n):
    hot = [r.randrange(1 << 20) for _ in range(48)]
    out = []
    for _ in range(n):
        if r.random() < 0.9:
            p = r.choice(hot)
        else:
            p = (1 << 20) + r.randrange(60000)
        out.append(BASE + p * PAGE + r.randrange(PAGE))
    return out


def cyclic(r, n):
    out = []
    sizes = [40, 63, 64, 65, 80, 100, 1000, 1535, 1536, 1537, 1600, 2200]
    while len(out) < n:
        size = r.choice(sizes)
        first = r.randrange(1 << 16)
        for _ in range(r.randint(3, 8)):
            out.extend(BASE + (first + k) * PAGE for k in range(size))
    return out[:n]


def fio(r, n):
    out = []
    with open(FIO_LOG) as f:
        for line in f:
            parts = line.split()
            # fio iolog v2/v3: [time] file action offset length
            if len(parts) >= 4 and parts[-3] in ("read", "write"):
                off, length = int(parts[-2]), int(parts[-1])
                for a in range(off - off % PAGE, off + length, PAGE):
                    out.append(BASE + a)
    return out[:n]


def huge(r, n):
    two_m = 2 << 20
    out = []
    while len(out) < n:
        if r.random() < 0.5:
            out.extend(BASE + r.randrange(16 << 30) for _ in range(2000))
        else:
            size = r.choice([8, 31, 32, 33, 100, 1600])
            first = r.randrange(4096)
            for _ in range(3):
                out.extend(BASE + (first + k) * two_m + r.randrange(two_m) for k in range(size))
    return out[:n]


FAMILIES = {
    "uniform": uniform,
    "strided": strided,
    "hotcold": hotcold,
    "cyclic": cyclic,
    "fio": fio,
    "huge": huge,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply trace lengths")
    ap.add_argument("--only", help="one family")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    n = int(100_000 * a.scale)
    for i, (name, gen) in enumerate(FAMILIES.items()):
        if a.only and name != a.only:
            continue
        r = random.Random(a.seed * 1000 + i)
        addrs = gen(r, n)
        with open(os.path.join(a.outdir, name + ".trace"), "w") as f:
            f.write("# tlbsim trace family %s, seed %d\n" % (name, a.seed))
            f.write("\n".join("0x%x" % x for x in addrs))
            f.write("\n")


if __name__ == "__main__":
    main()
