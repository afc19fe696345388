//! The serving core: `serve(Config, App)` wires the listener, the reactor and the worker pool.
//!
//! Owns start-up only: the file-descriptor limit, binding with socket2, printing the bound
//! address on stdout. The loop lives in reactor.rs, one connection in conn.rs, the workers in
//! pool.rs. Nothing here decides an exit status: `StartError` goes back to main.rs.
//!
//! Request flow: reactor accepts → `Conn` reads and parses the head (http.rs) → admits it
//! (server endpoints, router.rs, body cap) → decodes the body (body.rs) → `Pool::try_submit`
//! → a worker runs the route → completion + waker → reactor frames it (response.rs) and writes
//! → once flushed, the answer is counted (metrics.rs) and its access line logged (logging.rs).

pub mod body;
pub mod conn;
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod placement;
pub mod pool;
pub mod reactor;
pub mod response;
pub mod router;
pub mod signals;
pub mod timer;

use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};

use crate::app::App;
use crate::config::{Auth, Config};
use limits::SPARE_FDS;
pub use reactor::Stop;

/// Listen backlog; the kernel caps it at net.core.somaxconn.
const BACKLOG: i32 = 4096;

/// Why the server could not start; each variant names the step that failed. Exit status 1.
#[derive(Debug)]
pub enum StartError {
    /// The hard RLIMIT_NOFILE is below what --max-connections needs.
    FdLimit {
        needed: u64,
        hard: u64,
    },
    RaiseFdLimit(io::Error),
    Socket(io::Error),
    SetOption(&'static str, io::Error),
    Bind(SocketAddr, io::Error),
    Listen(io::Error),
    Stdout(io::Error),
    Reactor(io::Error),
    /// `--auth-token-file` cannot be read or is empty.
    AuthToken(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::FdLimit { needed, hard } => write!(
                f,
                "file-descriptor limit too low: --max-connections needs {needed}, the hard limit is {hard} (raise it or lower --max-connections)"
            ),
            StartError::RaiseFdLimit(e) => write!(f, "cannot raise the file-descriptor limit: {e}"),
            StartError::Socket(e) => write!(f, "cannot create the listening socket: {e}"),
            StartError::SetOption(what, e) => write!(f, "cannot set {what}: {e}"),
            StartError::Bind(addr, e) => write!(f, "cannot bind {addr}: {e}"),
            StartError::Listen(e) => write!(f, "cannot listen: {e}"),
            StartError::Stdout(e) => write!(f, "cannot print the bound address: {e}"),
            StartError::Reactor(e) => write!(f, "event loop failed: {e}"),
            StartError::AuthToken(e) => f.write_str(e),
        }
    }
}

/// Starts serving `app` and runs until the drain after SIGTERM/SIGINT ends (or a fatal error).
pub fn serve(config: Config, mut app: App) -> Result<Stop, StartError> {
    let guard = admission(&config)?;
    raise_fd_limit(config.limits.max_connections as u64 + SPARE_FDS)?;
    let listener = bind(&config)?;
    let addr = listener.local_addr().map_err(StartError::Listen)?;
    // One Metrics for the life of the process: a reload registers its patterns in the same one.
    let metrics = Arc::new(metrics::Metrics::new(&app.route_patterns()));
    app.register_metrics(&metrics);
    let settings = reactor::Settings {
        workers: config.workers,
        colocate: config.colocate,
        access_log: config.access_log,
        shutdown_timeout: config.shutdown_timeout,
        drain_delay: config.drain_delay,
        app_path: config.app.clone(),
        auth_file: match &config.auth {
            Some(Auth::File(f)) => Some(f.clone()),
            _ => None,
        },
        metrics,
    };
    log_start(&config, &app, addr);
    // The signal handlers are installed here: only then may anyone learn the address and
    // signal us (a SIGTERM before would kill the process the default way, not drain it).
    let mut reactor = reactor::Reactor::new(listener, Arc::new(app), config.limits, &settings)
        .map_err(StartError::Reactor)?;
    reactor.set_guard(guard);
    // The first stdout line is the bound address, for every port (tests read it for --port 0).
    let mut out = io::stdout().lock();
    writeln!(out, "{addr}")
        .and_then(|()| out.flush())
        .map_err(StartError::Stdout)?;
    drop(out);
    reactor.run().map_err(StartError::Reactor)
}

/// The admission policy from the options; reads `--auth-token-file`.
fn admission(config: &Config) -> Result<guard::Guard, StartError> {
    let token = match &config.auth {
        None => None,
        Some(Auth::Token(t)) => Some(t.clone()),
        Some(Auth::File(f)) => Some(guard::read_token_file(f).map_err(StartError::AuthToken)?),
    };
    Ok(guard::Guard {
        rate: config
            .rate_limit
            .map(|r| guard::RateLimiter::new(r.0, config.rate_burst, guard::RATE_LIMIT_CLIENTS)),
        cors: config.cors.clone(),
        token,
    })
}

/// Start-up lines (info, structured): the bound address and the app, each route, the limits.
fn log_start(config: &Config, app: &App, addr: SocketAddr) {
    let app_name = match &config.app {
        Some(path) => path.display().to_string(),
        None => "embedded default".to_owned(),
    };
    let routes = app.program.routes();
    log::info!(
        addr:% = addr,
        app = app_name.as_str(),
        routes = routes.len(),
        version = env!("CARGO_PKG_VERSION");
        "Server started"
    );
    for r in routes {
        log::info!(
            method = r.method.as_str(),
            pattern = r.path.as_str(),
            source:% = format_args!("{}:{}", r.file, r.line);
            "route"
        );
    }
    config.limits.log_in_force(config.workers);
}

/// SERVER.md: the soft limit is raised to the hard one; below `needed` we refuse to start.
fn raise_fd_limit(needed: u64) -> Result<(), StartError> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| StartError::RaiseFdLimit(e.into()))?;
    if hard < needed {
        return Err(StartError::FdLimit { needed, hard });
    }
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
            .map_err(|e| StartError::RaiseFdLimit(e.into()))?;
    }
    Ok(())
}

fn bind(config: &Config) -> Result<std::net::TcpListener, StartError> {
    let addr = SocketAddr::new(config.host, config.port);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(StartError::Socket)?;
    // Restarting must not wait out TIME_WAIT from the previous instance.
    socket
        .set_reuse_address(true)
        .map_err(|e| StartError::SetOption("SO_REUSEADDR", e))?;
    if config.reuse_port {
        socket
            .set_reuse_port(true)
            .map_err(|e| StartError::SetOption("SO_REUSEPORT", e))?;
    }
    socket
        .set_nonblocking(true)
        .map_err(|e| StartError::SetOption("O_NONBLOCK", e))?;
    socket
        .bind(&addr.into())
        .map_err(|e| StartError::Bind(addr, e))?;
    socket.listen(BACKLOG).map_err(StartError::Listen)?;
    Ok(socket.into())
}
