//! `Limits`: every cap and budget the serving core enforces, with its default.
//!
//! Owns the `DEFAULT_*` constants that `config.rs` shows in `--help` and falls back to. It does
//! not parse anything (config.rs) and enforces nothing itself (http.rs, body.rs, conn.rs,
//! reactor.rs and pool.rs read the fields).

use std::time::Duration;

/// Open connections before the listener is paused (SERVER.md `--max-connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Requests on one connection before it is closed, so load balancers rebalance; 0 = unlimited.
pub const DEFAULT_KEEPALIVE_REQUESTS: u64 = 10_000;
/// Requests waiting for a worker before new ones get 503.
pub const DEFAULT_QUEUE_DEPTH: usize = 1024;
/// Wall time of one handler run (prelude included) → 504; also the longest a job may wait queued.
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(5);
/// VM instructions per run; 0 = off, so the deadline governs.
pub const DEFAULT_HANDLER_INSTRUCTIONS: u64 = 0;
/// Live bytes of values one run may hold (64 MiB).
pub const DEFAULT_HANDLER_MEMORY_BYTES: usize = 64 << 20;
/// The whole request head, request line included (16 KiB) → 431.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 << 10;
/// Header fields in one head → 431.
pub const DEFAULT_MAX_HEADER_COUNT: usize = 100;
/// The request target (8 KiB) → 414.
pub const DEFAULT_MAX_URI_BYTES: usize = 8 << 10;
/// A request body after de-chunking (1 MiB) → 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// From a head's first byte (from accept, for a connection's first request) to its end, total;
/// long enough for a slow mobile client, short enough that a slowloris gets little (10 s).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// From the end of the head (or the `100 Continue`) to the end of the body, total: a 1 MiB body
/// at 35 KB/s (30 s).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// From the last byte of a response to the first byte of the next request (60 s, above the
/// usual 30–55 s of load balancers' keep-alive pools, so they close first).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// No write progress for this long closes the connection: a reader that stopped reading (30 s).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Request and response bytes held by all connections and queued jobs together (256 MiB)
/// before new requests get 503.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 256 << 20;
/// The longest graceful drain after SIGTERM/SIGINT, counted from the end of the drain delay (30 s).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// On SIGTERM, how long /ready answers 503 while still accepting (0 s: no load balancer to tell).
pub const DEFAULT_DRAIN_DELAY: Duration = Duration::ZERO;
/// Lingering close: after an error answered while the client may still be sending, input is
/// discarded for up to this long… (RFC 9112 §9.6; nginx's lingering_time is 30 s, its timeout 5 s)
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// …or up to this many bytes, then the connection is closed.
pub const LINGER_BYTES: usize = 64 << 10;
/// Draining: a keep-alive connection whose last answer (framed before the drain) did not say
/// `Connection: close` stays this long for a request its client may already be sending, so
/// back-to-back clients do not lose one to the close race; then it closes.
pub const DRAIN_IDLE_GRACE: Duration = Duration::from_millis(500);
/// File descriptors kept free beyond max-connections: listener, epoll, eventfd, logs, std streams.
pub const SPARE_FDS: u64 = 64;

/// The caps in force for one server; passed down by reference, never global.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    /// 0 = unlimited.
    pub keepalive_requests: u64,
    pub queue_depth: usize,
    pub handler_timeout: Duration,
    /// 0 = unlimited.
    pub handler_instructions: u64,
    pub handler_memory_bytes: usize,
    pub max_header_bytes: usize,
    pub max_header_count: usize,
    pub max_uri_bytes: usize,
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
    pub max_buffered_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            keepalive_requests: DEFAULT_KEEPALIVE_REQUESTS,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            handler_instructions: DEFAULT_HANDLER_INSTRUCTIONS,
            handler_memory_bytes: DEFAULT_HANDLER_MEMORY_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_header_count: DEFAULT_MAX_HEADER_COUNT,
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
        }
    }
}

impl Limits {
    /// Logs the limits in force at start (info, one structured line), so an operator reading
    /// the log knows what a 413 or a 504 was measured against. Add new limits here too.
    pub fn log_in_force(&self, workers: usize) {
        log::info!(
            workers = workers,
            max_connections = self.max_connections,
            keepalive_requests = self.keepalive_requests,
            queue_depth = self.queue_depth,
            handler_timeout_ms = self.handler_timeout.as_millis() as u64,
            handler_instructions = self.handler_instructions,
            handler_memory_bytes = self.handler_memory_bytes,
            max_header_bytes = self.max_header_bytes,
            max_header_count = self.max_header_count,
            max_uri_bytes = self.max_uri_bytes,
            max_body_bytes = self.max_body_bytes;
            "limits"
        );
    }

    /// The VM budget of one request (SERVER.md `--handler-*`).
    pub fn budget(&self) -> crate::lang::Budget {
        crate::lang::Budget {
            timeout: Some(self.handler_timeout),
            max_instructions: self.handler_instructions,
            max_memory_bytes: self.handler_memory_bytes,
        }
    }
}
