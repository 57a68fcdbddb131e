//! The backend thread of a registered CPU: the phases of a request's life
//! (dequeue + map, data, unmap, the unmap's invalidations, completion).

use super::*;

/// What the backend thread of a registered CPU is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Nothing to do, asleep.
    Idle,
    /// Notified, about to run.
    Waking,
    /// Dequeue + map segment.
    Map,
    /// Data segment on the home CPU.
    Data,
    /// Data phase on another CPU.
    Away,
    /// Waiting for the device (`host.device_cycles`).
    Device,
    /// Unmap hypercall segment.
    Unmap,
    /// Waiting for the flush lock.
    WaitLock,
    /// Waiting for the map lock before the map hypercall (since the cycle
    /// in `phase_start`).
    WaitMapLockMap,
    /// Waiting for the map lock before the unmap hypercall (since the cycle
    /// in `phase_start`).
    WaitMapLockUnmap,
    /// Waiting for a shootdown's acknowledgements.
    WaitAcks,
    /// Completion segment.
    Complete,
    /// Waiting for the flush lock for the batch's shootdown.
    WaitBatchLock,
    /// Waiting for the batch shootdown's acknowledgements.
    WaitBatchAcks,
    /// Completion segment of every request of a flushed batch.
    CompleteBatch,
    /// Waiting for the flush lock for the map's shootdown.
    WaitMapFlushLock,
    /// Waiting for the map shootdown's acknowledgements.
    WaitMapAcks,
    /// Touching a read's data after the device finished it (asynchronous).
    DataDone,
    /// Answering a refused request with an error (asynchronous).
    Refused,
}

/// A backend thread, one per registered CPU.
#[derive(Debug)]
pub(super) struct Backend {
    pub(super) ring: VecDeque<RequestId>,
    pub(super) phase: Phase,
    pub(super) current: Option<RequestId>,
    /// Start of the current phase, for the latency breakdown.
    pub(super) phase_start: u64,
    /// Shootdowns still to do for the current request.
    pub(super) shootdowns_left: u32,
    /// The IPI shootdown the current request's unmap plan asked for.
    pub(super) shootdown: ShootdownPlan,
    /// Unmaps gathered for one shootdown (batched plans).
    pub(super) pending: super::batch::PendingBatch,
    /// The map's shootdown, the map segment's cost, and since when
    /// (policies whose map needs one).
    pub(super) map_wait: Option<(ShootdownPlan, u64, u64)>,
    /// The ring's persistent grants (persistent data paths).
    pub(super) persistent: Option<hypervisor::PersistentPool>,
    /// Requests in flight, finished by the device, or waiting for slots
    /// (the asynchronous path).
    pub(super) io: super::async_io::AsyncState,
    /// The CPU the data phase migrated to and its `thread_shift` when the
    /// phase's end was (re)scheduled.
    pub(super) away: Option<(CpuId, u64)>,
}

impl Backend {
    /// The request this backend is serving.
    pub(super) fn request(&self) -> RequestId {
        self.current
            .expect("a backend past its dequeue serves a request")
    }
}

/// A request in flight.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Request {
    pub(super) guest: u32,
    pub(super) arrival: u64,
    pub(super) size_bytes: u64,
    /// Pages mapped for it: all of its buffer's, or with a header copy
    /// only those beyond the copied bytes (0 when it copied them all).
    pub(super) pages: u32,
    pub(super) read: bool,
    /// The first frame it maps (its buffer's first, or with a header copy
    /// the first beyond the copied bytes).
    pub(super) first_frame: u64,
    /// Bytes at its start grant-copied instead of mapped
    /// (`io.header_copy_bytes`; 0 when off).
    pub(super) copied_bytes: u64,
    pub(super) placement: Option<Placement>,
    pub(super) flush_wait_start: u64,
    /// The split I/O this request is a piece of, if any.
    pub(super) split: Option<SplitId>,
    /// First virtual page its guest frames were mapped at for it alone
    /// (released to the guest at completion), if any.
    pub(super) released_va: Option<u64>,
    /// When its backend dequeued it (the map part starts there).
    pub(super) dequeued_at: u64,
    /// When its device finished it or it began waiting for slots
    /// (asynchronous).
    pub(super) ready_at: u64,
    /// Whether its map rides in an earlier map's hypercall (a drain of the
    /// ring, `io.drain_requests`).
    pub(super) in_drain: bool,
    /// The registered CPU whose ring it is on (whose backend serves it).
    pub(super) cpu: u32,
    /// The backend thread whose ring share it is on (its index in
    /// `backends`).
    pub(super) thread: usize,
    /// Its latency parts inside the window (kept only when the observer
    /// records I/Os).
    pub(super) parts: LatencyBreakdown,
}

