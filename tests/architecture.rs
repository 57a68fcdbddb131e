//! The architecture invariants that a test can check (ARCHITECTURE.md):
//! dependencies between the workspace's crates run one way only, the core
//! crates stay free of the CLI, file formats and reporting, and the machine
//! never names a policy.

use std::collections::BTreeSet;
use std::path::Path;

/// Each workspace crate and the workspace crates its `[dependencies]` may
/// name (dev-dependencies may reach further, for tests).
const LAYERS: &[(&str, &[&str])] = &[
    ("sim-core", &[]),
    ("mmu", &[]),
    ("cpu-model", &[]),
    ("hypervisor", &["mmu", "cpu-model"]),
    ("workloads", &["sim-core"]),
    (
        "machine",
        &["sim-core", "mmu", "cpu-model", "hypervisor", "workloads"],
    ),
    ("traces", &["workloads", "mmu"]),
    (
        "scenarios",
        &[
            "machine",
            "hypervisor",
            "workloads",
            "traces",
            "cpu-model",
            "mmu",
            "sim-core",
        ],
    ),
    (
        "reports",
        &[
            "machine",
            "hypervisor",
            "cpu-model",
            "mmu",
            "sim-core",
            "workloads",
        ],
    ),
    (
        "sweeps",
        &[
            "scenarios",
            "reports",
            "machine",
            "hypervisor",
            "cpu-model",
            "mmu",
            "sim-core",
            "workloads",
            "traces",
        ],
    ),
    // The Python package's extension module (PyO3): an edge, like the CLI.
    (
        "python",
        &["scenarios", "reports", "sweeps", "machine", "hypervisor"],
    ),
];

/// The model's crates: plain Rust, no CLI, no file formats (not even serde
/// derives: `scenarios` owns the input format, `reports` the output), no
/// reporting.
const CORE: &[&str] = &[
    "sim-core",
    "mmu",
    "cpu-model",
    "hypervisor",
    "workloads",
    "machine",
];

