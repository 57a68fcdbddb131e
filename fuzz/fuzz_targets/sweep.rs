//! The sweep-file parser on arbitrary text: it may refuse it (a located
//! error), never panic or hang. A relative `base` resolves against no
//! directory, so only bundled scenarios can be named.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sweeps::SweepSpec::parse("fuzz", "fuzz.toml", text, None);
    }
});
