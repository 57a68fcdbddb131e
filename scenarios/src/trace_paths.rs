//! Trace guests' files: where a relative `guests.N.trace` points, whether
//! it exists, and what the scenario hash sees of it.
//!
//! A relative path is relative to the directory of the scenario file that
//! set it (through `extends`, the file that wrote the key); for a `--set`
//! override, to the current directory. The resolved scenario holds that
//! path made absolute, so `scenario.toml` written by `--out` loads from
//! anywhere.
//!
//! Bundled scenarios' traces are the exception: they live in tlbsim's
//! repository (its `traces/` folder), wherever it is checked out, so the
//! resolved scenario addresses them relative to the repository, as
//! `repo:traces/NAME` ([`REPO_PREFIX`]), and only [`trace_file`] turns that
//! into a real path, when the file is opened or hashed. Nothing written out
//! (scenario.toml, plan.json, summaries) then depends on the checkout's
//! folder. Any scenario may use a `repo:` path.
//!
//! The scenario hash covers a trace's *content* (its SHA-256), not its path:
//! the same scenario on another machine or checkout hashes the same, and
//! editing the trace changes the hash.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::RwLock;

use machine::SimConfig;
use sha2::{Digest, Sha256};
use workloads::Pattern;

use crate::{Diagnostic, Location};

/// Where bundled scenarios' relative trace paths point in the checkout
/// tlbsim was built from: its repository's `traces/` folder (see
/// [`repository_dir`] for the folder actually used).
pub const BUNDLED_TRACES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces");

/// The prefix of a trace path relative to tlbsim's repository, e.g.
/// `repo:traces/fio-randrw.iolog`.
pub const REPO_PREFIX: &str = "repo:";

/// The repository folder set by [`set_repository_dir`], if any.
static REPOSITORY_DIR: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Makes `repo:` trace paths resolve against `dir` instead of the checkout
/// tlbsim was built from (`None` restores that). For a relocated checkout,
/// and for tests that stand for two checkouts in different folders. It is
/// process-wide: it affects every scenario loaded or simulated afterwards.
pub fn set_repository_dir(dir: Option<PathBuf>) {
    let mut guard = REPOSITORY_DIR
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *guard = dir;
}

/// The folder `repo:` trace paths are relative to: the one given to
/// [`set_repository_dir`], or else the checkout tlbsim was built from.
#[must_use]
pub fn repository_dir() -> PathBuf {
    let guard = REPOSITORY_DIR
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    guard
        .clone()
        .unwrap_or_else(|| normalize(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))))
}

/// The file a resolved `guests.N.trace` names: a `repo:` path joined to
/// [`repository_dir`], any other path as it is. Call it where the trace is
/// opened, never to write the path out.
#[must_use]
pub fn trace_file(trace: &str) -> PathBuf {
    match trace.strip_prefix(REPO_PREFIX) {
        Some(rel) => repository_dir().join(rel),
        None => PathBuf::from(trace),
    }
}

/// `p` with `.` and `..` removed lexically.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The directory a relative trace path set at `loc` is relative to.
fn base_dir(loc: &Location) -> PathBuf {
    if loc.file == "--set" || loc.file.starts_with('<') {
        return PathBuf::new();
    }
    Path::new(&loc.file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Whether `loc` is in a bundled scenario.
fn is_bundled(loc: &Location) -> bool {
    crate::bundled()
        .iter()
        .any(|b| loc.file == format!("bundled/{}.toml", b.name))
}

/// A trace path as the resolved scenario holds it: `repo:` paths as they
/// are, a bundled scenario's relative path as `repo:traces/PATH`, anything
/// else absolute.
fn resolved_path(given: &str, loc: &Location) -> String {
    let path = Path::new(given);
    if given.starts_with(REPO_PREFIX) {
        return given.to_string();
    }
    if path.is_relative() && is_bundled(loc) {
        let rel = normalize(&Path::new("traces").join(path));
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        return format!("{REPO_PREFIX}{}", rel.join("/"));
    }
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir(loc).join(path)
    };
    std::path::absolute(&joined)
        .map_or(joined, |p| normalize(&p))
        .display()
        .to_string()
}

/// Resolves every trace guest's path (see the module docs) and reports
/// each missing file at the line that set it.
pub(crate) fn resolve(
    config: &mut SimConfig,
    locate: &dyn Fn(&str) -> Location,
    diags: &mut Vec<Diagnostic>,
) {
    for (i, g) in config.guests.iter_mut().enumerate() {
        if g.pattern != Pattern::Trace || g.trace.is_empty() {
            continue;
        }
        let key = format!("guests.{i}.trace");
        let loc = locate(&key);
        let resolved = resolved_path(&g.trace, &loc);
        let file = trace_file(&resolved);
        if !file.is_file() {
            diags.push(Diagnostic::at(
                &loc,
                &key,
                format!(
                    "no trace file {} (a relative path is relative to the scenario file that sets it; in bundled scenarios to the repository's traces/ folder; in --set to the current directory)",
                    file.display()
                ),
            ));
        }
        let known_format = workloads::TRACE_FORMATS.contains(&g.trace_format.as_str());
        if file.is_file() && known_format && g.max_request_bytes.is_none() {
            // The largest request sizes the mapping area and percpu's
            // slots: one streaming pass now, so that a too-small slot count
            // is a located load error rather than a run failure.
            match traces::max_request_bytes(&file, &g.trace_format, g.trace_device) {
                Ok(n) => g.max_request_bytes = Some(n.max(1)),
                Err(e) => diags.push(Diagnostic::at(&loc, &key, e.to_string())),
            }
        }
        g.trace = resolved;
    }
}

/// `config` as the scenario hash sees it: each trace path replaced by
/// `sha256:HEX` of the file's content (left as is if unreadable).
pub(crate) fn hash_view(config: &SimConfig) -> SimConfig {
    let mut c = config.clone();
    for g in &mut c.guests {
        if g.pattern == Pattern::Trace && !g.trace.is_empty() {
            if let Some(h) = file_sha256(&trace_file(&g.trace)) {
                g.trace = format!("sha256:{h}");
            }
        }
    }
    c
}

fn file_sha256(p: &Path) -> Option<String> {
    let mut f = std::fs::File::open(p).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A streaming reader of each trace guest's file of `config` (opened at
/// [`trace_file`]), `None` for synthetic guests: what
/// [`machine::Simulation::with_parts`] takes as its sources.
///
/// # Errors
/// [`machine::SimError::Trace`]: a trace could not be opened, or its format
/// is unknown.
pub fn trace_sources(config: &SimConfig) -> Result<machine::Sources, machine::SimError> {
    config
        .guests
        .iter()
        .enumerate()
        .map(|(g, gc)| {
            if gc.pattern != Pattern::Trace {
                return Ok(None);
            }
            traces::open_source(&trace_file(&gc.trace), &gc.trace_format, gc.trace_device)
                .map(Some)
                .map_err(|e| machine::SimError::Trace {
                    guest: u32::try_from(g).unwrap_or(u32::MAX),
                    message: e.to_string(),
                })
        })
        .collect()
}
