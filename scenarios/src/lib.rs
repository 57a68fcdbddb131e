//! The scenario file format of tlbsim.
//!
//! A scenario is a TOML file (or a `.json` file of the same structure) that
//! describes one simulated machine, its guests and the policies to compare.
//! Loading resolves `extends`, applies `--set` overrides, deserializes into
//! this crate's own format types (`format`, which mirror the plain core
//! configuration), converts them into [`machine::SimConfig`], validates
//! ([`machine::SimConfig::problems`], each problem at a typed
//! [`machine::KeyPath`] this crate maps to the file line that set it), and
//! hashes the result.
//!
//! # Format
//!
//! Top-level keys, each optional (every key has the default of the
//! corresponding `Default` impl; an unknown key anywhere is an error):
//!
//! - `description`: what the scenario models and why (first line: summary).
//! - `extends`: a bundled scenario name or a path relative to this file.
//!   Tables merge key by key (recursively); a list (e.g. `guests`) replaces
//!   the parent's list wholesale. Chains are allowed, cycles are an error.
//! - `policies`: list of policy names (`tlbsim policies` lists them:
//!   `global`, `percpu`, `percpu-unsafe`, ...); default
//!   `["global", "percpu"]`.
//! - `[policy.NAME]`: the parameters of policy `NAME` (e.g.
//!   `policy.global.flush = "range"`, `policy.percpu.slots_per_cpu = 128`);
//!   each policy declares its own, with defaults
//!   (`hypervisor::PolicyInfo::params`). A table for a policy not in
//!   `policies` is checked but does not enter the scenario.
//! - `seed`, `[stop]`, `[machine]`, `[costs]`, `[host]`, `[background]`,
//!   `[[guests]]`: the sections of [`machine::SimConfig`].
//! - `costs.preset = "bare-metal" | "kvm-guest" | "kvm-guest-posted" |
//!   "xen-pv-dom0" | "xen-pvh-dom0" | "vm"` picks [`cpu_model::CostTable::preset`] as the
//!   base cost table (`vm`, the older VM preset, is kept for existing
//!   scenarios; `kvm-guest` replaces it); other `costs` keys override it.
//! - `machine.ipi_delivery = "unicast" | "x2apic-cluster" | "shorthand" |
//!   "pv-send-ipi"`: how shootdown IPIs leave the sender
//!   ([`cpu_model::IpiDeliveryMode`]).
//! - `[vcpu]` (`overcommit`, `tenant_load`, `host_slice_us`,
//!   `pv_tlb_flush = "off" | "on" | "skip-only"`) and `[idle]` (`cstate =
//!   "poll" | "c1" | "c1e" | "c6"`, `halted_vcpu`, `halt_poll_us`,
//!   `host_wake_us`): vCPUs sharing physical CPUs and waking idle CPUs
//!   ([`machine::VcpuConfig`], [`machine::IdleConfig`]); off by default.
//! - `machine.tlb.l2 = false` means "no second-level TLB".
//! - `guests.N.trace` (a trace guest's file): a relative path is relative
//!   to the scenario file that set it (`--set`: the current directory);
//!   bundled scenarios' traces are the repository's `traces/` folder, kept
//!   as `repo:traces/NAME` (see [`trace_file`]), so nothing written out
//!   names the checkout's folder; the file must exist; the hash covers its
//!   content (see `trace_paths`).
//!
//! # Overrides
//!
//! `KEY=VALUE` strings (the CLI's `--set`), applied after `extends`: `KEY` is
//! a dotted path (`host.io_cpus`, `guests.0.queue_depth`; a list index one
//! past the end appends a new element with default values); `VALUE` is
//! parsed as a TOML value (`8`, `0.5`, `true`, `"x"`, `[1, 2]`,
//! `{ min = 1, max = 2 }`) or, if it does not parse, taken as a bare string
//! (`host.touch=page`). A table value merges into an existing table.
//!
//! # Errors
//!
//! Every problem found is reported at once, one per line, as
//! `FILE:LINE: KEY: MESSAGE` (see [`Diagnostic`]); overrides report as
//! `--set: KEY: MESSAGE`. A syntax error reports `FILE:LINE:COLUMN`.

mod error;
mod format;
mod json;
mod trace_paths;
mod tree;

use std::path::{Path, PathBuf};

