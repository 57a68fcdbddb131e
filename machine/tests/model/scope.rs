//! Shootdown scope (`host.shootdown_scope`), idle CPUs under lazy TLB, the
//! thread-level migrated phase (`host.migration_level`), the flush lock
//! shared with other domains and the local flush before the lock (a
//! module of `model.rs`, whose helpers it uses).

use super::{base, go, go_with, LAZY};
use machine::{MigrationLevel, RunResult, ShootdownScope, SimConfig};

fn per_io(n: u64, r: &RunResult) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "a ratio")]
    let x = n as f64 / r.io_completed as f64;
    x
}

fn flush_wait(r: &RunResult) -> u64 {
    r.breakdown.flush_wait / r.io_completed
}

#[test]
fn mm_cpumask_reaches_only_the_cpus_running_the_backend() {
    let mut cfg = base(3_000);
    cfg.host.shootdown_scope = ShootdownScope::MmCpumask;
    // The background CPUs run another address space: only the other
    // registered CPU is a target.
    let g = go(&cfg, "global");
    assert_eq!(g.ipis_sent(), g.io_completed);
    assert_eq!(g.stale_uses(), 0);
    // Migrated phases bring a background CPU into the mask while they run,
    // and leave it owing a flush (Linux's tlb_gen check) that it does
    // before it next runs the backend: still no stale use.
    cfg.host.migration_probability = 0.3;
    let m = go(&cfg, "global");
    assert!(m.flushes().deferred > 0, "no deferred flush");
    assert_eq!(m.stale_uses(), 0);
    let ipis = per_io(m.ipis_sent(), &m);
    assert!((1.0..2.0).contains(&ipis), "{ipis} IPIs per I/O");
    // The baseline scope sends to every other CPU.
    cfg.host.shootdown_scope = ShootdownScope::All;
    assert_eq!(go(&cfg, "global").ipis_sent(), 7 * m.io_completed);
    // percpu-unsafe stays broken whatever the scope.
    cfg.host.shootdown_scope = ShootdownScope::MmCpumask;
    assert!(go(&cfg, "percpu-unsafe").stale_uses() > 0);
}

#[test]
fn dirty_mask_leaves_out_cpus_that_never_ran_the_domain() {
    let mut cfg = base(3_000);
    cfg.host.shootdown_scope = ShootdownScope::DirtyMask;
    // With the background workload every CPU runs the domain: all of them.
    assert_eq!(go(&cfg, "global").ipis_sent(), 7 * 3_000);
    // Without it the 6 other CPUs are idle and never ran it.
    cfg.background.enabled = false;
    assert_eq!(go(&cfg, "global").ipis_sent(), 3_000);
    // A migrated phase adds its CPU to the mask for good (Xen's lazy
    // context switch keeps it there while the CPU idles).
    cfg.host.migration_probability = 0.3;
    let m = go(&cfg, "global");
    assert!(
        per_io(m.ipis_sent(), &m) > 5.0,
        "{}",
        per_io(m.ipis_sent(), &m)
    );
    assert_eq!(m.stale_uses(), 0);
}

#[test]
fn lazy_tlb_skips_idle_cpus_too() {
    let mut cfg = base(3_000);
    cfg.background.enabled = false;
    let eager = go(&cfg, "global");
    assert_eq!(
        eager.ipis_sent(),
        7 * 3_000,
        "Xen: idle CPUs take every IPI"
    );
    let lazy = go_with(&cfg, "global", &[LAZY]);
    assert!(
        lazy.ipis_sent() <= lazy.io_completed,
        "idle CPUs skipped: {} IPIs",
        lazy.ipis_sent()
    );
    cfg.host.migration_probability = 0.3;
    let m = go_with(&cfg, "global", &[LAZY]);
    assert_eq!(m.stale_uses(), 0);
    assert!(m.flushes().deferred > 0);
}

fn migrating_no_lock(level: MigrationLevel) -> SimConfig {
    let mut cfg = base(4_000);
    cfg.host.migration_probability = 0.2;
    cfg.host.migration_level = level;
    cfg
}

#[test]
fn a_thread_level_migrated_phase_does_not_hold_up_ipis() {
    let no_lock = [("flush_lock", hypervisor::RawValue::Bool(false))];
    let irq = go_with(
        &migrating_no_lock(MigrationLevel::Interrupt),
        "global",
        &no_lock,
    );
    let thread = go_with(
        &migrating_no_lock(MigrationLevel::Thread),
        "global",
        &no_lock,
    );
    assert!(
        flush_wait(&thread) < flush_wait(&irq),
        "flush wait {} (thread) vs {} (interrupt)",
        flush_wait(&thread),
        flush_wait(&irq)
    );
    assert_eq!(thread.stale_uses(), 0);
    assert_eq!(thread.migrations, irq.migrations);
    // Claim step 7 still matters at thread level.
    let unsafe_run = go(&migrating_no_lock(MigrationLevel::Thread), "percpu-unsafe");
    assert!(unsafe_run.stale_uses() > 0);
    let safe = go(&migrating_no_lock(MigrationLevel::Thread), "percpu");
    assert_eq!(safe.stale_uses(), 0);
}

#[test]
fn other_domains_flushes_contend_for_the_shared_lock() {
    let cfg = base(3_000);
    let alone = go(&cfg, "global");
    let mut shared = cfg.clone();
    shared.host.other_domain_flushes_per_sec = 50_000.0;
    shared.host.other_domain_flush_cycles = 10_000;
    let busy = go(&shared, "global");
    assert!(
        flush_wait(&busy) > flush_wait(&alone) + 500,
        "flush wait {} vs {}",
        flush_wait(&busy),
        flush_wait(&alone)
    );
    assert_eq!(busy.stale_uses(), 0);
    // percpu takes no flush lock: other domains' flushes do not touch it.
    let p = go(&cfg, "percpu");
    let q = go(&shared, "percpu");
    assert_eq!(p.latency, q.latency);
    assert_eq!(p.sim_cycles, q.sim_cycles);
}

#[test]
fn flushing_locally_before_the_lock_overlaps_the_wait() {
    // One backend: the lock is never contended, so the order does not
    // change the time (lock + flush either way).
    let mut one = base(2_000);
    one.host.io_cpus = 1;
    let a = go(&one, "global");
    one.host.local_flush_before_lock = true;
    let b = go(&one, "global");
    assert_eq!(a.latency, b.latency);
    // Four busy backends contend: the local flush overlaps the wait.
    let mut four = base(3_000);
    four.host.io_cpus = 4;
    four.guests = vec![four.guests[0].clone(); 4];
    let c = go(&four, "global");
    four.host.local_flush_before_lock = true;
    let d = go(&four, "global");
    assert!(
        flush_wait(&d) < flush_wait(&c),
        "flush wait {} vs {}",
        flush_wait(&d),
        flush_wait(&c)
    );
    assert_eq!(d.stale_uses(), 0);
    assert_eq!(d.flushes().local_full, c.flushes().local_full);
}
