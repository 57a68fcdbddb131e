//! Trace requests are I/Os: replayed whole by default (the trace's largest
//! request sizes the mapping area, whatever `size_bytes` says), split into
//! pieces only when `guests.N.split` asks, and a split request still counts
//! as one I/O.

use std::path::{Path, PathBuf};
mod common;
use common::{runs_of, text, tlbsim};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The sizes of a trace's requests, read with the traces crate.
fn sizes(path: &Path, format: &str) -> Vec<u64> {
    let mut r = traces::TraceReader::open(path, format.parse().unwrap(), None).unwrap();
    std::iter::from_fn(|| r.next_record())
        .map(|rec| rec.unwrap().size)
        .collect()
}

/// A scenario replaying `trace` with no `size_bytes` (the 4 KiB default),
/// plus `extra` lines in its guest.
fn scenario(dir: &Path, trace: &Path, format: &str, extra: &str) -> PathBuf {
    let p = dir.join(format!("{format}.toml"));
    std::fs::write(
        &p,
        format!(
            "extends = \"fio-replay\"\npolicies = [\"global\", \"percpu\", \"percpu-unsafe\"]\n[[guests]]\npattern = \"trace\"\ntrace = \"{}\"\ntrace_format = \"{format}\"\n{extra}\n",
            trace.display()
        ),
    )
    .unwrap();
    p
}

/// `(policy, io.completed, io.pieces, shootdowns)` of each run.
fn runs(scenario: &Path) -> Vec<(String, u64, u64, u64)> {
    runs_of(&[scenario.to_str().unwrap()], |r| {
        (
            r["policy"].as_str().unwrap().to_string(),
            r["io"]["completed"].as_u64().unwrap(),
            r["io"]["pieces"].as_u64().unwrap(),
            r["shootdowns"].as_u64().unwrap(),
        )
    })
}

const TRACES: [(&str, &str); 3] = [
    ("traces/fio-randrw.iolog", "fio"),
    ("tests/golden/traces/fio-head.tlbsim.csv", "tlbsim"),
    ("tests/golden/traces/synthetic.blkparse", "blkparse"),
];

#[test]
fn without_size_bytes_each_trace_request_is_one_io_under_every_policy() {
    let dir = tempfile::tempdir().unwrap();
    for (file, format) in TRACES {
        let path = repo(file);
        let n = sizes(&path, format).len() as u64;
        assert!(
            sizes(&path, format).iter().any(|&s| s > 4096),
            "{file}: requests larger than the 4 KiB default"
        );
        let runs = runs(&scenario(dir.path(), &path, format, ""));
        assert_eq!(runs.len(), 3);
        for (policy, completed, pieces, shootdowns) in runs {
            assert_eq!(completed, n, "{file} under {policy}");
            assert_eq!(pieces, n, "{file} under {policy}: nothing split");
            if policy == "global" {
                assert_eq!(shootdowns, n, "{file}: one shootdown per request");
            }
        }
    }
}

#[test]
fn a_split_request_is_one_io_of_several_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let (file, format) = TRACES[0];
    let path = repo(file);
    let sizes = sizes(&path, format);
    for (split, piece) in [("\"blkif\"", 11 * 4096), ("16384", 16_384)] {
        let want: u64 = sizes.iter().map(|s| s.div_ceil(piece)).sum();
        assert!(want > sizes.len() as u64, "some requests are split");
        let sc = scenario(dir.path(), &path, format, &format!("split = {split}"));
        for (policy, completed, pieces, shootdowns) in runs(&sc) {
            assert_eq!(completed, sizes.len() as u64, "{split} {policy}");
            assert_eq!(pieces, want, "{split} {policy}");
            if policy == "global" {
                assert_eq!(shootdowns, want, "one shootdown per piece");
            }
        }
    }
}

#[test]
fn a_declared_largest_request_too_small_for_the_trace_is_a_run_error() {
    let dir = tempfile::tempdir().unwrap();
    let (file, format) = TRACES[0];
    let sc = scenario(dir.path(), &repo(file), format, "max_request_bytes = 4096");
    let out = tlbsim(&["run", sc.to_str().unwrap(), "--policies", "global"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("does not fit the mapping area of 1 pages"),
        "{err}"
    );
}

#[test]
fn percpu_slots_must_hold_the_traces_largest_request_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let (file, format) = TRACES[0];
    let sc = scenario(dir.path(), &repo(file), format, "");
    let out = tlbsim(&[
        "run",
        sc.to_str().unwrap(),
        "--set",
        "policy.percpu.slots_per_cpu=8",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let largest = sizes(&repo(file), format).into_iter().max().unwrap();
    assert!(
        err.contains(&format!(
            "policy.percpu.slots_per_cpu: must hold the largest request ({} pages), got 8",
            largest.div_ceil(4096)
        )),
        "{err}"
    );
}

#[test]
fn split_on_a_synthetic_guest_is_a_located_error() {
    let out = tlbsim(&["run", "default", "--set", "guests.0.split=\"blkif\""]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--set: guests.0.split: applies to trace guests only"),
        "{err}"
    );
    let out = tlbsim(&["run", "default", "--set", "guests.0.split=\"sideways\""]);
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "guests.0.split: must be \"none\", \"blkif\", \"blkif-indirect\" or a number of bytes"
        ),
        "{err}"
    );
}
