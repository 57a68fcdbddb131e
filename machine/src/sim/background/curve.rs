//! The refill-curve background model (`background.model = "curve"`, the
//! default): a background CPU's accesses are accounted from the expected
//! refill curve of its TLB after a full flush, instead of replayed one by
//! one, so the cost of a catch-up does not grow with the time it covers.
//!
//! # What it models
//! The background workload draws pages uniformly and independently from a
//! working set of `W` pages, one access every `cycles_between_accesses`
//! plus that access's translation latency (`exact.rs`). Its TLB and
//! page-walk-cache state, and so the latency of its `j`-th access, depends
//! in distribution only on how many accesses it made since its TLB and PWC
//! were last emptied (a full flush, or the start): the stream is i.i.d.,
//! and nothing else fills its address space's entries. The curve is the
//! mean of that dependence, measured once per configuration by replaying
//! independent cold starts ([`LEVELS`]) with the real TLB model
//! ([`mmu::access`]) for [`RefillCurve::len`] accesses, long enough to
//! reach the stationary state; past its end every access costs the mean of
//! its last half (the stationary rate). A CPU's state is then two numbers:
//! accesses since its last full flush, and when its next access issues.
//! Catching up to a cycle is a binary search in the curve's prefix sums; a
//! full flush resets the count.
//!
//! # What it assumes (against `"exact"`)
//! - Means, not draws: the counts are expected values (in fixed point,
//!   2^-16), so two CPUs with the same history get the same counts, and a
//!   run's background counters carry no sampling noise. Totals over many
//!   accesses agree with the exact replay within its noise
//!   (`machine/tests/background_model.rs` checks 1% on IOPS, TLB misses per
//!   I/O, stolen cycles and background work lost on every bundled scenario).
//! - Host-domain translations cached on a background CPU (a migrated data
//!   phase, a foreign access) and the background's own entries do not
//!   compete for TLB ways: the background's entries are not in the CPU's
//!   TLB model. So a host entry there is evicted only by host accesses and
//!   flushes, never by the background: release exposures on background
//!   CPUs last until a flush (an upper bound; the exact model closes them
//!   when a background fill evicts them), and a migrated phase on a
//!   background CPU hits a little more often than in the exact model.
//! - Only a full flush (`flush_all`: a full shootdown, a deferred full
//!   flush, a paravirtual flush) touches the background's entries; range
//!   and host-ASID flushes do not (true of the exact model too: they name
//!   host-domain pages or the host ASID only).
//! - The no-I/O twin is the same curve from a cold start, never flushed:
//!   its count is a closed form per CPU, the same for every background CPU.

use super::super::*;
use std::sync::{Arc, Mutex, OnceLock};

/// Fixed-point fraction bits of the curve's means (units of 2^-16).
const FRAC_BITS: u32 = 16;
/// Independent cold starts averaged into a curve, and how many accesses
/// each runs (`None`: the whole curve). The first accesses after a flush
/// get the most: under frequent full shootdowns a CPU rarely gets past
/// them, so their means carry the result, while the stationary part
/// averages itself over its length.
const LEVELS: &[(u64, Option<usize>)] = &[(4, None), (32, Some(2048))];
/// Random-stream ids of the curve's replicas: `STREAM_CURVE_BASE + r`.
pub(in crate::sim) const STREAM_CURVE_BASE: u64 = 5_000_000;

/// Counter indices in a curve point: cycles (work between accesses plus
/// translation latency), L1 hits, misses (page walks), page-walk memory
/// references. L2 hits are the rest of the accesses.
const COST: usize = 0;
const L1: usize = 1;
const MISS: usize = 2;
const REFS: usize = 3;

/// Sums of the four counters, in units of 2^-16.
type Point = [u128; 4];

/// What a curve is computed from: two runs with equal keys share it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(in crate::sim) struct CurveKey {
    pub seed: u64,
    pub tlb: mmu::TlbConfig,
    pub pwc_entries: usize,
    pub pages: u32,
    pub between_cycles: u64,
    pub access: AccessCosts,
}