/// External crates the core crates must not depend on (the edges' business).
const NOT_IN_CORE: &[&str] = &[
    "clap",
    "anyhow",
    "indicatif",
    "toml",
    "serde_json",
    "csv",
    "plotters",
    "rayon",
    "sha2",
    "serde",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The names in a manifest's `[dependencies]`.
fn dependencies(krate: &str) -> BTreeSet<String> {
    let path = root().join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_workspace_member_has_a_layer() {
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members: BTreeSet<&str> = manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(toml::Value::as_str)
        .collect();
    let layered: BTreeSet<&str> = LAYERS.iter().map(|(k, _)| *k).collect();
    assert_eq!(members, layered, "a new crate needs its line in LAYERS");
}

#[test]
fn workspace_dependencies_run_one_way() {
    let members: BTreeSet<&str> = LAYERS.iter().map(|(k, _)| *k).collect();
    let wrong = edges_where(LAYERS.iter().copied(), |allowed, dep| {
        members.contains(dep) && !allowed.contains(&dep)
    });
    assert!(
        wrong.is_empty(),
        "dependencies against the layering: {wrong:?}"
    );
}

#[test]
fn core_crates_stay_free_of_the_edges() {
    let wrong = edges_where(CORE.iter().map(|k| (*k, &[][..])), |_, dep| {
        NOT_IN_CORE.contains(&dep)
    });
    assert!(
        wrong.is_empty(),
        "core crates depending on edge crates: {wrong:?}"
    );
}

/// Every `krate -> dep` of `crates`' `[dependencies]` that `bad` flags
/// (given the crate's allowed list and the dependency's name).
fn edges_where<'a>(
    crates: impl Iterator<Item = (&'a str, &'a [&'a str])>,
    bad: impl Fn(&[&str], &str) -> bool,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (krate, allowed) in crates {
        for dep in dependencies(krate) {
            if bad(allowed, &dep) {
                wrong.push(format!("{krate} -> {dep}"));
            }
        }
    }
    wrong
}

#[test]
fn only_the_binary_uses_anyhow() {
    for (krate, _) in LAYERS {
        assert!(
            !dependencies(krate).contains("anyhow"),
            "{krate} uses anyhow; libraries return their own error enums"
        );
    }
}

/// The machine carries out plans; it never asks which policy it runs, so
/// no policy's name and no list of policy kinds appears in its source.
#[test]
fn the_machine_names_no_policy() {
    let names: Vec<String> = hypervisor::Registry::builtin()
        .iter()
        .map(|p| format!("\"{}\"", p.name))
        .collect();
    let mut wrong = Vec::new();
    for (path, i, code) in machine_code_lines() {
        for n in &names {
            if code.contains(n.as_str()) {
                wrong.push(format!("{}:{}: {n}", path.display(), i + 1));
            }
        }
        for kind in ["PolicyKind", "GlobalFlush", "PerCpuSlots"] {
            if code.contains(kind) {
                wrong.push(format!("{}:{}: {kind}", path.display(), i + 1));
            }
        }
    }
    assert!(wrong.is_empty(), "the machine names policies: {wrong:?}");
}

/// Every full flush of a CPU goes through `Cpu::flush_all` (machine's
/// `sim/cpu.rs`), which also restarts the background's refill curve: a
/// `tlb.flush_all()` anywhere else in the machine would leave the curve
/// model's background warm after a flush that emptied its TLB.
#[test]
fn every_full_flush_goes_through_cpu_flush_all() {
    let mut wrong = Vec::new();
    let mut calls = 0;
    for (path, i, code) in machine_code_lines() {
        if code.contains("tlb.flush_all()") {
            if path.ends_with("sim/cpu.rs") {
                calls += 1;
            } else {
                wrong.push(format!("{}:{}", path.display(), i + 1));
            }
        }
    }
    assert_eq!(calls, 1, "Cpu::flush_all flushes the TLB once");
    assert!(
        wrong.is_empty(),
        "full flushes outside Cpu::flush_all: {wrong:?}"
    );
}

/// Every line of the machine crate's sources, as (file, line index, the
/// line's code before any `//` comment).
fn machine_code_lines() -> Vec<(std::path::PathBuf, usize, String)> {
    code_lines("machine/src")
}

/// Every line of code (comments cut off) of the Rust files under `dir`
/// (relative to the workspace root), with its file and index.
fn code_lines(dir: &str) -> Vec<(std::path::PathBuf, usize, String)> {
    let mut lines = Vec::new();
    let mut stack = vec![root().join(dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("").to_string();
                lines.push((path.clone(), i, code));
            }
        }
    }
    lines
}

/// The simulation crates take `ln`, `exp`, `cos` and the like from
/// `sim_core::math` (pure Rust, the same bits on every platform), never
/// from `f64`'s methods, which call the platform's C library (its last
/// bits differ between libraries). Unit tests, at the end of a file after
/// `#[cfg(test)]`, may use either.
#[test]
fn simulation_code_takes_transcendentals_from_sim_core_math() {
    const PLATFORM: [&str; 12] = [
        ".ln()",
        ".exp()",
        ".cos()",
        ".sin()",
        ".tan()",
        ".powf(",
        ".log2()",
        ".log10()",
        ".ln_1p()",
        ".exp_m1()",
        ".cbrt()",
        ".hypot(",
    ];
    let mut wrong = Vec::new();
    let mut uses = 0;
    for dir in [
        "sim-core/src",
        "mmu/src",
        "cpu-model/src",
        "hypervisor/src",
        "workloads/src",
        "machine/src",
    ] {
        let mut in_tests = std::collections::BTreeSet::new();
        for (path, _, code) in code_lines(dir) {
            if in_tests.contains(&path) {
                continue;
            }
            if code.contains("#[cfg(test)]") {
                in_tests.insert(path);
                continue;
            }
            uses += usize::from(code.contains("math::"));
            for f in PLATFORM {
                if code.contains(f) {
                    wrong.push(format!("{}: {}", path.display(), code.trim()));
                }
            }
        }
    }
    assert!(
        uses > 0,
        "the check sees the simulation's uses of sim_core::math"
    );
    assert!(
        wrong.is_empty(),
        "platform libm calls in simulation code (use sim_core::math): {wrong:#?}"
    );
}
