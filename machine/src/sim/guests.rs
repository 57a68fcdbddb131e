//! Guests and arrivals: open-loop, closed-loop and trace-replay guests
//! putting requests on the rings of registered CPUs.

use super::*;

/// A guest: its generator and where its rings go.
pub(super) struct Guest {
    pub(super) gen: Generator,
    /// Trace replay: the stream, and its next request (read one ahead).
    pub(super) source: Option<Box<dyn RequestSource + Send>>,
    pub(super) pending: Option<TimedRequest>,
    /// Trace replay: cycles per trace nanosecond (`time_scale` x GHz).
    pub(super) trace_cycles_per_ns: f64,
    /// Trace replay: largest piece a request is split into (`None`: whole).
    pub(super) piece_bytes: Option<u64>,
    /// Registered CPU serving each of its rings.
    pub(super) ring_cpu: Vec<CpuId>,
    /// Backend thread serving each of its rings (its index in `backends`).
    pub(super) ring_thread: Vec<usize>,
    pub(super) frame_base: u64,
}

/// A trace request served in pieces: one I/O, complete with its last piece.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SplitIo {
    pub(super) arrival: u64,
    pub(super) size_bytes: u64,
    pub(super) read: bool,
    pub(super) pieces_left: u32,
    /// Its pieces, for its [`IoRecord`](crate::IoRecord).
    pub(super) pieces: u32,
    /// Its finished pieces' latency parts (kept only when the observer
    /// records I/Os).
    pub(super) parts: LatencyBreakdown,
}

/// Cycles from a trace's nanoseconds (already scaled by `time_scale`).
#[allow(clippy::cast_precision_loss, reason = "trace times far below 2^53 ns")]
pub(super) fn trace_cycles(at_ns: u64, cycles_per_ns: f64) -> u64 {
    workloads::round_cycles(at_ns as f64 * cycles_per_ns)
}

