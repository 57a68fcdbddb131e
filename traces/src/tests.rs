use super::*;

fn read(
    text: &'static str,
    format: Format,
    device: Option<u32>,
) -> Vec<Result<Record, TraceError>> {
    TraceReader::from_reader(text.as_bytes(), "t.trace", format, device).collect()
}

fn ok(text: &'static str, format: Format) -> Vec<Record> {
    read(text, format, None)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn err(text: &'static str, format: Format) -> String {
    let all = read(text, format, None);
    let e = all.into_iter().find_map(Result::err).expect("an error");
    e.to_string()
}

#[test]
fn tlbsim_csv_reads_and_filters() {
    let t = "time_ns,guest,queue,op,offset,size\n0,0,1,R,4096,4096\n\n# c\n10,1,0,write,0,8192\n20,0,0,w,0,512";
    let r = ok(t, Format::Tlbsim);
    assert_eq!(r.len(), 3);
    assert_eq!(
        r[0],
        Record {
            at_ns: 0,
            device: 0,
            queue: 1,
            read: true,
            offset: 4096,
            size: 4096
        }
    );
    assert!(!r[1].read);
    assert_eq!(
        r[2].size, 512,
        "a complete last line without newline is fine"
    );
    let only1: Vec<_> = read(t, Format::Tlbsim, Some(1))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(only1.len(), 1);
    assert_eq!(only1[0].at_ns, 10);
}

#[test]
fn tlbsim_errors_name_file_and_line() {
    let e = err(
        "time_ns,guest,queue,op,offset,size\n0,0,0,R,0,4096\n5,0,0,X,0,4096\n",
        Format::Tlbsim,
    );
    assert!(e.starts_with("t.trace:3: op must be R or W"), "{e}");
    let e = err("time,guest\n", Format::Tlbsim);
    assert!(e.starts_with("t.trace:1: expected the header"), "{e}");
    let e = err("", Format::Tlbsim);
    assert!(e.contains("empty trace"), "{e}");
    let e = err(
        "time_ns,guest,queue,op,offset,size\n1,0,0,R,0,0\n",
        Format::Tlbsim,
    );
    assert!(e.starts_with("t.trace:2: size must be positive"), "{e}");
}

#[test]
fn truncated_last_line_is_reported() {
    let e = err(
        "time_ns,guest,queue,op,offset,size\n0,0,0,R,0,4096\n10,0,0,R",
        Format::Tlbsim,
    );
    assert!(e.starts_with("t.trace:3: truncated trace"), "{e}");
    let e = err(
        "fio version 3 iolog\n1 /f add\n2 /f read 0 4096\n3 /f wri",
        Format::Fio,
    );
    assert!(e.starts_with("t.trace:4: truncated trace"), "{e}");
    let e = err("1,h,0,Read,0,4096,5\n2,h,0,Read,0,40", Format::Msr);
    assert!(e.starts_with("t.trace:2: truncated trace"), "{e}");
    // Nothing after an error.
    let all = read(
        "time_ns,guest,queue,op,offset,size\nx\n0,0,0,R,0,1\n",
        Format::Tlbsim,
        None,
    );
    assert_eq!(all.len(), 1);
    assert!(all[0].is_err());
}

#[test]
fn fio_v3_timestamps_are_microseconds() {
    let t = "fio version 3 iolog\n21 /d/a add\n30 /d/b add\n139 /d/a open\n143 /d/a read 249856 4096\n150 /d/b write 0 8192\n160 /d/a sync 0 0\n1016 /d/a close\n";
    let r = ok(t, Format::Fio);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].at_ns, 143_000);
    assert_eq!(
        (r[0].device, r[0].read, r[0].offset, r[0].size),
        (0, true, 249_856, 4096)
    );
    assert_eq!((r[1].device, r[1].read, r[1].size), (1, false, 8192));
    let b: Vec<_> = read(t, Format::Fio, Some(1))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(b.len(), 1);
}

#[test]
fn fio_v2_times_come_from_waits() {
    let t = "fio version 2 iolog\n/f add\n/f open\n/f read 0 4096\n/f wait 250 0\n/f write 4096 4096\n/f wait 100 0\n/f read 0 4096\n/f close\n";
    let r = ok(t, Format::Fio);
    let at: Vec<u64> = r.iter().map(|r| r.at_ns).collect();
    assert_eq!(at, [0, 250_000, 350_000]);
    let e = err("fio version 2 iolog\n/f add\n/f fly 0 1\n", Format::Fio);
    assert!(e.starts_with("t.trace:3: unknown action `fly`"), "{e}");
    let e = err("fio version 4 iolog\n", Format::Fio);
    assert!(
        e.starts_with("t.trace:1: expected `fio version 2 iolog`"),
        "{e}"
    );
    let e = err("fio version 3 iolog\nabc /f read 0 1\n", Format::Fio);
    assert!(e.starts_with("t.trace:2: the timestamp"), "{e}");
}

