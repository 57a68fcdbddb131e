//! The timeline view: a [`machine::Observer`] that records a run as Chrome
//! trace-event JSON, which Perfetto (ui.perfetto.dev, "Open trace file")
//! and chrome://tracing ("Load") open.
//!
//! - One track (`tid`) per CPU, named `CPU n (I/O)` or `CPU n`, sorted by CPU.
//! - Complete events (`ph: "X"`) for every slice of CPU time: dequeue+map,
//!   data touch, unmap, flush wait, complete, IPI handler, migrated data
//!   touch, background.
//! - Flow events (`ph: "s"` / `"f"`, `bp: "e"`) for each shootdown IPI: from
//!   its send on the initiator to the handler on the target (flow id
//!   `2 x IPI`), and from the handler back to the initiator where it sees
//!   the acknowledgement (id `2 x IPI + 1`).
//! - Counter tracks (`ph: "C"`): `TLB entries CPU n` and `requests in
//!   flight`, recorded when they change.
//!
//! Bounded: only what happens in the window `[start, end)` (cycles) is
//! kept (slices clipped to it; an IPI only if its whole round trip is in
//! it; counters' values at the window start are carried in), and at most
//! `max_events` events; both bounds, and how many events the cap dropped,
//! are in the file's `otherData`. Times (`ts`, `dur`) are microseconds of
//! simulated time: cycles / (`frequency_ghz` x 1000). The output depends only
//! on the run, so the same scenario and seed give the same file.

use std::fmt::Write as _;

use machine::{IpiRecord, Observer, SliceKind};

/// Default cap on a timeline's events (about 150 MB of JSON at most).
pub const DEFAULT_TIMELINE_EVENTS: usize = 1_000_000;

/// What a timeline records and how it names it.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineConfig {
    /// Scenario name (for the process name and metadata).
    pub scenario: String,
    /// Policy name.
    pub policy: String,
    /// Simulated CPUs.
    pub cpus: u32,
    /// CPUs registered for I/O (`0..io_cpus`).
    pub io_cpus: u32,
    /// Simulated clock, GHz (cycles to microseconds).
    pub frequency_ghz: f64,
    /// Window start, cycles (inclusive).
    pub window_start: u64,
    /// Window end, cycles (exclusive); `None`: the end of the run.
    pub window_end: Option<u64>,
    /// Most events kept (metadata events not counted).
    pub max_events: usize,
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    Slice {
        cpu: u32,
        kind: SliceKind,
        start: u64,
        end: u64,
    },
    Flow {
        start: bool,
        id: u64,
        cpu: u32,
        t: u64,
    },
    Tlb {
        cpu: u32,
        t: u64,
        entries: u64,
    },
    InFlight {
        t: u64,
        requests: u64,
    },
}

/// The timeline observer; [`Timeline::to_json`] renders it.
#[derive(Clone, Debug)]
pub struct Timeline {
    cfg: TimelineConfig,
    events: Vec<Ev>,
    dropped: u64,
    tlb_last: Vec<Option<u64>>,
    in_flight_last: Option<u64>,
    /// Counter values last seen before the window, shown at its start.
    tlb_before: Vec<Option<u64>>,
    in_flight_before: Option<u64>,
}

impl Timeline {
    /// An empty timeline.
    #[must_use]
    pub fn new(cfg: TimelineConfig) -> Self {
        let n = cfg.cpus as usize;
        Self {
            cfg,
            events: Vec::new(),
            dropped: 0,
            tlb_last: vec![None; n],
            in_flight_last: None,
            tlb_before: vec![None; n],
            in_flight_before: None,
        }
    }

    fn end(&self) -> u64 {
        self.cfg.window_end.unwrap_or(u64::MAX)
    }

    fn in_window(&self, t: u64) -> bool {
        t >= self.cfg.window_start && t < self.end()
    }

    /// Keeps `evs` whole, or drops them all when the cap is reached.
    fn push(&mut self, evs: &[Ev]) {
        if self.events.len() + evs.len() > self.cfg.max_events {
            self.dropped += evs.len() as u64;
        } else {
            self.events.extend_from_slice(evs);
        }
    }

    /// Events kept.
    #[must_use]
    pub fn events(&self) -> usize {
        self.events.len()
    }

