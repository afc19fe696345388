//! Counters, gauges and the latency histogram, counted lock-free on the hot path and written as
//! Prometheus text (exposition format 0.0.4) when `/metrics` is scraped.
//!
//! This module owns every metric name, help text and label value (SERVER.md "Metrics"; the
//! meaning of each is in docs/OPERATIONS.md), the storage behind them, and the reading of the
//! `process_*` figures from /proc and getrusage at scrape time. It does not decide what to count
//! or when: the reactor and the workers call `record_*` and the gauges' `inc`/`dec`. It does not
//! count open file descriptors either: the server knows how many it holds and passes the number
//! to [`Metrics::render`], because walking /proc/self/fd with 10,000 connections open is a scrape
//! that costs more than the requests it measures.
//!
//! Hot path: every count is a Relaxed atomic add on a slot found by index arithmetic; no lock, no
//! allocation, no hashing. Totals are summed only when scraped, and a scrape may see a request
//! counted in `etamil_http_requests_total` before its histogram observation: Prometheus tolerates
//! that skew, and ordering the two would cost a fence per request.
//!
//! Cardinality is bounded by construction: `route` is a registered pattern (or `-` for requests
//! answered before routing), never a raw path; `method` is one of eight values; `status` is one of
//! the IANA-registered codes or, for an unregistered code, its class (`2xx` ... `5xx`).
//!
//! Reloads (SIGHUP) change routes. The choice here: routes live in one table of at most
//! [`MAX_ROUTE_SLOTS`] slots keyed by pattern string, filled at start and on each reload by
//! [`Metrics::route_ids`]. A pattern keeps its slot across reloads, so its counters never reset
//! and the same `Metrics` lives as long as the process; a pattern dropped by a reload keeps its
//! (frozen) series until restart. Patterns beyond the table share the `route="(other)"` slot.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `Content-Type` of [`Metrics::render`]'s output (text exposition format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Route slots across the life of the process (start plus every reload). An app with more
/// distinct patterns than this is unusual; the excess is counted under `route="(other)"`.
pub const MAX_ROUTE_SLOTS: usize = 256;

/// The `route` label of requests answered before routing (404, 429, 401, the server's own
/// endpoints, protocol errors), as SERVER.md names it.
pub const UNROUTED: &str = "-";

/// The `route` label shared by patterns registered after the table filled up.
pub const OVERFLOW_ROUTE: &str = "(other)";

/// Upper bounds of the latency buckets, in seconds as written in `le`: 0.1 ms to 10 s, at 1, 2.5
/// and 5 per decade (SERVER.md). A request under 100 µs lands in the first bucket.
pub const DURATION_BUCKETS: [&str; 16] = [
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10",
];

/// [`DURATION_BUCKETS`] in nanoseconds, the unit observations are compared in.
const BUCKET_BOUNDS_NS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Buckets stored per route: the finite ones plus the `+Inf` overflow.
const BUCKET_SLOTS: usize = DURATION_BUCKETS.len() + 1;

/// A request method as a label: the methods of RFC 9110 §9 an app can route, anything else
/// `OTHER`. Methods are case-sensitive (RFC 9110 §9.1), so `get` is `OTHER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Other,
}

impl Method {
    const ALL: [Method; 8] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Options,
        Method::Other,
    ];

    /// Maps a method token as received; unknown and lower-case tokens become `Other`.
    pub fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }
}

/// The IANA-registered status codes, sorted: each gets its own slot and is labelled by number.
const STATUS_CODES: [u16; 63] = [
    100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304,
    305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
    416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
    506, 507, 508, 510, 511, 599,
];

/// Slots after the registered codes: one per class for unregistered codes, then one for a status
/// outside 100..=599 (a bug somewhere, counted rather than lost).
const CLASS_LABELS: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "invalid"];

const STATUS_SLOTS: usize = STATUS_CODES.len() + CLASS_LABELS.len();

fn status_slot(status: u16) -> usize {
    match STATUS_CODES.binary_search(&status) {
        Ok(i) => i,
        Err(_) if (100..600).contains(&status) => {
            STATUS_CODES.len() + usize::from(status / 100 - 1)
        }
        Err(_) => STATUS_SLOTS - 1,
    }
}

fn write_status_label(out: &mut String, slot: usize) {
    match STATUS_CODES.get(slot) {
        Some(code) => {
            let _ = write!(out, "{code}");
        }
        None => out.push_str(CLASS_LABELS[(slot - STATUS_CODES.len()).min(CLASS_LABELS.len() - 1)]),
    }
}

