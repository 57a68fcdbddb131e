//! Invalidation delivery: local flushes, IPI shootdowns (the flush lock,
//! lazy-TLB skipping and deferred flushes), and what a target does when an
//! IPI arrives.

use super::*;
use sim_core::Reserved;

/// A shootdown in progress.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Shootdown {
    pub(super) initiator: CpuId,
    /// Targets whose acknowledgement is not yet on its way (their handler
    /// has not run).
    pub(super) acks_unsent: u32,
    /// The latest acknowledgement on its way so far: when the initiator
    /// sees it and its place in that cycle's order.
    pub(super) last_ack: (u64, Reserved),
    /// Pages to flush on targets (range flushes).
    pub(super) first_page: u64,
    pub(super) pages: u32,
    /// What targets flush.
    pub(super) flush: ShootdownFlush,
    /// What its last acknowledgement completes.
    pub(super) settles: Settles,
    /// Whether it began inside the measurement window: only then do its
    /// IPIs count as received (and useless, and remote flushes) when they
    /// arrive, so that none sent before the window is counted as received
    /// in it; sent and received differ only by the IPIs still in flight
    /// when the run stops.
    pub(super) in_window: bool,
}

/// What a shootdown's last acknowledgement completes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Settles {
    /// The initiator's current request's unmap.
    #[default]
    Request,
    /// The initiator's batch of unmaps.
    Batch,
    /// The initiator's map.
    Map,
}

impl<O: Observer> Simulation<O> {
    /// Flushes `pages` pages from `first` of the host domain on CPU `c` (a
    /// range flush, full above the ceiling). Returns the cycles it costs.
    pub(super) fn flush_range_local(&mut self, c: CpuId, first: u64, pages: u32) -> u64 {
        let cpu = &mut self.cpus[c];
        let kind = cpu.tlb.flush_range(
            HOST_ASID,
            (0..u64::from(pages)).map(|i| VirtPage(first + i)),
            self.ceiling,
        );
        match kind {
            FlushKind::Pages(n) => {
                for i in 0..u64::from(pages) {
                    cpu.pwc.flush_addr(HOST_ASID, VirtPage(first + i).addr());
                }
                let n = n as u64;
                cpu.stats.flushes.local_page += n;
                self.close_flushed_pages(c, first, pages);
                n * self.vary.draw(Cost::Invlpg)
            }
            FlushKind::Full => {
                cpu.pwc.flush_asid(HOST_ASID);
                cpu.stats.flushes.local_full += 1;
                self.close_flushed(c);
                self.vary.draw(Cost::FullFlush)
            }
        }
    }

    /// The flush a shootdown does on one CPU; returns its cost. `remote`
    /// says whether it runs in an IPI handler.
    pub(super) fn shootdown_flush_on(
        &mut self,
        c: CpuId,
        flush: ShootdownFlush,
        first: u64,
        pages: u32,
        remote: bool,
    ) -> u64 {
        match flush {
            ShootdownFlush::Full => {
                let cpu = &mut self.cpus[c];
                cpu.flush_all();
                if remote {
                    cpu.stats.flushes.remote += 1;
                } else {
                    cpu.stats.flushes.local_full += 1;
                }
                self.close_flushed(c);
                self.vary.draw(Cost::FullFlush)
            }
            ShootdownFlush::Range => {
                if remote {
                    let before = self.cpus[c].stats.flushes;
                    let cost = self.flush_range_local(c, first, pages);
                    // Count it as one remote flush, not as local ones.
                    let cpu = &mut self.cpus[c];
                    cpu.stats.flushes = before;
                    cpu.stats.flushes.remote += 1;
                    cost
                } else {
                    self.flush_range_local(c, first, pages)
                }
            }
        }
    }

    /// Whether a shootdown may skip CPU `x` (lazy TLB): a registered CPU
    /// whose backend thread is not running, or a CPU that runs nothing at
    /// all (no backend, no background workload, no migrated phase: an idle
    /// CPU in lazy-TLB mode, which Linux skips too, arch/x86/mm/tlb.c
    /// `should_flush_tlb`).
    pub(super) fn is_lazy(&self, x: CpuId, now: u64, skip_lazy: bool) -> bool {
        if !skip_lazy || self.cpus[x].clock.segment_active {
            return false;
        }
        if self.runs_migrated(x, now) {
            return false;
        }
        if self.cpus[x].backend.is_none() {
            return self.cpus[x].bg_next == u64::MAX;
        }
        self.cpus[x]
            .backend
            .is_some_and(|b| match self.backends[b].phase {
                Phase::Idle | Phase::Waking | Phase::Away => true,
                Phase::WaitMapLockMap | Phase::WaitMapLockUnmap => self.lock_waiter_sleeps(b, now),
                _ => false,
            })
    }

