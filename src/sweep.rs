//! `tlbsim sweep` and `tlbsim merge`: a grid of scenario points x policies
//! x seeds, run in parallel, resumable, shardable.
//!
//! Layout of an output directory:
//!
//! - `plan.json`: the sweep fully resolved (base scenario TOML, axes,
//!   policies, seeds, and every simulation with its scenario hash). Written
//!   first; `merge` checks that shards agree on it.
//! - `points/HASH.json`: one finished simulation, written atomically as soon
//!   as it finishes. `HASH` is the hash of the simulation's fully resolved
//!   scenario: the base, the `set` overrides, the point's axis values, the
//!   seed, and `policies = [POLICY]`. A re-run skips every simulation whose
//!   point file exists (and was written by this tlbsim version).
//! - `sweep.csv`, `sweep.json`, `plots/`, `report.html`: assembled from the
//!   point files once every simulation of the plan is done, in plan order,
//!   so they do not depend on `--jobs`, on completion order, on sharding or
//!   on how many times the sweep was interrupted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use reports::{Metric, SweepAxis, SweepRow};
use scenarios::Scenario;
use serde_json::{json, Value};

use crate::simulate::simulate;
use crate::VERSION;

/// A sweep shipped with tlbsim (`experiments/NAME.toml`).
struct Experiment {
    name: &'static str,
    text: &'static str,
}

const EXPERIMENTS: [Experiment; 4] = [
    Experiment {
        name: "scaling",
        text: include_str!("../experiments/scaling.toml"),
    },
    Experiment {
        name: "io-size",
        text: include_str!("../experiments/io-size.toml"),
    },
    Experiment {
        name: "migration",
        text: include_str!("../experiments/migration.toml"),
    },
    Experiment {
        name: "ipi-cost",
        text: include_str!("../experiments/ipi-cost.toml"),
    },
];

/// Metrics of the headline figure when the sweep file names none.
const DEFAULT_FIGURE: [&str; 3] = ["ipis_per_io", "iops", "latency_p99"];

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// A bundled experiment (scaling, io-size, migration, ipi-cost) or a
    /// path to a sweep .toml file.
    pub sweep: String,
    /// Simulations run in parallel (0: one per core). Results do not
    /// depend on it.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub jobs: usize,
    /// Run only the I-th of N disjoint slices of the simulations (1-based),
    /// for cluster job arrays; join the shards with `tlbsim merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Override a key of the base scenario (after the sweep file's `set`).
    /// Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Output directory (created; finished points in it are reused).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Output directories of the shards of one sweep.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the joined sweep (may be one of the shard
    /// directories).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

// ---------------------------------------------------------------------------
// The sweep file.

/// An axis as written.
struct AxisSpec {
    name: String,
    keys: Vec<String>,
    label: String,
    values: Vec<toml::Value>,
}

/// A parsed sweep file.
struct SweepSpec {
    name: String,
    description: String,
    /// The base scenario: a bundled name or a path (already made relative
    /// to the current directory).
    base: String,
    axes: Vec<AxisSpec>,
    policies: Option<Vec<String>>,
    seeds: Option<Vec<u64>>,
    replications: Option<u64>,
    set: Vec<String>,
    figure: Option<Vec<String>>,
}

/// Dotted key -> 1-based line, and top-level `axes` keys in file order.
fn key_lines(text: &str) -> (BTreeMap<String, usize>, Vec<String>) {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line = |off: usize| starts.partition_point(|&s| s <= off).max(1);
    let mut lines = BTreeMap::new();
    let mut axis_order = Vec::new();
    let Ok(doc) = toml::de::DeTable::parse(text) else {
        return (lines, axis_order);
    };
    fn walk(
        v: &toml::de::DeValue<'_>,
        path: &str,
        line: &dyn Fn(usize) -> usize,
        lines: &mut BTreeMap<String, usize>,
    ) {
        match v {
            toml::de::DeValue::Table(t) => {
                for (k, v) in t {
                    let p = format!("{path}.{}", k.get_ref());
                    lines.entry(p.clone()).or_insert(line(k.span().start));
                    walk(v.get_ref(), &p, line, lines);
                }
            }
            toml::de::DeValue::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    let p = format!("{path}.{i}");
                    lines.entry(p.clone()).or_insert(line(e.span().start));
                    walk(e.get_ref(), &p, line, lines);
                }
            }
            _ => {}
        }
    }
    for (k, v) in doc.get_ref() {
        let key = k.get_ref().to_string();
        lines.entry(key.clone()).or_insert(line(k.span().start));
        if key == "axes" {
            if let toml::de::DeValue::Table(t) = v.get_ref() {
                let mut keys: Vec<_> = t
                    .iter()
                    .map(|(k, _)| (k.span().start, k.get_ref().to_string()))
                    .collect();
                keys.sort();
                axis_order = keys.into_iter().map(|(_, k)| k).collect();
            }
        }
        walk(v.get_ref(), &key, &line, &mut lines);
    }
    (lines, axis_order)
}

