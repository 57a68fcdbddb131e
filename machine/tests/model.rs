//! Scenario-level properties of the machine model, on plain configs.

use cpu_model::{
    broadcast_shootdown_latency_cycles, halted_targets_extra_cycles, shootdown_latency_cycles,
    CostTable, IpiDeliveryMode,
};
use hypervisor::{BuildContext, MappingPolicy, RawValue, Registry};
use machine::{run, BackgroundConfig, HostConfig, RunResult, SimConfig, StopConfig};
use workloads::{GuestConfig, Pattern, SizeSpec};

fn base(ios: u64) -> SimConfig {
    SimConfig {
        stop: StopConfig {
            ios,
            warmup_ios: ios / 10,
            max_cycles: 0,
        },
        guests: vec![
            GuestConfig {
                queue_depth: 8,
                ..GuestConfig::default()
            };
            2
        ],
        ..SimConfig::default()
    }
}

/// The built-in policy `name` with these parameters (defaults otherwise).
fn policy(cfg: &SimConfig, name: &str, params: &[(&str, RawValue)]) -> Box<dyn MappingPolicy> {
    let r = Registry::builtin();
    let raw: Vec<(String, RawValue)> = params
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    let spec = r.resolve(name, &raw).expect("valid parameters");
    let ctx = BuildContext {
        max_request_pages: cfg.max_request_pages(),
    };
    r.build(&spec, &ctx).expect("builds")
}

fn go(cfg: &SimConfig, name: &str) -> RunResult {
    go_with(cfg, name, &[])
}

fn go_with(cfg: &SimConfig, name: &str, params: &[(&str, RawValue)]) -> RunResult {
    run(cfg, policy(cfg, name, params))
        .expect("simulation runs")
        .0
}

/// `global` with lazy TLB.
const LAZY: (&str, RawValue) = ("lazy_tlb", RawValue::Bool(true));

#[test]
fn eight_cpus_two_registered_no_migration() {
    let cfg = base(4_000);
    assert_eq!((cfg.machine.cpus, cfg.host.io_cpus), (8, 2));
    let g = go(&cfg, "global");
    let p = go(&cfg, "percpu");
    assert_eq!(g.io_completed, 4_000);
    assert_eq!(
        g.ipis_sent(),
        7 * g.io_completed,
        "global: one shootdown of 7 IPIs per I/O"
    );
    assert_eq!(g.ipis_received(), g.ipis_sent());
    assert_eq!(g.flushes().remote, 7 * g.io_completed);
    assert_eq!(p.ipis_sent(), 0);
    assert_eq!(p.flushes().remote, 0);
    assert_eq!(p.stolen_cycles(), 0);
    assert!(g.stolen_cycles() > 0);
    assert_eq!(g.stale_uses(), 0);
    assert_eq!(p.stale_uses(), 0);
    assert!(
        p.latency.p50 < g.latency.p50,
        "p50 {} vs {}",
        p.latency.p50,
        g.latency.p50
    );
    assert!(
        p.latency.p99 < g.latency.p99,
        "p99 {} vs {}",
        p.latency.p99,
        g.latency.p99
    );
    // percpu flushes one page locally per mapped page.
    assert_eq!(p.flushes().local_page, p.io_completed);
    // Shootdowns wipe the background's TLB: it misses far more under global.
    let (ga, _) = g.background();
    let (pa, _) = p.background();
    assert!(ga > 0 && pa > 0);
    let bg_misses = |r: &RunResult| {
        r.per_cpu
            .iter()
            .filter(|c| !c.registered)
            .map(|c| c.tlb.misses)
            .sum::<u64>()
    };
    assert!(bg_misses(&g) > 10 * bg_misses(&p).max(1));
}

#[test]
fn migration_needs_claim_step_7() {
    let mut cfg = base(4_000);
    cfg.host.migration_probability = 0.2;
    let p = go(&cfg, "percpu");
    let u = go(&cfg, "percpu-unsafe");
    let still = go(&base(4_000), "percpu");
    assert!(p.migrations > 0);
    assert_eq!(p.stale_uses(), 0, "percpu stays correct under migration");
    assert_eq!(p.ipis_sent(), 0);
    assert!(
        p.flushes().local_page > still.flushes().local_page,
        "foreign CPUs flush before access"
    );
    assert!(
        u.stale_uses() > 0,
        "without step 7 migrated threads use stale translations"
    );
    let g = go(&cfg, "global");
    assert_eq!(g.stale_uses(), 0);
}

