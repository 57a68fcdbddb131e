#!/usr/bin/env python3
"""`tlbsim tlb` against pycachesim's C loop on the same address traces.

Generates two traces of N addresses (default 100 M) with a fixed seed:

  l1-hot  runs of sequential 8-byte accesses (run length geometric, mean 8)
          within one of 16 hot 4 KiB pages; 1% of the runs go to a random
          page of a 1 GiB region instead. Almost every lookup hits L1.
  mixed   each address independently: half in the 16 hot pages, half in
          16,384 pages (64 MiB, beyond a 1,536-entry STLB); random offsets,
          no runs. About half the lookups miss L1, most of those miss L2.

then, in one run on this machine, times:

  tlbsim text    `tlbsim tlb` on the text trace (one 0x address per line)
  tlbsim addr64  `tlbsim tlb` on the same trace converted by
                 `tlbsim trace convert --to addr64`
  pycachesim     `CacheSimulator.load(list)` (pycachesim's C loop over a
                 Python list) configured as the same TLB (line = page, LRU;
                 validation/pycachesim_oracle.py explains the mapping); the
                 lists are built in chunks of 10 M and only `load` is timed

with a Skylake TLB (L1 64:4, L2 1536:12, 4 KiB pages). tlbsim's times are
whole processes (start, read the file from the page cache, replay, print);
the best of --repeat runs each. It checks that the hit and miss counts of
both agree, then prints lookups per second and each tlbsim time's ratio to
pycachesim's.

Needs numpy and pycachesim (`python3 -m pip install pycachesim numpy`) and a
release build (`cargo build --release`). The traces take about 2.5 GB of
disk for N = 100 M (in --dir, removed afterwards unless --keep).

Usage: benches/tlb_vs_pycachesim.py [--n N] [--repeat R] [--dir DIR] [--keep] [--tlbsim BIN]
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
L1, L2, PAGE = (64, 4), (1536, 12), 4096
CHUNK = 10_000_000
BASE = 0x7F00_0000_0000


def need(module):
    try:
        return __import__(module)
    except ImportError:
        sys.exit(
            f"tlb_vs_pycachesim: {module} is not installed: "
            "python3 -m pip install pycachesim numpy"
        )


def generate(kind, n, seed):
    """The addresses of trace `kind`, as numpy uint64 chunks."""
    np = need("numpy")
    rng = np.random.default_rng(seed)
    left = n
    while left > 0:
        m = min(CHUNK, left)
        if kind == "l1-hot":
            runs = m // 4 + 1
            lens = rng.geometric(1 / 8, runs)
            pages = rng.integers(0, 16, runs)
            cold = rng.random(runs) < 0.01
            pages = np.where(cold, rng.integers(16, 1 << 18, runs), pages)
            starts = rng.integers(0, 512, runs)
            ends = np.cumsum(lens)
            pg = np.repeat(pages, lens)[:m]
            st = np.repeat(starts, lens)[:m]
            idx = np.arange(len(pg)) - np.repeat(ends - lens, lens)[:m]
            a = BASE + pg.astype(np.uint64) * 4096 + ((st + idx) % 512).astype(np.uint64) * 8
        else:
            hot = rng.random(m) < 0.5
            p = np.where(hot, rng.integers(0, 16, m), rng.integers(0, 16384, m))
            a = BASE + p.astype(np.uint64) * 4096 + rng.integers(0, 512, m).astype(np.uint64) * 8
        yield a.astype(np.uint64)
        left -= m


def write_text(kind, n, path):
    with open(path, "w") as f:
        for chunk in generate(kind, n, 1):
            f.write("\n".join("0x%x" % x for x in chunk.tolist()))
            f.write("\n")


EXE = os.path.join(REPO, "target", "release", "tlbsim")


def tlbsim(args):
    exe = EXE
    if not os.path.exists(exe):
        sys.exit(f"tlb_vs_pycachesim: {exe} missing: cargo build --release")
    t = time.perf_counter()
    out = subprocess.run([exe] + args, check=True, capture_output=True, text=True)
    return time.perf_counter() - t, out.stdout


def run_tlbsim(path, repeat):
    geo = ["--l1", "%d:%d" % L1, "--l2", "%d:%d" % L2, "--page-size", str(PAGE)]
    best, counts = None, None
    for _ in range(repeat):
        dt, out = tlbsim(["tlb"] + geo + [path])
        best = dt if best is None else min(best, dt)
        counts = json.loads(out)
    return best, counts


def run_pycachesim(kind, n):
    cachesim = need("cachesim")
    mem = cachesim.MainMemory()
    l2 = cachesim.Cache("L2", L2[0] // L2[1], L2[1], PAGE, "LRU")
    mem.load_to(l2)
    mem.store_from(l2)
    l1 = cachesim.Cache("L1", L1[0] // L1[1], L1[1], PAGE, "LRU", load_from=l2, store_to=l2)
    cs = cachesim.CacheSimulator(l1, mem)
    spent = 0.0
    for chunk in generate(kind, n, 1):
        addrs = chunk.tolist()
        t = time.perf_counter()
        cs.load(addrs)
        spent += time.perf_counter() - t
    counts = {
        "l1": {"hits": l1.HIT_count, "misses": l1.MISS_count},
        "l2": {"hits": l2.HIT_count, "misses": l2.MISS_count},
    }
    return spent, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000_000, help="addresses per trace")
    ap.add_argument("--repeat", type=int, default=3, help="tlbsim runs per file (best kept)")
    ap.add_argument("--dir", help="where the traces go (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the traces")
    ap.add_argument("--tlbsim", help="the tlbsim binary (default: target/release/tlbsim)")
    a = ap.parse_args()
    global EXE
    EXE = os.path.abspath(a.tlbsim) if a.tlbsim else EXE
    need("numpy")
    need("cachesim")
    d = a.dir or tempfile.mkdtemp(prefix="tlb-bench-")
    os.makedirs(d, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"geometry: L1 {L1[0]}:{L1[1]}, L2 {L2[0]}:{L2[1]}, {PAGE}-byte pages; {a.n:,} addresses per trace")
    print(f"{'trace':8} {'tool':15} {'seconds':>8} {'M lookups/s':>12} {'vs pycachesim':>14}")
    try:
        for kind in ["l1-hot", "mixed"]:
            txt = os.path.join(d, kind + ".trace")
            binf = os.path.join(d, kind + ".addr64")
            write_text(kind, a.n, txt)
            conv, _ = tlbsim(["trace", "convert", "--to", "addr64", txt, "-o", binf])
            rows = []
            results = {}
            for tool, path in [("tlbsim text", txt), ("tlbsim addr64", binf)]:
                dt, counts = run_tlbsim(path, a.repeat)
                results[tool] = counts
                rows.append((tool, dt))
            pdt, pcounts = run_pycachesim(kind, a.n)
            for tool, counts in results.items():
                if counts != pcounts:
                    sys.exit(f"{kind}: {tool} counted {counts}, pycachesim {pcounts}")
            for tool, dt in rows + [("pycachesim", pdt)]:
                ratio = pdt / dt
                print(f"{kind:8} {tool:15} {dt:8.3f} {a.n / dt / 1e6:12.1f} {ratio:13.2f}x")
            l1 = pcounts["l1"]
            print(f"{kind:8} counts agree: L1 hit rate {l1['hits'] / a.n:.4f}, {json.dumps(pcounts)}; "
                  f"convert took {conv:.2f} s")
    finally:
        if not a.keep and not a.dir:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