/// Collects located problems: `FILE:LINE: KEY: MESSAGE`.
struct Problems<'a> {
    file: &'a str,
    lines: BTreeMap<String, usize>,
    list: Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, key: &str, msg: impl std::fmt::Display) {
        let mut k = key;
        let line = loop {
            if let Some(l) = self.lines.get(k) {
                break Some(*l);
            }
            match k.rfind('.') {
                Some(i) => k = &k[..i],
                None => break None,
            }
        };
        let loc = line.map_or_else(|| self.file.to_string(), |l| format!("{}:{l}", self.file));
        if key.is_empty() {
            self.list.push(format!("{loc}: {msg}"));
        } else {
            self.list.push(format!("{loc}: {key}: {msg}"));
        }
    }
}

/// Flattens a `[set]` table into `KEY=VALUE` overrides with dotted keys.
fn flatten_set(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(sub) => flatten_set(&key, sub, out),
            other => out.push(format!("{key}={other}")),
        }
    }
}

fn string_list(v: &toml::Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|e| e.as_str().map(str::to_string))
        .collect()
}

fn parse_axis_values(key: &str, v: &toml::Value, p: &mut Problems<'_>) -> Vec<toml::Value> {
    let Some(a) = v.as_array() else {
        p.add(key, "must be a list of values, e.g. [2, 4, 8]");
        return Vec::new();
    };
    if a.is_empty() {
        p.add(key, "needs at least one value");
    }
    let mut seen = BTreeSet::new();
    for e in a {
        if !seen.insert(e.to_string()) {
            p.add(key, format!("value {e} appears twice"));
        }
    }
    a.clone()
}

