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
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use nix::sys::signal::Signal;
use slab::Slab;

use super::conn::{BufPool, Conn, Ctx, Next};
use super::guard::{self, Guard, Secret};
use super::limits::Limits;
use super::metrics::{AcceptPause, Metrics};
use super::placement::{self, Placement};
use super::pool::{Busy, Completion, Job, Pool, STALL, WORKER_STACK_BYTES};
use super::response::{DateCache, IdGen};
use super::signals::{Note, Notifier, SignalPipe, RELOADED};
use super::timer::{Deadline, TimerKind, Timers};
use crate::app::App;
use crate::lang::CompileError;
use crate::logging;

/// The listening socket.
pub const LISTENER: Token = Token(usize::MAX - 1);
/// The pool's waker: completions are ready.
pub const WAKER: Token = Token(usize::MAX - 2);
/// The self-pipe: a signal arrived or a reload finished.
pub const SIGNALS: Token = Token(usize::MAX - 3);

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
/// Within one batch of events, staged jobs are flushed and completions drained this often.
const DRAIN_EVERY_EVENTS: usize = 64;
/// Descriptors the process holds besides connections when they cannot be counted at start:
/// stdin, stdout, stderr, the epoll instance, the waker's eventfd and the listener.
const FIXED_FDS: u64 = 6;

/// The context a `Conn` step gets, borrowed field by field from the reactor so that the slab
/// entry can be borrowed mutably beside it.
macro_rules! conn_ctx {
    ($r:ident, $now:expr, $buffered:expr, $open_fds:expr) => {
        Ctx {
            app: &$r.app,
            limits: &$r.limits,
            date: $r.date.get(),
            ids: &mut $r.ids,
            bufs: &mut $r.bufs,
            started: $r.started,
            access_log: $r.access_log,
            now: $now,
            buffered_bytes: $buffered,
            ready: $r.ready,
            draining: $r.draining,
            guard: &mut $r.guard,
            metrics: &$r.metrics,
            open_fds: $open_fds,
        }
    };
}

/// The descriptors open now, counted once when the reactor starts (a handful, and no
/// connections yet): what we opened plus whatever the parent left us. `process_open_fds` is
/// this plus the open connections, so a scrape never walks /proc/self/fd (SERVER.md
/// "Metrics"). Falls back to `FIXED_FDS` where /proc is not mounted.
fn fds_at_start() -> u64 {
    match std::fs::read_dir("/proc/self/fd") {
        // The listing includes the descriptor of the directory being read.
        Ok(dir) => (dir.count() as u64).saturating_sub(1).max(1),
        Err(_) => FIXED_FDS,
    }
}

struct Entry {
    conn: Conn,
    stream: TcpStream,
    /// The deadline last put in the timer heap for this connection; a heap entry that differs
    /// is stale.
    scheduled: Option<(Instant, TimerKind)>,
    /// What `conn.held_bytes()` said last, as counted in `Reactor::buffered`.
    held: usize,
}

/// How the loop ended (main.rs turns it into an exit status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every received request was answered and the workers joined: exit 0.
    Drained,
    /// The drain ran past `--shutdown-timeout`: exit 1.
    TimedOut,
    /// A second SIGTERM/SIGINT during the drain: exit at once with 128 + signal.
    Forced(Signal),
}

/// What a reload thread hands back.
struct Reloaded {
    app: Result<App, Vec<CompileError>>,
    /// The re-read `--auth-token-file`, when there is one.
    token: Option<Result<Secret, String>>,
}

/// The graceful drain after SIGTERM/SIGINT (SERVER.md "Signals").
struct Drain {
    /// The end of `--drain-delay`: then the listener closes.
    close_listener_at: Instant,
    /// Set when the listener closes: the end of `--shutdown-timeout`.
    deadline: Option<Instant>,
    /// Requests answered by workers since the signal.
    finished: u64,
    /// Connections open when the listener closed.
    open_at_close: usize,
}

/// The running server's loop state.
pub struct Reactor {
    poll: Poll,
    /// None once the drain closed it.
    listener: Option<TcpListener>,
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
    signals: SignalPipe,
    /// Scratch for what the signal pipe said.
    notes: Vec<Note>,
    drain: Option<Drain>,
    shutdown_timeout: Duration,
    drain_delay: Duration,
    /// The app file, for SIGHUP; None for the embedded app.
    app_path: Option<PathBuf>,
    /// Results of reloads compiled off the reactor thread.
    reloads: mpsc::Receiver<Reloaded>,
    reload_tx: mpsc::Sender<Reloaded>,
    guard: Guard,
    /// `--auth-token-file`, re-read on SIGHUP.
    auth_file: Option<PathBuf>,
    reloading: bool,
    /// A SIGHUP arrived during a reload: start another when it ends (the file may have changed
    /// again after the first one read it).
    reload_again: bool,
    /// Shared with the workers; the reactor counts answers, connections and rejections.
    metrics: Arc<Metrics>,
    /// Descriptors held besides connections, from `fds_at_start`.
    fixed_fds: u64,
    /// Accepting is paused at `--max-connections` (so each pause is counted once).
    paused_at_limit: bool,
    colocate: bool,
}