use cpu_model::CostTable;
use hypervisor::{BuildContext, PolicySpec, RawValue, Registry, RegistryError};
use machine::SimConfig;
use serde::Serialize;
use sha2::{Digest, Sha256};
use toml::{Table, Value};

pub use error::{Diagnostic, Location, ScenarioError};
use format::Mirror;
pub use trace_paths::{
    repository_dir, set_repository_dir, trace_file, trace_sources, BUNDLED_TRACES_DIR, REPO_PREFIX,
};
pub use tree::LocatedToml;
use tree::{get_path, is_under, join, merge_tables, remove_path, set_path, Origins};

/// A fully resolved, validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The bundled name, or the file stem of a path.
    pub name: String,
    /// What the scenario models (its `description`).
    pub description: String,
    /// The policies to run, in the order given, with their parameters.
    pub policies: Vec<PolicySpec>,
    /// The machine, workload and costs.
    pub config: SimConfig,
    /// Hex SHA-256 of the canonical JSON of the fully resolved scenario
    /// (policies and config, after extends and overrides; keys sorted): the
    /// scenario's identity in outputs.
    pub hash: String,
}

impl Scenario {
    /// The names of its policies, in order.
    #[must_use]
    pub fn policy_names(&self) -> Vec<&str> {
        self.policies.iter().map(|p| p.name.name()).collect()
    }

    /// Its policy called `name`, with its parameters.
    #[must_use]
    pub fn policy(&self, name: &str) -> Option<&PolicySpec> {
        self.policies.iter().find(|p| p.name.name() == name)
    }

    /// A fresh instance of policy `spec` (one of [`Scenario::policies`])
    /// for this scenario, from the built-in registry.
    ///
    /// # Errors
    /// The policy is not built in, or refuses this scenario (e.g. too few
    /// slots for its largest request; loading already checked this).
    pub fn build_policy(
        &self,
        spec: &PolicySpec,
    ) -> Result<Box<dyn hypervisor::MappingPolicy>, RegistryError> {
        let ctx = BuildContext {
            max_request_pages: self.config.max_request_pages(),
        };
        Registry::builtin().build(spec, &ctx)
    }

    /// The first line of the description.
    #[must_use]
    pub fn summary(&self) -> &str {
        self.description.lines().next().unwrap_or("")
    }
}

/// A scenario shipped with tlbsim (`scenarios/bundled/NAME.toml`).
#[derive(Debug, PartialEq, Eq)]
pub struct BundledScenario {
    /// Its name, as given to `tlbsim run NAME`.
    pub name: &'static str,
    /// The first line of its `description`.
    pub description: &'static str,
    /// The TOML text.
    pub text: &'static str,
}

static BUNDLED: [BundledScenario; 11] = [
    BundledScenario {
        name: "default",
        description: "A Xen PV dom0 on an 8-CPU Skylake server: two guests doing 4 KiB closed-loop I/O.",
        text: include_str!("../bundled/default.toml"),
    },
    BundledScenario {
        name: "fixed-baseline",
        description: "The previous default: every cost fixed, one IPI write per target, every CPU a target.",
        text: include_str!("../bundled/fixed-baseline.toml"),
    },
    BundledScenario {
        name: "blkif",
        description: "Block I/O like Xen blkif: 4 guests, requests of 1 to 11 one-page segments.",
        text: include_str!("../bundled/blkif.toml"),
    },
    BundledScenario {
        name: "blkback-async",
        description: "Xen blkback served asynchronously: many 64 KiB I/Os in flight per backend CPU.",
        text: include_str!("../bundled/blkback-async.toml"),
    },
    BundledScenario {
        name: "netif",
        description: "Network-like I/O: 4 open-loop guests sending small packets at 250k packets/s each.",
        text: include_str!("../bundled/netif.toml"),
    },
    BundledScenario {
        name: "large",
        description: "A large host: 64 CPUs, 8 I/O CPUs, 8 guests doing 4 KiB closed-loop I/O.",
        text: include_str!("../bundled/large.toml"),
    },
    BundledScenario {
        name: "migration",
        description: "The default scenario with backend threads migrating on 20% of requests.",
        text: include_str!("../bundled/migration.toml"),
    },
    BundledScenario {
        name: "vm-host",
        description: "The default scenario with a host domain that is itself a VM (HVM/PVH dom0 or driver VM).",
        text: include_str!("../bundled/vm-host.toml"),
    },
    BundledScenario {
        name: "fio-replay",
        description: "Replays a real fio trace (5000 random 4-64 KiB reads and writes) recorded on a Linux host.",
        text: include_str!("../bundled/fio-replay.toml"),
    },
    BundledScenario {
        name: "linux-vm2",
        description: "Linux itself on a 2-vCPU KVM guest: the mapping patterns of validation/linux/tlbpat.",
        text: include_str!("../bundled/linux-vm2.toml"),
    },
    BundledScenario {
        name: "xen-netback",
        description: "Xen netback guest-TX on the staging-grants paper's machine: E5-2630 v4 at 2.2 GHz, 64-byte packets.",
        text: include_str!("../bundled/xen-netback.toml"),
    },
];

