//! What a run measured: plain counters, no serialization (that is the
//! `reports` crate's job).

use hypervisor::PolicyName;
use sim_core::LatencySummary;

/// TLB counters, summed over the accesses of interest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlbCounts {
    /// TLB lookups (one per memory access that needs a translation).
    pub lookups: u64,
    /// Hits in the L1 TLB.
    pub l1_hits: u64,
    /// L1 misses that hit the L2 TLB.
    pub l2_hits: u64,
    /// Misses in every level (each one a page walk).
    pub misses: u64,
    /// Page walks performed (misses, including those that faulted).
    pub walks: u64,
    /// Page-table memory references made by walks (after walk caches).
    pub walk_refs: u64,
}

impl TlbCounts {
    /// Hits at any level.
    #[must_use]
    pub fn hits(&self) -> u64 {
        self.l1_hits + self.l2_hits
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &TlbCounts) {
        self.lookups += other.lookups;
        self.l1_hits += other.l1_hits;
        self.l2_hits += other.l2_hits;
        self.misses += other.misses;
        self.walks += other.walks;
        self.walk_refs += other.walk_refs;
    }
}

/// Flushes executed, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushCounts {
    /// Single-page invalidations (INVLPG) run on the CPU that asked for them.
    pub local_page: u64,
    /// Full flushes run on the CPU that asked for them.
    pub local_full: u64,
    /// Flushes run in an IPI handler on behalf of another CPU.
    pub remote: u64,
    /// Full flushes a CPU ran before its next host-domain access because a
    /// lazy-TLB shootdown skipped it (Linux `switch_mm_irqs_off` flushing a
    /// CPU whose `tlb_gen` fell behind, arch/x86/mm/tlb.c).
    pub deferred: u64,
}

impl FlushCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &FlushCounts) {
        self.local_page += other.local_page;
        self.local_full += other.local_full;
        self.remote += other.remote;
        self.deferred += other.deferred;
    }
}

/// One CPU's counters over the measured window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// The CPU's index.
    pub cpu: u32,
    /// Whether the backend registered it for I/O.
    pub registered: bool,
    /// Cycles spent in thread-level work (backend phases or background).
    pub busy_cycles: u64,
    /// Cycles taken by IPI handlers on this CPU.
    pub stolen_cycles: u64,
    /// Cycles of migrated backend work run here on top of its own work.
    pub migrated_in_cycles: u64,
    /// IPIs this CPU sent.
    pub ipis_sent: u64,
    /// IPIs this CPU received, of shootdowns that began inside the window
    /// (those still in flight when the run stops are sent, not received).
    pub ipis_received: u64,
    /// IPIs received while this CPU's TLB held none of the pages they
    /// flush: interrupts that protected nothing. A shootdown whose pages are
    /// not tracked (a batch, a wrapped pool) counts as useful, so this is a
    /// lower bound.
    pub useless_ipis: u64,
    /// Flushes run on this CPU.
    pub flushes: FlushCounts,
    /// TLB counters of every access made on this CPU.
    pub tlb: TlbCounts,
    /// TLB hits on a translation that no longer matched the page table.
    pub stale_uses: u64,
    /// Background memory accesses completed here.
    pub background_accesses: u64,
    /// Cycles those background accesses took, translation included.
    pub background_cycles: u64,
    /// Steal time: cycles this vCPU wanted to run but the host ran another
    /// tenant's vCPU on its physical CPU (`vcpu.overcommit`), as KVM
    /// reports it to the guest (`record_steal_time`, arch/x86/kvm/x86.c).
    pub steal_cycles: u64,
    /// Flushes the host ran at this vCPU's entry for a shootdown that
    /// skipped it while it was preempted (`vcpu.pv_tlb_flush`).
    pub pv_flushes: u64,
    /// Wake-ups of this CPU from idle (a C-state exit or a halted vCPU's
    /// wake-up, `[idle]`) that something waited for.
    pub idle_wakes: u64,
    /// Cycles those wake-ups took.
    pub idle_wake_cycles: u64,
}