/// Options of the loop beyond `Limits`.
pub struct Settings {
    pub workers: usize,
    /// `--colocate`: let the placement governor share one CPU among the threads at light load.
    pub colocate: bool,
    pub access_log: bool,
    pub shutdown_timeout: Duration,
    pub drain_delay: Duration,
    /// The app file to recompile on SIGHUP; None for the embedded app.
    pub app_path: Option<PathBuf>,
    /// `--auth-token-file`, re-read on SIGHUP.
    pub auth_file: Option<PathBuf>,
    pub metrics: Arc<Metrics>,
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
        let signals = SignalPipe::install()?;
        poll.registry().register(
            &mut SourceFd(&signals.raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        let (reload_tx, reloads) = mpsc::channel();
        let waker = Waker::new(poll.registry(), WAKER)?;
        let pool = Pool::start(
            settings.workers,
            limits.queue_depth,
            limits.budget(),
            limits.max_buffered_bytes,
            waker,
            Arc::clone(&settings.metrics),
        )?;
        settings.metrics.workers.set(pool.workers() as i64);
        Ok(Reactor {
            poll,
            listener: Some(listener),
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
            signals,
            notes: Vec::new(),
            drain: None,
            shutdown_timeout: settings.shutdown_timeout,
            drain_delay: settings.drain_delay,
            app_path: settings.app_path.clone(),
            reloads,
            reload_tx,
            reloading: false,
            reload_again: false,
            guard: Guard::default(),
            auth_file: settings.auth_file.clone(),
            metrics: Arc::clone(&settings.metrics),
            fixed_fds: fds_at_start(),
            paused_at_limit: false,
            colocate: settings.colocate,
        })
    }

    /// Sets the admission policy (rate limit, CORS, token); off until called.
    pub fn set_guard(&mut self, guard: Guard) {
        self.guard = guard;
    }

    /// Runs until the drain ends (or a fatal error of the poll itself).
    pub fn run(mut self) -> io::Result<Stop> {
        let mut events = Events::with_capacity(EVENTS);
        // Started here, not in `new`: it needs the id of the thread that runs the loop. Dropped
        // (stopped, threads spread) when `run` returns, before the workers are joined.
        let placement = self.colocate.then(|| {
            let threads = self.pool.placement_threads(placement::current_tid());
            Placement::start(threads, Arc::clone(&self.metrics))
        });
        logging::hold_access_lines();
        let stop = loop {
            self.pool.flush();
            logging::send_held_lines();
            let stall_watch = self.pool.watch_stall();
            let pending = self.pool.reactor_sleeping() || !self.again.is_empty();
            let timeout = if pending {
                Some(Duration::ZERO)
            } else if stall_watch {
                Some(self.poll_timeout().map_or(STALL, |t| t.min(STALL)))
            } else {
                self.poll_timeout()
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    logging::stop_holding_access_lines();
                    return Err(e);
                }
            }
            self.pool.reactor_awake();
            self.now = Instant::now();
            self.date.refresh(SystemTime::now());
            let mut signalled = false;
            for (n, event) in events.iter().enumerate() {
                // A long batch (hundreds of connections ready at once): hand the jobs read so
                // far to the workers and write the answers they finished, rather than leave
                // both waiting for the end of the pass.
                if n > 0 && n % DRAIN_EVERY_EVENTS == 0 {
                    self.pool.flush();
                    self.drain_completions();
                }
                match event.token() {
                    LISTENER => {
                        self.listener_ready = true;
                        self.accept_all();
                    }
                    WAKER => {} // completions are drained below, after every poll
                    SIGNALS => signalled = true,
                    t => self.on_event(t.0, event),
                }
            }
            if signalled {
                if let Some(stop) = self.on_signals() {
                    break stop;
                }
            }
            // Hand this pass's requests to the workers before writing the answers they have
            // finished: the handlers then run while we write (on another core), or (on a
            // shared core) they are done by the time we drain, so each request is read,
            // run and answered in one pass instead of two.
            self.pool.flush();
            self.drain_completions();
            for (key, serial) in std::mem::take(&mut self.again) {
                if self.conns.get(key).is_some_and(|e| e.conn.serial == serial) {
                    self.drive(key);
                }
            }
            self.fire_timers();
            self.maybe_resume_accepting();
            if let Some(stop) = self.check_drain() {
                break stop;
            }
        };
        logging::stop_holding_access_lines();
        drop(placement);
        if stop == Stop::Drained {
            self.pool.shutdown();
        }
        Ok(stop)
    }

