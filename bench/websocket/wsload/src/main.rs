//! wsload: the WebSocket load client of tollgate's bench (bench/websocket/run.sh).
//!
//! `idle`  opens N connections (spread over several source addresses 127.0.0.x), holds them
//!         idle, checks a sample still answers, closes them, and reports how many opened.
//! `flood` opens C connections; each sends `{"action":"echo","pad":"xxx…"}` messages of about
//!         BYTES bytes with up to P in flight and checks every echoed reply byte for byte;
//!         reports messages/s (received and sent) and the p50/p99 round trip over the
//!         measured window (after a warm-up), and the CPU used by itself and by the server.
//!
//! Messages larger than `--frame-size` (32 KB, the gateway's frame limit) are sent as a text
//! frame followed by continuation frames of at most that size.
//!
//! Every run stops by itself: connection attempts, the hold, the flood and the final drain are
//! all bounded in time. The last line on stdout is `RESULT key=value ...` for scripts.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

#[derive(Parser)]
#[command(about = "WebSocket load client for tollgate's bench")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Open N connections, hold them idle, close them.
    Idle(IdleArgs),
    /// Echo messages as fast as the gateway answers them.
    Flood(FloodArgs),
}

#[derive(clap::Args, Clone)]
struct Common {
    /// ws://host:port/path (host must be an IPv4 address)
    #[arg(long)]
    url: String,
    #[arg(long)]
    connections: usize,
    /// Source addresses 127.0.0.x to spread the connections over (0: one per 16,000).
    #[arg(long, default_value_t = 0)]
    sources: u8,
    /// Last octet of the first source address (127.0.0.<base>, <base+1>, ...).
    #[arg(long, default_value_t = 1)]
    source_base: u8,
    /// Connection attempts per second (0: no limit).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Seconds allowed for opening all the connections.
    #[arg(long, default_value_t = 120)]
    connect_timeout: u64,
    /// Tokio worker threads of this client.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The server's pid: report its CPU time over the measured window (from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(clap::Args, Clone)]
struct IdleArgs {
    #[command(flatten)]
    common: Common,
    /// Seconds to hold the connections open once all are open.
    #[arg(long, default_value_t = 10)]
    hold_seconds: u64,
    /// After the hold, send one echo on every K-th connection and expect it back (0: none).
    #[arg(long, default_value_t = 100)]
    check_every: usize,
}

#[derive(clap::Args, Clone)]
struct FloodArgs {
    #[command(flatten)]
    common: Common,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Warm-up seconds, not measured (the messages still count in the totals).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Message size in bytes (the whole JSON message).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 8)]
    pipeline: usize,
    /// Largest frame sent; larger messages are fragmented.
    #[arg(long, default_value_t = 32 * 1024)]
    frame_size: usize,
    /// Send the message as binary frames instead of text.
    #[arg(long)]
    binary: bool,
}

fn main() {
    let cli = Cli::parse();
    let threads = match &cli.mode {
        Mode::Idle(a) => a.common.threads,
        Mode::Flood(a) => a.common.threads,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wsload: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(async move {
        match cli.mode {
            Mode::Idle(a) => idle(a).await,
            Mode::Flood(a) => flood(a).await,
        }
    });
    // Do not wait for stray tasks (a connection stuck in a close handshake).
    rt.shutdown_timeout(Duration::from_secs(1));
    std::process::exit(code);
}

// ------------------------------------------------------------------------------- connecting

struct Target {
    url: String,
    addr: SocketAddr,
    sources: Vec<IpAddr>,
}

fn target(c: &Common) -> Target {
    let rest = c
        .url
        .strip_prefix("ws://")
        .unwrap_or_else(|| panic!("--url must start with ws://"));
    let hostport = rest.split('/').next().unwrap_or(rest);
    let addr: SocketAddr = hostport
        .parse()
        .unwrap_or_else(|_| panic!("--url host must be IPv4:port, got {hostport}"));
    let n = if c.sources == 0 {
        c.connections.div_ceil(16_000).max(1)
    } else {
        c.sources as usize
    };
    let sources = (0..n)
        .map(|i| {
            IpAddr::V4(Ipv4Addr::new(
                127,
                0,
                0,
                c.source_base.wrapping_add(i as u8),
            ))
        })
        .collect();
    Target {
        url: c.url.clone(),
        addr,
        sources,
    }
}

async fn connect_one(t: &Target, i: usize, config: WebSocketConfig) -> Result<Ws, String> {
    let src = t.sources[i % t.sources.len()];
    let sock = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    sock.bind(SocketAddr::new(src, 0))
        .map_err(|e| format!("bind {src}: {e}"))?;
    let tcp = sock
        .connect(t.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(t.url.as_str(), tcp, Some(config))
        .await
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(r) => {
                format!("handshake: HTTP {}", r.status())
            }
            e => format!("handshake: {e}"),
        })?;
    Ok(ws)
}