#[test]
fn same_seed_same_result_other_seed_differs() {
    let mut cfg = base(2_000);
    cfg.host.migration_probability = 0.1;
    let a = go(&cfg, "global");
    let b = go(&cfg, "global");
    assert_eq!(a, b);
    cfg.seed = 99;
    let c = go(&cfg, "global");
    assert_ne!(a.per_cpu, c.per_cpu);
}

/// With one backend CPU (no lock contention, no other shootdowns) and fixed
/// costs, each I/O's flush wait is exactly the documented closed form: the
/// unicast one in target count, and each delivery mode's, for both flush
/// kinds and both a bare-metal and a trapping (`kvm-guest`) cost table.
#[test]
fn shootdown_latency_equals_closed_form() {
    for costs in [CostTable::bare_metal(), CostTable::kvm_guest()] {
        for mode in IpiDeliveryMode::ALL {
            for cpus in [2u32, 8, 16, 64] {
                for flush in ["full", "range"] {
                    let cfg = SimConfig {
                        machine: machine::MachineConfig {
                            cpus,
                            ipi_delivery: mode,
                            ..Default::default()
                        },
                        costs: costs.clone(),
                        host: HostConfig {
                            io_cpus: 1,
                            ..HostConfig::default()
                        },
                        stop: StopConfig {
                            ios: 200,
                            warmup_ios: 20,
                            max_cycles: 0,
                        },
                        guests: vec![GuestConfig {
                            queue_depth: 1,
                            size_bytes: SizeSpec::Fixed(8192),
                            ..GuestConfig::default()
                        }],
                        ..SimConfig::default()
                    };
                    let r = go_with(&cfg, "global", &[("flush", RawValue::Str(flush.into()))]);
                    let (local, remote) = match flush {
                        "full" => (cfg.costs.full_flush_cycles, cfg.costs.full_flush_cycles),
                        _ => (2 * cfg.costs.invlpg_cycles, 2 * cfg.costs.invlpg_cycles),
                    };
                    let expect = broadcast_shootdown_latency_cycles(
                        &cfg.costs, mode, cpus, 0, local, remote, true,
                    );
                    let what = format!(
                        "{mode:?}, {cpus} CPUs, {flush}, kvm {}",
                        costs.nested_paging
                    );
                    assert_eq!(r.breakdown.flush_wait, expect * r.io_completed, "{what}");
                    assert_eq!(
                        r.ipis_sent(),
                        u64::from(cpus - 1) * r.io_completed,
                        "{what}"
                    );
                    if mode == IpiDeliveryMode::Unicast {
                        let unicast = shootdown_latency_cycles(
                            &cfg.costs,
                            u64::from(cpus - 1),
                            local,
                            remote,
                            true,
                        );
                        assert_eq!(expect, unicast, "{what}");
                    }
                }
            }
        }
    }
}

/// `kvm-guest` with every target a blocked halted vCPU (`[idle]`,
/// `halted_vcpu`, no halt polling, `poll` C-state so the host's wake-up is
/// the whole wake) and `ipi_send_halted_target_cycles` = `kick`: one
/// I/O CPU, the other `cpus - 1` idle, IPIs only.
fn halted_broadcast(mode: IpiDeliveryMode, cpus: u32, kick: u64) -> (SimConfig, RunResult) {
    let mut costs = CostTable::kvm_guest();
    costs.ipi_send_halted_target_cycles = kick;
    let cfg = SimConfig {
        machine: machine::MachineConfig {
            cpus,
            ipi_delivery: mode,
            ..Default::default()
        },
        costs,
        host: HostConfig {
            io_cpus: 1,
            ..HostConfig::default()
        },
        background: BackgroundConfig {
            enabled: false,
            ..BackgroundConfig::default()
        },
        idle: machine::IdleConfig {
            cstate: machine::CState::Poll,
            halted_vcpu: true,
            halt_poll_us: 0.0,
            host_wake_us: 3.0,
        },
        stop: StopConfig {
            ios: 100,
            warmup_ios: 10,
            max_cycles: 0,
        },
        guests: vec![GuestConfig {
            queue_depth: 1,
            size_bytes: SizeSpec::Fixed(4096),
            ..GuestConfig::default()
        }],
        ..SimConfig::default()
    };
    let r = go_with(
        &cfg,
        "global",
        &[
            ("flush", RawValue::Str("full".into())),
            ("flush_lock", RawValue::Bool(false)),
        ],
    );
    (cfg, r)
}

