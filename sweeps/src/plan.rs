//! The plan: every simulation of a sweep, in the order its outputs list
//! them, and the fully resolved scenario of each.

use std::fmt;

use scenarios::{Diagnostic, Scenario, ScenarioError};
use serde_json::{json, Value};

use crate::spec::{Assignment, SweepSpec};
use crate::{SweepAxis, SweepError, DEFAULT_FIGURE, VERSION};

/// A newtype around a `String` with `as_str` and `Display`.
macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// The hash of a fully resolved scenario ([`scenarios::Scenario::hash`],
    /// hex SHA-256): a job's identity, and the name of its point file.
    ScenarioHash
);

impl ScenarioHash {
    /// The hash of `sc`.
    #[must_use]
    pub fn of(sc: &Scenario) -> Self {
        Self(sc.hash.clone())
    }
}

/// A policy, by the name scenarios give it (`global`, `percpu`, ...).
/// This crate knows policies only by name: `policy_names` is the one place
/// that reads them off a scenario.
pub use hypervisor::PolicyName;

/// The names of the policies `sc` runs, in order: the only place this
/// crate touches a policy.
fn policy_names(sc: &Scenario) -> Vec<PolicyName> {
    sc.policies.iter().map(|p| p.name.clone()).collect()
}

/// One simulation: a grid point, one policy, one seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Index of the grid point (row-major over the axes, first axis
    /// slowest).
    pub point: usize,
    /// The point's value on each axis, as JSON.
    pub axis_values: Vec<Value>,
    /// The policy simulated.
    pub policy: PolicyName,
    /// The seed of every random stream.
    pub seed: u64,
    /// The hash of the job's fully resolved scenario.
    pub hash: ScenarioHash,
}

impl Job {
    /// The axis values as text, comma-separated (for messages).
    #[must_use]
    pub fn axis_text(&self) -> String {
        self.axis_values
            .iter()
            .map(reports::value_text)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The sweep fully resolved: what `plan.json` holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The sweep's name.
    pub name: String,
    /// What it asks.
    pub description: String,
    /// The base scenario's name.
    pub base_name: String,
    /// The base scenario's hash (after the sweep's and the command line's
    /// `set` and `policies`).
    pub base_hash: ScenarioHash,
    /// The base scenario, fully resolved, as TOML.
    pub base_toml: String,
    /// The axes; the first is the x axis of plots.
    pub axes: Vec<SweepAxis>,
    /// The policies, in order.
    pub policies: Vec<PolicyName>,
    /// The seeds, in order.
    pub seeds: Vec<u64>,
    /// The metrics of `plots/figure.*`.
    pub figure: Vec<String>,
    /// Every job, in grid order, then policy, then seed.
    pub jobs: Vec<Job>,
}

impl Plan {
    /// `plan.json`: pretty JSON, a newline at the end.
    #[must_use]
    pub fn to_json(&self) -> String {
        let jobs: Vec<Value> = self
            .jobs
            .iter()
            .map(|j| {
                json!({"point": j.point, "axes": j.axis_values, "policy": j.policy.name(),
                       "seed": j.seed, "hash": j.hash.as_str()})
            })
            .collect();
        let axes: Vec<Value> = self
            .axes
            .iter()
            .map(|a| json!({"name": a.name, "keys": a.keys, "label": a.label, "values": a.values}))
            .collect();
        let policies: Vec<&str> = self.policies.iter().map(PolicyName::name).collect();
        let v = json!({
            "tlbsim_version": VERSION,
            "sweep": {"name": self.name, "description": self.description},
            "base": {"name": self.base_name, "hash": self.base_hash.as_str(), "toml": self.base_toml},
            "axes": axes,
            "policies": policies,
            "seeds": self.seeds,
            "figure": self.figure,
            "jobs": jobs,
        });
        let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialize");
        s.push('\n');
        s
    }

