//! Where in a configuration a problem is: a typed path of field names and
//! list indices, built by the crates that validate their configuration and
//! mapped by the input format to where the user wrote the value.

use std::fmt;

/// One step of a [`KeyPath`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeySegment {
    /// A field of a struct, by its name.
    Field(&'static str),
    /// An element of a list, by its 0-based index.
    Index(usize),
}

/// The path of a value inside a configuration, e.g. `guests`, `0`,
/// `queue_depth`. Displays dotted (`guests.0.queue_depth`); it is built
/// segment by segment, never parsed from text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath {
    segments: Vec<KeySegment>,
}

impl KeyPath {
    /// The path of these fields, outermost first.
    #[must_use]
    pub fn of(fields: &[&'static str]) -> Self {
        Self {
            segments: fields.iter().map(|f| KeySegment::Field(f)).collect(),
        }
    }

    /// This path, then field `name`.
    #[must_use]
    pub fn field(mut self, name: &'static str) -> Self {
        self.segments.push(KeySegment::Field(name));
        self
    }

    /// This path, then list element `index`.
    #[must_use]
    pub fn index(mut self, index: usize) -> Self {
        self.segments.push(KeySegment::Index(index));
        self
    }

    /// This path, then every segment of `rest`.
    #[must_use]
    pub fn join(mut self, rest: &KeyPath) -> Self {
        self.segments.extend_from_slice(&rest.segments);
        self
    }

    /// The segments, outermost first.
    #[must_use]
    pub fn segments(&self) -> &[KeySegment] {
        &self.segments
    }
}

impl fmt::Display for KeySegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySegment::Field(name) => f.write_str(name),
            KeySegment::Index(i) => write!(f, "{i}"),
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// One problem with a configuration: where ([`KeyPath`]) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The offending value, e.g. `guests.0.queue_depth` (relative to the
    /// configuration that reported it).
    pub key: KeyPath,
    /// What is wrong and what is allowed, e.g. `must be at least 1`.
    pub message: String,
}

impl Problem {
    /// A problem at `key`.
    #[must_use]
    pub fn new(key: KeyPath, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }

    /// The same problem seen from a containing configuration: `prefix`
    /// followed by its key.
    #[must_use]
    pub fn under(self, prefix: &KeyPath) -> Self {
        Self {
            key: prefix.clone().join(&self.key),
            message: self.message,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display_dotted_and_join() {
        let p = KeyPath::of(&["guests"]).index(2).field("size_bytes");
        assert_eq!(p.to_string(), "guests.2.size_bytes");
        assert_eq!(
            p.segments(),
            [
                KeySegment::Field("guests"),
                KeySegment::Index(2),
                KeySegment::Field("size_bytes")
            ]
        );
        let q = Problem::new(KeyPath::of(&["align"]), "must be at least 1")
            .under(&KeyPath::of(&["size_bytes"]));
        assert_eq!(q.to_string(), "size_bytes.align: must be at least 1");
        assert_eq!(KeyPath::default().to_string(), "");
    }
}