const BLKPARSE: &str = "  8,0    3        1     0.000000000   697  Q  WS 3417048 + 8 [kworker/3:1H]
  8,0    3        2     0.000001344   697  G  WS 3417048 + 8 [kworker/3:1H]
  8,0    3        3     0.000002541   697  P   N [kworker/3:1H]
  8,0    3        5     0.000005000   697  D  WS 3417048 + 8 [kworker/3:1H]
  8,16   1        1     0.000100000  1234  Q   R 2048 + 256 [fio]
  8,16   1        2     0.000200000  1234  Q  FWS 0 + 0 [fio]
  8,16   1        3     0.000300000  1234  Q   D 4096 + 8 [fstrim]
  8,0    1        4     1.5  0  C  WS 3417048 + 8 [0]
CPU1 (8,0):
 Reads Queued:           0,        0KiB\t Writes Queued:           1,        4KiB
Total (8,0):
Throughput (R/W): 0KiB/s / 1KiB/s
";

#[test]
fn blkparse_uses_queue_events() {
    let r = ok(BLKPARSE, Format::Blkparse);
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0],
        Record {
            at_ns: 0,
            device: 8 * 256,
            queue: 3,
            read: false,
            offset: 3_417_048 * 512,
            size: 4096
        }
    );
    assert_eq!(
        (r[1].at_ns, r[1].device, r[1].read, r[1].size),
        (100_000, 8 * 256 + 16, true, 256 * 512)
    );
    let e = err(
        "  8,0 3 1 0.000000000 697 Q WS 34 + x [k]\n",
        Format::Blkparse,
    );
    assert!(e.starts_with("t.trace:1: the sector count"), "{e}");
    let e = err("hello\n", Format::Blkparse);
    assert!(e.starts_with("t.trace:1: not a blkparse event line"), "{e}");
    let e = err("  8,0 3 1 0.000000000 697 Q WS 34 + 8", Format::Blkparse);
    assert!(e.starts_with("t.trace:1: truncated trace"), "{e}");
}

#[test]
fn msr_filetime_is_100ns_ticks_from_the_first_record() {
    let t = "Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n128166372003061629,hm,1,Read,1271652864,4096,51023\n128166372003061729,hm,0,Write,0,65536,100\n";
    let r = ok(t, Format::Msr);
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].at_ns, r[0].device, r[0].read), (0, 1, true));
    assert_eq!(
        (r[1].at_ns, r[1].device, r[1].read, r[1].size),
        (10_000, 0, false, 65536)
    );
    let e = err("1,h,0,Peek,0,1,1\n", Format::Msr);
    assert!(
        e.starts_with("t.trace:1: Type must be Read or Write"),
        "{e}"
    );
}

#[test]
fn convert_round_trips_and_stats_count() {
    let t = "fio version 3 iolog\n1 /f add\n2 /f read 0 4096\n3 /f write 4096 6000\n2500 /f read 0 4096\n";
    let mut out = Vec::new();
    let n = write_tlbsim(
        TraceReader::from_reader(t.as_bytes(), "in", Format::Fio, None),
        &mut out,
        "out",
    )
    .unwrap();
    assert_eq!(n, 3);
    let csv = String::from_utf8(out).unwrap();
    assert_eq!(
        csv,
        "time_ns,guest,queue,op,offset,size\n2000,0,0,R,0,4096\n3000,0,0,W,4096,6000\n2500000,0,0,R,0,4096\n"
    );
    let back: Vec<Record> = TraceReader::from_reader(
        std::io::Cursor::new(csv.into_bytes()),
        "csv",
        Format::Tlbsim,
        None,
    )
    .map(Result::unwrap)
    .collect();
    let orig: Vec<Record> = TraceReader::from_reader(t.as_bytes(), "in", Format::Fio, None)
        .map(Result::unwrap)
        .collect();
    assert_eq!(back, orig);

    let s = TraceStats::collect(orig.into_iter().map(Ok)).unwrap();
    assert_eq!((s.records, s.reads, s.writes()), (3, 2, 1));
    assert_eq!(s.sizes.get(&4096), Some(&2));
    assert_eq!(s.sizes.get(&8192), Some(&1));
    assert_eq!(s.rate, vec![2, 0, 1]);
    let text = s.to_string();
    assert!(text.contains("requests     3"), "{text}");
}

#[test]
fn rate_buckets_stay_bounded() {
    let mut s = TraceStats::collect(std::iter::empty()).unwrap();
    for i in 0..10_000u64 {
        s.add(&Record {
            at_ns: i * 1_000_000_000,
            device: 0,
            queue: 0,
            read: true,
            offset: 0,
            size: 1,
        });
    }
    assert!(s.rate.len() <= 1024);
    assert_eq!(s.rate.iter().sum::<u64>(), 10_000);
    assert_eq!(
        s.rate_rows(20).iter().map(|r| r.requests).sum::<u64>(),
        10_000
    );
    assert!(s.rate_rows(20).len() <= 20);
}

#[test]
fn formats_parse_by_name() {
    for f in Format::ALL {
        assert_eq!(f.name().parse::<Format>().unwrap(), f);
    }
    assert_eq!(
        Format::ALL.map(Format::name),
        workloads::TRACE_FORMATS,
        "the machine's list of formats and this crate's agree"
    );
    assert!("csv".parse::<Format>().is_err());
}
