//! Access logs in AWS's format language: any text with `$context.*` variables (JSON, CLF, CSV,
//! XML — AWS does not care, neither do we).
//!
//! The request path only moves its [`Context`] into a bounded channel; a dedicated thread formats
//! and writes, looking for new records every 5 ms and flushing after each batch. If the writer falls behind, records are
//! dropped and counted (`tollgate_access_log_dropped_total`) rather than slowing requests.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;
use tollgate_config::model::LogDestination;

use crate::context::Context;

/// How many records may wait for the writer before new ones are dropped.
const QUEUE_DEPTH: usize = 64 * 1024;

/// How often the writer looks for new records.
const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(5);

/// A format string split once into literal text and `$context` variable names.
#[derive(Debug, PartialEq, Eq)]
pub struct LogFormat {
    parts: Vec<Part>,
}

#[derive(Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(String),
}

impl LogFormat {
    /// Split `$context.name` references out of `format`. A variable name runs over letters,
    /// digits, `.` and `_`, not ending in `.`; `${context.name}` is accepted too.
    pub fn parse(format: &str) -> Self {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = format;
        while let Some(pos) = rest.find('$') {
            lit.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some((name, consumed)) = tollgate_types::context_ref(after) {
                if !lit.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut lit)));
                }
                parts.push(Part::Var(name.to_string()));
                rest = &after[consumed..];
                continue;
            }
            lit.push('$');
            rest = after;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Self { parts }
    }

    /// Append one formatted line (without the newline) to `out`.
    pub fn render(&self, ctx: &Context, out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Var(name) => {
                    if !ctx.write_var(name, out) {
                        out.push('-');
                    }
                }
            }
        }
    }
}

enum Message {
    Record(Arc<LogFormat>, Box<Context>),
    Reopen(LogDestination),
    Flush(std::sync::mpsc::Sender<()>),
}

/// The request path's handle on the log writer.
#[derive(Clone)]
pub struct AccessLog {
    tx: mpsc::Sender<Message>,
    dropped: metrics::Counter,
}

/// The writer thread; join it after dropping every [`AccessLog`] to flush the last lines.
pub struct AccessLogWriter {
    thread: Option<JoinHandle<()>>,
}

impl AccessLog {
    /// Start the writer thread for `destination`.
    pub fn start(
        destination: &LogDestination,
        dropped: metrics::Counter,
    ) -> io::Result<(Self, AccessLogWriter)> {
        let mut sink = open(destination)?;
        let (tx, mut rx) = mpsc::channel::<Message>(QUEUE_DEPTH);
        let thread = std::thread::Builder::new()
            .name("tollgate-access-log".into())
            .spawn(move || {
                // The writer polls instead of blocking on the queue: a parked receiver would be
                // woken (a futex call) by nearly every request, which costs the request path
                // more than the write itself. Lines reach the sink within POLL_INTERVAL while
                // traffic flows; an idle writer backs off, doubling up to 16 × POLL_INTERVAL
                // (80 ms), so a gateway without traffic or without an access log sleeps.
                let mut line = String::with_capacity(512);
                let mut idle_rounds: u32 = 0;
                loop {
                    let mut wrote = false;
                    let mut received = false;
                    let closed = loop {
                        let msg = rx.try_recv();
                        received |= msg.is_ok();
                        match msg {
                            Ok(Message::Record(format, ctx)) => {
                                line.clear();
                                format.render(&ctx, &mut line);
                                line.push('\n');
                                if let Err(e) = sink.write_all(line.as_bytes()) {
                                    tracing::warn!(error = %e, "access log write failed");
                                }
                                wrote = true;
                            }
                            Ok(Message::Reopen(dest)) => match open(&dest) {
                                Ok(new) => {
                                    let _ = sink.flush();
                                    sink = new;
                                }
                                Err(e) => {
                                    tracing::error!(error = %e, "cannot open access log; keeping the old one")
                                }
                            },
                            Ok(Message::Flush(done)) => {
                                let _ = sink.flush();
                                let _ = done.send(());
                            }
                            Err(mpsc::error::TryRecvError::Empty) => break false,
                            Err(mpsc::error::TryRecvError::Disconnected) => break true,
                        }
                    };
                    if wrote {
                        let _ = sink.flush();
                    }
                    if closed {
                        break;
                    }
                    idle_rounds = if received { 0 } else { (idle_rounds + 1).min(4) };
                    std::thread::sleep(POLL_INTERVAL * (1 << idle_rounds));
                }
                let _ = sink.flush();
            })?;
        Ok((
            Self { tx, dropped },
            AccessLogWriter {
                thread: Some(thread),
            },
        ))
    }

    /// Queue a record; never waits.
    pub fn log(&self, format: &Arc<LogFormat>, ctx: Box<Context>) {
        if self
            .tx
            .try_send(Message::Record(Arc::clone(format), ctx))
            .is_err()
        {
            self.dropped.increment(1);
        }
    }

    /// Switch the destination (configuration reload).
    pub fn reopen(&self, destination: LogDestination) {
        let _ = self.tx.try_send(Message::Reopen(destination));
    }

    /// Wait until every record queued so far is written and flushed.
    pub async fn flush(&self) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = tokio::task::spawn_blocking(move || wait.recv()).await;
        }
    }
}

impl AccessLogWriter {
    /// Wait for the writer to drain; call after every sender is dropped.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn open(destination: &LogDestination) -> io::Result<Box<dyn Write + Send>> {
    Ok(match destination {
        LogDestination::Stdout => Box::new(BufWriter::with_capacity(64 * 1024, io::stdout())),
        LogDestination::File(path) => Box::new(BufWriter::with_capacity(
            64 * 1024,
            OpenOptions::new().create(true).append(true).open(path)?,
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_context_variables() {
        let f = LogFormat::parse(
            r#"{"id":"$context.requestId","ip":"${context.identity.sourceIp}"} $5 $context. end"#,
        );
        assert_eq!(
            f.parts,
            vec![
                Part::Literal(r#"{"id":""#.into()),
                Part::Var("requestId".into()),
                Part::Literal(r#"","ip":""#.into()),
                Part::Var("identity.sourceIp".into()),
                Part::Literal(r#""} $5 $context. end"#.into()),
            ]
        );
    }

    #[test]
    fn clf_variables_end_at_punctuation() {
        let f = LogFormat::parse("[$context.requestTime] \"$context.httpMethod\"");
        assert_eq!(
            f.parts,
            vec![
                Part::Literal("[".into()),
                Part::Var("requestTime".into()),
                Part::Literal("] \"".into()),
                Part::Var("httpMethod".into()),
                Part::Literal("\"".into()),
            ]
        );
    }
}
