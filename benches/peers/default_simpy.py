#!/usr/bin/env python3
"""A peer of tlbsim's `default` scenario: its queueing model, without TLBs, in SimPy.

Written from the documentation, not from tlbsim's output: the system of
scenarios/bundled/default.toml, the costs of the `xen-pv-dom0` preset
(cpu-model/src/costs.rs, each figure's source in docs/reference/costs.md)
and the per-request path of docs/reference/mechanism.md and the Xen
sources they cite. Every constant below names where it comes from.

What is modelled (as far as it shapes queueing):
- 8 CPUs; CPUs 0 and 1 are registered for I/O, each running one backend
  thread that serves one guest's ring in FIFO order (guest g -> CPU g);
- two closed-loop guests, queue depth 8, 4 KiB requests (one page), no
  think time: a completion issues the next request at once;
- per request: the guest's notification (only when the backend sleeps),
  dequeue + map hypercall, the data touch, the unmap hypercall, then
  the policy's invalidation, then completion;
- `global` (Xen PV grant unmap, xen/common/grant_table.c flush_tlb_mask of
  the domain's dirty cpumask: all 8 CPUs, as all of them run dom0): a full
  local flush before the lock (xen/arch/x86/smp.c flush_area_mask), the
  hypervisor-wide flush_lock (FIFO) shared with other domains' flushes
  (Poisson, 2,000/s, 10,000 cycles each), one x2APIC-cluster ICR write
  (all 8 CPUs are in cluster 0; xen/arch/x86/genapic/x2apic.c), then an IPI
  to each of the 7 other CPUs: delivery, an interrupts-off wait (2%,
  exponential, mean 5,000 cycles), the handler + full flush at interrupt
  level (it preempts whatever thread runs there and queues behind earlier
  handlers), the acknowledgement; the lock is held until the last ack;
- `percpu` (the patent, US8924684 B1 claim 1): one local INVLPG at map
  time, nothing remote at unmap;
- the log-normal variability of the default (IPI delivery and handler
  cv 0.5, hypercall and full flush cv 0.3, notification cv 0.5).

What it leaves out: TLBs, page walks and the background workload. The data
touch's one TLB miss per request (its page was just mapped, so its
translation is never cached: one L1 + STLB miss and a 4-level walk) is a
constant added to the data phase; nothing else on the I/O path depends on
TLB contents in this scenario. Statistics it does not produce: TLB misses,
stale uses, stolen cycles, release exposure, background work lost.

Usage: default_simpy.py --policy global|percpu --ios N [--warmup N] [--seed S]
                        [--irq-off-probability P]
Prints one JSON object (latency in cycles, IOPS, wall seconds).
"""

import argparse
import json
import math
import random
import sys
import time

import simpy

# ---- the machine and the scenario (scenarios/bundled/default.toml) ----------
FREQUENCY_GHZ = 2.5  # Skylake-SP at 2.5 GHz (machine.frequency_ghz default)
CPUS = 8  # machine.cpus
IO_CPUS = 2  # host.io_cpus: CPUs 0..1 registered
QUEUE_DEPTH = 8  # guests[*].queue_depth
GUESTS = 2
PAGES = 1  # size_bytes = 4096: one 4 KiB page
LINES = 4096 // 64  # 64-byte cache lines touched by the data phase
X2APIC_CLUSTER_CPUS = 16  # Linux/Xen x2APIC cluster: apicid >> 4

# ---- costs, cycles: the `xen-pv-dom0` preset = bare metal -------------------
# (cpu-model/src/costs.rs; sources in docs/reference/costs.md)
HYPERCALL = 1550  # vmcall round trip, kvm-unit-tests vmexit, Skylake-SP 2020
MAP_PAGE = 300  # assumption in costs.rs: one PTE install
UNMAP_PAGE = 300  # assumption in costs.rs: one PTE clear
INVLPG = 250  # ~100 ns, Linux tlb.c tlb_single_page_flush_ceiling comment
FULL_FLUSH = 500  # assumption in costs.rs: between INVPCID and a walk per entry
IPI_SEND = 200  # assumption in costs.rs: one ICR write
IPI_DELIVERY = 1500  # "on the host 1.5k cyc", KVM list RFC 2020
IPI_RECEIVE = 0  # bare metal / PV: no VM exit on the target
IPI_HANDLER = 300  # assumption in costs.rs: entry, exit, ack write
ACK = 100  # assumption in costs.rs: one cache-line transfer
FLUSH_LOCK = 50  # assumption in costs.rs: uncontended lock + unlock
DEQUEUE = 200  # assumption in costs.rs: a few ring cache misses
NOTIFY = 2000  # assumption in costs.rs: an interrupt plus a wake-up
COMPLETE = 500  # assumption in costs.rs: response + notification
DATA_LINE = 16  # assumption in costs.rs: 64 B at about 10 GB/s
# The data page's one TLB miss: an STLB lookup (about 12 cycles, Haswell
# measurement 2013) and a 4-level native walk at about 20 cycles a level
# (same source; PV direct paging walks one-dimensionally).
L2_HIT = 12
WALK_LEVEL = 20
DATA_TLB_MISS = L2_HIT + 4 * WALK_LEVEL

