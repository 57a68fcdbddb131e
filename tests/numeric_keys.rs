//! Every numeric key of the scenario format, at extreme values: each is
//! either refused with a located `--set: KEY: MESSAGE` error or runs to its
//! end within a bounded simulated budget, printing no `inf` or `NaN`, and
//! never panics or hangs. The keys are not listed here: they are read from
//! `tlbsim scenarios --show` of every bundled scenario, so a key added to the
//! format is walked as soon as a bundled scenario resolves it. Each key must
//! also have a row in docs/scenario-keys.md, where its range is documented.
//!
//! One trial per key (libtest-mimic), so nextest runs them in parallel.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tlbsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tlbsim"))
}

fn stdout_of(args: &[&str]) -> String {
    let out = tlbsim().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A numeric leaf: its dotted key, and whether it is a float.
fn leaves(prefix: &str, v: &toml::Value, out: &mut Vec<(String, bool)>) {
    match v {
        toml::Value::Integer(_) => out.push((prefix.to_string(), false)),
        toml::Value::Float(_) => out.push((prefix.to_string(), true)),
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&key, v, out);
            }
        }
        // Arrays of tables (guests): by index. Arrays of numbers (a size
        // distribution's values) are set whole and checked by its own tests.
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                if v.is_table() {
                    leaves(&format!("{prefix}.{i}"), v, out);
                }
            }
        }
        _ => {}
    }
}

/// One case to walk: a scenario, a numeric key of it, and its kind.
#[derive(Clone, Debug)]
struct Case {
    scenario: String,
    key: String,
    float: bool,
    /// `--set`s before the walked one (a policy's parameters are read only
    /// when it runs).
    extra: Vec<String>,
}

/// Every numeric key of the bundled scenarios, once per key and guest
/// pattern (a trace guest's keys differ in meaning from a closed one's).
fn cases() -> Vec<Case> {
    let list = stdout_of(&["scenarios"]);
    let mut seen = BTreeMap::new();
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let text = stdout_of(&["scenarios", "--show", name]);
        let v: toml::Value = toml::from_str(&text).unwrap();
        let mut out = Vec::new();
        leaves("", &v, &mut out);
        for (key, float) in out {
            // `guests.N.k` is walked once per pattern, on the first guest
            // of that pattern.
            let parts: Vec<&str> = key.split('.').collect();
            let id = if parts[0] == "guests" {
                let g = &v["guests"][parts[1].parse::<usize>().unwrap()];
                format!(
                    "guests.{}.{}",
                    g["pattern"].as_str().unwrap(),
                    parts[2..].join(".")
                )
            } else {
                key.clone()
            };
            seen.entry(id).or_insert(Case {
                scenario: name.to_string(),
                key,
                float,
                extra: Vec::new(),
            });
        }
    }
    // Every numeric parameter of every policy, as `tlbsim policies` lists
    // them (`policy.NAME.PARAM = DEFAULT (a whole number within ..)`), on
    // the default scenario running that policy alone.
    for line in stdout_of(&["policies"]).lines() {
        let Some((key, rest)) = line.trim().split_once(" = ") else {
            continue;
        };
        if !key.starts_with("policy.") || !rest.contains("(a whole number") {
            continue;
        }
        let policy = key.split('.').nth(1).unwrap();
        seen.entry(key.to_string()).or_insert(Case {
            scenario: "default".to_string(),
            key: key.to_string(),
            float: false,
            extra: vec![format!("policies=[\"{policy}\"]")],
        });
    }
    seen.into_values().collect()
}

/// Extreme values: zero, small, the type's edges, huge, negative; for
/// floats also NaN, infinities and the smallest subnormal.
fn values(float: bool) -> &'static [&'static str] {
    if float {
        &[
            "0.0", "-1.0", "5e-324", "1e300", "-1e300", "nan", "inf", "-inf",
        ]
    } else {
        &["0", "-1", "4294967295", "4294967296", "9223372036854775807"]
    }
}

/// Simulated budget of each run: 2 x 10^7 cycles (8 ms at 2.5 GHz) after a
/// short warm-up; the walked key's own `--set` comes last, so it wins.
const BUDGET: [&str; 4] = [
    "--set",
    "stop.max_cycles=20000000",
    "--set",
    "stop.warmup_ios=100",
];
/// Wall-clock bound of one run: far above what the budget takes.
const WALL: Duration = Duration::from_secs(60);

fn check(case: &Case, value: &str) -> Result<(), String> {
    let set = format!("{}={value}", case.key);
    let mut child = tlbsim()
        .args(["run", &case.scenario, "--jobs", "1"])
        .args(BUDGET)
        .args(case.extra.iter().flat_map(|e| ["--set", e.as_str()]))
        .args(["--set", &set])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > WALL {
            child.kill().unwrap();
            let _ = child.wait();
            return Err(format!("{set}: no answer within {WALL:?} (hang)"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if stderr.contains("panicked") {
        return Err(format!("{set}: panicked:\n{stderr}"));
    }
    match out.status.code() {
        Some(0) => {
            let bad = stdout
                .split(|c: char| !c.is_ascii_alphanumeric())
                .find(|w| w.eq_ignore_ascii_case("inf") || w.eq_ignore_ascii_case("nan"));
            match bad {
                Some(w) => Err(format!(
                    "{set}: accepted, and the table prints `{w}`:\n{stdout}"
                )),
                None => Ok(()),
            }
        }
        Some(1) => {
            // At the key, or at the table it belongs to when the rule is
            // about several of its keys (a TLB's entries and ways, a size
            // range's min and max).
            let parts: Vec<&str> = case.key.split('.').collect();
            let located = (1..=parts.len())
                .rev()
                .map(|n| format!("--set: {}: ", parts[..n].join(".")))
                .any(|l| stderr.contains(&l));
            if located {
                Ok(())
            } else {
                Err(format!(
                    "{set}: an error not located as `--set: {}: MESSAGE` (or at a table above it):\n{stderr}",
                    case.key
                ))
            }
        }
        other => Err(format!("{set}: exit {other:?}:\n{stderr}")),
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/scenario-keys.md"
    ))
    .unwrap_or_default();
    let trials = cases()
        .into_iter()
        .map(|case| {
            let name = format!("{} [{}]", case.key, case.scenario);
            let docs = docs.clone();
            libtest_mimic::Trial::test(name, move || {
                let doc_key = doc_key(&case.key);
                let mut failures: Vec<String> = values(case.float)
                    .iter()
                    .filter_map(|v| check(&case, v).err())
                    .collect();
                if !docs.contains(&format!("| `{doc_key}` |")) {
                    failures.push(format!(
                        "`{doc_key}` has no row `| `{doc_key}` | RANGE | ... |` in docs/scenario-keys.md"
                    ));
                }
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err(failures.join("\n").into())
                }
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// The key as docs/scenario-keys.md names it: guests by `N`.
fn doc_key(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    if parts[0] == "guests" {
        format!("guests.N.{}", parts[2..].join("."))
    } else if parts.len() == 4 && parts[..2] == ["variability", "costs"] {
        // One row per distribution parameter, whichever cost it varies.
        format!("variability.costs.COST.{}", parts[3])
    } else {
        key.to_string()
    }
}
