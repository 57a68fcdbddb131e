//! Several backend threads per registered CPU (`io.threads_per_cpu`), and
//! the kmap_local-style save and restore of their per-CPU slots across a
//! context switch.
//!
//! Each registered CPU runs `N` backend threads (indices `c * N .. c * N +
//! N` of `backends`), each serving its own share of the rings steered to
//! the CPU, as several xen-blkback rings or xen-netback queues have a
//! kernel thread each. One runs at a time (`Cpu::backend` is the running
//! one). A thread runs until it would sleep (nothing it may take: an empty
//! ring share, its ring slots full, a parked map) or, at a request
//! boundary, until it has run `io.thread_slice_cycles` while another of
//! the CPU's threads has work; then the CPU switches to the next thread
//! with work, round robin. A thread that gets work while another runs
//! waits for that; one that gets work on a sleeping CPU is switched in
//! after the notification (`notify_cycles`).
//!
//! # The save and restore of slots
//! The per-CPU slots are per-task in Linux's kmap_local (mm/highmem.c):
//! every task indexes the same per-CPU fixmap slots from 0
//! (`kmap_local_idx_push`), so two tasks on one CPU use the same virtual
//! pages, and a switch saves and restores them: `__kmap_local_sched_out`
//! (before `switch_to`) clears the PTE of each of the outgoing task's
//! slots and calls `arch_kmap_local_post_unmap`, which on x86 is
//! `flush_tlb_one_kernel` (an INVLPG of the slot, local only);
//! `__kmap_local_sched_in` sets the incoming task's saved PTEs again, with
//! no flush (`arch_kmap_local_post_map` flushes nothing on x86). Here a
//! thread's placements in its CPU's slots (mapped, not yet unmapped) are
//! its saved slots: at a switch the outgoing thread's are unmapped (no
//! hypercall; `unmap_page_cycles` each), flushed from the local TLB page by
//! page (`invlpg_cycles` each) and released to the CPU's slot pool, so the
//! incoming thread may map into the same slots; then the incoming
//! thread's saved placements are held and mapped again
//! (`map_page_cycles` each). Assumption: the PTE writes go through the
//! page-table manager without a hypercall of their own (a PV kernel
//! batches them in lazy MMU mode, `arch_flush_lazy_mmu_mode`).
//!
//! A restore is a map, so it also runs the policy's map-time local flush
//! ([`hypervisor::MappingPolicy::on_map`]). Linux needs none there because
//! `kunmap_local` flushes each slot at unmap; the per-CPU slot policy
//! flushes at map instead (claim step 5) and not at unmap, so an unmapped
//! slot may still be cached when another thread's saved mapping of the
//! same page comes back: without that flush the restored thread would hit
//! the entry its CPU kept from an I/O already completed. (Under such a
//! policy the switch-out INVLPG is then redundant; it is kept, as Linux
//! does it, for policies that flush at unmap.)
//!
//! The switch is done lazily, when a thread other than the one whose
//! slots are installed starts running: a thread that sleeps and is
//! switched back in with no other thread run in between keeps its slots
//! installed (Linux would clear and restore them around the idle task;
//! with no other user of the slots that changes no translation, so it is
//! left out, and one thread per CPU runs as before).
//!
//! `io.switch_flush = false` is the deliberately broken variant: the
//! slots are moved without either flush (no INVLPG at switch-out, no
//! map-time flush at switch-in), so the local TLB keeps the outgoing
//! thread's translations; a thread switched in later whose saved slot is
//! at the same page hits the other thread's entry, a stale use the checker
//! counts.
//!
//! # Within one cycle
//! A switch happens at the decision point of the thread switched out (a
//! request boundary); its cost is charged to the incoming thread's next
//! segment (`Cpu::wake_debt`), which starts at the same cycle.

use super::*;

/// The backend threads' scheduling and saved slots.
#[derive(Debug, Default)]
pub(super) struct Threads {
    /// Threads per registered CPU.
    pub(super) per_cpu: usize,
    /// Per registered CPU: the thread whose slots are installed.
    installed: Vec<usize>,
    /// Per registered CPU: when the running thread was switched in.
    slice_start: Vec<u64>,
    /// Per thread: its requests mapped in its CPU's slots, in map order.
    held: Vec<Vec<RequestId>>,
}

impl Threads {
    /// `per_cpu` threads on each of `cpus` registered CPUs.
    pub(super) fn new(cpus: usize, per_cpu: usize) -> Self {
        Self {
            per_cpu,
            installed: (0..cpus).map(|c| c * per_cpu).collect(),
            slice_start: vec![0; cpus],
            held: vec![Vec::new(); cpus * per_cpu],
        }
    }

    /// Whether a CPU runs more than one thread.
    pub(super) fn several(&self) -> bool {
        self.per_cpu > 1
    }
}

impl<O: Observer> Simulation<O> {
    /// The registered CPU of backend thread `b`.
    pub(super) fn thread_cpu(&self, b: usize) -> CpuId {
        CpuId(u32::try_from(b / self.threads.per_cpu).expect("backend index fits u32"))
    }

    /// Thread `b` mapped request `r` at `placement`: remembered if it is in
    /// the CPU's slots (several threads only).
    pub(super) fn thread_mapped(&mut self, b: usize, r: RequestId, placement: Placement) {
        if self.threads.several() && self.mgr.is_slot_placement(placement) {
            self.threads.held[b].push(r);
        }
    }

