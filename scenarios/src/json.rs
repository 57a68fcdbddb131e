//! JSON scenario files: the same structure as TOML, converted to a TOML tree,
//! with the line of every key found by a small scanner over the (already
//! validated) text.

use toml::{Table, Value};

use crate::error::{Diagnostic, Location, ScenarioError};
use crate::tree::{join, LineIndex, Origins};

/// Parses a JSON document into a TOML table and the line of every key.
pub(crate) fn parse_json(text: &str, file: &str) -> Result<(Table, Origins), ScenarioError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ScenarioError::Syntax {
            file: file.to_string(),
            line: e.line().max(1),
            column: e.column().max(1),
            message: e.to_string(),
        })?;
    let lines = LineIndex::new(text);
    let mut origins = Origins::new();
    let mut scanner = Scanner {
        text,
        pos: 0,
        lines: &lines,
        file,
        origins: &mut origins,
        depth: 0,
    };
    scanner.value("");
    let mut problems = Vec::new();
    let converted = convert(value, "", &origins, file, &mut problems);
    if !problems.is_empty() {
        return Err(ScenarioError::Invalid { problems });
    }
    match converted {
        Some(Value::Table(t)) => Ok((t, origins)),
        _ => Err(ScenarioError::Invalid {
            problems: vec![Diagnostic {
                file: file.to_string(),
                line: Some(1),
                key: String::new(),
                message: "a JSON scenario must be an object".to_string(),
            }],
        }),
    }
}

fn convert(
    v: serde_json::Value,
    path: &str,
    origins: &Origins,
    file: &str,
    problems: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let loc = || {
        origins.get(path).cloned().unwrap_or(Location {
            file: file.to_string(),
            line: None,
        })
    };
    match v {
        serde_json::Value::Null => {
            problems.push(Diagnostic::at(
                &loc(),
                path,
                "null is not allowed: leave the key out to get its default",
            ));
            None
        }
        serde_json::Value::Bool(b) => Some(Value::Boolean(b)),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Value::Integer(i))
            } else if n.is_u64() {
                problems.push(Diagnostic::at(
                    &loc(),
                    path,
                    format!("integer {n} is too large (at most {})", i64::MAX),
                ));
                None
            } else {
                n.as_f64().map(Value::Float)
            }
        }
        serde_json::Value::String(s) => Some(Value::String(s)),
        serde_json::Value::Array(a) => Some(Value::Array(
            a.into_iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    convert(e, &join(path, &i.to_string()), origins, file, problems)
                })
                .collect(),
        )),
        serde_json::Value::Object(o) => {
            let mut t = Table::new();
            for (k, e) in o {
                let p = join(path, &k);
                if let Some(v) = convert(e, &p, origins, file, problems) {
                    t.insert(k, v);
                }
            }
            Some(Value::Table(t))
        }
    }
}

/// Walks valid JSON text recording the line of each key and list element.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    lines: &'a LineIndex,
    file: &'a str,
    origins: &'a mut Origins,
    depth: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn record(&mut self, path: String, at: usize) {
        let line = self.lines.line(at);
        self.origins.entry(path).or_insert_with(|| Location {
            file: self.file.to_string(),
            line: Some(line),
        });
    }

    fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'\\' => self.pos += 1,
                b'"' => break,
                _ => {}
            }
        }
        self.text
            .get(start..self.pos)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    fn value(&mut self, path: &str) {
        self.depth += 1;
        self.ws();
        match self.peek() {
            Some(b'{') if self.depth < 128 => self.object(path),
            Some(b'[') if self.depth < 128 => self.array(path),
            Some(b'"') => {
                self.string();
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, b',' | b']' | b'}') && !c.is_ascii_whitespace())
                {
                    self.pos += 1;
                }
            }
        }
        self.depth -= 1;
    }

    fn object(&mut self, path: &str) {
        self.pos += 1;
        loop {
            self.ws();
            match self.peek() {
                Some(b'"') => {
                    let at = self.pos;
                    let key = self.string();
                    let p = join(path, &key);
                    self.record(p.clone(), at);
                    self.ws();
                    if self.peek() == Some(b':') {
                        self.pos += 1;
                    }
                    self.value(&p);
                    self.ws();
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    }
                }
                Some(b'}') => {
                    self.pos += 1;
                    return;
                }
                _ => return,
            }
        }
    }

    fn array(&mut self, path: &str) {
        self.pos += 1;
        let mut i = 0usize;
        loop {
            self.ws();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return;
                }
                None => return,
                Some(_) => {
                    let before = self.pos;
                    let p = join(path, &i.to_string());
                    self.record(p.clone(), before);
                    self.value(&p);
                    self.ws();
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    }
                    if self.pos == before {
                        return;
                    }
                    i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_keys_and_elements() {
        let text = "{\n  \"a\": 1,\n  \"g\": [\n    {\"q\": 2},\n    {\n      \"q\": \"x\\\"\"\n    }\n  ]\n}";
        let (t, o) = parse_json(text, "f.json").unwrap();
        assert_eq!(t["a"].as_integer(), Some(1));
        assert_eq!(o["a"].line, Some(2));
        assert_eq!(o["g.0.q"].line, Some(4));
        assert_eq!(o["g.1"].line, Some(5));
        assert_eq!(o["g.1.q"].line, Some(6));
    }

    #[test]
    fn null_and_syntax() {
        assert!(matches!(
            parse_json("{\"a\": null}", "f"),
            Err(ScenarioError::Invalid { .. })
        ));
        assert!(matches!(
            parse_json("{\"a\": \n}", "f"),
            Err(ScenarioError::Syntax { line: 2, .. })
        ));
        assert!(matches!(
            parse_json("[1]", "f"),
            Err(ScenarioError::Invalid { .. })
        ));
    }
}
