//! The load engine: one thread, one `mio::Poll`, a `Vec<Conn>` indexed by `Token`. `run` splits a
//! `RunConfig` over threads and merges their `Stats`.
//!
//! Three ways of deciding when to send:
//! - closed loop: every connection keeps `depth` requests in flight, sending the next as soon as
//!   an answer arrives (what wrk does). Latency runs from the moment a request is written.
//! - open loop (`rate`): request k is *intended* at start + k/rate whatever happens; due requests
//!   wait in a backlog for a connection with room. Latency runs from the intended time, so a
//!   stalled server is charged for every request it delayed (no coordinated omission, as wrk2);
//!   the time from the actual write is kept too (`service`).
//! - hold (C10K): every connection sends one request, all are then held idle while the server's
//!   memory is sampled, then every connection sends one more.
//!
//! Edge-triggered discipline: read until `WouldBlock` (or a short read, unless the peer closed),
//! write until done or `WouldBlock`, ignore events for connections we no longer hold.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::hist::Histogram;
use crate::request::{RequestSpec, Target};
use crate::response::{ResponseParser, MAX_HEAD_BYTES};
use crate::sys;

/// Read buffer per connection; it grows (up to the head limit) only for a head that does not fit.
const READ_BUF_BYTES: usize = 8 * 1024;
/// How often in-flight requests and connects are checked against the timeout.
const TIMEOUT_SCAN: Duration = Duration::from_millis(50);
/// Delay before reconnecting after a failed connect, so a dead server is not hammered.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(20);
/// The open loop's timer; connection tokens are indexes below it.
const TIMER: Token = Token(usize::MAX - 1);
/// Distinct error messages kept for the report.
const MAX_ERROR_SAMPLES: usize = 5;

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub target: Target,
    pub request: RequestSpec,
    pub connections: usize,
    pub threads: usize,
    /// Wall-time bound of the run (with `requests`, a cap).
    pub duration: Duration,
    /// Total requests to complete, if bounded by count.
    pub requests: Option<u64>,
    /// Requests in flight per connection (pipelining); 1 = none.
    pub depth: usize,
    /// Open loop at this many requests per second in total; None = closed loop.
    pub rate: Option<f64>,
    /// A request unanswered (or a connect unfinished) after this long is a timeout error.
    pub timeout: Duration,
    /// Connects in progress at once per thread, so 10,000 connections do not overflow the
    /// server's accept backlog and wait for SYN retransmits.
    pub max_connecting: usize,
    /// C10K: hold the connections idle this long between two rounds of one request each.
    pub hold: Option<Duration>,
    /// Sampled for resident memory in hold mode.
    pub server_pid: Option<u32>,
}

/// Errors by kind, counted once per failed request or connect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
    pub parse: u64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.parse
    }
    fn add(&mut self, o: &Errors) {
        self.connect += o.connect;
        self.read += o.read;
        self.write += o.write;
        self.timeout += o.timeout;
        self.parse += o.parse;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    Connect,
    Read,
    Write,
    Timeout,
    Parse,
}

/// What the C10K hold measured.
#[derive(Debug, Clone, Default)]
pub struct HoldReport {
    pub connections: usize,
    /// Connections open when the hold began (each had its first request answered).
    pub held: usize,
    pub answered_first: u64,
    pub answered_second: u64,
    /// Connections the server closed while they were idle.
    pub closed_while_idle: u64,
    pub rss_before_kib: Option<u64>,
    pub rss_idle_kib: Option<u64>,
}

impl HoldReport {
    /// Server memory per held connection: (RSS while holding − RSS before) / connections held.
    pub fn bytes_per_connection(&self) -> Option<f64> {
        let (a, b) = (self.rss_before_kib?, self.rss_idle_kib?);
        (self.held > 0).then(|| (b as f64 - a as f64) * 1024.0 / self.held as f64)
    }
}

