//! The device's parallelism (`io.device_queues`).
//!
//! By default the device serves every submitted request at once, each in
//! its own time (an assumption: an NVMe drive at these depths). With
//! `io.device_queues = Q` above 0 it serves at most `Q` requests at a time,
//! shared by every backend, and the others wait first come, first served
//! (the order of submission, ties by sequence): a request's service time
//! is drawn when it is submitted, and it runs once a queue is free. The
//! wait is part of its device time. Assumption: one FIFO in front of `Q`
//! identical servers (a SATA drive's native command queueing holds up to
//! 32 commands; a disk without queueing is `Q = 1`).
//!
//! # Within one cycle
//! A completion at cycle `t` starts the next waiting request at `t`,
//! before the completion's own handling (so its end is scheduled first).

use super::*;

/// What a request on the device is waiting for: the event its end is.
#[derive(Clone, Copy, Debug)]
pub(super) enum DeviceJob {
    /// A synchronous backend's current request (`Event::DeviceDone`).
    Sync(CpuId),
    /// An asynchronous backend's request (`Event::IoDone`).
    Async(CpuId, RequestId),
}

/// The device's queues: how many serve now, and who waits.
#[derive(Debug, Default)]
pub(super) struct Device {
    /// Requests being served (only counted when the queues are bounded).
    busy: u32,
    /// Waiting requests: what ends them, their service time, since when.
    waiting: VecDeque<(DeviceJob, u64, u64)>,
}

impl<O: Observer> Simulation<O> {
    /// `job` is submitted at `now` with `service` cycles of device time: it
    /// starts if a queue is free, else waits.
    pub(super) fn device_submit(
        &mut self,
        job: DeviceJob,
        service: u64,
        now: u64,
        sched: &mut Sched<'_>,
    ) {
        let queues = self.io.device_queues;
        if queues > 0 {
            if self.device.busy >= queues {
                self.device.waiting.push_back((job, service, now));
                return;
            }
            self.device.busy += 1;
        }
        Self::device_end(job, service, sched);
    }

    /// A request left the device at `now`: the first waiting one starts.
    pub(super) fn device_finished(&mut self, now: u64, sched: &mut Sched<'_>) {
        if self.io.device_queues == 0 {
            return;
        }
        self.device.busy -= 1;
        let Some((job, service, since)) = self.device.waiting.pop_front() else {
            return;
        };
        self.device.busy += 1;
        if let DeviceJob::Sync(c) = job {
            // A synchronous request's device part was its service time;
            // its wait for a queue is added now (an asynchronous one's is
            // measured at its end).
            let r = self.backends[self.backend_of(c)].current;
            self.add_part(r, Part::Device, now - since);
        }
        Self::device_end(job, service, sched);
    }

    /// Schedules the end of `job`, `service` cycles from now.
    fn device_end(job: DeviceJob, service: u64, sched: &mut Sched<'_>) {
        let event = match job {
            DeviceJob::Sync(cpu) => Event::DeviceDone { cpu },
            DeviceJob::Async(cpu, request) => Event::IoDone { cpu, request },
        };
        sched.after(Span(service), event);
    }
}
