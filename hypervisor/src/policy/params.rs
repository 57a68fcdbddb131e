//! Policy parameters: declared by each policy ([`ParamSpec`]), given by a
//! scenario as [`RawValue`]s, checked and completed with defaults into
//! [`Params`].

use std::collections::BTreeMap;
use std::fmt;

/// What values a parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `true` or `false`.
    Bool,
    /// A whole number within `min..=max`.
    Int {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// One of these names.
    Choice(&'static [&'static str]),
}

/// A checked parameter value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParamValue {
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Int(u64),
    /// One of a [`ParamKind::Choice`]'s names.
    Choice(&'static str),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(n) => write!(f, "{n}"),
            ParamValue::Choice(s) => write!(f, "\"{s}\""),
        }
    }
}

/// A parameter as a scenario gives it, before checking.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    /// A boolean.
    Bool(bool),
    /// An integer (possibly negative: checking rejects it).
    Int(i64),
    /// A float (rejected where a whole number is expected).
    Float(f64),
    /// A string.
    Str(String),
    /// Anything else (a table, a list), named by its type.
    Other(&'static str),
}

/// One parameter a policy declares.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    /// Its key in the scenario's `[policy.NAME]` table.
    pub name: &'static str,
    /// What values it takes.
    pub kind: ParamKind,
    /// Its value when the scenario does not set it.
    pub default: ParamValue,
    /// What it models (with its source) and in which unit.
    pub doc: &'static str,
}

impl ParamSpec {
    /// What is allowed, for error messages.
    #[must_use]
    pub fn allowed(&self) -> String {
        match self.kind {
            ParamKind::Bool => "true or false".to_string(),
            ParamKind::Int { min, max } => format!("a whole number within {min}..={max}"),
            ParamKind::Choice(names) => {
                let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
                format!("one of {}", quoted.join(", "))
            }
        }
    }

    /// Checks one raw value against this spec.
    ///
    /// # Errors
    /// The value has the wrong type or is out of range; the message says
    /// what is allowed.
    pub fn check(&self, raw: &RawValue) -> Result<ParamValue, String> {
        let bad = |got: String| format!("must be {}, got {got}", self.allowed());
        match (self.kind, raw) {
            (ParamKind::Bool, RawValue::Bool(b)) => Ok(ParamValue::Bool(*b)),
            (ParamKind::Int { min, max }, RawValue::Int(n)) => match u64::try_from(*n) {
                Ok(v) if (min..=max).contains(&v) => Ok(ParamValue::Int(v)),
                _ => Err(bad(n.to_string())),
            },
            (ParamKind::Choice(names), RawValue::Str(s)) => names
                .iter()
                .find(|n| **n == s.as_str())
                .map(|n| ParamValue::Choice(n))
                .ok_or_else(|| bad(format!("\"{s}\""))),
            (_, RawValue::Bool(b)) => Err(bad(b.to_string())),
            (_, RawValue::Int(n)) => Err(bad(n.to_string())),
            (_, RawValue::Float(x)) => Err(bad(x.to_string())),
            (_, RawValue::Str(s)) => Err(bad(format!("\"{s}\""))),
            (_, RawValue::Other(t)) => Err(bad(format!("a {t}"))),
        }
    }
}

/// A policy's checked parameters, every declared one present.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Params {
    values: BTreeMap<&'static str, ParamValue>,
}

impl Params {
    /// The parameters with these values (used by the registry after
    /// checking, and by tests).
    #[must_use]
    pub fn from_values(values: BTreeMap<&'static str, ParamValue>) -> Self {
        Self { values }
    }

    /// Every parameter, by name (sorted).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, ParamValue)> + '_ {
        self.values.iter().map(|(k, v)| (*k, *v))
    }

    /// A boolean parameter.
    ///
    /// # Panics
    /// The policy did not declare `name` as a boolean: a bug in the policy.
    #[must_use]
    pub fn bool(&self, name: &str) -> bool {
        match self.values.get(name) {
            Some(ParamValue::Bool(b)) => *b,
            other => panic!("parameter {name} is not a declared boolean: {other:?}"),
        }
    }

    /// A whole-number parameter.
    ///
    /// # Panics
    /// The policy did not declare `name` as a number: a bug in the policy.
    #[must_use]
    pub fn int(&self, name: &str) -> u64 {
        match self.values.get(name) {
            Some(ParamValue::Int(n)) => *n,
            other => panic!("parameter {name} is not a declared number: {other:?}"),
        }
    }

    /// A choice parameter.
    ///
    /// # Panics
    /// The policy did not declare `name` as a choice: a bug in the policy.
    #[must_use]
    pub fn choice(&self, name: &str) -> &'static str {
        match self.values.get(name) {
            Some(ParamValue::Choice(s)) => s,
            other => panic!("parameter {name} is not a declared choice: {other:?}"),
        }
    }
}

/// What a policy may look at when it is built from its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildContext {
    /// Pages of the largest request any guest can issue.
    pub max_request_pages: u64,
}

impl BuildContext {
    /// Integer parameter `name` of `p`, which counts pages and must hold
    /// the largest request.
    ///
    /// # Errors
    /// It is smaller than the largest request.
    pub fn pages_param(&self, p: &Params, name: &str) -> Result<u64, ParamProblem> {
        let pages = p.int(name);
        if pages < self.max_request_pages {
            return Err(ParamProblem {
                param: Some(name.into()),
                message: format!(
                    "must hold the largest request ({} pages), got {pages}",
                    self.max_request_pages
                ),
            });
        }
        Ok(pages)
    }
}

/// A problem with a policy's parameters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", .param.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
pub struct ParamProblem {
    /// The parameter at fault (`None`: the policy as a whole).
    pub param: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}