/// The bundled scenarios, `default` first.
#[must_use]
pub fn bundled() -> &'static [BundledScenario] {
    &BUNDLED
}

/// The bundled scenario of that name.
#[must_use]
pub fn find_bundled(name: &str) -> Option<&'static BundledScenario> {
    BUNDLED.iter().find(|b| b.name == name)
}

fn bundled_names() -> Vec<String> {
    BUNDLED.iter().map(|b| b.name.to_string()).collect()
}

/// Where a scenario comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScenarioSource {
    /// A bundled scenario.
    Bundled(&'static BundledScenario),
    /// A TOML (or `.json`) file.
    File(PathBuf),
}

impl ScenarioSource {
    /// The scenario's name: the bundled name or the file stem.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            ScenarioSource::Bundled(b) => b.name.to_string(),
            ScenarioSource::File(p) => p.file_stem().map_or_else(
                || p.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            ),
        }
    }

    fn display(&self) -> String {
        match self {
            ScenarioSource::Bundled(b) => format!("bundled/{}.toml", b.name),
            ScenarioSource::File(p) => p.display().to_string(),
        }
    }

    fn id(&self) -> String {
        match self {
            ScenarioSource::Bundled(b) => format!("bundled:{}", b.name),
            ScenarioSource::File(p) => std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
        }
    }
}

/// Whether `s` names a file rather than a bundled scenario: it contains a
/// path separator or ends in `.toml` / `.json`.
#[must_use]
pub fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.contains('\\') || s.ends_with(".toml") || s.ends_with(".json")
}

/// Resolves a scenario name or path: anything that looks like a path (see
/// [`looks_like_path`]) or names an existing file is a file; otherwise a
/// bundled name.
///
/// # Errors
/// [`ScenarioError::UnknownScenario`] (listing the bundled names) when it is
/// neither.
pub fn resolve_name(name_or_path: &str) -> Result<ScenarioSource, ScenarioError> {
    if looks_like_path(name_or_path) || Path::new(name_or_path).is_file() {
        return Ok(ScenarioSource::File(PathBuf::from(name_or_path)));
    }
    find_bundled(name_or_path)
        .map(ScenarioSource::Bundled)
        .ok_or_else(|| ScenarioError::UnknownScenario {
            name: name_or_path.to_string(),
            available: bundled_names(),
        })
}

/// Loads a scenario by bundled name or path, applying `overrides`
/// (`KEY=VALUE` strings, see the crate docs) after `extends`.
///
/// # Errors
/// Unknown name, unreadable file, syntax error, or every content problem at
/// once ([`ScenarioError::Invalid`]).
pub fn load(name_or_path: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    load_with(name_or_path, overrides, &Registry::builtin())
}

/// [`load`] with the policies of `registry` (the built-in ones and any a
/// caller registered).
///
/// # Errors
/// As [`load`].
pub fn load_with(
    name_or_path: &str,
    overrides: &[String],
    registry: &Registry,
) -> Result<Scenario, ScenarioError> {
    load_source_with(&resolve_name(name_or_path)?, overrides, registry)
}

/// Loads a scenario from a resolved source; see [`load`].
///
/// # Errors
/// As [`load`].
pub fn load_source(
    source: &ScenarioSource,
    overrides: &[String],
) -> Result<Scenario, ScenarioError> {
    load_source_with(source, overrides, &Registry::builtin())
}