/// What a run measured; threads' stats merge into one.
#[derive(Clone)]
pub struct Stats {
    /// From the intended send time (= the write time in a closed loop).
    pub latency: Histogram,
    /// From the write of the request's first byte.
    pub service: Histogram,
    pub responses: u64,
    /// Responses by status code (index = code, 0..600).
    pub status: Vec<u64>,
    pub errors: Errors,
    pub bytes_read: u64,
    pub connects: u64,
    /// Sum of each thread's peak of open connections.
    pub max_open: usize,
    /// Requests sent or due but unanswered when the run ended.
    pub unfinished: u64,
    pub elapsed: Duration,
    pub error_samples: Vec<String>,
    pub hold: Option<HoldReport>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            latency: Histogram::new(),
            service: Histogram::new(),
            responses: 0,
            status: vec![0; 600],
            errors: Errors::default(),
            bytes_read: 0,
            connects: 0,
            max_open: 0,
            unfinished: 0,
            elapsed: Duration::ZERO,
            error_samples: Vec::new(),
            hold: None,
        }
    }
}

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        self.latency.merge(&o.latency);
        self.service.merge(&o.service);
        self.responses += o.responses;
        for (a, b) in self.status.iter_mut().zip(&o.status) {
            *a += b;
        }
        self.errors.add(&o.errors);
        self.bytes_read += o.bytes_read;
        self.connects += o.connects;
        self.max_open += o.max_open;
        self.unfinished += o.unfinished;
        self.elapsed = self.elapsed.max(o.elapsed);
        for s in &o.error_samples {
            if self.error_samples.len() < MAX_ERROR_SAMPLES && !self.error_samples.contains(s) {
                self.error_samples.push(s.clone());
            }
        }
        if o.hold.is_some() {
            self.hold = o.hold.clone();
        }
    }

    pub fn non_2xx(&self) -> u64 {
        self.status
            .iter()
            .enumerate()
            .filter(|(code, _)| !(200..300).contains(code))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn rps(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.responses as f64 / s
        } else {
            0.0
        }
    }
}

/// Live counters the main thread reads for the progress line.
#[derive(Default)]
pub struct Progress {
    pub responses: AtomicU64,
    pub errors: AtomicU64,
}

/// Runs `cfg` on its threads and returns the merged stats. `progress` gets one slot per thread.
pub fn run(cfg: &RunConfig, progress: &Arc<Vec<Progress>>) -> Stats {
    let threads = if cfg.hold.is_some() {
        1
    } else {
        cfg.threads.clamp(1, cfg.connections.max(1))
    };
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let share = |total: usize| total / threads + usize::from(t < total % threads);
            let mut tc = cfg.clone();
            tc.connections = share(cfg.connections);
            tc.requests = cfg
                .requests
                .map(|n| n / threads as u64 + u64::from((t as u64) < n % threads as u64));
            tc.rate = cfg.rate.map(|r| r / threads as f64);
            let progress = Arc::clone(progress);
            thread::Builder::new()
                .name(format!("loadgen-{t}"))
                .spawn(move || {
                    let slot = &progress[t.min(progress.len() - 1)];
                    match Worker::new(&tc, start, slot) {
                        Ok(mut w) => w.run(),
                        Err(e) => {
                            let mut s = Stats::default();
                            s.errors.connect += 1;
                            s.error_samples.push(format!("poll: {e}"));
                            s
                        }
                    }
                })
                .expect("spawning a generator thread")
        })
        .collect();
    let mut total = Stats::default();
    for h in handles {
        match h.join() {
            Ok(s) => total.merge(&s),
            Err(_) => total
                .error_samples
                .push("a generator thread panicked".into()),
        }
    }
    total
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    /// Waiting for a connect slot (or for its retry time).
    Waiting,
    Connecting,
    Open,
    /// Will not be used again in this run.
    Dead,
}

/// One connection to the target.
struct Conn {
    stream: Option<TcpStream>,
    state: ConnState,
    rbuf: Vec<u8>,
    rlen: usize,
    parser: ResponseParser,
    /// (intended, sent) of requests written or queued, oldest first, in nanoseconds since start.
    inflight: VecDeque<(u64, u64)>,
    /// Bytes of queued requests not yet written (a suffix of the worker's batch).
    unwritten: usize,
    /// When the current connect began.
    connect_at: u64,
    /// Earliest time to connect again.
    retry_at: u64,
    /// Queued in the worker's free list (open loop).
    listed_free: bool,
    /// Requests this connection may still send (hold mode).
    allowance: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Sending: closed or open loop, or the first round of a hold.
    Run,
    /// Hold: every connection idle; sample memory.
    Idle { since: u64 },
    /// Hold: the second round.
    Second,
}

