//! Reading a configuration file: YAML (or JSON, which YAML 1.2 parses too) into a
//! `serde_json::Value` that remembers where every value and key came from, then JSON-Schema
//! validation against [`crate::json_schema`] with every error mapped back to `line:column`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError, Validator};
use saphyr::{LoadableYamlNode, MarkedYaml, Marker, Scalar, YamlData};
use serde_json::{Map, Number, Value};

use crate::error::{ConfigError, ConfigErrors, Pos};

/// Where each value and each mapping key of a document is, by JSON pointer
/// (`/apis/0/routes/2/key`).
#[derive(Debug, Default)]
pub(crate) struct Locations {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl Locations {
    /// Where the value at `pointer` starts; for a value the file does not contain (a default),
    /// the nearest enclosing value that it does.
    pub fn value(&self, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos::START,
            }
        }
    }

    /// Where the key of the mapping entry at `pointer` is (`/apis/0/listen` → the `listen` key),
    /// or [`Self::value`] when there is no such key.
    pub fn key(&self, pointer: &str) -> Pos {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.value(pointer))
    }
}

/// Escape one JSON-pointer segment (RFC 6901: `~` → `~0`, `/` → `~1`), the way jsonschema
/// writes instance paths, so both sides of the location map agree. Two `replace` calls do not
/// warrant a dependency.
pub(crate) fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn pos(marker: &Marker) -> Pos {
    // saphyr lines are 1-based, columns 0-based.
    Pos {
        line: marker.line().max(1),
        column: marker.col() + 1,
    }
}

/// Parse YAML or JSON text into a JSON value and its locations.
pub(crate) fn parse(file: &Path, text: &str) -> Result<(Value, Locations), ConfigErrors> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        ConfigErrors(vec![ConfigError::new(
            file,
            pos(e.marker()),
            format!("YAML syntax error: {}", e.info()),
        )])
    })?;
    let one_error = |p: Pos, m: String| ConfigErrors(vec![ConfigError::new(file, p, m)]);
    let doc = match docs.as_slice() {
        [] => return Err(one_error(Pos::START, "the file is empty".into())),
        [doc] => doc,
        [_, second, ..] => {
            return Err(one_error(
                pos(&second.span.start),
                format!("expected one YAML document, found {}", docs.len()),
            ))
        }
    };
    if matches!(doc.data, YamlData::BadValue) {
        return Err(one_error(Pos::START, "the file is empty".into()));
    }
    let mut conv = Converter {
        file,
        locations: Locations::default(),
        errors: Vec::new(),
    };
    let mut pointer = String::new();
    let value = conv.convert(doc, &mut pointer);
    if conv.errors.is_empty() {
        Ok((value, conv.locations))
    } else {
        Err(ConfigErrors::sorted(conv.errors))
    }
}

struct Converter<'a> {
    file: &'a Path,
    locations: Locations,
    errors: Vec<ConfigError>,
}

