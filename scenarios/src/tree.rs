//! The untyped scenario tree: parsing with key locations, merging (extends),
//! setting dotted keys (overrides), and removing keys.

use std::collections::BTreeMap;

use toml::{Table, Value};

use crate::error::{Location, ScenarioError};

/// Dotted key path -> where it was defined.
pub(crate) type Origins = BTreeMap<String, Location>;

/// `prefix.key`, or `key` at the top.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Whether `path` is `prefix` or lies below it.
pub(crate) fn is_under(path: &str, prefix: &str) -> bool {
    path == prefix
        || (path.len() > prefix.len()
            && path.starts_with(prefix)
            && path.as_bytes()[prefix.len()] == b'.')
}

/// Drops the origins of `path` and everything below it.
pub(crate) fn forget_under(origins: &mut Origins, path: &str) {
    origins.retain(|k, _| !is_under(k, path));
}

/// Byte offset -> (1-based line, 1-based column).
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).max(1)
    }

    pub(crate) fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.starts[line - 1];
        let end = offset.min(text.len());
        let column = text
            .get(start..end)
            .map_or(end.saturating_sub(start), |s| s.chars().count())
            + 1;
        (line, column)
    }
}

/// Parses a TOML document into a table and the line of every key.
pub(crate) fn parse_toml(text: &str, file: &str) -> Result<(Table, Origins), ScenarioError> {
    let lines = LineIndex::new(text);
    let table: Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| lines.line_col(text, s.start));
        ScenarioError::Syntax {
            file: file.to_string(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    let mut origins = Origins::new();
    if let Ok(doc) = toml::de::DeTable::parse(text) {
        walk_de_table(doc.get_ref(), "", &lines, file, &mut origins);
    }
    Ok((table, origins))
}

fn record(origins: &mut Origins, path: String, file: &str, line: usize) {
    origins.entry(path).or_insert_with(|| Location {
        file: file.to_string(),
        line: Some(line),
    });
}

fn walk_de_table(
    table: &toml::de::DeTable<'_>,
    prefix: &str,
    lines: &LineIndex,
    file: &str,
    origins: &mut Origins,
) {
    for (key, value) in table {
        let path = join(prefix, key.get_ref());
        record(origins, path.clone(), file, lines.line(key.span().start));
        walk_de_value(value.get_ref(), &path, lines, file, origins);
    }
}

fn walk_de_value(
    value: &toml::de::DeValue<'_>,
    path: &str,
    lines: &LineIndex,
    file: &str,
    origins: &mut Origins,
) {
    match value {
        toml::de::DeValue::Table(t) => walk_de_table(t, path, lines, file, origins),
        toml::de::DeValue::Array(a) => {
            for (i, elem) in a.iter().enumerate() {
                let p = join(path, &i.to_string());
                record(origins, p.clone(), file, lines.line(elem.span().start));
                walk_de_value(elem.get_ref(), &p, lines, file, origins);
            }
        }
        _ => {}
    }
}

/// Merges `child` into `base`: tables merge key by key, anything else
/// (including lists) replaces. Origins of replaced subtrees are forgotten;
/// the caller then adds the child's origins.
pub(crate) fn merge_tables(base: &mut Table, child: Table, prefix: &str, origins: &mut Origins) {
    for (key, value) in child {
        let path = join(prefix, &key);
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(c)) => merge_tables(b, c, &path, origins),
            (_, value) => {
                forget_under(origins, &path);
                base.insert(key, value);
            }
        }
    }
}

/// Records `loc` as the origin of `path` and of everything inside `value`.
pub(crate) fn mark(value: &Value, path: &str, loc: &Location, origins: &mut Origins) {
    origins.insert(path.to_string(), loc.clone());
    match value {
        Value::Table(t) => {
            for (k, v) in t {
                mark(v, &join(path, k), loc, origins);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                mark(v, &join(path, &i.to_string()), loc, origins);
            }
        }
        _ => {}
    }
}

