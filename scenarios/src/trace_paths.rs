//! Trace guests' files: where a relative `guests.N.trace` points, whether
//! it exists, and what the scenario hash sees of it.
//!
//! A relative path is relative to the directory of the scenario file that
//! set it (through `extends`, the file that wrote the key); for a bundled
//! scenario, to the repository's `traces/` folder (where tlbsim was built);
//! for a `--set` override, to the current directory. The resolved scenario
//! holds the absolute path, so `scenario.toml` written by `--out` loads from
//! anywhere.
//!
//! The scenario hash covers a trace's *content* (its SHA-256), not its path:
//! the same scenario on another machine or checkout hashes the same, and
//! editing the trace changes the hash.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use machine::SimConfig;
use sha2::{Digest, Sha256};
use workloads::Pattern;

use crate::{Diagnostic, Location};

/// Where bundled scenarios' relative trace paths point: the repository's
/// `traces/` folder.
pub const BUNDLED_TRACES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces");

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
    if crate::bundled()
        .iter()
        .any(|b| loc.file == format!("bundled/{}.toml", b.name))
    {
        return PathBuf::from(BUNDLED_TRACES_DIR);
    }
    if loc.file == "--set" || loc.file.starts_with('<') {
        return PathBuf::new();
    }
    Path::new(&loc.file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Makes every trace guest's path absolute (see the module docs) and
/// reports each missing file at the line that set it.
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
        let given = Path::new(&g.trace);
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            base_dir(&loc).join(given)
        };
        let resolved = std::path::absolute(&joined).map_or(joined, |p| normalize(&p));
        if !resolved.is_file() {
            diags.push(Diagnostic::at(
                &loc,
                &key,
                format!(
                    "no trace file {} (a relative path is relative to the scenario file that sets it; in bundled scenarios to the repository's traces/ folder; in --set to the current directory)",
                    resolved.display()
                ),
            ));
        }
        g.trace = resolved.display().to_string();
    }
}

/// `config` as the scenario hash sees it: each trace path replaced by
/// `sha256:HEX` of the file's content (left as is if unreadable).
pub(crate) fn hash_view(config: &SimConfig) -> SimConfig {
    let mut c = config.clone();
    for g in &mut c.guests {
        if g.pattern == Pattern::Trace && !g.trace.is_empty() {
            if let Some(h) = file_sha256(Path::new(&g.trace)) {
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