impl Converter<'_> {
    fn error(&mut self, at: Pos, message: String) {
        self.errors.push(ConfigError::new(self.file, at, message));
    }

    fn convert(&mut self, node: &MarkedYaml<'_>, pointer: &mut String) -> Value {
        let at = pos(&node.span.start);
        self.locations.values.insert(pointer.clone(), at);
        match &node.data {
            YamlData::Value(scalar) => self.scalar(scalar, at),
            YamlData::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    out.push(self.convert(item, pointer));
                    pointer.truncate(len);
                }
                Value::Array(out)
            }
            YamlData::Mapping(entries) => {
                let mut out = Map::new();
                for (key, value) in entries {
                    let key_at = pos(&key.span.start);
                    let Some(name) = self.key_string(key, key_at) else {
                        continue;
                    };
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&escape(&name));
                    if out.contains_key(&name) {
                        // saphyr catches `a: 1` twice; this catches `500:` next to `"500":`.
                        self.error(key_at, format!("duplicate key `{name}`"));
                    } else {
                        self.locations.keys.insert(pointer.clone(), key_at);
                        let v = self.convert(value, pointer);
                        out.insert(name, v);
                    }
                    pointer.truncate(len);
                }
                Value::Object(out)
            }
            YamlData::Tagged(tag, _) => {
                self.error(at, format!("YAML tag `{tag}` is not supported"));
                Value::Null
            }
            YamlData::BadValue => {
                self.error(at, "invalid value for its YAML tag".into());
                Value::Null
            }
            // The loader resolves aliases and parses representations itself (early parse), so
            // these do not occur; keep a clear message rather than a panic if that ever changes.
            YamlData::Alias(_) | YamlData::Representation(..) => {
                self.error(at, "unsupported YAML construct".into());
                Value::Null
            }
        }
    }

    fn scalar(&mut self, scalar: &Scalar<'_>, at: Pos) -> Value {
        match scalar {
            Scalar::Null => Value::Null,
            Scalar::Boolean(b) => Value::Bool(*b),
            Scalar::Integer(i) => Value::Number(Number::from(*i)),
            Scalar::FloatingPoint(f) => match Number::from_f64(f.into_inner()) {
                Some(n) => Value::Number(n),
                None => {
                    self.error(at, format!("`{f}` is not a finite number"));
                    Value::Null
                }
            },
            Scalar::String(s) => Value::String(s.to_string()),
        }
    }

    /// A mapping key as a JSON object key. Scalar keys become their text (`500:` → `"500"`),
    /// since JSON keys are strings; anything else is an error.
    fn key_string(&mut self, key: &MarkedYaml<'_>, at: Pos) -> Option<String> {
        match &key.data {
            YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
            YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
            YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
            YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
            YamlData::Value(Scalar::Null) => Some("null".to_owned()),
            _ => {
                self.error(at, "mapping keys must be plain scalars".into());
                None
            }
        }
    }
}

/// The compiled JSON Schema of the config file (compiled once).
fn validator() -> Result<&'static Validator, String> {
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            jsonschema::options()
                .build(schema_value())
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn schema_value() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(crate::json_schema)
}

/// Validate `value` against the config schema; every error, located and in plain words.
pub(crate) fn validate(file: &Path, value: &Value, locations: &Locations) -> Vec<ConfigError> {
    let validator = match validator() {
        Ok(v) => v,
        Err(e) => {
            return vec![ConfigError::new(
                file,
                Pos::START,
                format!("internal error: the configuration schema does not compile: {e}"),
            )]
        }
    };
    let all: Vec<ValidationError<'_>> = validator.iter_errors(value).collect();
    // A value of the wrong type also fails the keywords that follow (`enum`, `maximum`...):
    // report only that its type is wrong.
    let wrong_type: Vec<&str> = all
        .iter()
        .filter(|e| matches!(e.kind(), ValidationErrorKind::Type { .. }))
        .map(|e| e.instance_path().as_str())
        .collect();
    let mut errors = Vec::new();
    for error in &all {
        let is_type = matches!(error.kind(), ValidationErrorKind::Type { .. });
        if !is_type && wrong_type.contains(&error.instance_path().as_str()) {
            continue;
        }
        describe_error(file, error, locations, &mut errors);
    }
    errors
}

