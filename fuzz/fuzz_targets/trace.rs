//! Every trace-format reader on arbitrary bytes: the first byte picks the
//! format (tlbsim CSV, fio iolog, blkparse, MSR), the rest is the trace.
//! Each reader may refuse a line (a located error, after which it stops),
//! never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use traces::{Format, TraceReader};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = Format::ALL[usize::from(pick) % Format::ALL.len()];
    let device = if pick & 0x80 != 0 { Some(0) } else { None };
    let mut reader = TraceReader::from_reader(
        std::io::Cursor::new(rest.to_vec()),
        "fuzz",
        format,
        device,
    );
    while let Some(record) = reader.next_record() {
        if record.is_err() {
            break;
        }
    }
});
