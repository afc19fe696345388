//! One connection's state machine: its phase, its buffers and what the reactor must do next.
//!
//! Sans-io: a `Conn` reads from any `io::Read` and writes to any `io::Write` it is handed, and
//! never touches `Poll`, tokens or the worker pool — the reactor does, from the `Next` each step
//! returns. Owns keep-alive, pipelining (one request in flight, answers in order), admission on
//! the head (server-owned endpoints, routing, body cap, `Expect`), and framing every answer.
//! Buffers come from the reactor-wide `BufPool` while a request is read or answered and go back
//! as soon as they are empty, so an idle connection holds no buffer.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::body::{BodyDecoder, BodyError, Decoded};
use super::guard::{Guard, CORS_MAX_AGE};
use super::http::{self, method_name, Expect, Framing, Head, Parsed, Reject};
use super::limits::{Limits, DRAIN_IDLE_GRACE, LINGER_BYTES, LINGER_TIME};
use super::metrics::{self, Metrics, Rejection};
use super::pool::JobOutcome;
use super::response::{self, IdGen, RequestId};
use super::router::{self, Match};
use super::timer::TimerKind;
use crate::app::App;
use crate::lang::{Headers, RequestInput, ResponseHeader};
use crate::logging::{self, AccessLine};

/// Size of an input buffer from the pool; a head larger than this grows it up to the cap.
/// 4 KiB holds a typical head (and a burst of pipelined ones) while keeping the memory of
/// 10,000 connections that are all mid-request small (nginx starts at 1 KiB).
pub const IN_BUF_BYTES: usize = 4 << 10;
/// Output buffers above this capacity are freed rather than pooled.
const OUT_BUF_KEEP_BYTES: usize = 64 << 10;
/// Free buffers kept by the pool; beyond this they are freed, so a server that once had
/// thousands of requests in flight does not hold their buffers forever.
const POOL_KEEP: usize = 256;

/// Reactor-wide free lists of buffers.
#[derive(Default)]
pub struct BufPool {
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
}

impl BufPool {
    fn get_input(&mut self) -> Vec<u8> {
        self.inputs.pop().unwrap_or_else(|| vec![0; IN_BUF_BYTES])
    }

    fn put_input(&mut self, buf: Vec<u8>) {
        if buf.len() == IN_BUF_BYTES && self.inputs.len() < POOL_KEEP {
            self.inputs.push(buf);
        }
    }

    fn get_output(&mut self) -> Vec<u8> {
        self.outputs
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(1024))
    }

    fn put_output(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() <= OUT_BUF_KEEP_BYTES && self.outputs.len() < POOL_KEEP {
            buf.clear();
            self.outputs.push(buf);
        }
    }
}

/// What a connection step needs from the reactor, borrowed for the step.
pub struct Ctx<'a> {
    pub app: &'a Arc<App>,
    pub limits: &'a Limits,
    /// The cached Date header value.
    pub date: &'a str,
    pub ids: &'a mut IdGen,
    pub bufs: &'a mut BufPool,
    /// When the server started (for /health).
    pub started: Instant,
    pub access_log: bool,
    /// The reactor's clock for this loop iteration (timers start from it).
    pub now: Instant,
    /// Bytes held by all *other* connections and their jobs (`--max-buffered-bytes`); this
    /// connection adds its own `held_bytes()`.
    pub buffered_bytes: usize,
    /// False once SIGTERM arrived: /ready answers 503.
    pub ready: bool,
    /// The listener is closed: each connection closes after the last request it has received.
    pub draining: bool,
    /// Rate limit, CORS, bearer token.
    pub guard: &'a mut Guard,
    /// Counted here: every answer, its bytes and duration, rejections, in-flight requests.
    pub metrics: &'a Metrics,
    /// The descriptors the server holds now, for `process_open_fds` on /metrics.
    pub open_fds: u64,
}

/// What the reactor must do after a step.
// `Submit` is large, but a `Next` lives only from `advance` to the reactor's match on it:
// boxing the work would cost the per-request allocation the reactor is kept free of.
#[allow(clippy::large_enum_variant)]
pub enum Next {
    /// Nothing until the socket or a worker says more.
    Wait,
    /// Hand this request to the pool.
    Submit(Work),
    /// Close the connection now.
    Close,
    /// Shut down writing; the connection then discards input until it says `Close`.
    Linger,
}

/// A request ready to run, missing only the connection's key and serial (the reactor's).
pub struct Work {
    pub app: Arc<App>,
    pub route: usize,
    pub input: RequestInput,
    pub request_id: RequestId,
}

/// What the server remembers about the request in flight, to frame and log its answer.
#[derive(Debug)]
struct Meta {
    request_id: RequestId,
    method: Cow<'static, str>,
    /// Kept only for the access log.
    path: String,
    head_only: bool,
    /// Send `Connection: close` and close after this answer.
    close: bool,
    keep_alive_10: bool,
    /// When the head's first byte was seen: the start of the request's duration.
    started: Instant,
    /// Request bytes handed to a worker with this request (for `--max-buffered-bytes`).
    job_bytes: usize,
    /// `Access-Control-Allow-Origin` for an allowed `Origin` (with `--cors-origin`).
    cors: Option<String>,
    /// The app and route index the request was routed to; None when answered before routing.
    routed: Option<(Arc<App>, usize)>,
    /// Request bytes consumed: the head, then the body as sent (chunk framing included).
    bytes_in: u64,
}

/// An answer framed into the output buffer and not yet fully written: its access line and
/// its count in the metrics wait for the last byte to reach the kernel.
struct Answered {
    meta: Meta,
    status: u16,
    bytes_out: u64,
}

/// A request whose body is still arriving.
struct Pending {
    meta: Meta,
    work: Work,
    /// A declared Content-Length, counted as held from admission on (the body is allocated
    /// to exactly this as it arrives); 0 for a chunked body, counted as it grows.
    reserved: usize,
}

/// What the connection waits for.
enum Phase {
    /// Between requests: nothing of the next head has arrived.
    Idle,
    /// Part of a head has arrived.
    Head,
    /// The head was admitted; the body is arriving.
    Body {
        decoder: BodyDecoder,
        pending: Box<Pending>,
        /// The end of the head or the `100 Continue`: the body timeout's start.
        since: Instant,
    },
    /// A worker runs the handler.
    Running(Box<Meta>),
    /// An answer is being written; then close, or go back to `Idle`.
    Writing {
        close_after: bool,
        /// The answer is an error sent while the client may still be sending: close lingering.
        linger: bool,
    },
    /// Writing is shut down; input is discarded until end-of-file, `LINGER_BYTES` or `until`
    /// (SERVER.md "lingering close").
    Lingering { until: Instant },
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Idle => "waiting for a request",
            Phase::Head => "reading request head",
            Phase::Body { .. } => "reading request body",
            Phase::Running(_) => "running handler",
            Phase::Writing {
                close_after: false, ..
            } => "writing response",
            Phase::Writing {
                close_after: true, ..
            } => "writing final response",
            Phase::Lingering { .. } => "lingering before close",
        })
    }
}

/// One client connection.
pub struct Conn {
    /// Distinguishes this connection from earlier ones in the same slab slot.
    pub serial: u64,
    pub peer: Option<SocketAddr>,
    phase: Phase,
    /// Input bytes live in `inbuf[in_start..in_end]`; the buffer is initialised to its full
    /// length so reads need no unsafe. Empty (no allocation) while nothing is buffered.
    inbuf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    /// Output bytes live in `outbuf[out_pos..]`.
    outbuf: Vec<u8>,
    out_pos: usize,
    /// Edge-triggered readiness not yet consumed (sozu's `Readiness.event`).
    pub readable: bool,
    pub writable: bool,
    /// The last event said the peer closed its side: keep reading past a short read so the
    /// end-of-file is seen.
    pub read_closed: bool,
    /// We have read end-of-file.
    peer_closed: bool,
    /// Requests whose heads were parsed on this connection.
    requests: u64,
    /// The header timeout's start: accept for the first request, else the head's first byte.
    timer_from: Instant,
    /// The last answer was written whole (the idle timeout's start).
    idle_since: Instant,
    /// The last write progress, or when output was queued onto an empty buffer.
    write_progress: Instant,
    /// Bytes discarded while lingering.
    lingered: usize,
    /// Draining, idle within `DRAIN_IDLE_GRACE` of an answer that did not say close.
    drain_grace: bool,
    /// When the first byte of the head being read was seen (None between requests).
    head_started: Option<Instant>,
    /// The answer being written, reported (metrics, access line) once it is flushed.
    answered: Option<Answered>,
}

