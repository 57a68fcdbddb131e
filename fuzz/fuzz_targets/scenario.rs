//! The scenario loader on arbitrary bytes: it may refuse them (a located
//! error), never panic or hang. The loader reads files, so each input is
//! written to one temporary file (tmpfs-backed /tmp in CI).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("tlbsim-fuzz-{}.toml", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let _ = scenarios::load(&path.display().to_string(), &[]);
    }
});