impl<O: Observer> Simulation<O> {
    /// The backend of CPU `c` takes the next request from its ring, or
    /// sleeps.
    pub(super) fn next_request(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        self.switch_in(c, now)?;
        if self.yield_at_slice_end(c, now) {
            return self.next_request(c, now, sched);
        }
        let b = self.backend_of(c);
        if self.io.asynchronous {
            match self.async_next(c, now, sched)? {
                super::async_io::Next::Busy => return Ok(()),
                super::async_io::Next::Blocked => {
                    if !self.flush_batch_when_idle(c, now, sched)? {
                        if self.switch_instead_of_sleep(c) {
                            return self.next_request(c, now, sched);
                        }
                        self.backends[b].phase = Phase::Idle;
                    }
                    return Ok(());
                }
                super::async_io::Next::Ring => {}
            }
        }
        let Some(r) = self.backends[b].ring.pop_front() else {
            if self.flush_batch_when_idle(c, now, sched)? {
                return Ok(());
            }
            if self.switch_instead_of_sleep(c) {
                return self.next_request(c, now, sched);
            }
            self.backends[b].phase = Phase::Idle;
            self.went_idle(c, now);
            return Ok(());
        };
        let queue = now.saturating_sub(self.requests[r].arrival);
        self.add_part(Some(r), Part::Queue, queue);
        self.requests[r].dequeued_at = now;
        self.requests[r].in_drain = self.joins_drain(c);
        let be = &mut self.backends[b];
        be.current = Some(r);
        be.phase_start = now;
        be.io.in_flight += 1;
        if self.take_map_lock(c, Phase::WaitMapLockMap) {
            self.begin_map(c, now, sched)?;
        }
        Ok(())
    }