/// Sets the dotted `segs` in `root` to `value`: missing tables are created, a
/// numeric segment indexes a list (one past the end appends), a table value
/// merges into an existing table. Returns an explanation on failure.
pub(crate) fn set_path(
    root: &mut Table,
    segs: &[&str],
    value: Value,
    origins: &mut Origins,
    loc: &Location,
) -> Result<(), String> {
    let mut node = Value::Table(std::mem::take(root));
    let result = set_in(&mut node, segs, "", value, origins, loc);
    if let Value::Table(t) = node {
        *root = t;
    }
    result
}

fn put(slot: &mut Value, value: Value, path: &str, origins: &mut Origins, loc: &Location) {
    match (slot, value) {
        (Value::Table(existing), Value::Table(new)) => {
            for (k, v) in &new {
                mark(v, &join(path, k), loc, origins);
            }
            origins.insert(path.to_string(), loc.clone());
            merge_tables(existing, new, path, &mut Origins::new());
        }
        (slot, value) => {
            forget_under(origins, path);
            mark(&value, path, loc, origins);
            *slot = value;
        }
    }
}

fn set_in(
    node: &mut Value,
    segs: &[&str],
    done: &str,
    value: Value,
    origins: &mut Origins,
    loc: &Location,
) -> Result<(), String> {
    let Some((first, rest)) = segs.split_first() else {
        return Err("empty key".to_string());
    };
    let here = join(done, first);
    match node {
        Value::Table(t) => {
            if rest.is_empty() {
                if let Some(slot) = t.get_mut(*first) {
                    put(slot, value, &here, origins, loc);
                } else {
                    mark(&value, &here, loc, origins);
                    t.insert((*first).to_string(), value);
                }
                Ok(())
            } else {
                if !t.contains_key(*first) {
                    origins.insert(here.clone(), loc.clone());
                }
                let child = t
                    .entry(*first)
                    .or_insert_with(|| Value::Table(Table::new()));
                set_in(child, rest, &here, value, origins, loc)
            }
        }
        Value::Array(a) => {
            let len = a.len();
            let idx: usize = first
                .parse()
                .map_err(|_| format!("`{done}` is a list: `{first}` is not an index (use 0..={len}; {len} appends a new element)"))?;
            if idx < len {
                if rest.is_empty() {
                    put(&mut a[idx], value, &here, origins, loc);
                    Ok(())
                } else {
                    set_in(&mut a[idx], rest, &here, value, origins, loc)
                }
            } else if idx == len {
                let mut elem = Value::Table(Table::new());
                if rest.is_empty() {
                    elem = value;
                    mark(&elem, &here, loc, origins);
                } else {
                    origins.insert(here.clone(), loc.clone());
                    set_in(&mut elem, rest, &here, value, origins, loc)?;
                }
                a.push(elem);
                Ok(())
            } else {
                Err(format!(
                    "index {idx} is out of range: `{done}` has {len} element{} (use 0..={len}; {len} appends a new element)",
                    if len == 1 { "" } else { "s" }
                ))
            }
        }
        other => Err(format!(
            "`{done}` is {} {}, not a table or a list",
            article(other.type_str()),
            other.type_str()
        )),
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Removes the dotted `segs` from `root` (a list element is replaced by an
/// empty table, so that later indices keep their meaning); false if it was
/// not there.
pub(crate) fn remove_path(root: &mut Table, segs: &[String]) -> bool {
    let mut node = Value::Table(std::mem::take(root));
    let removed = remove_in(&mut node, segs);
    if let Value::Table(t) = node {
        *root = t;
    }
    removed
}

fn remove_in(node: &mut Value, segs: &[String]) -> bool {
    let Some((first, rest)) = segs.split_first() else {
        return false;
    };
    match node {
        Value::Table(t) if rest.is_empty() => t.remove(first).is_some(),
        Value::Table(t) => t.get_mut(first).is_some_and(|c| remove_in(c, rest)),
        Value::Array(a) => match (
            first.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            rest.is_empty(),
        ) {
            (Some(elem), true) => {
                *elem = Value::Table(Table::new());
                true
            }
            (Some(elem), false) => remove_in(elem, rest),
            (None, _) => false,
        },
        _ => false,
    }
}

/// Reads a value at a dotted path.
pub(crate) fn get_path<'a>(root: &'a Table, path: &str) -> Option<&'a Value> {
    let mut segs = path.split('.');
    let mut node = root.get(segs.next()?)?;
    for seg in segs {
        node = match node {
            Value::Table(t) => t.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc() -> Location {
        Location {
            file: "--set".into(),
            line: None,
        }
    }

    #[test]
    fn lines_and_columns() {
        let text = "a\nbc\n\nd";
        let li = LineIndex::new(text);
        assert_eq!(li.line(0), 1);
        assert_eq!(li.line(2), 2);
        assert_eq!(li.line(5), 3);
        assert_eq!(li.line_col(text, 3), (2, 2));
    }

    #[test]
    fn merge_keeps_siblings_and_replaces_lists() {
        let mut base: Table = toml::from_str("a = { x = 1, y = 2 }\nl = [1, 2]").unwrap();
        let child: Table = toml::from_str("a = { y = 3 }\nl = [9]").unwrap();
        let mut o = Origins::new();
        o.insert("l.1".into(), loc());
        merge_tables(&mut base, child, "", &mut o);
        assert_eq!(base["a"]["x"].as_integer(), Some(1));
        assert_eq!(base["a"]["y"].as_integer(), Some(3));
        assert_eq!(base["l"].as_array().unwrap().len(), 1);
        assert!(o.is_empty());
    }

    #[test]
    fn set_and_remove() {
        let mut t: Table = toml::from_str("g = [{ q = 1 }]").unwrap();
        let mut o = Origins::new();
        set_path(&mut t, &["g", "0", "q"], Value::Integer(8), &mut o, &loc()).unwrap();
        set_path(&mut t, &["g", "1", "q"], Value::Integer(2), &mut o, &loc()).unwrap();
        assert!(
            set_path(&mut t, &["g", "5", "q"], Value::Integer(2), &mut o, &loc())
                .unwrap_err()
                .contains("out of range")
        );
        assert!(set_path(&mut t, &["g", "x"], Value::Integer(2), &mut o, &loc()).is_err());
        assert!(set_path(
            &mut t,
            &["g", "0", "q", "z"],
            Value::Integer(2),
            &mut o,
            &loc()
        )
        .is_err());
        assert_eq!(get_path(&t, "g.1.q").and_then(Value::as_integer), Some(2));
        assert!(remove_path(&mut t, &["g".into(), "0".into(), "q".into()]));
        assert!(get_path(&t, "g.0.q").is_none());
        assert!(!remove_path(&mut t, &["nope".into()]));
        assert!(o.contains_key("g.1.q"));
    }
}

/// A parsed TOML document that knows the line of each of its keys: for
/// files in other formats that report problems the way scenarios do
/// (`FILE:LINE: KEY: MESSAGE`), such as sweep files.
#[derive(Clone, Debug)]
pub struct LocatedToml {
    /// The document.
    pub table: Table,
    origins: Origins,
    root: Location,
}

impl LocatedToml {
    /// Parses `text`, read from `file` (as displayed in messages).
    ///
    /// # Errors
    /// [`ScenarioError::Syntax`], located at line and column.
    pub fn parse(text: &str, file: &str) -> Result<Self, ScenarioError> {
        let (table, origins) = parse_toml(text, file)?;
        Ok(Self {
            table,
            origins,
            root: Location {
                file: file.to_string(),
                line: None,
            },
        })
    }

    /// Where dotted `key` (or its nearest ancestor that is written in the
    /// file) is defined; the file without a line if none is.
    #[must_use]
    pub fn location(&self, key: &str) -> Location {
        crate::locate(&self.origins, &self.root, key)
    }

    /// A problem with `key`, located at its line.
    #[must_use]
    pub fn diagnostic(&self, key: &str, message: impl Into<String>) -> crate::Diagnostic {
        crate::Diagnostic::at(&self.location(key), key, message)
    }
}