/// [`load_source`] with the policies of `registry`.
///
/// # Errors
/// As [`load`].
pub fn load_source_with(
    source: &ScenarioSource,
    overrides: &[String],
    registry: &Registry,
) -> Result<Scenario, ScenarioError> {
    let layer = resolve_chain(source, &mut Vec::new())?;
    finish(source.name(), layer, overrides, registry)
}

/// One parsed file (or a merged chain of them).
struct Layer {
    table: Table,
    origins: Origins,
    /// The displayed name of the (last) file.
    file: String,
}

fn read_source(source: &ScenarioSource) -> Result<Layer, ScenarioError> {
    let file = source.display();
    let (table, origins) = match source {
        ScenarioSource::Bundled(b) => tree::parse_toml(b.text, &file)?,
        ScenarioSource::File(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| ScenarioError::Read {
                path: file.clone(),
                source: e,
            })?;
            if p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            {
                json::parse_json(&text, &file)?
            } else {
                tree::parse_toml(&text, &file)?
            }
        }
    };
    Ok(Layer {
        table,
        origins,
        file,
    })
}

fn invalid(loc: &Location, key: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        problems: vec![Diagnostic::at(loc, key, message)],
    }
}

/// The source `name` refers to from the file `from`.
fn resolve_relative(name: &str, from: &ScenarioSource) -> Result<ScenarioSource, String> {
    match from {
        ScenarioSource::Bundled(_) => {
            find_bundled(name)
                .map(ScenarioSource::Bundled)
                .ok_or_else(|| {
                    format!(
                        "unknown bundled scenario `{name}` (bundled: {})",
                        bundled_names().join(", ")
                    )
                })
        }
        ScenarioSource::File(p) => {
            let dir = p.parent().unwrap_or(Path::new(""));
            let candidate = dir.join(name);
            if looks_like_path(name) || candidate.is_file() {
                Ok(ScenarioSource::File(candidate))
            } else {
                find_bundled(name).map(ScenarioSource::Bundled).ok_or_else(|| {
                    format!(
                        "unknown scenario `{name}`: no file {} and no bundled scenario of that name (bundled: {})",
                        candidate.display(),
                        bundled_names().join(", ")
                    )
                })
            }
        }
    }
}

const MAX_EXTENDS_DEPTH: usize = 64;

/// Reads `source` and everything it extends, merged (parent first).
fn resolve_chain(
    source: &ScenarioSource,
    stack: &mut Vec<(String, String)>,
) -> Result<Layer, ScenarioError> {
    let mut layer = read_source(source)?;
    let Some(extends) = layer.table.remove("extends") else {
        return Ok(layer);
    };
    let loc = layer.origins.remove("extends").unwrap_or(Location {
        file: layer.file.clone(),
        line: None,
    });
    let Value::String(name) = extends else {
        return Err(invalid(
            &loc,
            "extends",
            format!("must be a string (a bundled scenario name or a path relative to this file), got {}", extends.type_str()),
        ));
    };
    let parent_source = resolve_relative(&name, source).map_err(|m| invalid(&loc, "extends", m))?;
    stack.push((source.id(), source.display()));
    let parent_id = parent_source.id();
    if let Some(pos) = stack.iter().position(|(id, _)| *id == parent_id) {
        let mut chain: Vec<&str> = stack[pos..].iter().map(|(_, d)| d.as_str()).collect();
        let closing = parent_source.display();
        chain.push(&closing);
        return Err(invalid(
            &loc,
            "extends",
            format!("extends cycle: {}", chain.join(" -> ")),
        ));
    }
    if stack.len() > MAX_EXTENDS_DEPTH {
        return Err(invalid(
            &loc,
            "extends",
            format!("extends chain longer than {MAX_EXTENDS_DEPTH}"),
        ));
    }
    let parent = match resolve_chain(&parent_source, stack) {
        Ok(p) => p,
        Err(ScenarioError::Read { path, source }) => {
            return Err(invalid(
                &loc,
                "extends",
                format!("cannot read {path}: {source}"),
            ));
        }
        Err(e) => return Err(e),
    };
    stack.pop();
    let Layer {
        table: mut merged,
        mut origins,
        ..
    } = parent;
    merge_tables(&mut merged, layer.table, "", &mut origins);
    origins.extend(layer.origins);
    Ok(Layer {
        table: merged,
        origins,
        file: layer.file,
    })
}