fn describe_error(
    file: &Path,
    error: &ValidationError<'_>,
    locations: &Locations,
    out: &mut Vec<ConfigError>,
) {
    let pointer = error.instance_path().as_str();
    let instance = error.instance();
    let at = locations.value(pointer);
    let message = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let expected = allowed_properties(error.schema_path().as_str());
            for name in unexpected {
                let key_pointer = format!("{pointer}/{}", escape(name));
                let message = match &expected {
                    Some(list) if !list.is_empty() => {
                        format!(
                            "unknown field `{name}`, expected one of {}",
                            backticked(list)
                        )
                    }
                    _ => format!("unknown field `{name}`"),
                };
                out.push(ConfigError::new(file, locations.key(&key_pointer), message));
            }
            return;
        }
        ValidationErrorKind::Type { kind } => {
            let types: Vec<JsonType> = match kind {
                TypeKind::Single(t) => vec![*t],
                TypeKind::Multiple(set) => set.iter().collect(),
            };
            let expected: Vec<&str> = types.iter().map(|t| type_name(*t)).collect();
            let mut m = format!(
                "expected {}, found {}",
                expected.join(" or "),
                describe(instance)
            );
            if types.contains(&JsonType::String) {
                m.push_str(&quote_hint(instance));
            }
            m
        }
        ValidationErrorKind::Required { property } => {
            format!("missing field `{}`", property.as_str().unwrap_or_default())
        }
        ValidationErrorKind::Enum { options } => {
            let names: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let mut m = match instance.as_ref() {
                Value::String(s) => {
                    format!(
                        "unknown value `{s}`, expected one of {}",
                        backticked(&names)
                    )
                }
                other => format!(
                    "expected one of {}, found {}",
                    backticked(&names),
                    describe(other)
                ),
            };
            m.push_str(&quote_hint(instance));
            m
        }
        ValidationErrorKind::Minimum { limit } => {
            format!("expected at least {limit}, found {}", describe(instance))
        }
        ValidationErrorKind::Maximum { limit } => {
            format!("expected at most {limit}, found {}", describe(instance))
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            format!("expected more than {limit}, found {}", describe(instance))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            format!("expected less than {limit}, found {}", describe(instance))
        }
        ValidationErrorKind::MinItems { limit } => {
            format!(
                "expected at least {limit} {}, found {}",
                plural(*limit, "item"),
                count(instance)
            )
        }
        ValidationErrorKind::MaxItems { limit } => {
            format!(
                "expected at most {limit} {}, found {}",
                plural(*limit, "item"),
                count(instance)
            )
        }
        ValidationErrorKind::MinProperties { limit } => {
            format!(
                "expected at least {limit} {}, found {}",
                plural(*limit, "entry"),
                count(instance)
            )
        }
        ValidationErrorKind::MaxProperties { limit } => {
            format!(
                "expected at most {limit} {}, found {}",
                plural(*limit, "entry"),
                count(instance)
            )
        }
        ValidationErrorKind::MinLength { limit } => {
            format!(
                "expected at least {limit} characters, found {}",
                describe(instance)
            )
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!(
                "expected at most {limit} characters, found {}",
                describe(instance)
            )
        }
        ValidationErrorKind::Pattern { pattern } => {
            format!(
                "{} does not match the pattern `{pattern}`",
                describe(instance)
            )
        }
        // The schema is generated from flat structs and uses none of the other keywords; if it
        // ever does, jsonschema's own wording is still better than nothing.
        _ => error.to_string(),
    };
    out.push(ConfigError::new(file, at, message));
}

/// The property names allowed by the object schema whose `additionalProperties` failed.
fn allowed_properties(schema_path: &str) -> Option<Vec<String>> {
    let parent = schema_path.strip_suffix("/additionalProperties")?;
    let properties = schema_value()
        .pointer(parent)?
        .get("properties")?
        .as_object()?;
    Some(properties.keys().cloned().collect())
}

fn backticked(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: u64, word: &str) -> String {
    match (n, word) {
        (1, w) => w.to_owned(),
        (_, "entry") => "entries".to_owned(),
        (_, w) => format!("{w}s"),
    }
}

fn count(v: &Value) -> usize {
    match v {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    }
}

fn type_name(t: JsonType) -> &'static str {
    match t {
        JsonType::Null => "null",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "an integer",
        JsonType::Number => "a number",
        JsonType::String => "a string",
        JsonType::Array => "a list",
        JsonType::Object => "a mapping",
    }
}