    /// Parses what [`Plan::to_json`] wrote (`None` if it is not a plan of
    /// this version).
    #[must_use]
    pub fn from_json(text: &str) -> Option<Plan> {
        let v: Value = serde_json::from_str(text).ok()?;
        if v["tlbsim_version"] != VERSION {
            return None;
        }
        let s = |v: &Value| v.as_str().map(str::to_string);
        let strs = |v: &Value| -> Option<Vec<String>> { v.as_array()?.iter().map(s).collect() };
        let axes = v["axes"]
            .as_array()?
            .iter()
            .map(|a| {
                Some(SweepAxis {
                    name: s(&a["name"])?,
                    keys: strs(&a["keys"])?,
                    label: s(&a["label"])?,
                    values: a["values"].as_array()?.clone(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let jobs = v["jobs"]
            .as_array()?
            .iter()
            .map(|j| {
                Some(Job {
                    point: usize::try_from(j["point"].as_u64()?).ok()?,
                    axis_values: j["axes"].as_array()?.clone(),
                    policy: PolicyName::new(&s(&j["policy"])?),
                    seed: j["seed"].as_u64()?,
                    hash: ScenarioHash(s(&j["hash"])?),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Plan {
            name: s(&v["sweep"]["name"])?,
            description: s(&v["sweep"]["description"])?,
            base_name: s(&v["base"]["name"])?,
            base_hash: ScenarioHash(s(&v["base"]["hash"])?),
            base_toml: s(&v["base"]["toml"])?,
            axes,
            policies: strs(&v["policies"])?
                .iter()
                .map(|s| PolicyName::new(s))
                .collect(),
            seeds: v["seeds"]
                .as_array()?
                .iter()
                .map(Value::as_u64)
                .collect::<Option<Vec<_>>>()?,
            figure: strs(&v["figure"])?,
            jobs,
        })
    }
}

/// A sweep ready to run: its plan and the scenario of every job
/// (`scenarios[i]` is that of `plan.jobs[i]`, with that job's one policy).
#[derive(Clone, Debug)]
pub struct ResolvedSweep {
    /// The plan.
    pub plan: Plan,
    /// The fully resolved scenario of each job, in plan order.
    pub scenarios: Vec<Scenario>,
}

/// The file name the scenario loader gives command-line overrides.
const SET_FILE: &str = "--set";

/// Whether dotted `path` is `prefix` or lies below it.
fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Loads `base` with `assignments` as overrides; a problem the loader puts
/// on an override is moved to the sweep file's line that gives it.
fn load(base: &str, assignments: &[Assignment]) -> Result<Scenario, ScenarioError> {
    let texts: Vec<String> = assignments.iter().map(|a| a.text.clone()).collect();
    scenarios::load(base, &texts).map_err(|e| match e {
        ScenarioError::Invalid { problems } => ScenarioError::Invalid {
            problems: problems
                .into_iter()
                .map(|d| relocate(d, assignments))
                .collect(),
        },
        other => other,
    })
}

fn relocate(d: Diagnostic, assignments: &[Assignment]) -> Diagnostic {
    if d.file != SET_FILE {
        return d;
    }
    // The last override of the key wins, so it is the one to blame.
    let given = assignments
        .iter()
        .rev()
        .find(|a| is_under(&d.key, &a.key) || is_under(&a.key, &d.key));
    match given.and_then(|a| a.location.as_ref()) {
        Some(loc) => Diagnostic::at(loc, &d.key, d.message),
        None => d,
    }
}

impl ResolvedSweep {
    /// Loads a sweep ([`SweepSpec::load`]) and resolves it with the command
    /// line's overrides (`KEY=VALUE`, applied after the file's `set`).
    ///
    /// # Errors
    /// As [`SweepSpec::load`] and [`ResolvedSweep::new`].
    pub fn load(name_or_path: &str, cli_sets: &[String]) -> Result<Self, SweepError> {
        Self::new(&SweepSpec::load(name_or_path)?, cli_sets)
    }

    /// Resolves `spec`: loads the base with the sweep's `set`, `cli_sets`
    /// and `policies`, then the scenario of every job (grid point, policy,
    /// seed), each loaded from the base's source with every override at once
    /// (not layered on the resolved base), so that an axis on
    /// `costs.preset` keeps the individual costs that `set` gives: the
    /// preset is the base, explicit keys win.
    ///
    /// # Errors
    /// The base or a grid point does not load (located at the sweep file's
    /// lines where they come from it), or no policy is left.
    pub fn new(spec: &SweepSpec, cli_sets: &[String]) -> Result<Self, SweepError> {
        let mut sets = spec.set.clone();
        sets.extend(cli_sets.iter().map(|s| Assignment::from_text(s, None)));
        sets.extend(spec.policies.clone());
        let base = load(&spec.base, &sets).map_err(|e| SweepError::Base {
            sweep: spec.name.clone(),
            base: spec.base.clone(),
            error: locate_missing_base(spec, e),
        })?;
        let seeds: Vec<u64> = match (&spec.seeds, spec.replications) {
            (Some(s), _) => s.clone(),
            (None, Some(n)) => (0..n).map(|i| base.config.seed.wrapping_add(i)).collect(),
            (None, None) => vec![base.config.seed],
        };
        let policies = policy_names(&base);
        if policies.is_empty() {
            return Err(SweepError::NoPolicy {
                sweep: spec.name.clone(),
            });
        }
        let axes: Vec<SweepAxis> = spec
            .axes
            .iter()
            .map(|a| SweepAxis {
                name: a.name.clone(),
                keys: a.keys.clone(),
                label: a.label.clone(),
                values: a.values.iter().map(|v| json_value(&v.value)).collect(),
            })
            .collect();
        let mut jobs = Vec::new();
        let mut scenarios_of_jobs = Vec::new();
        for (point, idx) in grid(&spec.axes.iter().map(|a| a.values.len()).collect::<Vec<_>>())
            .iter()
            .enumerate()
        {
            let mut ov = Vec::new();
            for (a, &i) in spec.axes.iter().zip(idx) {
                let v = &a.values[i];
                for k in &a.keys {
                    ov.push(Assignment::new(k, &v.value, Some(v.location.clone())));
                }
            }
            let axis_values: Vec<Value> = axes
                .iter()
                .zip(idx)
                .map(|(a, &i)| a.values[i].clone())
                .collect();
            for policy in &policies {
                for &seed in &seeds {
                    let mut o = sets.clone();
                    o.extend(ov.iter().cloned());
                    o.push(Assignment::from_text(&format!("seed={seed}"), None));
                    o.push(Assignment::from_text(
                        &format!("policies=[\"{policy}\"]"),
                        None,
                    ));
                    let sc = load(&spec.base, &o).map_err(|error| SweepError::Point {
                        sweep: spec.name.clone(),
                        point,
                        assignments: ov
                            .iter()
                            .map(|a| a.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                        error,
                    })?;
                    jobs.push(Job {
                        point,
                        axis_values: axis_values.clone(),
                        policy: policy.clone(),
                        seed,
                        hash: ScenarioHash::of(&sc),
                    });
                    scenarios_of_jobs.push(sc);
                }
            }
        }
        let figure = spec
            .figure
            .clone()
            .unwrap_or_else(|| DEFAULT_FIGURE.iter().map(ToString::to_string).collect());
        let plan = Plan {
            name: spec.name.clone(),
            description: spec.description.clone(),
            base_name: base.name.clone(),
            base_hash: ScenarioHash::of(&base),
            base_toml: scenarios::to_toml(&base),
            axes,
            policies,
            seeds,
            figure,
            jobs,
        };
        Ok(Self {
            plan,
            scenarios: scenarios_of_jobs,
        })
    }
}

/// A base that does not exist (or cannot be read) is the sweep file's
/// problem: it is located at the line of `base`.
fn locate_missing_base(spec: &SweepSpec, e: ScenarioError) -> ScenarioError {
    match e {
        ScenarioError::UnknownScenario { .. } | ScenarioError::Read { .. } => {
            ScenarioError::Invalid {
                problems: vec![Diagnostic::at(&spec.base_location, "base", e.to_string())],
            }
        }
        other => other,
    }
}

/// A TOML value as JSON (TOML dates become strings).
fn json_value(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or_else(|_| Value::String(v.to_string()))
}

/// Every index tuple of a grid of these axis lengths, row-major (first
/// axis slowest).
fn grid(lengths: &[usize]) -> Vec<Vec<usize>> {
    let mut points: Vec<Vec<usize>> = vec![Vec::new()];
    for &n in lengths {
        points = points
            .iter()
            .flat_map(|p| {
                (0..n).map(move |i| {
                    let mut p = p.clone();
                    p.push(i);
                    p
                })
            })
            .collect();
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_row_major() {
        assert_eq!(
            grid(&[2, 3]),
            [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
        );
        assert_eq!(grid(&[]), [Vec::<usize>::new()]);
    }

    #[test]
    fn relocation_blames_the_last_override_of_a_key() {
        let loc = scenarios::Location {
            file: "s.toml".into(),
            line: Some(7),
        };
        let a = [
            Assignment::from_text("machine.cpus=2", Some(loc.clone())),
            Assignment::from_text("machine.cpus=x", None),
        ];
        let d = Diagnostic::at(
            &scenarios::Location {
                file: SET_FILE.into(),
                line: None,
            },
            "machine.cpus",
            "bad",
        );
        assert_eq!(
            relocate(d.clone(), &a).to_string(),
            "--set: machine.cpus: bad"
        );
        assert_eq!(
            relocate(d, &a[..1]).to_string(),
            "s.toml:7: machine.cpus: bad"
        );
    }
}
