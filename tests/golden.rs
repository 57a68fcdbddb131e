//! Golden outputs: the whole `summary.json` of every bundled scenario and of
//! configurations that exercise each knob must stay byte-identical across
//! refactors and performance work.
//!
//! Each case runs the real binary (`tlbsim run SCENARIO --set ... --out DIR`)
//! and compares the file it writes with `tests/golden/NAME.summary.json`,
//! whole, printing a unified diff on a mismatch. The one field masked is the
//! scenario hash: it identifies the *input* (a change of the scenario format
//! changes it) and is checked by the scenarios crate's own tests; every
//! simulated statistic is compared.
//!
//! A change that is meant to alter results re-blesses the files with
//! `TLBSIM_BLESS=1 cargo nextest run --release --test golden` and says why
//! in its commit.

mod common;

use common::{text, tlbsim};
use std::path::{Path, PathBuf};

/// I/Os of the measured window and of the warm-up in synthetic cases: long
/// enough to reach every phase and lock path, short enough for CI.
const STOP: [&str; 2] = ["stop.ios=3000", "stop.warmup_ios=300"];

/// The background model of every case but the `curve-` ones: the exact
/// replay, so these files pin the exact path (every optimisation of it
/// must leave them byte-identical), while the `curve-` cases pin the
/// default model on every bundled scenario.
const EXACT: &str = "background.model=\"exact\"";