/// Open `c.connections` connections (rate-limited, `concurrency` handshakes at once). Returns
/// the open ones and the errors of the others, by message.
async fn open_all(
    c: &Common,
    config: WebSocketConfig,
) -> (Vec<Ws>, BTreeMap<String, usize>, Duration) {
    let t = Arc::new(target(c));
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + Duration::from_secs(c.connect_timeout));
    let rate = c.rate;
    let attempts = futures_util::stream::iter(0..c.connections)
        .map(|i| {
            let t = Arc::clone(&t);
            async move {
                if rate > 0 {
                    let at = start + Duration::from_secs_f64(i as f64 / rate as f64);
                    tokio::time::sleep_until(at.into()).await;
                }
                match tokio::time::timeout_at(deadline, connect_one(&t, i, config)).await {
                    Ok(r) => r,
                    Err(_) => Err("timed out".to_string()),
                }
            }
        })
        .buffer_unordered(c.concurrency.max(1));
    futures_util::pin_mut!(attempts);
    let mut open = Vec::with_capacity(c.connections);
    let mut errors = BTreeMap::new();
    let mut last_report = Instant::now();
    while let Some(r) = attempts.next().await {
        match r {
            Ok(ws) => open.push(ws),
            Err(e) => *errors.entry(e).or_insert(0) += 1,
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            eprintln!(
                "[wsload] {} open, {} failed, {:.0}s",
                open.len(),
                errors.values().sum::<usize>(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    (open, errors, start.elapsed())
}

/// Close every connection with a close frame and wait (bounded) for the server's answer.
async fn close_all(conns: Vec<Ws>) -> (usize, usize) {
    let results: Vec<bool> = futures_util::stream::iter(conns)
        .map(|mut ws| async move {
            let _ = ws.close(None).await;
            tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match ws.next().await {
                        None | Some(Err(_)) => return true,
                        Some(Ok(_)) => {}
                    }
                }
            })
            .await
            .unwrap_or(false)
        })
        .buffer_unordered(512)
        .collect()
        .await;
    let clean = results.iter().filter(|c| **c).count();
    (clean, results.len() - clean)
}

fn errors_str(e: &BTreeMap<String, usize>) -> String {
    if e.is_empty() {
        return "none".into();
    }
    e.iter()
        .map(|(k, v)| format!("{v}×[{k}]"))
        .collect::<Vec<_>>()
        .join(";")
        .replace(' ', "_")
}

// ------------------------------------------------------------------------------------ CPU

/// utime + stime of a process, in clock ticks (USER_HZ, 100 on Linux).
fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let s = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may contain spaces), counted from field 3.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

const TICKS_PER_SEC: f64 = 100.0;

/// Busy clock ticks of the whole machine (all CPUs; steal counts as busy) from /proc/stat.
fn machine_busy_ticks() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = s
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = f.iter().take(8).sum();
    Some(total - f.get(3)? - f.get(4)?)
}

