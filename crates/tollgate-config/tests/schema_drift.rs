//! The checked-in `docs/config.schema.json` must match `json_schema()`.
//! Regenerate with `TOLLGATE_UPDATE_SCHEMA=1 cargo test -p tollgate-config --test schema_drift`.

use std::path::PathBuf;

#[test]
fn schema_file_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.schema.json");
    let mut generated = serde_json::to_string_pretty(&tollgate_config::json_schema()).unwrap();
    generated.push('\n');
    if std::env::var_os("TOLLGATE_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/config.schema.json is out of date; run \
         `TOLLGATE_UPDATE_SCHEMA=1 cargo test -p tollgate-config --test schema_drift`"
    );
}
