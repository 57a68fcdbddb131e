//! The asynchronous backend (`io.asynchronous`) and what a backend does
//! when its policy's finite pool is exhausted.
//!
//! As xen-blkback does (drivers/block/xen-blkback/blkback.c:
//! `dispatch_rw_block_io` maps the request's grants and submits its bios,
//! then the thread goes on with the ring; `__end_block_io_op` at the bio's
//! completion calls `xen_blkbk_unmap_and_respond`), a backend thread maps
//! a request, touches a write's data, submits it to the device and takes
//! its next request without waiting. The device serves every submitted
//! request independently (its time is `host.device_cycles`, fixed or
//! exponential, plus `io.device_cycles_per_kib` per KiB; assumption: a
//! device with as many parallel queues as requests in flight, as an NVMe
//! drive at these depths). When the device is done, the request is queued
//! back to its thread (a notification, `costs.notify_cycles`, wakes it if
//! it sleeps), which touches a read's data (it exists only now), unmaps it
//! with the policy's unmap plan and completes it. Assumption: the thread,
//! not interrupt context, runs the unmap and response, and it serves
//! finished requests before new ones (completions free ring slots and
//! placements first).
//!
//! A thread has at most `io.ring_slots` requests in flight (dequeued, not
//! completed): at the bound it leaves the ring alone until a completion.
//!
//! # Exhaustion
//! When [`hypervisor::MappingPolicy::place`] finds its pool exhausted for
//! now ([`hypervisor::HvError::is_exhaustion`]), the policy says what
//! happens ([`Exhaustion`]): the request *waits*, first in line, until one
//! of the thread's I/Os completes and releases its placement (the thread
//! serves completions meanwhile, but no new request); or it is *refused*:
//! the thread answers it with an error (`complete_cycles`) and it is not a
//! completed I/O. A wait that nothing in flight can end is a
//! [`SimError`] (the configuration cannot run). A fallback mapping is the
//! policy's own choice inside `place`; the machine only counts it
//! ([`hypervisor::MappingPolicy::is_fallback`]).
//!
//! # Within one cycle
//! A device completion at cycle `t` queues its request at `t`; a thread
//! ending a segment at `t` sees it if the completion's event ran first
//! (scheduled earlier), else at its next decision point.

use super::*;
use hypervisor::Exhaustion;

/// A backend thread's state on the asynchronous path.
#[derive(Debug, Default)]
pub(super) struct AsyncState {
    /// Requests dequeued and not yet completed (ring slots in use).
    pub(super) in_flight: u32,
    /// Requests the device finished, waiting for the thread, oldest first.
    pub(super) done: VecDeque<RequestId>,
    /// The request whose map found the pool exhausted, waiting for a
    /// completion.
    pub(super) parked: Option<RequestId>,
    /// Whether a placement was released since `parked` last failed.
    pub(super) released: bool,
    /// Requests still to take in the current drain of the ring, whose maps
    /// ride in the drain's first hypercall (`io.drain_requests`).
    pub(super) drain_left: u32,
    /// Whether the current drain made its batched header-copy hypercall
    /// (`io.header_copy_bytes`, `header_copy.rs`).
    pub(super) drain_copied: bool,
    /// Whether the current drain made its map hypercall (with a header
    /// copy, its first requests may map nothing).
    pub(super) drain_mapped: bool,
    /// Finished requests whose unmaps ride in the current request's unmap
    /// hypercall (`drain_unmap.rs`), in the order the device finished them.
    pub(super) unmap_group: Vec<RequestId>,
}

/// What a backend thread does next on the asynchronous path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// It got work (a finished request, or its parked one).
    Busy,
    /// It may not take a new request now: it sleeps until a completion.
    Blocked,
    /// It may take the next request from its ring.
    Ring,
}

