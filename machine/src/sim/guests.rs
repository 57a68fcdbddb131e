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
    /// Largest request before splitting, bytes.
    pub(super) split_bytes: u64,
    /// Registered CPU serving each of its rings.
    pub(super) ring_cpu: Vec<CpuId>,
    pub(super) frame_base: u64,
}

/// Instant from a trace's nanoseconds (already scaled by `time_scale`).
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
        let g = &mut self.guests[guest as usize];
        match g.gen.config().pattern {
            Pattern::Open => {
                let spec = g.gen.next_request();
                let dt = g.gen.next_interarrival_cycles();
                sched.after(Span(dt), Event::Issue { guest });
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
                let split = g.split_bytes;
                let queues = g.gen.config().queues;
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
                let mut left = t.size_bytes.max(1);
                while left > 0 {
                    let size_bytes = left.min(split);
                    left -= size_bytes;
                    let g = &mut self.guests[guest as usize];
                    let mut spec = workloads::RequestSpec {
                        size_bytes,
                        read: t.read,
                        queue: t.queue % queues,
                        first_buffer_page: 0,
                    };
                    spec.first_buffer_page = g.gen.buffer_pool().take(spec.pages());
                    self.enqueue(guest, spec, now, sched);
                }
            }
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
    ) {
        let g = &self.guests[guest as usize];
        let cpu = g.ring_cpu[spec.queue as usize];
        let r = self.requests.insert(Request {
            guest,
            arrival: now,
            size_bytes: spec.size_bytes,
            pages: spec.pages(),
            read: spec.read,
            first_frame: g.frame_base + u64::from(spec.first_buffer_page),
            placement: None,
            flush_wait_start: 0,
        });
        let live = self.requests.live() as u64;
        self.peak_in_flight = self.peak_in_flight.max(live);
        if O::ENABLED {
            self.obs.in_flight(now, live);
        }
        let b = self.cpus[cpu].backend.expect("rings go to registered CPUs");
        self.backends[b].ring.push_back(r);
        if self.backends[b].phase == Phase::Idle {
            self.backends[b].phase = Phase::Waking;
            sched.after(Span(self.costs.notify_cycles), Event::Wake { cpu });
        }
    }
}
