//! Our `log::Log`: JSON lines (or simplelog-style text) through a bounded channel to one writer
//! thread that writes to stderr in batches.
//!
//! This module owns the log line format (SERVER.md "Logs"), the bounded hand-off to the writer
//! thread, the count of lines dropped when that hand-off is full, and the typed entry points for
//! the two kinds of line the server writes per request: the access line ([`access`]) and what a
//! handler prints with அச்சு ([`handler_print`]). It does not decide *when* to log (the reactor
//! and the workers do), does not parse options (config.rs turns `--log-format`, `--log-level` and
//! `--access-log` into a [`LogConfig`]), and never sees request headers, so Authorization and
//! cookies cannot reach a line through it.
//!
//! Why a channel and a thread: the reactor and the workers must never block on a slow stderr (a
//! full pipe to a stalled log shipper). A log call formats its line on the caller's thread and
//! `try_send`s it; when the channel is full the line is dropped and [`dropped_lines`] goes up, and
//! the caller carries on. The reactor holds its access lines for one loop pass and hands them
//! over as one message ([`hold_access_lines`]): a message and a cross-thread free per pass, not
//! per request. The channel is bounded in messages and in bytes. The writer thread takes whatever is queued, writes it with one
//! `write_all`, and waits for more.
//!
//! Structured fields come from the `log` crate's key-value syntax
//! (`log::info!(request_id = id, status = 200; "request")`) and appear as JSON members or as
//! `key=value` in text. Keys that name credentials (`authorization`, `cookie`, ...) are written as
//! `"[redacted]"` whatever their value, as a last line of defence.
//!
//! Access lines are governed by `access_log` alone, not by the level, as nginx's `access_log` is
//! separate from its `error_log` level: `--log-level warn` quiets the server's own chatter but
//! keeps one line per request unless `--access-log off`.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::kv::{self, Key, Value, VisitSource, VisitValue};
use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::digits::Decimal;

/// Lines the channel holds before new ones are dropped. At a typical 250-byte access line this is
/// about 2 MiB in the worst case, and several seconds of a stalled stderr at 1k req/s.
pub const DEFAULT_CHANNEL_LINES: usize = 8192;

/// Bytes the channel may hold per line of its capacity: a message can carry many held lines
/// (see [`hold_access_lines`]), so the queue is bounded in bytes too, at the same 2 MiB (plus
/// the one message an empty queue always takes, at most [`HELD_SEND_BYTES`] and a line).
const QUEUED_BYTES_PER_LINE: usize = 256;

/// A thread holding its access lines hands them over once they reach this size, even before
/// [`send_held_lines`].
const HELD_SEND_BYTES: usize = 32 * 1024;

/// How long [`LogHandle::flush_and_stop`] waits for the writer to drain before giving up, so a
/// stuck stderr cannot hold up the exit.
pub const DEFAULT_FLUSH_WAIT: Duration = Duration::from_secs(2);

/// The writer stops collecting a batch at this many bytes and writes it, to keep one `write` of
/// reasonable size and its buffer from growing without bound.
const BATCH_MAX_BYTES: usize = 64 * 1024;
/// After writing a batch the writer sleeps this long before taking the next one, instead of
/// blocking in `recv`: while it is not parked, a sender's `try_send` never has to wake it, so
/// under load logging costs no futex call and no context switch per line. When a pass finds
/// nothing, the writer parks in `recv` again, so an idle server does not wake up.
const FLUSH_INTERVAL: Duration = Duration::from_millis(2);

/// Keys whose values are never written: request credentials (SERVER.md "Logs").
const SECRET_KEYS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "proxy_authorization",
    "cookie",
    "set-cookie",
    "set_cookie",
];

/// How a line is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: `ts`, `level`, `msg`, then the fields. The default: for machines.
    Json,
    /// simplelog's layout, `HH:MM:SS [LEVEL] message key=value ...` (UTC): for people.
    Text,
}

/// What `--log-format`, `--log-level` and `--access-log` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// Records above this level are discarded before they are formatted.
    pub level: LevelFilter,
    /// One line per request through [`access`]; independent of `level` (see the module doc).
    pub access_log: bool,
}

impl Default for LogConfig {
    /// SERVER.md defaults: `--log-format json`, `--log-level info`, `--access-log on`.
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Json,
            level: LevelFilter::Info,
            access_log: true,
        }
    }
}

/// Why [`init`] failed.
#[derive(Debug)]
pub enum InitError {
    /// A logger is already installed in this process (the `log` facade allows one).
    AlreadyInitialized,
    /// The writer thread could not be spawned.
    SpawnWriter(io::Error),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadyInitialized => f.write_str("a logger is already installed"),
            InitError::SpawnWriter(e) => write!(f, "cannot start the log writer thread: {e}"),
        }
    }
}

impl std::error::Error for InitError {}

/// One request's access line: the fields SERVER.md "Logs" lists, and nothing else. Borrowed, so
/// the reactor builds it from what it already holds without copying.
#[derive(Debug, Clone, Copy)]
pub struct AccessLine<'a> {
    /// The id also sent as `X-Request-Id` and put in error bodies.
    pub request_id: &'a str,
    pub method: &'a str,
    /// The request target as received; [`access`] strips the query string and fragment itself,
    /// so passing the full target is safe.
    pub path: &'a str,
    /// The matched route pattern; `None` for requests answered before routing (written `-`).
    pub route: Option<&'a str>,
    pub status: u16,
    /// From the first byte of the head to the last byte of the response handed to the kernel.
    pub duration: Duration,
    /// Request bytes read (head and body).
    pub bytes_in: u64,
    /// Response bytes written (head and body).
    pub bytes_out: u64,
    pub remote: Option<SocketAddr>,
}

