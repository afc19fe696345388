//! The event loop: one thread, one `mio::Poll`, the listener, a `Slab` of connections, the
//! pool's `Waker`.
//!
//! Owns accepting (and pausing at `--max-connections` or on EMFILE), turning readiness into
//! `Conn` steps, submitting jobs, draining completions in batches (dropping stale ones by
//! serial), and closing. It never runs eTamil and never blocks except in `poll`. Timers, the
//! signal pipe and the drain (issue 4) plug in here: `poll_timeout` is where the next deadline
//! goes, and a `SIGNALS` token sits beside `LISTENER` and `WAKER`.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::conn::{BufPool, Conn, Ctx, Next};
use super::limits::Limits;
use super::pool::{Busy, Completion, Job, Pool};
use super::response::{DateCache, IdGen};
use super::timer::{Deadline, TimerKind, Timers};
use crate::app::App;

/// The listening socket.
pub const LISTENER: Token = Token(usize::MAX - 1);
/// The pool's waker: completions are ready.
pub const WAKER: Token = Token(usize::MAX - 2);

/// Connection tokens are slab keys; the fixed tokens above are never valid keys.
fn token(key: usize) -> Token {
    Token(key)
}

/// How long accepting pauses after EMFILE/ENFILE (SERVER.md `--max-connections`).
const EMFILE_PAUSE: Duration = Duration::from_millis(100);
/// Rounds one connection may pump before others get a turn: every round makes progress (a
/// write, a read, or a pipelined request), so hitting this only means a busy client; the
/// connection is revisited on the next loop iteration (its edges are already consumed).
const MAX_PUMP_ROUNDS: usize = 64;
/// Events taken per poll.
const EVENTS: usize = 1024;

struct Entry {
    conn: Conn,
    stream: TcpStream,
    /// The deadline last put in the timer heap for this connection; a heap entry that differs
    /// is stale.
    scheduled: Option<(Instant, TimerKind)>,
    /// What `conn.held_bytes()` said last, as counted in `Reactor::buffered`.
    held: usize,
}

/// The running server's loop state.
pub struct Reactor {
    poll: Poll,
    listener: TcpListener,
    conns: Slab<Entry>,
    pool: Pool,
    app: Arc<App>,
    limits: Limits,
    date: DateCache,
    ids: IdGen,
    bufs: BufPool,
    started: Instant,
    access_log: bool,
    next_serial: u64,
    /// The listener had a connection we did not accept yet (paused at the limit or by EMFILE).
    listener_ready: bool,
    /// Accepting is paused until then after EMFILE.
    accept_paused_until: Option<Instant>,
    /// Spare completion buffer, swapped with the pool's.
    spare: Vec<Completion>,
    /// Connections that used up their pump rounds: (key, serial) to drive again.
    again: Vec<(usize, u64)>,
    timers: Timers,
    /// Scratch for expired deadlines.
    expired: Vec<Deadline>,
    /// The clock read after each poll; every timer of the iteration starts from it.
    now: Instant,
    /// Bytes held by all connections and their requests at workers (`--max-buffered-bytes`).
    buffered: usize,
    /// /ready answers 200 (false from SIGTERM on).
    ready: bool,
    /// The listener is closed and connections finish what they received.
    draining: bool,
}

/// Options of the loop beyond `Limits`.
pub struct Settings {
    pub workers: usize,
    pub access_log: bool,
}