impl Conn {
    /// A connection accepted at `now`.
    pub fn new(serial: u64, peer: Option<SocketAddr>, now: Instant) -> Conn {
        Conn {
            serial,
            peer,
            phase: Phase::Idle,
            inbuf: Vec::new(),
            in_start: 0,
            in_end: 0,
            outbuf: Vec::new(),
            out_pos: 0,
            readable: false,
            writable: false,
            read_closed: false,
            peer_closed: false,
            requests: 0,
            timer_from: now,
            idle_since: now,
            write_progress: now,
            lingered: 0,
            drain_grace: false,
            head_started: None,
            answered: None,
        }
    }

    /// The deadline this connection runs under now, and which timeout it is (SERVER.md
    /// `--*-timeout`). None while a worker runs the request with nothing to write.
    pub fn deadline(&self, limits: &Limits) -> Option<(Instant, TimerKind)> {
        let at = |start: Instant, d: Duration, kind| start.checked_add(d).map(|t| (t, kind));
        let phase = match &self.phase {
            // The first request's header timeout runs from accept.
            Phase::Idle if self.requests == 0 => {
                at(self.timer_from, limits.header_timeout, TimerKind::Header)
            }
            Phase::Idle if self.drain_grace => {
                at(self.idle_since, DRAIN_IDLE_GRACE, TimerKind::Idle)
            }
            Phase::Idle => at(self.idle_since, limits.idle_timeout, TimerKind::Idle),
            Phase::Head => at(self.timer_from, limits.header_timeout, TimerKind::Header),
            Phase::Body { since, .. } => at(*since, limits.body_timeout, TimerKind::Body),
            Phase::Running(_) | Phase::Writing { .. } => None,
            Phase::Lingering { until } => Some((*until, TimerKind::Linger)),
        };
        let write = if self.has_output() {
            at(self.write_progress, limits.write_timeout, TimerKind::Write)
        } else {
            None
        };
        match (phase, write) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The deadline `kind` passed: 408 for a head or body that did not arrive in time (when a
    /// byte of it did), else close.
    pub fn on_timeout(&mut self, kind: TimerKind, ctx: &mut Ctx<'_>) -> Next {
        log::debug!("conn {}: {kind} while {}", self.serial, self.phase);
        match (kind, &self.phase) {
            (TimerKind::Header, Phase::Head) => {
                let started = self.head_started.take().unwrap_or(ctx.now);
                let mut meta = self.bare_meta(started, ctx);
                let partial = &self.inbuf[self.in_start..self.in_end];
                meta.method = method_name(peek_method(partial));
                meta.bytes_in = partial.len() as u64;
                self.in_start = self.in_end;
                let limit = ctx.limits.header_timeout;
                let message = format!("request head not received in time (limit is {limit:?})");
                self.reject(Rejection::HeaderTimeout, 408, &message, &[], meta, ctx);
                Next::Wait
            }
            (TimerKind::Body, Phase::Body { .. }) => {
                let Phase::Body { pending, .. } = std::mem::replace(&mut self.phase, Phase::Idle)
                else {
                    unreachable!("matched Body above");
                };
                let mut meta = pending.meta;
                meta.close = true;
                self.in_start = self.in_end;
                let limit = ctx.limits.body_timeout;
                let message = format!("request body not received in time (limit is {limit:?})");
                self.reject(Rejection::BodyTimeout, 408, &message, &[], meta, ctx);
                Next::Wait
            }
            // No byte of the first head within the header timeout: a silent close, counted.
            (TimerKind::Header, _) => {
                ctx.metrics.record_rejection(Rejection::HeaderTimeout);
                Next::Close
            }
            (TimerKind::Write, _) => {
                ctx.metrics.record_rejection(Rejection::WriteTimeout);
                Next::Close
            }
            _ => Next::Close,
        }
    }

    /// Bytes this connection holds: its buffers, a body being read, a request at a worker.
    pub fn held_bytes(&self) -> usize {
        let request = match &self.phase {
            Phase::Body { pending, .. } => pending.work.input.body.capacity().max(pending.reserved),
            Phase::Running(meta) => meta.job_bytes,
            _ => 0,
        };
        self.inbuf.len() + self.outbuf.capacity() + request
    }

    /// What the connection waits for, for logs.
    pub fn phase(&self) -> String {
        self.phase.to_string()
    }

    pub fn has_output(&self) -> bool {
        self.out_pos < self.outbuf.len()
    }

    /// Reading is pointless once the peer closed or the final answer is queued.
    pub fn wants_read(&self) -> bool {
        !self.peer_closed
            && !matches!(
                self.phase,
                Phase::Writing {
                    close_after: true,
                    ..
                }
            )
    }

    /// A request is in flight at a worker.
    pub fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running(_))
    }

    /// Returns the buffers to the pool (the connection is being closed).
    pub fn release(&mut self, bufs: &mut BufPool) {
        if !self.inbuf.is_empty() {
            bufs.put_input(std::mem::take(&mut self.inbuf));
        }
        if self.outbuf.capacity() > 0 {
            bufs.put_output(std::mem::take(&mut self.outbuf));
        }
        self.in_start = 0;
        self.in_end = 0;
        self.out_pos = 0;
    }

