//! The memory estimate of `--max-memory` against the peak resident set
//! (`VmHWM`) of real runs, on cases each dominated by one large part: it
//! must be within a factor of 2 either way. And a run over the limit is
//! refused before it starts, naming the estimate and the limit.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The peak resident set of `tlbsim ARGS`, bytes, read from
/// /proc/PID/status while it runs (VmHWM only grows, so the last reading is
/// the peak up to a few milliseconds before exit).
fn peak_rss(args: &[String]) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlbsim"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{args:?} ran over 120 s");
        if let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb * 1024);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(peak > 0, "no VmHWM read for {args:?}");
    peak
}

#[test]
fn the_estimate_is_within_a_factor_of_2_of_the_measured_peak() {
    if !std::path::Path::new("/proc/self/status").exists() {
        panic!("needs Linux's /proc to measure resident memory");
    }
    let cases: [&[&str]; 6] = [
        &[],
        &["machine.cpus=4096", "background.enabled=false"],
        &[
            "machine.cpus=64",
            "machine.tlb.l2.entries=65536",
            "machine.tlb.l2.ways=16",
        ],
        &[
            "machine.cpus=128",
            "machine.tlb.l1.entries=65536",
            "machine.tlb.l1.ways=4",
        ],
        &["guests.0.queue_depth=65536", "guests.0.buffer_pages=70000"],
        &["background.working_set_pages=16777216"],
    ];
    let mut report = Vec::new();
    for sets in cases {
        let mut all: Vec<String> = vec!["stop.max_cycles=5000000".into()];
        all.extend(sets.iter().map(ToString::to_string));
        all.push("policies=[\"global\"]".into());
        let sc = scenarios::load("default", &all).unwrap();
        let estimate = sc.config.memory_estimate().total_bytes() + machine::PROCESS_BYTES;
        let mut args: Vec<String> =
            vec!["run".into(), "default".into(), "--jobs".into(), "1".into()];
        for s in &all {
            args.push("--set".into());
            args.push(s.clone());
        }
        let measured = peak_rss(&args);
        report.push(format!(
            "{sets:?}: estimate {estimate} B, measured {measured} B"
        ));
        assert!(
            estimate <= 2 * measured && measured <= 2 * estimate,
            "{}",
            report.join("\n")
        );
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn a_run_over_the_limit_is_refused_before_it_starts() {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tlbsim"))
        .args([
            "run",
            "default",
            "--set",
            "machine.cpus=4096",
            "--max-memory",
            "100MiB",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("exceeds --max-memory 100.0 MiB"), "{err}");
    assert!(err.contains("TLBs"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "it ran first");
    // The same run under a limit it fits is not refused by the estimate.
    let ok = Command::new(env!("CARGO_BIN_EXE_tlbsim"))
        .args([
            "run",
            "default",
            "--set",
            "machine.cpus=4096",
            "--set",
            "stop.max_cycles=1000000",
            "--set",
            "background.enabled=false",
            "--max-memory",
            "4GiB",
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