impl Reactor {
    pub fn new(
        listener: std::net::TcpListener,
        app: Arc<App>,
        limits: Limits,
        settings: &Settings,
    ) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let pool = Pool::start(settings.workers, limits.queue_depth, limits.budget(), waker)?;
        Ok(Reactor {
            poll,
            listener,
            conns: Slab::with_capacity(1024),
            pool,
            app,
            limits,
            date: DateCache::default(),
            ids: IdGen::default(),
            bufs: BufPool::default(),
            started: Instant::now(),
            access_log: settings.access_log,
            next_serial: 0,
            listener_ready: true,
            accept_paused_until: None,
            spare: Vec::with_capacity(256),
            again: Vec::new(),
            timers: Timers::default(),
            expired: Vec::new(),
            now: Instant::now(),
            buffered: 0,
            ready: true,
            draining: false,
        })
    }

    /// Runs until a fatal error of the poll itself.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS);
        loop {
            let pending = self.pool.reactor_sleeping() || !self.again.is_empty();
            let timeout = if pending {
                Some(Duration::ZERO)
            } else {
                self.poll_timeout()
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            self.pool.reactor_awake();
            self.now = Instant::now();
            self.date.refresh(SystemTime::now());
            for event in events.iter() {
                match event.token() {
                    LISTENER => {
                        self.listener_ready = true;
                        self.accept_all();
                    }
                    WAKER => {} // completions are drained below, after every poll
                    t => self.on_event(t.0, event),
                }
            }
            self.drain_completions();
            for (key, serial) in std::mem::take(&mut self.again) {
                if self.conns.get(key).is_some_and(|e| e.conn.serial == serial) {
                    self.drive(key);
                }
            }
            self.fire_timers();
            self.maybe_resume_accepting();
        }
    }

    /// The poll timeout: the next timer deadline or the end of an EMFILE pause.
    fn poll_timeout(&self) -> Option<Duration> {
        let next = [self.accept_paused_until, self.timers.next_deadline()]
            .into_iter()
            .flatten()
            .min()?;
        // Round up to whole milliseconds (epoll's unit) so a deadline is not polled for twice.
        let wait = next.saturating_duration_since(Instant::now());
        Some(wait + Duration::from_micros(999))
    }

    /// Acts on every deadline that passed and is still the connection's current one.
    fn fire_timers(&mut self) {
        let now = Instant::now();
        let mut expired = std::mem::take(&mut self.expired);
        self.timers.expired(now, &mut expired);
        for d in expired.drain(..) {
            let Some(entry) = self.conns.get_mut(d.key) else {
                continue;
            };
            if entry.conn.serial != d.serial || entry.scheduled != Some((d.at, d.kind)) {
                continue; // stale: the connection moved on
            }
            entry.scheduled = None;
            let mut ctx = Ctx {
                app: &self.app,
                limits: &self.limits,
                date: self.date.get(),
                ids: &mut self.ids,
                bufs: &mut self.bufs,
                started: self.started,
                access_log: self.access_log,
                now,
                buffered_bytes: self.buffered,
                ready: self.ready,
                draining: self.draining,
            };
            match entry.conn.on_timeout(d.kind, &mut ctx) {
                Next::Close => self.close(d.key),
                _ => self.drive(d.key),
            }
        }
        self.expired = expired;
        // Stale entries are dropped lazily; rebuild when they dominate.
        if self.timers.len() > 2 * self.conns.len() + 1024 {
            let conns = &self.conns;
            self.timers.retain(|d| {
                conns.get(d.key).is_some_and(|e| {
                    e.conn.serial == d.serial && e.scheduled == Some((d.at, d.kind))
                })
            });
        }
    }

    /// Re-reads a connection's deadline and held bytes after it changed.
    fn sync(&mut self, key: usize) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        let held = entry.conn.held_bytes();
        self.buffered = self.buffered - entry.held + held;
        entry.held = held;
        let deadline = entry.conn.deadline(&self.limits);
        if deadline != entry.scheduled {
            entry.scheduled = deadline;
            if let Some((at, kind)) = deadline {
                self.timers.schedule(Deadline {
                    at,
                    key,
                    serial: entry.conn.serial,
                    kind,
                });
            }
        }
    }

    fn accept_all(&mut self) {
        if self.accept_paused_until.is_some_and(|t| Instant::now() < t) {
            return;
        }
        self.accept_paused_until = None;
        while self.listener_ready {
            if self.conns.len() >= self.limits.max_connections {
                // Paused at the limit; `listener_ready` stays set for when we resume.
                return;
            }
            match self.listener.accept() {
                Ok((stream, peer)) => self.add(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.listener_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                    log::warn!("accept: {e}; pausing accepting for {EMFILE_PAUSE:?}");
                    self.accept_paused_until = Some(Instant::now() + EMFILE_PAUSE);
                    return;
                }
                // ECONNABORTED and friends concern one would-be connection only.
                Err(e) => log::debug!("accept: {e}"),
            }
        }
    }

    fn add(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        // Responses are written whole; Nagle would only delay the last segment.
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("set_nodelay: {e}");
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        // Readable and writable once, edge-triggered, for the connection's life: no reregister.
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            token(key),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("register connection: {e}");
            return;
        }
        self.next_serial += 1;
        entry.insert(Entry {
            conn: Conn::new(self.next_serial, Some(peer), self.now),
            stream,
            scheduled: None,
            held: 0,
        });
        self.sync(key);
    }

    fn maybe_resume_accepting(&mut self) {
        if !self.listener_ready {
            return;
        }
        if self.accept_paused_until.is_some_and(|t| Instant::now() < t) {
            return;
        }
        // Resume below 90 % of the limit, so accept does not flap at the edge.
        let resume_below = self.limits.max_connections - self.limits.max_connections / 10;
        if self.accept_paused_until.is_some() || self.conns.len() < resume_below {
            self.accept_all();
        }
    }

    fn on_event(&mut self, key: usize, event: &Event) {
        let Some(entry) = self.conns.get_mut(key) else {
            return; // a token we no longer hold
        };
        if event.is_error() {
            log::debug!(
                "conn {}: socket error while {}",
                entry.conn.serial,
                entry.conn.phase()
            );
            self.close(key);
            return;
        }
        if event.is_readable() || event.is_read_closed() {
            entry.conn.readable = true;
        }
        if event.is_read_closed() {
            entry.conn.read_closed = true;
        }
        if event.is_writable() || event.is_write_closed() {
            entry.conn.writable = true;
        }
        self.drive(key);
    }

    /// Writes, reads and advances one connection until it must wait for the socket or a worker.
    fn drive(&mut self, key: usize) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        let mut ctx = Ctx {
            app: &self.app,
            limits: &self.limits,
            date: self.date.get(),
            ids: &mut self.ids,
            bufs: &mut self.bufs,
            started: self.started,
            access_log: self.access_log,
            now: self.now,
            buffered_bytes: self.buffered,
            ready: self.ready,
            draining: self.draining,
        };
        let mut close = false;
        let mut rounds = 0;
        loop {
            rounds += 1;
            if rounds > MAX_PUMP_ROUNDS {
                self.again.push((key, entry.conn.serial));
                break;
            }
            let conn = &mut entry.conn;
            if conn.has_output() && conn.writable {
                if let Err(e) = conn.write_to(&mut entry.stream, ctx.bufs, ctx.now) {
                    log::debug!("conn {}: write: {e}", conn.serial);
                    close = true;
                    break;
                }
            }
            if conn.readable && conn.wants_read() {
                match conn.read_from(&mut entry.stream, &mut ctx) {
                    Ok(_) => {}
                    Err(e) => {
                        log::debug!("conn {}: read: {e}", conn.serial);
                        close = true;
                        break;
                    }
                }
            }
            match conn.advance(&mut ctx) {
                Next::Close => {
                    close = true;
                    break;
                }
                Next::Linger => {
                    if let Err(e) = entry.stream.shutdown(Shutdown::Write) {
                        log::debug!("conn {}: shutdown: {e}", conn.serial);
                        close = true;
                        break;
                    }
                }
                Next::Submit(work) => {
                    let job = Job {
                        key,
                        serial: conn.serial,
                        app: work.app,
                        route: work.route,
                        input: work.input,
                        request_id: work.request_id,
                        enqueued: Instant::now(),
                    };
                    if let Err(Busy(job)) = self.pool.try_submit(job) {
                        log::warn!(
                            "{} queue full ({} waiting): 503",
                            job.request_id,
                            self.limits.queue_depth
                        );
                        conn.on_busy(&mut ctx);
                    }
                }
                Next::Wait => {
                    let can_write = conn.has_output() && conn.writable;
                    // Stopped reading on a full buffer: once advance made room, read again
                    // (the edge was not consumed; waiting for another would stall).
                    let can_read = conn.readable && conn.wants_read() && conn.has_room(ctx.limits);
                    if !can_write && !can_read {
                        break;
                    }
                }
            }
        }
        if close {
            self.close(key);
        } else {
            self.sync(key);
        }
    }

    fn drain_completions(&mut self) {
        let mut batch = std::mem::take(&mut self.spare);
        self.pool.take_completions(&mut batch);
        for done in batch.drain(..) {
            let Some(entry) = self.conns.get_mut(done.key) else {
                log::debug!("completion for closed connection dropped");
                continue;
            };
            if entry.conn.serial != done.serial || !entry.conn.is_running() {
                log::debug!("stale completion for conn {} dropped", done.serial);
                continue;
            }
            let mut ctx = Ctx {
                app: &self.app,
                limits: &self.limits,
                date: self.date.get(),
                ids: &mut self.ids,
                bufs: &mut self.bufs,
                started: self.started,
                access_log: self.access_log,
                now: self.now,
                buffered_bytes: self.buffered,
                ready: self.ready,
                draining: self.draining,
            };
            entry.conn.on_done(done.outcome, &mut ctx);
            // Write now, not on the next writable edge (the socket is usually writable already).
            self.drive(done.key);
        }
        self.spare = batch;
    }

    fn close(&mut self, key: usize) {
        if let Some(mut entry) = self.conns.try_remove(key) {
            self.buffered -= entry.held;
            entry.conn.release(&mut self.bufs);
            // Dropping the stream closes it, which also removes it from the epoll set.
        }
    }

    /// Open connections (for /health and, later, metrics).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }
}