    /// Events dropped because of the cap.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Simulated time in units of 0.1 ns (1e-4 µs), rounded: slices are
    /// placed on this integer grid so that back-to-back slices stay
    /// back-to-back (Chrome and Perfetto need slices properly nested).
    fn tick(&self, cycles: u64) -> u64 {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "simulated times far below 2^53; the result is non-negative"
        )]
        let v = (cycles as f64 * 10.0 / self.cfg.frequency_ghz).round() as u64;
        v
    }

    /// `ticks` (0.1 ns) as microseconds with four decimals, exactly.
    fn us_ticks(ticks: u64) -> String {
        format!("{}.{:04}", ticks / 10_000, ticks % 10_000)
    }

    fn us(&self, cycles: u64) -> String {
        Self::us_ticks(self.tick(cycles))
    }

    /// The Chrome trace-event JSON (one event per line).
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128 * (self.events.len() + 64));
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let other = serde_json::json!({
            "generator": "tlbsim",
            "scenario": self.cfg.scenario,
            "policy": self.cfg.policy,
            "cpus": self.cfg.cpus,
            "io_cpus": self.cfg.io_cpus,
            "frequency_ghz": self.cfg.frequency_ghz,
            "time_unit": "ts and dur: microseconds of simulated time (cycles / (frequency_ghz * 1000))",
            "window_start_cycles": self.cfg.window_start,
            "window_end_cycles": self.cfg.window_end,
            "event_cap": self.cfg.max_events,
            "events": self.events.len(),
            "events_dropped": self.dropped,
            "truncated": self.dropped > 0,
        });
        let _ = writeln!(
            out,
            "{{\"displayTimeUnit\":\"ns\",\"otherData\":{other},\"traceEvents\":["
        );
        let mut lines: Vec<String> = Vec::new();
        lines.push(format!(
            "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{{\"name\":{}}}}}",
            q(&format!(
                "tlbsim {} / {}",
                self.cfg.scenario, self.cfg.policy
            ))
        ));
        for c in 0..self.cfg.cpus {
            let name = if c < self.cfg.io_cpus {
                format!("CPU {c} (I/O)")
            } else {
                format!("CPU {c}")
            };
            lines.push(format!(
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{},\"args\":{{\"name\":{}}}}}",
                c + 1,
                q(&name)
            ));
            lines.push(format!(
                "{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{},\"args\":{{\"sort_index\":{c}}}}}",
                c + 1
            ));
        }
        let ws = self.cfg.window_start;
        for (c, v) in self.tlb_before.iter().enumerate() {
            if let Some(v) = v {
                lines.push(self.counter_tlb(u32::try_from(c).unwrap_or(u32::MAX), ws, *v));
            }
        }
        if let Some(v) = self.in_flight_before {
            lines.push(self.counter_in_flight(ws, v));
        }
        for e in &self.events {
            lines.push(match *e {
                Ev::Slice {
                    cpu,
                    kind,
                    start,
                    end,
                } => format!(
                    "{{\"name\":{},\"cat\":\"{}\",\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{},\"dur\":{}}}",
                    q(kind.name()),
                    category(kind),
                    cpu + 1,
                    self.us(start),
                    Self::us_ticks(self.tick(end) - self.tick(start))
                ),
                Ev::Flow { start, id, cpu, t } => format!(
                    "{{\"name\":\"shootdown IPI\",\"cat\":\"ipi\",\"ph\":\"{}\",{}\"id\":{id},\"pid\":1,\"tid\":{},\"ts\":{}}}",
                    if start { "s" } else { "f" },
                    if start { "" } else { "\"bp\":\"e\"," },
                    cpu + 1,
                    self.us(t)
                ),
                Ev::Tlb { cpu, t, entries } => self.counter_tlb(cpu, t, entries),
                Ev::InFlight { t, requests } => self.counter_in_flight(t, requests),
            });
        }
        out.push_str(&lines.join(",\n"));
        out.push_str("\n]}\n");
        out
    }

    fn counter_tlb(&self, cpu: u32, t: u64, entries: u64) -> String {
        format!(
            "{{\"name\":\"TLB entries CPU {cpu}\",\"ph\":\"C\",\"pid\":1,\"tid\":0,\"ts\":{},\"args\":{{\"entries\":{entries}}}}}",
            self.us(t)
        )
    }

    fn counter_in_flight(&self, t: u64, requests: u64) -> String {
        format!(
            "{{\"name\":\"requests in flight\",\"ph\":\"C\",\"pid\":1,\"tid\":0,\"ts\":{},\"args\":{{\"requests\":{requests}}}}}",
            self.us(t)
        )
    }
}

fn category(kind: SliceKind) -> &'static str {
    match kind {
        SliceKind::Map => "map",
        SliceKind::Data => "data",
        SliceKind::Unmap => "unmap",
        SliceKind::FlushWait => "flush_wait",
        SliceKind::Complete => "complete",
        SliceKind::IpiHandler => "ipi_handler",
        SliceKind::Migrated => "migrated",
        SliceKind::Background => "background",
        SliceKind::Descheduled => "descheduled",
    }
}

impl Observer for Timeline {
    fn slice(&mut self, cpu: u32, kind: SliceKind, start: u64, end: u64) {
        let (s, e) = (start.max(self.cfg.window_start), end.min(self.end()));
        if s < e || (start == end && self.in_window(start)) {
            self.push(&[Ev::Slice {
                cpu,
                kind,
                start: s,
                end: e.max(s),
            }]);
        }
    }