/// The request path without its query string (or fragment): account numbers and tokens travel in
/// query strings, and the path alone is what an operator needs to find the request.
pub fn strip_query(target: &str) -> &str {
    match target.find(['?', '#']) {
        Some(i) => &target[..i],
        None => target,
    }
}

/// What travels from a log call to the writer thread.
enum Msg {
    /// `count` finished lines, each with its newline.
    Lines { text: String, count: u64 },
    /// Write everything queued before this, then exit.
    Stop,
}

/// State shared by every clone of a [`Logger`] and its [`LogHandle`].
struct Shared {
    cfg: LogConfig,
    tx: SyncSender<Msg>,
    /// Lines dropped because the channel was full, the writer failed, or the logger was stopped.
    /// Shared with the writer thread, which must not hold `tx`: when every `Logger` and the
    /// handle are gone the channel disconnects and the writer exits.
    dropped: Arc<AtomicU64>,
    /// Bytes in the channel, and the most it may hold: over it a message is dropped like one
    /// that finds the channel full. Shared with the writer, which takes them off.
    queued_bytes: Arc<AtomicUsize>,
    max_queued_bytes: usize,
    /// Set by [`LogHandle::flush_and_stop`]; later lines are counted as dropped, not queued
    /// behind the `Stop` where nothing would ever write them.
    stopped: AtomicBool,
}

/// The logger: formats on the caller's thread, hands the line to the writer thread, never blocks.
/// Cheap to clone. [`init`] installs one process-wide; tests and tools can use their own.
#[derive(Clone)]
pub struct Logger {
    shared: Arc<Shared>,
}

/// Owns the writer thread; [`LogHandle::flush_and_stop`] drains it at shutdown so the last lines
/// ("Shutdown complete") are written. Dropping the handle without calling it leaves the thread
/// running until the process exits.
pub struct LogHandle {
    shared: Arc<Shared>,
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Logger {
    /// Starts a writer thread writing to `writer` behind a channel of `capacity_lines` lines (at
    /// least 1). Installs nothing: see [`init`] for the process-wide logger.
    pub fn start(
        cfg: LogConfig,
        writer: Box<dyn Write + Send>,
        capacity_lines: usize,
    ) -> io::Result<(Logger, LogHandle)> {
        let (tx, rx) = mpsc::sync_channel(capacity_lines.max(1));
        let (done_tx, done) = mpsc::channel();
        let shared = Arc::new(Shared {
            cfg,
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
            queued_bytes: Arc::new(AtomicUsize::new(0)),
            max_queued_bytes: capacity_lines.max(1) * QUEUED_BYTES_PER_LINE,
            stopped: AtomicBool::new(false),
        });
        let dropped = Arc::clone(&shared.dropped);
        let queued_bytes = Arc::clone(&shared.queued_bytes);
        let thread = thread::Builder::new()
            .name("etamil-log".into())
            .spawn(move || {
                run_writer(rx, writer, &dropped, &queued_bytes);
                // The handle may have stopped waiting; nobody listening is fine.
                let _ = done_tx.send(());
            })?;
        let handle = LogHandle {
            shared: Arc::clone(&shared),
            done,
            thread: Some(thread),
        };
        Ok((Logger { shared }, handle))
    }

    /// Lines dropped so far (channel full, write failed, or logged after the stop).
    pub fn dropped_lines(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Whether [`Logger::access`] writes anything; lets the caller skip building the line.
    pub fn access_log_enabled(&self) -> bool {
        self.shared.cfg.access_log
    }

    /// Queues one access line (see [`AccessLine`]); the path loses its query string here.
    pub fn access(&self, a: &AccessLine<'_>) {
        if !self.shared.cfg.access_log {
            return;
        }
        let held = HELD.with(|held| {
            let mut held = held.borrow_mut();
            let Some(h) = held.as_mut().filter(|h| Arc::ptr_eq(&h.to, &self.shared)) else {
                return false;
            };
            h.text = self.format_access(std::mem::take(&mut h.text), a);
            h.count += 1;
            if h.text.len() >= HELD_SEND_BYTES {
                h.send();
            }
            true
        });
        if !held {
            let line = self.format_access(String::with_capacity(256), a);
            send_lines(&self.shared, line, 1);
        }
    }

    /// Appends the access line for `a` to `buf`.
    fn format_access(&self, buf: String, a: &AccessLine<'_>) -> String {
        let mut line = LineBuf::start_on(
            buf,
            self.shared.cfg.format,
            Level::Info,
            format_args!("request"),
        );
        line.str("request_id", a.request_id);
        line.str("method", a.method);
        line.str("path", strip_query(a.path));
        line.str("route", a.route.unwrap_or("-"));
        line.uint("status", u64::from(a.status));
        line.uint(
            "duration_us",
            u64::try_from(a.duration.as_micros()).unwrap_or(u64::MAX),
        );
        line.uint("bytes_in", a.bytes_in);
        line.uint("bytes_out", a.bytes_out);
        match a.remote {
            Some(addr) => line.addr("remote", addr),
            None => line.str("remote", "-"),
        }
        line.finish()
    }

    /// From now on this thread's access lines for this logger are held and handed to the writer
    /// together by [`send_held_lines`] (or at [`HELD_SEND_BYTES`]): one message, one allocation
    /// and one free on the writer's side per batch rather than per line. The reactor does this,
    /// and sends once per loop pass, before it may sleep, so no line waits while it is idle.
    pub fn hold_access_lines(&self) {
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            if let Some(old) = held.as_mut() {
                old.send();
            }
            *held = Some(HeldLines {
                to: Arc::clone(&self.shared),
                text: String::with_capacity(HELD_SEND_BYTES),
                count: 0,
            });
        });
    }