/// One `--set KEY=VALUE`.
struct Override {
    key: String,
    value: Value,
}

fn parse_overrides(overrides: &[String], diags: &mut Vec<Diagnostic>) -> Vec<Override> {
    let set = set_location();
    let mut out = Vec::new();
    for raw in overrides {
        let Some((key, value)) = raw.split_once('=') else {
            diags.push(Diagnostic::at(
                &set,
                "",
                format!("`{raw}`: expected KEY=VALUE, e.g. host.io_cpus=4"),
            ));
            continue;
        };
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|s| s.trim().is_empty()) {
            diags.push(Diagnostic::at(
                &set,
                "",
                format!("`{raw}`: expected a dotted key such as guests.0.queue_depth before `=`"),
            ));
            continue;
        }
        let key = key.split('.').map(str::trim).collect::<Vec<_>>().join(".");
        out.push(Override {
            key,
            value: parse_value(value),
        });
    }
    out
}

/// A TOML value, or the bare string if it does not parse as one.
fn parse_value(text: &str) -> Value {
    let doc = format!("v = {text}");
    match toml::from_str::<Table>(&doc) {
        Ok(mut t) if t.len() == 1 => t
            .remove("v")
            .unwrap_or_else(|| Value::String(text.trim().to_string())),
        _ => Value::String(text.trim().to_string()),
    }
}

fn set_location() -> Location {
    Location {
        file: "--set".to_string(),
        line: None,
    }
}

fn apply(
    table: &mut Table,
    overrides: &[Override],
    origins: &mut Origins,
    diags: &mut Vec<Diagnostic>,
) {
    let set = set_location();
    for o in overrides {
        let segs: Vec<&str> = o.key.split('.').collect();
        if let Err(message) = set_path(table, &segs, o.value.clone(), origins, &set) {
            diags.push(Diagnostic::at(&set, &o.key, message));
        }
    }
}

/// The documented defaults as a tree, with `costs` from the preset.
fn defaults_table(costs: CostTable) -> Table {
    let config = SimConfig {
        costs,
        ..SimConfig::default()
    };
    let mut t = Table::try_from(format::SimConfig::from_core(&config)).unwrap_or_default();
    t.insert(
        "policies".to_string(),
        Value::Array(
            DEFAULT_POLICIES
                .iter()
                .map(|p| Value::String((*p).to_string()))
                .collect(),
        ),
    );
    t.insert("description".to_string(), Value::String(String::new()));
    t
}

const DEFAULT_POLICIES: [&str; 2] = ["global", "percpu"];