/// The mean refill curve of a background CPU after a full flush.
#[derive(Debug)]
pub(in crate::sim) struct RefillCurve {
    /// `prefix[j]`: the sums of the first `j` accesses' means, `j` in
    /// `0..=len`.
    prefix: Vec<Point>,
    /// `prefix[j][COST]` alone, for [`fit_to`](Self::fit_to)'s search (a
    /// quarter of the bytes to walk).
    cost: Vec<u128>,
    /// Each access's means past the curve's end (the stationary rates).
    tail: Point,
    /// `1 / tail[COST]`, for [`fit_to`](Self::fit_to)'s first guess only.
    per_tail_cost: f64,
}

/// A curve being or done computed.
type Slot = Arc<OnceLock<Arc<RefillCurve>>>;

/// Curves computed in this process, by key (a sweep's points and a run's
/// policies share them, also when they run at once: the second waits for
/// the first; computing one is deterministic, so sharing changes no
/// result). The 64 newest are kept.
static CURVES: Mutex<Vec<(CurveKey, Slot)>> = Mutex::new(Vec::new());

impl RefillCurve {
    /// The curve for `key`, computed once per process.
    pub(in crate::sim) fn shared(key: CurveKey, table: &PageTable, first_page: u64) -> Arc<Self> {
        let slot: Slot = {
            let mut cache = CURVES
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((_, slot)) = cache.iter().find(|(k, _)| *k == key) {
                Arc::clone(slot)
            } else {
                if cache.len() >= 64 {
                    cache.remove(0);
                }
                let slot = Slot::default();
                cache.push((key, Arc::clone(&slot)));
                slot
            }
        };
        Arc::clone(slot.get_or_init(|| Arc::new(Self::measure(&key, table, first_page))))
    }

