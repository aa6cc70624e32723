//! Route selection without building the message (aws-facts §4.1).
//!
//! A route selection expression reads a few keys of a JSON message, usually one
//! (`$request.body.action`). Parsing the whole message into a `serde_json::Value` costs an
//! allocation per member and showed in the profile (bench/RESULTS.md); for expressions whose
//! references are all top-level keys, the message is instead checked as JSON in one pass that
//! keeps only those keys' values. Other expressions (nested paths) take the general path.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use tollgate_config::model::{JsonPathSegment, Template, TemplatePart, VarRef};

/// How a route's key is computed from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The expression has no reference: every message selects this key.
    Static(String),
    /// Literal text and top-level keys of the body.
    TopLevel { parts: Vec<Part>, keys: Vec<String> },
    /// Anything else: evaluate the template over the parsed body.
    General,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    /// Index into `keys`.
    Key(usize),
}

impl Selector {
    pub fn new(t: &Template) -> Self {
        if t.is_static() {
            let mut key = String::new();
            for p in &t.parts {
                if let TemplatePart::Literal(s) = p {
                    key.push_str(s);
                }
            }
            return Selector::Static(key);
        }
        let mut parts = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        for p in &t.parts {
            match p {
                TemplatePart::Literal(s) => parts.push(Part::Literal(s.clone())),
                TemplatePart::Var(VarRef::RequestBodyPath(path)) => match path.as_slice() {
                    [JsonPathSegment::Key(k)] => {
                        let i = keys.iter().position(|x| x == k).unwrap_or_else(|| {
                            keys.push(k.clone());
                            keys.len() - 1
                        });
                        parts.push(Part::Key(i));
                    }
                    _ => return Selector::General,
                },
                TemplatePart::Var(_) => return Selector::General,
            }
        }
        Selector::TopLevel { parts, keys }
    }

    /// The selected key, or `None` when the message is not JSON (it goes to `$default`).
    /// `General` selectors answer `None` too: the caller evaluates them.
    pub fn select(&self, body: &[u8], binary: bool) -> Option<String> {
        match self {
            Selector::Static(k) => Some(k.clone()),
            Selector::General => None,
            Selector::TopLevel { .. } if binary => None,
            Selector::TopLevel { parts, keys } => {
                let values = pick(body, keys)?;
                let mut out = String::new();
                for p in parts {
                    match p {
                        Part::Literal(s) => out.push_str(s),
                        // A missing key is the empty string, as AWS evaluates it.
                        Part::Key(i) => match values.get(*i).and_then(Option::as_ref) {
                            Some(Value::String(s)) => out.push_str(s),
                            Some(other) => out.push_str(&other.to_string()),
                            None => {}
                        },
                    }
                }
                Some(out)
            }
        }
    }
}

/// The values of `keys` at the top level of the JSON text `body` (last duplicate wins, as
/// when parsing to a `Value`); `None` when `body` is not JSON.
fn pick(body: &[u8], keys: &[String]) -> Option<Vec<Option<Value>>> {
    let mut out = vec![None; keys.len()];
    let mut de = serde_json::Deserializer::from_slice(body);
    Pick {
        keys,
        out: &mut out,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(out)
}

struct Pick<'a> {
    keys: &'a [String],
    out: &'a mut [Option<Value>],
}

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(idx) = map.next_key_seed(KeyIndex(self.keys))? {
            match idx {
                Some(i) => self.out[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    // Any other JSON value has no keys: it is checked and selects the literals alone.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A map key, as the index of a wanted key (no allocation for keys without escapes).
struct KeyIndex<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for KeyIndex<'_> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIndex<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, k: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|x| x == k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Sources;

    fn template(parts: Vec<TemplatePart>) -> Template {
        Template { parts }
    }
    fn key(k: &str) -> TemplatePart {
        TemplatePart::Var(VarRef::RequestBodyPath(vec![JsonPathSegment::Key(
            k.into(),
        )]))
    }
    fn lit(s: &str) -> TemplatePart {
        TemplatePart::Literal(s.into())
    }

    /// The fast path selects exactly what evaluating the template over the parsed body does.
    #[test]
    fn agrees_with_the_general_path() {
        let templates = [
            template(vec![key("action")]),
            template(vec![key("service"), lit("/"), key("action")]),
            template(vec![key("action"), lit("-"), key("invalidPath")]),
        ];
        let bodies: [&[u8]; 10] = [
            br#"{"action":"join"}"#,
            br#"{"service":"chat","action":"join","pad":[1,{"x":"y"}]}"#,
            br#"{"action":7}"#,
            br#"{"action":{"a":1}}"#,
            br#"{"act\u0069on":"escaped key"}"#,
            br#"{"action":"first","action":"last"}"#,
            br#"[1,2,3]"#,
            br#""just a string""#,
            br#"{}"#,
            br#"  {"action" : "spaced"}  "#,
        ];
        let empty = http::HeaderMap::new();
        let vars = std::collections::BTreeMap::new();
        let ctx = crate::context::Context::new(
            tollgate_types::RequestIdGenerator::new().next_id(),
            std::time::SystemTime::now(),
            std::sync::Arc::from("123456789012"),
            std::net::IpAddr::from([127, 0, 0, 1]),
            tollgate_types::usage::Reason::Websocket,
        );
        for t in &templates {
            let sel = Selector::new(t);
            assert!(matches!(sel, Selector::TopLevel { .. }), "{t:?}");
            for b in bodies {
                let src = Sources::new(&empty, "", b, "", &[], &vars, &ctx);
                let general = src.request_json().map(|_| src.eval(t));
                assert_eq!(
                    sel.select(b, false),
                    general,
                    "{t:?} on {}",
                    String::from_utf8_lossy(b)
                );
            }
        }
    }

    #[test]
    fn non_json_and_binary_go_to_default() {
        let sel = Selector::new(&template(vec![key("action")]));
        assert_eq!(sel.select(b"hello", false), None);
        assert_eq!(sel.select(br#"{"action":"x"} trailing"#, false), None);
        assert_eq!(sel.select(br#"{"action":"x""#, false), None);
        assert_eq!(sel.select(br#"{"action":"x"}"#, true), None);
        assert_eq!(
            Selector::new(&template(vec![lit("$default")])).select(b"anything", true),
            Some("$default".into())
        );
        let nested = template(vec![TemplatePart::Var(VarRef::RequestBodyPath(vec![
            JsonPathSegment::Key("a".into()),
            JsonPathSegment::Key("b".into()),
        ]))]);
        assert_eq!(Selector::new(&nested), Selector::General);
    }
}
