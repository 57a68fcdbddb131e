//! The one error type of this crate and the located diagnostics it carries.

use std::fmt;

/// Where a key of a resolved scenario was defined: a file (or `--set`) and,
/// when known, a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// The file as displayed to the user (the path as given, or
    /// `bundled/NAME.toml`, or `--set` for a command-line override).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
}

/// One problem with a scenario, located in its file.
///
/// Displays as `FILE:LINE: KEY: MESSAGE` (`FILE: KEY: MESSAGE` when the line
/// is unknown, e.g. for `--set` overrides).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (or `--set`) that defined the key, or its nearest ancestor.
    pub file: String,
    /// 1-based line of that definition, when known.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `guests.0.queue_depth` (may be empty for a
    /// problem with the whole file).
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Diagnostic {
    /// A problem with `key`, defined at `loc`.
    #[must_use]
    pub fn at(loc: &Location, key: &str, message: impl Into<String>) -> Self {
        Self {
            file: loc.file.clone(),
            line: loc.line,
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything that can go wrong loading a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A name that is neither an existing file nor a bundled scenario.
    #[error("unknown scenario `{name}`: no such file and no bundled scenario of that name (bundled: {})", available.join(", "))]
    UnknownScenario {
        /// The name given.
        name: String,
        /// The bundled scenarios' names.
        available: Vec<String>,
    },
    /// A scenario file that could not be read.
    #[error("{path}: cannot read scenario file: {source}")]
    Read {
        /// The path, as displayed.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not valid TOML (or JSON).
    #[error("{file}:{line}:{column}: syntax error: {message}")]
    Syntax {
        /// The file, as displayed.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// One or more problems with the content: unknown keys, wrong types,
    /// invalid values, bad `extends` or `--set`. Every problem found is
    /// listed, one per line.
    #[error("{}", render(problems))]
    Invalid {
        /// The problems, in file and line order.
        problems: Vec<Diagnostic>,
    },
}

fn render(problems: &[Diagnostic]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ScenarioError {
    /// The located problems of an [`ScenarioError::Invalid`] error (empty for
    /// the other kinds).
    #[must_use]
    pub fn problems(&self) -> &[Diagnostic] {
        match self {
            ScenarioError::Invalid { problems } => problems,
            _ => &[],
        }
    }
}
