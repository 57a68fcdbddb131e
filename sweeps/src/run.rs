//! Running a sweep: the jobs of one shard not yet finished, on a pool of
//! worker threads, each result written to the point store as it finishes.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use machine::RunResult;
use scenarios::Scenario;

use crate::merge::{assemble, read_plan};
use crate::{DirLock, Job, PointStore, ResolvedSweep, SweepError};

/// One of `count` disjoint slices of a plan's jobs: jobs `index`,
/// `index + count`, ... (1-based; round-robin, so slices of a grid whose
/// points grow in cost stay balanced).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// The whole plan (`1/1`).
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Slice `index` of `count` (1-based), if `1 <= index <= count`.
    #[must_use]
    pub fn new(index: usize, count: usize) -> Option<Self> {
        (index >= 1 && index <= count).then_some(Self { index, count })
    }

    /// The 1-based index.
    #[must_use]
    pub fn index(self) -> usize {
        self.index
    }

    /// How many slices there are.
    #[must_use]
    pub fn count(self) -> usize {
        self.count
    }

    /// Whether the job at 0-based position `i` of the plan is in this slice.
    #[must_use]
    pub fn contains(self, i: usize) -> bool {
        i % self.count == self.index - 1
    }
}

impl Default for Shard {
    fn default() -> Self {
        Self::ALL
    }
}

impl FromStr for Shard {
    type Err = SweepError;

    /// `I/N`, e.g. `2/8`.
    fn from_str(s: &str) -> Result<Self, SweepError> {
        let err = || SweepError::Shard {
            text: s.to_string(),
        };
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let i: usize = i.trim().parse().map_err(|_| err())?;
        let n: usize = n.trim().parse().map_err(|_| err())?;
        Shard::new(i, n).ok_or_else(err)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How to run a sweep.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Worker threads (0: one per core). Results do not depend on it.
    pub jobs: usize,
    /// The slice of the plan to run.
    pub shard: Shard,
}

/// How many simulations a run has, once it has looked at the point store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Jobs of this shard (each scenario hash once).
    pub total: usize,
    /// Of those, finished by an earlier run (their point file exists).
    pub skipped: usize,
    /// Of those, to run now.
    pub pending: usize,
    /// Worker threads.
    pub threads: usize,
    /// The shard.
    pub shard: Shard,
}

/// What a run reports as it goes (a progress bar, or nothing: `()`).
pub trait Progress: Sync {
    /// Before the first simulation starts.
    fn start(&self, _counts: &Counts) {}
    /// A simulation finished and its point file is written.
    fn finished_one(&self) {}
}

impl Progress for () {}

/// What [`run`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The counts of [`Progress::start`].
    pub counts: Counts,
    /// Whether the summary files were written (only unsharded runs write
    /// them; shards are joined with [`crate::merge`]).
    pub assembled: bool,
}

/// A relative cost of a simulation, used only to start the most expensive
/// ones first (the results never depend on it): the requests it simulates
/// (measured plus warm-up; 1 for a trace replay, whose length is unknown
/// before reading it), times the CPUs (shootdowns and the background
/// workload cost per CPU), times the pages of the largest request of any
/// guest (each page is mapped, touched line by line and unmapped). It does
/// not look at the policy.
#[must_use]
pub fn cost_estimate(sc: &Scenario) -> u64 {
    const PAGE_BYTES: u64 = 4096;
    let c = &sc.config;
    let ios = (c.stop.ios + c.stop.warmup_ios).max(1);
    let cpus = u64::from(c.machine.cpus);
    let pages = c
        .guests
        .iter()
        .map(|g| g.size_bytes.max_bytes().div_ceil(PAGE_BYTES))
        .max()
        .unwrap_or(1)
        .max(1);
    ios.saturating_mul(cpus).saturating_mul(pages)
}