    /// The dequeue + map segment of CPU `c`'s current request (the map lock,
    /// if any, is held).
    pub(super) fn begin_map(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        let r = self.backends[b].request();
        let path = self.policy.data_path();
        if let DataPath::Persistent(plan) = path {
            return self.begin_persistent_map(c, now, plan, sched);
        }
        let cpu_id = CpuId(self.cpus[c].stats.cpu);
        let pages = self.requests[r].pages;
        // A request whose bytes a header copy took whole maps nothing.
        let placement = if pages == 0 {
            None
        } else {
            let placement = match self.policy.place(&mut self.mgr, cpu_id, pages) {
                Ok(p) => p,
                Err(e) if e.is_exhaustion() => return self.pool_exhausted(c, now, e, sched),
                Err(e) => return Err(e.into()),
            };
            if self.policy.is_fallback(placement) {
                self.window.io_path.fallbacks += self.window.counted(1);
            }
            Some(placement)
        };
        self.requests[r].placement = placement;
        let in_drain = self.requests[r].in_drain;
        let mut cost = self.vary.draw(Cost::Dequeue);
        let (copy_cost, mut lock_ops) = self.header_copy_cost(c, r);
        cost += copy_cost;
        if let DataPath::Copy(copy) = path {
            // The copy hypercall instead of a map: no guest frame is mapped.
            self.mgr.count_hypercall();
            cost += self.vary.draw(Cost::Hypercall) + u64::from(pages) * copy.op_cycles;
            lock_ops += pages;
        } else if let Some(placement) = placement {
            // A map that rides in an earlier map's hypercall (a drained
            // ring, `io.drain_requests`) pays no hypercall of its own.
            let pays = self.pays_map_hypercall(c, in_drain);
            let req = &mut self.requests[r];
            req.released_va = Some(placement.base.0);
            let frames = (0..u64::from(pages)).map(|i| PhysFrame(req.first_frame + i));
            let hypercall = if pays {
                self.mgr.map(placement, frames)?;
                self.vary.draw(Cost::Hypercall)
            } else {
                self.mgr.map_in_batch(placement, frames)?;
                0
            };
            self.thread_mapped(b, r, placement);
            self.guest_pages_mapped += self.window.counted(u64::from(pages));
            if O::ENABLED {
                self.obs.mapped(now, placement.base.0, pages);
            }
            cost += hypercall + u64::from(pages) * self.vary.draw(Cost::MapPage);
            lock_ops += pages;
        }
        cost += self.touch_working_set(c, now);
        cost += self.map_lock_cost(c, lock_ops);
        if let Some(placement) = placement {
            match self.policy.on_map(placement) {
                LocalFlush::None => {}
                LocalFlush::Pages => cost += self.flush_range_local(c, placement.base.0, pages),
            }
            if let Some(plan) = self.policy.map_shootdown(placement) {
                return self.start_map_shootdown(c, now, plan, cost, sched);
            }
        }
        self.backends[b].phase = Phase::Map;
        self.start_segment(c, now, cost, sched);
        Ok(())
    }

    /// The data phase of CPU `c`'s current request: here, or migrated.
    pub(super) fn start_data(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        let r = self.backends[b].request();
        let n = self.cpus.count();
        let migrate = self.migration_p > 0.0
            && n > 1
            && self.migration_rng.random::<f64>() < self.migration_p;
        let process = self.process_cost();
        self.add_part(Some(r), Part::Process, process);
        if !migrate {
            let deferred = self.apply_deferred_flush(c);
            self.add_part(Some(r), Part::DeferredFlush, deferred);
            let data = self.touch_at_submit(c, r, now)?;
            self.add_part(Some(r), Part::Data, data);
            let cost = deferred + data + process;
            self.backends[b].phase = Phase::Data;
            self.backends[b].phase_start = now;
            self.start_segment(c, now, cost, sched);
            return Ok(());
        }
        // Migrate to d != c, uniformly.
        let mut d = CpuId(self.migration_rng.random_range(0..n - 1));
        if d >= c {
            d.0 += 1;
        }
        self.window.migration();
        // d's host schedule, then its background up to now, so that both
        // precede the flush.
        self.vcpu_wake(d, now);
        if self.cpus[d].bg_next != u64::MAX {
            self.bg_catch_up(d, now.max(self.cpus[d].clock.irq_free_at));
        }
        let deferred = self.apply_deferred_flush(d);
        self.add_part(Some(r), Part::DeferredFlush, deferred);
        let mut cost = self.vary.draw(Cost::Migrate) + deferred + self.idle_wake(d, now);
        // A request a header copy took whole has nothing mapped to flush.
        if let Some(p) = self.requests[r].placement {
            match self.policy.on_foreign_access(p) {
                LocalFlush::None => {}
                LocalFlush::Pages => cost += self.flush_range_local(d, p.base.0, p.pages),
            }
        }
        let migration_cost = cost - deferred;
        let data_cost = self.touch_at_submit(d, r, now)?;
        cost += data_cost + process;
        let (start, end) = self.run_migrated(d, now, cost);
        self.backends[b].away = Some((d, self.cpus[d].thread_shift));
        self.cpus[d].stats.migrated_in_cycles += cost;
        if O::ENABLED {
            self.obs
                .slice(self.cpus[d].stats.cpu, SliceKind::Migrated, start, end);
        }
        self.add_part(Some(r), Part::Migration, migration_cost + (start - now));
        self.add_part(Some(r), Part::Data, data_cost);
        self.backends[b].phase = Phase::Away;
        sched.at(Instant(end), Event::MigratedBack { cpu: c });
        Ok(())
    }