struct Worker<'a> {
    cfg: &'a RunConfig,
    poll: Poll,
    conns: Vec<Conn>,
    /// `depth` copies of the request, so any unwritten suffix is one slice.
    batch: Vec<u8>,
    req_len: usize,
    head_request: bool,
    start: Instant,
    stats: Stats,
    progress: &'a Progress,
    /// Requests written or queued on a connection (the count budget applies to these).
    sent: u64,
    inflight_total: u64,
    /// Open loop: requests generated so far; the next is intended at generated · interval.
    generated: u64,
    interval_ns: f64,
    /// Open loop: intended times of due requests waiting for a connection.
    backlog: VecDeque<u64>,
    free: VecDeque<usize>,
    /// Connections waiting for a connect slot, in order.
    to_connect: VecDeque<usize>,
    connecting: usize,
    open: usize,
    sending: bool,
    phase: Phase,
    hold: HoldReport,
    /// Open loop: wakes the poll when the next request is due, and when it is armed for.
    timer: Option<sys::Timer>,
    timer_at: u64,
}

fn ns(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

impl<'a> Worker<'a> {
    fn new(cfg: &'a RunConfig, start: Instant, progress: &'a Progress) -> io::Result<Self> {
        let req = cfg.request.encode(&cfg.target);
        let depth = cfg.depth.max(1);
        let conns = (0..cfg.connections)
            .map(|_| Conn {
                stream: None,
                state: ConnState::Waiting,
                rbuf: Vec::new(),
                rlen: 0,
                parser: ResponseParser::new(),
                inflight: VecDeque::with_capacity(depth),
                unwritten: 0,
                connect_at: 0,
                retry_at: 0,
                listed_free: false,
                allowance: u32::from(cfg.hold.is_some()),
            })
            .collect();
        let interval_ns = cfg.rate.map_or(0.0, |r| 1e9 / r.max(1e-9));
        let poll = Poll::new()?;
        let timer = match cfg.rate {
            Some(_) => {
                let t = sys::Timer::new()?;
                poll.registry().register(
                    &mut SourceFd(&t.as_raw_fd()),
                    TIMER,
                    Interest::READABLE,
                )?;
                Some(t)
            }
            None => None,
        };
        Ok(Worker {
            cfg,
            poll,
            timer,
            timer_at: u64::MAX,
            conns,
            batch: req.repeat(depth),
            req_len: req.len(),
            head_request: cfg.request.is_head(),
            start,
            stats: Stats::default(),
            progress,
            sent: 0,
            inflight_total: 0,
            generated: 0,
            interval_ns,
            backlog: VecDeque::new(),
            free: VecDeque::new(),
            to_connect: (0..cfg.connections).collect(),
            connecting: 0,
            open: 0,
            sending: true,
            phase: Phase::Run,
            hold: HoldReport {
                connections: cfg.connections,
                ..HoldReport::default()
            },
        })
    }

    fn now(&self) -> u64 {
        ns(self.start.elapsed())
    }

    fn budget_left(&self) -> bool {
        self.cfg.requests.is_none_or(|n| self.sent < n)
    }

    fn run(&mut self) -> Stats {
        if self.cfg.hold.is_some() {
            self.hold.rss_before_kib = self.cfg.server_pid.and_then(sys::rss_kib);
        }
        let end = ns(self.cfg.duration);
        let mut events = Events::with_capacity(1024);
        let mut next_scan = ns(TIMEOUT_SCAN);
        loop {
            let now = self.now();
            if now >= end || self.finished() {
                break;
            }
            if self.cfg.rate.is_some() && self.sending {
                self.generate(now);
                self.dispatch(now);
            }
            self.start_connects(now);
            if now >= next_scan {
                self.scan_timeouts(now);
                next_scan = now + ns(TIMEOUT_SCAN);
            }
            if self.cfg.hold.is_some() {
                self.advance_hold(now);
            }
            let wait = self.poll_timeout(now, end.min(next_scan));
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.sample(format!("poll: {e}"));
                break;
            }
            let now = self.now();
            for ev in events.iter() {
                if ev.token() == TIMER {
                    if let Some(t) = &self.timer {
                        t.clear();
                    }
                    self.timer_at = u64::MAX;
                    continue;
                }
                let i = ev.token().0;
                if i >= self.conns.len() {
                    continue;
                }
                match self.conns[i].state {
                    ConnState::Connecting => self.on_connecting(i, now),
                    ConnState::Open => {
                        let peer_closed = ev.is_read_closed() || ev.is_error();
                        if ev.is_readable() || peer_closed {
                            self.on_readable(i, peer_closed);
                        }
                        if ev.is_writable() && self.conns[i].state == ConnState::Open {
                            self.flush(i);
                        }
                    }
                    // A stale event for a connection already closed: ignore it.
                    ConnState::Waiting | ConnState::Dead => {}
                }
            }
            self.progress
                .responses
                .store(self.stats.responses, Ordering::Relaxed);
            self.progress
                .errors
                .store(self.stats.errors.total(), Ordering::Relaxed);
        }
        self.stats.elapsed = self.start.elapsed();
        self.stats.unfinished = self.inflight_total + self.backlog.len() as u64;
        for i in 0..self.conns.len() {
            self.drop_stream(i);
        }
        if self.cfg.hold.is_some() {
            if self.phase == Phase::Second {
                self.hold.answered_second = self.stats.responses - self.hold.answered_first;
            }
            self.stats.hold = Some(self.hold.clone());
        }
        self.progress
            .responses
            .store(self.stats.responses, Ordering::Relaxed);
        std::mem::take(&mut self.stats)
    }

    /// A count-bounded run (or a hold) is over when everything sent is answered or failed.
    fn finished(&self) -> bool {
        if self.cfg.hold.is_some() {
            return self.phase == Phase::Second
                && self.inflight_total == 0
                && self
                    .conns
                    .iter()
                    .all(|c| c.allowance == 0 || c.state != ConnState::Open);
        }
        if self.cfg.requests.is_none() {
            return false;
        }
        let all_generated =
            self.cfg.rate.is_none() || self.cfg.requests.is_some_and(|n| self.generated >= n);
        !self.budget_left() && self.inflight_total == 0 && self.backlog.is_empty() && all_generated
    }

    fn poll_timeout(&mut self, now: u64, limit: u64) -> Duration {
        let mut until = limit;
        if self.cfg.rate.is_some() && self.sending && self.backlog.is_empty() {
            let due = self.next_intended();
            if due != self.timer_at {
                if let Some(t) = &self.timer {
                    if t.arm(Duration::from_nanos(due.saturating_sub(now))).is_ok() {
                        self.timer_at = due;
                    }
                }
            }
            if self.timer_at != due {
                until = until.min(due); // no timer: fall back to the poll's own timeout
            }
        }
        if self.connecting < self.cfg.max_connecting.max(1) {
            if let Some(&i) = self.to_connect.front() {
                until = until.min(self.conns[i].retry_at);
            }
        }
        Duration::from_nanos(until.saturating_sub(now))
    }

    fn next_intended(&self) -> u64 {
        (self.generated as f64 * self.interval_ns) as u64
    }

    /// Open loop: moves every request now due into the backlog.
    fn generate(&mut self, now: u64) {
        while self.budget_left_generated() && self.next_intended() <= now {
            self.backlog.push_back(self.next_intended());
            self.generated += 1;
        }
    }

    fn budget_left_generated(&self) -> bool {
        self.cfg.requests.is_none_or(|n| self.generated < n)
    }

    /// Open loop: hands backlog requests to connections with room.
    fn dispatch(&mut self, now: u64) {
        while !self.backlog.is_empty() {
            let Some(i) = self.free.pop_front() else {
                return;
            };
            self.conns[i].listed_free = false;
            if !self.has_room(i) {
                continue;
            }
            while self.has_room(i) {
                let Some(intended) = self.backlog.pop_front() else {
                    break;
                };
                self.queue(i, intended, now);
            }
            self.flush(i);
            self.list_free(i);
        }
    }

    fn has_room(&self, i: usize) -> bool {
        let c = &self.conns[i];
        c.state == ConnState::Open && c.inflight.len() < self.cfg.depth.max(1)
    }

    fn list_free(&mut self, i: usize) {
        if self.has_room(i) && !self.conns[i].listed_free {
            self.conns[i].listed_free = true;
            self.free.push_back(i);
        }
    }

    fn start_connects(&mut self, now: u64) {
        while self.connecting < self.cfg.max_connecting.max(1) && self.sending {
            let Some(&i) = self.to_connect.front() else {
                return;
            };
            if self.conns[i].retry_at > now {
                return;
            }
            self.to_connect.pop_front();
            self.connect(i, now);
        }
    }

    fn connect(&mut self, i: usize, now: u64) {
        self.conns[i].connect_at = now;
        match TcpStream::connect(self.cfg.target.addr) {
            Ok(mut s) => {
                let r = self.poll.registry().register(
                    &mut s,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                );
                if let Err(e) = r {
                    self.fail(i, ErrorKind::Connect, format!("register: {e}"), now);
                    return;
                }
                let c = &mut self.conns[i];
                c.stream = Some(s);
                c.state = ConnState::Connecting;
                self.connecting += 1;
            }
            Err(e) => self.fail(i, ErrorKind::Connect, format!("connect: {e}"), now),
        }
    }

    /// A connect finished one way or the other (mio: writable, then check `take_error` and
    /// `peer_addr`).
    fn on_connecting(&mut self, i: usize, now: u64) {
        let Some(s) = self.conns[i].stream.as_ref() else {
            return;
        };
        match s.take_error() {
            Ok(Some(e)) | Err(e) => {
                self.fail(i, ErrorKind::Connect, format!("connect: {e}"), now);
                return;
            }
            Ok(None) => {}
        }
        match s.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return, // not yet
            Err(e) => {
                self.fail(i, ErrorKind::Connect, format!("connect: {e}"), now);
                return;
            }
        }
        let _ = s.set_nodelay(true);
        self.connecting -= 1;
        self.open += 1;
        self.stats.max_open = self.stats.max_open.max(self.open);
        self.stats.connects += 1;
        let c = &mut self.conns[i];
        c.state = ConnState::Open;
        if c.rbuf.is_empty() {
            c.rbuf = vec![0; READ_BUF_BYTES];
        }
        c.rlen = 0;
        c.parser.reset();
        self.on_ready(i, now);
    }

    /// The connection can take requests: closed loop and hold send, open loop lists it free.
    fn on_ready(&mut self, i: usize, now: u64) {
        if self.cfg.rate.is_some() {
            self.list_free(i);
            return;
        }
        // A connection per request: the request's time starts at the connect.
        let t = if self.cfg.request.close {
            self.conns[i].connect_at
        } else {
            now
        };
        while self.has_room(i) && self.may_send(i) {
            if self.cfg.hold.is_some() {
                self.conns[i].allowance -= 1;
            }
            self.queue(i, t, t);
        }
        self.flush(i);
    }

    fn may_send(&self, i: usize) -> bool {
        if self.cfg.hold.is_some() {
            return !matches!(self.phase, Phase::Idle { .. }) && self.conns[i].allowance > 0;
        }
        self.sending && self.budget_left()
    }

    fn queue(&mut self, i: usize, intended: u64, sent: u64) {
        let c = &mut self.conns[i];
        c.inflight.push_back((intended, sent));
        c.unwritten += self.req_len;
        self.sent += 1;
        self.inflight_total += 1;
    }

    /// Writes queued requests until done or the socket is full.
    fn flush(&mut self, i: usize) {
        loop {
            let c = &mut self.conns[i];
            if c.unwritten == 0 {
                return;
            }
            let Some(s) = c.stream.as_mut() else { return };
            let from = self.batch.len() - c.unwritten;
            match s.write(&self.batch[from..]) {
                Ok(0) => {
                    let now = self.now();
                    self.fail(i, ErrorKind::Write, "write: wrote 0 bytes".into(), now);
                    return;
                }
                Ok(n) => c.unwritten -= n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let now = self.now();
                    self.fail(i, ErrorKind::Write, format!("write: {e}"), now);
                    return;
                }
            }
        }
    }

    fn on_readable(&mut self, i: usize, peer_closed: bool) {
        loop {
            let c = &mut self.conns[i];
            if c.rlen == c.rbuf.len() {
                // Only an incomplete head can fill the buffer: bodies are consumed as they come.
                if c.rbuf.len() >= MAX_HEAD_BYTES + READ_BUF_BYTES {
                    let now = self.now();
                    self.fail(i, ErrorKind::Parse, "response head too large".into(), now);
                    return;
                }
                let n = c.rbuf.len() * 2;
                c.rbuf.resize(n, 0);
            }
            let Some(s) = c.stream.as_mut() else { return };
            let space = c.rbuf.len() - c.rlen;
            match s.read(&mut c.rbuf[c.rlen..]) {
                Ok(0) => {
                    self.on_eof(i);
                    return;
                }
                Ok(n) => {
                    c.rlen += n;
                    self.stats.bytes_read += n as u64;
                    let now = self.now();
                    if !self.parse_responses(i, now) {
                        return;
                    }
                    // A short read drained the socket; a new arrival brings a new edge. When the
                    // peer closed, keep reading: the end-of-file brings no further edge.
                    if n < space && !peer_closed {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let now = self.now();
                    self.fail(i, ErrorKind::Read, format!("read: {e}"), now);
                    return;
                }
            }
        }
    }

    /// Parses every complete response in the buffer. False if the connection was closed.
    fn parse_responses(&mut self, i: usize, now: u64) -> bool {
        let mut off = 0;
        loop {
            let c = &mut self.conns[i];
            match c.parser.feed(&c.rbuf[off..c.rlen], self.head_request) {
                Ok((n, Some(resp))) => {
                    off += n;
                    let Some((intended, sent)) = c.inflight.pop_front() else {
                        self.fail(
                            i,
                            ErrorKind::Parse,
                            "response without a request".into(),
                            now,
                        );
                        return false;
                    };
                    self.inflight_total -= 1;
                    self.stats.latency.record(now.saturating_sub(intended));
                    self.stats.service.record(now.saturating_sub(sent));
                    self.stats.responses += 1;
                    self.stats.status[usize::from(resp.status).min(599)] += 1;
                    if !resp.keep_alive || self.cfg.request.close {
                        self.close_and_reconnect(i, now);
                        return false;
                    }
                }
                Ok((n, None)) => {
                    off += n;
                    break;
                }
                Err(e) => {
                    self.fail(i, ErrorKind::Parse, e.to_string(), now);
                    return false;
                }
            }
        }
        let c = &mut self.conns[i];
        c.rbuf.copy_within(off..c.rlen, 0);
        c.rlen -= off;
        if self.phase == Phase::Run || self.phase == Phase::Second {
            self.on_ready(i, now);
        }
        true
    }

    fn on_eof(&mut self, i: usize) {
        let now = self.now();
        let c = &mut self.conns[i];
        match c.parser.on_eof(&c.rbuf[..c.rlen]) {
            Ok(Some(_)) if c.inflight.is_empty() => {
                self.fail(
                    i,
                    ErrorKind::Parse,
                    "response without a request".into(),
                    now,
                );
            }
            Ok(Some(resp)) => {
                let (intended, sent) = c.inflight.pop_front().unwrap_or((now, now));
                self.inflight_total -= 1;
                self.stats.latency.record(now.saturating_sub(intended));
                self.stats.service.record(now.saturating_sub(sent));
                self.stats.responses += 1;
                self.stats.status[usize::from(resp.status).min(599)] += 1;
                self.close_and_reconnect(i, now);
            }
            Ok(None) if c.inflight.is_empty() => {
                // The server closed an idle keep-alive connection: not an error.
                if matches!(self.phase, Phase::Idle { .. }) {
                    self.hold.closed_while_idle += 1;
                }
                self.close_and_reconnect(i, now);
            }
            Ok(None) => {
                self.fail(
                    i,
                    ErrorKind::Read,
                    "read: connection closed with requests unanswered".into(),
                    now,
                );
            }
            Err(e) => self.fail(i, ErrorKind::Parse, e.to_string(), now),
        }
    }

    /// Records an error and closes the connection; one error for the first request in flight,
    /// the rest are returned to be sent again.
    fn fail(&mut self, i: usize, kind: ErrorKind, msg: String, now: u64) {
        match kind {
            ErrorKind::Connect => self.stats.errors.connect += 1,
            ErrorKind::Read => self.stats.errors.read += 1,
            ErrorKind::Write => self.stats.errors.write += 1,
            ErrorKind::Timeout => self.stats.errors.timeout += 1,
            ErrorKind::Parse => self.stats.errors.parse += 1,
        }
        self.sample(msg);
        if let Some(_first) = self.conns[i].inflight.pop_front() {
            self.inflight_total -= 1;
        }
        self.drop_stream(i);
        let backoff = if kind == ErrorKind::Connect {
            ns(RECONNECT_BACKOFF)
        } else {
            0
        };
        self.reconnect_later(i, now + backoff);
    }

    fn sample(&mut self, msg: String) {
        if self.stats.error_samples.len() < MAX_ERROR_SAMPLES
            && !self.stats.error_samples.contains(&msg)
        {
            self.stats.error_samples.push(msg);
        }
    }

    fn close_and_reconnect(&mut self, i: usize, now: u64) {
        self.drop_stream(i);
        self.reconnect_later(i, now);
    }

    /// Deregisters and closes; requests still in flight go back to be sent again (open loop:
    /// to the backlog with their intended times; closed loop: they were never answered, so the
    /// budget gets them back).
    fn drop_stream(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if let Some(mut s) = c.stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        match c.state {
            ConnState::Connecting => self.connecting -= 1,
            ConnState::Open => self.open -= 1,
            _ => {}
        }
        c.state = ConnState::Waiting;
        c.unwritten = 0;
        c.rlen = 0;
        c.parser.reset();
        while let Some((intended, _)) = c.inflight.pop_back() {
            self.inflight_total -= 1;
            self.sent -= 1;
            if self.cfg.rate.is_some() {
                self.backlog.push_front(intended);
            }
        }
    }

    fn reconnect_later(&mut self, i: usize, at: u64) {
        // A hold never reconnects: a lost connection stays lost and shows in the report.
        if self.cfg.hold.is_some() || !self.sending {
            self.conns[i].state = ConnState::Dead;
            return;
        }
        self.conns[i].retry_at = at;
        self.to_connect.push_back(i);
    }

    fn scan_timeouts(&mut self, now: u64) {
        let limit = ns(self.cfg.timeout);
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            match c.state {
                ConnState::Connecting if now.saturating_sub(c.connect_at) > limit => {
                    self.fail(i, ErrorKind::Connect, "connect: timed out".into(), now);
                }
                ConnState::Open => {
                    if let Some(&(_, sent)) = c.inflight.front() {
                        if now.saturating_sub(sent) > limit {
                            self.fail(i, ErrorKind::Timeout, "request timed out".into(), now);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Hold mode: first round done → idle (sample memory) → second round.
    fn advance_hold(&mut self, now: u64) {
        let hold = self.cfg.hold.unwrap_or_default();
        match self.phase {
            Phase::Run => {
                let pending = self.to_connect.len() + self.connecting;
                let first_done = self.conns.iter().all(|c| {
                    c.state != ConnState::Open || (c.allowance == 0 && c.inflight.is_empty())
                });
                if pending == 0 && first_done && self.inflight_total == 0 {
                    self.hold.answered_first = self.stats.responses;
                    self.hold.held = self.open;
                    self.phase = Phase::Idle { since: now };
                }
            }
            Phase::Idle { since } => {
                // Sample through the hold; the last sample (the server settled) is the figure.
                if now.saturating_sub(since) >= ns(hold) {
                    self.hold.rss_idle_kib = self.cfg.server_pid.and_then(sys::rss_kib);
                    self.phase = Phase::Second;
                    for i in 0..self.conns.len() {
                        if self.conns[i].state == ConnState::Open {
                            self.conns[i].allowance = 1;
                            self.on_ready(i, now);
                        }
                    }
                }
            }
            Phase::Second => {}
        }
    }
}