impl<O: Observer> Simulation<O> {
    /// Schedules every guest's first requests.
    pub(super) fn seed_events(&mut self, sched: &mut Sched<'_>) -> Result<(), SimError> {
        for (g, guest) in self.guests.iter_mut().enumerate() {
            let guest_id = u32::try_from(g).expect("guest count fits u32");
            match guest.gen.config().pattern {
                Pattern::Open => {
                    let dt = guest.gen.next_interarrival_cycles();
                    sched.after(Span(dt), Event::Issue { guest: guest_id });
                }
                Pattern::Closed => {
                    for _ in 0..guest.gen.config().queue_depth {
                        sched.after(Span(0), Event::Issue { guest: guest_id });
                    }
                }
                Pattern::Trace => {
                    let source = guest.source.as_mut().expect("checked at construction");
                    match source.next_request() {
                        Some(Ok(r)) => {
                            let at = trace_cycles(r.at_ns, guest.trace_cycles_per_ns);
                            guest.pending = Some(r);
                            sched.at(Instant(at), Event::Issue { guest: guest_id });
                        }
                        Some(Err(e)) => {
                            return Err(SimError::Trace {
                                guest: guest_id,
                                message: e.message,
                            });
                        }
                        None => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// A guest issues a request.
    pub(super) fn issue(
        &mut self,
        guest: u32,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        self.wake_other_flushes(now, sched);
        let g = &mut self.guests[guest as usize];
        match g.gen.config().pattern {
            Pattern::Open => {
                let spec = g.gen.next_request();
                let dt = g.gen.next_interarrival_cycles();
                sched.after(Span(dt), Event::Issue { guest });
                self.overload.arrive(self.window.counted(1) == 1);
                self.enqueue(guest, spec, now, sched);
            }
            Pattern::Closed => {
                let spec = g.gen.next_request();
                self.enqueue(guest, spec, now, sched);
            }
            Pattern::Trace => {
                let t = g
                    .pending
                    .take()
                    .expect("an Issue is scheduled only with a pending record");
                // Read the next record first: its time schedules the next Issue.
                let source = g.source.as_mut().expect("trace guests have a source");
                match source.next_request() {
                    Some(Ok(next)) => {
                        let at = trace_cycles(next.at_ns, g.trace_cycles_per_ns).max(now);
                        g.pending = Some(next);
                        sched.at(Instant(at), Event::Issue { guest });
                    }
                    Some(Err(e)) => {
                        return Err(SimError::Trace {
                            guest,
                            message: e.message,
                        });
                    }
                    None => {}
                }
                self.issue_recorded(guest, &t, now, sched)?;
            }
        }
        Ok(())
    }

    /// A recorded request of trace guest `guest` reaches its ring: whole,
    /// or in pieces of at most the guest's `split` size (one I/O, counted
    /// complete with its last piece).
    fn issue_recorded(
        &mut self,
        guest: u32,
        t: &TimedRequest,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> Result<(), SimError> {
        let size = t.size_bytes.max(1);
        let g = &self.guests[guest as usize];
        let piece = g.piece_bytes.unwrap_or(size).min(size);
        if piece.div_ceil(workloads::PAGE_BYTES) > u64::from(self.max_pages) {
            return Err(SimError::Trace {
                guest,
                message: format!(
                    "a recorded request of {size} bytes does not fit the mapping area of {} pages \
                     (guests.{guest}.max_request_bytes is smaller than the trace's largest request; \
                     leave it out to have the trace scanned, or set guests.{guest}.split)",
                    self.max_pages
                ),
            });
        }
        let pieces = u32::try_from(size.div_ceil(piece)).expect("pieces of a request fit u32");
        self.overload.arrive(self.window.counted(1) == 1);
        let queue = t.queue % g.gen.config().queues;
        let split = (pieces > 1).then(|| {
            self.splits.insert(SplitIo {
                arrival: now,
                size_bytes: size,
                read: t.read,
                pieces_left: pieces,
                pieces,
                parts: LatencyBreakdown::default(),
            })
        });
        let mut left = size;
        while left > 0 {
            let size_bytes = left.min(piece);
            left -= size_bytes;
            let mut spec = workloads::RequestSpec {
                size_bytes,
                read: t.read,
                queue,
                first_buffer_page: 0,
            };
            let g = &mut self.guests[guest as usize];
            spec.first_buffer_page = g.gen.buffer_pool().take(spec.pages());
            let r = self.enqueue(guest, spec, now, sched);
            self.requests[r].split = split;
        }
        Ok(())
    }

    /// Puts a request of `guest` on its ring and wakes the backend if idle.
    pub(super) fn enqueue(
        &mut self,
        guest: u32,
        spec: workloads::RequestSpec,
        now: u64,
        sched: &mut Sched<'_>,
    ) -> RequestId {
        let g = &self.guests[guest as usize];
        let cpu = g.ring_cpu[spec.queue as usize];
        let thread = g.ring_thread[spec.queue as usize];
        let first_frame = g.frame_base + u64::from(spec.first_buffer_page);
        let (copied_bytes, first_frame, pages) = match self.header_copy {
            Some(hc) => hc.split(spec.size_bytes, first_frame, spec.pages()),
            None => (0, first_frame, spec.pages()),
        };
        let r = self.requests.insert(Request {
            guest,
            arrival: now,
            size_bytes: spec.size_bytes,
            pages,
            read: spec.read,
            first_frame,
            copied_bytes,
            placement: None,
            flush_wait_start: 0,
            split: None,
            released_va: None,
            dequeued_at: 0,
            ready_at: 0,
            in_drain: false,
            cpu: self.cpus[cpu].stats.cpu,
            thread,
            parts: LatencyBreakdown::default(),
        });
        let live = self.requests.live() as u64;
        self.peak_in_flight = self.peak_in_flight.max(live);
        if O::ENABLED {
            self.obs.in_flight(now, live);
        }
        self.backends[thread].ring.push_back(r);
        if self.backends[thread].phase == Phase::Idle {
            let notify = self.vary.draw(Cost::Notify);
            self.wake_thread(thread, notify, sched);
        }
        r
    }
}
