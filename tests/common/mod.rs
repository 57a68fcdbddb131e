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