    /// Accesses the curve spans before its stationary tail: three times
    /// the coupon-collector time of the pages the TLB can hold (`n ln n`,
    /// `n` = the smaller of the working set and the TLB's entries), so
    /// that its last half is stationary; at least 1,024.
    pub(in crate::sim) fn len_for(pages: u32, tlb: &mmu::TlbConfig) -> usize {
        let entries = tlb.l1.entries + tlb.l2.map_or(0, |l2| l2.entries);
        let n = (pages as usize).min(entries).max(2);
        #[allow(clippy::cast_precision_loss, reason = "a length estimate")]
        let nf = n as f64;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "positive, bounded below 2^20"
        )]
        let len = (3.0 * nf * sim_core::math::ln(nf)).min(f64::from(1u32 << 20)) as usize;
        len.max(1024)
    }

    /// Measures the curve: cold starts of the real TLB model, more of them
    /// for the first accesses ([`LEVELS`]).
    ///
    /// Each counter's mean at access `j` is estimated with a control
    /// variate, the indicator `F` that access `j` is the first to its page
    /// since the start, whose mean is known exactly: `(1 - 1/W)^j` for `W`
    /// pages drawn uniformly. Early after a flush a miss is nearly always a
    /// first touch, so `X - beta F` (`beta` the pooled regression slope of
    /// the counter on `F`) varies far less than `X`: the standard
    /// control-variate estimator `mean(X) - beta (mean(F) - E[F])`, which
    /// stays unbiased whatever `beta` is.
    fn measure(key: &CurveKey, table: &PageTable, first_page: u64) -> Self {
        let len = Self::len_for(key.pages, &key.tlb);
        // Per access index: sums of X (4 counters), of F, of X*F, and the
        // number of replicas that reached it.
        let mut sum_x = vec![[0u64; 4]; len];
        let mut sum_xf = vec![[0u64; 4]; len];
        let mut sum_f = vec![0u64; len];
        let mut counts = vec![0u64; len];
        let mut seen = vec![false; key.pages as usize];
        let mut touched: Vec<u32> = Vec::new();
        let mut stream = STREAM_CURVE_BASE;
        for &(replicas, level_len) in LEVELS {
            let level_len = level_len.map_or(len, |l| l.min(len));
            for _ in 0..replicas {
                let mut tlb = TlbHierarchy::new(key.tlb).expect("validated geometry");
                let mut pwc = PageWalkCache::new(key.pwc_entries);
                let mut rng = rng_stream(key.seed, stream);
                stream += 1;
                for j in 0..level_len {
                    let page = rng.random_range(0..key.pages);
                    let va = VirtAddr((first_page + u64::from(page)) << 12);
                    let a =
                        mmu::access(&mut tlb, &mut pwc, table, BACKGROUND_ASID, va, &key.access);
                    let x = [
                        key.between_cycles + a.latency_cycles,
                        u64::from(a.outcome == AccessOutcome::L1Hit),
                        u64::from(matches!(
                            a.outcome,
                            AccessOutcome::Walk | AccessOutcome::Fault
                        )),
                        a.walk_refs,
                    ];
                    let first = !std::mem::replace(&mut seen[page as usize], true);
                    if first {
                        touched.push(page);
                        sum_f[j] += 1;
                    }
                    for i in 0..4 {
                        sum_x[j][i] += x[i];
                        if first {
                            sum_xf[j][i] += x[i];
                        }
                    }
                    counts[j] += 1;
                }
                for p in touched.drain(..) {
                    seen[p as usize] = false;
                }
            }
        }
        #[allow(clippy::cast_precision_loss, reason = "sample moments")]
        let beta: [f64; 4] = {
            // Pooled within-index covariance of X and F over variance of F.
            let (mut cov, mut var) = ([0.0f64; 4], 0.0f64);
            for j in 0..len {
                let n = counts[j] as f64;
                let f = sum_f[j] as f64;
                var += f - f * f / n;
                for i in 0..4 {
                    cov[i] += sum_xf[j][i] as f64 - sum_x[j][i] as f64 * f / n;
                }
            }
            cov.map(|c| if var > 0.0 { c / var } else { 0.0 })
        };
        let unit = f64::from(1u32 << FRAC_BITS);
        let keep = 1.0 - 1.0 / f64::from(key.pages);
        let mut expected_f = 1.0f64;
        let mut prefix = Vec::with_capacity(len + 1);
        let mut at: Point = [0; 4];
        prefix.push(at);
        for j in 0..len {
            #[allow(clippy::cast_precision_loss, reason = "sample means")]
            let (n, mean_f) = (counts[j] as f64, sum_f[j] as f64 / counts[j] as f64);
            for i in 0..4 {
                #[allow(clippy::cast_precision_loss, reason = "sample means")]
                let mean = sum_x[j][i] as f64 / n - beta[i] * (mean_f - expected_f);
                // Means of indicators stay in [0, 1], the others >= 0.
                let mean = if i == L1 || i == MISS {
                    mean.clamp(0.0, 1.0)
                } else {
                    mean.max(0.0)
                };
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "non-negative, bounded by the costs"
                )]
                let fixed = (mean * unit).round() as u128;
                at[i] += fixed;
            }
            prefix.push(at);
            expected_f *= keep;
        }
        // The stationary rates: the means of the curve's last half,
        // rounded to the nearest unit.
        let half = len / 2;
        let (end, mid) = (prefix[len], prefix[len - half]);
        let n = half as u128;
        let tail = [0, 1, 2, 3].map(|i| (end[i] - mid[i] + n / 2) / n);
        let cost = prefix.iter().map(|p| p[COST]).collect();
        Self::new(prefix, cost, tail)
    }

    fn new(prefix: Vec<Point>, cost: Vec<u128>, tail: Point) -> Self {
        #[allow(clippy::cast_precision_loss, reason = "a guess")]
        let per_tail_cost = 1.0 / tail[COST] as f64;
        Self {
            prefix,
            cost,
            tail,
            per_tail_cost,
        }
    }

    /// Accesses the curve spans before its tail.
    pub(in crate::sim) fn len(&self) -> u64 {
        self.prefix.len() as u64 - 1
    }

    /// The sums of the first `j` accesses after a flush.
    fn at(&self, j: u64) -> Point {
        let len = self.len();
        if j <= len {
            return self.prefix[usize::try_from(j).expect("j <= len fits usize")];
        }
        let extra = u128::from(j - len);
        let end = self.prefix[self.prefix.len() - 1];
        [0, 1, 2, 3].map(|i| end[i] + extra * self.tail[i])
    }

    /// The largest `m` such that accesses `k .. k + m` (after a flush)
    /// take at most `budget` (fixed point) in all.
    fn fit(&self, k: u64, budget: u128) -> u64 {
        self.fit_to(k, self.at(k)[COST] + budget)
    }

    /// [`fit`](Self::fit) given the cumulative cost the accesses may reach,
    /// `at(k)` plus the budget.
    fn fit_to(&self, k: u64, target: u128) -> u64 {
        let len = self.len();
        let cost = &self.cost[..];
        let end = cost[cost.len() - 1];
        let j = if target >= end {
            // In the tail (a cost is at least one cycle: never 0).
            len + u64::try_from((target - end) / self.tail[COST]).unwrap_or(u64::MAX / 2)
        } else {
            // In the curve: the last prefix at or below the target (`cost`
            // never decreases, so it is one index whatever the search).
            // The first guess spends the budget at the stationary rate
            // (after a flush the first accesses cost more, so it is a
            // little past the answer); from there a gallop brackets it,
            // `cost[lo] <= target < cost[hi]` (or `hi` past the end), and a
            // branch-free binary search ends it.
            let k = usize::try_from(k).expect("k < len fits usize");
            let room = cost.len() - 1 - k;
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a guess: the searches below make the answer exact"
            )]
            let ahead = u64::try_from(target - cost[k])
                .map_or(room, |d| (d as f64 * self.per_tail_cost) as usize);
            let guess = k + ahead.min(room);
            let (mut lo, hi) = if cost[guess] <= target {
                let mut lo = guess;
                let mut step = 1;
                loop {
                    let hi = lo + step;
                    if hi >= cost.len() || cost[hi] > target {
                        break (lo, hi.min(cost.len()));
                    }
                    lo = hi;
                    step *= 2;
                }
            } else {
                let mut hi = guess;
                let mut step = 1;
                loop {
                    let lo = hi.saturating_sub(step).max(k);
                    if cost[lo] <= target {
                        break (lo, hi);
                    }
                    hi = lo;
                    step *= 2;
                }
            };
            let mut size = hi - lo;
            while size > 1 {
                let half = size / 2;
                let mid = lo + half;
                lo = if cost[mid] <= target { mid } else { lo };
                size -= half;
            }
            lo as u64
        };
        j.saturating_sub(k)
    }

    /// Accesses a CPU started cold at cycle 0 and never flushed issues at
    /// or before cycle `t` (the no-I/O twin).
    pub(in crate::sim) fn issued_by(&self, t: u64) -> u64 {
        self.fit(0, u128::from(t) << FRAC_BITS) + 1
    }
}

