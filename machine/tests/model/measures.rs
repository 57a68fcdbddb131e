//! The measures issue 9 adds, on cases whose answer is known by hand (a
//! module of `model.rs`, whose helpers it uses).

use super::{base, go_with};
use hypervisor::RawValue;

#[test]
fn a_strict_policy_leaves_no_release_exposure() {
    // Every CPU has lost the pages before a global request completes.
    let r = go_with(&base(2_000), "global", &[]);
    assert_eq!(r.release_exposure.count, 0);
    assert_eq!(r.release_exposure.max, 0);
}

#[test]
fn percpu_exposes_each_frame_until_its_slot_is_mapped_again() {
    // One-page requests through 2 slots per CPU, no migration, no
    // background on the serving CPUs: request k's slot is mapped again
    // (and flushed) by request k + 2, which starts when request k + 1
    // completes. So each release stays cached for exactly one service
    // interval of its CPU: window * io_cpus / I/Os.
    let cfg = base(4_000);
    let r = go_with(&cfg, "percpu", &[("slots_per_cpu", RawValue::Int(2))]);
    let e = r.release_exposure;
    assert!(e.count + 4 >= r.io_completed && e.count <= r.io_completed);
    #[allow(clippy::cast_precision_loss, reason = "a mean in cycles")]
    let interval = (r.sim_cycles * u64::from(cfg.host.io_cpus)) as f64 / r.io_completed as f64;
    #[allow(clippy::cast_precision_loss, reason = "cycles")]
    let p50 = e.p50 as f64;
    assert!(
        (p50 - interval).abs() < interval * 0.01,
        "p50 {p50} against one service interval {interval}"
    );
    // With one slot the next request's map flushes it in the cycle the
    // frame is released: no exposure at all.
    let one = go_with(&cfg, "percpu", &[("slots_per_cpu", RawValue::Int(1))]);
    assert_eq!(one.release_exposure.count, 0);
}

#[test]
fn background_work_lost_is_zero_untouched_and_the_stolen_and_refilled_cycles_otherwise() {
    let mut cfg = base(4_000);
    // One background page: after the first walk every access is an L1 hit
    // (0 cycles), so an access costs exactly cycles_between_accesses.
    cfg.background.working_set_pages = 1;
    let between = cfg.background.cycles_between_accesses;
    // percpu without migration never touches a background CPU: the run
    // is its own no-I/O twin.
    let p = go_with(&cfg, "percpu", &[]);
    assert!(p.background_twin_accesses > 0);
    assert_eq!(p.background().0, p.background_twin_accesses);
    // global interrupts and fully flushes them: each background CPU loses
    // its stolen cycles plus, after each flush, one walk of the 4-level
    // table (4 x walk_level_cycles, the page-walk cache flushed too) after
    // an L2 miss (l2_hit_cycles) instead of a free hit, in units of one
    // access, give or take one access at each end of the window.
    let g = go_with(&cfg, "global", &[]);
    let walk = cfg.costs.l2_hit_cycles + 4 * cfg.costs.walk_level_cycles;
    let mut expected = 0;
    let mut bg_cpus = 0;
    for c in g.per_cpu.iter().filter(|c| !c.registered) {
        bg_cpus += 1;
        expected += (c.stolen_cycles + c.tlb.walks * walk) / between;
    }
    let lost = g.background_twin_accesses - g.background().0;
    assert!(
        lost.abs_diff(expected) <= 2 * bg_cpus,
        "lost {lost} accesses, expected {expected}"
    );
    assert!(lost > 0);
}
