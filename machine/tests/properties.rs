//! Model-level properties on random scenarios: whatever the machine, the
//! workload and the policy's parameters, safe policies never use a stale
//! translation, every IPI sent is received and flushes exactly once, and no
//! more I/Os complete than were issued.

use hypervisor::{BuildContext, RawValue, Registry};
use machine::{BackgroundConfig, HostConfig, LockWaiter, MachineConfig, SimConfig, StopConfig};
use proptest::prelude::*;
use workloads::{GuestConfig, Pattern, SizeSpec};

/// A random but valid machine and workload.
fn config() -> impl Strategy<Value = SimConfig> {
    (
        2u32..=12,
        1u32..=4,
        prop_oneof![Just(0.0), 0.0f64..0.5],
        (1u32..=3, 1u32..=12, 1u64..=16, any::<bool>()),
        (any::<bool>(), any::<bool>(), 0u8..3, any::<bool>()),
        any::<u64>(),
    )
        .prop_map(
            |(
                cpus,
                io,
                migration,
                (guests, depth, max_pages, open),
                (lock, through, waiter, bg),
                seed,
            )| {
                let io = io.min(cpus);
                let guest = GuestConfig {
                    pattern: if open { Pattern::Open } else { Pattern::Closed },
                    rate_iops: 200_000.0,
                    queue_depth: depth,
                    queues: io,
                    size_bytes: SizeSpec::Uniform {
                        min: 4096,
                        max: 4096 * max_pages,
                        align: 4096,
                    },
                    ..GuestConfig::default()
                };
                SimConfig {
                    seed,
                    stop: StopConfig {
                        ios: 400,
                        warmup_ios: 40,
                        max_cycles: 0,
                    },
                    machine: MachineConfig {
                        cpus,
                        ..MachineConfig::default()
                    },
                    host: HostConfig {
                        io_cpus: io,
                        migration_probability: migration,
                        map_lock: lock,
                        map_lock_through_flush: through,
                        map_lock_waiter: [
                            LockWaiter::Sleep,
                            LockWaiter::Spin,
                            LockWaiter::SpinThenSleep,
                        ][usize::from(waiter)],
                        ..HostConfig::default()
                    },
                    background: BackgroundConfig {
                        enabled: bg,
                        ..BackgroundConfig::default()
                    },
                    guests: vec![guest; guests as usize],
                    ..SimConfig::default()
                }
            },
        )
}

/// A built-in safe policy with random parameters.
fn safe_policy() -> impl Strategy<Value = (&'static str, Vec<(String, RawValue)>)> {
    prop_oneof![
        (
            prop_oneof![Just("full"), Just("range")],
            prop_oneof![Just("request"), Just("page")],
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(flush, per, lock, lazy)| (
                "global",
                vec![
                    ("flush".to_string(), RawValue::Str(flush.into())),
                    ("per".to_string(), RawValue::Str(per.into())),
                    ("flush_lock".to_string(), RawValue::Bool(lock)),
                    ("lazy_tlb".to_string(), RawValue::Bool(lazy)),
                ]
            )),
        Just(("percpu", Vec::new())),
    ]
}

fn run(cfg: &SimConfig, name: &str, params: &[(String, RawValue)]) -> machine::RunResult {
    let registry = Registry::builtin();
    let spec = registry.resolve(name, params).expect("valid parameters");
    let ctx = BuildContext {
        max_request_pages: cfg.max_request_pages(),
    };
    let policy = registry.build(&spec, &ctx).expect("builds");
    machine::run(cfg, policy).expect("runs").0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn safe_policies_never_go_stale_and_ipis_balance(
        cfg in config(),
        (name, params) in safe_policy(),
    ) {
        prop_assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        let r = run(&cfg, name, &params);
        prop_assert_eq!(r.stale_uses(), 0, "{} {:?}", name, params);
        // Received IPIs are those of shootdowns begun inside the window, so
        // none is received without being sent; the ones still in flight
        // when the run stops (at most one shootdown per backend) are sent
        // and not received.
        let in_flight = u64::from(cfg.host.io_cpus) * u64::from(cfg.machine.cpus - 1);
        prop_assert!(
            r.ipis_received() <= r.ipis_sent() && r.ipis_sent() - r.ipis_received() <= in_flight,
            "sent {} received {} (at most {} in flight at the stop)",
            r.ipis_sent(),
            r.ipis_received(),
            in_flight
        );
        prop_assert_eq!(r.flushes().remote, r.ipis_received(), "one remote flush per IPI");
        prop_assert!(r.io_completed <= 400);
        prop_assert!(r.io_completed > 0);
        let per_cpu_sent: u64 = r.per_cpu.iter().map(|c| c.ipis_sent).sum();
        prop_assert_eq!(per_cpu_sent, r.ipis_sent());
        if name == "percpu" {
            prop_assert_eq!(r.ipis_sent(), 0);
        }
    }

    #[test]
    fn the_unsafe_variant_goes_stale_once_threads_migrate(cfg in config()) {
        let mut cfg = cfg;
        cfg.host.migration_probability = 0.4;
        cfg.stop.ios = 1_500;
        let r = run(&cfg, "percpu-unsafe", &[]);
        prop_assert!(r.stale_uses() > 0, "{} migrations, no stale use", r.migrations);
    }
}