/// One background CPU's state under the curve model.
#[derive(Clone, Debug, Default)]
pub(in crate::sim) struct CurveCpu {
    /// Accesses since its TLB was last emptied.
    k: u64,
    /// When its next access issues (fixed point); its integer part is the
    /// CPU's `bg_next`.
    next_fp: u128,
    /// `bg_next` as this state last left it (a pause moves `bg_next` on).
    synced: u64,
    /// Sums of the counters since the window opened (fixed point).
    acc: Point,
    /// Accesses issued since the window opened.
    accesses: u64,
}

impl CurveCpu {
    /// Accounts the accesses that issue at or before `until`, moving
    /// `bg_next` to the next one's issue cycle. Returns how many.
    pub(in crate::sim) fn catch_up(
        &mut self,
        curve: &RefillCurve,
        bg_next: &mut u64,
        until: u64,
    ) -> u64 {
        // Work paused the background since (`pause_background` adds its
        // length): the next access moves by as much.
        match bg_next.checked_sub(self.synced) {
            Some(d) => self.next_fp += u128::from(d) << FRAC_BITS,
            None => self.next_fp = u128::from(*bg_next) << FRAC_BITS,
        }
        self.synced = *bg_next;
        let u = u128::from(until) << FRAC_BITS;
        if self.next_fp > u {
            return 0;
        }
        let a = curve.at(self.k);
        let m = curve.fit_to(self.k, a[COST] + (u - self.next_fp)) + 1;
        let b = curve.at(self.k + m);
        for i in 0..4 {
            self.acc[i] += b[i] - a[i];
        }
        self.next_fp += b[COST] - a[COST];
        self.k += m;
        self.accesses += m;
        *bg_next = u64::try_from(self.next_fp >> FRAC_BITS)
            .unwrap_or(u64::MAX - 1)
            .min(u64::MAX - 1);
        self.synced = *bg_next;
        m
    }