    /// Queues what a handler printed with அச்சு, at info, with its request id. The printed text
    /// is the `msg`; `source` is `"handler"` so these lines can be told from the server's own.
    pub fn handler_print(&self, request_id: &str, text: &str) {
        if Level::Info > self.shared.cfg.level {
            return;
        }
        let mut line = LineBuf::start(self.shared.cfg.format, Level::Info, format_args!("{text}"));
        line.str("request_id", request_id);
        line.str("source", "handler");
        send_lines(&self.shared, line.finish(), 1);
    }
}

/// Hands `count` finished lines to the writer, or counts them as dropped when the logger has
/// stopped or the channel is full (in messages or in bytes). Never blocks.
fn send_lines(shared: &Shared, text: String, count: u64) {
    let len = text.len();
    let drop_them = || {
        shared.dropped.fetch_add(count, Ordering::Relaxed);
    };
    if shared.stopped.load(Ordering::Relaxed) {
        return drop_them();
    }
    // An empty queue takes a message of any size, so one large batch cannot be refused forever.
    let before = shared.queued_bytes.fetch_add(len, Ordering::Relaxed);
    if before > 0 && before + len > shared.max_queued_bytes {
        shared.queued_bytes.fetch_sub(len, Ordering::Relaxed);
        return drop_them();
    }
    if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
        shared.tx.try_send(Msg::Lines { text, count })
    {
        shared.queued_bytes.fetch_sub(len, Ordering::Relaxed);
        drop_them();
    }
}

/// Access lines a thread holds for one logger (see [`Logger::hold_access_lines`]).
struct HeldLines {
    to: Arc<Shared>,
    text: String,
    count: u64,
}

impl HeldLines {
    fn send(&mut self) {
        if self.count == 0 {
            return;
        }
        // The next batch starts at the size this one reached, so it need not grow again.
        let next = String::with_capacity(self.text.len().min(HELD_SEND_BYTES));
        send_lines(
            &self.to,
            std::mem::replace(&mut self.text, next),
            self.count,
        );
        self.count = 0;
    }
}

thread_local! {
    static HELD: RefCell<Option<HeldLines>> = const { RefCell::new(None) };
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.shared.cfg.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = LineBuf::start(self.shared.cfg.format, record.level(), *record.args());
        let mut fields = FieldWriter { line: &mut line };
        // A visitor of ours never fails; a failing Source of someone else's only loses fields.
        let _ = record.key_values().visit(&mut fields);
        send_lines(&self.shared, line.finish(), 1);
    }

    /// Nothing to do on the caller's side: the writer flushes after every batch, and draining
    /// the channel is [`LogHandle::flush_and_stop`]'s job (it may wait; `flush` must not).
    fn flush(&self) {}
}

impl LogHandle {
    /// Lines dropped so far by this handle's logger.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Writes every line queued so far and stops the writer, waiting at most
    /// [`DEFAULT_FLUSH_WAIT`]. Call it last, after "Shutdown complete"; lines logged afterwards
    /// are counted as dropped. Returns whether the writer finished within the wait.
    pub fn flush_and_stop(self) -> bool {
        self.flush_and_stop_within(DEFAULT_FLUSH_WAIT)
    }

    /// [`LogHandle::flush_and_stop`] with an explicit bound on the wait.
    pub fn flush_and_stop_within(mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        self.shared.stopped.store(true, Ordering::Relaxed);
        // The Stop goes behind every line already queued; the channel is FIFO, so when the
        // writer reaches it, everything before it has been written.
        let mut stop = Msg::Stop;
        loop {
            match self.shared.tx.try_send(stop) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    stop = m;
                    thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.done.recv_timeout(left) {
            Ok(()) => {
                if let Some(t) = self.thread.take() {
                    // The thread has sent `done`, so it is returning: this join does not wait.
                    let _ = t.join();
                }
                true
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => false,
        }
    }
}

/// The writer thread: block for one message, take whatever else is queued (up to
/// [`BATCH_MAX_BYTES`]), write it all at once, pause [`FLUSH_INTERVAL`], repeat until `Stop`.
fn run_writer(
    rx: Receiver<Msg>,
    mut out: Box<dyn Write + Send>,
    dropped: &AtomicU64,
    queued_bytes: &AtomicUsize,
) {
    let mut batch: Vec<u8> = Vec::with_capacity(BATCH_MAX_BYTES);
    loop {
        let Ok(first) = rx.recv() else { return };
        batch.clear();
        let mut lines = 0u64;
        let mut stop = false;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Lines { text, count } => {
                    queued_bytes.fetch_sub(text.len(), Ordering::Relaxed);
                    batch.extend_from_slice(text.as_bytes());
                    lines += count;
                }
                Msg::Stop => {
                    stop = true;
                    break;
                }
            }
            if batch.len() < BATCH_MAX_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() && out.write_all(&batch).and_then(|()| out.flush()).is_err() {
            // Nowhere left to report it: count the lines so /metrics shows the loss.
            dropped.fetch_add(lines, Ordering::Relaxed);
        }
        if stop {
            return;
        }
        thread::sleep(FLUSH_INTERVAL);
    }
}

/// The process-wide logger, for [`access`], [`handler_print`] and [`dropped_lines`].
static GLOBAL: OnceLock<Logger> = OnceLock::new();

/// Installs the process-wide logger writing to stderr and starts its writer thread. Once per
/// process: a second call is [`InitError::AlreadyInitialized`].
pub fn init(cfg: LogConfig) -> Result<LogHandle, InitError> {
    init_with_writer(cfg, Box::new(io::stderr()))
}

/// [`init`] with another sink (tests, or a file); the channel holds [`DEFAULT_CHANNEL_LINES`].
pub fn init_with_writer(
    cfg: LogConfig,
    writer: Box<dyn Write + Send>,
) -> Result<LogHandle, InitError> {
    let (logger, handle) =
        Logger::start(cfg, writer, DEFAULT_CHANNEL_LINES).map_err(InitError::SpawnWriter)?;
    if let Err(logger) = GLOBAL.set(logger) {
        drop(logger);
        handle.flush_and_stop_within(Duration::ZERO);
        return Err(InitError::AlreadyInitialized);
    }
    // `set_logger` wants a `&'static`, which the OnceLock gives without leaking a Box (and
    // without the `log/std` feature that `set_boxed_logger` needs).
    let Some(installed) = GLOBAL.get() else {
        return Err(InitError::AlreadyInitialized);
    };
    if log::set_logger(installed).is_err() {
        // Another crate's logger got there first: ours still serves `access` and friends, but
        // the facade's records go elsewhere. Report it; the caller decides.
        return Err(InitError::AlreadyInitialized);
    }
    log::set_max_level(cfg.level);
    Ok(handle)
}

/// Lines dropped by the process-wide logger (0 before [`init`]): `etamil_log_lines_dropped_total`.
pub fn dropped_lines() -> u64 {
    GLOBAL.get().map_or(0, Logger::dropped_lines)
}

/// Whether the process-wide logger writes access lines; false before [`init`].
pub fn access_log_enabled() -> bool {
    GLOBAL.get().is_some_and(Logger::access_log_enabled)
}

/// Queues an access line on the process-wide logger (nothing before [`init`]).
pub fn access(line: &AccessLine<'_>) {
    if let Some(l) = GLOBAL.get() {
        l.access(line);
    }
}

/// Holds this thread's access lines for the process-wide logger until [`send_held_lines`]
/// (see [`Logger::hold_access_lines`]).
pub fn hold_access_lines() {
    if let Some(l) = GLOBAL.get() {
        l.hold_access_lines();
    }
}

/// Hands the access lines this thread holds to the writer.
pub fn send_held_lines() {
    HELD.with(|held| {
        if let Some(h) = held.borrow_mut().as_mut() {
            h.send();
        }
    });
}

/// Sends what this thread holds and stops holding: later lines go one by one again.
pub fn stop_holding_access_lines() {
    HELD.with(|held| {
        if let Some(mut h) = held.borrow_mut().take() {
            h.send();
        }
    });
}

/// Queues what a handler printed, with its request id, on the process-wide logger.
pub fn handler_print(request_id: &str, text: &str) {
    if let Some(l) = GLOBAL.get() {
        l.handler_print(request_id, text);
    }
}

/// One line being built in either format. JSON: `{"ts":..,"level":..,"msg":..` then
/// `,"key":value` per field and `}`. Text: `HH:MM:SS [LEVEL] msg` then ` key=value`.
struct LineBuf {
    format: LogFormat,
    buf: String,
}

impl LineBuf {
    fn start(format: LogFormat, level: Level, msg: fmt::Arguments<'_>) -> LineBuf {
        LineBuf::start_on(String::with_capacity(256), format, level, msg)
    }

