//! The README's numbers are what the binary prints: its block of
//! `tlbsim run default` output must equal a fresh run's terminal table,
//! line for line.

mod common;

use common::{text, tlbsim};

#[test]
fn the_readme_shows_what_tlbsim_run_default_prints() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("```text\nscenario default (seed 1")
        .expect("README has the default run's output block")
        + "```text\n".len();
    let end = start + readme[start..].find("```").expect("the block ends");
    let want = &readme[start..end];
    let out = tlbsim(&["run", "default"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    if got != want {
        let diff = similar::TextDiff::from_lines(want, got.as_str());
        panic!(
            "README.md's default output is stale; update it from `tlbsim run default`:\n{}",
            diff.unified_diff()
                .header("README.md", "tlbsim run default")
        );
    }
}
