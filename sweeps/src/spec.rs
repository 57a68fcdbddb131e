//! The sweep file: what it may say, parsed into a [`SweepSpec`] with every
//! problem located (`FILE:LINE: KEY: MESSAGE`).

use std::collections::BTreeSet;
use std::path::Path;

use scenarios::{Diagnostic, LocatedToml, Location, ScenarioError};
use toml::Value;

use crate::SweepError;

/// A sweep shipped with tlbsim (`experiments/NAME.toml`).
#[derive(Debug)]
pub struct Experiment {
    /// Its name, as given to `tlbsim sweep NAME`.
    pub name: &'static str,
    /// The sweep file's text.
    pub text: &'static str,
}

/// The bundled experiment `experiments/NAME.toml`.
macro_rules! experiment {
    ($name:literal) => {
        Experiment {
            name: $name,
            text: include_str!(concat!("../../experiments/", $name, ".toml")),
        }
    };
}

static EXPERIMENTS: [Experiment; 6] = [
    experiment!("scaling"),
    experiment!("io-size"),
    experiment!("migration"),
    experiment!("ipi-cost"),
    experiment!("policies"),
    experiment!("sensitivity"),
];

/// The bundled experiments.
#[must_use]
pub fn experiments() -> &'static [Experiment] {
    &EXPERIMENTS
}

/// One override of the base scenario (`KEY=VALUE`, as `--set` takes it)
/// and where the sweep file gives it, so that the scenario loader's
/// problems with it can name the sweep file's line.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// The dotted scenario key.
    pub key: String,
    /// The whole override, `KEY=VALUE`.
    pub text: String,
    /// Where the sweep file sets it (`None`: the command line's `--set`).
    pub location: Option<Location>,
}

impl Assignment {
    /// `key` set to the TOML value `value`, given at `location`.
    #[must_use]
    pub fn new(key: &str, value: &Value, location: Option<Location>) -> Self {
        Self {
            key: key.to_string(),
            text: format!("{key}={value}"),
            location,
        }
    }

    /// A `KEY=VALUE` string as the command line gives it.
    #[must_use]
    pub fn from_text(text: &str, location: Option<Location>) -> Self {
        let key = text.split_once('=').map_or(text, |(k, _)| k).trim();
        Self {
            key: key.to_string(),
            text: text.to_string(),
            location,
        }
    }
}

/// One value of an axis and the line it is written on.
#[derive(Clone, Debug, PartialEq)]
pub struct AxisValue {
    /// The value, as TOML (a number, string, table...).
    pub value: Value,
    /// Where it is written.
    pub location: Location,
}

/// An axis as written.
#[derive(Clone, Debug, PartialEq)]
pub struct AxisSpec {
    /// The column of `sweep.csv` (the key, or the keys joined by `+`).
    pub name: String,
    /// The dotted scenario keys it sets, all to the same value.
    pub keys: Vec<String>,
    /// The axis title of plots.
    pub label: String,
    /// The values, in order.
    pub values: Vec<AxisValue>,
}

/// A parsed sweep file.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// The sweep's name: the bundled name or the file stem.
    pub name: String,
    /// The file, as displayed in messages.
    pub file: String,
    /// What the sweep asks.
    pub description: String,
    /// The base scenario: a bundled name or a path (already joined to the
    /// sweep file's directory).
    pub base: String,
    /// Where `base` is written (the file without a line if it is missing).
    pub base_location: Location,
    /// The axes, in file order; the first is the x axis of plots.
    pub axes: Vec<AxisSpec>,
    /// `policies`, as a `policies=[...]` override of the base.
    pub policies: Option<Assignment>,
    /// `seeds`, if given.
    pub seeds: Option<Vec<u64>>,
    /// `replications`, if given: the base seed and the next ones.
    pub replications: Option<u64>,
    /// `set`, flattened to overrides with dotted keys.
    pub set: Vec<Assignment>,
    /// `figure`: the metrics of `plots/figure.*`, if given.
    pub figure: Option<Vec<String>>,
}