    /// A CPU a shootdown skipped flushes before its next host-domain access;
    /// returns the cycles that costs (0 if nothing was deferred).
    pub(super) fn apply_deferred_flush(&mut self, c: CpuId) -> u64 {
        let cpu = &mut self.cpus[c];
        let Some(flush) = cpu.deferred_flush.take() else {
            return 0;
        };
        match flush {
            ShootdownFlush::Full => {
                cpu.flush_all();
            }
            ShootdownFlush::Range => {
                cpu.tlb.flush_asid(HOST_ASID);
                cpu.pwc.flush_asid(HOST_ASID);
            }
        }
        cpu.stats.flushes.deferred += 1;
        self.close_flushed(c);
        self.vary.draw(Cost::FullFlush)
    }

    /// Starts (or queues for the lock) the next shootdown of CPU `c`'s
    /// request.
    pub(super) fn next_shootdown(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let serialized = self.backends[self.backend_of(c)].shootdown.serialized;
        if serialized && self.local_flush_before_lock {
            self.flush_before_lock(c, now);
        }
        if serialized && !self.flush_lock.take(c) {
            let b = self.backend_of(c);
            self.backends[b].phase = Phase::WaitLock;
            return Ok(());
        }
        self.begin_shootdown(c, now, sched)?;
        Ok(())
    }

    /// CPU `c` holds the lock (if any): flush locally and send the IPIs.
    pub(super) fn begin_shootdown(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let (b, _, _) = self.current_request(c);
        let plan = self.backends[b].shootdown;
        let range = self.shootdown_range(c);
        self.backends[b].phase = Phase::WaitAcks;
        if let Some(t) = self.send_shootdown(c, plan, range, now, Settles::Request, sched) {
            // Nothing to wait for: continue once the local flush is done.
            self.shootdown_done(c, t, sched)?;
        }
        Ok(())
    }

    /// The pages (first, count) of CPU `c`'s current request's next
    /// shootdown.
    pub(super) fn shootdown_range(&self, c: CpuId) -> (u64, u32) {
        let (b, _, placement) = self.current_request(c);
        match self.backends[b].shootdown.granularity {
            ShootdownGranularity::Request => (placement.base.0, placement.pages),
            ShootdownGranularity::Page => {
                let done = placement.pages - self.backends[b].shootdowns_left;
                (placement.base.0 + u64::from(done), 1)
            }
        }
    }

    /// Whether shootdown `plan` of pages `first..first + pages` leaves CPU
    /// `x` out: lazy (when the plan skips lazy CPUs), or holding none of
    /// the pages (when the plan targets holders only).
    fn leaves_out(&self, x: CpuId, plan: ShootdownPlan, range: (u64, u32), now: u64) -> bool {
        if self.is_lazy(x, now, plan.skip_lazy) {
            return true;
        }
        match plan.targets {
            ShootdownTargets::All => false,
            ShootdownTargets::Holders => !self.cpus[x].tlb.holds_any(
                HOST_ASID,
                (0..u64::from(range.1)).map(|i| VirtPage(range.0 + i)),
            ),
        }
    }