    /// Drains the signal pipe, *then* acts on what it said (signal-hook's order).
    fn on_signals(&mut self) -> Option<Stop> {
        let mut notes = std::mem::take(&mut self.notes);
        self.signals.drain(&mut notes);
        let mut stop = None;
        for note in notes.drain(..) {
            match note {
                Note::Signal(sig @ (Signal::SIGTERM | Signal::SIGINT)) => {
                    if self.drain.is_some() {
                        log::warn!("second {sig}: exiting at once");
                        stop = Some(Stop::Forced(sig));
                        break;
                    }
                    self.start_drain(sig);
                }
                Note::Signal(Signal::SIGHUP) => self.on_sighup(),
                Note::Signal(_) => {}
                Note::Reloaded => self.on_reloaded(),
            }
        }
        self.notes = notes;
        stop
    }

    /// SIGTERM/SIGINT: /ready says draining at once; the listener closes after the drain delay.
    fn start_drain(&mut self, sig: Signal) {
        log::info!(
            "{sig}: draining (/ready answers 503; accepting stops in {:?}, then up to {:?} to finish {} connections)",
            self.drain_delay,
            self.shutdown_timeout,
            self.conns.len()
        );
        self.ready = false;
        self.drain = Some(Drain {
            close_listener_at: self.now.checked_add(self.drain_delay).unwrap_or(self.now),
            deadline: None,
            finished: 0,
            open_at_close: 0,
        });
    }

    /// Closes the listener once the drain delay is over, and ends the loop when everything
    /// received was answered or the shutdown timeout passed.
    fn check_drain(&mut self) -> Option<Stop> {
        let now = Instant::now();
        let drain = self.drain.as_mut()?;
        if drain.deadline.is_none() {
            if now < drain.close_listener_at {
                return None;
            }
            drain.deadline = Some(now.checked_add(self.shutdown_timeout).unwrap_or(now));
            // Take what already waits in the backlog: those clients sent their requests to us.
            self.listener_ready = true;
            self.accept_all();
            let drain = self.drain.as_mut()?;
            drain.open_at_close = self.conns.len();
            if let Some(mut listener) = self.listener.take() {
                let _ = self.poll.registry().deregister(&mut listener);
                // Dropped: closed, so the kernel refuses new connections (or, with
                // --reuse-port, hands them to the instance beside us).
            }
            self.listener_ready = false;
            self.draining = true;
            log::info!(
                "stopped accepting; finishing the requests of {} connections",
                self.conns.len()
            );
            // Idle connections close now; the rest after their last received request. Read
            // first: a request already in the socket counts as received.
            let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
            for key in keys {
                if let Some(entry) = self.conns.get_mut(key) {
                    entry.conn.readable = true;
                }
                self.drive(key);
            }
        }
        let drain = self.drain.as_ref()?;
        let (queued, busy) = (self.pool.queued(), self.pool.busy());
        if self.conns.is_empty() && queued == 0 && busy == 0 {
            log::info!(
                "Shutdown complete: {} connections finished, {} requests answered by workers during the drain, 0 left",
                drain.open_at_close,
                drain.finished
            );
            return Some(Stop::Drained);
        }
        if drain.deadline.is_some_and(|d| now >= d) {
            log::warn!(
                "Shutdown timed out after {:?}: closing {} connections with {} requests queued and {} running; {} requests answered during the drain",
                self.shutdown_timeout,
                self.conns.len(),
                queued,
                busy,
                drain.finished
            );
            return Some(Stop::TimedOut);
        }
        None
    }

    /// SIGHUP: recompile the app file off the reactor thread (compiling can take a while and
    /// needs a deep stack); `on_reloaded` swaps it in.
    fn on_sighup(&mut self) {
        if self.drain.is_some() {
            log::info!("SIGHUP ignored while draining");
            return;
        }
        let Some(path) = self.app_path.clone() else {
            log::info!("SIGHUP ignored: serving the embedded app");
            return;
        };
        if self.reloading {
            self.reload_again = true;
            return;
        }
        log::info!("SIGHUP: reloading {}", path.display());
        let tx = self.reload_tx.clone();
        let notifier: Notifier = self.signals.notifier();
        let auth_file = self.auth_file.clone();
        let metrics = Arc::clone(&self.metrics);
        let spawned = std::thread::Builder::new()
            .name("etamil-reload".into())
            .stack_size(WORKER_STACK_BYTES)
            .spawn(move || {
                placement::release_current_thread();
                let app = App::load(Some(&path)).map(|mut app| {
                    // Same Metrics: a pattern keeps its series across reloads.
                    app.register_metrics(&metrics);
                    app
                });
                let token = auth_file.map(|f| guard::read_token_file(&f));
                let _ = tx.send(Reloaded { app, token });
                notifier.notify(RELOADED);
            });
        match spawned {
            Ok(_) => self.reloading = true,
            Err(e) => log::error!("cannot start the reload thread: {e}"),
        }
    }