/// Parses a sweep file's text. `dir` is the directory a relative `base`
/// path is resolved against (`None` for bundled experiments).
fn parse_spec(name: &str, file: &str, text: &str, dir: Option<&Path>) -> Result<SweepSpec> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map_or((1, 1), |s| {
            let before = &text[..s.start.min(text.len())];
            (
                before.matches('\n').count() + 1,
                before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            )
        });
        anyhow!("{file}:{line}:{col}: syntax error: {}", e.message().trim())
    })?;
    let (lines, axis_order) = key_lines(text);
    let mut p = Problems {
        file,
        lines,
        list: Vec::new(),
    };
    let mut spec = SweepSpec {
        name: name.to_string(),
        description: String::new(),
        base: String::new(),
        axes: Vec::new(),
        policies: None,
        seeds: None,
        replications: None,
        set: Vec::new(),
        figure: None,
    };
    for (key, v) in &table {
        match key.as_str() {
            "description" => match v.as_str() {
                Some(s) => spec.description = s.trim().to_string(),
                None => p.add(key, "must be a string"),
            },
            "base" => match v.as_str() {
                Some(s) => {
                    spec.base = match dir {
                        Some(d)
                            if scenarios::looks_like_path(s) || d.join(s).is_file() =>
                        {
                            d.join(s).display().to_string()
                        }
                        _ => s.to_string(),
                    };
                }
                None => p.add(key, "must be a string: a bundled scenario name or a path relative to the sweep file"),
            },
            "policies" => match string_list(v) {
                Some(l) if !l.is_empty() => {
                    for (i, s) in l.iter().enumerate() {
                        if let Err(e) = hypervisor::Registry::builtin().lookup(s) {
                            p.add(&format!("policies.{i}"), e.to_string());
                        }
                    }
                    spec.policies = Some(l);
                }
                _ => p.add(key, "must be a non-empty list of policy names"),
            },
            "seeds" => {
                let l: Option<Vec<u64>> = v.as_array().and_then(|a| {
                    a.iter()
                        .map(|e| e.as_integer().and_then(|i| u64::try_from(i).ok()))
                        .collect()
                });
                match l {
                    Some(l) if !l.is_empty() => {
                        if l.iter().collect::<BTreeSet<_>>().len() != l.len() {
                            p.add(key, "a seed appears twice");
                        }
                        spec.seeds = Some(l);
                    }
                    _ => p.add(key, "must be a non-empty list of non-negative integers"),
                }
            }
            "replications" => match v.as_integer().and_then(|i| u64::try_from(i).ok()) {
                Some(n) if n >= 1 => spec.replications = Some(n),
                _ => p.add(key, "must be a positive integer"),
            },
            "set" => match v {
                toml::Value::Table(t) => flatten_set("", t, &mut spec.set),
                toml::Value::Array(_) => match string_list(v) {
                    Some(l) => spec.set = l,
                    None => p.add(key, "must be a table of keys or a list of \"KEY=VALUE\" strings"),
                },
                _ => p.add(key, "must be a table of keys or a list of \"KEY=VALUE\" strings"),
            },
            "figure" => match string_list(v) {
                Some(l) if !l.is_empty() => spec.figure = Some(l),
                _ => p.add(key, "must be a non-empty list of metric names (columns of sweep.csv)"),
            },
            "axes" => match v {
                toml::Value::Table(t) => {
                    for k in &axis_order {
                        let Some(vals) = t.get(k) else { continue };
                        let path = format!("axes.{k}");
                        let values = parse_axis_values(&path, vals, &mut p);
                        spec.axes.push(AxisSpec {
                            name: k.clone(),
                            keys: vec![k.clone()],
                            label: k.clone(),
                            values,
                        });
                    }
                }
                toml::Value::Array(a) => {
                    for (i, e) in a.iter().enumerate() {
                        let path = format!("axes.{i}");
                        let Some(t) = e.as_table() else {
                            p.add(&path, "must be a table: { key = \"machine.cpus\", values = [...] }");
                            continue;
                        };
                        let mut keys = Vec::new();
                        let mut values = Vec::new();
                        let mut label = None;
                        let mut name = None;
                        for (k, v) in t {
                            let kp = format!("{path}.{k}");
                            match k.as_str() {
                                "key" => match v.as_str() {
                                    Some(s) => keys.push(s.to_string()),
                                    None => p.add(&kp, "must be a dotted scenario key"),
                                },
                                "keys" => match string_list(v) {
                                    Some(l) if !l.is_empty() => keys.extend(l),
                                    _ => p.add(&kp, "must be a non-empty list of dotted scenario keys"),
                                },
                                "values" => values = parse_axis_values(&kp, v, &mut p),
                                "label" => label = v.as_str().map(str::to_string),
                                "name" => name = v.as_str().map(str::to_string),
                                _ => p.add(&kp, "unknown key (allowed: key, keys, values, label, name)"),
                            }
                        }
                        if keys.is_empty() {
                            p.add(&path, "needs `key` (or `keys`)");
                        }
                        if values.is_empty() && !t.contains_key("values") {
                            p.add(&path, "needs `values`");
                        }
                        let name = name.unwrap_or_else(|| keys.join("+"));
                        spec.axes.push(AxisSpec {
                            label: label.unwrap_or_else(|| name.clone()),
                            name,
                            keys,
                            values,
                        });
                    }
                }
                _ => p.add(key, "must be a table (`[axes]`) or a list of tables (`[[axes]]`)"),
            },
            _ => p.add(
                key,
                "unknown key (allowed: description, base, axes, policies, seeds, replications, set, figure)",
            ),
        }
    }
    if spec.base.is_empty() && !table.contains_key("base") {
        p.add("", "missing `base` (the scenario the sweep varies)");
    }
    if spec.axes.is_empty() && !table.contains_key("axes") {
        p.add("", "missing `axes`");
    }
    if spec.seeds.is_some() && spec.replications.is_some() {
        p.add(
            "replications",
            "give either `seeds` or `replications`, not both",
        );
    }
    let mut names = BTreeSet::new();
    for a in &spec.axes {
        if !names.insert(a.name.clone()) {
            p.add("axes", format!("axis `{}` appears twice", a.name));
        }
    }
    if !p.list.is_empty() {
        p.list.sort_by_key(|s| {
            let mut it = s.splitn(3, ':');
            let _ = it.next();
            it.next().and_then(|l| l.parse::<usize>().ok()).unwrap_or(0)
        });
        bail!("{}", p.list.join("\n"));
    }
    Ok(spec)
}