# ---- the default's variability and irq-off sections (default.toml) ---------
CV = {
    "ipi_delivery": 0.5,
    "ipi_handler": 0.5,
    "hypercall": 0.3,
    "full_flush": 0.3,
    "notify": 0.5,
}
IRQ_OFF_PROBABILITY = 0.02
IRQ_OFF_MEAN = 5000  # exponential

# ---- other domains' flushes on Xen's one flush_lock (default.toml [host]) ---
OTHER_FLUSHES_PER_SEC = 2000.0  # an assumption of the scenario
OTHER_FLUSH_CYCLES = 10_000


class Draws:
    """One random stream per cost, so one cost's draws do not shift another's."""

    def __init__(self, seed, irq_off_probability):
        self.irq_off_probability = irq_off_probability
        names = list(CV) + ["irq_off", "other_flush"]
        self.rng = {n: random.Random(f"{seed}:{n}") for n in names}

    def lognormal(self, name, mean):
        """A log-normal draw with mean `mean` and the default's cv for `name`."""
        cv = CV[name]
        sigma2 = math.log1p(cv * cv)
        return self.rng[name].lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))

    def irq_off(self):
        r = self.rng["irq_off"]
        if r.random() >= self.irq_off_probability:
            return 0.0
        return r.expovariate(1.0 / IRQ_OFF_MEAN)

    def other_gap(self):
        return self.rng["other_flush"].expovariate(OTHER_FLUSHES_PER_SEC / (FREQUENCY_GHZ * 1e9))


PHASES = ["map", "data", "unmap", "flush_wait", "complete"]