// ----------------------------------------------------------------------------------- idle

async fn idle(a: IdleArgs) -> i32 {
    let c = &a.common;
    // Small buffers: 20,000 clients in one process.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut conns, errors, took) = open_all(c, config).await;
    let opened = conns.len();
    println!(
        "OPENED {opened} of {} in {:.1}s (failed: {})",
        c.connections,
        took.as_secs_f64(),
        errors_str(&errors)
    );
    let _ = std::io::stdout().flush();
    eprintln!(
        "[wsload] holding {opened} connections for {}s",
        a.hold_seconds
    );
    tokio::time::sleep(Duration::from_secs(a.hold_seconds)).await;

    // Are they still there? One echo on every K-th connection.
    let (mut checked, mut alive) = (0usize, 0usize);
    if a.check_every > 0 {
        let body = r#"{"action":"echo","check":true}"#;
        let idx: Vec<usize> = (0..conns.len()).step_by(a.check_every).collect();
        for i in idx {
            checked += 1;
            let ws = &mut conns[i];
            let ok = tokio::time::timeout(Duration::from_secs(5), async {
                ws.send(Message::text(body)).await.ok()?;
                loop {
                    match ws.next().await? {
                        Ok(Message::Text(t)) => return Some(t.as_str() == body),
                        Ok(_) => continue,
                        Err(_) => return None,
                    }
                }
            })
            .await
            .ok()
            .flatten()
            .unwrap_or(false);
            alive += usize::from(ok);
        }
    }
    let (clean, unclean) = close_all(conns).await;
    println!(
        "RESULT mode=idle requested={} opened={opened} failed={} errors={} open_seconds={:.1} checked={checked} alive={alive} closed_clean={clean} closed_unclean={unclean}",
        c.connections,
        errors.values().sum::<usize>(),
        errors_str(&errors),
        took.as_secs_f64(),
    );
    0
}

// ---------------------------------------------------------------------------------- flood