    /// Cycles of protocol processing for one request.
    pub(super) fn process_cost(&mut self) -> u64 {
        self.process_distribution
            .draw(self.process_cycles, &mut self.service_rng)
    }

    /// After the data phase: the device's service, if any, then the unmap.
    pub(super) fn after_data(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        if self.io.asynchronous {
            return self.submit(c, now, sched);
        }
        let device = self.device_time(c);
        if device == 0 && self.device_cycles == 0 && self.io.device_cycles_per_kib == 0 {
            return self.start_unmap(c, now, sched);
        }
        let b = self.backend_of(c);
        self.add_part(self.backends[b].current, Part::Device, device);
        self.backends[b].phase = Phase::Device;
        self.backends[b].phase_start = now;
        self.device_submit(super::device::DeviceJob::Sync(c), device, now, sched);
        Ok(())
    }

    pub(super) fn start_unmap(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let b = self.backend_of(c);
        self.backends[b].phase_start = now;
        if self.policy.data_path().keeps_mappings()
            || self.requests[self.backends[b].request()]
                .placement
                .is_none()
        {
            // Nothing to unmap: the mapping outlives the request, or a
            // header copy took all of it (`io.header_copy_bytes`).
            self.requests[self.backends[b].request()].flush_wait_start = now;
            self.finish_request_flushes(c, now, 0, sched);
            return Ok(());
        }
        self.gather_unmaps(c, now);
        if self.take_map_lock(c, Phase::WaitMapLockUnmap) {
            self.begin_unmap(c, now, sched)?;
        }
        Ok(())
    }

    /// The unmap segment of CPU `c`'s current request (the map lock, if
    /// any, is held).
    pub(super) fn begin_unmap(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let (b, r, placement) = self.current_request(c);
        self.mgr.unmap(placement)?;
        self.thread_unmapped(b, r);
        if O::ENABLED {
            self.obs.unmapped(now, placement.base.0, placement.pages);
        }
        // Finished requests gathered behind it ride in its hypercall.
        let pages = placement.pages + self.unmap_group(c, now)?;
        let mut cost =
            self.vary.draw(Cost::Hypercall) + u64::from(pages) * self.vary.draw(Cost::UnmapPage);
        cost += self.map_lock_cost(c, pages);
        self.add_part(Some(r), Part::Unmap, cost);
        self.group_unmapped(c, cost);
        self.backends[b].phase = Phase::Unmap;
        self.backends[b].phase_start = now;
        self.start_segment(c, now, cost, sched);
        Ok(())
    }

    /// CPU `c`'s backend, its current request and where that request is
    /// mapped.
    pub(super) fn current_request(&self, c: CpuId) -> (usize, RequestId, Placement) {
        let b = self.backend_of(c);
        let r = self.backends[b].request();
        (
            b,
            r,
            self.requests[r]
                .placement
                .expect("the current request is mapped"),
        )
    }

    /// The backend thread of registered CPU `c` (its index in `backends`).
    pub(super) fn backend_of(&self, c: CpuId) -> usize {
        self.cpus[c]
            .backend
            .expect("only registered CPUs run backend phases")
    }