    /// Starts a line at the end of `buf` (which may hold earlier lines).
    fn start_on(
        mut buf: String,
        format: LogFormat,
        level: Level,
        msg: fmt::Arguments<'_>,
    ) -> LineBuf {
        let now = SystemTime::now();
        match format {
            LogFormat::Json => {
                buf.push_str("{\"ts\":\"");
                push_rfc3339_millis(&mut buf, now);
                buf.push_str("\",\"level\":\"");
                buf.push_str(level_lower(level));
                buf.push_str("\",\"msg\":\"");
                push_args(&mut JsonEscaper(&mut buf), msg);
                buf.push('"');
            }
            LogFormat::Text => {
                let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let day = secs % 86_400;
                let _ = write!(
                    buf,
                    "{:02}:{:02}:{:02} [{}] ",
                    day / 3600,
                    day / 60 % 60,
                    day % 60,
                    level.as_str()
                );
                push_args(&mut TextEscaper(&mut buf), msg);
            }
        }
        LineBuf { format, buf }
    }

    fn key(&mut self, key: &str) {
        match self.format {
            LogFormat::Json => {
                self.buf.push_str(",\"");
                push_json_escaped(&mut self.buf, key);
                self.buf.push_str("\":");
            }
            LogFormat::Text => {
                self.buf.push(' ');
                push_text_escaped(&mut self.buf, key);
                self.buf.push('=');
            }
        }
    }

    /// A string field: quoted in JSON; in text, quoted only when it would not read as one token.
    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        match self.format {
            LogFormat::Json => {
                self.buf.push('"');
                push_json_escaped(&mut self.buf, value);
                self.buf.push('"');
            }
            LogFormat::Text => {
                let plain = !value.is_empty()
                    && !value
                        .chars()
                        .any(|c| c == ' ' || c == '"' || c == '=' || c.is_control());
                if plain {
                    self.buf.push_str(value);
                } else {
                    self.buf.push('"');
                    push_json_escaped(&mut self.buf, value);
                    self.buf.push('"');
                }
            }
        }
    }

    /// A field written with `Display` and treated as a string (addresses, arbitrary values).
    fn display(&mut self, key: &str, value: &dyn fmt::Display) {
        match self.format {
            LogFormat::Json => {
                self.key(key);
                self.buf.push('"');
                let _ = write!(JsonEscaper(&mut self.buf), "{value}");
                self.buf.push('"');
            }
            // Text must see the whole value to decide on quotes.
            LogFormat::Text => self.str(key, &value.to_string()),
        }
    }

    /// A field written bare: integers and booleans, whose `Display` is valid JSON.
    fn num(&mut self, key: &str, value: impl fmt::Display) {
        self.key(key);
        let _ = write!(self.buf, "{value}");
    }

    /// [`num`](Self::num) for an unsigned integer, without the formatting machinery: the access
    /// line has four of them per request.
    fn uint(&mut self, key: &str, value: u64) {
        self.key(key);
        push_u64(&mut self.buf, value);
    }