/// Runs the jobs of `opts.shard` whose point files are not in `dir` yet,
/// simulating each job's scenario (which has exactly the job's policy)
/// with `simulate`, on `opts.jobs` threads, the most expensive first
/// ([`cost_estimate`]), holding the directory's lock ([`DirLock`]) throughout.
/// Writes `plan.json` first and, for an unsharded run,
/// the summary files at the end ([`assemble`]).
///
/// # Errors
/// Another sweep holds the directory ([`SweepError::Locked`]), the
/// directory cannot be written, a simulation failed (the first error;
/// no new simulation starts after it, finished points are kept), or the
/// summary files cannot be assembled.
pub fn run<F, E>(
    sweep: &ResolvedSweep,
    dir: &Path,
    opts: &RunOptions,
    simulate: F,
    progress: &dyn Progress,
) -> Result<Outcome, SweepError>
where
    F: Fn(&Scenario) -> Result<RunResult, E> + Sync,
    E: std::error::Error + Send + Sync + 'static,
{
    let plan = &sweep.plan;
    let store = PointStore::new(dir);
    store.create()?;
    let _lock = DirLock::acquire(dir)?;
    reports::write_atomic(&dir.join("plan.json"), plan.to_json().as_bytes())?;

    // This shard's jobs, each hash once, minus those already done.
    let mut seen = BTreeSet::new();
    let mine: Vec<(&Job, &Scenario)> = plan
        .jobs
        .iter()
        .zip(&sweep.scenarios)
        .enumerate()
        .filter(|(i, _)| opts.shard.contains(*i))
        .map(|(_, js)| js)
        .filter(|(j, _)| seen.insert(j.hash.clone()))
        .collect();
    let total = mine.len();
    let pending: Vec<(&Job, &Scenario)> = mine
        .into_iter()
        .filter(|(j, _)| !store.has(&j.hash))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|error| SweepError::Threads { error })?;
    let counts = Counts {
        total,
        skipped: total - pending.len(),
        pending: pending.len(),
        threads: pool.current_num_threads(),
        shard: opts.shard,
    };
    progress.start(&counts);
    // Largest first (longest-processing-time scheduling): the most
    // expensive simulations start at once instead of forming the tail.
    let mut order: Vec<usize> = (0..pending.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cost_estimate(pending[i].1)));
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<SweepError>> = Mutex::new(None);
    let run_one = |job: &Job, sc: &Scenario| -> Result<(), SweepError> {
        let r = simulate(sc).map_err(|e| SweepError::Simulation {
            point: job.point,
            axis_values: job.axis_text(),
            policy: job.policy.clone(),
            seed: job.seed,
            error: Box::new(e),
        })?;
        store.write(job, sc, &r)
    };
    pool.scope(|s| {
        for _ in 0..counts.threads {
            s.spawn(|_| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                if failed.lock().map_or(true, |f| f.is_some()) {
                    break;
                }
                let (job, sc) = pending[i];
                match run_one(job, sc) {
                    Ok(()) => progress.finished_one(),
                    Err(e) => {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    if opts.shard.count() > 1 {
        return Ok(Outcome {
            counts,
            assembled: false,
        });
    }
    // From the file, as `merge` does, so both write the same bytes.
    let (_, plan) = read_plan(dir)?;
    assemble(dir, &plan)?;
    Ok(Outcome {
        counts,
        assembled: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse() {
        assert_eq!("2/8".parse::<Shard>().unwrap(), Shard::new(2, 8).unwrap());
        for bad in ["0/2", "3/2", "x", "1/0", "1/"] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("--shard {bad}: expected I/N")),
                "{e}"
            );
        }
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_plan() {
        let shards: Vec<Shard> = (1..=3).map(|i| Shard::new(i, 3).unwrap()).collect();
        for i in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.contains(i)).count(), 1);
        }
        assert!((0..10).all(|i| Shard::ALL.contains(i)));
    }

    #[test]
    fn cost_grows_with_ios_cpus_and_request_size() {
        let base = scenarios::load("default", &["guests.1.size_bytes=4096".into()]).unwrap();
        let cost = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(ToString::to_string).collect();
            let mut all = vec!["guests.1.size_bytes=4096".to_string()];
            all.extend(sets);
            cost_estimate(&scenarios::load("default", &all).unwrap())
        };
        let c0 = cost_estimate(&base);
        assert!(cost(&["machine.cpus=16"]) > c0);
        assert!(cost(&["stop.ios=40000"]) > c0);
        assert!(cost(&["guests.0.size_bytes=65536"]) > c0);
        assert_eq!(
            cost(&["policies=[\"percpu\"]"]),
            cost(&["policies=[\"global\"]"])
        );
    }
}
