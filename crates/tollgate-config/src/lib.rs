//! tollgate configuration.
//!
//! Two stages, as in Vector and cargo: raw serde types (`schema.rs`) only know how to parse;
//! [`load`] reads a YAML or JSON file keeping source locations, validates it against the JSON
//! Schema of the raw types ([`json_schema`]), and `compile()` turns them into the validated
//! [`model`], reporting every error at once as `file:line:column: message`
//! ([`ConfigErrors`]). `docs/configuration.md` is the user reference.

mod access;
mod alerts;
mod compile;
mod error;
mod load;
pub mod model;
mod schema;
mod template;
mod websocket;

use std::path::Path;

pub use error::{ConfigError, ConfigErrors};
pub use model::GatewayConfig;

use error::Pos;

/// Load a configuration file (YAML, or JSON: YAML 1.2 reads JSON too).
///
/// # Errors
/// Every problem found, each with `file:line:column`; a file that cannot be read is one error
/// at 1:1.
pub fn load(path: &Path) -> Result<GatewayConfig, ConfigErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(path, &text),
        Err(e) => Err(ConfigErrors(vec![ConfigError::new(
            path,
            Pos::START,
            format!("cannot read the configuration file: {e}"),
        )])),
    }
}

/// Load a configuration from `text`; `source_name` is the file name used in errors.
///
/// # Errors
/// Every problem found, each with `source_name:line:column`.
pub fn load_str(source_name: &Path, text: &str) -> Result<GatewayConfig, ConfigErrors> {
    let (value, locations) = load::parse(source_name, text)?;
    let schema_errors = load::validate(source_name, &value, &locations);
    if !schema_errors.is_empty() {
        return Err(ConfigErrors::sorted(schema_errors));
    }
    let raw: schema::Config = serde_json::from_value(value).map_err(|e| {
        // The schema is generated from these types, so this only happens if the two disagree.
        ConfigErrors(vec![ConfigError::new(
            source_name,
            Pos::START,
            format!("invalid configuration: {e}"),
        )])
    })?;
    compile::compile(&raw, &locations, source_name)
}

/// The JSON Schema (draft 2020-12) of the configuration file, generated from the raw types.
/// Optional fields are not nullable: leave a field out rather than writing `null`.
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with_transform(schemars::transform::RecursiveTransform(not_nullable))
        .into_generator();
    generator
        .into_root_schema_for::<schema::Config>()
        .to_value()
}

/// schemars makes `Option<T>` fields accept `null` (`"type": ["integer", "null"]` or
/// `"anyOf": [T, {"type": "null"}]`). Drop that: an absent field says the same, and a schema
/// without `anyOf` gives precise errors ("expected an integer" instead of "no branch matched").
fn not_nullable(schema: &mut schemars::Schema) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if let Some(serde_json::Value::Array(types)) = obj.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            obj.insert("type".to_owned(), only);
        }
    }
    let single = match obj.get("anyOf") {
        Some(serde_json::Value::Array(branches)) if branches.len() == 2 => {
            let is_null = |b: &serde_json::Value| b.get("type").is_some_and(|t| t == "null");
            match (is_null(&branches[0]), is_null(&branches[1])) {
                (true, false) => Some(branches[1].clone()),
                (false, true) => Some(branches[0].clone()),
                _ => None,
            }
        }
        _ => None,
    };
    if let Some(serde_json::Value::Object(inner)) = single {
        obj.remove("anyOf");
        for (k, v) in inner {
            obj.entry(k).or_insert(v);
        }
    }
}

#[cfg(test)]
mod tests;