    /// A reload finished: swap routes and program together, or keep the old app.
    fn on_reloaded(&mut self) {
        while let Ok(Reloaded { app: result, token }) = self.reloads.try_recv() {
            self.reloading = false;
            match token {
                Some(Ok(secret)) => self.guard.token = Some(secret),
                Some(Err(e)) => log::error!("{e}; keeping the previous token"),
                None => {}
            }
            match result {
                Ok(app) => {
                    self.metrics.record_reload(true);
                    log::info!(
                        "reloaded {}: {} routes",
                        app.origin,
                        app.program.routes().len()
                    );
                    // Requests already admitted keep the Arc of the app they were parsed under.
                    self.app = Arc::new(app);
                }
                Err(errors) => {
                    self.metrics.record_reload(false);
                    log::error!(
                        "reload failed with {} compile errors; still serving the previous app",
                        errors.len()
                    );
                    for e in &errors {
                        log::error!("{e}");
                    }
                }
            }
        }
        if !self.reloading && std::mem::take(&mut self.reload_again) {
            self.on_sighup();
        }
    }

    /// The poll timeout: the next timer deadline or the end of an EMFILE pause.
    fn poll_timeout(&self) -> Option<Duration> {
        let drain = self
            .drain
            .as_ref()
            .map(|d| d.deadline.unwrap_or(d.close_listener_at));
        let next = [self.accept_paused_until, self.timers.next_deadline(), drain]
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
            let open_fds = self.fixed_fds + self.conns.len() as u64;
            let Some(entry) = self.conns.get_mut(d.key) else {
                continue;
            };
            let others = self.buffered - entry.held;
            let mut ctx = conn_ctx!(self, now, others, open_fds);
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
        if held != entry.held {
            self.buffered = self.buffered - entry.held + held;
            entry.held = held;
            self.pool.set_buffered(self.buffered);
        }
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
                if !self.paused_at_limit {
                    self.paused_at_limit = true;
                    self.metrics
                        .record_accept_pause(AcceptPause::MaxConnections);
                }
                return;
            }
            let Some(listener) = &self.listener else {
                return;
            };
            self.paused_at_limit = false;
            match listener.accept() {
                Ok((stream, peer)) => self.add(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.listener_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                    log::warn!("accept: {e}; pausing accepting for {EMFILE_PAUSE:?}");
                    self.metrics.record_accept_pause(AcceptPause::Emfile);
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
        self.metrics.connections.inc();
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
        let open_fds = self.open_fds();
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        let others = self.buffered - entry.held;
        let mut ctx = conn_ctx!(self, self.now, others, open_fds);
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
                        enqueued: ctx.now,
                    };
                    if let Err(Busy(job)) = self.pool.try_submit(job) {
                        log::warn!(
                            request_id = &*job.request_id,
                            queue_depth = self.limits.queue_depth;
                            "queue full: 503"
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
            let open_fds = self.open_fds();
            let Some(entry) = self.conns.get_mut(done.key) else {
                log::debug!("completion for closed connection dropped");
                continue;
            };
            if entry.conn.serial != done.serial || !entry.conn.is_running() {
                log::debug!("stale completion for conn {} dropped", done.serial);
                continue;
            }
            let others = self.buffered - entry.held;
            let mut ctx = conn_ctx!(self, self.now, others, open_fds);
            entry.conn.on_done(done.outcome, &mut ctx);
            if let Some(d) = &mut self.drain {
                d.finished += 1;
            }
            // Write now, not on the next writable edge (the socket is usually writable already).
            self.drive(done.key);
        }
        self.spare = batch;
    }

    fn close(&mut self, key: usize) {
        if let Some(mut entry) = self.conns.try_remove(key) {
            self.buffered -= entry.held;
            self.pool.set_buffered(self.buffered);
            entry.conn.on_close(&self.metrics, self.access_log);
            self.metrics.connections.dec();
            entry.conn.release(&mut self.bufs);
            // Dropping the stream closes it, which also removes it from the epoll set.
        }
    }

    /// Open connections (for /health and, later, metrics).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The descriptors the server holds: the fixed ones and one per open connection.
    fn open_fds(&self) -> u64 {
        self.fixed_fds + self.conns.len() as u64
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
            metric_ids: Vec::new(),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let settings = Settings {
            workers: 2,
            access_log: false,
            colocate: false,
            shutdown_timeout: Duration::from_secs(30),
            drain_delay: Duration::ZERO,
            app_path: None,
            auth_file: None,
            metrics: Arc::new(Metrics::new(&[])),
        };
        let reactor = Reactor::new(listener, Arc::new(app), limits, &settings).unwrap();
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