    /// After the unmap hypercall: the flushes the policy needs, then
    /// completion.
    pub(super) fn after_unmap(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let (b, r, placement) = self.current_request(c);
        let plan = self.policy.on_unmap(placement);
        let local = match plan.local {
            LocalFlush::None => 0,
            LocalFlush::Pages => self.flush_range_local(c, placement.base.0, placement.pages),
        } + self.group_local_flush(c, plan.local);
        self.requests[r].flush_wait_start = now;
        match plan.remote {
            RemoteInvalidation::Ipi(sd) => {
                let (sd, group_shootdowns) = self.group_shootdown(c, sd, placement.pages);
                self.backends[b].shootdown = sd;
                self.backends[b].shootdowns_left = match sd.granularity {
                    ShootdownGranularity::Request => group_shootdowns,
                    ShootdownGranularity::Page => placement.pages,
                };
                // The local flush runs before the shootdown starts.
                self.next_shootdown(c, now + local, sched)?;
            }
            RemoteInvalidation::Broadcast(bc) => {
                self.broadcast_invalidate(c, now, local, bc, sched)?
            }
            RemoteInvalidation::Batched(batch) => self.join_batch(c, now, local, batch, sched)?,
            RemoteInvalidation::Epoch(ep) => self.defer_to_epoch(c, now, local, ep, sched)?,
            RemoteInvalidation::RemoteAction(ra) => {
                self.remote_action_invalidate(c, now, local, ra, sched)?
            }
            RemoteInvalidation::None => {
                self.add_part(Some(r), Part::FlushWait, local);
                self.finish_request_flushes(c, now, local, sched);
            }
        }
        Ok(())
    }

    /// Flushes for the unmap are done: complete the request.
    pub(super) fn finish_request_flushes(
        &mut self,
        c: CpuId,
        now: u64,
        extra: u64,
        sched: &mut Sched<'_>,
    ) {
        let b = self.backend_of(c);
        let r = self.backends[b].request();
        // An epoch-deferred placement was taken by the epoch.
        if let Some(placement) = self.requests[r].placement.take() {
            self.mgr.release(placement);
        }
        let complete = self.completion_cost(c);
        let cost = extra + complete;
        self.add_part(Some(r), Part::Complete, complete);
        let wait = now.saturating_sub(self.requests[r].flush_wait_start) + extra;
        self.group_flushed(c, wait, complete);
        self.backends[b].phase = Phase::Complete;
        self.backends[b].phase_start = now;
        self.start_segment(c, now, cost, sched);
    }

