//! `--shard auto`: the slice a cluster scheduler assigned this process,
//! read from the scheduler's environment variables.
//!
//! - Slurm job arrays (`sbatch --array=A-B`): `SLURM_ARRAY_TASK_ID`, with
//!   `SLURM_ARRAY_TASK_COUNT`, `SLURM_ARRAY_TASK_MIN` and
//!   `SLURM_ARRAY_TASK_MAX` (Slurm's `sbatch(1)` man page, "OUTPUT
//!   ENVIRONMENT VARIABLES"). The array must be contiguous (step 1, e.g.
//!   `--array=1-16` or `--array=0-15`); task `MIN` is shard 1.
//! - Kubernetes indexed Jobs (`completionMode: Indexed`):
//!   `JOB_COMPLETION_INDEX`, 0-based (Kubernetes' Job documentation,
//!   "Completion mode"); Kubernetes exports no count, so the caller gives
//!   it (`--shard-count N`, the Job's `completions`).
//!
//! The environment is passed in as a function, so that tests need not set
//! variables process-wide.

use crate::{Shard, SweepError};

/// The shard of `--shard ARG` (`I/N`, or `auto` with `--shard-count`
/// `count` read by [`shard_from_env`] from `env`); every job without one.
///
/// # Errors
/// A malformed `I/N`, a count with `I/N`, or [`shard_from_env`]'s.
pub fn shard_from_arg(
    arg: Option<&str>,
    count: Option<usize>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Shard, SweepError> {
    match arg {
        None => Ok(Shard::ALL),
        Some("auto") => shard_from_env(count, env),
        Some(text) if count.is_some() => Err(SweepError::ShardCount {
            text: text.to_string(),
        }),
        Some(text) => text.parse(),
    }
}

/// The shard the scheduler's environment assigns: Slurm's array variables
/// if `SLURM_ARRAY_TASK_ID` is set, else Kubernetes' `JOB_COMPLETION_INDEX`
/// with `count` (required there). With Slurm, `count`, if given, must equal
/// the array's task count.
///
/// # Errors
/// [`SweepError::ShardEnv`]: neither scheduler's variables are set, a
/// variable is not a number, the Slurm array is not contiguous, the index is
/// outside the count, or Kubernetes without `count`.
pub fn shard_from_env(
    count: Option<usize>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Shard, SweepError> {
    let fail = |message: String| SweepError::ShardEnv { message };
    let num = |key: &str| -> Result<Option<usize>, SweepError> {
        env(key)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| fail(format!("{key}={v:?} is not a non-negative integer")))
            })
            .transpose()
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        let n = num("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
            fail("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not".into())
        })?;
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(1);
        let max = num("SLURM_ARRAY_TASK_MAX")?.unwrap_or(min + n.saturating_sub(1));
        if max < min || max - min + 1 != n {
            return Err(fail(format!(
                "the Slurm array {min}-{max} has {n} tasks: it must be contiguous (step 1, e.g. --array=1-{n})"
            )));
        }
        if let Some(c) = count {
            if c != n {
                return Err(fail(format!(
                    "--shard-count {c} differs from SLURM_ARRAY_TASK_COUNT={n}"
                )));
            }
        }
        return id
            .checked_sub(min)
            .and_then(|i| Shard::new(i + 1, n))
            .ok_or_else(|| {
                fail(format!(
                    "SLURM_ARRAY_TASK_ID={id} is outside the array {min}-{max}"
                ))
            });
    }
    if let Some(i) = num("JOB_COMPLETION_INDEX")? {
        let n = count.ok_or_else(|| {
            fail("JOB_COMPLETION_INDEX is set (a Kubernetes indexed Job) but Kubernetes exports no shard count: give --shard-count N (the Job's completions)".into())
        })?;
        return Shard::new(i + 1, n).ok_or_else(|| {
            fail(format!(
                "JOB_COMPLETION_INDEX={i} is outside --shard-count {n} (indices 0-{})",
                n.saturating_sub(1)
            ))
        });
    }
    Err(fail(
        "neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes indexed Job) is set: run under one of them or give --shard I/N".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(vars: &[(&str, &str)], count: Option<usize>) -> Result<Shard, SweepError> {
        let env = |k: &str| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_string())
        };
        shard_from_env(count, &env)
    }

    #[test]
    fn a_shard_argument_is_all_an_explicit_slice_or_auto() {
        let none = |_: &str| None;
        assert_eq!(shard_from_arg(None, None, &none).unwrap(), Shard::ALL);
        let two = shard_from_arg(Some("2/8"), None, &none).unwrap();
        assert_eq!((two.index(), two.count()), (2, 8));
        let e = shard_from_arg(Some("2/8"), Some(8), &none).unwrap_err();
        assert!(
            e.to_string()
                .contains("--shard-count goes with --shard auto"),
            "{e}"
        );
        assert!(shard_from_arg(Some("9/8"), None, &none).is_err());
        let k8s = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
        let auto = shard_from_arg(Some("auto"), Some(4), &k8s).unwrap();
        assert_eq!((auto.index(), auto.count()), (4, 4));
        assert!(shard_from_arg(Some("auto"), None, &none).is_err());
    }

    fn slurm(id: &str, min: &str, max: &str, n: &str) -> Vec<(&'static str, String)> {
        vec![
            ("SLURM_ARRAY_TASK_ID", id.into()),
            ("SLURM_ARRAY_TASK_MIN", min.into()),
            ("SLURM_ARRAY_TASK_MAX", max.into()),
            ("SLURM_ARRAY_TASK_COUNT", n.into()),
        ]
    }

    fn with(vars: &[(&'static str, String)], count: Option<usize>) -> Result<Shard, SweepError> {
        let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        shard(&v, count)
    }

    #[test]
    fn slurm_one_based_array() {
        let s = with(&slurm("3", "1", "16", "16"), None).unwrap();
        assert_eq!((s.index(), s.count()), (3, 16));
    }

    #[test]
    fn slurm_zero_based_array_starts_at_shard_one() {
        let s = with(&slurm("0", "0", "3", "4"), None).unwrap();
        assert_eq!((s.index(), s.count()), (1, 4));
        let s = with(&slurm("3", "0", "3", "4"), None).unwrap();
        assert_eq!((s.index(), s.count()), (4, 4));
    }

    #[test]
    fn slurm_without_min_and_max_is_one_based() {
        let s = shard(
            &[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            None,
        )
        .unwrap();
        assert_eq!((s.index(), s.count()), (2, 4));
    }

    #[test]
    fn slurm_stepped_array_is_an_error() {
        // --array=1-7:2 has tasks 1, 3, 5, 7: four tasks over a span of 7.
        let e = with(&slurm("3", "1", "7", "4"), None).unwrap_err();
        assert!(e.to_string().contains("contiguous"), "{e}");
    }

    #[test]
    fn slurm_count_must_agree_with_shard_count() {
        let e = with(&slurm("1", "1", "4", "4"), Some(8)).unwrap_err();
        assert!(e.to_string().contains("--shard-count 8"), "{e}");
        assert!(with(&slurm("1", "1", "4", "4"), Some(4)).is_ok());
    }

    #[test]
    fn slurm_id_without_count_or_not_a_number() {
        let e = shard(&[("SLURM_ARRAY_TASK_ID", "2")], None).unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_COUNT"), "{e}");
        let e = shard(
            &[
                ("SLURM_ARRAY_TASK_ID", "x"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_ID=\"x\""), "{e}");
    }

    #[test]
    fn slurm_wins_over_kubernetes() {
        let mut vars = slurm("2", "1", "2", "2");
        vars.push(("JOB_COMPLETION_INDEX", "0".into()));
        let s = with(&vars, None).unwrap();
        assert_eq!((s.index(), s.count()), (2, 2));
    }

    #[test]
    fn kubernetes_index_is_zero_based_and_needs_a_count() {
        let s = shard(&[("JOB_COMPLETION_INDEX", "0")], Some(5)).unwrap();
        assert_eq!((s.index(), s.count()), (1, 5));
        let s = shard(&[("JOB_COMPLETION_INDEX", "4")], Some(5)).unwrap();
        assert_eq!((s.index(), s.count()), (5, 5));
        let e = shard(&[("JOB_COMPLETION_INDEX", "5")], Some(5)).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
        let e = shard(&[("JOB_COMPLETION_INDEX", "0")], None).unwrap_err();
        assert!(e.to_string().contains("--shard-count"), "{e}");
    }

    #[test]
    fn no_scheduler_is_a_clear_error() {
        let e = shard(&[], Some(4)).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("SLURM_ARRAY_TASK_ID"), "{text}");
        assert!(text.contains("JOB_COMPLETION_INDEX"), "{text}");
    }
}
