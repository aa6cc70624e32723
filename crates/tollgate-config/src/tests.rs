//! Loading whole files: locations, every error at once, every compile check.

use std::path::Path;

use crate::model::*;
use crate::{load_str, ConfigErrors, GatewayConfig};

fn load(text: &str) -> Result<GatewayConfig, ConfigErrors> {
    load_str(Path::new("gw.yaml"), text)
}

#[test]
fn explore() {
    for f in ["/tmp/tg/a.yaml", "/tmp/tg/b.yaml", "/tmp/tg/c.json"] {
        if let Ok(t) = std::fs::read_to_string(f) {
            match load(&t) {
                Ok(c) => println!("{f}: OK {c:#?}"),
                Err(e) => println!("{f}:\n{e}"),
            }
        }
    }
}