/// Keys that were host knobs and are now policy parameters: old key, new
/// key(s).
const MOVED: [(&str, &str); 5] = [
    ("host.shootdown_flush", "policy.global.flush"),
    ("host.shootdown_batch", "policy.global.per"),
    ("host.flush_lock", "policy.global.flush_lock"),
    ("host.lazy_tlb", "policy.global.lazy_tlb"),
    (
        "host.slots_per_cpu",
        "policy.percpu.slots_per_cpu (and policy.percpu-unsafe.slots_per_cpu)",
    ),
];
/// `costs.preset`'s allowed values, as a message lists them.
fn presets() -> String {
    let names: Vec<String> = CostTable::PRESETS
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

fn preset_costs(value: Option<&Value>) -> CostTable {
    value
        .and_then(Value::as_str)
        .and_then(CostTable::preset)
        .unwrap_or_else(CostTable::bare_metal)
}

/// Where `key` (or its nearest defined ancestor) came from. A problem of
/// a table (`machine.tlb.l1`, a guest's `size_bytes`) whose key a `--set`
/// changed underneath (`machine.tlb.l1.ways`) comes from that `--set`, not
/// from the file line of the table.
fn locate(origins: &Origins, root: &Location, key: &str) -> Location {
    let below = format!("{key}.");
    if origins.get(key).is_none_or(|l| l.file != "--set")
        && origins
            .range(below.clone()..)
            .take_while(|(k, _)| k.starts_with(&below))
            .any(|(_, l)| l.file == "--set")
    {
        return set_location();
    }
    let mut k = key;
    loop {
        if let Some(l) = origins.get(k) {
            return l.clone();
        }
        match k.rfind('.') {
            Some(i) => k = &k[..i],
            None => return root.clone(),
        }
    }
}

/// Extends-merged file content + overrides -> validated scenario.
fn finish(
    name: String,
    layer: Layer,
    overrides: &[String],
    registry: &Registry,
) -> Result<Scenario, ScenarioError> {
    let root = Location {
        file: layer.file.clone(),
        line: None,
    };
    let mut diags = Vec::new();
    let parsed = parse_overrides(overrides, &mut diags);

    // The preset decides the base cost table, so find it first (file or --set).
    let mut probe = layer.table.clone();
    apply(&mut probe, &parsed, &mut Origins::new(), &mut Vec::new());
    let defaults = defaults_table(preset_costs(get_path(&probe, "costs.preset")));
    let mut tree = defaults.clone();

    let mut origins = Origins::new();
    merge_tables(&mut tree, layer.table, "", &mut origins);
    origins.extend(layer.origins);
    apply(&mut tree, &parsed, &mut origins, &mut diags);

    let problem = |key: &str, message: String| {
        let loc = locate(&origins, &root, key);
        Diagnostic::at(&loc, key, message)
    };

    let description = match tree.remove("description") {
        Some(Value::String(s)) => s,
        None => String::new(),
        Some(other) => {
            diags.push(problem(
                "description",
                format!("must be a string, got {}", other.type_str()),
            ));
            String::new()
        }
    };
    let names = extract_policies(tree.remove("policies"), registry, &mut |k, m| {
        diags.push(problem(k, m))
    });
    let policies = resolve_policies(registry, &names, tree.remove("policy"), &mut |k, m| {
        diags.push(problem(k, m))
    });
    for (old, new) in MOVED {
        if get_path(&tree, old).is_some() {
            diags.push(problem(
                old,
                format!("is a policy parameter now: set {new} instead"),
            ));
            let segs: Vec<String> = old.split('.').map(str::to_string).collect();
            remove_path(&mut tree, &segs);
        }
    }
    if let Some(Value::Table(costs)) = tree.get_mut("costs") {
        if let Some(p) = costs.remove("preset") {
            if p.as_str().and_then(CostTable::preset).is_none() {
                diags.push(problem(
                    "costs.preset",
                    format!("must be {}, got {p}", presets()),
                ));
            }
        }
    }
    let (mut config, removed) =
        deserialize_collecting(tree, &defaults, &mut |k, m| diags.push(problem(k, m)));
    if let Some(config) = &mut config {
        trace_paths::resolve(config, &|k| locate(&origins, &root, k), &mut diags);
    }
    if let Some(config) = &config {
        let ctx = BuildContext {
            max_request_pages: config.max_request_pages(),
        };
        for spec in &policies {
            if let Err(RegistryError::Params { name, problems }) = registry.build(spec, &ctx) {
                for p in problems {
                    let key = match &p.param {
                        Some(param) => format!("policy.{name}.{param}"),
                        None => format!("policy.{name}"),
                    };
                    diags.push(problem(&key, p.message));
                }
            }
        }
        for p in config.problems() {
            let key = format::file_key(&p.key);
            if removed
                .iter()
                .any(|r| is_under(&key, r) || is_under(r, &key))
            {
                continue;
            }
            diags.push(problem(&key, p.message));
        }
    }
    match config {
        Some(config) if diags.is_empty() => {
            let hash = scenario_hash(&policies, &config);
            Ok(Scenario {
                name,
                description,
                policies,
                config,
                hash,
            })
        }
        _ => {
            diags.sort_by(|a, b| {
                (a.file == "--set", &a.file, a.line.unwrap_or(0)).cmp(&(
                    b.file == "--set",
                    &b.file,
                    b.line.unwrap_or(0),
                ))
            });
            Err(ScenarioError::Invalid { problems: diags })
        }
    }
}

/// The `policies` entry that stands for every registered policy.
pub const ALL_POLICIES: &str = "all";

fn extract_policies(
    value: Option<Value>,
    registry: &Registry,
    report: &mut dyn FnMut(&str, String),
) -> Vec<String> {
    let items = match value {
        None => return DEFAULT_POLICIES.iter().map(|p| (*p).to_string()).collect(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            report(
                "policies",
                format!(
                    "must be a list of policy names, e.g. [\"global\", \"percpu\"] (allowed: {}), got {}",
                    registry.names(),
                    other.type_str()
                ),
            );
            return Vec::new();
        }
    };
    if items.is_empty() {
        report(
            "policies",
            format!("needs at least one policy (allowed: {})", registry.names()),
        );
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = join("policies", &i.to_string());
        if item.as_str() == Some(ALL_POLICIES) {
            // Every registered policy, in registration order.
            for p in registry.iter() {
                if out.iter().any(|o| o == p.name) {
                    report(&key, format!("policy `{}` is listed twice", p.name));
                } else {
                    out.push(p.name.to_string());
                }
            }
            continue;
        }
        match item.as_str().map(|s| registry.lookup(s)) {
            Some(Ok(p)) if out.iter().any(|o| o == p.name) => {
                report(&key, format!("policy `{}` is listed twice", p.name));
            }
            Some(Ok(p)) => out.push(p.name.to_string()),
            Some(Err(e)) => report(&key, e.to_string()),
            None => report(
                &key,
                format!(
                    "must be a policy name (allowed: {}), got {}",
                    registry.names(),
                    item.type_str()
                ),
            ),
        }
    }
    out
}

/// A TOML value as a policy parameter.
fn raw_value(v: &Value) -> RawValue {
    match v {
        Value::Boolean(b) => RawValue::Bool(*b),
        Value::Integer(n) => RawValue::Int(*n),
        Value::Float(x) => RawValue::Float(*x),
        Value::String(s) => RawValue::Str(s.clone()),
        other => RawValue::Other(other.type_str()),
    }
}

/// Checks every `[policy.NAME]` table and returns the listed policies with
/// their parameters (defaults where a table does not set them).
fn resolve_policies(
    registry: &Registry,
    names: &[String],
    tables: Option<Value>,
    report: &mut dyn FnMut(&str, String),
) -> Vec<PolicySpec> {
    let tables = match tables {
        None => Table::new(),
        Some(Value::Table(t)) => t,
        Some(other) => {
            report(
                "policy",
                format!(
                    "must be a table of policy tables ([policy.NAME]), got {}",
                    other.type_str()
                ),
            );
            Table::new()
        }
    };
    let mut specs = BTreeMapOf::new();
    for (name, params) in &tables {
        let key = join("policy", name);
        let Value::Table(params) = params else {
            report(
                &key,
                format!("must be a table of parameters, got {}", params.type_str()),
            );
            continue;
        };
        let raw: Vec<(String, RawValue)> = params
            .iter()
            .map(|(k, v)| (k.clone(), raw_value(v)))
            .collect();
        match registry.resolve(name, &raw) {
            Ok(spec) => {
                specs.insert(name.clone(), spec);
            }
            Err(RegistryError::Params { problems, .. }) => {
                for p in problems {
                    let k = p
                        .param
                        .as_ref()
                        .map_or(key.clone(), |param| join(&key, param));
                    report(&k, p.message);
                }
            }
            Err(e) => report(&key, e.to_string()),
        }
    }
    names
        .iter()
        .filter_map(|n| {
            specs
                .get(n)
                .cloned()
                .or_else(|| registry.resolve(n, &[]).ok())
        })
        .collect()
}

type BTreeMapOf = std::collections::BTreeMap<String, PolicySpec>;

/// Deserializes the tree into the file format, collecting every serde
/// error: each offending key (serde_path_to_error's typed path, which
/// includes an unknown field's name) is reported and reset to its default
/// (taken from `defaults`, or removed so serde's default applies), and
/// deserialization retried. Returns the core config (None if it could not be
/// completed) and the keys reset.
fn deserialize_collecting(
    mut tree: Table,
    defaults: &Table,
    report: &mut dyn FnMut(&str, String),
) -> (Option<SimConfig>, Vec<String>) {
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..1000 {
        let err = match serde_path_to_error::deserialize::<_, format::SimConfig>(Value::Table(
            tree.clone(),
        )) {
            Ok(config) => return (Some(config.into_core()), removed),
            Err(e) => e,
        };
        let mut segs: Vec<String> = err
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let key = segs.join(".");
        report(&key, err.inner().message().trim().to_string());
        loop {
            if segs.is_empty() {
                return (None, removed);
            }
            let k = segs.join(".");
            if !removed.contains(&k) && reset(&mut tree, defaults, &segs, &k) {
                removed.push(k);
                break;
            }
            segs.pop();
        }
    }
    (None, removed)
}

/// Puts the default value at `segs` (or removes the key when it has none).
fn reset(tree: &mut Table, defaults: &Table, segs: &[String], key: &str) -> bool {
    match get_path(defaults, key) {
        Some(default) if get_path(tree, key).is_some() => {
            let refs: Vec<&str> = segs.iter().map(String::as_str).collect();
            set_path(
                tree,
                &refs,
                default.clone(),
                &mut Origins::new(),
                &set_location(),
            )
            .is_ok()
        }
        _ => remove_path(tree, segs),
    }
}

#[derive(Serialize)]
struct HashInput<'a> {
    policies: Vec<serde_json::Value>,
    config: &'a format::SimConfig,
}