impl SweepSpec {
    /// Loads a bundled experiment by name or a sweep file by path (anything
    /// that looks like a path or names an existing file is a file).
    ///
    /// # Errors
    /// Unknown name, unreadable file, or the problems of [`SweepSpec::parse`].
    pub fn load(name_or_path: &str) -> Result<Self, SweepError> {
        let path = Path::new(name_or_path);
        if !scenarios::looks_like_path(name_or_path) && !path.is_file() {
            let e = EXPERIMENTS
                .iter()
                .find(|e| e.name == name_or_path)
                .ok_or_else(|| SweepError::UnknownSweep {
                    name: name_or_path.to_string(),
                    available: EXPERIMENTS.iter().map(|e| e.name.to_string()).collect(),
                })?;
            let file = format!("experiments/{}.toml", e.name);
            return Self::parse(e.name, &file, e.text, None);
        }
        let text = std::fs::read_to_string(path).map_err(|error| SweepError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let name = path.file_stem().map_or_else(
            || name_or_path.to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let dir = path.parent().unwrap_or(Path::new(""));
        Self::parse(&name, name_or_path, &text, Some(dir))
    }

    /// Parses a sweep file's text. `file` is how messages name it; `dir` is
    /// the directory a relative `base` path is joined to (`None` for bundled
    /// experiments, whose base is a bundled scenario).
    ///
    /// # Errors
    /// [`SweepError::Spec`]: a syntax error, or every problem found.
    pub fn parse(
        name: &str,
        file: &str,
        text: &str,
        dir: Option<&Path>,
    ) -> Result<Self, SweepError> {
        let doc = LocatedToml::parse(text, file).map_err(|error| SweepError::Spec { error })?;
        let mut p = Parser {
            doc: &doc,
            problems: Vec::new(),
        };
        let mut spec = SweepSpec {
            name: name.to_string(),
            file: file.to_string(),
            description: String::new(),
            base: String::new(),
            base_location: doc.location("base"),
            axes: Vec::new(),
            policies: None,
            seeds: None,
            replications: None,
            set: Vec::new(),
            figure: None,
        };
        for (key, v) in &doc.table {
            p.top_level(&mut spec, key, v, dir);
        }
        p.check_whole(&spec);
        if p.problems.is_empty() {
            return Ok(spec);
        }
        p.problems
            .sort_by_key(|d| (d.line.unwrap_or(0), d.key.clone()));
        Err(SweepError::Spec {
            error: ScenarioError::Invalid {
                problems: p.problems,
            },
        })
    }
}

/// Collects the located problems of one sweep file.
struct Parser<'a> {
    doc: &'a LocatedToml,
    problems: Vec<Diagnostic>,
}

const ALLOWED: &str =
    "allowed: description, base, axes, policies, seeds, replications, set, figure";
const SET_FORM: &str = "must be a table of keys or a list of \"KEY=VALUE\" strings";

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|e| e.as_str().map(str::to_string))
        .collect()
}