/// Why the server answered a request itself, or closed a connection, instead of serving it. The
/// label value is [`Rejection::label`]; docs/OPERATIONS.md says what each means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// 429: the client's token bucket was empty (`--rate-limit`).
    RateLimited,
    /// 401: bearer token missing or wrong (`--auth-token-file`).
    Unauthorized,
    /// 503 with Retry-After: the job queue was full (`--queue-depth`).
    QueueFull,
    /// 503 with Retry-After: all buffers together were at `--max-buffered-bytes`.
    BuffersFull,
    /// 503 with Retry-After: the job waited in the queue past `--handler-timeout` and was not run.
    QueueTimeout,
    /// 413: declared or chunked body over `--max-body-bytes`.
    BodyTooLarge,
    /// 431: head over `--max-header-bytes` or `--max-header-count`.
    HeadTooLarge,
    /// 414: request target over `--max-uri-bytes`.
    UriTooLong,
    /// 400, 417, 501, 505: a request the protocol rules refuse (RFC 9112 framing, Expect, version).
    BadRequest,
    /// 408 or a silent close: the head did not arrive within `--header-timeout`.
    HeaderTimeout,
    /// 408: the body did not arrive within `--body-timeout`.
    BodyTimeout,
    /// Close: no write progress for `--write-timeout` (a client not reading its answers).
    WriteTimeout,
}

impl Rejection {
    const ALL: [Rejection; 12] = [
        Rejection::RateLimited,
        Rejection::Unauthorized,
        Rejection::QueueFull,
        Rejection::BuffersFull,
        Rejection::QueueTimeout,
        Rejection::BodyTooLarge,
        Rejection::HeadTooLarge,
        Rejection::UriTooLong,
        Rejection::BadRequest,
        Rejection::HeaderTimeout,
        Rejection::BodyTimeout,
        Rejection::WriteTimeout,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            Rejection::RateLimited => "rate_limited",
            Rejection::Unauthorized => "unauthorized",
            Rejection::QueueFull => "queue_full",
            Rejection::BuffersFull => "buffers_full",
            Rejection::QueueTimeout => "queue_timeout",
            Rejection::BodyTooLarge => "body_too_large",
            Rejection::HeadTooLarge => "head_too_large",
            Rejection::UriTooLong => "uri_too_long",
            Rejection::BadRequest => "bad_request",
            Rejection::HeaderTimeout => "header_timeout",
            Rejection::BodyTimeout => "body_timeout",
            Rejection::WriteTimeout => "write_timeout",
        }
    }
}

/// How a handler run failed. Panics are counted apart (`etamil_handler_panics_total`): they are
/// our bugs, the others are the app's or its load's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerFailure {
    /// An eTamil runtime error → 500.
    Runtime,
    /// `--handler-timeout` reached while running → 504.
    Deadline,
    /// `--handler-memory` exceeded → 500.
    Memory,
    /// `--handler-instructions` exceeded → 500.
    Instructions,
    /// A Rust panic caught by the worker → 500.
    Panic,
}

impl HandlerFailure {
    /// The kinds written as `etamil_handler_errors_total{kind}`, in order of their slots.
    const ERROR_KINDS: [HandlerFailure; 4] = [
        HandlerFailure::Runtime,
        HandlerFailure::Deadline,
        HandlerFailure::Memory,
        HandlerFailure::Instructions,
    ];

    /// The `kind` label value.
    pub fn label(self) -> &'static str {
        match self {
            HandlerFailure::Runtime => "runtime",
            HandlerFailure::Deadline => "deadline",
            HandlerFailure::Memory => "memory",
            HandlerFailure::Instructions => "instructions",
            HandlerFailure::Panic => "panic",
        }
    }
}

/// Why the reactor stopped accepting for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptPause {
    /// Open connections reached `--max-connections`.
    MaxConnections,
    /// accept() failed with EMFILE/ENFILE: out of file descriptors.
    Emfile,
}

/// A monotonic count. Relaxed: only the total matters, not its order against other memory.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down. Signed so that a `dec` racing ahead of its `inc` on another
/// thread shows as a brief -1 rather than wrapping to 2^64.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts for one route label: requests by method and status slot, and its latency histogram.
struct RouteRow {
    pattern: String,
    /// `[method][status slot]`, flattened.
    requests: Box<[AtomicU64]>,
    /// Per-bucket (not cumulative) counts: one add per observation; cumulated when rendered.
    buckets: [AtomicU64; BUCKET_SLOTS],
    /// Sum of observed durations in microseconds: u64 microseconds last 584,000 years, where
    /// nanoseconds would wrap after a few years of a busy server.
    sum_us: AtomicU64,
}