#[cfg(test)]
mod tests {
    //! The real loop on a real socket, with an app whose routes have no compiled handlers:
    //! every routed request reaches a worker and comes back as a 500, which exercises the
    //! whole hand-off without depending on the front end.
    use super::*;
    use crate::lang::ast::Segment;
    use crate::lang::chunk::RouteInfo;
    use crate::lang::Program;
    use crate::server::router::Router;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    fn start(limits: Limits) -> SocketAddr {
        let routes = [RouteInfo {
            method: "GET".into(),
            path: "/x/:id".into(),
            segments: vec![Segment::Literal("x".into()), Segment::Param("id".into())],
            file: Arc::from("t.qmz"),
            line: 1,
        }];
        let app = App {
            program: Program::default(),
            router: Router::new(&routes),
            origin: "t".into(),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let settings = Settings {
            workers: 2,
            access_log: false,
        };
        let mut reactor = Reactor::new(listener, Arc::new(app), limits, &settings).unwrap();
        std::thread::spawn(move || reactor.run());
        addr
    }

    /// Reads until `n` complete responses (each ends with its Content-Length body) arrived.
    fn read_responses(s: &mut TcpStream, n: usize) -> String {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut all = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            let text = String::from_utf8_lossy(&all).into_owned();
            if count_complete(&text) >= n {
                return text;
            }
            let got = s.read(&mut buf).unwrap();
            assert!(got > 0, "closed early after {text:?}");
            all.extend_from_slice(&buf[..got]);
        }
    }

