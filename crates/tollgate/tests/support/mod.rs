//! Start the real `tollgate` binary on 127.0.0.1 port 0 and learn its ports from the lines it
//! prints (`tollgate: listener NAME on http://ADDR`, `tollgate: admin on http://ADDR`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Gateway {
    child: Child,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub listeners: HashMap<String, SocketAddr>,
    pub admin: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_tollgate")
}

/// Runs `tollgate ARGS`, which must succeed, and parses what it printed as JSON.
pub fn ok_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("run tollgate");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// A JSON decimal string (`"4904.245633765"`) as a decimal.
pub fn dec(v: &serde_json::Value) -> rust_decimal::Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .expect("a time in range")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// The UTC day of Unix seconds, `YYYY-MM-DD`.
pub fn utc_date(t: i64) -> String {
    rfc3339(t)[..10].to_string()
}

/// The path of an AWS billing fixture (fixtures/aws/NAME).
pub fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/aws")
        .join(name)
        .display()
        .to_string()
}

fn collect(reader: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

impl Gateway {
    /// Write `yaml` to a temp dir (as `gateway.yaml`; `{dir}` in it is replaced by the dir) and
    /// start `tollgate serve` on it with `extra` arguments.
    pub fn start_with(yaml: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("gateway.yaml");
        std::fs::write(
            &config_path,
            yaml.replace("{dir}", &dir.path().display().to_string()),
        )
        .unwrap();
        // The working directory is the temp dir, so the default ledger (`./tollgate.db`) and
        // its spill file land there.
        let mut child = Command::new(binary())
            .current_dir(dir.path())
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .args(extra)
            .env("RUST_LOG", std::env::var("TG_LOG").unwrap_or("warn".into()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = collect(child.stderr.take().unwrap());
        let stdout = collect(child.stdout.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = stderr.lock().unwrap().clone();
            if let Some(admin) = lines
                .iter()
                .find_map(|l| l.strip_prefix("tollgate: admin on http://"))
            {
                let listeners = lines
                    .iter()
                    .filter_map(|l| l.strip_prefix("tollgate: listener "))
                    .filter_map(|l| l.split_once(" on http://"))
                    .map(|(n, a)| (n.to_string(), a.parse().unwrap()))
                    .collect();
                return Self {
                    child,
                    dir,
                    config_path,
                    listeners,
                    admin: admin.parse().unwrap(),
                    stderr,
                    stdout,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("tollgate exited with {status}: {}", lines.join("\n"));
            }
            assert!(
                Instant::now() < deadline,
                "tollgate did not start: {}",
                lines.join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn start(yaml: &str) -> Self {
        Self::start_with(yaml, &[])
    }

    /// `http://ADDR` of a listener.
    pub fn url(&self, listener: &str) -> String {
        format!("http://{}", self.listeners[listener])
    }

    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Wait for the process to exit.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Poll `f` until it is true or `timeout` passes.
    pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .unwrap()
}