    /// A socket address as a string field; IPv4 (nearly every peer) without `Display`.
    fn addr(&mut self, key: &str, addr: SocketAddr) {
        let SocketAddr::V4(v4) = addr else {
            return self.display(key, &addr);
        };
        self.key(key);
        let quote = self.format == LogFormat::Json;
        if quote {
            self.buf.push('"');
        }
        for (i, octet) in v4.ip().octets().into_iter().enumerate() {
            if i > 0 {
                self.buf.push('.');
            }
            push_u64(&mut self.buf, u64::from(octet));
        }
        self.buf.push(':');
        push_u64(&mut self.buf, u64::from(v4.port()));
        if quote {
            self.buf.push('"');
        }
    }

    fn finish(mut self) -> String {
        if self.format == LogFormat::Json {
            self.buf.push('}');
        }
        self.buf.push('\n');
        self.buf
    }
}

/// Writes `args` through an escaping writer, without a temporary String when it is a literal.
fn push_args(out: &mut impl fmt::Write, args: fmt::Arguments<'_>) {
    match args.as_str() {
        Some(s) => {
            let _ = out.write_str(s);
        }
        None => {
            let _ = out.write_fmt(args);
        }
    }
}

/// Turns record key-values into fields.
struct FieldWriter<'a> {
    line: &'a mut LineBuf,
}

impl<'kvs> VisitSource<'kvs> for FieldWriter<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        let k = key.as_str();
        if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
            self.line.str(k, "[redacted]");
            return Ok(());
        }
        value.visit(ValueWriter {
            line: self.line,
            key: k,
        })
    }
}

/// Writes one value by its kind: numbers and booleans bare, everything else as a string.
struct ValueWriter<'a, 'k> {
    line: &'a mut LineBuf,
    key: &'k str,
}

impl<'v> VisitValue<'v> for ValueWriter<'_, '_> {
    fn visit_any(&mut self, value: Value<'_>) -> Result<(), kv::Error> {
        self.line.display(self.key, &value);
        Ok(())
    }
    fn visit_null(&mut self) -> Result<(), kv::Error> {
        self.line.num(self.key, "null");
        Ok(())
    }
    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        self.line.num(self.key, value);
        Ok(())
    }
    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        self.line.num(self.key, value);
        Ok(())
    }
    fn visit_u128(&mut self, value: u128) -> Result<(), kv::Error> {
        self.line.num(self.key, value);
        Ok(())
    }
    fn visit_i128(&mut self, value: i128) -> Result<(), kv::Error> {
        self.line.num(self.key, value);
        Ok(())
    }
    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        // JSON has no NaN or infinity: those travel as strings.
        if value.is_finite() {
            self.line.num(self.key, value);
        } else {
            self.line.display(self.key, &value);
        }
        Ok(())
    }
    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        self.line.num(self.key, value);
        Ok(())
    }
    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.line.str(self.key, value);
        Ok(())
    }
}

fn level_lower(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

/// Appends `s` escaped for the inside of a JSON string (RFC 8259 §7): `"` and `\` backslashed,
/// control characters as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`. Everything else, Tamil
/// included, passes through as UTF-8.
pub fn push_json_escaped(out: &mut String, s: &str) {
    // Nearly every string (ids, paths, routes, keys) has nothing to escape: copy it at once.
    if !s
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f)
    {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        // Only ASCII bytes need escaping, and no UTF-8 continuation byte is ASCII, so slicing at
        // these indices stays on character boundaries.
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Appends `s` with control characters escaped as in JSON but nothing else, so a text line stays
/// one line whatever a message contains (no forged lines from a newline in a path).
fn push_text_escaped(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if b < 0x20 || b == 0x7f {
            out.push_str(&s[start..i]);
            match b {
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                _ => {
                    let _ = write!(out, "\\u{:04x}", b);
                }
            }
            start = i + 1;
        }
    }
    out.push_str(&s[start..]);
}

/// `fmt::Write` adapter that JSON-escapes what is formatted into it.
struct JsonEscaper<'a>(&'a mut String);

impl fmt::Write for JsonEscaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_json_escaped(self.0, s);
        Ok(())
    }
}

/// `fmt::Write` adapter that escapes control characters only (text format).
struct TextEscaper<'a>(&'a mut String);

impl fmt::Write for TextEscaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_text_escaped(self.0, s);
        Ok(())
    }
}

/// Appends `t` as RFC 3339 UTC with milliseconds, `2024-02-29T13:05:09.042Z`. Times before
/// 1970 (a badly set clock) print as the epoch rather than failing.
/// Appends `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ`, digit by digit: once per log line, where
/// `write!` with seven fields cost more than the rest of an access line.
fn push_rfc3339_millis(out: &mut String, t: SystemTime) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (y, m, d) = crate::lang::builtins::civil_from_days((secs / 86_400) as i64);
    let day = secs % 86_400;
    push_digits(out, u64::try_from(y).unwrap_or(0), 4);
    for (sep, n, width) in [
        ('-', u64::from(m), 2),
        ('-', u64::from(d), 2),
        ('T', day / 3600, 2),
        (':', day / 60 % 60, 2),
        (':', day % 60, 2),
        ('.', u64::from(since.subsec_millis()), 3),
    ] {
        out.push(sep);
        push_digits(out, n, width);
    }
    out.push('Z');
}

/// Appends `n` in decimal.
fn push_u64(out: &mut String, n: u64) {
    push_digits(out, n, 1);
}