class Machine:
    def __init__(self, policy, ios, warmup, seed, irq_off_probability=IRQ_OFF_PROBABILITY):
        self.env = simpy.Environment()
        self.policy = policy
        self.draw = Draws(seed, irq_off_probability)
        # Each CPU: thread level (priority 1) preempted by interrupt level
        # (priority 0); handlers run one at a time in arrival order.
        self.cpu = [simpy.PreemptiveResource(self.env, capacity=1) for _ in range(CPUS)]
        self.flush_lock = simpy.Resource(self.env, capacity=1)  # FIFO
        self.ring = [simpy.Store(self.env) for _ in range(IO_CPUS)]
        # A sleeping backend waits on its wake event (None: awake); the
        # first request on its ring sends the one notification.
        self.wake = [self.env.event() for _ in range(IO_CPUS)]
        self.notifying = [False] * IO_CPUS
        self.ios = ios
        self.warmup = warmup
        self.completed = 0
        self.window_start = None
        self.latencies = []
        self.parts = dict.fromkeys(["queue"] + PHASES, 0.0)
        self.done = self.env.event()

    # -- CPU time ---------------------------------------------------------
    def thread(self, c, length):
        """`length` cycles of thread-level work on CPU `c`, pushed back by
        every interrupt-level handler that lands meanwhile."""
        left = length
        while left > 0:
            with self.cpu[c].request(priority=1, preempt=False) as req:
                yield req
                start = self.env.now
                try:
                    yield self.env.timeout(left)
                    left = 0
                except simpy.Interrupt:
                    left -= self.env.now - start

    def ipi(self, target):
        """One shootdown IPI to `target`, sent now: returns when the
        initiator sees its acknowledgement."""
        delay = self.draw.lognormal("ipi_delivery", IPI_DELIVERY)
        yield self.env.timeout(delay + self.draw.irq_off())
        length = (
            IPI_RECEIVE
            + self.draw.lognormal("ipi_handler", IPI_HANDLER)
            + self.draw.lognormal("full_flush", FULL_FLUSH)
        )
        with self.cpu[target].request(priority=0, preempt=True) as req:
            yield req
            yield self.env.timeout(length)
        yield self.env.timeout(ACK)

    # -- the backend's request path --------------------------------------
    def backend(self, c):
        env = self.env
        while True:
            if self.wake[c] is None and not self.ring[c].items:
                self.wake[c] = env.event()  # nothing to do: sleep
            if self.wake[c] is not None:
                yield self.wake[c]
            arrival = yield self.ring[c].get()
            t = [env.now]
            # dequeue + map hypercall (+ the patent's local INVLPG of the slot)
            cost = DEQUEUE + self.draw.lognormal("hypercall", HYPERCALL) + PAGES * MAP_PAGE
            if self.policy == "percpu":
                cost += PAGES * INVLPG
            yield from self.thread(c, cost)
            t.append(env.now)
            yield from self.thread(c, LINES * DATA_LINE + DATA_TLB_MISS)
            t.append(env.now)
            yield from self.thread(c, self.draw.lognormal("hypercall", HYPERCALL) + PAGES * UNMAP_PAGE)
            t.append(env.now)
            if self.policy == "global":
                yield from self.shootdown(c)
            t.append(env.now)
            yield from self.thread(c, COMPLETE)
            t.append(env.now)
            if self.window_start is not None:
                # Elapsed time of each phase, interruptions included.
                self.parts["queue"] += t[0] - arrival
                for name, (a, b) in zip(PHASES, zip(t, t[1:])):
                    self.parts[name] += b - a
            self.complete(c, arrival)

    def shootdown(self, c):
        """Xen's flush_area_mask for a grant unmap: local flush, the global
        flush_lock, one ICR write per x2APIC cluster, IPIs to every other
        CPU of the dirty mask, spin until all acknowledge."""
        env = self.env
        yield from self.thread(c, self.draw.lognormal("full_flush", FULL_FLUSH))
        with self.flush_lock.request() as lock:
            yield lock
            targets = [x for x in range(CPUS) if x != c]
            yield from self.thread(c, FLUSH_LOCK)
            acks = []
            # One ICR write per cluster holding a target, in ascending order;
            # the cluster's IPIs leave when its write is done.
            for k in sorted({x // X2APIC_CLUSTER_CPUS for x in targets}):
                yield from self.thread(c, IPI_SEND)
                acks += [env.process(self.ipi(x)) for x in targets if x // X2APIC_CLUSTER_CPUS == k]
            yield env.all_of(acks)

    def complete(self, g, arrival):
        """A request of guest `g` (served by CPU `g`) completes now."""
        now = self.env.now
        self.completed += 1
        if self.window_start is not None:
            self.latencies.append(now - arrival)
            if len(self.latencies) == self.ios:
                self.window_end = now
                self.done.succeed()
        elif self.completed == self.warmup:
            self.window_start = now
        # think time 0: the guest issues its next request at once
        self.issue(g, now)

    # -- guests and other domains ----------------------------------------
    def issue(self, g, now):
        c = g  # guest g's one ring is served by registered CPU g
        self.ring[c].put(now)
        if self.wake[c] is not None and not self.notifying[c]:
            self.notifying[c] = True
            self.env.process(self.notify(c))

    def notify(self, c):
        yield self.env.timeout(self.draw.lognormal("notify", NOTIFY))
        wake, self.wake[c], self.notifying[c] = self.wake[c], None, False
        wake.succeed()

    def other_domains(self):
        while True:
            yield self.env.timeout(self.draw.other_gap())
            self.env.process(self.other_flush())

    def other_flush(self):
        with self.flush_lock.request() as lock:
            yield lock
            yield self.env.timeout(OTHER_FLUSH_CYCLES)

    def run(self):
        for g in range(GUESTS):
            for _ in range(QUEUE_DEPTH):
                self.issue(g, 0.0)
        for c in range(IO_CPUS):
            self.env.process(self.backend(c))
        if self.policy == "global":
            self.env.process(self.other_domains())
        self.env.run(until=self.done)
        window = self.window_end - self.window_start
        lat = sorted(self.latencies)

        def pct(p):
            return lat[min(len(lat) - 1, math.ceil(p / 100 * len(lat)) - 1)]

        return {
            "mean": sum(lat) / len(lat),
            "p50": pct(50),
            "p99": pct(99),
            "iops": self.ios / (window / (FREQUENCY_GHZ * 1e9)),
            # per I/O dequeued in the window (tlbsim counts parts inside the
            # window; the two differ only at its edges)
            "parts_per_io": {k: v / self.ios for k, v in self.parts.items()},
        }


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", choices=["global", "percpu"], required=True)
    ap.add_argument("--ios", type=int, default=20000, help="measured I/Os (stop.ios)")
    ap.add_argument("--warmup", type=int, default=2000, help="warm-up I/Os (stop.warmup_ios)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--irq-off-probability", type=float, default=IRQ_OFF_PROBABILITY,
                    help="variability.irq_off.probability (the default's 0.02)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = Machine(a.policy, a.ios, a.warmup, a.seed, a.irq_off_probability).run()
    out["wall_seconds"] = time.perf_counter() - t0
    out["policy"] = a.policy
    out["ios"] = a.ios
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