impl<O: Observer> Simulation<O> {
    /// The asynchronous thread of CPU `c` at a decision point: finished
    /// requests first, then its parked request (if a placement was released
    /// since it failed), then the ring, within `io.ring_slots`.
    pub(super) fn async_next(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<Next, SimError> {
        let b = self.backend_of(c);
        if let Some(r) = self.backends[b].io.done.pop_front() {
            // Its wait for the thread counts as queueing.
            let queue = now - self.requests[r].ready_at;
            self.add_part(Some(r), Part::Queue, queue);
            let be = &mut self.backends[b];
            be.current = Some(r);
            be.phase_start = now;
            self.after_device(c, r, now, sched)?;
            return Ok(Next::Busy);
        }
        if let Some(r) = self.backends[b].io.parked {
            if !self.backends[b].io.released {
                return Ok(Next::Blocked);
            }
            let waited = now - self.requests[r].ready_at;
            self.window.io_path.slot_wait_cycles += self.window.counted(waited);
            let be = &mut self.backends[b];
            be.io.parked = None;
            be.current = Some(r);
            // The map part runs from the first attempt.
            be.phase_start = self.requests[r].dequeued_at;
            if self.take_map_lock(c, Phase::WaitMapLockMap) {
                self.begin_map(c, now, sched)?;
            }
            return Ok(Next::Busy);
        }
        let be = &self.backends[b];
        if be.io.in_flight >= self.io.ring_slots {
            return Ok(Next::Blocked);
        }
        Ok(Next::Ring)
    }

    /// CPU `c`'s thread took request `r` from its ring: whether its map
    /// rides in an earlier map's hypercall (the same drain of the ring,
    /// `io.drain_requests`), else it opens a drain.
    pub(super) fn joins_drain(&mut self, c: CpuId) -> bool {
        let b = self.backend_of(c);
        let be = &mut self.backends[b];
        if be.io.drain_left > 0 {
            be.io.drain_left -= 1;
            return true;
        }
        let waiting = u32::try_from(be.ring.len()).unwrap_or(u32::MAX);
        be.io.drain_left = (self.io.drain_requests - 1).min(waiting);
        be.io.drain_copied = false;
        be.io.drain_mapped = false;
        false
    }

    /// The device time of a request of CPU `c`'s backend: `host.device_cycles`
    /// (fixed or exponential) plus `io.device_cycles_per_kib` per KiB.
    pub(super) fn device_time(&mut self, c: CpuId) -> u64 {
        let base = self
            .device_distribution
            .draw(self.device_cycles, &mut self.device_rng);
        let r = self.backends[self.backend_of(c)].request();
        base + (self.requests[r].size_bytes * self.io.device_cycles_per_kib).div_ceil(1024)
    }

    /// The data a request's data phase touches before submission: all of
    /// it, except a read's on the asynchronous path (touched when the
    /// device is done, [`Simulation::after_device`]).
    pub(super) fn touch_at_submit(
        &mut self,
        c: CpuId,
        r: RequestId,
        now: u64,
    ) -> Result<u64, SimError> {
        if self.io.asynchronous && self.requests[r].read {
            return Ok(0);
        }
        self.touch_data(c, r, now)
    }

    /// CPU `c`'s current request is submitted to the device at `now`; the
    /// thread goes on with its next request.
    pub(super) fn submit(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let device = self.device_time(c);
        let b = self.backend_of(c);
        let r = self.backends[b].request();
        self.requests[r].ready_at = now;
        self.device_submit(super::device::DeviceJob::Async(c, r), device, now, sched);
        self.next_request(c, now, sched)
    }

    /// The device finished request `r` of CPU `c`'s backend at `now`: it is
    /// queued back to the thread, which is woken if it sleeps.
    pub(super) fn io_done(&mut self, c: CpuId, r: RequestId, now: u64, sched: &mut Sched<'_>) {
        // Counted at completion, as every part, so that a window's parts
        // belong to the I/Os it completes.
        let device = now - self.requests[r].ready_at;
        self.add_part(Some(r), Part::Device, device);
        self.requests[r].ready_at = now;
        let b = self.requests[r].thread;
        debug_assert_eq!(self.thread_cpu(b), c);
        self.backends[b].io.done.push_back(r);
        self.wake_thread(b, self.costs.notify_cycles, sched);
    }

    /// CPU `c`'s thread takes back request `r`, finished by the device: a
    /// read's data is touched, then it is unmapped.
    fn after_device(
        &mut self,
        c: CpuId,
        r: RequestId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        if !self.requests[r].read || self.touch == Touch::Dma {
            return self.start_unmap(c, now, sched);
        }
        let data = self.touch_data(c, r, now)?;
        self.add_part(Some(r), Part::Data, data);
        let b = self.backend_of(c);
        self.backends[b].phase = Phase::DataDone;
        self.start_segment(c, now, data, sched);
        Ok(())
    }

    /// A placement was released at `now` (an I/O completed): every thread
    /// with a parked request may try its map again; a sleeping one is woken.
    pub(super) fn released(&mut self, _now: u64, sched: &mut Sched<'_>) {
        for b in 0..self.backends.len() {
            if self.backends[b].io.parked.is_some() {
                self.backends[b].io.released = true;
                self.wake_thread(b, self.costs.notify_cycles, sched);
            }
        }
    }

    /// CPU `c`'s map found the policy's pool exhausted (`e`) at `now`; the
    /// map lock, if any, is released, and the request waits or is refused.
    pub(super) fn pool_exhausted(
        &mut self,
        c: CpuId,
        now: u64,
        e: HvError,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        if self.map_lock.enabled {
            self.release_map_lock(now, sched)?;
        }
        let b = self.backend_of(c);
        let r = self.backends[b].request();
        match self.policy.on_exhausted() {
            Exhaustion::Wait => {
                let others = self.backends[b].io.in_flight - 1;
                if others == 0 {
                    // Nothing in flight here can release a placement.
                    return Err(e.into());
                }
                if self.backends[b].io.parked.is_none() {
                    self.window.io_path.slot_waits += self.window.counted(1);
                    self.requests[r].ready_at = now;
                }
                let be = &mut self.backends[b];
                be.io.parked = Some(r);
                be.io.released = false;
                self.next_request(c, now, sched)
            }
            Exhaustion::Refuse => {
                self.window.io_path.refused += self.window.counted(1);
                let be = &mut self.backends[b];
                be.phase = Phase::Refused;
                be.phase_start = now;
                self.start_segment(c, now, self.costs.complete_cycles, sched);
                Ok(())
            }
        }
    }

    /// CPU `c` answered its current (refused) request at `now`: the guest
    /// has its error response; the thread goes on.
    pub(super) fn answer_refused(
        &mut self,
        c: CpuId,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<Control, SimError> {
        let b = self.backend_of(c);
        let r = self.backends[b].request();
        self.backends[b].io.in_flight -= 1;
        let req = self.requests[r];
        self.requests.remove(r);
        if let Some(s) = req.split {
            // The I/O goes on with its other pieces; the last one retires it.
            let io = &mut self.splits[s];
            io.pieces_left -= 1;
            if io.pieces_left == 0 {
                self.splits.remove(s);
            }
        }
        self.guest_goes_on(req.guest, sched);
        self.next_request(c, now, sched)?;
        Ok(Control::Continue)
    }
}