    /// The CPU's TLB and PWC were emptied: the curve restarts.
    pub(in crate::sim) fn flushed(&mut self) {
        self.k = 0;
    }

    /// The window opens: the counters restart.
    pub(in crate::sim) fn reset_counters(&mut self) {
        self.acc = [0; 4];
        self.accesses = 0;
    }

    /// Adds the accounted counters (integer parts) to a CPU's statistics.
    pub(in crate::sim) fn add_to(&self, s: &mut CpuStats) {
        let int = |x: u128| u64::try_from(x >> FRAC_BITS).unwrap_or(u64::MAX);
        let (l1, misses) = (int(self.acc[L1]), int(self.acc[MISS]));
        let l2 = self.accesses.saturating_sub(l1 + misses);
        s.tlb.lookups += self.accesses;
        s.tlb.l1_hits += l1;
        s.tlb.l2_hits += l2;
        s.tlb.misses += misses;
        s.tlb.walks += misses;
        s.tlb.walk_refs += int(self.acc[REFS]);
        s.background_accesses += self.accesses;
        s.background_cycles += int(self.acc[COST]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmu::{TlbConfig, TlbGeometry};

    fn key(pages: u32, tlb: TlbConfig) -> (CurveKey, PageTable) {
        let mut table = PageTable::new();
        for i in 0..u64::from(pages) {
            table
                .map(
                    VirtPage(BACKGROUND_BASE + i),
                    PhysFrame(i),
                    PageSize::Size4K,
                )
                .unwrap();
        }
        let key = CurveKey {
            seed: 7,
            tlb,
            pwc_entries: 32,
            pages,
            between_cycles: 100,
            access: AccessCosts {
                l2_hit_cycles: 9,
                walk: WalkCosts::native(30),
            },
        };
        (key, table)
    }

    /// Steps the curve one access at a time: the naive reference.
    fn naive(curve: &RefillCurve, k0: u64, next: u128, until: u64) -> (u64, u128) {
        let (mut k, mut t) = (k0, next);
        while t <= u128::from(until) << FRAC_BITS {
            t += curve.at(k + 1)[COST] - curve.at(k)[COST];
            k += 1;
        }
        (k - k0, t)
    }

    #[test]
    fn catch_up_matches_stepping_one_access_at_a_time() {
        let (k, table) = key(1024, TlbConfig::default());
        let curve = RefillCurve::measure(&k, &table, BACKGROUND_BASE);
        let mut cpu = CurveCpu::default();
        let mut bg_next = 0;
        let mut flushes = 0;
        for (i, until) in [0u64, 1, 99, 5_000, 5_001, 200_000, 3_000_000, 3_000_050]
            .into_iter()
            .enumerate()
        {
            let (want, t) = naive(&curve, cpu.k, cpu.next_fp, until);
            let got = cpu.catch_up(&curve, &mut bg_next, until);
            assert_eq!((got, cpu.next_fp), (want, t), "catch-up to {until}");
            assert!(cpu.next_fp > u128::from(until) << FRAC_BITS);
            if i % 3 == 2 {
                cpu.flushed();
                flushes += 1;
            }
        }
        assert!(flushes > 0);
    }

    /// `fit_to` is the last index at or below the target, as a linear scan
    /// finds it, on curves of every shape: costly first accesses (the
    /// first guess overshoots), cheap ones (it falls short), runs of
    /// zero-cost accesses (equal prefixes), and targets into the tail.
    #[test]
    fn fit_to_is_the_last_prefix_at_or_below_the_target() {
        use rand::RngExt;
        let mut rng = sim_core::rng_stream(9, 0);
        for case in 0..300 {
            let len = rng.random_range(1..400usize);
            let mut cost = vec![0u128];
            for j in 0..len {
                let c: u128 = match case % 3 {
                    0 if j < len / 3 => rng.random_range(50..500),
                    1 if j < len / 3 => rng.random_range(0..3),
                    _ => rng.random_range(0..40),
                };
                cost.push(cost[j] + c);
            }
            let tail = [rng.random_range(1..200u128), 0, 0, 0];
            let curve = RefillCurve::new(
                cost.iter().map(|&c| [c, 0, 0, 0]).collect(),
                cost.clone(),
                tail,
            );
            for _ in 0..50 {
                let k = rng.random_range(0..=len);
                let target = cost[k] + rng.random_range(0..=cost[len] - cost[k] + 300);
                let want = if target >= cost[len] {
                    len as u64 + u64::try_from((target - cost[len]) / tail[COST]).unwrap()
                } else {
                    (k..=len).rev().find(|&j| cost[j] <= target).unwrap() as u64
                };
                assert_eq!(
                    curve.fit_to(k as u64, target),
                    want - k as u64,
                    "case {case}: k {k}, target {target}"
                );
            }
        }
    }

    #[test]
    fn a_pause_moves_the_next_access_by_its_length() {
        let (k, table) = key(64, TlbConfig::default());
        let curve = RefillCurve::measure(&k, &table, BACKGROUND_BASE);
        let mut cpu = CurveCpu::default();
        let mut bg_next = 0;
        cpu.catch_up(&curve, &mut bg_next, 1_000);
        let before = cpu.next_fp;
        bg_next += 500;
        assert_eq!(cpu.catch_up(&curve, &mut bg_next, 1_000), 0);
        assert_eq!(cpu.next_fp, before + (500 << FRAC_BITS));
    }

    /// Uniform independent references to `n` pages of one set of `w` ways
    /// hit with probability `w / n` in the stationary state (any demand
    /// fill that keeps `w` of them): the tail's L1 rate must say so.
    #[test]
    fn stationary_l1_hit_rate_is_ways_over_pages_per_set() {
        for (entries, ways, pages) in [(64u32, 4u32, 1024u32), (16, 16, 256), (32, 1, 512)] {
            let tlb = TlbConfig {
                l1: TlbGeometry {
                    entries: entries as usize,
                    ways: ways as usize,
                },
                ..TlbConfig::default()
            };
            let (k, table) = key(pages, tlb);
            let curve = RefillCurve::measure(&k, &table, BACKGROUND_BASE);
            #[allow(clippy::cast_precision_loss, reason = "a rate")]
            let rate = curve.tail[L1] as f64 / f64::from(1u32 << FRAC_BITS);
            let want = f64::from(entries) / f64::from(pages);
            assert!(
                (rate - want).abs() < 0.1 * want,
                "{entries} entries, {ways} ways, {pages} pages: {rate} vs {want}"
            );
        }
    }

    #[test]
    fn the_twin_count_is_the_cold_curve() {
        let (k, table) = key(1024, TlbConfig::default());
        let curve = RefillCurve::measure(&k, &table, BACKGROUND_BASE);
        let mut cpu = CurveCpu::default();
        let mut bg_next = 0;
        for t in [10_000u64, 1_000_000, 10_000_000] {
            cpu.catch_up(&curve, &mut bg_next, t);
            assert_eq!(cpu.accesses, curve.issued_by(t));
        }
    }
}