/// A short description of a value for messages: `string "abc"`, `integer 5`, `a list`.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) if n.is_f64() => format!("number {n}"),
        Value::Number(n) => format!("integer {n}"),
        Value::String(s) => {
            let shown: String = s.chars().take(60).collect();
            let ellipsis = if shown.len() < s.len() { "..." } else { "" };
            format!("string {}{ellipsis}", Value::String(shown))
        }
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// YAML reads `2.0`, `8080` and `true` as numbers and booleans; when a string was expected,
/// say how to write one.
fn quote_hint(v: &Value) -> String {
    match v {
        Value::Number(_) | Value::Bool(_) => format!(" (quote it: \"{v}\")"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> (Value, Locations) {
        parse(Path::new("t.yaml"), text).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(Path::new("t.yaml"), text).unwrap_err().to_string()
    }

    #[test]
    fn yaml_types_and_locations() {
        let text = "a: 1\nb: \"123\"\nc:\n  - x: true\n    y: 2.5\n  - ~\n\"5\": q\n";
        let (v, locs) = parse_ok(text);
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": "123", "c": [{"x": true, "y": 2.5}, null], "5": "q"})
        );
        assert_eq!(locs.value("/a"), Pos { line: 1, column: 4 });
        assert_eq!(locs.key("/a"), Pos { line: 1, column: 1 });
        assert_eq!(locs.value("/b"), Pos { line: 2, column: 4 });
        assert_eq!(locs.value("/c/0"), Pos { line: 4, column: 5 });
        assert_eq!(locs.key("/c/0/y"), Pos { line: 5, column: 5 });
        assert_eq!(locs.value("/c/0/y"), Pos { line: 5, column: 8 });
        assert_eq!(locs.value("/c/1"), Pos { line: 6, column: 5 });
        // A pointer the file does not contain falls back to its parent.
        assert_eq!(locs.value("/c/0/missing"), Pos { line: 4, column: 5 });
    }

    #[test]
    fn json_input_has_locations() {
        let text = "{\n  \"a\": {\"b\": [1, \"two\"]},\n  \"c\": null\n}\n";
        let (v, locs) = parse_ok(text);
        assert_eq!(v, serde_json::json!({"a": {"b": [1, "two"]}, "c": null}));
        assert_eq!(locs.key("/a"), Pos { line: 2, column: 3 });
        assert_eq!(
            locs.value("/a/b/1"),
            Pos {
                line: 2,
                column: 18
            }
        );
        assert_eq!(locs.key("/c"), Pos { line: 3, column: 3 });
    }

    #[test]
    fn integer_keys_become_strings_and_clash() {
        let (v, _) = parse_ok("500: a\n");
        assert_eq!(v, serde_json::json!({"500": "a"}));
        assert_eq!(
            parse_err("500: a\n\"500\": b\n"),
            "t.yaml:2:1: duplicate key `500`"
        );
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            parse_err("a: [1, 2\nb: 3\n"),
            "t.yaml:2:2: YAML syntax error: illegal placement of ':' indicator"
        );
        assert_eq!(
            parse_err("a: 1\na: 2\n"),
            "t.yaml:2:1: YAML syntax error: duplicated key in mapping"
        );
        assert_eq!(parse_err(""), "t.yaml:1:1: the file is empty");
        assert_eq!(parse_err("# nothing\n"), "t.yaml:1:1: the file is empty");
        assert_eq!(
            parse_err("a: 1\n---\nb: 2\n"),
            "t.yaml:3:1: expected one YAML document, found 2"
        );
        assert_eq!(
            parse_err("a: !custom x\n"),
            "t.yaml:1:4: YAML tag `!custom` is not supported"
        );
        assert_eq!(
            parse_err("a: .nan\n"),
            "t.yaml:1:4: `NaN` is not a finite number"
        );
    }

    #[test]
    fn pointer_escaping() {
        let (_, locs) = parse_ok("\"a/b~c\": 1\n");
        assert_eq!(locs.key("/a~1b~0c"), Pos { line: 1, column: 1 });
    }
}