/// Appends `n` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut String, n: u64, width: usize) {
    out.push_str(Decimal::new(n, width).as_str());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A sink the test can read after the writer has written to it.
    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl SharedBuf {
        fn text(&self) -> String {
            let bytes = self.0.lock().map(|v| v.clone()).unwrap_or_default();
            String::from_utf8(bytes).expect("log output is UTF-8")
        }
    }

    fn cfg(format: LogFormat, level: LevelFilter) -> LogConfig {
        LogConfig {
            format,
            level,
            access_log: true,
        }
    }

    /// Runs `f` against a fresh logger and returns what it wrote, after a full flush.
    fn capture(c: LogConfig, f: impl FnOnce(&Logger)) -> String {
        let buf = SharedBuf::default();
        let (logger, handle) = Logger::start(c, Box::new(buf.clone()), 64).expect("start");
        f(&logger);
        assert!(handle.flush_and_stop(), "writer drained in time");
        buf.text()
    }

    fn sample_access() -> AccessLine<'static> {
        AccessLine {
            request_id: "r-1",
            method: "GET",
            path: "/accounts/42?acct=1234&pin=9",
            route: Some("/accounts/:id"),
            status: 200,
            duration: Duration::from_micros(1234),
            bytes_in: 78,
            bytes_out: 190,
            remote: Some(SocketAddr::from(([127, 0, 0, 1], 5555))),
        }
    }

    #[test]
    fn strip_query_cases() {
        for (input, want) in [
            ("/a/b?x=1", "/a/b"),
            ("/a/b", "/a/b"),
            ("/?", "/"),
            ("?only", ""),
            ("/p#frag?x", "/p"),
            ("/வணக்கம்?கணக்கு=1", "/வணக்கம்"),
            ("http://h/p?q", "http://h/p"),
        ] {
            assert_eq!(strip_query(input), want, "{input}");
        }
    }

    #[test]
    fn json_escaping_table() {
        for (input, want) in [
            ("plain", "plain"),
            ("q\"b\\", "q\\\"b\\\\"),
            ("a\nb\rc\td", "a\\nb\\rc\\td"),
            ("\u{0}\u{1f}\u{7f}\u{8}\u{c}", "\\u0000\\u001f\\u007f\\b\\f"),
            ("வணக்கம் ✓", "வணக்கம் ✓"),
            ("/", "/"),
        ] {
            let mut out = String::new();
            push_json_escaped(&mut out, input);
            assert_eq!(out, want, "{input:?}");
        }
    }

    #[test]
    fn dates_by_hand_match_known_instants() {
        for (secs, want) in [
            (0u64, "1970-01-01T00:00:00.000Z"),
            (951_782_400, "2000-02-29T00:00:00.000Z"),
            (1_709_164_800, "2024-02-29T00:00:00.000Z"),
            (4_102_444_799, "2099-12-31T23:59:59.000Z"),
        ] {
            let mut out = String::new();
            push_rfc3339_millis(&mut out, UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(out, want);
        }
        let mut out = String::new();
        push_rfc3339_millis(
            &mut out,
            UNIX_EPOCH + Duration::from_millis(1_709_164_800_042),
        );
        assert_eq!(out, "2024-02-29T00:00:00.042Z");
    }

    #[test]
    fn addresses_by_hand_match_display() {
        for addr in [
            SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::from(([255, 255, 255, 255], 65_535)),
            SocketAddr::from(([10, 1, 20, 255], 8080)),
            "[2001:db8::1]:443".parse().expect("v6"),
        ] {
            for format in [LogFormat::Json, LogFormat::Text] {
                let mut line = LineBuf {
                    format,
                    buf: String::new(),
                };
                line.addr("a", addr);
                let want = match format {
                    LogFormat::Json => format!(",\"a\":\"{addr}\""),
                    LogFormat::Text => format!(" a={addr}"),
                };
                assert_eq!(line.buf, want);
            }
        }
    }

    /// A minimal check that a line is one well-formed JSON object of string/number/bool members,
    /// enough for the lines this module writes (it writes no nested values). Hand-written: the
    /// crate takes no JSON dependency for one test.
    fn json_members(line: &str) -> Vec<(String, String)> {
        fn string(it: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
            assert_eq!(it.next(), Some('"'));
            let mut s = String::new();
            loop {
                match it.next().expect("unterminated string") {
                    '"' => return s,
                    '\\' => match it.next().expect("dangling escape") {
                        '"' => s.push('"'),
                        '\\' => s.push('\\'),
                        '/' => s.push('/'),
                        'n' => s.push('\n'),
                        'r' => s.push('\r'),
                        't' => s.push('\t'),
                        'b' => s.push('\u{8}'),
                        'f' => s.push('\u{c}'),
                        'u' => {
                            let hex: String = (0..4).filter_map(|_| it.next()).collect();
                            let n = u32::from_str_radix(&hex, 16).expect("hex escape");
                            s.push(char::from_u32(n).expect("scalar"));
                        }
                        c => panic!("bad escape \\{c}"),
                    },
                    c if (c as u32) < 0x20 => panic!("raw control character in string"),
                    c => s.push(c),
                }
            }
        }
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "one line"
        );
        let mut it = line.trim_end_matches('\n').chars().peekable();
        assert_eq!(it.next(), Some('{'));
        let mut members = Vec::new();
        loop {
            let key = string(&mut it);
            assert_eq!(it.next(), Some(':'));
            let value = if it.peek() == Some(&'"') {
                string(&mut it)
            } else {
                let mut v = String::new();
                while let Some(&c) = it.peek() {
                    if c == ',' || c == '}' {
                        break;
                    }
                    v.push(c);
                    it.next();
                }
                assert!(
                    v == "true" || v == "false" || v == "null" || v.parse::<f64>().is_ok(),
                    "bare value {v:?}"
                );
                v
            };
            members.push((key, value));
            match it.next() {
                Some(',') => continue,
                Some('}') => break,
                other => panic!("expected , or }} got {other:?}"),
            }
        }
        assert_eq!(it.next(), None, "nothing after the object");
        members
    }

    fn get<'a>(m: &'a [(String, String)], k: &str) -> &'a str {
        m.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k}"))
    }

    #[test]
    fn access_line_is_valid_json_with_the_spec_fields_and_no_query() {
        let out = capture(cfg(LogFormat::Json, LevelFilter::Info), |l| {
            l.access(&sample_access())
        });
        let m = json_members(&out);
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ts",
                "level",
                "msg",
                "request_id",
                "method",
                "path",
                "route",
                "status",
                "duration_us",
                "bytes_in",
                "bytes_out",
                "remote"
            ]
        );
        assert_eq!(get(&m, "path"), "/accounts/42");
        assert!(!out.contains("acct") && !out.contains("pin"));
        assert_eq!(get(&m, "route"), "/accounts/:id");
        assert_eq!(get(&m, "status"), "200");
        assert_eq!(get(&m, "duration_us"), "1234");
        assert_eq!(get(&m, "remote"), "127.0.0.1:5555");
        assert_eq!(get(&m, "level"), "info");
        let ts = get(&m, "ts");
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T",
            "{ts}"
        );
    }

    #[test]
    fn hostile_strings_stay_one_valid_json_line() {
        let nasty = "/x\"}\n{\"level\":\"error\u{1}\\ தமிழ்";
        let out = capture(cfg(LogFormat::Json, LevelFilter::Info), |l| {
            let mut a = sample_access();
            a.path = nasty;
            a.method = "G\"ET";
            a.route = None;
            l.access(&a);
            l.handler_print("r-2", nasty);
        });
        let lines: Vec<&str> = out.split_inclusive('\n').collect();
        assert_eq!(lines.len(), 2);
        let a = json_members(lines[0]);
        assert_eq!(get(&a, "path"), nasty);
        assert_eq!(get(&a, "method"), "G\"ET");
        assert_eq!(get(&a, "route"), "-");
        let p = json_members(lines[1]);
        assert_eq!(get(&p, "msg"), nasty);
        assert_eq!(get(&p, "request_id"), "r-2");
        assert_eq!(get(&p, "source"), "handler");
    }

    #[test]
    fn kv_fields_are_typed_and_secrets_redacted() {
        let out = capture(cfg(LogFormat::Json, LevelFilter::Debug), |l| {
            l.log(
                &Record::builder()
                    .level(Level::Warn)
                    .args(format_args!("queue {} full", "job"))
                    .key_values(&[
                        ("status", Value::from(503u64)),
                        ("ok", Value::from(false)),
                        ("ratio", Value::from(0.5f64)),
                        ("name", Value::from("a\"b")),
                        ("Authorization", Value::from("Bearer s3cret")),
                        ("cookie", Value::from("sid=1")),
                    ])
                    .build(),
            );
        });
        let m = json_members(&out);
        assert_eq!(get(&m, "level"), "warn");
        assert_eq!(get(&m, "msg"), "queue job full");
        assert_eq!(get(&m, "status"), "503");
        assert_eq!(get(&m, "ok"), "false");
        assert_eq!(get(&m, "ratio"), "0.5");
        assert_eq!(get(&m, "name"), "a\"b");
        assert_eq!(get(&m, "Authorization"), "[redacted]");
        assert_eq!(get(&m, "cookie"), "[redacted]");
        assert!(!out.contains("s3cret") && !out.contains("sid=1"));
        // A bare status must be a JSON number, not a string.
        assert!(out.contains("\"status\":503"));
    }

    #[test]
    fn text_format_reads_like_simplelog() {
        let out = capture(cfg(LogFormat::Text, LevelFilter::Info), |l| {
            l.log(
                &Record::builder()
                    .level(Level::Info)
                    .args(format_args!("listening\non 127.0.0.1:9999"))
                    .key_values(&[
                        ("routes", Value::from(3u64)),
                        ("app", Value::from("my app")),
                    ])
                    .build(),
            );
            l.access(&sample_access());
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let first = lines[0];
        let b = first.as_bytes();
        assert!(b[2] == b':' && b[5] == b':' && b[8] == b' ', "{first}");
        assert_eq!(
            &first[8..],
            " [INFO] listening\\non 127.0.0.1:9999 routes=3 app=\"my app\""
        );
        assert!(lines[1].ends_with(
            " [INFO] request request_id=r-1 method=GET path=/accounts/42 route=/accounts/:id \
             status=200 duration_us=1234 bytes_in=78 bytes_out=190 remote=127.0.0.1:5555"
        ));
    }

    #[test]
    fn level_filter_and_access_switch() {
        let out = capture(cfg(LogFormat::Json, LevelFilter::Warn), |l| {
            for level in [
                Level::Error,
                Level::Warn,
                Level::Info,
                Level::Debug,
                Level::Trace,
            ] {
                l.log(
                    &Record::builder()
                        .level(level)
                        .args(format_args!("m"))
                        .build(),
                );
            }
            l.handler_print("r", "printed"); // info: below warn, filtered
            l.access(&sample_access()); // governed by access_log, not level
        });
        let levels: Vec<String> = out
            .lines()
            .map(|l| get(&json_members(&format!("{l}\n")), "level").to_owned())
            .collect();
        assert_eq!(levels, ["error", "warn", "info"], "{out}");
        assert!(out.contains("\"msg\":\"request\""));

        let off = LogConfig {
            access_log: false,
            ..cfg(LogFormat::Json, LevelFilter::Info)
        };
        let out = capture(off, |l| {
            assert!(!l.access_log_enabled());
            l.access(&sample_access());
        });
        assert_eq!(out, "");
    }

    /// A sink that tells the test when the writer is inside `write` and then blocks there until
    /// released: a stalled stderr.
    struct BlockingSink {
        entered: mpsc::Sender<()>,
        release: Receiver<()>,
        inner: SharedBuf,
    }

    impl Write for BlockingSink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let _ = self.entered.send(());
            let _ = self.release.recv();
            self.inner.write(b)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A logger whose writer has taken its first line ("line 0") and is stuck in `write`
    /// until `release` sends or is dropped; its channel is empty, with room for `capacity`.
    struct Stalled {
        logger: Logger,
        handle: LogHandle,
        release: mpsc::Sender<()>,
        out: SharedBuf,
    }

    fn stalled(capacity: usize) -> Stalled {
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let out = SharedBuf::default();
        let sink = BlockingSink {
            entered: entered_tx,
            release: release_rx,
            inner: out.clone(),
        };
        let (logger, handle) = Logger::start(
            cfg(LogFormat::Json, LevelFilter::Info),
            Box::new(sink),
            capacity,
        )
        .expect("start");
        logger.handler_print("r", "line 0");
        entered
            .recv_timeout(Duration::from_secs(5))
            .expect("writer entered write");
        Stalled {
            logger,
            handle,
            release,
            out,
        }
    }

    #[test]
    fn full_channel_drops_and_counts_without_blocking() {
        let Stalled {
            logger,
            handle,
            release,
            out: buf,
        } = stalled(2);
        let started = Instant::now();
        for i in 1..=10 {
            logger.handler_print("r", &format!("line {i}"));
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "logging must not block"
        );
        assert_eq!(logger.dropped_lines(), 8, "2 fit in the channel, 8 dropped");
        assert_eq!(handle.dropped_lines(), 8);
        // Let every further write through: stop the blocking and drain.
        for _ in 0..4 {
            let _ = release.send(());
        }
        drop(release); // later writes see a closed channel and do not wait
        assert!(handle.flush_and_stop());
        let out = buf.text();
        let msgs: Vec<String> = out
            .lines()
            .map(|l| get(&json_members(&format!("{l}\n")), "msg").to_owned())
            .collect();
        assert_eq!(msgs, ["line 0", "line 1", "line 2"]);
        // After the stop, lines are counted, not queued into nowhere.
        logger.handler_print("r", "late");
        assert_eq!(logger.dropped_lines(), 9);
    }

    #[test]
    fn flush_and_stop_gives_up_on_a_stuck_writer() {
        // `_release` is never used while we wait.
        let Stalled {
            logger,
            handle,
            release: _release,
            ..
        } = stalled(1);
        logger.handler_print("r", "fills the channel");
        let started = Instant::now();
        assert!(!handle.flush_and_stop_within(Duration::from_millis(50)));
        assert!(started.elapsed() < Duration::from_secs(2), "bounded wait");
    }

    fn held_count() -> Option<u64> {
        HELD.with(|h| h.borrow().as_ref().map(|h| h.count))
    }

    #[test]
    fn held_access_lines_go_together_in_order_when_sent() {
        let buf = SharedBuf::default();
        let (logger, handle) = Logger::start(
            cfg(LogFormat::Json, LevelFilter::Info),
            Box::new(buf.clone()),
            64,
        )
        .expect("start");
        let held = logger.clone();
        thread::spawn(move || {
            held.hold_access_lines();
            for _ in 0..3 {
                held.access(&sample_access());
            }
            assert_eq!(held_count(), Some(3), "held, not sent");
            send_held_lines();
            assert_eq!(held_count(), Some(0));
            held.handler_print("r", "not held"); // only access lines are held
            held.access(&sample_access());
            stop_holding_access_lines();
            assert_eq!(held_count(), None);
        })
        .join()
        .expect("holding thread");
        assert!(handle.flush_and_stop());
        let msgs: Vec<String> = buf
            .text()
            .lines()
            .map(|l| get(&json_members(&format!("{l}\n")), "msg").to_owned())
            .collect();
        assert_eq!(
            msgs,
            ["request", "request", "request", "not held", "request"]
        );
        assert_eq!(logger.dropped_lines(), 0);
    }

    #[test]
    fn a_held_batch_over_the_byte_bound_is_dropped_and_counted_whole() {
        // 2 lines of capacity: 512 bytes.
        let Stalled {
            logger,
            handle,
            release,
            ..
        } = stalled(2);
        logger.hold_access_lines();
        for _ in 0..5 {
            logger.access(&sample_access());
        }
        send_held_lines(); // an empty queue takes one batch of any size
        assert_eq!(logger.dropped_lines(), 0);
        for _ in 0..5 {
            logger.access(&sample_access());
        }
        send_held_lines(); // the queue holds more than 512 bytes now
        assert_eq!(logger.dropped_lines(), 5);
        stop_holding_access_lines();
        drop(release);
        assert!(handle.flush_and_stop());
    }

    /// The only test that installs the process-wide logger (the facade allows one per process).
    #[test]
    fn global_logger_serves_the_facade_and_the_free_functions() {
        let buf = SharedBuf::default();
        let handle = init_with_writer(
            cfg(LogFormat::Json, LevelFilter::Info),
            Box::new(buf.clone()),
        )
        .expect("first init");
        assert!(matches!(
            init(LogConfig::default()),
            Err(InitError::AlreadyInitialized)
        ));
        assert!(access_log_enabled());
        log::info!(marker = "global-test", workers = 2u64; "Server started on {}", "127.0.0.1:0");
        log::debug!(marker = "global-test"; "filtered by level");
        access(&sample_access());
        handler_print("r-9", "வணக்கம்");
        log::info!(marker = "global-test"; "Shutdown complete");
        assert!(handle.flush_and_stop());
        let out = buf.text();
        assert!(out.contains("\"msg\":\"Server started on 127.0.0.1:0\",\"marker\":\"global-test\",\"workers\":2"), "{out}");
        assert!(!out.contains("filtered by level"));
        assert!(out.contains("\"path\":\"/accounts/42\""));
        assert!(out.contains("\"msg\":\"வணக்கம்\",\"request_id\":\"r-9\""));
        assert!(
            out.contains("Shutdown complete"),
            "the last line is not lost"
        );
        assert_eq!(dropped_lines(), 0);
    }
}