    /// CPU `c`'s current request is complete at `now`.
    pub(super) fn complete(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<Control, SimError> {
        let b = self.backend_of(c);
        let r = self.backends[b].request();
        self.backends[b].io.in_flight -= 1;
        self.released(now, sched);
        if self.retire_request(r, now, sched) == Control::Stop
            || self.retire_group(c, now, sched) == Control::Stop
        {
            return Ok(Control::Stop);
        }
        self.next_request(c, now, sched)?;
        Ok(Control::Continue)
    }

    /// Request `r` is complete at `now`: its latency is recorded and a
    /// closed-loop guest issues its next one. `Stop` when the measurement
    /// window is full.
    pub(super) fn retire_request(
        &mut self,
        r: RequestId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Control {
        let req = self.requests[r];
        self.requests.remove(r);
        if let Some(va) = req.released_va {
            self.frames_released(now, va, req.first_frame, req.pages);
        }
        if O::ENABLED {
            self.obs.in_flight(now, self.requests.live() as u64);
        }
        let counted = self.window.is_open();
        // The I/O: the request itself, or the split I/O of its last piece.
        let (arrival, size_bytes, read, pieces, parts) = match req.split {
            None => (req.arrival, req.size_bytes, req.read, 1, req.parts),
            Some(s) => {
                let io = &mut self.splits[s];
                io.pieces_left -= 1;
                if O::RECORDS_IOS {
                    window::add_parts(&mut io.parts, &req.parts);
                }
                if io.pieces_left > 0 {
                    // Not the last piece: the I/O goes on.
                    self.window.piece();
                    return Control::Continue;
                }
                let io = *io;
                self.splits.remove(s);
                (io.arrival, io.size_bytes, io.read, io.pieces, io.parts)
            }
        };
        let window = self.window.complete(now - arrival, size_bytes, read);
        if O::RECORDS_IOS && counted {
            self.obs.io(&IoRecord {
                guest: req.guest,
                cpu: req.cpu,
                size_bytes,
                read,
                pieces,
                arrival,
                latency: now - arrival,
                parts,
            });
        }
        self.guest_goes_on(req.guest, sched);
        match window {
            Completion::Counted => {}
            Completion::Opens => self.start_window(now),
            Completion::Full => return Control::Stop,
        }
        Control::Continue
    }

    /// A request of `guest` is answered (completed or refused): a
    /// closed-loop guest issues its next one after its think time; an
    /// open-loop or trace request departs.
    pub(super) fn guest_goes_on(&mut self, guest: u32, sched: &mut Sched<'_>) {
        let g = &self.guests[guest as usize];
        if g.gen.config().pattern == Pattern::Closed {
            sched.after(Span(g.gen.think_cycles()), Event::Issue { guest });
        } else {
            self.overload.depart();
        }
    }

    /// CPU `c`'s thread-level segment is due to end at `now`: if interrupt
    /// work pushed it back, wait again; else the phase it ran is over and
    /// the next one starts.
    pub(super) fn segment_end(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<Control, SimError> {
        // A span descheduled before `now` pushes the segment back.
        self.vcpu_catch_up(c, now);
        if let Some(end) = self.cpus[c].clock.segment_end(now) {
            sched.at(Instant(end), Event::SegmentEnd { cpu: c });
            return Ok(Control::Continue);
        }
        let seg_len = self.window.counted(self.cpus[c].seg_len);
        self.cpus[c].clock.busy_cycles += seg_len;
        let b = self.cpus[c].backend.expect("segments run on backend CPUs");
        // What interrupt-level work added to the segment (its wait for the
        // interrupt level at the start, and the debt it took on while
        // running); the map part counts its elapsed time whole instead.
        let (interrupted, wake) = {
            let cpu = &self.cpus[c];
            (
                (now - cpu.seg_called).saturating_sub(cpu.seg_len),
                cpu.seg_wake,
            )
        };
        let serving = self.serving(c);
        match self.backends[b].phase {
            Phase::Map => {}
            Phase::Unmap => {
                // A sleeping map-lock waiter's wake-up belongs to its wait.
                self.add_part(serving, Part::Unmap, wake);
                self.add_part(serving, Part::Interrupted, interrupted);
            }
            _ => self.add_part(serving, Part::Interrupted, interrupted),
        }
        if O::ENABLED {
            let kind = match self.backends[b].phase {
                Phase::Map => SliceKind::Map,
                Phase::Data | Phase::DataDone => SliceKind::Data,
                Phase::Unmap => SliceKind::Unmap,
                _ => SliceKind::Complete,
            };
            let (id, start, occupancy) = {
                let cpu = &self.cpus[c];
                (cpu.stats.cpu, cpu.seg_start, cpu.tlb.occupancy() as u64)
            };
            self.obs.slice(id, kind, start, now);
            self.obs.tlb_occupancy(now, id, occupancy);
        }
        match self.backends[b].phase {
            Phase::Map => {
                let elapsed = now - self.backends[b].phase_start;
                let map = elapsed - self.cpus[c].seg_deferred;
                self.add_part(serving, Part::Map, map);
                self.release_map_lock(now, sched)?;
                self.start_data(c, now, sched)?;
            }
            Phase::Data => self.after_data(c, now, sched)?,
            Phase::Unmap => {
                let (_, _, placement) = self.current_request(c);
                let holds_through_flush =
                    self.map_lock_through_flush && self.policy.on_unmap(placement).is_remote();
                if !holds_through_flush {
                    self.release_map_lock(now, sched)?;
                }
                self.after_unmap(c, now, sched)?;
            }
            Phase::Complete => return self.complete(c, now, sched),
            Phase::DataDone => self.start_unmap(c, now, sched)?,
            Phase::Refused => return self.answer_refused(c, now, sched),
            Phase::CompleteBatch => return self.complete_batch(c, now, sched),
            p => unreachable!("segment ended in phase {p:?}"),
        }
        Ok(Control::Continue)
    }
}