impl RouteRow {
    fn new(pattern: &str) -> RouteRow {
        RouteRow {
            pattern: pattern.to_owned(),
            requests: (0..Method::ALL.len() * STATUS_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }

    fn record(&self, method: Method, status: u16, duration: Duration) {
        let i = method as usize * STATUS_SLOTS + status_slot(status);
        if let Some(c) = self.requests.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        // `le` is inclusive: a value equal to a bound belongs to that bucket.
        let b = BUCKET_BOUNDS_NS.partition_point(|&bound| bound < ns);
        if let Some(c) = self.buckets.get(b) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Reads one request slot; indices come from `Method::ALL` and `STATUS_SLOTS`, in range by
    /// construction, and an index out of range reads as 0 rather than panicking a scrape.
    fn load_request(&self, i: usize) -> u64 {
        self.requests
            .get(i)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Reads one bucket's own (non-cumulative) count.
    fn load_bucket(&self, i: usize) -> u64 {
        self.buckets.get(i).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn observations(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }
}

/// All of the server's metrics. One per process, shared by `Arc` between the reactor and the
/// workers; `Send + Sync`, and every method takes `&self`.
pub struct Metrics {
    /// Route rows by slot index, filled in order by [`Metrics::route_ids`].
    routes: Box<[OnceLock<RouteRow>]>,
    /// Patterns in slot order: only [`Metrics::route_ids`] locks it (start and reload), never
    /// the hot path.
    registered: Mutex<Vec<String>>,
    unrouted: RouteRow,
    overflow: RouteRow,

    /// Requests whose head is parsed and whose response is not yet fully written.
    pub in_flight: Gauge,
    /// Accepted connections not yet closed.
    pub connections: Gauge,
    /// Jobs waiting in the queue for a worker.
    pub queue_depth: Gauge,
    /// Workers running a job now.
    pub busy_workers: Gauge,
    /// Worker threads configured (`--workers`), so busy/total needs no other source.
    pub workers: Gauge,
    /// 1 while the reactor and the workers share one CPU (`--colocate`, placement.rs).
    pub colocated: Gauge,
    /// Times the placement governor moved the threads (to one CPU or back).
    pub colocate_moves: Counter,

    rejections: [Counter; Rejection::ALL.len()],
    handler_errors: [Counter; HandlerFailure::ERROR_KINDS.len()],
    panics: Counter,
    accept_pauses: [Counter; 2],
    /// `[success, failure]` of SIGHUP reloads.
    reloads: [Counter; 2],
    bytes_in: Counter,
    bytes_out: Counter,
}

impl Metrics {
    /// Metrics with `route_patterns` registered; [`Metrics::route_ids`] with the same list then
    /// gives each route its index (for distinct patterns, their positions).
    pub fn new(route_patterns: &[String]) -> Metrics {
        let m = Metrics {
            routes: (0..MAX_ROUTE_SLOTS).map(|_| OnceLock::new()).collect(),
            registered: Mutex::new(Vec::new()),
            unrouted: RouteRow::new(UNROUTED),
            overflow: RouteRow::new(OVERFLOW_ROUTE),
            in_flight: Gauge::default(),
            connections: Gauge::default(),
            queue_depth: Gauge::default(),
            busy_workers: Gauge::default(),
            workers: Gauge::default(),
            colocated: Gauge::default(),
            colocate_moves: Counter::default(),
            rejections: Default::default(),
            handler_errors: Default::default(),
            panics: Counter::default(),
            accept_pauses: Default::default(),
            reloads: Default::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
        };
        m.route_ids(route_patterns);
        m
    }

    /// The route index of each pattern, in the order given, registering patterns not seen before.
    /// Call it when the router is built (at start and on each reload) and keep the index in the
    /// route: it is what [`Metrics::record_request`] takes. Patterns shared by several routes
    /// (`GET` and `DELETE /users/:id`) share one index. Once [`MAX_ROUTE_SLOTS`] are taken, new
    /// patterns get an index that counts under `route="(other)"`.
    pub fn route_ids(&self, patterns: &[String]) -> Vec<usize> {
        // A panic elsewhere while holding this lock cannot leave the Vec half-updated (push is
        // the only mutation), so a poisoned lock is safe to use.
        let mut reg = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids = Vec::with_capacity(patterns.len());
        for p in patterns {
            if let Some(i) = reg.iter().position(|r| r == p) {
                ids.push(i);
                continue;
            }
            let i = reg.len();
            if i >= MAX_ROUTE_SLOTS {
                ids.push(MAX_ROUTE_SLOTS);
                continue;
            }
            // Slot i is empty: slots are filled in order, only here, under the lock.
            if let Some(slot) = self.routes.get(i) {
                let _ = slot.set(RouteRow::new(p));
            }
            reg.push(p.clone());
            ids.push(i);
        }
        if ids.contains(&MAX_ROUTE_SLOTS) {
            log::warn!(limit = MAX_ROUTE_SLOTS; "route metrics table full; new patterns counted as route=\"(other)\"");
        }
        ids
    }

    fn row(&self, route: Option<usize>) -> &RouteRow {
        match route {
            None => &self.unrouted,
            // An index not handed out by route_ids (or the overflow index) counts as overflow.
            Some(i) => self
                .routes
                .get(i)
                .and_then(OnceLock::get)
                .unwrap_or(&self.overflow),
        }
    }

    /// Counts one answered request: `route` is its index from [`Metrics::route_ids`], or `None`
    /// when it was answered before routing; `method` the token as received; `duration` from the
    /// first byte of the head to the response handed to the kernel; bytes as read and written.
    pub fn record_request(
        &self,
        route: Option<usize>,
        method: &str,
        status: u16,
        duration: Duration,
        bytes_in: u64,
        bytes_out: u64,
    ) {
        self.row(route)
            .record(Method::from_token(method), status, duration);
        self.bytes_in.add(bytes_in);
        self.bytes_out.add(bytes_out);
    }

    /// Counts a rejection. When the rejection is also an answered request (429, 503, 413 ...),
    /// the caller records that with [`Metrics::record_request`] too, under route `None`.
    pub fn record_rejection(&self, reason: Rejection) {
        // Variants are declared in the order of `Rejection::ALL`, so the discriminant is the slot.
        if let Some(c) = self.rejections.get(reason as usize) {
            c.inc();
        }
    }

    /// Counts a failed handler run (the 500/504 itself goes through `record_request`).
    pub fn record_handler_failure(&self, kind: HandlerFailure) {
        // The error kinds are the first variants, in the order of `ERROR_KINDS`.
        match self.handler_errors.get(kind as usize) {
            Some(c) if kind != HandlerFailure::Panic => c.inc(),
            _ => self.panics.inc(),
        }
    }

    /// Counts one pause of the accept loop.
    pub fn record_accept_pause(&self, why: AcceptPause) {
        self.accept_pauses[why as usize].inc();
    }

    /// Counts one SIGHUP reload, successful or refused (compile errors, old app kept).
    pub fn record_reload(&self, ok: bool) {
        self.reloads[usize::from(!ok)].inc();
    }

    /// The exposition, Prometheus text format 0.0.4, to be sent with [`CONTENT_TYPE`]. `open_fds` is the server's own count of the descriptors it holds.
    /// Reads /proc/self/status and getrusage: two cheap syscalls' worth per scrape.
    pub fn render(&self, open_fds: u64) -> String {
        let mut out = String::with_capacity(8 * 1024);
        self.render_server(&mut out);
        render_process(&mut out, &ProcessStats::read(), open_fds);
        out
    }

    fn registered_rows(&self) -> impl Iterator<Item = &RouteRow> {
        self.routes.iter().map_while(OnceLock::get)
    }

    fn render_server(&self, out: &mut String) {
        family(
            out,
            "etamil_build_info",
            "gauge",
            "Always 1; the version label says which build is running.",
        );
        sample(
            out,
            "etamil_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        );

        family(
            out,
            "etamil_http_requests_total",
            "counter",
            "Requests answered, by route pattern (- before routing), method and status.",
        );
        let rows = std::iter::once(&self.unrouted)
            .chain(self.registered_rows())
            .chain(std::iter::once(&self.overflow));
        let mut status = String::new();
        for row in rows {
            for (mi, method) in Method::ALL.iter().enumerate() {
                for slot in 0..STATUS_SLOTS {
                    let n = row.load_request(mi * STATUS_SLOTS + slot);
                    if n == 0 {
                        continue;
                    }
                    status.clear();
                    write_status_label(&mut status, slot);
                    sample(
                        out,
                        "etamil_http_requests_total",
                        &[
                            ("route", &row.pattern),
                            ("method", method.as_str()),
                            ("status", &status),
                        ],
                        n,
                    );
                }
            }
        }

        let name = "etamil_http_request_duration_seconds";
        family(
            out,
            name,
            "histogram",
            "Time from a request's first byte to its response handed to the kernel, by route.",
        );
        let rows = std::iter::once(&self.unrouted).chain(self.registered_rows());
        let overflow = (self.overflow.observations() > 0).then_some(&self.overflow);
        for row in rows.chain(overflow) {
            // Read each bucket once and derive _count from the same reads, so +Inf == _count
            // even while requests are being recorded.
            let mut cumulative = 0u64;
            for (i, le) in DURATION_BUCKETS.iter().enumerate() {
                cumulative += row.load_bucket(i);
                sample(
                    out,
                    "etamil_http_request_duration_seconds_bucket",
                    &[("route", &row.pattern), ("le", le)],
                    cumulative,
                );
            }
            cumulative += row.load_bucket(BUCKET_SLOTS - 1);
            sample(
                out,
                "etamil_http_request_duration_seconds_bucket",
                &[("route", &row.pattern), ("le", "+Inf")],
                cumulative,
            );
            let sum = row.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
            sample(
                out,
                "etamil_http_request_duration_seconds_sum",
                &[("route", &row.pattern)],
                sum,
            );
            sample(
                out,
                "etamil_http_request_duration_seconds_count",
                &[("route", &row.pattern)],
                cumulative,
            );
        }

        for (name, help, g) in [
            (
                "etamil_http_requests_in_flight",
                "Requests whose head is parsed and whose response is not fully written.",
                &self.in_flight,
            ),
            (
                "etamil_connections_open",
                "Client connections accepted and not yet closed.",
                &self.connections,
            ),
            (
                "etamil_queue_depth",
                "Jobs waiting for a worker.",
                &self.queue_depth,
            ),
            (
                "etamil_workers_busy",
                "Workers running a handler now.",
                &self.busy_workers,
            ),
            (
                "etamil_workers",
                "Worker threads configured (--workers).",
                &self.workers,
            ),
            (
                "etamil_threads_colocated",
                "1 while the reactor and the workers share one CPU (--colocate, light load).",
                &self.colocated,
            ),
        ] {
            family(out, name, "gauge", help);
            sample(out, name, &[], g.get());
        }

        let name = "etamil_http_rejections_total";
        family(
            out,
            name,
            "counter",
            "Requests refused or connections closed by the server itself, by reason.",
        );
        for (r, c) in Rejection::ALL.iter().zip(&self.rejections) {
            sample(out, name, &[("reason", r.label())], c.get());
        }

        let name = "etamil_handler_errors_total";
        family(out, name, "counter", "Handler runs that failed, by kind: runtime error, deadline, memory or instruction limit.");
        for (k, c) in HandlerFailure::ERROR_KINDS.iter().zip(&self.handler_errors) {
            sample(out, name, &[("kind", k.label())], c.get());
        }
        let name = "etamil_handler_panics_total";
        family(
            out,
            name,
            "counter",
            "Panics caught in workers (server bugs); each answered 500.",
        );
        sample(out, name, &[], self.panics.get());

        let name = "etamil_accept_pauses_total";
        family(
            out,
            name,
            "counter",
            "Times the server stopped accepting connections, by reason.",
        );
        for (label, c) in ["max_connections", "emfile"]
            .iter()
            .zip(&self.accept_pauses)
        {
            sample(out, name, &[("reason", label)], c.get());
        }

        let name = "etamil_colocate_moves_total";
        family(
            out,
            name,
            "counter",
            "Times the reactor and the workers were moved onto one CPU or spread again (--colocate).",
        );
        sample(out, name, &[], self.colocate_moves.get());

        let name = "etamil_app_reloads_total";
        family(
            out,
            name,
            "counter",
            "SIGHUP reloads, by result (failure keeps the old app).",
        );
        for (label, c) in ["success", "failure"].iter().zip(&self.reloads) {
            sample(out, name, &[("result", label)], c.get());
        }

        for (name, help, v) in [
            (
                "etamil_http_received_bytes_total",
                "Request bytes read, heads and bodies.",
                self.bytes_in.get(),
            ),
            (
                "etamil_http_sent_bytes_total",
                "Response bytes written, heads and bodies.",
                self.bytes_out.get(),
            ),
            (
                "etamil_log_lines_dropped_total",
                "Log lines dropped because the log writer could not keep up.",
                crate::logging::dropped_lines(),
            ),
        ] {
            family(out, name, "counter", help);
            sample(out, name, &[], v);
        }
    }
}

/// The process figures read at scrape time. `None` where this OS does not provide one; that
/// metric is then left out rather than reported as 0.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessStats {
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub threads: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    /// Reads /proc/self/status (memory and threads in one small file), getrusage (CPU) and
    /// getrlimit (fd limit); the start time is computed once per process and cached.
    pub fn read() -> ProcessStats {
        let mut s = ProcessStats::default();
        if let Ok(text) = std::fs::read_to_string("/proc/self/status") {
            let (rss, vsz, threads) = parse_status(&text);
            s.resident_memory_bytes = rss;
            s.virtual_memory_bytes = vsz;
            s.threads = threads;
        }
        if let Ok(ru) = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            s.cpu_seconds = Some(secs(ru.user_time()) + secs(ru.system_time()));
        }
        if let Ok((soft, _hard)) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        {
            s.max_fds = Some(soft);
        }
        s.start_time_seconds = process_start_time();
        s
    }
}

/// VmRSS, VmSize (kB in the file, bytes here) and Threads from /proc/self/status.
fn parse_status(text: &str) -> (Option<u64>, Option<u64>, Option<u64>) {
    let mut rss = None;
    let mut vsz = None;
    let mut threads = None;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let number = || {
            rest.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        };
        match key {
            "VmRSS" => rss = number().map(|kb| kb * 1024),
            "VmSize" => vsz = number().map(|kb| kb * 1024),
            "Threads" => threads = number(),
            _ => {}
        }
    }
    (rss, vsz, threads)
}

/// Field 22 of /proc/self/stat, `starttime`, in clock ticks since boot. Fields are counted after
/// the last `)`, because the command name (field 2) may itself contain spaces and parentheses.
fn parse_stat_start_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // After ')' come fields 3, 4, ...: starttime (22) is the 20th of them.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The `btime` line of /proc/stat: boot time in seconds since the epoch.
fn parse_btime(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Linux reports /proc times in USER_HZ, which is 100 on every architecture this server builds
/// for (x86_64, aarch64); reading it with sysconf would need the crate's one `unsafe` elsewhere.
const USER_HZ: f64 = 100.0;

/// Process start, seconds since the epoch: boot time plus starttime, once per process. Falls back
/// to the first scrape's clock when /proc is unavailable, which is close for a long-running
/// server and never in the future.
fn process_start_time() -> Option<f64> {
    static START: OnceLock<Option<f64>> = OnceLock::new();
    *START.get_or_init(|| {
        let from_proc = (|| {
            let ticks = parse_stat_start_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
            let boot = parse_btime(&std::fs::read_to_string("/proc/stat").ok()?)?;
            Some(boot as f64 + ticks as f64 / USER_HZ)
        })();
        from_proc.or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs() as f64)
        })
    })
}

fn render_process(out: &mut String, p: &ProcessStats, open_fds: u64) {
    optional(
        out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        p.resident_memory_bytes,
    );
    optional(
        out,
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        p.virtual_memory_bytes,
    );
    optional(
        out,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        p.cpu_seconds,
    );
    optional(
        out,
        "process_open_fds",
        "gauge",
        "Number of open file descriptors, as counted by the server.",
        Some(open_fds),
    );
    optional(
        out,
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors (soft RLIMIT_NOFILE).",
        p.max_fds,
    );
    optional(
        out,
        "process_threads",
        "gauge",
        "Number of OS threads in the process.",
        p.threads,
    );
    optional(
        out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        p.start_time_seconds,
    );
}

/// A label-less family, left out entirely when the value is unknown.
fn optional(out: &mut String, name: &str, kind: &str, help: &str, v: Option<impl fmt::Display>) {
    if let Some(v) = v {
        family(out, name, kind, help);
        sample(out, name, &[], v);
    }
}

/// `# HELP` and `# TYPE` for a family. Help texts are ours and contain no `\` or newline, which
/// are the only characters HELP would need escaped.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample line: `name{label="value",...} value`.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            push_label_escaped(out, v);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Escapes a label value as the text format requires: `\` → `\\`, `"` → `\"`, newline → `\n`.
/// Route patterns are the only label values that come from outside this module.
fn push_label_escaped(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn patterns(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    /// Parses the exposition into (name, labels, value) samples, checking the shape as it goes:
    /// every sample belongs to a family announced by `# HELP` then `# TYPE` before it, each
    /// family is announced once, and every value is a number.
    /// One parsed sample: name, labels in order, value.
    type Sample = (String, Vec<(String, String)>, f64);

    fn parse(text: &str) -> Vec<Sample> {
        let mut families: HashMap<String, String> = HashMap::new();
        let mut helped: Option<String> = None;
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().expect("help name");
                helped = Some(name.to_owned());
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("type line");
                assert_eq!(
                    helped.as_deref(),
                    Some(name),
                    "HELP precedes TYPE for {name}"
                );
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{kind}");
                assert!(
                    families.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "{name} twice"
                );
                continue;
            }
            assert!(
                !line.starts_with('#') && !line.is_empty(),
                "stray line {line:?}"
            );
            let (series, value) = line.rsplit_once(' ').expect("sample has a value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), Vec::new()),
                Some((n, rest)) => (
                    n.to_owned(),
                    parse_labels(rest.strip_suffix('}').expect("}")),
                ),
            };
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|b| families.get(*b).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(&name);
            assert!(families.contains_key(base), "sample {name} before its TYPE");
            samples.push((name, labels, value));
        }
        samples
    }