/// With halted targets the initiator waits for the sender's serial kicks:
/// its wait is the closed form with one `ipi_send_halted_target_cycles`
/// per target in every mode (a broadcast's last IPI leaves after all the
/// kicks, even under the shorthand's single write), so it grows linearly
/// in the targets by exactly that cost over the same run without it.
#[test]
fn halted_targets_make_the_sender_kick_each_one() {
    let kick = 3_000;
    for mode in IpiDeliveryMode::ALL {
        for cpus in [2u32, 8, 17, 64, 80] {
            let (cfg, with) = halted_broadcast(mode, cpus, kick);
            let (_, without) = halted_broadcast(mode, cpus, 0);
            let what = format!("{mode:?}, {cpus} CPUs");
            assert_eq!(with.io_completed, without.io_completed, "{what}");
            let ios = with.io_completed;
            let targets = u64::from(cpus - 1);
            assert_eq!(
                with.breakdown.flush_wait - without.breakdown.flush_wait,
                targets * kick * ios,
                "{what}"
            );
            // The host's wake-up of each target (3 us at 2.5 GHz) and the
            // VM entry (half a vmcall) are on the targets, in parallel.
            let wake = 7_500 + cfg.costs.hypercall_cycles / 2;
            let c = &cfg.costs;
            let full = c.full_flush_cycles;
            let expect = broadcast_shootdown_latency_cycles(c, mode, cpus, 0, full, full, false)
                + halted_targets_extra_cycles(c, cpus, wake);
            assert_eq!(with.breakdown.flush_wait, expect * ios, "{what}");
            assert_eq!(with.stale_uses(), 0, "{what}");
        }
    }
    // Targets still in the halt-polling window are not blocked: no kick.
    let (mut polled, _) = halted_broadcast(IpiDeliveryMode::Shorthand, 8, kick);
    polled.idle.halt_poll_us = 1e6;
    let with = go_with(&polled, "global", &[]);
    polled.costs.ipi_send_halted_target_cycles = 0;
    assert_eq!(go_with(&polled, "global", &[]).breakdown, with.breakdown);
    // Running targets (no [idle]) are not kicked: the cost changes nothing.
    let mut cfg = base(500);
    cfg.costs = CostTable::kvm_guest();
    let plain = go(&cfg, "global");
    cfg.costs.ipi_send_halted_target_cycles = kick;
    assert_eq!(go(&cfg, "global").breakdown, plain.breakdown);
}

/// The all-but-self shorthand cannot leave a CPU out: with lazy TLB on,
/// unicast skips sleeping backends, shorthand interrupts every other CPU on
/// every shootdown.
#[test]
fn shorthand_interrupts_lazy_cpus_too() {
    let mut cfg = base(2_000);
    cfg.host.io_cpus = 4;
    for g in &mut cfg.guests {
        g.pattern = Pattern::Open;
        g.rate_iops = 40_000.0;
        g.queues = 4;
    }
    let run_mode = |mode| {
        let mut c = cfg.clone();
        c.machine.ipi_delivery = mode;
        go_with(&c, "global", &[LAZY])
    };
    let unicast = run_mode(IpiDeliveryMode::Unicast);
    let shorthand = run_mode(IpiDeliveryMode::Shorthand);
    let all = u64::from(cfg.machine.cpus - 1);
    assert!(
        unicast.ipis_sent() < all * unicast.shootdowns,
        "{}",
        unicast.ipis_sent()
    );
    assert_eq!(shorthand.ipis_sent(), all * shorthand.shootdowns);
}

#[test]
fn warmup_is_excluded_and_stop_count_exact() {
    let mut cfg = base(1_000);
    cfg.stop.warmup_ios = 500;
    let r = go(&cfg, "percpu");
    assert_eq!(r.io_completed, 1_000);
    assert_eq!(r.latency.count, 1_000);
    // hypercalls in the window: map + unmap per I/O (setup ones were in warm-up)
    assert!(r.hypercalls.abs_diff(2_000) <= 2 * 8, "{}", r.hypercalls);
}

#[test]
fn cycle_budget_stops_the_run() {
    let mut cfg = base(1_000_000);
    cfg.stop.max_cycles = 2_000_000;
    cfg.stop.warmup_ios = 0;
    let r = go(&cfg, "global");
    assert!(r.io_completed > 0 && r.io_completed < 1_000_000);
    assert!(r.sim_cycles <= 2_000_000);
}

