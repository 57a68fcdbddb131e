//! Atomic file output.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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
        let mut w = BufWriter::with_capacity(1 << 16, File::create(&tmp)?);
        let v = fill(&mut w)?;
        let f = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(v)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
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
    fn missing_directory_is_an_error_naming_the_path() {
        let e = write_atomic(Path::new("/nonexistent-dir-xyz/out.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir-xyz/out.json"));
    }
}