    /// Thread `b` unmapped request `r`.
    pub(super) fn thread_unmapped(&mut self, b: usize, r: RequestId) {
        if self.threads.several() {
            self.threads.held[b].retain(|&h| h != r);
        }
    }

    /// Whether thread `b` (not running) has something it may do now.
    fn has_work(&self, b: usize) -> bool {
        let be = &self.backends[b];
        if !be.io.done.is_empty() {
            return true;
        }
        match be.io.parked {
            Some(_) => be.io.released,
            None => !be.ring.is_empty() && be.io.in_flight < self.io.ring_slots,
        }
    }

    /// The next thread of CPU `c` after its running one, round robin, that
    /// has work.
    fn next_with_work(&self, c: CpuId) -> Option<usize> {
        let n = self.threads.per_cpu;
        let first = c.index() * n;
        let running = self.backend_of(c);
        (1..n)
            .map(|i| first + (running - first + i) % n)
            .find(|&b| self.has_work(b))
    }

    /// CPU `c`'s running thread would sleep at `now`: true if another of
    /// its threads has work and now runs instead (the caller then goes on
    /// with it).
    pub(super) fn switch_instead_of_sleep(&mut self, c: CpuId) -> bool {
        if !self.threads.several() {
            return false;
        }
        let Some(next) = self.next_with_work(c) else {
            return false;
        };
        let b = self.backend_of(c);
        self.backends[b].phase = Phase::Idle;
        self.cpus[c].backend = Some(next);
        true
    }

    /// CPU `c`'s running thread is at a request boundary at `now`: true if
    /// its slice is over and another thread with work runs instead.
    pub(super) fn yield_at_slice_end(&mut self, c: CpuId, now: u64) -> bool {
        if !self.threads.several()
            || now - self.threads.slice_start[c.index()] < self.io.thread_slice_cycles
        {
            return false;
        }
        self.switch_instead_of_sleep(c)
    }

    /// Thread `b` got work at `now` (a request on its ring, a finished
    /// I/O, a released placement): if it runs and sleeps, it is woken; if
    /// it does not run and its CPU sleeps, the CPU is woken to run it.
    pub(super) fn wake_thread(&mut self, b: usize, notify: u64, sched: &mut Sched<'_>) {
        let c = self.thread_cpu(b);
        let running = self.backend_of(c);
        if self.backends[running].phase != Phase::Idle {
            return;
        }
        if running != b {
            if !self.has_work(b) {
                return;
            }
            self.cpus[c].backend = Some(b);
        }
        self.backends[b].phase = Phase::Waking;
        sched.after(Span(notify), Event::Wake { cpu: c });
    }

    /// CPU `c`'s running thread starts at a decision point at `now`: if
    /// another thread's slots are installed, the switch happens now (its
    /// cost is charged to the thread's next segment).
    pub(super) fn switch_in(&mut self, c: CpuId, now: u64) -> Result<(), SimError> {
        if !self.threads.several() {
            return Ok(());
        }
        let b = self.backend_of(c);
        let out = self.threads.installed[c.index()];
        if out == b {
            return Ok(());
        }
        let mut cost = self.io.switch_cycles;
        cost += self.save_slots(c, out)?;
        cost += self.restore_slots(c, b)?;
        self.threads.installed[c.index()] = b;
        self.threads.slice_start[c.index()] = now;
        self.window.io_path.thread_switches += self.window.counted(1);
        self.cpus[c].wake_debt += cost;
        Ok(())
    }

    /// `__kmap_local_sched_out` of thread `out` on CPU `c`: its slots'
    /// PTEs cleared, each flushed locally (unless `io.switch_flush` is
    /// off), the slots released; returns the cycles.
    fn save_slots(&mut self, c: CpuId, out: usize) -> Result<u64, SimError> {
        let mut cost = 0;
        for i in 0..self.threads.held[out].len() {
            let r = self.threads.held[out][i];
            let p = self.requests[r]
                .placement
                .expect("a held request is mapped");
            self.mgr.unmap_in_batch(p)?;
            self.mgr.release(p);
            cost += u64::from(p.pages) * self.vary.draw(Cost::UnmapPage);
            if self.io.switch_flush {
                for page in 0..u64::from(p.pages) {
                    cost += self.flush_range_local(c, p.base.0 + page, 1);
                }
            }
        }
        Ok(cost)
    }

    /// `__kmap_local_sched_in` of thread `b` on CPU `c`: its saved slots
    /// held and mapped again, with the policy's map-time local flush
    /// (unless `io.switch_flush` is off); returns the cycles.
    fn restore_slots(&mut self, c: CpuId, b: usize) -> Result<u64, SimError> {
        let mut cost = 0;
        for i in 0..self.threads.held[b].len() {
            let r = self.threads.held[b][i];
            let req = self.requests[r];
            let p = req.placement.expect("a held request is mapped");
            self.mgr.hold_again(p)?;
            let frames = (0..u64::from(p.pages)).map(|f| PhysFrame(req.first_frame + f));
            self.mgr.map_in_batch(p, frames)?;
            cost += u64::from(p.pages) * self.vary.draw(Cost::MapPage);
            if self.io.switch_flush && self.policy.on_map(p) == LocalFlush::Pages {
                cost += self.flush_range_local(c, p.base.0, p.pages);
            }
        }
        Ok(cost)
    }
}