#[test]
fn open_loop_rate_is_met_below_saturation() {
    let cfg = SimConfig {
        guests: vec![GuestConfig {
            pattern: Pattern::Open,
            rate_iops: 50_000.0,
            ..GuestConfig::default()
        }],
        stop: StopConfig {
            ios: 5_000,
            warmup_ios: 500,
            max_cycles: 0,
        },
        background: BackgroundConfig {
            enabled: false,
            ..BackgroundConfig::default()
        },
        ..SimConfig::default()
    };
    let r = go(&cfg, "percpu");
    let iops = r.iops();
    assert!((iops - 50_000.0).abs() / 50_000.0 < 0.05, "{iops}");
}

#[test]
fn invalid_config_is_an_error_not_a_panic() {
    let mut cfg = base(10);
    cfg.host.io_cpus = 99;
    let e = run(&cfg, policy(&cfg, "global", &[])).unwrap_err();
    assert!(e.to_string().contains("host.io_cpus"), "{e}");
}

#[test]
fn per_page_shootdowns_multiply_ipis() {
    let mut cfg = base(1_000);
    for g in &mut cfg.guests {
        g.size_bytes = SizeSpec::Fixed(3 * 4096);
    }
    let r = go_with(&cfg, "global", &[("per", RawValue::Str("page".into()))]);
    assert_eq!(r.ipis_sent(), 3 * 7 * r.io_completed);
    assert_eq!(r.shootdowns, 3 * r.io_completed);
}

/// One guest at a low open-loop rate: the other registered CPU sleeps most
/// of the time, so lazy TLB skips it; skipped CPUs flush before their next
/// access, so nothing goes stale.
#[test]
fn lazy_tlb_skips_sleeping_backends_and_stays_correct() {
    let mut cfg = SimConfig {
        stop: StopConfig {
            ios: 3_000,
            warmup_ios: 300,
            max_cycles: 0,
        },
        guests: vec![GuestConfig {
            pattern: Pattern::Open,
            rate_iops: 20_000.0,
            queues: 2,
            ..GuestConfig::default()
        }],
        ..SimConfig::default()
    };
    cfg.host.migration_probability = 0.1;
    let eager = go(&cfg, "global");
    let lazy = go_with(&cfg, "global", &[LAZY]);
    assert_eq!(eager.ipis_sent(), 7 * eager.io_completed);
    assert!(
        lazy.ipis_sent() < eager.ipis_sent(),
        "{} vs {}",
        lazy.ipis_sent(),
        eager.ipis_sent()
    );
    assert!(
        lazy.ipis_sent() >= 6 * lazy.io_completed,
        "background CPUs are never lazy"
    );
    assert_eq!(lazy.stale_uses(), 0);
    let registered_full: u64 = lazy
        .per_cpu
        .iter()
        .filter(|c| c.registered)
        .map(|c| c.flushes.local_full + c.flushes.deferred)
        .sum();
    let eager_full: u64 = eager
        .per_cpu
        .iter()
        .filter(|c| c.registered)
        .map(|c| c.flushes.local_full)
        .sum();
    assert!(
        registered_full > eager_full,
        "deferred flushes happen at wake-up"
    );
    assert!(lazy.flushes().deferred > 0 && eager.flushes().deferred == 0);
}

/// A domain-wide map lock serializes map/unmap hypercalls: with four busy
/// backends it costs throughput, and changes nothing else's correctness.
#[test]
fn map_lock_serializes_hypercalls() {
    let mut cfg = base(3_000);
    cfg.host.io_cpus = 4;
    cfg.guests = vec![
        GuestConfig {
            queue_depth: 16,
            queues: 4,
            ..GuestConfig::default()
        };
        2
    ];
    cfg.costs.map_page_cycles = 20_000;
    let free = go(&cfg, "percpu");
    cfg.host.map_lock = true;
    let locked = go(&cfg, "percpu");
    assert!(
        locked.iops() < 0.9 * free.iops(),
        "{} vs {}",
        locked.iops(),
        free.iops()
    );
    assert_eq!(locked.stale_uses(), 0);
    assert_eq!(locked.hypercalls, free.hypercalls);
}

/// Holding the map lock through the shootdown (Linux munmap flushes under
/// mmap_lock) leaves the other backend blocked on the lock during the flush:
/// lazy TLB then skips it, and nothing goes stale.
#[test]
fn map_lock_through_flush_lets_lazy_tlb_skip_the_waiter() {
    let mut cfg = base(3_000);
    cfg.host.map_lock = true;
    let released = go_with(&cfg, "global", &[LAZY]);
    cfg.host.map_lock_through_flush = true;
    let held = go_with(&cfg, "global", &[LAZY]);
    assert_eq!(released.stale_uses(), 0);
    assert_eq!(held.stale_uses(), 0);
    assert!(
        held.ipis_sent() < released.ipis_sent(),
        "{} vs {}",
        held.ipis_sent(),
        released.ipis_sent()
    );
    assert!(
        held.ipis_sent() >= 6 * held.io_completed,
        "background CPUs are never skipped"
    );
}