    /// Reads what the socket has, up to the buffer's room. A read shorter than the room means
    /// the socket is drained (one read per request in the common case), unless the peer has
    /// closed, when we read on to see the end-of-file. Returns the bytes read.
    pub fn read_from<R: Read>(&mut self, src: &mut R, ctx: &mut Ctx<'_>) -> io::Result<usize> {
        if matches!(self.phase, Phase::Lingering { .. }) {
            return self.discard(src);
        }
        let mut total = 0;
        while self.wants_read() {
            if self.inbuf.is_empty() {
                self.inbuf = ctx.bufs.get_input();
            }
            if self.in_end == self.inbuf.len() && !self.make_room(ctx.limits) {
                // Full: leave `readable` set so the reactor reads again once we consumed.
                break;
            }
            let room = self.inbuf.len() - self.in_end;
            match src.read(&mut self.inbuf[self.in_end..]) {
                Ok(0) => {
                    self.peer_closed = true;
                    self.readable = false;
                    break;
                }
                Ok(n) => {
                    self.in_end += n;
                    total += n;
                    if n < room && !self.read_closed {
                        self.readable = false;
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.release_empty_input(ctx.bufs);
        Ok(total)
    }

    /// Lingering: reads and drops input until end-of-file or `LINGER_BYTES`.
    fn discard<R: Read>(&mut self, src: &mut R) -> io::Result<usize> {
        let mut scratch = [0u8; 8192];
        let mut total = 0;
        while !self.peer_closed {
            match src.read(&mut scratch) {
                Ok(0) => self.peer_closed = true,
                Ok(n) => {
                    total += n;
                    self.lingered += n;
                    if self.lingered >= LINGER_BYTES {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.readable = false;
        Ok(total)
    }

    /// `read_from` could take more input now: the buffer has room, can be compacted, or may grow.
    pub fn has_room(&self, limits: &Limits) -> bool {
        let head_cap = limits.max_header_bytes.saturating_add(1);
        self.inbuf.is_empty()
            || self.in_end < self.inbuf.len()
            || self.in_start > 0
            || (matches!(self.phase, Phase::Idle | Phase::Head) && self.inbuf.len() < head_cap)
    }

    /// Compacts the buffer, or grows it while a head up to the cap is arriving. False = full.
    fn make_room(&mut self, limits: &Limits) -> bool {
        if self.in_start > 0 {
            self.inbuf.copy_within(self.in_start..self.in_end, 0);
            self.in_end -= self.in_start;
            self.in_start = 0;
            return true;
        }
        // One byte over the cap lets parse_head see that the cap was exceeded (431). Grow only
        // for a head still incomplete: a full buffer holding a whole head (and the start of a
        // body) is parsed first, so the body is read into the pool-sized buffer rather than
        // into a grown one that would count against `--max-buffered-bytes`.
        let head_cap = limits.max_header_bytes.saturating_add(1);
        let head_complete = || {
            self.inbuf[self.in_start..self.in_end]
                .windows(4)
                .any(|w| w == b"\r\n\r\n")
        };
        if matches!(self.phase, Phase::Idle | Phase::Head)
            && self.inbuf.len() < head_cap
            && !head_complete()
        {
            let grown = self.inbuf.len().saturating_mul(2).min(head_cap);
            self.inbuf.resize(grown, 0);
            return true;
        }
        false
    }

    fn release_empty_input(&mut self, bufs: &mut BufPool) {
        if self.in_start == self.in_end {
            self.in_start = 0;
            self.in_end = 0;
            if !self.inbuf.is_empty() {
                bufs.put_input(std::mem::take(&mut self.inbuf));
            }
        }
    }

    /// Writes pending output until done or the socket would block.
    pub fn write_to<W: Write>(
        &mut self,
        dst: &mut W,
        bufs: &mut BufPool,
        now: Instant,
    ) -> io::Result<()> {
        while self.out_pos < self.outbuf.len() {
            match dst.write(&self.outbuf[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_pos += n;
                    self.write_progress = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out_pos = 0;
        bufs.put_output(std::mem::take(&mut self.outbuf));
        Ok(())
    }

    /// Acts on what is buffered: parses heads, answers what the server answers itself, decodes
    /// bodies, and hands a complete request out. Loops until it must wait.
    pub fn advance(&mut self, ctx: &mut Ctx<'_>) -> Next {
        loop {
            match &mut self.phase {
                Phase::Writing {
                    close_after,
                    linger,
                } => {
                    if self.out_pos < self.outbuf.len() {
                        return Next::Wait;
                    }
                    let (close_after, linger) = (*close_after, *linger);
                    self.report_answered(ctx.metrics, ctx.access_log);
                    if close_after {
                        if linger && !self.peer_closed {
                            // RFC 9112 §9.6: closing with unread input would reset the
                            // connection and could destroy the answer just written.
                            self.phase = Phase::Lingering {
                                until: ctx.now.checked_add(LINGER_TIME).unwrap_or(ctx.now),
                            };
                            self.in_start = 0;
                            self.in_end = 0;
                            self.release_empty_input(ctx.bufs);
                            return Next::Linger;
                        }
                        return Next::Close;
                    }
                    self.phase = Phase::Idle;
                    self.idle_since = ctx.now;
                }
                Phase::Lingering { .. } => {
                    return if self.peer_closed || self.lingered >= LINGER_BYTES {
                        Next::Close
                    } else {
                        Next::Wait
                    };
                }
                Phase::Running(_) => return Next::Wait,
                Phase::Idle | Phase::Head => {
                    if self.in_start == self.in_end {
                        self.phase = Phase::Idle;
                        self.release_empty_input(ctx.bufs);
                        if self.peer_closed {
                            return Next::Close;
                        }
                        // Draining: an idle connection has no request left to finish; one just
                        // answered without `Connection: close` gets a short grace first.
                        if ctx.draining {
                            let grace_over = self
                                .idle_since
                                .checked_add(DRAIN_IDLE_GRACE)
                                .is_none_or(|t| ctx.now >= t);
                            if self.requests == 0 || grace_over {
                                return Next::Close;
                            }
                            self.drain_grace = true;
                        }
                        return Next::Wait;
                    }
                    // The loop's clock: when the poll that brought these bytes returned.
                    let head_started = *self.head_started.get_or_insert(ctx.now);
                    match http::parse_head(&self.inbuf[self.in_start..self.in_end], ctx.limits) {
                        Ok(Parsed::Partial) => {
                            // A head cut short by end-of-file can never complete: close quietly.
                            if self.peer_closed {
                                return Next::Close;
                            }
                            // The header timeout runs from the head's first byte, never reset
                            // by later ones (the first request's runs from accept).
                            if matches!(self.phase, Phase::Idle) && self.requests > 0 {
                                self.timer_from = ctx.now;
                            }
                            self.phase = Phase::Head;
                            return Next::Wait;
                        }
                        Err(reject) => {
                            log::debug!("conn {}: {reject}", self.serial);
                            self.head_started = None;
                            let mut meta = self.bare_meta(head_started, ctx);
                            let refused = &self.inbuf[self.in_start..self.in_end];
                            meta.method = method_name(peek_method(refused));
                            meta.bytes_in = refused.len() as u64;
                            self.in_start = self.in_end;
                            self.reject(
                                head_rejection(&reject),
                                reject.status(),
                                &reject.to_string(),
                                &[],
                                meta,
                                ctx,
                            );
                        }
                        Ok(Parsed::Complete(head, used)) => {
                            self.in_start += used;
                            self.requests += 1;
                            self.head_started = None;
                            if let Some(next) = self.admit(head, used as u64, head_started, ctx) {
                                return next;
                            }
                        }
                    }
                }
                Phase::Body {
                    decoder, pending, ..
                } => {
                    let input = &self.inbuf[self.in_start..self.in_end];
                    // `--max-buffered-bytes` holds while a body grows: a declared length was
                    // counted whole at admission; a chunked body may take only the room left
                    // beside everything else held (its own buffers included).
                    let limit = if pending.reserved > 0 {
                        pending.reserved
                    } else {
                        let others = ctx.buffered_bytes + self.inbuf.len() + self.outbuf.capacity();
                        let room = ctx.limits.max_buffered_bytes.saturating_sub(others);
                        ctx.limits.max_body_bytes.min(room)
                    };
                    let body = &mut pending.work.input.body;
                    grow_body(body, input.len(), limit);
                    match decoder.decode(input, body, limit) {
                        Ok((used, Decoded::Done)) => {
                            self.in_start += used;
                            pending.meta.bytes_in += used as u64;
                            let Phase::Body { pending, .. } =
                                std::mem::replace(&mut self.phase, Phase::Idle)
                            else {
                                unreachable!("matched Body above");
                            };
                            let Pending { mut meta, work, .. } = *pending;
                            meta.job_bytes = job_bytes(&work);
                            self.phase = Phase::Running(Box::new(meta));
                            self.release_empty_input(ctx.bufs);
                            return Next::Submit(work);
                        }
                        Ok((used, Decoded::Partial)) => {
                            self.in_start += used;
                            pending.meta.bytes_in += used as u64;
                            self.release_empty_input(ctx.bufs);
                            return if self.peer_closed {
                                Next::Close
                            } else {
                                Next::Wait
                            };
                        }
                        Err(e) => {
                            let Phase::Body { pending, .. } =
                                std::mem::replace(&mut self.phase, Phase::Idle)
                            else {
                                unreachable!("matched Body above");
                            };
                            let mut meta = pending.meta;
                            // The rest of the body cannot be framed: nothing after it can be read.
                            meta.close = true;
                            meta.bytes_in += (self.in_end - self.in_start) as u64;
                            self.in_start = self.in_end;
                            match e {
                                BodyError::TooLarge { .. } if limit < ctx.limits.max_body_bytes => {
                                    self.refuse_buffers_full(meta, ctx);
                                }
                                BodyError::TooLarge { .. } => self.reject(
                                    Rejection::BodyTooLarge,
                                    e.status(),
                                    &e.to_string(),
                                    &[],
                                    meta,
                                    ctx,
                                ),
                                BodyError::Invalid(_) => self.reject(
                                    Rejection::BadRequest,
                                    e.status(),
                                    &e.to_string(),
                                    &[],
                                    meta,
                                    ctx,
                                ),
                            }
                        }
                    }
                }
            }
        }
    }

    /// Order of admission on the head (SERVER.md): server-owned endpoints, route (404, 405,
    /// OPTIONS), declared body over the cap (413), `Expect`. Returns Some when the step must
    /// return to the reactor; None to keep advancing (an answer was queued or a body is due).
    /// `head_bytes` and `started` are the head's size and when its first byte was seen.
    fn admit(
        &mut self,
        head: Head,
        head_bytes: u64,
        started: Instant,
        ctx: &mut Ctx<'_>,
    ) -> Option<Next> {
        let keepalive_exhausted =
            ctx.limits.keepalive_requests != 0 && self.requests >= ctx.limits.keepalive_requests;
        let mut meta = Meta {
            request_id: match &head.request_id {
                Some(id) => RequestId::from(id.as_str()),
                None => ctx.ids.next_id(),
            },
            method: head.method.clone(),
            path: if ctx.access_log {
                head.path.clone()
            } else {
                String::new()
            },
            head_only: head.method.eq_ignore_ascii_case("HEAD"),
            close: !head.keep_alive || keepalive_exhausted || self.peer_closed,
            keep_alive_10: head.minor_version == 0 && head.keep_alive,
            started,
            routed: None,
            bytes_in: head_bytes,
            job_bytes: 0,
            cors: None,
        };
        ctx.metrics.in_flight.inc();
        // A body we will not read (an answer before it) leaves the stream unframed.
        let has_body = match head.framing {
            Framing::None | Framing::Length(0) => false,
            Framing::Length(_) | Framing::Chunked => true,
        };
        if let Some(endpoint) = server_endpoint(&head.path) {
            if has_body {
                meta.close = true;
            }
            if !(head.method == "GET" || head.method == "HEAD") {
                self.answer_error(
                    405,
                    "method not allowed",
                    &[("Allow", "GET, HEAD")],
                    meta,
                    ctx,
                );
                return None;
            }
            let (status, content_type, body) = match endpoint {
                Endpoint::Health => (
                    200,
                    "application/json",
                    health_body(ctx.started.elapsed().as_secs()),
                ),
                Endpoint::Ready if ctx.ready => {
                    (200, "application/json", b"{\"status\":\"ready\"}".to_vec())
                }
                Endpoint::Ready => (
                    503,
                    "application/json",
                    b"{\"status\":\"draining\"}".to_vec(),
                ),
                // Rendered here on the reactor, like /health, so a scrape works with every
                // worker busy; it reads /proc/self/status and getrusage, nothing per connection.
                Endpoint::Metrics => (
                    200,
                    metrics::CONTENT_TYPE,
                    ctx.metrics.render(ctx.open_fds).into_bytes(),
                ),
            };
            // /metrics can run to hundreds of KiB and is not refused like a job, so a flood of
            // scrapes that are never read would hold that per connection: it must fit under
            // `--max-buffered-bytes` too. /health and /ready are a few bytes and always answered.
            let held = ctx.buffered_bytes + self.held_bytes() + body.len();
            if matches!(endpoint, Endpoint::Metrics) && held > ctx.limits.max_buffered_bytes {
                self.refuse_buffers_full(meta, ctx);
                return None;
            }
            self.answer(
                status,
                &[("Content-Type", content_type)],
                &[],
                &body,
                meta,
                ctx,
            );
            return None;
        }

        // Rate limit (429), per client IP; the server's own endpoints above are exempt.
        if let (Some(rate), Some(peer)) = (ctx.guard.rate.as_mut(), self.peer) {
            if let Err(wait) = rate.check(peer.ip(), ctx.now) {
                meta.close |= has_body;
                log::debug!("{} rate limited {}", &*meta.request_id, peer.ip());
                let retry = wait.to_string();
                self.reject(
                    Rejection::RateLimited,
                    429,
                    "too many requests",
                    &[("Retry-After", &retry)],
                    meta,
                    ctx,
                );
                return None;
            }
        }
        // CORS: every answer to an allowed origin says so; a preflight is ours to answer.
        if let Some(cors) = &ctx.guard.cors {
            let origin = header(&head.headers, "origin");
            meta.cors = origin
                .and_then(|o| std::str::from_utf8(o).ok())
                .and_then(|o| cors.allow(o))
                .map(str::to_owned);
            let request_method = header(&head.headers, "access-control-request-method");
            if head.method == "OPTIONS" && origin.is_some() && request_method.is_some() {
                meta.close |= has_body;
                let methods = match ctx.app.router.route("OPTIONS", &head.path) {
                    Match::Options { allow } | Match::MethodNotAllowed { allow } => allow,
                    _ => String::from_utf8_lossy(request_method.unwrap_or_default()).into_owned(),
                };
                let mut extra: Vec<(&str, String)> = Vec::new();
                if meta.cors.is_some() {
                    extra.push(("Access-Control-Allow-Methods", methods));
                    if let Some(h) = header(&head.headers, "access-control-request-headers") {
                        let h = String::from_utf8_lossy(h).into_owned();
                        extra.push(("Access-Control-Allow-Headers", h));
                    }
                    extra.push(("Access-Control-Max-Age", CORS_MAX_AGE.to_owned()));
                }
                let extra: Vec<(&str, &str)> =
                    extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
                self.answer(204, &extra, &[], b"", meta, ctx);
                return None;
            }
        }
        // Bearer token (401) before routing, so unauthenticated clients cannot probe routes.
        if let Some(token) = &ctx.guard.token {
            if !token.admits(header(&head.headers, "authorization")) {
                meta.close |= has_body;
                self.reject(
                    Rejection::Unauthorized,
                    401,
                    "missing or invalid bearer token",
                    &[("WWW-Authenticate", "Bearer")],
                    meta,
                    ctx,
                );
                return None;
            }
        }

        let found = if head.asterisk {
            Match::Options {
                allow: ctx.app.router.allow_all(),
            }
        } else {
            ctx.app.router.route(&head.method, &head.path)
        };
        let route = match found {
            Match::Found { route } => {
                meta.routed = Some((Arc::clone(ctx.app), route));
                route
            }
            Match::NotFound => {
                meta.close |= has_body;
                self.answer_error(404, "not found", &[], meta, ctx);
                return None;
            }
            Match::MethodNotAllowed { allow } => {
                meta.close |= has_body;
                self.answer_error(405, "method not allowed", &[("Allow", &allow)], meta, ctx);
                return None;
            }
            Match::Options { allow } => {
                meta.close |= has_body;
                self.answer(204, &[("Allow", &allow)], &[], b"", meta, ctx);
                return None;
            }
        };

        if let Framing::Length(n) = head.framing {
            if n > ctx.limits.max_body_bytes as u64 {
                meta.close = true;
                let limit = ctx.limits.max_body_bytes;
                self.reject(
                    Rejection::BodyTooLarge,
                    413,
                    &format!("request body too large (limit is {limit} bytes)"),
                    &[],
                    meta,
                    ctx,
                );
                return None;
            }
        }
        // `--max-buffered-bytes`: what everything else holds, this connection's buffers, and
        // the declared body, which is counted whole from here on (before any `100 Continue`).
        let reserved = match head.framing {
            // Not over `max_body_bytes` (checked above), so it fits a usize.
            Framing::Length(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Framing::Chunked | Framing::None => 0,
        };
        let would_hold = ctx
            .buffered_bytes
            .saturating_add(self.held_bytes())
            .saturating_add(reserved);
        if would_hold > ctx.limits.max_buffered_bytes {
            meta.close |= has_body;
            self.refuse_buffers_full(meta, ctx);
            return None;
        }
        match head.expect {
            Expect::Other => {
                meta.close |= has_body;
                self.reject(
                    Rejection::BadRequest,
                    417,
                    "expectation failed",
                    &[],
                    meta,
                    ctx,
                );
                return None;
            }
            Expect::Continue if has_body => {
                // RFC 9110 §10.1.1: admitted, so invite the body.
                self.queue_output(b"HTTP/1.1 100 Continue\r\n\r\n", ctx);
            }
            Expect::Continue | Expect::None => {}
        }

        let work = Work {
            app: Arc::clone(ctx.app),
            route,
            request_id: meta.request_id.clone(),
            input: RequestInput {
                method: head.method,
                path: head.path,
                query: head.query,
                headers: head.headers,
                body: Vec::new(),
                // Decoded by the worker (`Router::params`), off the reactor.
                params: Vec::new(),
            },
        };
        let decoder = match head.framing {
            Framing::Length(n) if n > 0 => BodyDecoder::length(n),
            Framing::Chunked => BodyDecoder::chunked(),
            Framing::None | Framing::Length(_) => {
                meta.job_bytes = job_bytes(&work);
                self.phase = Phase::Running(Box::new(meta));
                return Some(Next::Submit(work));
            }
        };
        self.phase = Phase::Body {
            decoder,
            pending: Box::new(Pending {
                meta,
                work,
                reserved,
            }),
            since: ctx.now,
        };
        None
    }

    /// 503 with Retry-After: taking this request (or more of its body) would hold more than
    /// `--max-buffered-bytes`. Mid-body the connection closes lingering, so the answer is not
    /// lost to a reset while the client is still sending.
    fn refuse_buffers_full(&mut self, meta: Meta, ctx: &mut Ctx<'_>) {
        let limit = ctx.limits.max_buffered_bytes;
        log::warn!(
            request_id = &*meta.request_id;
            "buffered bytes would pass --max-buffered-bytes ({limit} bytes): 503"
        );
        self.reject(
            Rejection::BuffersFull,
            503,
            &format!("server overloaded: too many bytes buffered (limit is {limit} bytes)"),
            &[("Retry-After", "1")],
            meta,
            ctx,
        );
    }

    /// A worker finished this connection's request.
    pub fn on_done(&mut self, outcome: JobOutcome, ctx: &mut Ctx<'_>) {
        let Phase::Running(meta) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            log::error!("conn {}: completion while {}", self.serial, self.phase);
            return;
        };
        let meta = *meta;
        match outcome {
            JobOutcome::Response(r) => self.answer(r.status, &[], &r.headers, &r.body, meta, ctx),
            JobOutcome::NoContent => self.answer(204, &[], &[], b"", meta, ctx),
            JobOutcome::Failed {
                status: 503,
                message,
            } => self.answer_error(503, &message, &[("Retry-After", "1")], meta, ctx),
            JobOutcome::Failed { status, message } => {
                self.answer_error(status, &message, &[], meta, ctx)
            }
        }
    }

    /// The pool's queue was full for the request just handed out: 503, answered here.
    pub fn on_busy(&mut self, ctx: &mut Ctx<'_>) {
        let Phase::Running(meta) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        self.reject(
            Rejection::QueueFull,
            503,
            "server overloaded, retry later",
            &[("Retry-After", "1")],
            *meta,
            ctx,
        );
    }

    /// Meta for an answer to a head we could not parse: always the last on this connection.
    fn bare_meta(&self, started: Instant, ctx: &mut Ctx<'_>) -> Meta {
        ctx.metrics.in_flight.inc();
        Meta {
            request_id: ctx.ids.next_id(),
            method: Cow::Borrowed("-"),
            path: "-".to_owned(),
            head_only: false,
            close: true,
            keep_alive_10: false,
            started,
            job_bytes: 0,
            cors: None,
            routed: None,
            bytes_in: 0,
        }
    }

    /// Answers an error the server decided itself, counting it under `reason`. Every refusal
    /// (413, 414, 431, 400, 503 ..., and later 408, 429, 401) should come through here.
    fn reject(
        &mut self,
        reason: Rejection,
        status: u16,
        message: &str,
        extra: &[(&str, &str)],
        meta: Meta,
        ctx: &mut Ctx<'_>,
    ) {
        ctx.metrics.record_rejection(reason);
        self.answer_error(status, message, extra, meta, ctx);
    }

    /// The answer in the output buffer has been handed to the kernel: count it and write its
    /// access line. Its duration ends here.
    fn report_answered(&mut self, metrics: &Metrics, access_log: bool) {
        let Some(a) = self.answered.take() else {
            return;
        };
        let duration = a.meta.started.elapsed();
        let (route_id, pattern) = match &a.meta.routed {
            Some((app, route)) => (Some(app.metric_id(*route)), Some(app.route_pattern(*route))),
            None => (None, None),
        };
        metrics.record_request(
            route_id,
            &a.meta.method,
            a.status,
            duration,
            a.meta.bytes_in,
            a.bytes_out,
        );
        metrics.in_flight.dec();
        if access_log {
            logging::access(&AccessLine {
                request_id: &a.meta.request_id,
                method: &a.meta.method,
                path: &a.meta.path,
                route: pattern,
                status: a.status,
                duration,
                bytes_in: a.meta.bytes_in,
                bytes_out: a.bytes_out,
                remote: self.peer,
            });
        }
    }

    /// The connection is being closed: an answer not fully written is still reported (it was
    /// decided, the peer went away), and a request still reading its body or running leaves the
    /// in-flight count (its completion will be dropped as stale).
    pub fn on_close(&mut self, metrics: &Metrics, access_log: bool) {
        self.report_answered(metrics, access_log);
        if matches!(self.phase, Phase::Body { .. } | Phase::Running(_)) {
            metrics.in_flight.dec();
            self.phase = Phase::Idle;
        }
    }

    fn answer_error(
        &mut self,
        status: u16,
        message: &str,
        extra: &[(&str, &str)],
        meta: Meta,
        ctx: &mut Ctx<'_>,
    ) {
        let body = response::error_body(status, message, &meta.request_id);
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(extra.len() + 1);
        headers.push(("Content-Type", "application/json"));
        headers.extend_from_slice(extra);
        self.answer(status, &headers, &[], &body, meta, ctx);
    }

    /// Frames an answer into the output buffer and moves to `Writing`.
    fn answer(
        &mut self,
        status: u16,
        server_headers: &[(&str, &str)],
        handler_headers: &[ResponseHeader],
        body: &[u8],
        meta: Meta,
        ctx: &mut Ctx<'_>,
    ) {
        // Draining: the last response this connection gets (nothing more of a request is
        // buffered) says `Connection: close`; one followed by a received request does not.
        let last_while_draining = ctx.draining && self.in_start == self.in_end;
        let close = meta.close || self.peer_closed || last_while_draining;
        if self.outbuf.capacity() == 0 {
            self.outbuf = ctx.bufs.get_output();
        }
        if !self.has_output() {
            self.write_progress = ctx.now;
        }
        let before = self.outbuf.len();
        // CORS (SERVER.md): ours replace the handler's Access-Control-Allow-Origin and Vary.
        let mut server_headers: Cow<'_, [(&str, &str)]> = Cow::Borrowed(server_headers);
        let mut handler_headers: Cow<'_, [ResponseHeader]> = Cow::Borrowed(handler_headers);
        if let Some(origin) = &meta.cors {
            let mut ours = server_headers.to_vec();
            ours.push(("Access-Control-Allow-Origin", origin));
            ours.push(("Vary", "Origin"));
            server_headers = Cow::Owned(ours);
            let replaced = |n: &str| {
                n.eq_ignore_ascii_case("access-control-allow-origin")
                    || n.eq_ignore_ascii_case("vary")
            };
            if handler_headers.iter().any(|(n, _)| replaced(n)) {
                let kept = handler_headers
                    .iter()
                    .filter(|(n, _)| !replaced(n))
                    .cloned()
                    .collect();
                handler_headers = Cow::Owned(kept);
            }
        }
        let framing = response::Framing {
            request_id: &meta.request_id,
            date: ctx.date,
            close,
            keep_alive_10: meta.keep_alive_10,
            head: meta.head_only,
        };
        response::encode(
            &mut self.outbuf,
            status,
            &server_headers,
            &handler_headers,
            body,
            &framing,
        );
        // A pipelined answer is framed only after the previous one was flushed (see `advance`),
        // so at most one answer waits to be reported.
        self.report_answered(ctx.metrics, ctx.access_log);
        self.answered = Some(Answered {
            bytes_out: (self.outbuf.len() - before) as u64,
            status,
            meta,
        });
        // An error closing the connection may leave the client still sending (SERVER.md
        // "lingering close"): 400, 401, 408, 413, 431 and the like.
        let linger = close && status >= 400 && !self.peer_closed;
        self.phase = Phase::Writing {
            close_after: close,
            linger,
        };
    }

    fn queue_output(&mut self, bytes: &[u8], ctx: &mut Ctx<'_>) {
        if self.outbuf.capacity() == 0 {
            self.outbuf = ctx.bufs.get_output();
        }
        if !self.has_output() {
            self.write_progress = ctx.now;
        }
        self.outbuf.extend_from_slice(bytes);
    }
}

/// The first header field named `name` (lower case).
fn header<'h>(headers: &'h Headers, name: &str) -> Option<&'h [u8]> {
    headers.get(name)
}

/// Makes room in `body` for up to `incoming` more bytes without ever taking capacity beyond
/// `limit`: it doubles (so a trickled body is not copied per read) but is capped, because its
/// capacity is what `--max-buffered-bytes` counts.
fn grow_body(body: &mut Vec<u8>, incoming: usize, limit: usize) {
    let needed = body.len().saturating_add(incoming);
    if needed <= body.capacity() {
        return;
    }
    let target = needed
        .max(body.capacity().saturating_mul(2))
        .min(limit)
        .max(body.len());
    if target > body.capacity() {
        body.reserve_exact(target - body.len());
    }
}

/// Request bytes that travel with a job: the body, the target and the header fields.
fn job_bytes(work: &Work) -> usize {
    let input = &work.input;
    let headers = input.headers.bytes_len();
    input.body.capacity() + input.path.len() + input.query.len() + headers
}

#[derive(Clone, Copy)]
enum Endpoint {
    Health,
    Ready,
    Metrics,
}

/// The method of a head that was refused, for the access line and metrics: its first word when
/// that is a short upper-case token, else `-` (never a slice of garbage in a log line).
fn peek_method(head: &[u8]) -> &str {
    let word = head.split(|&b| b == b' ').next().unwrap_or_default();
    if (1..=16).contains(&word.len()) && word.iter().all(u8::is_ascii_uppercase) {
        // ASCII upper-case letters only: valid UTF-8.
        std::str::from_utf8(word).unwrap_or("-")
    } else {
        "-"
    }
}

/// The `reason` a head refused by http.rs is counted under.
fn head_rejection(reject: &Reject) -> Rejection {
    match reject {
        Reject::UriTooLong { .. } => Rejection::UriTooLong,
        Reject::HeadTooLarge { .. } | Reject::TooManyHeaders { .. } => Rejection::HeadTooLarge,
        Reject::BadRequest(_) | Reject::NotImplemented(_) | Reject::VersionNotSupported => {
            Rejection::BadRequest
        }
    }
}

/// SERVER.md: matched after normalisation (`/health/` counts), before any app route.
fn server_endpoint(path: &str) -> Option<Endpoint> {
    let mut segments = router::segments(path);
    let (Some(one), None) = (segments.next(), segments.next()) else {
        return None;
    };
    match &*one {
        "health" => Some(Endpoint::Health),
        "ready" => Some(Endpoint::Ready),
        "metrics" => Some(Endpoint::Metrics),
        _ => None,
    }
}

/// `{"status":"healthy","uptime":"3h02m07s","uptime_seconds":10927}`.
fn health_body(secs: u64) -> Vec<u8> {
    format!(
        "{{\"status\":\"healthy\",\"uptime\":\"{}h{:02}m{:02}s\",\"uptime_seconds\":{secs}}}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{Program, Response};
    use crate::server::router::Router;

    use crate::server::guard::Secret;
    use crate::server::router::tests::route;

    struct Harness {
        app: Arc<App>,
        limits: Limits,
        ids: IdGen,
        bufs: BufPool,
        started: Instant,
        guard: Guard,
        metrics: Metrics,
        /// What the rest of the server holds (`Ctx::buffered_bytes`).
        others: usize,
    }

    impl Harness {
        fn new(limits: Limits) -> Harness {
            let routes = [
                route("GET", "/gst/:amount"),
                route("POST", "/echo"),
                route("GET", "/"),
            ];
            // The program has no compiled routes, so the metric slots are registered by hand.
            let metrics = Metrics::new(&[]);
            let patterns: Vec<String> = routes.iter().map(|r| r.path.clone()).collect();
            let app = App {
                program: Program::default(),
                router: Router::new(&routes),
                origin: "t".into(),
                metric_ids: metrics.route_ids(&patterns),
            };
            Harness {
                app: Arc::new(app),
                limits,
                ids: IdGen::default(),
                bufs: BufPool::default(),
                started: Instant::now(),
                guard: Guard::default(),
                metrics,
                others: 0,
            }
        }

        fn ctx(&mut self) -> Ctx<'_> {
            Ctx {
                app: &self.app,
                limits: &self.limits,
                date: "Thu, 01 Jan 1970 00:00:00 GMT",
                ids: &mut self.ids,
                bufs: &mut self.bufs,
                started: self.started,
                access_log: false,
                now: Instant::now(),
                buffered_bytes: self.others,
                ready: true,
                draining: false,
                guard: &mut self.guard,
                metrics: &self.metrics,
                open_fds: 0,
            }
        }
    }

    /// A fake socket: reads come from `input` in pieces of `step` bytes, then WouldBlock
    /// (or end-of-file when `eof`); writes go to `output`.
    struct Pipe {
        input: Vec<u8>,
        pos: usize,
        step: usize,
        eof: bool,
        output: Vec<u8>,
    }

    impl Pipe {
        /// `input` read `step` bytes at a time; at its end, end-of-file if `eof`, else WouldBlock.
        fn new(input: &[u8], step: usize, eof: bool) -> Pipe {
            Pipe {
                input: input.to_vec(),
                pos: 0,
                step,
                eof,
                output: Vec::new(),
            }
        }
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.input.len() {
                return if self.eof {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = self.step.min(buf.len()).min(self.input.len() - self.pos);
            buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Drives a connection the way the reactor does, answering each submitted job with
    /// `answer(work)`; returns everything written and whether it closed.
    fn drive(
        h: &mut Harness,
        input: &[u8],
        step: usize,
        eof: bool,
        answer: &dyn Fn(&Work) -> JobOutcome,
    ) -> (String, bool) {
        let mut pipe = Pipe::new(input, step, eof);
        let mut conn = Conn::new(1, None, Instant::now());
        conn.writable = true;
        for _ in 0..100_000 {
            conn.readable = true;
            let mut ctx = h.ctx();
            if conn.has_output() {
                conn.write_to(&mut pipe, ctx.bufs, ctx.now).unwrap();
            }
            conn.read_from(&mut pipe, &mut ctx).unwrap();
            match conn.advance(&mut ctx) {
                Next::Close | Next::Linger => {
                    conn.release(ctx.bufs);
                    return (String::from_utf8_lossy(&pipe.output).into_owned(), true);
                }
                Next::Submit(work) => {
                    let outcome = answer(&work);
                    conn.on_done(outcome, &mut ctx);
                }
                Next::Wait => {
                    if !conn.has_output()
                        && pipe.pos == pipe.input.len()
                        && (!eof || conn.peer_closed)
                    {
                        return (String::from_utf8_lossy(&pipe.output).into_owned(), false);
                    }
                }
            }
        }
        panic!("connection never settled");
    }

    fn ok(work: &Work) -> JobOutcome {
        let body = format!(
            "{}|{:?}|{}",
            work.input.path,
            work.app.router.params(work.route, &work.input.path),
            String::from_utf8_lossy(&work.input.body)
        );
        JobOutcome::Response(Response {
            status: 200,
            body: body.into_bytes(),
            headers: vec![("Content-Type".into(), "text/plain".into())],
        })
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn get_in_any_split() {
        let req = b"GET /gst/1000?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        for step in [1, 2, 5, 1000] {
            let mut h = Harness::new(Limits::default());
            let (out, closed) = drive(&mut h, req, step, false, &ok);
            assert!(!closed);
            assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
            assert!(
                out.ends_with("/gst/1000|[(\"amount\", \"1000\")]|"),
                "{out}"
            );
        }
    }

    #[test]
    fn pipelined_answers_in_order() {
        let mut wire = Vec::new();
        for i in 0..10 {
            wire.extend_from_slice(format!("GET /gst/{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        }
        let mut h = Harness::new(Limits::default());
        let (out, _) = drive(&mut h, &wire, 1000, false, &ok);
        assert_eq!(count(&out, "HTTP/1.1 200 OK"), 10);
        let positions: Vec<usize> = (0..10)
            .map(|i| out.find(&format!("/gst/{i}|")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
    }

    #[test]
    fn bodies_chunked_and_length() {
        let mut h = Harness::new(Limits::default());
        let wire = b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nwxyz";
        for step in [1, 3, 1000] {
            let (out, _) = drive(&mut h, wire, step, false, &ok);
            assert!(
                out.contains("|[]|abc") && out.ends_with("|[]|wxyz"),
                "{out}"
            );
        }
    }

    #[test]
    fn server_answers_and_keeps_alive() {
        let mut h = Harness::new(Limits::default());
        let wire = b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\nDELETE /echo HTTP/1.1\r\nHost: a\r\n\r\nOPTIONS /echo HTTP/1.1\r\nHost: a\r\n\r\nGET /health/ HTTP/1.1\r\nHost: a\r\n\r\nHEAD /gst/5 HTTP/1.1\r\nHost: a\r\n\r\n";
        let (out, closed) = drive(&mut h, wire, 1000, false, &ok);
        assert!(!closed);
        assert!(out.contains("HTTP/1.1 404 Not Found\r\n"));
        assert!(
            out.contains("HTTP/1.1 405 Method Not Allowed\r\n")
                && out.contains("Allow: POST, OPTIONS\r\n")
        );
        assert!(out.contains("HTTP/1.1 204 No Content\r\n"));
        assert!(out.contains("\"status\":\"healthy\""));
        // HEAD: the GET's length, no body.
        let get_body = "/gst/5|[(\"amount\", \"5\")]|";
        let last = &out[out.rfind("HTTP/1.1").unwrap()..];
        assert!(
            last.contains(&format!("Content-Length: {}\r\n", get_body.len())),
            "{last}"
        );
        assert!(last.ends_with("\r\n\r\n"), "{last}");
    }

    #[test]
    fn http10_closes_unless_keep_alive() {
        let mut h = Harness::new(Limits::default());
        let (out, closed) = drive(
            &mut h,
            b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
            1000,
            false,
            &ok,
        );
        assert!(closed);
        assert_eq!(count(&out, "HTTP/1.1 200"), 1);
        assert!(out.contains("Connection: close\r\n"));
        let (out, closed) = drive(
            &mut h,
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            1000,
            false,
            &ok,
        );
        assert!(!closed);
        assert!(out.contains("Connection: keep-alive\r\n"));
    }

    #[test]
    fn errors_close() {
        let mut h = Harness::new(Limits {
            max_body_bytes: 3,
            ..Limits::default()
        });
        let (out, closed) = drive(
            &mut h,
            b"GARBAGE\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            1000,
            false,
            &ok,
        );
        assert!(
            closed && out.starts_with("HTTP/1.1 400 ") && count(&out, "HTTP/1.1") == 1,
            "{out}"
        );
        let (out, closed) = drive(
            &mut h,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nwxyz",
            1000,
            false,
            &ok,
        );
        assert!(closed && out.starts_with("HTTP/1.1 413 "), "{out}");
        let (out, closed) =
            drive(&mut h, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n", 1, false, &ok);
        assert!(closed && out.starts_with("HTTP/1.1 413 "), "{out}");
        let (out, closed) = drive(
            &mut h,
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            1,
            false,
            &ok,
        );
        assert!(closed && out.starts_with("HTTP/1.1 400 "), "{out}");
    }

    #[test]
    fn head_too_large_is_431() {
        let mut h = Harness::new(Limits {
            max_header_bytes: 100,
            ..Limits::default()
        });
        let wire = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "y".repeat(200)
        );
        let (out, closed) = drive(&mut h, wire.as_bytes(), 7, false, &ok);
        assert!(closed && out.starts_with("HTTP/1.1 431 "), "{out}");
        // A head larger than one pool buffer but under the cap is fine.
        let mut h = Harness::new(Limits {
            max_header_bytes: 64 << 10,
            ..Limits::default()
        });
        let wire = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "y".repeat(40 << 10)
        );
        let (out, closed) = drive(&mut h, wire.as_bytes(), 4096, false, &ok);
        assert!(!closed && out.starts_with("HTTP/1.1 200 "), "{out}");
    }

    #[test]
    fn expect_continue() {
        let mut h = Harness::new(Limits::default());
        let wire = b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi";
        let (out, _) = drive(&mut h, wire, 1000, false, &ok);
        assert!(
            out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
            "{out}"
        );
        let wire =
            b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: bogus\r\nContent-Length: 2\r\n\r\nhi";
        let (out, closed) = drive(&mut h, wire, 1000, false, &ok);
        assert!(closed && out.starts_with("HTTP/1.1 417 "), "{out}");
    }

    /// RFC 9110 §10.1.1: a request refused on its head gets the final status, never a
    /// `100 Continue` first (the client then need not send the body at all).
    #[test]
    fn expect_continue_refused_gets_no_100() {
        let head = |target: &str, auth: &str, length: usize| {
            format!("POST {target} HTTP/1.1\r\nHost: a\r\n{auth}Expect: 100-continue\r\nContent-Length: {length}\r\n\r\n")
        };
        let mut h = Harness::new(Limits {
            max_body_bytes: 10,
            ..Limits::default()
        });
        h.guard.token = Secret::new("sesame");
        let auth = "Authorization: Bearer sesame\r\n";
        for (wire, status) in [
            (head("/echo", "", 2), "401"),
            (head("/nope", auth, 2), "404"),
            (head("/gst/1", auth, 2), "405"),
            (head("/echo", auth, 11), "413"),
        ] {
            let (out, closed) = drive(&mut h, wire.as_bytes(), 1000, false, &ok);
            assert!(
                closed && out.starts_with(&format!("HTTP/1.1 {status} ")),
                "{wire}: {out}"
            );
            assert!(!out.contains("100 Continue"), "{wire}: {out}");
        }
        let (out, _) = drive(&mut h, head("/echo", auth, 2).as_bytes(), 1000, false, &ok);
        assert!(out.starts_with("HTTP/1.1 100 Continue\r\n\r\n"), "{out}");
    }

    /// Issue 4: `--max-buffered-bytes` holds while bytes are buffered, not only at admission.
    #[test]
    fn buffered_bytes_cap_holds_for_growing_bodies() {
        let limits = Limits {
            max_buffered_bytes: 16 << 10,
            ..Limits::default()
        };
        // A chunked body growing past the cap: 503 + Retry-After mid-body, then close.
        let mut wire =
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..8 {
            wire.extend_from_slice(format!("1000\r\n{}\r\n", "x".repeat(4096)).as_bytes());
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let mut h = Harness::new(limits.clone());
        let (out, closed) = drive(&mut h, &wire, 1000, false, &ok);
        assert!(closed && out.starts_with("HTTP/1.1 503 "), "{out}");
        assert!(out.contains("Retry-After: 1\r\n") && out.contains("Connection: close\r\n"));
        assert_eq!(count(&out, "HTTP/1.1 "), 1, "{out}");
        // A declared length that would not fit: 503 at admission, before any `100 Continue`.
        let wire = b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 20000\r\n\r\n";
        let (out, closed) = drive(&mut h, wire, 1000, false, &ok);
        assert!(closed && out.starts_with("HTTP/1.1 503 "), "{out}");
        // The same bodies fit under the cap when the rest of the server holds little…
        let wire = format!(
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 8000\r\n\r\n{}",
            "y".repeat(8000)
        );
        let (out, _) = drive(&mut h, wire.as_bytes(), 1000, false, &ok);
        assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
        // …and a declared body is counted whole from admission on, before its bytes arrive.
        let mut conn = Conn::new(9, None, Instant::now());
        conn.readable = true;
        let mut pipe = Pipe::new(
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 8000\r\n\r\nyy",
            1000,
            false,
        );
        let mut ctx = h.ctx();
        conn.read_from(&mut pipe, &mut ctx).unwrap();
        assert!(matches!(conn.advance(&mut ctx), Next::Wait));
        assert!(conn.held_bytes() >= 8000, "{}", conn.held_bytes());
        // A body never takes capacity beyond what it may hold.
        let mut body = Vec::new();
        for _ in 0..100 {
            grow_body(&mut body, 700, 5000);
            body.resize((body.len() + 700).min(5000), 0);
        }
        assert_eq!(body.capacity(), 5000);
        conn.on_close(ctx.metrics, false);
        conn.release(ctx.bufs);
        let text = h.metrics.render(0);
        let series = r#"etamil_http_rejections_total{reason="buffers_full"} 2"#;
        assert!(text.lines().any(|l| l == series), "{series} in\n{text}");
    }

    /// Others holding bytes count too: a chunked body gets only the room they leave.
    #[test]
    fn buffered_bytes_of_other_connections_count() {
        let mut h = Harness::new(Limits {
            max_buffered_bytes: 64 << 10,
            ..Limits::default()
        });
        let wire = format!(
            "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n{}\r\n0\r\n\r\n",
            "z".repeat(0x2000)
        );
        let (out, _) = drive(&mut h, wire.as_bytes(), 1000, false, &ok);
        assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
        h.others = (64 << 10) - (8 << 10);
        let (out, closed) = drive(&mut h, wire.as_bytes(), 1000, false, &ok);
        assert!(closed && out.starts_with("HTTP/1.1 503 "), "{out}");
        // /metrics must fit too; /health is always answered.
        h.others = 64 << 10;
        let wire =
            b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n";
        let (out, _) = drive(&mut h, wire, 1000, false, &ok);
        assert!(
            out.starts_with("HTTP/1.1 503 ") && out.contains("HTTP/1.1 200 OK"),
            "{out}"
        );
        h.others = 0;
        let (out, _) = drive(&mut h, wire, 1000, false, &ok);
        assert_eq!(count(&out, "HTTP/1.1 200 OK"), 2, "{out}");
    }

    #[test]
    fn eof_after_request_still_answers_then_closes() {
        let mut h = Harness::new(Limits::default());
        let (out, closed) = drive(
            &mut h,
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            1000,
            true,
            &ok,
        );
        assert!(closed && out.starts_with("HTTP/1.1 200 "), "{out}");
        let (out, closed) = drive(&mut h, b"GET / HTTP/1.1\r\nHo", 1000, true, &ok);
        assert!(closed && out.is_empty());
    }

    #[test]
    fn keepalive_requests_limit() {
        let mut h = Harness::new(Limits {
            keepalive_requests: 2,
            ..Limits::default()
        });
        let wire = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let (out, closed) = drive(&mut h, wire, 1000, false, &ok);
        assert!(closed);
        assert_eq!(count(&out, "HTTP/1.1 200"), 2);
        assert_eq!(count(&out, "Connection: close"), 1);
    }

    #[test]
    fn handler_failures_map_to_status() {
        let mut h = Harness::new(Limits::default());
        let fail = |_: &Work| JobOutcome::Failed {
            status: 500,
            message: "line 1, column 2: division by zero".into(),
        };
        let (out, closed) = drive(
            &mut h,
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: my-id\r\n\r\n",
            1000,
            false,
            &fail,
        );
        assert!(!closed);
        assert!(out.contains(r#"{"error":"line 1, column 2: division by zero","status":500,"request_id":"my-id"}"#), "{out}");
        let busy = |_: &Work| JobOutcome::Failed {
            status: 503,
            message: "waited".into(),
        };
        let (out, _) = drive(
            &mut h,
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            1000,
            false,
            &busy,
        );
        assert!(out.contains("Retry-After: 1\r\n"), "{out}");
        let none = |_: &Work| JobOutcome::NoContent;
        let (out, _) = drive(
            &mut h,
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            1000,
            false,
            &none,
        );
        assert!(
            out.starts_with("HTTP/1.1 204 No Content\r\n") && !out.contains("Content-Length"),
            "{out}"
        );
    }

    #[test]
    fn answers_are_counted_once_and_in_flight_balances() {
        let mut h = Harness::new(Limits::default());
        let wire = b"GET /gst/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /gst/2 HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi";
        let (out, _) = drive(&mut h, wire, 7, false, &ok);
        assert_eq!(count(&out, "HTTP/1.1 "), 4, "{out}");
        assert_eq!(h.metrics.in_flight.get(), 0);
        let text = h.metrics.render(0);
        for series in [
            r#"etamil_http_requests_total{route="/gst/:amount",method="GET",status="200"} 2"#,
            r#"etamil_http_requests_total{route="-",method="GET",status="404"} 1"#,
            r#"etamil_http_requests_total{route="/echo",method="POST",status="200"} 1"#,
            &format!("etamil_http_received_bytes_total {}", wire.len()),
            &format!("etamil_http_sent_bytes_total {}", out.len()),
        ] {
            assert!(text.lines().any(|l| l == series), "{series} in\n{text}");
        }

        // Closed while the body arrives, and while the handler runs: no answer is counted,
        // and the request leaves the in-flight count.
        for wire in [
            &b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nhi"[..],
            &b"GET /gst/3 HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        ] {
            let mut conn = Conn::new(2, None, Instant::now());
            conn.readable = true;
            let mut pipe = Pipe::new(wire, 1000, false);
            let mut ctx = h.ctx();
            conn.read_from(&mut pipe, &mut ctx).unwrap();
            let _ = conn.advance(&mut ctx);
            assert_eq!(ctx.metrics.in_flight.get(), 1);
            conn.on_close(ctx.metrics, false);
            conn.release(ctx.bufs);
            assert_eq!(h.metrics.in_flight.get(), 0);
        }
        let total: u64 = h
            .metrics
            .render(0)
            .lines()
            .filter(|l| l.starts_with("etamil_http_requests_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        assert_eq!(total, 4);
    }

    #[test]
    fn refusals_are_counted_by_reason() {
        let mut h = Harness::new(Limits {
            max_body_bytes: 3,
            max_uri_bytes: 10,
            ..Limits::default()
        });
        for wire in [
            &b"GET /very/long/target HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            &b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nwxyz"[..],
            &b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
        ] {
            drive(&mut h, wire, 1000, false, &ok);
        }
        let text = h.metrics.render(0);
        for series in [
            r#"etamil_http_rejections_total{reason="uri_too_long"} 1"#,
            r#"etamil_http_rejections_total{reason="body_too_large"} 1"#,
            r#"etamil_http_rejections_total{reason="bad_request"} 1"#,
            r#"etamil_http_requests_total{route="-",method="GET",status="414"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == series), "{series} in\n{text}");
        }
        assert_eq!(h.metrics.in_flight.get(), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x1234_5678_u64;
        let alphabet = b"GET /:%0aAzHTP1.\r\n: chunked0;Content-Length\x00\xff";
        for _ in 0..300 {
            let mut wire =
                b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..64 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                wire.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let mut h = Harness::new(Limits::default());
            let _ = drive(
                &mut h,
                &wire,
                (seed % 7 + 1) as usize,
                seed.is_multiple_of(2),
                &ok,
            );
        }
    }
}