/// Loads a bundled experiment by name or a sweep file by path.
fn load_spec(name_or_path: &str) -> Result<SweepSpec> {
    if !scenarios::looks_like_path(name_or_path) && !Path::new(name_or_path).is_file() {
        let e = EXPERIMENTS
            .iter()
            .find(|e| e.name == name_or_path)
            .ok_or_else(|| {
                anyhow!(
                    "unknown sweep `{name_or_path}`: no such file and no bundled experiment of that name (bundled: {})",
                    EXPERIMENTS.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
                )
            })?;
        return parse_spec(
            e.name,
            &format!("experiments/{}.toml", e.name),
            e.text,
            None,
        );
    }
    let path = Path::new(name_or_path);
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read sweep file {}", path.display()))?;
    let name = path.file_stem().map_or_else(
        || name_or_path.to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    parse_spec(
        &name,
        name_or_path,
        &text,
        Some(path.parent().unwrap_or(Path::new(""))),
    )
}

// ---------------------------------------------------------------------------
// The plan: every simulation of the sweep.

/// One simulation: a grid point, a policy, a seed.
#[derive(Clone, Debug, PartialEq)]
struct Job {
    point: usize,
    axis_values: Vec<Value>,
    policy: String,
    seed: u64,
    hash: String,
}

/// The sweep fully resolved; what `plan.json` holds.
#[derive(Clone, Debug, PartialEq)]
struct Plan {
    name: String,
    description: String,
    base_name: String,
    base_hash: String,
    base_toml: String,
    axes: Vec<SweepAxis>,
    policies: Vec<String>,
    seeds: Vec<u64>,
    figure: Vec<String>,
    jobs: Vec<Job>,
}

impl Plan {
    fn to_json(&self) -> String {
        let jobs: Vec<Value> = self
            .jobs
            .iter()
            .map(|j| json!({"point": j.point, "axes": j.axis_values, "policy": j.policy, "seed": j.seed, "hash": j.hash}))
            .collect();
        let axes: Vec<Value> = self
            .axes
            .iter()
            .map(|a| json!({"name": a.name, "keys": a.keys, "label": a.label, "values": a.values}))
            .collect();
        let v = json!({
            "tlbsim_version": VERSION,
            "sweep": {"name": self.name, "description": self.description},
            "base": {"name": self.base_name, "hash": self.base_hash, "toml": self.base_toml},
            "axes": axes,
            "policies": self.policies,
            "seeds": self.seeds,
            "figure": self.figure,
            "jobs": jobs,
        });
        let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialize");
        s.push('\n');
        s
    }

    fn from_json(text: &str) -> Option<Plan> {
        let v: Value = serde_json::from_str(text).ok()?;
        let s = |v: &Value| v.as_str().map(str::to_string);
        let strs = |v: &Value| -> Option<Vec<String>> { v.as_array()?.iter().map(s).collect() };
        let axes = v["axes"]
            .as_array()?
            .iter()
            .map(|a| {
                Some(SweepAxis {
                    name: s(&a["name"])?,
                    keys: strs(&a["keys"])?,
                    label: s(&a["label"])?,
                    values: a["values"].as_array()?.clone(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let jobs = v["jobs"]
            .as_array()?
            .iter()
            .map(|j| {
                Some(Job {
                    point: usize::try_from(j["point"].as_u64()?).ok()?,
                    axis_values: j["axes"].as_array()?.clone(),
                    policy: s(&j["policy"])?,
                    seed: j["seed"].as_u64()?,
                    hash: s(&j["hash"])?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Plan {
            name: s(&v["sweep"]["name"])?,
            description: s(&v["sweep"]["description"])?,
            base_name: s(&v["base"]["name"])?,
            base_hash: s(&v["base"]["hash"])?,
            base_toml: s(&v["base"]["toml"])?,
            axes,
            policies: strs(&v["policies"])?,
            seeds: v["seeds"]
                .as_array()?
                .iter()
                .map(Value::as_u64)
                .collect::<Option<Vec<_>>>()?,
            figure: strs(&v["figure"])?,
            jobs,
        })
    }
}

/// A TOML value as the right-hand side of a `--set`.
fn override_value(v: &toml::Value) -> String {
    v.to_string()
}

/// Resolves the spec into a plan and the scenario of every job.
fn build_plan(spec: &SweepSpec, cli_sets: &[String]) -> Result<(Plan, Vec<Scenario>)> {
    let mut sets = spec.set.clone();
    sets.extend(cli_sets.iter().cloned());
    if let Some(p) = &spec.policies {
        let quoted: Vec<String> = p.iter().map(|s| format!("\"{s}\"")).collect();
        sets.push(format!("policies=[{}]", quoted.join(",")));
    }
    let base = scenarios::load(&spec.base, &sets)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| {
            format!(
                "loading the base scenario `{}` of sweep {}",
                spec.base, spec.name
            )
        })?;
    let seeds: Vec<u64> = match (&spec.seeds, spec.replications) {
        (Some(s), _) => s.clone(),
        (None, Some(n)) => (0..n).map(|i| base.config.seed.wrapping_add(i)).collect(),
        (None, None) => vec![base.config.seed],
    };
    let policies: Vec<String> = base.policies.iter().map(|p| p.name.to_string()).collect();
    if policies.is_empty() {
        bail!("sweep {} runs no policy", spec.name);
    }
    let axes: Vec<SweepAxis> = spec
        .axes
        .iter()
        .map(|a| {
            Ok(SweepAxis {
                name: a.name.clone(),
                keys: a.keys.clone(),
                label: a.label.clone(),
                values: a
                    .values
                    .iter()
                    .map(serde_json::to_value)
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect::<Result<_, serde_json::Error>>()
        .context("axis values must be plain TOML values")?;
    // Grid points in row-major order (first axis slowest).
    let mut points: Vec<Vec<usize>> = vec![Vec::new()];
    for a in &spec.axes {
        points = points
            .iter()
            .flat_map(|p| {
                (0..a.values.len()).map(move |i| {
                    let mut p = p.clone();
                    p.push(i);
                    p
                })
            })
            .collect();
    }
    let mut jobs = Vec::new();
    let mut scenarios_of_jobs = Vec::new();
    for (point, idx) in points.iter().enumerate() {
        let mut ov = Vec::new();
        for (a, &i) in spec.axes.iter().zip(idx) {
            for k in &a.keys {
                ov.push(format!("{k}={}", override_value(&a.values[i])));
            }
        }
        let axis_values: Vec<Value> = axes
            .iter()
            .zip(idx)
            .map(|(a, &i)| a.values[i].clone())
            .collect();
        for policy in &policies {
            for &seed in &seeds {
                // Loaded from the base's source with every override at once
                // (not layered on the resolved base), so that an axis on
                // `costs.preset` keeps the individual costs that `set`
                // gives: the preset is the base, explicit keys win.
                let mut o = sets.clone();
                o.extend(ov.iter().cloned());
                o.push(format!("seed={seed}"));
                o.push(format!("policies=[\"{policy}\"]"));
                let sc = scenarios::load(&spec.base, &o)
                    .map_err(|e| anyhow!("{e}"))
                    .with_context(|| {
                        format!("sweep {}: grid point {point} ({})", spec.name, ov.join(" "))
                    })?;
                jobs.push(Job {
                    point,
                    axis_values: axis_values.clone(),
                    policy: policy.clone(),
                    seed,
                    hash: sc.hash.clone(),
                });
                scenarios_of_jobs.push(sc);
            }
        }
    }
    let figure = spec
        .figure
        .clone()
        .unwrap_or_else(|| DEFAULT_FIGURE.iter().map(ToString::to_string).collect());
    let plan = Plan {
        name: spec.name.clone(),
        description: spec.description.clone(),
        base_name: base.name.clone(),
        base_hash: base.hash.clone(),
        base_toml: scenarios::to_toml(&base),
        axes,
        policies,
        seeds,
        figure,
        jobs,
    };
    Ok((plan, scenarios_of_jobs))
}

// ---------------------------------------------------------------------------
// Point files.

fn point_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join("points").join(format!("{hash}.json"))
}

fn point_json(sc: &Scenario, r: &machine::RunResult) -> String {
    let runs = std::slice::from_ref(r);
    let report = reports::Report {
        version: VERSION,
        scenario_name: &sc.name,
        scenario_hash: &sc.hash,
        seed: sc.config.seed,
        runs,
    };
    let v = json!({
        "tlbsim_version": VERSION,
        "hash": sc.hash,
        "policy": r.policy.name(),
        "seed": sc.config.seed,
        "metrics": reports::metrics_to_json(&reports::metrics(r)),
        "summary": reports::summary_value(&report),
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialize");
    s.push('\n');
    s
}

/// The metrics of a finished point, if its file exists, is complete and
/// was written by this version for this hash.
fn read_point(path: &Path, hash: &str) -> Option<Vec<(String, Metric)>> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    if v["tlbsim_version"] != VERSION || v["hash"] != hash {
        return None;
    }
    reports::metrics_from_json(v["metrics"].as_object()?)
}

// ---------------------------------------------------------------------------
// Running.

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let err = || anyhow!("--shard {s}: expected I/N with 1 <= I <= N, e.g. --shard 2/8");
    let (i, n) = s.split_once('/').ok_or_else(err)?;
    let i: usize = i.trim().parse().map_err(|_| err())?;
    let n: usize = n.trim().parse().map_err(|_| err())?;
    if n == 0 || i == 0 || i > n {
        return Err(err());
    }
    Ok((i, n))
}

/// A rough relative cost of a simulation, to start the longest first:
/// I/Os times CPUs squared (the background workload of every CPU is
/// replayed for the whole run, and a shootdown can reach every CPU),
/// whatever the policy.
fn cost_estimate(sc: &Scenario) -> u64 {
    let cpus = u64::from(sc.config.machine.cpus);
    let ios = sc.config.stop.ios + sc.config.stop.warmup_ios;
    ios.saturating_mul(cpus).saturating_mul(cpus)
}

fn progress_bar(len: usize) -> ProgressBar {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    if ci || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX));
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} simulations, eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// Runs `tlbsim sweep`.
pub fn cmd_sweep(args: &SweepArgs) -> Result<()> {
    let started = Instant::now();
    let spec = load_spec(&args.sweep)?;
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let (plan, scs) = build_plan(&spec, &args.sets)?;
    let dir = &args.out;
    std::fs::create_dir_all(dir.join("points"))
        .with_context(|| format!("cannot create output directory {}", dir.display()))?;
    reports::write_atomic(&dir.join("plan.json"), plan.to_json().as_bytes())?;

    // This shard's simulations, each hash once, minus those already done.
    let (si, sn) = shard.unwrap_or((1, 1));
    let mut seen = BTreeSet::new();
    let mine: Vec<(&Job, &Scenario)> = plan
        .jobs
        .iter()
        .zip(&scs)
        .enumerate()
        .filter(|(i, _)| i % sn == si - 1)
        .map(|(_, js)| js)
        .filter(|(j, _)| seen.insert(j.hash.clone()))
        .collect();
    let total = mine.len();
    let pending: Vec<(&Job, &Scenario)> = mine
        .into_iter()
        .filter(|(j, _)| read_point(&point_path(dir, &j.hash), &j.hash).is_none())
        .collect();
    let skipped = total - pending.len();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs)
        .build()
        .context("cannot start worker threads")?;
    let threads = pool.current_num_threads();
    let pb = progress_bar(pending.len());
    pb.suspend(|| {
        eprintln!(
            "sweep {}: {} simulations{}, {skipped} already done, {} to run on {threads} threads",
            plan.name,
            total,
            if sn > 1 {
                format!(" in shard {si}/{sn}")
            } else {
                String::new()
            },
            pending.len()
        );
    });
    // Largest first (longest-processing-time scheduling): the most
    // expensive simulations start at once instead of forming the tail.
    let mut order: Vec<usize> = (0..pending.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cost_estimate(pending[i].1)));
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let run_one = |job: &Job, sc: &Scenario| -> Result<()> {
        let policy = sc
            .policies
            .first()
            .ok_or_else(|| anyhow!("grid point {} runs no policy", job.point))?;
        let (r, _) = simulate(sc, policy).with_context(|| {
            format!(
                "simulating grid point {} ({}), policy {}, seed {}",
                job.point,
                job.axis_values
                    .iter()
                    .map(reports::value_text)
                    .collect::<Vec<_>>()
                    .join(", "),
                job.policy,
                job.seed
            )
        })?;
        reports::write_atomic(&point_path(dir, &job.hash), point_json(sc, &r).as_bytes())?;
        Ok(())
    };
    pool.scope(|s| {
        for _ in 0..threads {
            s.spawn(|_| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                if failed.lock().map_or(true, |f| f.is_some()) {
                    break;
                }
                let (job, sc) = pending[i];
                match run_one(job, sc) {
                    Ok(()) => pb.inc(1),
                    Err(e) => {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        pb.finish_and_clear();
        return Err(e);
    }
    pb.finish_and_clear();
    let ran = pending.len();
    if sn > 1 {
        eprintln!(
            "sweep {}: shard {si}/{sn} done ({ran} run, {skipped} reused) in {:.2} s; join the shards with `tlbsim merge DIR... --out DIR`",
            plan.name,
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let text = std::fs::read_to_string(dir.join("plan.json")).context("re-reading plan.json")?;
    let plan = Plan::from_json(&text).ok_or_else(|| anyhow!("plan.json does not parse"))?;
    assemble(dir, &plan)?;
    eprintln!(
        "sweep {}: {} simulations ({ran} run, {skipped} reused) in {:.2} s with {threads} threads; results in {}",
        plan.name,
        total,
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}

/// Writes `sweep.csv`, `sweep.json`, the plots and `report.html` from the
/// point files of `dir`.
fn assemble(dir: &Path, plan: &Plan) -> Result<()> {
    let mut rows = Vec::with_capacity(plan.jobs.len());
    let mut missing = Vec::new();
    for j in &plan.jobs {
        match read_point(&point_path(dir, &j.hash), &j.hash) {
            Some(metrics) => rows.push(SweepRow {
                point: j.point,
                axis_values: j.axis_values.clone(),
                policy: j.policy.clone(),
                seed: j.seed,
                hash: j.hash.clone(),
                metrics,
            }),
            None => missing.push(j),
        }
    }
    if let Some(first) = missing.first() {
        bail!(
            "{} of {} simulations have no point file in {} (first: grid point {}, policy {}, seed {}, hash {}); run the missing shards or re-run the sweep",
            missing.len(),
            plan.jobs.len(),
            dir.join("points").display(),
            first.point,
            first.policy,
            first.seed,
            first.hash
        );
    }
    let sw = reports::Sweep {
        version: VERSION,
        name: &plan.name,
        description: &plan.description,
        base_name: &plan.base_name,
        base_hash: &plan.base_hash,
        axes: &plan.axes,
        policies: &plan.policies,
        seeds: &plan.seeds,
        rows: &rows,
    };
    let known = sw.metric_names();
    if let Some(bad) = plan.figure.iter().find(|m| !known.contains(m)) {
        bail!(
            "figure metric `{bad}` is not a metric (columns: {})",
            known.join(", ")
        );
    }
    reports::write_atomic(&dir.join("sweep.csv"), reports::sweep_csv(&sw)?.as_bytes())?;
    reports::write_atomic(&dir.join("sweep.json"), reports::sweep_json(&sw).as_bytes())?;
    let plots = reports::sweep_plots(&sw, &plan.figure)?;
    reports::write_plots(dir, &plots)?;
    let html = reports::sweep_html(&sw, &plan.base_toml, &plan.figure, &plots);
    reports::write_atomic(&dir.join("report.html"), html.as_bytes())?;
    Ok(())
}

/// Runs `tlbsim merge`.
pub fn cmd_merge(args: &MergeArgs) -> Result<()> {
    let mut plan_text: Option<(String, &Path)> = None;
    for d in &args.dirs {
        let path = d.join("plan.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (is {} a sweep output?)",
                path.display(),
                d.display()
            )
        })?;
        match &plan_text {
            None => plan_text = Some((text, d)),
            Some((first, fd)) if *first != text => bail!(
                "{} and {} hold different sweeps (their plan.json differ): merge only shards of one sweep run with the same options",
                fd.display(),
                d.display()
            ),
            Some(_) => {}
        }
    }
    let (text, _) = plan_text.ok_or_else(|| anyhow!("no directory to merge"))?;
    let plan = Plan::from_json(&text).ok_or_else(|| anyhow!("plan.json does not parse"))?;
    let out = &args.out;
    std::fs::create_dir_all(out.join("points"))
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    let mut copied = 0;
    for j in &plan.jobs {
        let target = point_path(out, &j.hash);
        if read_point(&target, &j.hash).is_some() {
            continue;
        }
        if let Some(src) = args
            .dirs
            .iter()
            .map(|d| point_path(d, &j.hash))
            .find(|p| read_point(p, &j.hash).is_some())
        {
            let bytes =
                std::fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
            reports::write_atomic(&target, &bytes)?;
            copied += 1;
        }
    }
    reports::write_atomic(&out.join("plan.json"), text.as_bytes())?;
    assemble(out, &plan)?;
    eprintln!(
        "merge: sweep {}: {} simulations from {} directories ({copied} point files copied); results in {}",
        plan.name,
        plan.jobs.len(),
        args.dirs.len(),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An axis on `costs.preset` keeps the individual costs `set` gives, at
    /// every point (the preset is the base, explicit keys win).
    #[test]
    fn preset_axis_keeps_explicit_costs() {
        let text = "base = \"default\"\npolicies = [\"global\"]\n[set]\n\"costs.ipi_send_cycles\" = 123\n[axes]\n\"costs.preset\" = [\"bare-metal\", \"vm\"]\n";
        let spec = parse_spec("t", "t.toml", text, None).unwrap();
        let (_, scenarios) = build_plan(&spec, &[]).unwrap();
        assert_eq!(scenarios.len(), 2);
        for sc in &scenarios {
            assert_eq!(sc.config.costs.ipi_send_cycles, 123);
        }
        let vm = cpu_model::CostTable::host_domain_in_vm();
        assert_eq!(
            scenarios[1].config.costs.ipi_delivery_cycles, vm.ipi_delivery_cycles,
            "the preset still applies"
        );
        assert_ne!(
            scenarios[0].config.costs.ipi_delivery_cycles,
            vm.ipi_delivery_cycles
        );
    }

    #[test]
    fn shards_parse() {
        assert_eq!(parse_shard("2/8").unwrap(), (2, 8));
        assert!(parse_shard("0/2").is_err());
        assert!(parse_shard("3/2").is_err());
        assert!(parse_shard("x").is_err());
    }

    #[test]
    fn bundled_experiments_parse_and_plan() {
        for e in &EXPERIMENTS {
            let spec = parse_spec(e.name, e.name, e.text, None).unwrap();
            assert!(!spec.axes.is_empty(), "{}", e.name);
            let (plan, scs) = build_plan(&spec, &[]).unwrap();
            assert_eq!(plan.jobs.len(), scs.len());
            assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
        }
    }

    #[test]
    fn axes_table_keeps_file_order_and_errors_are_located() {
        let text =
            "base = \"default\"\n[axes]\n\"machine.cpus\" = [2, 4]\n\"host.io_cpus\" = [1, 2]\n";
        let spec = parse_spec("t", "t.toml", text, None).unwrap();
        let names: Vec<_> = spec.axes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["machine.cpus", "host.io_cpus"]);
        let bad = "base = \"default\"\nbogus = 1\n[axes]\n\"machine.cpus\" = 3\n";
        let e = parse_spec("t", "t.toml", bad, None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("t.toml:2: bogus: unknown key"), "{e}");
        assert!(
            e.contains("t.toml:4: axes.machine.cpus: must be a list"),
            "{e}"
        );
    }
}