    fn parse_labels(s: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut chars = s.chars().peekable();
        while chars.peek().is_some() {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'));
            let mut v = String::new();
            loop {
                match chars.next().expect("unterminated label value") {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('\\') => v.push('\\'),
                        Some('"') => v.push('"'),
                        Some('n') => v.push('\n'),
                        other => panic!("bad label escape {other:?}"),
                    },
                    '\n' => panic!("raw newline in label value"),
                    c => v.push(c),
                }
            }
            out.push((key, v));
            if chars.peek() == Some(&',') {
                chars.next();
            }
        }
        out
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && l.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
    }

    #[test]
    fn status_slots_cover_every_code_and_bound_cardinality() {
        let mut labels = std::collections::HashSet::new();
        for code in 0..=u16::MAX {
            let slot = status_slot(code);
            assert!(slot < STATUS_SLOTS);
            let mut l = String::new();
            write_status_label(&mut l, slot);
            labels.insert(l);
        }
        assert_eq!(labels.len(), STATUS_SLOTS);
        let label = |code| {
            let mut l = String::new();
            write_status_label(&mut l, status_slot(code));
            l
        };
        assert_eq!(label(200), "200");
        assert_eq!(label(503), "503");
        assert_eq!(label(299), "2xx");
        assert_eq!(label(0), "invalid");
        assert_eq!(label(700), "invalid");
    }

    #[test]
    fn methods_normalise_to_the_known_set() {
        for (token, want) in [
            ("GET", "GET"),
            ("PATCH", "PATCH"),
            ("get", "OTHER"),
            ("BREW", "OTHER"),
            ("", "OTHER"),
        ] {
            assert_eq!(Method::from_token(token).as_str(), want);
        }
    }

    #[test]
    fn render_has_every_family_and_the_recorded_values() {
        let m = Metrics::new(&patterns(&["/", "/gst/:amount"]));
        let ids = m.route_ids(&patterns(&["/", "/gst/:amount"]));
        assert_eq!(ids, [0, 1]);
        m.record_request(
            Some(ids[1]),
            "GET",
            200,
            Duration::from_micros(300),
            80,
            120,
        );
        m.record_request(Some(ids[1]), "GET", 200, Duration::from_millis(30), 80, 120);
        m.record_request(None, "GET", 404, Duration::from_micros(20), 50, 90);
        m.record_request(None, "BREW", 429, Duration::from_micros(20), 50, 90);
        m.record_rejection(Rejection::RateLimited);
        m.record_handler_failure(HandlerFailure::Deadline);
        m.record_handler_failure(HandlerFailure::Panic);
        m.record_accept_pause(AcceptPause::Emfile);
        m.record_reload(false);
        m.connections.set(7);
        m.workers.set(2);
        m.busy_workers.inc();
        m.colocated.set(1);
        m.colocate_moves.inc();
        let text = m.render(42);
        let s = parse(&text);

        let req = |route, method, status| {
            value(
                &s,
                "etamil_http_requests_total",
                &[("route", route), ("method", method), ("status", status)],
            )
        };
        assert_eq!(req("/gst/:amount", "GET", "200"), Some(2.0));
        assert_eq!(req("-", "GET", "404"), Some(1.0));
        assert_eq!(req("-", "OTHER", "429"), Some(1.0));
        assert_eq!(req("/", "GET", "200"), None, "zero series are not written");

        let bucket = |le| {
            value(
                &s,
                "etamil_http_request_duration_seconds_bucket",
                &[("route", "/gst/:amount"), ("le", le)],
            )
        };
        assert_eq!(bucket("0.00025"), Some(0.0));
        assert_eq!(bucket("0.0005"), Some(1.0));
        assert_eq!(bucket("0.05"), Some(2.0));
        assert_eq!(bucket("+Inf"), Some(2.0));
        let sum = value(
            &s,
            "etamil_http_request_duration_seconds_sum",
            &[("route", "/gst/:amount")],
        )
        .expect("sum");
        assert!((sum - 0.0303).abs() < 1e-9, "{sum}");
        // Known routes are exported with zero counts, so rate() has a series from the start.
        assert_eq!(
            value(
                &s,
                "etamil_http_request_duration_seconds_count",
                &[("route", "/")]
            ),
            Some(0.0)
        );

        assert_eq!(
            value(
                &s,
                "etamil_http_rejections_total",
                &[("reason", "rate_limited")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &s,
                "etamil_http_rejections_total",
                &[("reason", "queue_full")]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(&s, "etamil_handler_errors_total", &[("kind", "deadline")]),
            Some(1.0)
        );
        assert_eq!(
            value(&s, "etamil_handler_errors_total", &[("kind", "runtime")]),
            Some(0.0)
        );
        assert_eq!(value(&s, "etamil_handler_panics_total", &[]), Some(1.0));
        assert_eq!(
            value(&s, "etamil_accept_pauses_total", &[("reason", "emfile")]),
            Some(1.0)
        );
        assert_eq!(
            value(&s, "etamil_app_reloads_total", &[("result", "failure")]),
            Some(1.0)
        );
        assert_eq!(value(&s, "etamil_connections_open", &[]), Some(7.0));
        assert_eq!(value(&s, "etamil_workers_busy", &[]), Some(1.0));
        assert_eq!(value(&s, "etamil_workers", &[]), Some(2.0));
        assert_eq!(value(&s, "etamil_threads_colocated", &[]), Some(1.0));
        assert_eq!(value(&s, "etamil_colocate_moves_total", &[]), Some(1.0));
        assert_eq!(value(&s, "etamil_http_requests_in_flight", &[]), Some(0.0));
        assert_eq!(value(&s, "etamil_queue_depth", &[]), Some(0.0));
        assert_eq!(
            value(&s, "etamil_http_received_bytes_total", &[]),
            Some(260.0)
        );
        assert_eq!(value(&s, "etamil_http_sent_bytes_total", &[]), Some(420.0));
        assert!(value(&s, "etamil_log_lines_dropped_total", &[]).is_some());
        assert_eq!(
            value(
                &s,
                "etamil_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            ),
            Some(1.0)
        );
        assert_eq!(value(&s, "process_open_fds", &[]), Some(42.0));
        if cfg!(target_os = "linux") {
            for name in [
                "process_resident_memory_bytes",
                "process_cpu_seconds_total",
                "process_max_fds",
                "process_threads",
                "process_start_time_seconds",
            ] {
                let v = value(&s, name, &[]).unwrap_or_else(|| panic!("{name} missing"));
                assert!(v > 0.0, "{name} = {v}");
            }
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_count() {
        let m = Metrics::new(&patterns(&["/r"]));
        // One observation on each bound (inclusive) and one past the last bound.
        for ns in BUCKET_BOUNDS_NS.iter().copied().chain([20_000_000_000]) {
            m.record_request(Some(0), "GET", 200, Duration::from_nanos(ns), 0, 0);
        }
        let s = parse(&m.render(0));
        let buckets: Vec<(String, f64)> = s
            .iter()
            .filter(|(n, l, _)| {
                n == "etamil_http_request_duration_seconds_bucket" && l[0].1 == "/r"
            })
            .map(|(_, l, v)| (l[1].1.clone(), *v))
            .collect();
        assert_eq!(buckets.len(), DURATION_BUCKETS.len() + 1);
        for (i, (le, v)) in buckets.iter().enumerate() {
            assert_eq!(
                *v,
                (i + 1) as f64,
                "le={le}: a value on a bound is in that bucket"
            );
        }
        assert_eq!(buckets.last().map(|b| b.0.as_str()), Some("+Inf"));
        let count = value(
            &s,
            "etamil_http_request_duration_seconds_count",
            &[("route", "/r")],
        );
        assert_eq!(count, Some(17.0));
        // le values ascend.
        let les: Vec<f64> = buckets[..16]
            .iter()
            .map(|(le, _)| le.parse().expect("le"))
            .collect();
        assert!(les.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn label_values_are_escaped() {
        let odd = "/a\\b/\"q\"/\nx/வணக்கம்";
        let m = Metrics::new(&patterns(&[odd]));
        m.record_request(Some(0), "GET", 200, Duration::from_micros(1), 0, 0);
        let text = m.render(0);
        assert!(text.contains(r#"route="/a\\b/\"q\"/\nx/வணக்கம்""#), "{text}");
        let s = parse(&text);
        assert_eq!(
            value(
                &s,
                "etamil_http_requests_total",
                &[("route", odd), ("method", "GET"), ("status", "200")]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn routes_keep_their_slot_across_reloads_and_overflow_is_bounded() {
        let m = Metrics::new(&patterns(&["/a", "/b", "/a"]));
        assert_eq!(m.route_ids(&patterns(&["/a", "/b", "/a"])), [0, 1, 0]);
        m.record_request(Some(1), "GET", 200, Duration::ZERO, 0, 0);
        // A reload drops /a and adds /c: /b keeps slot 1 and its count.
        let ids = m.route_ids(&patterns(&["/c", "/b"]));
        assert_eq!(ids, [2, 1]);
        m.record_request(Some(ids[1]), "GET", 200, Duration::ZERO, 0, 0);
        let s = parse(&m.render(0));
        assert_eq!(
            value(
                &s,
                "etamil_http_requests_total",
                &[("route", "/b"), ("method", "GET"), ("status", "200")]
            ),
            Some(2.0)
        );

        let many: Vec<String> = (0..MAX_ROUTE_SLOTS + 5).map(|i| format!("/r{i}")).collect();
        let ids = m.route_ids(&many);
        assert!(ids.iter().all(|&i| i <= MAX_ROUTE_SLOTS));
        let over = *ids.last().expect("ids");
        assert_eq!(over, MAX_ROUTE_SLOTS);
        m.record_request(Some(over), "GET", 200, Duration::ZERO, 0, 0);
        m.record_request(Some(usize::MAX), "GET", 200, Duration::ZERO, 0, 0); // never handed out: no panic
        let s = parse(&m.render(0));
        assert_eq!(
            value(
                &s,
                "etamil_http_requests_total",
                &[
                    ("route", OVERFLOW_ROUTE),
                    ("method", "GET"),
                    ("status", "200")
                ]
            ),
            Some(2.0)
        );
    }

    #[test]
    fn concurrent_increments_sum_exactly() {
        let m = Arc::new(Metrics::new(&patterns(&["/x"])));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        m.in_flight.inc();
                        let route = if i % 2 == 0 { Some(0) } else { None };
                        m.record_request(
                            route,
                            "POST",
                            201,
                            Duration::from_micros(t * 10 + 1),
                            3,
                            5,
                        );
                        m.record_rejection(Rejection::QueueFull);
                        m.in_flight.dec();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let s = parse(&m.render(0));
        let req = |route| {
            value(
                &s,
                "etamil_http_requests_total",
                &[("route", route), ("method", "POST"), ("status", "201")],
            )
        };
        assert_eq!(req("/x"), Some(20_000.0));
        assert_eq!(req("-"), Some(20_000.0));
        assert_eq!(
            value(
                &s,
                "etamil_http_request_duration_seconds_count",
                &[("route", "/x")]
            ),
            Some(20_000.0)
        );
        assert_eq!(
            value(
                &s,
                "etamil_http_rejections_total",
                &[("reason", "queue_full")]
            ),
            Some(40_000.0)
        );
        assert_eq!(
            value(&s, "etamil_http_received_bytes_total", &[]),
            Some(120_000.0)
        );
        assert_eq!(value(&s, "etamil_http_requests_in_flight", &[]), Some(0.0));
    }

    #[test]
    fn proc_parsers() {
        let status = "Name:\tetamil-mio\nVmSize:\t  123456 kB\nVmRSS:\t    2048 kB\nThreads:\t7\n";
        assert_eq!(
            parse_status(status),
            (Some(2048 * 1024), Some(123_456 * 1024), Some(7))
        );
        // A command name with spaces and parentheses must not shift the fields.
        let stat =
            "1234 (we) ird (name) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99887 20 21";
        assert_eq!(parse_stat_start_ticks(stat), Some(99_887));
        assert_eq!(parse_stat_start_ticks("garbage"), None);
        assert_eq!(
            parse_btime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"),
            Some(1_700_000_000)
        );
    }

    /// Validates the exposition with promtool when it is installed (Debian's `prometheus`
    /// package, which CI installs); says SKIPPED where it is not, rather than passing silently.
    #[test]
    fn promtool_accepts_the_exposition() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let m = Metrics::new(&patterns(&["/", "/gst/:amount", "/echo"]));
        m.record_request(Some(1), "GET", 200, Duration::from_micros(150), 80, 120);
        m.record_request(None, "GET", 404, Duration::from_micros(20), 50, 90);
        m.record_request(Some(2), "POST", 299, Duration::from_millis(3), 500, 520);
        m.record_rejection(Rejection::QueueFull);
        let text = m.render(12);
        let child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("SKIPPED promtool_accepts_the_exposition: promtool is not on PATH (apt-get install prometheus)");
                return;
            }
            Err(e) => panic!("cannot run promtool: {e}"),
        };
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write to promtool");
        let out = child.wait_with_output().expect("promtool ran");
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool check metrics: {}\n{}{}\n--- exposition ---\n{text}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
