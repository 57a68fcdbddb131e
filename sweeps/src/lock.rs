//! One sweep at a time per output directory: `DIR/.lock`.
//!
//! Two sweeps writing one directory would each assemble `sweep.csv` from a
//! point store the other is still filling, and both write `plan.json`. So a
//! run (and a merge into a directory) takes the directory's lock first and
//! a second one refuses, naming the directory and the holder.
//!
//! The lock file is created with `create_new` (atomic on local file
//! systems) and holds `pid N` and `host NAME`. A lock whose process is gone
//! (its pid has no `/proc/PID` on this host) is stale, left by a killed
//! sweep, and is taken over. A lock from another host, or on a system
//! without `/proc`, cannot be checked and is taken as held. Assumption: two
//! sweeps that find one stale lock at the same instant may both take it
//! over; that needs a killed sweep and two new ones started within
//! microseconds of each other on its directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::SweepError;

/// The lock file of the output directory `dir`.
#[must_use]
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(".lock")
}

/// This host's name (Linux: the kernel's; elsewhere `HOSTNAME` or `?`).
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map_or_else(|| "?".to_string(), |h| h.trim().to_string())
}

/// The holder recorded in a lock file's text: (pid, host).
fn holder(text: &str) -> Option<(u32, String)> {
    let mut pid = None;
    let mut host = None;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("pid ") {
            pid = p.trim().parse().ok();
        } else if let Some(h) = line.strip_prefix("host ") {
            host = Some(h.trim().to_string());
        }
    }
    Some((pid?, host?))
}

/// Whether the process `pid` of `host` may still run: false only when it
/// is on this host, this host has `/proc`, and `/proc/PID` does not exist.
fn may_run(pid: u32, host: &str) -> bool {
    if host != self::host() || !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}

/// The held lock of an output directory; dropping it removes the file.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir` (which must exist), taking over a stale one.
    ///
    /// # Errors
    /// [`SweepError::Locked`] if another live process holds it;
    /// [`SweepError::Lock`] if the file cannot be created or read.
    pub fn acquire(dir: &Path) -> Result<Self, SweepError> {
        let path = lock_path(dir);
        let io = |error| SweepError::Lock {
            path: path.clone(),
            error,
        };
        // Two tries: the second after removing a stale lock.
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let text = format!("pid {}\nhost {}\n", std::process::id(), host());
                    f.write_all(text.as_bytes()).map_err(io)?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = match std::fs::read_to_string(&path) {
                        Ok(t) => t,
                        // Released between our open and this read.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io(e)),
                    };
                    match holder(&text) {
                        Some((pid, host)) if may_run(pid, &host) => {
                            return Err(SweepError::Locked {
                                dir: dir.to_path_buf(),
                                path,
                                pid,
                                host,
                            })
                        }
                        // Stale, or a file being written this instant
                        // (text not complete): only stale ones are removed.
                        Some(_) => match std::fs::remove_file(&path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(io(e)),
                        },
                        None => {
                            return Err(SweepError::Locked {
                                dir: dir.to_path_buf(),
                                path,
                                pid: 0,
                                host: "an unreadable lock file".to_string(),
                            })
                        }
                    }
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(io(std::io::Error::other(
            "the lock kept changing hands; try again",
        )))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes the lock of `dir` if this process holds it: for an exit that
/// runs no destructors (an interrupted sweep).
pub fn release_lock_if_mine(dir: &Path) {
    let path = lock_path(dir);
    if std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| holder(&t))
        .is_some_and(|(pid, host)| pid == std::process::id() && host == self::host())
    {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_dir_and_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(tmp.path()).unwrap();
        let e = DirLock::acquire(tmp.path()).unwrap_err().to_string();
        assert!(e.contains(&tmp.path().display().to_string()), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(held);
        assert!(!lock_path(tmp.path()).exists());
        DirLock::acquire(tmp.path()).unwrap();
    }

    #[test]
    fn a_stale_lock_of_a_dead_process_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        // A process that has exited (and been reaped): its pid is free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(
            lock_path(tmp.path()),
            format!("pid {dead}\nhost {}\n", host()),
        )
        .unwrap();
        let _held = DirLock::acquire(tmp.path()).unwrap();
        let text = std::fs::read_to_string(lock_path(tmp.path())).unwrap();
        assert_eq!(holder(&text).unwrap().0, std::process::id());
    }

    #[test]
    fn a_lock_of_another_host_is_held() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(lock_path(tmp.path()), "pid 1\nhost some-other-node\n").unwrap();
        let e = DirLock::acquire(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("pid 1 on some-other-node"), "{e}");
    }

    #[test]
    fn release_if_mine_keeps_another_holders_lock() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(lock_path(tmp.path()), "pid 1\nhost some-other-node\n").unwrap();
        release_lock_if_mine(tmp.path());
        assert!(lock_path(tmp.path()).exists());
        std::fs::remove_file(lock_path(tmp.path())).unwrap();
        let held = DirLock::acquire(tmp.path()).unwrap();
        release_lock_if_mine(tmp.path());
        assert!(!lock_path(tmp.path()).exists());
        drop(held);
    }
}