/// Where the I/Os' time went: sums over the measured I/Os, cycles. Divide by
/// the I/O count for a mean per I/O.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyBreakdown {
    /// Waiting on the ring until the backend started the request.
    pub queue: u64,
    /// Dequeue, map hypercall and the map's flushes.
    pub map: u64,
    /// Moving the backend thread to another CPU and back, and the foreign
    /// CPU's flush before access.
    pub migration: u64,
    /// Touching the data through the TLB.
    pub data: u64,
    /// The full flush a CPU skipped by a lazy-TLB shootdown runs before it
    /// touches the data (on the home CPU, or on the CPU migrated to).
    pub deferred_flush: u64,
    /// Protocol processing (`host.process_cycles`).
    pub process: u64,
    /// The device serving the request (`host.device_cycles`).
    pub device: u64,
    /// Interrupt-level work (IPI handlers, migrated data phases) that ran on
    /// the serving CPU during the request's data, unmap and completion
    /// segments and pushed them back (the map part already counts its own
    /// elapsed time).
    pub interrupted: u64,
    /// The unmap hypercall, excluding flushes.
    pub unmap: u64,
    /// Waiting for the flush lock, flushing locally and waiting for every
    /// acknowledgement of a shootdown.
    pub flush_wait: u64,
    /// Completing the request to the guest.
    pub complete: u64,
}

/// Arrivals against completions of open-loop and trace guests over the
/// window (see `machine/src/sim/overload.rs` for the definition).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overload {
    /// I/Os open-loop and trace guests issued in the window.
    pub arrivals: u64,
    /// Their I/Os in flight when the window opened.
    pub backlog_start: u64,
    /// Their I/Os in flight just after the window's last arrival.
    pub backlog_end: u64,
    /// Whether the backlog grew by more than a tenth of the arrivals.
    pub overloaded: bool,
}

/// What the asynchronous I/O path and finite slot pools did in the window
/// (all 0 on the synchronous path with pools that never run out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoPathCounts {
    /// Maps that found the policy's pool exhausted and waited for a
    /// completion to release a placement.
    pub slot_waits: u64,
    /// Cycles those maps waited.
    pub slot_wait_cycles: u64,
    /// Requests mapped by a fallback (the shared area, when the per-CPU
    /// slots were exhausted).
    pub fallbacks: u64,
    /// Requests refused because the pool was exhausted (answered with an
    /// error; not completed I/Os).
    pub refused: u64,
    /// Context switches between backend threads of one CPU
    /// (`io.threads_per_cpu` above 1).
    pub thread_switches: u64,
    /// Requests whose first `io.header_copy_bytes` were grant-copied
    /// instead of mapped (one copy operation per page copied).
    pub header_copies: u64,
}

/// Everything one run of one policy measured (the window after warm-up).
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// The policy simulated.
    pub policy: PolicyName,
    /// I/Os completed in the window.
    pub io_completed: u64,
    /// Bytes those I/Os moved.
    pub io_bytes: u64,
    /// Reads among them.
    pub io_reads: u64,
    /// Backend requests completed in the window: `io_completed` plus the
    /// extra pieces of trace requests split by `guests.N.split`.
    pub io_pieces: u64,
    /// Length of the window, cycles.
    pub sim_cycles: u64,
    /// Clock frequency, GHz (to convert cycles to seconds).
    pub frequency_ghz: f64,
    /// I/O latency from the guest's request to its completion, cycles.
    pub latency: LatencySummary,
    /// The latency CDF: `(cycles, fraction of I/Os at or below)`.
    pub latency_cdf: Vec<(u64, f64)>,
    /// Where the time went, summed over I/Os.
    pub breakdown: LatencyBreakdown,
    /// Shootdowns started.
    pub shootdowns: u64,
    /// Hypercalls made.
    pub hypercalls: u64,
    /// Backend thread migrations.
    pub migrations: u64,
    /// Open-loop arrivals against completions.
    pub overload: Overload,
    /// Largest number of requests in flight at once in the window (from
    /// what was in flight when it opened).
    pub peak_in_flight: u64,
    /// Release exposure: for each guest frame released in the window (its
    /// request completed) while some TLB still cached a translation to it,
    /// the cycles until no TLB did (`count` such frames; exposures still
    /// open when the run stops are cut there).
    pub release_exposure: LatencySummary,
    /// Background accesses the same background would have completed in the
    /// window with no I/O at all (the no-I/O twin, replayed from the same
    /// random stream).
    pub background_twin_accesses: u64,
    /// Guest pages mapped into the host domain in the window.
    pub guest_pages_mapped: u64,
    /// Per-CPU counters, by CPU index.
    pub per_cpu: Vec<CpuStats>,
    /// Events the engine handled in the whole run (warm-up included).
    pub events: u64,
    /// Slot waits, fallbacks and refusals.
    pub io_path: IoPathCounts,
}