/// A policy and its parameters as JSON (`{"name": .., "params": {..}}`).
fn policy_json(spec: &PolicySpec) -> serde_json::Value {
    let params: serde_json::Map<String, serde_json::Value> = spec
        .params
        .iter()
        .map(|(k, v)| {
            let v = match v {
                hypervisor::ParamValue::Bool(b) => serde_json::Value::Bool(b),
                hypervisor::ParamValue::Int(n) => serde_json::Value::from(n),
                hypervisor::ParamValue::Choice(c) => serde_json::Value::from(c),
            };
            (k.to_string(), v)
        })
        .collect();
    serde_json::json!({"name": spec.name.name(), "params": params})
}

/// A policy's parameters as a TOML table.
fn params_table(spec: &PolicySpec) -> Table {
    spec.params
        .iter()
        .map(|(k, v)| {
            let v = match v {
                hypervisor::ParamValue::Bool(b) => Value::Boolean(b),
                hypervisor::ParamValue::Int(n) => {
                    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
                }
                hypervisor::ParamValue::Choice(c) => Value::String(c.to_string()),
            };
            (k.to_string(), v)
        })
        .collect()
}

/// Hex SHA-256 of the canonical JSON of `policies` (with their parameters)
/// and `config`.
fn scenario_hash(policies: &[PolicySpec], config: &SimConfig) -> String {
    let config = format::SimConfig::from_core(&trace_paths::hash_view(config));
    let input = HashInput {
        policies: policies.iter().map(policy_json).collect(),
        config: &config,
    };
    let value = serde_json::to_value(&input).unwrap_or(serde_json::Value::Null);
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// JSON with object keys sorted, no whitespace.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The fully resolved scenario as TOML: loading this text gives the same
/// scenario (same hash). Used by `tlbsim scenarios --show NAME`.
#[must_use]
pub fn to_toml(scenario: &Scenario) -> String {
    let mut config =
        Table::try_from(format::SimConfig::from_core(&scenario.config)).unwrap_or_default();
    let header = format!(
        "# scenario `{}`, fully resolved; sha256 {}\n\n",
        scenario.name, scenario.hash
    );
    let mut out = header;
    let mut top = Table::new();
    top.insert(
        "description".to_string(),
        Value::String(scenario.description.clone()),
    );
    top.insert(
        "policies".to_string(),
        Value::Array(
            scenario
                .policies
                .iter()
                .map(|p| Value::String(p.name.to_string()))
                .collect(),
        ),
    );
    if let Some(seed) = config.remove("seed") {
        top.insert("seed".to_string(), seed);
    }
    let render =
        |t: &Table| toml::to_string(t).unwrap_or_else(|e| format!("# cannot render: {e}\n"));
    out.push_str(&render(&top));
    let policy: Table = scenario
        .policies
        .iter()
        .filter(|p| p.params.iter().next().is_some())
        .map(|p| (p.name.to_string(), Value::Table(params_table(p))))
        .collect();
    if !policy.is_empty() {
        config.insert("policy".to_string(), Value::Table(policy));
    }
    for section in [
        "policy",
        "stop",
        "machine",
        "costs",
        "host",
        "background",
        "guests",
        "vcpu",
        "idle",
        "io",
        "variability",
    ] {
        if let Some(v) = config.remove(section) {
            let mut t = Table::new();
            t.insert(section.to_string(), v);
            out.push('\n');
            out.push_str(&render(&t));
        }
    }
    out
}
