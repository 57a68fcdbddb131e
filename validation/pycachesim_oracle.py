#!/usr/bin/env python3
"""Independent TLB oracle: replay an address trace through pycachesim
configured as a TLB and print the same JSON as `tlbsim tlb`.

pycachesim (https://github.com/RRZE-HPC/pycachesim, AGPL-3.0) is used as a
separate program only: this script imports it in its own process; tlbsim never
links or copies it.

Usage:
  pycachesim_oracle.py --l1 ENTRIES:WAYS [--l2 ENTRIES:WAYS] [--page-size BYTES] TRACE

TRACE has tlbsim's trace format (one address per line, 0x hex or decimal,
blank lines and '#' comments allowed); '-' reads standard input.

How a TLB maps onto pycachesim (see VALIDATION.md for the argument):
  * line size = page size, so a cache line id is a page number and pycachesim's
    set index (line id mod sets) is tlbsim's (page number mod sets);
  * replacement "LRU" (a per-set recency queue: hit -> front, fill -> front,
    the back way is the victim; empty ways sit at the back, so they are used
    before anything valid is evicted);
  * only loads are issued, so no line is ever dirty and write-back /
    write-allocate never act;
  * two levels: L1(load_from=L2, store_to=L2), L2 last level, no victim cache.
    An L1 miss loads the line from L2 (an L2 hit refreshes its LRU position;
    an L2 miss injects it into L2), then L1 injects it. A clean L1 victim
    vanishes (nothing written back, nothing injected into L2), and an L2
    victim is not back-invalidated from L1: exactly tlbsim's non-inclusive
    hierarchy (L2 hit fills L1, a walk fills both, evictions independent).
"""
import argparse
import json
import sys


def geometry(s):
    try:
        e, w = (int(x) for x in s.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected ENTRIES:WAYS, got %r" % s)
    if e <= 0 or w <= 0 or e % w:
        raise argparse.ArgumentTypeError("invalid geometry %r" % s)
    return e, w


def page_size(s):
    v = {"4096": 4096, "4k": 4096, "2097152": 2 << 20, "2m": 2 << 20}.get(s.lower())
    if v is None:
        raise argparse.ArgumentTypeError("page size must be 4096 or 2097152")
    return v


def read_trace(f, name):
    out = []
    for i, line in enumerate(f, 1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        try:
            a = int(body[2:], 16) if body[:2].lower() == "0x" else int(body, 10)
        except ValueError:
            sys.exit("%s:%d: not an address: %r" % (name, i, body))
        if a < 0 or a >= 1 << 63:
            # pycachesim takes C longs.
            sys.exit("%s:%d: address outside [0, 2^63): %r" % (name, i, body))
        out.append(a)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--l1", type=geometry, required=True)
    ap.add_argument("--l2", type=geometry)
    ap.add_argument("--page-size", type=page_size, default=4096)
    ap.add_argument("trace")
    a = ap.parse_args()
    try:
        from cachesim import Cache, CacheSimulator, MainMemory
    except ImportError:
        sys.exit("pycachesim is not installed: python3 -m pip install pycachesim")

    ps = a.page_size
    mem = MainMemory()
    l2 = None
    if a.l2:
        e, w = a.l2
        l2 = Cache("L2", e // w, w, ps, "LRU")
        mem.load_to(l2)
        mem.store_from(l2)
    e, w = a.l1
    l1 = Cache("L1", e // w, w, ps, "LRU", load_from=l2, store_to=l2)
    if l2 is None:
        mem.load_to(l1)
        mem.store_from(l1)
    cs = CacheSimulator(l1, mem)

    if a.trace == "-":
        addrs = read_trace(sys.stdin, "<stdin>")
    else:
        with open(a.trace) as f:
            addrs = read_trace(f, a.trace)
    cs.load(addrs)  # iterload: one load of one byte per address, in order

    def level(c):
        # Every access is a one-byte load touching one line (one page).
        assert c.STORE_count == 0, "no stores were issued"
        assert c.HIT_count + c.MISS_count == c.LOAD_count
        return {"hits": c.HIT_count, "misses": c.MISS_count}

    out = {"l1": level(l1)}
    if l2 is not None:
        assert l2.LOAD_count == l1.MISS_count, "L2 sees exactly the L1 misses"
        out["l2"] = level(l2)
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