    /// Initiator `c` (holding the flush lock if `plan` is serialized)
    /// flushes itself and sends `plan`'s IPIs for pages `range` (first,
    /// count); `settles` says what the last acknowledgement completes.
    /// Returns the cycle to go on at when no CPU was sent an IPI (the
    /// caller then settles at once).
    pub(super) fn send_shootdown(
        &mut self,
        c: CpuId,
        plan: ShootdownPlan,
        range: (u64, u32),
        now: u64,
        settles: Settles,
        sched: &mut Sched<'_>,
    ) -> Option<u64> {
        let (first, pages) = range;
        self.vcpu_wake(c, now);
        self.vcpu_catch_up_all(now);
        self.window.shootdown();
        let lock = if plan.serialized {
            self.vary.draw(Cost::FlushLock)
        } else {
            0
        };
        // The initiator cannot start while its own interrupt level is busy;
        // a local flush done before the lock already ran.
        let (t0, local) = match self.cpus[c].pre_flushed.take() {
            Some(done) => (done.max(now) + lock, 0),
            None => {
                let t0 = now.max(self.cpus[c].clock.irq_free_at) + lock;
                (
                    t0,
                    self.shootdown_flush_on(c, plan.flush, first, pages, false),
                )
            }
        };
        let n = self.cpus.count();
        // Every other CPU, starting after the initiator.
        let others = (1..n).map(|i| CpuId((c.0 + i) % n));
        // A shorthand interrupts every other CPU whatever the list, so it
        // can skip no one (only when the guest sends the IPIs itself).
        let everyone = plan.send == IpiSend::PerTarget && self.ipis.delivery.all_others();
        // Lazy TLB: skipped CPUs flush before their next host-domain access.
        let skip_lazy = plan.skip_lazy && !everyone;
        let plan = ShootdownPlan { skip_lazy, ..plan };
        let mut list = std::mem::take(&mut self.ipis.targets);
        list.clear();
        // KVM's PV flush (vcpu.rs) leaves preempted vCPUs out; a shorthand
        // interrupts them anyway.
        let pv = !everyone && plan.send == IpiSend::PerTarget;
        for x in others {
            if !self.in_scope(x, now) {
                // Out of the dirty mask / mm_cpumask: no IPI, whatever the
                // delivery; a CPU that may hold entries flushes later.
                if self.out_of_scope_owes_flush(x) {
                    self.cpus[x].deferred_flush = Some(plan.flush);
                }
            } else if self.is_lazy(x, now, skip_lazy) {
                self.cpus[x].deferred_flush = Some(plan.flush);
            } else if pv && self.pv_flush_skips(x, now) {
                continue;
            } else if everyone || !self.leaves_out(x, plan, range, now) {
                list.push(x);
            }
        }
        let targets = u32::try_from(list.len()).expect("CPU count fits u32");
        let sd = self.shootdowns.insert(Shootdown {
            initiator: c,
            acks_unsent: targets,
            last_ack: (0, Reserved::default()),
            first_page: first,
            pages,
            flush: plan.flush,
            settles,
            in_window: self.window.counted(1) == 1,
        });
        let start = t0 + local;
        self.send_ipis(&list, sd, start, plan.send, sched);
        self.cpus[c].stats.ipis_sent += u64::from(targets);
        self.ipis.targets = list;
        if targets == 0 {
            self.shootdowns.remove(sd);
            return Some(start);
        }
        None
    }

    /// Every acknowledgement of CPU `c`'s shootdown is in at `now`.
    pub(super) fn shootdown_done(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        let released = if self.backends[b].shootdown.serialized {
            self.flush_lock.release()
        } else {
            None
        };
        if let Some(next) = released {
            // Handed over directly (FIFO), at this cycle.
            self.resume_flush_lock_waiter(next, now, sched)?;
        }
        self.backends[b].shootdowns_left -= 1;
        if self.backends[b].shootdowns_left > 0 {
            self.next_shootdown(c, now, sched)?;
            return Ok(());
        }
        let r = self.backends[b].request();
        let wait = now - self.requests[r].flush_wait_start;
        self.add_part(Some(r), Part::FlushWait, wait);
        self.cpus[c].stats.busy_cycles += self.window.counted(wait);
        if self.map_lock_through_flush {
            // The unmap's map lock was kept through its shootdowns.
            self.release_map_lock(now, sched)?;
        }
        if O::ENABLED {
            let start = self.requests[r].flush_wait_start;
            self.obs
                .slice(self.cpus[c].stats.cpu, SliceKind::FlushWait, start, now);
            self.obs.tlb_occupancy(
                now,
                self.cpus[c].stats.cpu,
                self.cpus[c].tlb.occupancy() as u64,
            );
        }
        self.finish_request_flushes(c, now, 0, sched);
        Ok(())
    }

