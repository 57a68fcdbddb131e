//! Helpers shared by the integration tests that drive the `tlbsim` binary.

use std::process::{Command, Output};

/// Runs the built `tlbsim` binary with `args` and collects its output.
pub fn tlbsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlbsim"))
        .args(args)
        .output()
        .expect("tlbsim runs")
}

/// Process output as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The runs of `tlbsim run ARGS --json` (it must succeed), each with
/// `fields(run)` picked out.
#[allow(
    dead_code,
    reason = "not every test crate that shares this module uses it"
)]
pub fn runs_of<T>(args: &[&str], fields: impl Fn(&serde_json::Value) -> T) -> Vec<T> {
    let mut a = vec!["run"];
    a.extend(args);
    a.push("--json");
    let out = tlbsim(&a);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    v["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(fields)
        .collect()
}
