//! SIGINT and SIGTERM: stop at once, leaving only whole files.
//!
//! A thread waits for either signal (`signal-hook`'s iterator: the handler
//! only writes to a pipe, and everything else runs on that ordinary
//! thread, so no work happens in signal context). On the first one it
//! removes the temporary files of the atomic writes in progress and blocks
//! new ones ([`reports::abandon_writes`]), runs the cleanups registered with
//! [`on_stop`] (a sweep's lock file), says what was kept, and exits with
//! 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as shells do.
//! Simulations in progress are abandoned: a sweep keeps every point file
//! already written, and a rerun of the same command resumes from them.

use std::sync::{Mutex, PoisonError};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

type Cleanup = Box<dyn FnOnce() + Send>;

/// What to do, and say, before exiting on a signal.
static ON_STOP: Mutex<Vec<(Cleanup, String)>> = Mutex::new(Vec::new());

/// Registers `cleanup` and the line `note` (printed after it) for an exit
/// on a signal.
pub fn on_stop(cleanup: impl FnOnce() + Send + 'static, note: String) {
    ON_STOP
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((Box::new(cleanup), note));
}

/// Starts the thread that handles SIGINT and SIGTERM.
///
/// # Errors
/// The handlers or the thread cannot be installed.
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                reports::abandon_writes();
                let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                eprintln!("tlbsim: stopped by {name}: simulations in progress were abandoned; every file written is whole");
                let stops = std::mem::take(&mut *ON_STOP.lock().unwrap_or_else(PoisonError::into_inner));
                for (cleanup, note) in stops {
                    cleanup();
                    eprintln!("tlbsim: {note}");
                }
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}