/// A map-lock waiter that spins keeps its CPU busy, so lazy TLB cannot skip
/// it; one that sleeps can; spin-then-sleep lies in between. None of them
/// goes stale.
#[test]
fn lock_waiters_spin_or_sleep() {
    use machine::LockWaiter;
    let mut cfg = base(3_000);
    cfg.host.map_lock = true;
    cfg.host.map_lock_through_flush = true;
    let mut ipis = Vec::new();
    for (waiter, spin) in [
        (LockWaiter::Spin, 0),
        (LockWaiter::Sleep, 0),
        (LockWaiter::SpinThenSleep, 0),
        (LockWaiter::SpinThenSleep, 1_000_000_000),
    ] {
        cfg.host.map_lock_waiter = waiter;
        cfg.costs.map_lock_spin_cycles = spin;
        let r = go_with(&cfg, "global", &[LAZY]);
        assert_eq!(r.stale_uses(), 0, "{waiter:?}");
        ipis.push(r.per_io(r.ipis_sent()));
    }
    assert!(
        (ipis[0] - 7.0).abs() < 1e-9,
        "a spinning waiter is always a target: {ipis:?}"
    );
    assert!(
        ipis[1] < ipis[0],
        "a sleeping waiter can be skipped: {ipis:?}"
    );
    assert!(
        (ipis[2] - ipis[1]).abs() < 1e-9,
        "no spin = sleep: {ipis:?}"
    );
    assert!(
        (ipis[3] - ipis[0]).abs() < 1e-9,
        "endless spin = spin: {ipis:?}"
    );
}

#[path = "model/alternatives.rs"]
mod alternatives;
#[path = "model/measures.rs"]
mod measures;
#[path = "model/vcpu.rs"]
mod vcpu;

#[path = "model/variability.rs"]
mod variability;

#[path = "model/scope.rs"]
mod scope;

/// Useless IPIs, on cases whose answer is known by hand: without migration
/// no other CPU ever touches a request's buffer, so every IPI of `global`
/// is useless; with migration, the CPU a thread migrated to holds the
/// buffer's pages when the unmap's IPI reaches it, so some IPIs are useful
/// (exactly as many as the migrations whose target still held the pages:
/// at most one per migration).
#[test]
fn useless_ipis_are_counted_against_the_pages_each_target_held() {
    let cfg = base(2_000);
    let g = go(&cfg, "global");
    assert!(g.ipis_received() > 0);
    assert_eq!(
        g.useless_ipis(),
        g.ipis_received(),
        "no other CPU held a page"
    );
    let mut cfg = base(2_000);
    cfg.host.migration_probability = 0.3;
    let m = go(&cfg, "global");
    let useful = m.ipis_received() - m.useless_ipis();
    assert!(useful > 0, "migrations leave the pages in another TLB");
    assert!(
        useful <= m.migrations,
        "{useful} useful IPIs, {} migrations",
        m.migrations
    );
}

/// The per-I/O latency breakdown adds up to the mean latency: every cycle
/// of a request's life is in some part (interrupt-level work that pushed a
/// segment back included). The only slack is the histogram's precision (3
/// significant digits) and the requests in flight when the window opens.
#[test]
fn the_latency_breakdown_adds_up_to_the_latency() {
    for migration in [0.0, 0.3] {
        let mut cfg = base(4_000);
        cfg.host.migration_probability = migration;
        for name in ["global", "percpu"] {
            let r = go(&cfg, name);
            let b = r.breakdown;
            let parts = b.queue
                + b.map
                + b.migration
                + b.data
                + b.deferred_flush
                + b.process
                + b.device
                + b.unmap
                + b.flush_wait
                + b.complete
                + b.interrupted;
            #[allow(clippy::cast_precision_loss, reason = "a relative error")]
            let per_io = parts as f64 / r.io_completed as f64;
            let err = (per_io - r.latency.mean).abs() / r.latency.mean;
            assert!(
                err < 0.003,
                "{name}, migration {migration}: parts {per_io:.1} vs mean latency {:.1}",
                r.latency.mean
            );
        }
    }
}