impl Parser<'_> {
    fn add(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(self.doc.diagnostic(key, message));
    }

    fn top_level(&mut self, spec: &mut SweepSpec, key: &str, v: &Value, dir: Option<&Path>) {
        match key {
            "description" => match v.as_str() {
                Some(s) => spec.description = s.trim().to_string(),
                None => self.add(key, "must be a string"),
            },
            "base" => match v.as_str() {
                Some(s) => {
                    spec.base = match dir {
                        Some(d) if scenarios::looks_like_path(s) || d.join(s).is_file() => {
                            d.join(s).display().to_string()
                        }
                        _ => s.to_string(),
                    };
                }
                None => self.add(
                    key,
                    "must be a string: a bundled scenario name or a path relative to the sweep file",
                ),
            },
            "policies" => match string_list(v) {
                Some(l) if !l.is_empty() => {
                    spec.policies = Some(Assignment::new(key, v, Some(self.doc.location(key))));
                }
                _ => self.add(key, "must be a non-empty list of policy names"),
            },
            "seeds" => self.seeds(spec, v),
            "replications" => match v.as_integer().and_then(|i| u64::try_from(i).ok()) {
                Some(n) if n >= 1 => spec.replications = Some(n),
                _ => self.add(key, "must be a positive integer"),
            },
            "set" => match v {
                Value::Table(t) => self.flatten_set("set", "", t, &mut spec.set),
                Value::Array(_) => match string_list(v) {
                    Some(l) => {
                        spec.set = l
                            .iter()
                            .enumerate()
                            .map(|(i, s)| {
                                let loc = self.doc.location(&format!("set.{i}"));
                                Assignment::from_text(s, Some(loc))
                            })
                            .collect();
                    }
                    None => self.add(key, SET_FORM),
                },
                _ => self.add(key, SET_FORM),
            },
            "figure" => match string_list(v) {
                Some(l) if !l.is_empty() => spec.figure = Some(l),
                _ => self.add(
                    key,
                    "must be a non-empty list of metric names (columns of sweep.csv)",
                ),
            },
            "axes" => match v {
                Value::Table(t) => self.axes_table(spec, t),
                Value::Array(a) => {
                    for (i, e) in a.iter().enumerate() {
                        self.axis_entry(spec, i, e);
                    }
                }
                _ => self.add(
                    key,
                    "must be a table (`[axes]`) or a list of tables (`[[axes]]`)",
                ),
            },
            _ => self.add(key, format!("unknown key ({ALLOWED})")),
        }
    }

    fn seeds(&mut self, spec: &mut SweepSpec, v: &Value) {
        let l: Option<Vec<u64>> = v.as_array().and_then(|a| {
            a.iter()
                .map(|e| e.as_integer().and_then(|i| u64::try_from(i).ok()))
                .collect()
        });
        match l {
            Some(l) if !l.is_empty() => {
                if l.iter().collect::<BTreeSet<_>>().len() != l.len() {
                    self.add("seeds", "a seed appears twice");
                }
                spec.seeds = Some(l);
            }
            _ => self.add("seeds", "must be a non-empty list of non-negative integers"),
        }
    }

    /// Flattens a `[set]` table into overrides with dotted keys.
    fn flatten_set(&self, path: &str, prefix: &str, t: &toml::Table, out: &mut Vec<Assignment>) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let at = format!("{path}.{k}");
            match v {
                Value::Table(sub) => self.flatten_set(&at, &key, sub, out),
                other => out.push(Assignment::new(&key, other, Some(self.doc.location(&at)))),
            }
        }
    }

    /// The values of an axis at `path`, each with its line.
    fn values(&mut self, path: &str, v: &Value) -> Vec<AxisValue> {
        let Some(a) = v.as_array() else {
            self.add(path, "must be a list of values, e.g. [2, 4, 8]");
            return Vec::new();
        };
        if a.is_empty() {
            self.add(path, "needs at least one value");
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, e) in a.iter().enumerate() {
            let at = format!("{path}.{i}");
            if !seen.insert(e.to_string()) {
                self.add(&at, format!("value {e} appears twice"));
            }
            out.push(AxisValue {
                value: e.clone(),
                location: self.doc.location(&at),
            });
        }
        out
    }

    /// `[axes]`: one axis per key, in file order.
    fn axes_table(&mut self, spec: &mut SweepSpec, t: &toml::Table) {
        let mut keys: Vec<(Option<usize>, &String)> = t
            .keys()
            .map(|k| (self.doc.location(&format!("axes.{k}")).line, k))
            .collect();
        keys.sort();
        for (_, k) in keys {
            let values = self.values(&format!("axes.{k}"), &t[k]);
            spec.axes.push(AxisSpec {
                name: k.clone(),
                keys: vec![k.clone()],
                label: k.clone(),
                values,
            });
        }
    }

    /// `[[axes]]` entry `i`.
    fn axis_entry(&mut self, spec: &mut SweepSpec, i: usize, e: &Value) {
        let path = format!("axes.{i}");
        let Some(t) = e.as_table() else {
            self.add(
                &path,
                "must be a table: { key = \"machine.cpus\", values = [...] }",
            );
            return;
        };
        let mut keys = Vec::new();
        let mut values = Vec::new();
        let mut label = None;
        let mut name = None;
        for (k, v) in t {
            let kp = format!("{path}.{k}");
            match k.as_str() {
                "key" => match v.as_str() {
                    Some(s) => keys.push(s.to_string()),
                    None => self.add(&kp, "must be a dotted scenario key"),
                },
                "keys" => match string_list(v) {
                    Some(l) if !l.is_empty() => keys.extend(l),
                    _ => self.add(&kp, "must be a non-empty list of dotted scenario keys"),
                },
                "values" => values = self.values(&kp, v),
                "label" => label = v.as_str().map(str::to_string),
                "name" => name = v.as_str().map(str::to_string),
                _ => self.add(&kp, "unknown key (allowed: key, keys, values, label, name)"),
            }
        }
        if keys.is_empty() {
            self.add(&path, "needs `key` (or `keys`)");
        }
        if !t.contains_key("values") {
            self.add(&path, "needs `values`");
        }
        let name = name.unwrap_or_else(|| keys.join("+"));
        spec.axes.push(AxisSpec {
            label: label.unwrap_or_else(|| name.clone()),
            name,
            keys,
            values,
        });
    }

    /// Problems of the file as a whole: missing keys, conflicts.
    fn check_whole(&mut self, spec: &SweepSpec) {
        let table = &self.doc.table;
        if !table.contains_key("base") {
            self.add("", "missing `base` (the scenario the sweep varies)");
        }
        if !table.contains_key("axes") {
            self.add("", "missing `axes`");
        }
        if spec.seeds.is_some() && spec.replications.is_some() {
            self.add(
                "replications",
                "give either `seeds` or `replications`, not both",
            );
        }
        let mut names = BTreeSet::new();
        for a in &spec.axes {
            if !names.insert(a.name.clone()) {
                self.add("axes", format!("axis `{}` appears twice", a.name));
            }
        }
    }
}