    fn count_complete(text: &str) -> usize {
        let mut rest = text;
        let mut n = 0;
        while let Some(end) = rest.find("\r\n\r\n") {
            let head = &rest[..end];
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if rest.len() < end + 4 + len {
                break;
            }
            rest = &rest[end + 4 + len..];
            n += 1;
        }
        n
    }

    #[test]
    fn health_routes_and_worker_errors() {
        let addr = start(Limits::default());
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /x/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\nGET /x/2 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let text = read_responses(&mut s, 4);
        let statuses: Vec<&str> = text
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &text[i + 9..i + 12])
            .collect();
        assert_eq!(statuses, ["200", "500", "404", "500"], "{text}");
        assert!(text.contains("no route number 0"), "{text}");
    }

    #[test]
    fn many_connections_through_the_pool() {
        let addr = start(Limits::default());
        let mut conns: Vec<TcpStream> = (0..300)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        for (i, c) in conns.iter_mut().enumerate() {
            c.write_all(
                format!(
                    "GET /x/{i} HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        }
        for c in conns.iter_mut() {
            let text = read_responses(c, 2);
            assert!(
                text.starts_with("HTTP/1.1 500 ") && text.contains("HTTP/1.1 200 OK"),
                "{text}"
            );
        }
    }

    #[test]
    fn at_max_connections_accepting_pauses_and_resumes() {
        let addr = start(Limits {
            max_connections: 2,
            ..Limits::default()
        });
        let a = TcpStream::connect(addr).unwrap();
        let b = TcpStream::connect(addr).unwrap();
        // The third waits in the backlog until one of the first two closes.
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        drop(a);
        drop(b);
        let text = read_responses(&mut c, 1);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    }
}