    fn ipi(&mut self, ipi: IpiRecord) {
        if !(ipi.sent >= self.cfg.window_start && ipi.acked < self.end()) {
            return;
        }
        let mid = ipi.handler_start + (ipi.handler_end.saturating_sub(ipi.handler_start)) / 2;
        self.push(&[
            Ev::Flow {
                start: true,
                id: 2 * ipi.id,
                cpu: ipi.from,
                t: ipi.sent,
            },
            Ev::Flow {
                start: false,
                id: 2 * ipi.id,
                cpu: ipi.to,
                t: ipi.handler_start,
            },
            Ev::Flow {
                start: true,
                id: 2 * ipi.id + 1,
                cpu: ipi.to,
                t: mid,
            },
            Ev::Flow {
                start: false,
                id: 2 * ipi.id + 1,
                cpu: ipi.from,
                // Just inside the initiator's flush wait, which ends at the
                // last acknowledgement.
                t: ipi.acked.saturating_sub(1).max(ipi.sent),
            },
        ]);
    }

    fn in_flight(&mut self, t: u64, requests: u64) {
        if self.in_flight_last == Some(requests) {
            return;
        }
        self.in_flight_last = Some(requests);
        if t < self.cfg.window_start {
            self.in_flight_before = Some(requests);
        } else if t < self.end() {
            self.push(&[Ev::InFlight { t, requests }]);
        }
    }

    fn tlb_occupancy(&mut self, t: u64, cpu: u32, entries: u64) {
        let c = cpu as usize;
        if c >= self.tlb_last.len() || self.tlb_last[c] == Some(entries) {
            return;
        }
        self.tlb_last[c] = Some(entries);
        if t < self.cfg.window_start {
            self.tlb_before[c] = Some(entries);
        } else if t < self.end() {
            self.push(&[Ev::Tlb { cpu, t, entries }]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(window: (u64, Option<u64>), cap: usize) -> TimelineConfig {
        TimelineConfig {
            scenario: "s\"q".into(),
            policy: "global".into(),
            cpus: 3,
            io_cpus: 1,
            frequency_ghz: 2.0,
            window_start: window.0,
            window_end: window.1,
            max_events: cap,
        }
    }

    fn ipi(id: u64, sent: u64) -> IpiRecord {
        IpiRecord {
            from: 0,
            to: 2,
            id,
            sent,
            handler_start: sent + 100,
            handler_end: sent + 200,
            acked: sent + 300,
        }
    }

    #[test]
    fn renders_tracks_slices_flows_and_counters() {
        let mut t = Timeline::new(cfg((0, None), 100));
        t.slice(0, SliceKind::Unmap, 0, 2000);
        t.ipi(ipi(7, 1000));
        t.tlb_occupancy(10, 1, 5);
        t.tlb_occupancy(20, 1, 5);
        t.in_flight(30, 2);
        let v: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
        let evs = v["traceEvents"].as_array().unwrap();
        let names: Vec<&str> = evs
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["CPU 0 (I/O)", "CPU 1", "CPU 2"]);
        let x: Vec<_> = evs.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(x.len(), 1);
        assert_eq!(x[0]["ts"], 0.0);
        assert_eq!(x[0]["dur"], 1.0, "2000 cycles at 2 GHz are 1 µs");
        let flows: Vec<_> = evs.iter().filter(|e| e["cat"] == "ipi").collect();
        assert_eq!(flows.len(), 4);
        assert_eq!(flows[1]["bp"], "e");
        assert_eq!(
            (flows[0]["id"].as_u64(), flows[2]["id"].as_u64()),
            (Some(14), Some(15))
        );
        assert_eq!(
            evs.iter().filter(|e| e["ph"] == "C").count(),
            2,
            "unchanged values are not repeated"
        );
        assert_eq!(v["otherData"]["event_cap"], 100);
        assert_eq!(v["otherData"]["truncated"], false);
    }

    #[test]
    fn window_and_cap_bound_the_file() {
        let mut t = Timeline::new(cfg((1000, Some(5000)), 5));
        t.tlb_occupancy(10, 0, 3);
        t.slice(1, SliceKind::Background, 0, 1500);
        t.slice(1, SliceKind::Background, 6000, 7000);
        t.ipi(ipi(1, 500));
        t.ipi(ipi(2, 1000));
        t.ipi(ipi(3, 2000));
        let v: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
        let evs = v["traceEvents"].as_array().unwrap();
        let x: Vec<_> = evs.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(x.len(), 1);
        assert_eq!(
            (x[0]["ts"].as_f64(), x[0]["dur"].as_f64()),
            (Some(0.5), Some(0.25))
        );
        assert_eq!(
            evs.iter().filter(|e| e["cat"] == "ipi").count(),
            4,
            "IPI 1 is outside, 3 over the cap"
        );
        assert_eq!(t.dropped(), 4);
        assert_eq!(v["otherData"]["truncated"], true);
        assert_eq!(v["otherData"]["window_start_cycles"], 1000);
        assert_eq!(v["otherData"]["window_end_cycles"], 5000);
        let c: Vec<_> = evs.iter().filter(|e| e["ph"] == "C").collect();
        assert_eq!(c.len(), 1, "the value before the window is carried in");
        assert_eq!(c[0]["ts"], 0.5);
    }
}