fn payload(size: usize) -> String {
    let head = r#"{"action":"echo","pad":""#;
    let tail = r#""}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut s = String::with_capacity(size);
    s.push_str(head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str(tail);
    s
}

/// One message as the frames to send: a single Text/Binary message, or fragments.
#[derive(Clone)]
enum Outgoing {
    Whole(Message),
    Fragments(Vec<Bytes>, OpData),
}

impl Outgoing {
    fn new(body: &str, frame_size: usize, binary: bool) -> Self {
        let op = if binary { OpData::Binary } else { OpData::Text };
        if body.len() <= frame_size {
            return Outgoing::Whole(if binary {
                Message::Binary(Bytes::from(body.to_owned()))
            } else {
                Message::Text(Utf8Bytes::from(body))
            });
        }
        let all = Bytes::from(body.to_owned());
        let chunks = (0..all.len())
            .step_by(frame_size)
            .map(|s| all.slice(s..(s + frame_size).min(all.len())))
            .collect();
        Outgoing::Fragments(chunks, op)
    }

    fn frames(&self) -> usize {
        match self {
            Outgoing::Whole(_) => 1,
            Outgoing::Fragments(c, _) => c.len(),
        }
    }

    async fn feed(&self, ws: &mut Ws) -> Result<(), String> {
        match self {
            Outgoing::Whole(m) => ws.feed(m.clone()).await.map_err(|e| e.to_string()),
            Outgoing::Fragments(chunks, op) => {
                let last = chunks.len() - 1;
                for (i, c) in chunks.iter().enumerate() {
                    let opcode = if i == 0 {
                        OpCode::Data(*op)
                    } else {
                        OpCode::Data(OpData::Continue)
                    };
                    let f = Frame::message(c.clone(), opcode, i == last);
                    ws.feed(Message::Frame(f))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Default)]
struct ConnStats {
    sent_total: u64,
    recv_total: u64,
    sent_window: u64,
    recv_window: u64,
    wrong: u64,
    rtt_us: Vec<u32>,
    error: Option<String>,
    unanswered: u64,
}

struct Window {
    from: Instant,
    to: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.from && t < self.to
    }
}

async fn flood_conn(
    mut ws: Ws,
    out: Arc<Outgoing>,
    expect: Arc<str>,
    pipeline: usize,
    w: Arc<Window>,
    drain_until: Instant,
) -> (ConnStats, Ws) {
    let mut st = ConnStats::default();
    let mut inflight: VecDeque<Instant> = VecDeque::with_capacity(pipeline);
    let drain_deadline = tokio::time::Instant::from_std(drain_until);
    'run: loop {
        let now = Instant::now();
        if now < w.to {
            while inflight.len() < pipeline {
                if let Err(e) = out.feed(&mut ws).await {
                    st.error = Some(format!("send: {e}"));
                    break 'run;
                }
                let t = Instant::now();
                inflight.push_back(t);
                st.sent_total += 1;
                if w.contains(t) {
                    st.sent_window += 1;
                }
            }
        }
        if inflight.is_empty() {
            break;
        }
        if let Err(e) = ws.flush().await {
            st.error = Some(format!("flush: {e}"));
            break;
        }
        let first = match tokio::time::timeout_at(drain_deadline, ws.next()).await {
            Err(_) => {
                st.error = Some("replies missing at the end".into());
                break;
            }
            Ok(m) => m,
        };
        let mut next = Some(first);
        while let Some(m) = next {
            match m {
                None => {
                    st.error = Some("closed by the server".into());
                    break 'run;
                }
                Some(Err(e)) => {
                    st.error = Some(format!("recv: {e}"));
                    break 'run;
                }
                Some(Ok(Message::Text(t))) => {
                    let now = Instant::now();
                    if t.as_str() != &*expect {
                        st.wrong += 1;
                        if st.wrong == 1 {
                            let s = t.as_str();
                            eprintln!(
                                "[wsload] wrong reply ({} bytes, expected {}): {}",
                                s.len(),
                                expect.len(),
                                &s[..s.len().min(200)]
                            );
                        }
                    }
                    if let Some(sent) = inflight.pop_front() {
                        st.recv_total += 1;
                        if w.contains(now) {
                            st.recv_window += 1;
                            st.rtt_us.push(now.duration_since(sent).as_micros() as u32);
                        }
                    } else {
                        st.wrong += 1;
                    }
                }
                Some(Ok(Message::Binary(b))) => {
                    // The echo of a binary message would be binary; ours are text.
                    st.wrong += 1;
                    if inflight.pop_front().is_some() {
                        st.recv_total += 1;
                    }
                    if st.wrong == 1 {
                        eprintln!("[wsload] unexpected binary reply of {} bytes", b.len());
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    st.error = Some(format!("server closed: {f:?}"));
                    break 'run;
                }
                Some(Ok(_)) => {}
            }
            next = ws.next().now_or_never();
        }
    }
    st.unanswered = inflight.len() as u64;
    (st, ws)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

async fn flood(a: FloodArgs) -> i32 {
    let c = &a.common;
    let config = WebSocketConfig::default()
        .max_frame_size(None)
        .max_message_size(None);
    let (conns, errors, took) = open_all(c, config).await;
    if conns.len() < c.connections {
        eprintln!(
            "[wsload] only {} of {} connections opened: {}",
            conns.len(),
            c.connections,
            errors_str(&errors)
        );
    }
    if conns.is_empty() {
        println!(
            "RESULT mode=flood error=no_connection errors={}",
            errors_str(&errors)
        );
        return 1;
    }
    let body = payload(a.size);
    let out = Arc::new(Outgoing::new(&body, a.frame_size, a.binary));
    let expect: Arc<str> = Arc::from(body.as_str());
    let start = Instant::now() + Duration::from_millis(50);
    let w = Arc::new(Window {
        from: start + Duration::from_secs_f64(a.warmup),
        to: start + Duration::from_secs_f64(a.warmup + a.seconds),
    });
    let drain_until = w.to + Duration::from_secs(10);
    eprintln!(
        "[wsload] {} connections open in {:.1}s; flood: {} bytes ({} frame(s)), pipeline {}, warm-up {}s, {}s measured",
        conns.len(),
        took.as_secs_f64(),
        body.len(),
        out.frames(),
        a.pipeline,
        a.warmup,
        a.seconds
    );
    let n = conns.len();
    let mut tasks = Vec::with_capacity(n);
    for ws in conns {
        let (out, expect, w) = (Arc::clone(&out), Arc::clone(&expect), Arc::clone(&w));
        let p = a.pipeline;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            flood_conn(ws, out, expect, p, w, drain_until).await
        }));
    }
    // CPU over the measured window.
    tokio::time::sleep_until(w.from.into()).await;
    let (c0, s0) = (
        cpu_ticks(None),
        c.server_pid.and_then(|p| cpu_ticks(Some(p))),
    );
    let m0 = machine_busy_ticks();
    let t0 = Instant::now();
    tokio::time::sleep_until(w.to.into()).await;
    let (c1, s1) = (
        cpu_ticks(None),
        c.server_pid.and_then(|p| cpu_ticks(Some(p))),
    );
    let m1 = machine_busy_ticks();
    let cpu_secs = t0.elapsed().as_secs_f64();
    let cores = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", (b - a) as f64 / TICKS_PER_SEC / cpu_secs),
        _ => "na".into(),
    };
    let (client_cores, server_cores) = (cores(c0, c1), cores(s0, s1));
    let machine_cores = cores(m0, m1);
    let other_cores = match (c0, c1, s0, s1, m0, m1) {
        (Some(c0), Some(c1), Some(s0), Some(s1), Some(m0), Some(m1)) => format!(
            "{:.2}",
            ((m1 - m0) as f64 - (c1 - c0) as f64 - (s1 - s0) as f64).max(0.0)
                / TICKS_PER_SEC
                / cpu_secs
        ),
        _ => "na".into(),
    };

    let mut total = ConnStats::default();
    let mut conn_errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut rtts = Vec::new();
    let mut back = Vec::with_capacity(n);
    for t in tasks {
        match t.await {
            Ok((st, ws)) => {
                total.sent_total += st.sent_total;
                total.recv_total += st.recv_total;
                total.sent_window += st.sent_window;
                total.recv_window += st.recv_window;
                total.wrong += st.wrong;
                total.unanswered += st.unanswered;
                rtts.extend_from_slice(&st.rtt_us);
                if let Some(e) = st.error {
                    *conn_errors.entry(e).or_insert(0) += 1;
                }
                back.push(ws);
            }
            Err(e) => *conn_errors.entry(format!("task: {e}")).or_insert(0) += 1,
        }
    }
    let (clean, unclean) = close_all(back).await;
    rtts.sort_unstable();
    let secs = a.seconds;
    println!(
        "RESULT mode=flood connections={n} size={} frames={} pipeline={} seconds={secs} recv_per_s={:.0} sent_per_s={:.0} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} sent_total={} recv_total={} wrong={} unanswered={} conn_errors={} open_errors={} closed_clean={clean} closed_unclean={unclean} client_cores={client_cores} server_cores={server_cores} machine_cores={machine_cores} other_cores={other_cores}",
        body.len(),
        out.frames(),
        a.pipeline,
        total.recv_window as f64 / secs,
        total.sent_window as f64 / secs,
        percentile(&rtts, 50.0),
        percentile(&rtts, 99.0),
        percentile(&rtts, 100.0),
        total.sent_total,
        total.recv_total,
        total.wrong,
        total.unanswered,
        errors_str(&conn_errors),
        errors_str(&errors),
    );
    i32::from(total.wrong > 0 || !conn_errors.is_empty())
}