/// One golden case: its file name, the scenario, and its overrides.
struct Case {
    name: &'static str,
    scenario: &'static str,
    policies: &'static str,
    sets: Vec<String>,
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn case(name: &'static str, scenario: &'static str, sets: &[&str]) -> Case {
    let mut all: Vec<String> = STOP.iter().map(|s| (*s).to_string()).collect();
    all.push(EXACT.to_string());
    all.extend(sets.iter().map(|s| (*s).to_string()));
    Case {
        name,
        scenario,
        policies: "global,percpu,percpu-unsafe",
        sets: all,
    }
}

/// A trace guest replaying `file` (in `tests/golden/traces` or `traces/`).
fn trace_case(name: &'static str, file: &str, format: &str) -> Case {
    let path = repo(file);
    Case {
        name,
        scenario: "fio-replay",
        policies: "global,percpu",
        sets: vec![
            format!("guests.0.trace=\"{}\"", path.display()),
            format!("guests.0.trace_format=\"{format}\""),
            EXACT.to_string(),
        ],
    }
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // Every bundled scenario, shortened (trace scenarios replay whole).
    for name in [
        "default",
        "fixed-baseline",
        "blkif",
        "blkback-async",
        "large",
        "linux-vm2",
        "migration",
        "netif",
        "vm-host",
        "xen-netback",
    ] {
        let mut c = case(name, name, &[]);
        c.name = Box::leak(format!("bundled-{name}").into_boxed_str());
        // The same under the default background model.
        let mut curve = case(name, name, &[]);
        curve.sets.retain(|s| s != EXACT);
        curve.name = Box::leak(format!("curve-bundled-{name}").into_boxed_str());
        v.push(c);
        v.push(curve);
    }
    v.push(Case {
        name: "bundled-fio-replay",
        scenario: "fio-replay",
        policies: "global,percpu",
        sets: vec![EXACT.to_string()],
    });
    // Each knob, on the previous default (every cost fixed).
    v.push(case(
        "knob-migration",
        "fixed-baseline",
        &["host.migration_probability=0.35"],
    ));
    v.push(case(
        "knob-range-page-touch",
        "fixed-baseline",
        &[
            "policy.global.flush=range",
            "host.touch=page-lookup",
            "guests.0.size_bytes={ min = 4096, max = 45056, align = 4096 }",
        ],
    ));
    v.push(case(
        "knob-per-page-shootdown",
        "fixed-baseline",
        &[
            "policy.global.per=page",
            "guests.0.size_bytes={ min = 4096, max = 32768, align = 4096 }",
        ],
    ));
    v.push(case(
        "knob-no-flush-lock",
        "fixed-baseline",
        &["policy.global.flush_lock=false"],
    ));
    v.push(case(
        "knob-lazy-tlb",
        "fixed-baseline",
        &[
            "policy.global.lazy_tlb=true",
            "host.migration_probability=0.1",
            "guests.0.pattern=open",
            "guests.0.rate_iops=60000",
            "guests.1.pattern=open",
            "guests.1.rate_iops=60000",
        ],
    ));
    v.push(case(
        "knob-map-lock-sleep",
        "fixed-baseline",
        &["host.map_lock=true"],
    ));
    v.push(case(
        "knob-map-lock-spin-through-flush",
        "fixed-baseline",
        &[
            "host.map_lock=true",
            "host.map_lock_waiter=spin",
            "host.map_lock_through_flush=true",
        ],
    ));
    v.push(case(
        "knob-map-lock-spin-then-sleep-lazy",
        "fixed-baseline",
        &[
            "host.map_lock=true",
            "host.map_lock_waiter=spin-then-sleep",
            "policy.global.lazy_tlb=true",
            "host.io_cpus=4",
            "guests.0.queues=4",
            "guests.1.queues=4",
            "host.process_cycles=30000",
        ],
    ));
    v.push(case(
        "knob-process-fixed",
        "fixed-baseline",
        &["host.process_cycles=20000"],
    ));
    v.push(case(
        "knob-process-exponential",
        "fixed-baseline",
        &[
            "host.process_cycles=20000",
            "host.process_distribution=exponential",
        ],
    ));
    v.push(case(
        "knob-vm-open-loop",
        "fixed-baseline",
        &[
            "costs.preset=vm",
            "policy.global.flush_lock=false",
            "host.io_cpus=4",
            "guests.1.pattern=open",
            "guests.1.rate_iops=300000",
        ],
    ));
    v.push(case(
        "knob-touch-dma",
        "fixed-baseline",
        &["host.touch=dma"],
    ));
    v.push(case(
        "knob-touch-header-open",
        "fixed-baseline",
        &[
            "host.touch=header",
            "host.touch_header_bytes=200",
            "guests.1.pattern=open",
            "guests.1.rate_iops=100000",
        ],
    ));
    v.push(case(
        "knob-touch-page",
        "fixed-baseline",
        &["host.touch=page"],
    ));
    // Issue 10's scope and variability knobs, together.
    v.push(case(
        "knob-mm-cpumask-thread-migration-varied",
        "fixed-baseline",
        &[
            "host.shootdown_scope=mm-cpumask",
            "host.migration_level=thread",
            "host.migration_probability=0.2",
            "policy.global.lazy_tlb=true",
            "variability.costs.ipi_handler_cycles={ dist = \"lognormal\", cv = 0.5 }",
            "variability.irq_off={ probability = 0.05, mean_cycles = 5000 }",
        ],
    ));
    v.push(case(
        "knob-shared-flush-lock-local-first",
        "fixed-baseline",
        &[
            "host.other_domain_flushes_per_sec=20000.0",
            "host.local_flush_before_lock=true",
            "host.process_cycles=2000",
            "host.process_distribution={ dist = \"uniform\", spread = 0.5 }",
        ],
    ));
    v.push(case(
        "knob-device-exponential",
        "fixed-baseline",
        &[
            "host.device_cycles=30000",
            "host.device_distribution=exponential",
        ],
    ));
    // The asynchronous I/O path (issue 11): deep queues of 64 KiB requests
    // whose pages outnumber percpu's slots (it waits for completions),
    // with a per-KiB device term, a backend working set, a shared grant
    // lock and drained rings.
    v.push(case(
        "io-async-slots",
        "fixed-baseline",
        &[
            "io.asynchronous=true",
            "io.device_cycles_per_kib=500",
            "io.backend_working_set_pages=64",
            "io.drain_requests=8",
            "host.map_lock=true",
            "io.map_lock_kind=reader-writer",
            "host.device_cycles=50000",
            "host.touch=header",
            "guests.0.queue_depth=32",
            "guests.1.queue_depth=32",
            "guests.0.size_bytes=65536",
            "guests.1.size_bytes=65536",
            "stop.ios=4000",
            "stop.warmup_ios=400",
        ],
    ));
    // The alternative policies (only here, so that the cases above keep
    // their files), under migration so that `targeted` has holders to hit.
    v.push(Case {
        policies: "batched,batched-unsafe,broadcast,hypercall-flush,targeted,kmap",
        ..case(
            "alternatives-migration",
            "fixed-baseline",
            &["host.migration_probability=0.35", "policy.kmap.slots=256"],
        )
    });
    // Issue 9's remaining policies under migration (persistent through a
    // pool smaller than the guests' buffers, so it purges; a short tick).
    v.push(Case {
        policies: "persistent,copy,epoch,epoch-unsafe,broadcast-targeted",
        ..case(
            "alternatives-2-migration",
            "fixed-baseline",
            &[
                "host.migration_probability=0.35",
                "policy.persistent.grants=512",
                "policy.epoch.tick_cycles=50000",
                "policy.epoch-unsafe.tick_cycles=50000",
            ],
        )
    });
    // Each trace format.
    v.push(trace_case(
        "trace-tlbsim",
        "tests/golden/traces/fio-head.tlbsim.csv",
        "tlbsim",
    ));
    v.push(trace_case("trace-fio", "traces/fio-randrw.iolog", "fio"));
    v.push(trace_case(
        "trace-blkparse",
        "tests/golden/traces/synthetic.blkparse",
        "blkparse",
    ));
    v.push(trace_case("trace-msr", "traces/msr-sample.csv", "msr"));
    let mut split = trace_case("trace-fio-split-blkif", "traces/fio-randrw.iolog", "fio");
    split.sets.push("guests.0.split=\"blkif\"".to_string());
    v.push(split);
    // Issue 10's Linux re-run: tlbpat's global pattern with the rwsem's
    // lock stealing on vCPUs shared with neighbours (EEVDF's 0.75 ms
    // slice), KVM's PV flush skipping the absent worker.
    v.push(case(
        "knob-map-lock-steal-vcpu",
        "linux-vm2",
        &[
            "policies=[\"global\"]",
            "host.map_lock_steal=true",
            "vcpu.overcommit=2",
            "vcpu.tenant_load=0.3",
            "vcpu.host_slice_us=750.0",
            "vcpu.pv_tlb_flush=\"on\"",
            "stop.ios=5000",
            "stop.warmup_ios=500",
        ],
    ));
    // Issue 11's drained unmaps: a drain's finished requests unmapped in
    // one hypercall with one shootdown (xen-netback's dealloc thread).
    v.push(case(
        "io-drain-unmaps",
        "fixed-baseline",
        &[
            "io.asynchronous=true",
            "io.drain_requests=8",
            "io.drain_unmaps=true",
            "host.device_cycles=100000",
            "host.touch=dma",
            "guests.0.queue_depth=32",
            "guests.1.queue_depth=32",
            "guests.0.size_bytes=65536",
            "guests.1.size_bytes=65536",
            "stop.ios=3000",
            "stop.warmup_ios=300",
        ],
    ));
    // Issue 11's backend threads: two per CPU, each with its own rings,
    // percpu's 16 slots saved and restored at each switch (kmap_local).
    v.push(case(
        "io-threads-kmap-local",
        "fixed-baseline",
        &[
            "io.asynchronous=true",
            "io.threads_per_cpu=2",
            "host.device_cycles=100000",
            "guests.0.queues=4",
            "guests.1.queues=4",
            "guests.0.queue_depth=32",
            "guests.1.queue_depth=32",
            "guests.0.size_bytes=65536",
            "guests.1.size_bytes=65536",
            "guests.0.read_fraction=0.5",
            "guests.1.read_fraction=0.5",
            "policy.percpu.slots_per_cpu=16",
            "policy.percpu-unsafe.slots_per_cpu=16",
            "stop.ios=2000",
            "stop.warmup_ios=200",
        ],
    ));
    // Issue 11's bounded device: 4 requests served at once, FIFO.
    v.push(case(
        "io-device-queues",
        "fixed-baseline",
        &[
            "io.asynchronous=true",
            "io.device_queues=4",
            "host.device_cycles=50000",
            "host.device_distribution=exponential",
            "guests.0.queue_depth=16",
            "guests.1.queue_depth=16",
            "stop.ios=3000",
            "stop.warmup_ios=300",
        ],
    ));
    // Issue 10's KVM broadcast to idle vCPUs: the sender kicks each
    // blocked halted target (kvm-guest's measured kick) inside its one PV
    // send-IPI hypercall, the targets wake on their side.
    v.push(case(
        "knob-kvm-halted-kick-pv",
        "fixed-baseline",
        &[
            "costs.preset=\"kvm-guest\"",
            "machine.cpus=16",
            "machine.ipi_delivery=\"pv-send-ipi\"",
            "idle.halted_vcpu=true",
            "idle.halt_poll_us=0.0",
            "background.enabled=false",
            "stop.ios=3000",
            "stop.warmup_ios=300",
        ],
    ));
    // Issue 11's header copy with frags: MTU-sized packets on netback's
    // path, the first 128 bytes grant-copied, the rest of each packet's
    // page mapped (one map hypercall and one copy hypercall per drain of
    // 64), unmapped with Xen's flush.
    v.push(case(
        "io-header-copy-frags",
        "xen-netback",
        &[
            "policies=[\"global\", \"percpu\"]",
            "guests.0.size_bytes=1514",
            "host.io_cpus=2",
            "guests.0.queues=2",
            "guests.0.queue_depth=512",
            "stop.ios=3000",
            "stop.warmup_ios=300",
        ],
    ));
    v
}

/// `summary.json` with the scenario hash replaced by `-`.
fn mask_hash(summary: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(summary).expect("summary.json is JSON");
    v["scenario"]["hash"] = serde_json::Value::String("-".into());
    let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialize");
    s.push('\n');
    s
}

fn run_case(c: &Case) -> String {
    let mut args: Vec<String> = vec![
        "run".into(),
        c.scenario.into(),
        "--policies".into(),
        c.policies.into(),
        "--jobs".into(),
        "1".into(),
        "--json".into(),
    ];
    for s in &c.sets {
        args.push("--set".into());
        args.push(s.clone());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = tlbsim(&refs);
    assert!(
        o.status.success(),
        "case {}: tlbsim {} failed:\n{}",
        c.name,
        args.join(" "),
        text(&o.stderr)
    );
    mask_hash(&text(&o.stdout))
}

#[test]
fn summaries_match_golden_files() {
    let bless = std::env::var_os("TLBSIM_BLESS").is_some();
    let dir = repo("tests/golden");
    let cases = cases();
    // Two runs at a time (CI has two cores); results do not depend on it.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut outputs: Vec<(usize, String)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(c) = cases.get(i) else { break done };
                        done.push((i, run_case(c)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("golden worker"))
            .collect()
    });
    outputs.sort_by_key(|(i, _)| *i);
    let mut failures = Vec::new();
    for (c, (_, got)) in cases.iter().zip(outputs) {
        let path = dir.join(format!("{}.summary.json", c.name));
        if bless {
            std::fs::write(&path, &got).expect("write golden file");
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (create it with TLBSIM_BLESS=1 if the case is new)",
                path.display()
            )
        });
        if want != got {
            let diff = similar::TextDiff::from_lines(&want, &got);
            eprintln!(
                "--- golden {} differs:\n{}",
                c.name,
                diff.unified_diff()
                    .context_radius(2)
                    .header("golden", "this build")
            );
            failures.push(c.name);
        }
    }
    assert!(
        failures.is_empty(),
        "simulated statistics changed for {failures:?} (diffs above; re-bless only \
         with TLBSIM_BLESS=1 and a commit saying why)"
    );
}

#[test]
fn every_bundled_scenario_has_a_golden_case() {
    let o = tlbsim(&["scenarios"]);
    assert!(o.status.success());
    let names: Vec<String> = cases().iter().map(|c| c.name.to_string()).collect();
    for line in text(&o.stdout).lines() {
        let s = line.split_whitespace().next().unwrap_or_default();
        assert!(
            names.contains(&format!("bundled-{s}")),
            "bundled scenario {s} has no golden case"
        );
    }
}
