//! The policy registry: names to constructors with parameters.

use super::params::{BuildContext, ParamProblem, ParamSpec, Params, RawValue};
use super::MappingPolicy;
use std::collections::BTreeMap;
use std::fmt;

/// A policy's name as scenarios, the CLI and reports spell it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyName(String);

impl PolicyName {
    /// The name.
    #[must_use]
    pub fn new(name: &str) -> Self {
        Self(name.to_string())
    }

    /// The name as text.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a registered policy builds one instance from checked parameters.
pub type BuildFn = fn(&Params, &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem>;

/// A registered policy: how to describe it and how to build it.
#[derive(Clone, Copy, Debug)]
pub struct PolicyInfo {
    /// Its name (`global`, `percpu`, ...).
    pub name: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// The real system it stands for, with its source (file, patch, paper).
    pub stands_for: &'static str,
    /// Whether it is a deliberately broken variant that must show stale
    /// uses (a demonstration, never a recommendation).
    pub unsafe_variant: bool,
    /// Its parameters.
    pub params: &'static [ParamSpec],
    /// Builds one instance from checked parameters.
    pub build: BuildFn,
}

/// A policy chosen with its parameters, checked against the registry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicySpec {
    /// Which policy.
    pub name: PolicyName,
    /// Its parameters, every declared one present.
    pub params: Params,
}

impl fmt::Display for PolicySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name.name())
    }
}

/// What can go wrong with the registry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No policy has this name.
    #[error("unknown policy `{name}` (allowed: {allowed})")]
    Unknown {
        /// The name given.
        name: String,
        /// The registered names, comma-separated.
        allowed: String,
    },
    /// A second policy with a registered name.
    #[error("policy `{name}` is registered twice")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// Its parameters are wrong (every problem).
    #[error("policy `{name}`: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Params {
        /// The policy.
        name: String,
        /// What is wrong, parameter by parameter.
        problems: Vec<ParamProblem>,
    },
}

/// Policies by name, in the order they were registered (the order
/// `tlbsim policies` lists them).
#[derive(Clone, Debug, Default)]
pub struct Registry {
    entries: Vec<PolicyInfo>,
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every policy tlbsim ships: one line each.
    #[must_use]
    pub fn builtin() -> Self {
        let mut r = Self::empty();
        for info in [
            super::global::INFO,
            super::percpu::INFO,
            super::percpu::UNSAFE_INFO,
            super::batched::INFO,
            super::batched::UNSAFE_INFO,
            super::broadcast::INFO,
            super::hypercall_flush::INFO,
            super::targeted::INFO,
            super::kmap::INFO,
            super::persistent::INFO,
            super::copy::INFO,
            super::epoch::INFO,
            super::epoch::UNSAFE_INFO,
            super::broadcast_targeted::INFO,
            super::percpu::EARLY_REUSE_INFO,
        ] {
            r.register(info).expect("built-in names are distinct");
        }
        r
    }

    /// Adds a policy.
    ///
    /// # Errors
    /// Its name is taken.
    pub fn register(&mut self, info: PolicyInfo) -> Result<(), RegistryError> {
        if self.get(info.name).is_some() {
            return Err(RegistryError::Duplicate {
                name: info.name.to_string(),
            });
        }
        self.entries.push(info);
        Ok(())
    }

    /// The policy called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&PolicyInfo> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Every policy, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &PolicyInfo> {
        self.entries.iter()
    }

    /// The registered names, comma-separated (for messages).
    #[must_use]
    pub fn names(&self) -> String {
        self.entries
            .iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The policy called `name`, or an error naming the allowed ones.
    ///
    /// # Errors
    /// No such policy.
    pub fn lookup(&self, name: &str) -> Result<&PolicyInfo, RegistryError> {
        self.get(name).ok_or_else(|| RegistryError::Unknown {
            name: name.to_string(),
            allowed: self.names(),
        })
    }

    /// Checks `raw` parameters of policy `name` and fills in defaults.
    ///
    /// # Errors
    /// Unknown policy, or every problem with its parameters (unknown
    /// parameter, wrong type, out of range).
    pub fn resolve(
        &self,
        name: &str,
        raw: &[(String, RawValue)],
    ) -> Result<PolicySpec, RegistryError> {
        let info = self.lookup(name)?;
        let mut values = BTreeMap::new();
        for p in info.params {
            values.insert(p.name, p.default);
        }
        let mut problems = Vec::new();
        for (key, value) in raw {
            match info.params.iter().find(|p| p.name == key) {
                None => problems.push(ParamProblem {
                    param: Some(key.clone()),
                    message: format!(
                        "unknown parameter of policy `{name}` (allowed: {})",
                        if info.params.is_empty() {
                            "none".to_string()
                        } else {
                            info.params
                                .iter()
                                .map(|p| p.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                }),
                Some(spec) => match spec.check(value) {
                    Ok(v) => {
                        values.insert(spec.name, v);
                    }
                    Err(message) => problems.push(ParamProblem {
                        param: Some(key.clone()),
                        message,
                    }),
                },
            }
        }
        if !problems.is_empty() {
            return Err(RegistryError::Params {
                name: name.to_string(),
                problems,
            });
        }
        Ok(PolicySpec {
            name: PolicyName::new(info.name),
            params: Params::from_values(values),
        })
    }

    /// Builds an instance of a checked spec.
    ///
    /// # Errors
    /// Unknown policy, or its constructor refused the parameters in this
    /// context (e.g. slots too few for the largest request).
    pub fn build(
        &self,
        spec: &PolicySpec,
        ctx: &BuildContext,
    ) -> Result<Box<dyn MappingPolicy>, RegistryError> {
        let info = self.lookup(spec.name.name())?;
        (info.build)(&spec.params, ctx).map_err(|p| RegistryError::Params {
            name: info.name.to_string(),
            problems: vec![p],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_resolve_and_build_with_defaults() {
        let r = Registry::builtin();
        let ctx = BuildContext {
            max_request_pages: 16,
        };
        for info in r.iter() {
            let spec = r.resolve(info.name, &[]).expect("defaults are valid");
            let p = r.build(&spec, &ctx).expect("builds");
            assert_eq!(p.name(), info.name);
            assert!(!info.summary.is_empty() && !info.stands_for.is_empty());
            for param in info.params {
                assert!(param.check(&RawValue::Other("table")).is_err());
                assert!(!param.doc.is_empty());
            }
        }
    }

    #[test]
    fn unknown_names_and_params_are_errors_that_say_what_is_allowed() {
        let r = Registry::builtin();
        let e = r.resolve("percpu_unsafe", &[]).unwrap_err().to_string();
        assert!(e.contains("allowed: global, percpu, percpu-unsafe"), "{e}");
        let e = r
            .resolve(
                "global",
                &[
                    ("flush".into(), RawValue::Str("sideways".into())),
                    ("nope".into(), RawValue::Bool(true)),
                ],
            )
            .unwrap_err();
        let RegistryError::Params { problems, .. } = e else {
            panic!("{e:?}")
        };
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].param.as_deref(), Some("flush"));
        assert!(problems[0].message.contains("\"full\", \"range\""));
        assert!(problems[1].message.contains("unknown parameter"));
    }

    #[test]
    fn registering_a_taken_name_fails() {
        let mut r = Registry::builtin();
        let info = *r.get("global").unwrap();
        assert!(matches!(
            r.register(info),
            Err(RegistryError::Duplicate { .. })
        ));
    }
}
