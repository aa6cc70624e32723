//! The examples users copy from must load.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn quickstart_loads() {
    let path = repo().join("examples/quickstart.yaml");
    if let Err(e) = tollgate_config::load(&path) {
        panic!("{e}");
    }
}

#[test]
fn configuration_md_example_loads() {
    let text = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    let (_, after) = text.split_once("## Example").unwrap();
    let (_, block) = after.split_once("```yaml\n").unwrap();
    let (yaml, _) = block.split_once("```").unwrap();
    if let Err(e) = tollgate_config::load_str(Path::new("configuration.md"), yaml) {
        panic!("{e}");
    }
}

#[test]
fn configuration_md_mapping_snippet_loads() {
    let text = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    let (_, after) = text.split_once("## Parameter mapping").unwrap();
    let (_, block) = after.split_once("```yaml\n").unwrap();
    let (snippet, _) = block.split_once("```").unwrap();
    let indented: String = snippet.lines().map(|l| format!("        {l}\n")).collect();
    let yaml = format!(
        "listeners:\n  - name: l\n    address: 127.0.0.1:0\napis:\n  - name: a\n    integrations:\n      i:\n        type: http_proxy\n        uri: http://127.0.0.1:1\n{indented}"
    );
    if let Err(e) = tollgate_config::load_str(Path::new("configuration.md"), &yaml) {
        panic!("{e}");
    }
}