impl RunResult {
    /// I/Os per second of simulated time.
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "a rate")]
    pub fn iops(&self) -> f64 {
        if self.sim_cycles == 0 {
            0.0
        } else {
            self.io_completed as f64 * self.frequency_ghz * 1e9 / self.sim_cycles as f64
        }
    }

    /// TLB counters summed over CPUs.
    #[must_use]
    pub fn tlb(&self) -> TlbCounts {
        let mut t = TlbCounts::default();
        for c in &self.per_cpu {
            t.add(&c.tlb);
        }
        t
    }

    /// Flushes summed over CPUs.
    #[must_use]
    pub fn flushes(&self) -> FlushCounts {
        let mut f = FlushCounts::default();
        for c in &self.per_cpu {
            f.add(&c.flushes);
        }
        f
    }

    /// IPIs sent, over all CPUs.
    #[must_use]
    pub fn ipis_sent(&self) -> u64 {
        self.per_cpu.iter().map(|c| c.ipis_sent).sum()
    }

    /// IPIs received, over all CPUs.
    #[must_use]
    pub fn ipis_received(&self) -> u64 {
        self.per_cpu.iter().map(|c| c.ipis_received).sum()
    }

    /// Steal time over all CPUs, cycles (`CpuStats::steal_cycles`).
    #[must_use]
    pub fn steal_cycles(&self) -> u64 {
        self.per_cpu.iter().map(|c| c.steal_cycles).sum()
    }

    /// Flushes run at a preempted vCPU's next entry, over all CPUs.
    #[must_use]
    pub fn pv_flushes(&self) -> u64 {
        self.per_cpu.iter().map(|c| c.pv_flushes).sum()
    }

    /// Wake-ups from idle and their cycles, over all CPUs.
    #[must_use]
    pub fn idle_wakes(&self) -> (u64, u64) {
        self.per_cpu.iter().fold((0, 0), |(n, c), s| {
            (n + s.idle_wakes, c + s.idle_wake_cycles)
        })
    }

    /// IPIs whose target held none of the flushed pages, over all CPUs.
    #[must_use]
    pub fn useless_ipis(&self) -> u64 {
        self.per_cpu.iter().map(|c| c.useless_ipis).sum()
    }

    /// Stale-translation uses, over all CPUs.
    #[must_use]
    pub fn stale_uses(&self) -> u64 {
        self.per_cpu.iter().map(|c| c.stale_uses).sum()
    }

    /// Cycles stolen by IPI handlers, over all CPUs.
    #[must_use]
    pub fn stolen_cycles(&self) -> u64 {
        self.per_cpu.iter().map(|c| c.stolen_cycles).sum()
    }

    /// Background accesses and their cycles, over all CPUs.
    #[must_use]
    pub fn background(&self) -> (u64, u64) {
        self.per_cpu.iter().fold((0, 0), |(a, c), s| {
            (a + s.background_accesses, c + s.background_cycles)
        })
    }

    /// `count` per completed I/O (0 when none completed).
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "a ratio")]
    pub fn per_io(&self, count: u64) -> f64 {
        if self.io_completed == 0 {
            0.0
        } else {
            count as f64 / self.io_completed as f64
        }
    }
}
