//! Atomic file output.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The temporary files of this process's atomic writes in progress. A
/// temporary file is created and renamed only while this lock is held, so
/// [`abandon_writes`], which takes it for good, sees every one of them.
static LIVE_TEMPS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn live_temps() -> MutexGuard<'static, BTreeSet<PathBuf>> {
    // A panic while holding the lock leaves the set as valid as before.
    LIVE_TEMPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// For a process about to exit on a signal: removes the temporary file of
/// every atomic write in progress and keeps any new one from being created
/// or renamed (a thread that tries blocks until the process exits). After
/// this, every output file is either its old whole version or its new whole
/// version, and no temporary file of this process remains. Call it once,
/// then exit.
pub fn abandon_writes() {
    let mut temps = live_temps();
    for tmp in std::mem::take(&mut *temps) {
        let _ = std::fs::remove_file(tmp);
    }
    // Held until the process exits.
    std::mem::forget(temps);
}

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Creating, writing, syncing or renaming failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Building CSV failed.
    #[error("cannot build CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory is written, synced and renamed over `path`. On any error the
/// temporary file is removed and `path` is untouched.
///
/// # Errors
/// The file cannot be written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_atomic_with(path, |w| w.write_all(bytes)).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Streams what `fill` writes to a temporary file beside `path`, syncs it
/// and renames it over `path` (for outputs too large to hold in memory, such
/// as a converted trace). On any error, `fill`'s or the file system's, the
/// temporary file is removed and `path` is untouched.
///
/// # Errors
/// `fill`'s error, or an I/O error converted into it.
pub fn write_atomic_with<T, E: From<std::io::Error>>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<T, E>,
) -> Result<T, E> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| -> Result<T, E> {
        let file = {
            let mut temps = live_temps();
            let file = File::create(&tmp)?;
            temps.insert(tmp.clone());
            file
        };
        let mut w = BufWriter::with_capacity(1 << 16, file);
        let v = fill(&mut w)?;
        let f = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        let mut temps = live_temps();
        std::fs::rename(&tmp, path)?;
        temps.remove(&tmp);
        Ok(v)
    })();
    if result.is_err() {
        let mut temps = live_temps();
        let _ = std::fs::remove_file(&tmp);
        temps.remove(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        write_atomic(&p, b"first version, long").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn finished_writes_leave_no_live_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(&dir.path().join("a"), b"x").unwrap();
        let e = write_atomic_with(&dir.path().join("b"), |_| -> std::io::Result<()> {
            Err(std::io::Error::other("fill failed"))
        });
        assert!(e.is_err());
        assert!(
            !live_temps().iter().any(|t| t.starts_with(dir.path())),
            "{:?}",
            live_temps()
        );
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let e = write_atomic(Path::new("/nonexistent-dir-xyz/out.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir-xyz/out.json"));
    }
}