    /// A shootdown's IPI reaches `target` at `now`: its flush is applied at
    /// once (the handler may start later, after earlier interrupt-level
    /// work), the handler's cycles are stolen from what the target was
    /// doing, and the acknowledgement reaches the initiator `ack_cycles`
    /// after the handler ends. `sent` is when the IPI left its sender (the
    /// timeline's record; `now - sent` is the drawn delivery time).
    pub(super) fn ipi_arrive(
        &mut self,
        target: CpuId,
        shootdown: ShootdownId,
        sent: u64,
        now: u64,
        sched: &mut Sched<'_>,
    ) {
        let c = target;
        let sd = self.shootdowns[shootdown];
        if self.cpus[c].bg_next != u64::MAX {
            self.bg_catch_up(c, now.max(self.cpus[c].clock.irq_free_at));
        }
        // Whether the target held any of the pages it is asked to flush
        // (before the flush removes them).
        let useless = sd.pages > 0
            && !self.cpus[c].tlb.holds_any(
                HOST_ASID,
                (0..u64::from(sd.pages)).map(|i| VirtPage(sd.first_page + i)),
            );
        let counted = u64::from(sd.in_window);
        self.cpus[c].stats.useless_ipis += counted * u64::from(useless);
        // Received at arrival, whenever its handler runs.
        self.cpus[c].stats.ipis_received += counted;
        let remote_before = self.cpus[c].stats.flushes.remote;
        let flush = self.shootdown_flush_on(c, sd.flush, sd.first_page, sd.pages, true);
        if !sd.in_window {
            // A shootdown from before the window: its flush is not counted.
            self.cpus[c].stats.flushes.remote = remote_before;
        }
        // A target with interrupts off takes the IPI when it enables them
        // (a later event: until then the CPU goes on with what it runs).
        let delay = self.vary.irq_off_delay();
        if delay > 0 {
            let flush_cycles = u32::try_from(flush).unwrap_or(u32::MAX);
            sched.at(
                Instant(now) + Span(delay),
                Event::IpiTaken {
                    target,
                    shootdown,
                    flush_cycles,
                    sent,
                },
            );
            return;
        }
        self.ipi_taken(target, shootdown, flush, sent, now, sched);
    }

    /// Target `target` takes `shootdown`'s IPI at `now` (its flush, of
    /// `flush` cycles, was applied at arrival): the handler runs at
    /// interrupt level, then acknowledges.
    pub(super) fn ipi_taken(
        &mut self,
        target: CpuId,
        shootdown: ShootdownId,
        flush: u64,
        sent: u64,
        now: u64,
        sched: &mut Sched<'_>,
    ) {
        let c = target;
        let sd = self.shootdowns[shootdown];
        let length = self.vary.draw(Cost::IpiReceive) + self.vary.draw(Cost::IpiHandler) + flush;
        // An idle target wakes first (`[idle]`): latency, not stolen.
        let wake = self.idle_wake(c, now);
        let (woken, end) = self.interrupt(c, now, wake + length);
        let start = woken + wake;
        let ack = self.vary.draw(Cost::Ack);
        let cpu = &mut self.cpus[c];
        cpu.clock.stolen_cycles += length;
        if O::ENABLED {
            self.ipi_seq += 1;
            self.obs.slice(target.0, SliceKind::IpiHandler, start, end);
            self.obs.ipi(IpiRecord {
                from: sd.initiator.0,
                to: target.0,
                id: self.ipi_seq,
                sent,
                handler_start: start,
                handler_end: end,
                acked: end + ack,
            });
            self.obs
                .tlb_occupancy(end, target.0, self.cpus[c].tlb.occupancy() as u64);
        }
        // Only the shootdown's last acknowledgement to reach the initiator
        // does anything (`ipi_ack`), so one event stands for all of them: each
        // takes the place in the same-cycle order its own event would have
        // had, and the latest, in time and then place, is scheduled once
        // every target has sent its own. Every other event keeps its place,
        // so what runs, and in which order, is as with one event per
        // acknowledgement.
        let place = sched.reserve();
        let at = end + ack;
        let sd = &mut self.shootdowns[shootdown];
        sd.last_ack = sd.last_ack.max((at, place));
        sd.acks_unsent -= 1;
        if sd.acks_unsent == 0 {
            let (at, place) = sd.last_ack;
            sched.at_reserved(Instant(at), place, Event::IpiAck { shootdown });
        }
    }

    /// The initiator sees the last acknowledgement of `shootdown` at `now`.
    pub(super) fn ipi_ack(
        &mut self,
        shootdown: ShootdownId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        // The event stands for every acknowledgement (`ipi_taken`): this is
        // the last one reaching the initiator.
        let sd = &self.shootdowns[shootdown];
        debug_assert_eq!(sd.acks_unsent, 0, "every target has acknowledged");
        let (initiator, settles) = (sd.initiator, sd.settles);
        // A descheduled initiator sees its last acknowledgement only when
        // it runs again (and holds the flush lock meanwhile).
        if let Some(back) = self.vcpu_preempted_until(initiator, now) {
            sched.at(Instant(back), Event::IpiAck { shootdown });
            return Ok(());
        }
        self.shootdowns.remove(shootdown);
        match settles {
            Settles::Request => self.shootdown_done(initiator, now, sched)?,
            Settles::Batch => self.batch_shootdown_done(initiator, now, sched)?,
            Settles::Map => self.map_shootdown_done(initiator, now, sched)?,
        }
        Ok(())
    }
}
