//! The command line: subcommands, the options table, `ETAMIL_*` variables, value parsers, help.
//!
//! Owns turning argv and the environment into a `Command`; a bad value becomes a `UsageError`
//! naming the option (main.rs turns it into exit status 2). It does not read files, bind sockets
//! or compile anything. Only options whose behaviour is implemented are in `OPTIONS`: an option
//! that would be accepted and ignored is worse than one that is refused.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::lang::Budget;
use crate::logging::{LogConfig, LogFormat};
use crate::server::guard::{Cors, Secret};
use crate::server::limits::{self, Limits};

/// What kind of value an option takes, which decides its parser and its `--help` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// An IP address (or `localhost`).
    Host,
    /// 0–65535; 0 picks a free port.
    Port,
    /// A positive whole number.
    Count,
    /// A whole number where 0 means "off" or "unlimited".
    CountOrZero,
    /// `ms`, `s` or `m`; a bare number is refused.
    Duration,
    /// A duration where 0 (`0s`) means "none".
    DurationOrZero,
    /// Bytes, or `KiB`/`MiB`/`GiB`.
    Size,
    /// `on` or `off`.
    Switch,
    /// error, warn, info, debug.
    Level,
    /// A positive decimal (`0.5`, `100`).
    Rate,
    /// `*` or a comma-separated list of origins.
    Origins,
    /// A file path.
    File,
    /// json or text.
    LogFormat,
}

/// One row of the options table.
struct Opt {
    name: &'static str,
    kind: Kind,
    default: &'static str,
    help: &'static str,
    /// Also accepted by `run` (the handler budget).
    in_run: bool,
}

const OPTIONS: &[Opt] = &[
    Opt {
        name: "host",
        kind: Kind::Host,
        default: "127.0.0.1",
        help: "address to listen on",
        in_run: false,
    },
    Opt {
        name: "port",
        kind: Kind::Port,
        default: "9999",
        help: "port; 0 picks a free one",
        in_run: false,
    },
    Opt {
        name: "workers",
        kind: Kind::Count,
        default: "CPUs",
        help: "interpreter threads",
        in_run: false,
    },
    Opt {
        name: "max-connections",
        kind: Kind::Count,
        default: "10000",
        help: "open connections; at the limit accepting pauses",
        in_run: false,
    },
    Opt {
        name: "keepalive-requests",
        kind: Kind::CountOrZero,
        default: "10000",
        help: "requests per connection before it is closed; 0 = unlimited",
        in_run: false,
    },
    Opt {
        name: "queue-depth",
        kind: Kind::Count,
        default: "1024",
        help: "requests waiting for a worker; beyond it 503",
        in_run: false,
    },
    Opt {
        name: "handler-timeout",
        kind: Kind::Duration,
        default: "5s",
        help: "wall time of one run → 504 (run: none)",
        in_run: true,
    },
    Opt {
        name: "handler-instructions",
        kind: Kind::CountOrZero,
        default: "0",
        help: "VM instructions per run; 0 = off",
        in_run: true,
    },
    Opt {
        name: "handler-memory",
        kind: Kind::Size,
        default: "64MiB",
        help: "live value bytes per run (run: 1GiB)",
        in_run: true,
    },
    Opt {
        name: "max-header-bytes",
        kind: Kind::Size,
        default: "16KiB",
        help: "the whole request head → 431",
        in_run: false,
    },
    Opt {
        name: "max-header-count",
        kind: Kind::Count,
        default: "100",
        help: "header fields → 431",
        in_run: false,
    },
    Opt {
        name: "max-uri-bytes",
        kind: Kind::Size,
        default: "8KiB",
        help: "request target → 414",
        in_run: false,
    },
    Opt {
        name: "max-body-bytes",
        kind: Kind::Size,
        default: "1MiB",
        help: "request body → 413",
        in_run: false,
    },
    Opt {
        name: "max-buffered-bytes",
        kind: Kind::Size,
        default: "256MiB",
        help: "request and response bytes held in total; beyond it 503",
        in_run: false,
    },
    Opt {
        name: "header-timeout",
        kind: Kind::Duration,
        default: "10s",
        help: "a request head, total, from its first byte → 408",
        in_run: false,
    },
    Opt {
        name: "body-timeout",
        kind: Kind::Duration,
        default: "30s",
        help: "a request body, total, from the end of the head → 408",
        in_run: false,
    },
    Opt {
        name: "idle-timeout",
        kind: Kind::Duration,
        default: "60s",
        help: "between a response and the next request → close",
        in_run: false,
    },
    Opt {
        name: "write-timeout",
        kind: Kind::Duration,
        default: "30s",
        help: "no write progress for this long → close",
        in_run: false,
    },
    Opt {
        name: "shutdown-timeout",
        kind: Kind::Duration,
        default: "30s",
        help: "longest graceful drain after SIGTERM (then exit 1)",
        in_run: false,
    },
    Opt {
        name: "drain-delay",
        kind: Kind::DurationOrZero,
        default: "0s",
        help: "on SIGTERM, /ready answers 503 this long before accepting stops",
        in_run: false,
    },
    Opt {
        name: "rate-limit",
        kind: Kind::Rate,
        default: "off",
        help: "requests per second per client IP (IPv6 by /64) → 429",
        in_run: false,
    },
    Opt {
        name: "rate-burst",
        kind: Kind::Count,
        default: "the rate rounded up",
        help: "token bucket size of --rate-limit",
        in_run: false,
    },
    Opt {
        name: "cors-origin",
        kind: Kind::Origins,
        default: "off",
        help: "* or a comma-separated list of allowed origins",
        in_run: false,
    },
    Opt {
        name: "auth-token-file",
        kind: Kind::File,
        default: "none",
        help: "file holding the bearer token every app route needs (or ETAMIL_AUTH_TOKEN)",
        in_run: false,
    },
    Opt {
        name: "log-format",
        kind: Kind::LogFormat,
        default: "json",
        help: "json (one object per line) or text (for people)",
        in_run: false,
    },
    Opt {
        name: "log-level",
        kind: Kind::Level,
        default: "info",
        help: "error, warn, info, debug",
        in_run: false,
    },
    Opt {
        name: "access-log",
        kind: Kind::Switch,
        default: "on",
        help: "one log line per request",
        in_run: false,
    },
    Opt {
        name: "reuse-port",
        kind: Kind::Switch,
        default: "off",
        help: "SO_REUSEPORT, so a new instance can bind beside this one",
        in_run: false,
    },
    Opt {
        name: "colocate",
        kind: Kind::Switch,
        default: "on",
        help: "at light load, run the reactor and the workers on one CPU (short hand-offs)",
        in_run: false,
    },
];

/// Spellings of the older eTamil CLI, accepted and ignored (SERVER.md "Command line").
const IGNORED_FLAGS: &[&str] = &["--server", "--async"];

/// Everything `serve` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub workers: usize,
    pub reuse_port: bool,
    /// Let the placement governor put the reactor and the workers on one CPU at light load.
    pub colocate: bool,
    pub log_format: LogFormat,
    pub log_level: log::LevelFilter,
    pub access_log: bool,
    pub limits: Limits,
    /// Longest graceful drain, counted from the end of the drain delay.
    pub shutdown_timeout: Duration,
    /// Time /ready answers 503 on SIGTERM before the listener closes.
    pub drain_delay: Duration,
    /// Requests per second per client; None = off.
    pub rate_limit: Option<Rate>,
    /// Token bucket size (the rate rounded up, at least 1, unless given).
    pub rate_burst: u64,
    pub cors: Option<Cors>,
    pub auth: Option<Auth>,
    /// None = the embedded default app.
    pub app: Option<PathBuf>,
}

/// A positive, finite rate per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub f64);

// Only ever a positive finite number (parse_rate), for which == is an equivalence.
impl Eq for Rate {}

/// Where the bearer token comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `--auth-token-file`: read at start and on SIGHUP.
    File(PathBuf),
    /// `ETAMIL_AUTH_TOKEN`, already trimmed and non-empty.
    Token(Secret),
}

/// The variable holding the token itself (not an option: never a flag, so not in `ps`).
pub const AUTH_TOKEN_VAR: &str = "ETAMIL_AUTH_TOKEN";

impl Config {
    /// What `--log-format`, `--log-level` and `--access-log` ask of the logger.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            format: self.log_format,
            level: self.log_level,
            access_log: self.access_log,
        }
    }
}

/// Where a program comes from: a file, or standard input (`-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

/// What the command line asked for.
// Built once at start and matched at once: boxing `Serve` would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Serve(Config),
    Run { source: Source, budget: Budget },
    Check { source: Source, disasm: bool },
    Routes { app: PathBuf },
    Version,
    Help,
}

/// A command line that cannot be obeyed; exit status 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

fn find(name: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// `ETAMIL_` + the name upper-cased with `-` as `_`.
pub fn env_name(option: &str) -> String {
    format!("ETAMIL_{}", option.to_ascii_uppercase().replace('-', "_"))
}

/// Parses the arguments after the program name. `env` looks up a variable (the real
/// environment in main.rs, a map in tests).
pub fn parse(args: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<Command, UsageError> {
    let mut flags: Vec<(&'static Opt, String)> = Vec::new();
    let mut positional: Vec<String> = Vec::new();
    let mut disasm = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--help" || arg == "-h" {
            return Ok(Command::Help);
        }
        if arg == "--version" || arg == "-V" {
            return Ok(Command::Version);
        }
        if IGNORED_FLAGS.contains(&arg.as_str()) {
            continue;
        }
        if arg == "--disasm" {
            disasm = true;
            continue;
        }
        if arg == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(rest) = arg.strip_prefix("--") {
            let (name, inline) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (rest, None),
            };
            let opt = find(name).ok_or_else(|| usage(format!("unknown option '--{name}'")))?;
            let value = match inline {
                Some(v) => v,
                None => {
                    let v = args
                        .get(i)
                        .ok_or_else(|| usage(format!("--{name} needs a value")))?;
                    i += 1;
                    v.clone()
                }
            };
            flags.push((opt, value));
            continue;
        }
        if arg.len() > 1 && arg.starts_with('-') {
            return Err(usage(format!("unknown option '{arg}'")));
        }
        positional.push(arg.clone());
    }

    // The first bare word is a subcommand when it names one; `./run` serves a file called run.
    let sub = match positional.first().map(String::as_str) {
        Some(w @ ("serve" | "run" | "check" | "routes")) => {
            let w = w.to_owned();
            positional.remove(0);
            w
        }
        _ => "serve".to_owned(),
    };
    if disasm && sub != "check" {
        return Err(usage("--disasm belongs to 'check'"));
    }
    let values = Values { flags, env };
    match sub.as_str() {
        "serve" => serve(&values, positional),
        "run" => {
            values.only(|o| o.in_run, "run")?;
            let source = one_source(positional, "run")?;
            Ok(Command::Run {
                source,
                budget: values.run_budget()?,
            })
        }
        "check" => {
            values.only(|_| false, "check")?;
            Ok(Command::Check {
                source: one_source(positional, "check")?,
                disasm,
            })
        }
        _ => {
            values.only(|_| false, "routes")?;
            match one_source(positional, "routes")? {
                Source::File(app) => Ok(Command::Routes { app }),
                Source::Stdin => Err(usage("routes needs an app file")),
            }
        }
    }
}

fn one_source(mut positional: Vec<String>, sub: &str) -> Result<Source, UsageError> {
    if positional.len() != 1 {
        return Err(usage(format!(
            "{sub} takes exactly one FILE.qmz (or - for standard input)"
        )));
    }
    let p = positional.remove(0);
    Ok(if p == "-" {
        Source::Stdin
    } else {
        Source::File(PathBuf::from(p))
    })
}

fn serve(values: &Values, mut positional: Vec<String>) -> Result<Command, UsageError> {
    if positional.len() > 1 {
        return Err(usage(format!(
            "serve takes at most one app file, got {}",
            positional.len()
        )));
    }
    let app = positional.pop().map(PathBuf::from);
    let defaults = Limits::default();
    let workers = match values.count("workers")? {
        Some(n) => n as usize,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let limits = Limits {
        max_connections: values
            .count("max-connections")?
            .map_or(defaults.max_connections, |n| n as usize),
        keepalive_requests: values
            .count("keepalive-requests")?
            .unwrap_or(defaults.keepalive_requests),
        queue_depth: values
            .count("queue-depth")?
            .map_or(defaults.queue_depth, |n| n as usize),
        handler_timeout: values
            .duration("handler-timeout")?
            .unwrap_or(defaults.handler_timeout),
        handler_instructions: values
            .count("handler-instructions")?
            .unwrap_or(defaults.handler_instructions),
        handler_memory_bytes: values
            .size("handler-memory")?
            .unwrap_or(defaults.handler_memory_bytes),
        max_header_bytes: values
            .size("max-header-bytes")?
            .unwrap_or(defaults.max_header_bytes),
        max_header_count: values
            .count("max-header-count")?
            .map_or(defaults.max_header_count, |n| n as usize),
        max_uri_bytes: values
            .size("max-uri-bytes")?
            .unwrap_or(defaults.max_uri_bytes),
        max_body_bytes: values
            .size("max-body-bytes")?
            .unwrap_or(defaults.max_body_bytes),
        header_timeout: values
            .duration("header-timeout")?
            .unwrap_or(defaults.header_timeout),
        body_timeout: values
            .duration("body-timeout")?
            .unwrap_or(defaults.body_timeout),
        idle_timeout: values
            .duration("idle-timeout")?
            .unwrap_or(defaults.idle_timeout),
        write_timeout: values
            .duration("write-timeout")?
            .unwrap_or(defaults.write_timeout),
        max_buffered_bytes: values
            .size("max-buffered-bytes")?
            .unwrap_or(defaults.max_buffered_bytes),
    };
    let rate_limit = values.parsed(
        "rate-limit",
        "a positive decimal such as 0.5 or 100",
        parse_rate,
    )?;
    let rate_burst = match values.count("rate-burst")? {
        Some(n) => n,
        None => rate_limit.map_or(1, |r| (r.0.ceil() as u64).max(1)),
    };
    Ok(Command::Serve(Config {
        host: values.host()?.unwrap_or(IpAddr::from([127, 0, 0, 1])),
        port: values.port()?.unwrap_or(9999),
        workers,
        reuse_port: values.switch("reuse-port")?.unwrap_or(false),
        colocate: values.switch("colocate")?.unwrap_or(true),
        log_format: values.log_format()?.unwrap_or(LogFormat::Json),
        log_level: values.level()?.unwrap_or(log::LevelFilter::Info),
        access_log: values.switch("access-log")?.unwrap_or(true),
        limits,
        rate_limit,
        rate_burst,
        cors: values.parsed(
            "cors-origin",
            "* or a comma-separated list of origins",
            Cors::parse,
        )?,
        auth: auth(values)?,
        shutdown_timeout: values
            .duration("shutdown-timeout")?
            .unwrap_or(limits::DEFAULT_SHUTDOWN_TIMEOUT),
        drain_delay: values
            .duration("drain-delay")?
            .unwrap_or(limits::DEFAULT_DRAIN_DELAY),
        app,
    }))
}

/// `--auth-token-file` or `ETAMIL_AUTH_TOKEN`, not both; an empty variable is refused.
fn auth(values: &Values<'_>) -> Result<Option<Auth>, UsageError> {
    let file = values.parsed("auth-token-file", "a file path", |s| {
        (!s.is_empty()).then(|| PathBuf::from(s))
    })?;
    let token = (values.env)(AUTH_TOKEN_VAR);
    match (file, token) {
        (Some(_), Some(_)) => Err(usage(format!(
            "--auth-token-file and {AUTH_TOKEN_VAR} are both set; use one"
        ))),
        (Some(f), None) => Ok(Some(Auth::File(f))),
        (None, Some(t)) => match Secret::new(&t) {
            Some(secret) => Ok(Some(Auth::Token(secret))),
            None => Err(usage(format!("{AUTH_TOKEN_VAR} is empty"))),
        },
        (None, None) => Ok(None),
    }
}

/// A positive decimal: digits, optionally a point and more digits.
fn parse_rate(s: &str) -> Option<Rate> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
        return None;
    }
    let r: f64 = s.parse().ok()?;
    (r > 0.0 && r.is_finite()).then_some(Rate(r))
}

/// The raw values of one command line: flags first, then `ETAMIL_*` variables.
struct Values<'a> {
    flags: Vec<(&'static Opt, String)>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Values<'_> {
    /// Refuses flags the subcommand does not take. Variables are not refused: they are shared
    /// by every subcommand's environment.
    fn only(&self, allowed: impl Fn(&Opt) -> bool, sub: &str) -> Result<(), UsageError> {
        match self.flags.iter().find(|(o, _)| !allowed(o)) {
            Some((o, _)) => Err(usage(format!("--{} does not apply to '{sub}'", o.name))),
            None => Ok(()),
        }
    }

    /// The value of `name` and how to name it in a message: the last flag wins over the variable.
    fn raw(&self, name: &str) -> Option<(String, String)> {
        if let Some((_, v)) = self.flags.iter().rev().find(|(o, _)| o.name == name) {
            return Some((v.clone(), format!("--{name}")));
        }
        let var = env_name(name);
        (self.env)(&var).map(|v| (v, var))
    }

    fn parsed<T>(
        &self,
        name: &str,
        what: &str,
        f: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, UsageError> {
        match self.raw(name) {
            None => Ok(None),
            Some((v, label)) => f(v.trim())
                .map(Some)
                .ok_or_else(|| usage(format!("{label}: invalid value '{v}' (expected {what})"))),
        }
    }

    fn count(&self, name: &str) -> Result<Option<u64>, UsageError> {
        let zero_ok = find(name).is_some_and(|o| o.kind == Kind::CountOrZero);
        let what = if zero_ok {
            "a whole number, 0 = off"
        } else {
            "a positive whole number"
        };
        self.parsed(name, what, |s| parse_count(s).filter(|&n| zero_ok || n > 0))
    }

    fn duration(&self, name: &str) -> Result<Option<Duration>, UsageError> {
        if find(name).is_some_and(|o| o.kind == Kind::DurationOrZero) {
            return self.parsed(name, "a duration such as 0s, 500ms, 5s or 2m", |s| {
                parse_duration(s).or_else(|| {
                    let zero = ["0ms", "0s", "0m"].contains(&s);
                    zero.then_some(Duration::ZERO)
                })
            });
        }
        self.parsed(
            name,
            "a duration such as 500ms, 5s or 2m, above 0",
            parse_duration,
        )
    }

    fn size(&self, name: &str) -> Result<Option<usize>, UsageError> {
        self.parsed(
            name,
            "a size such as 4096, 16KiB, 1MiB or 1GiB, above 0",
            parse_size,
        )
    }

    fn switch(&self, name: &str) -> Result<Option<bool>, UsageError> {
        self.parsed(name, "on or off", |s| match s {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        })
    }

    fn host(&self) -> Result<Option<IpAddr>, UsageError> {
        self.parsed("host", "an IP address", |s| {
            if s == "localhost" {
                Some(IpAddr::from([127, 0, 0, 1]))
            } else {
                s.parse().ok()
            }
        })
    }

    fn port(&self) -> Result<Option<u16>, UsageError> {
        self.parsed("port", "a port number 0-65535", |s| {
            parse_count(s).and_then(|n| u16::try_from(n).ok())
        })
    }

    fn level(&self) -> Result<Option<log::LevelFilter>, UsageError> {
        self.parsed("log-level", "error, warn, info or debug", |s| match s {
            "error" => Some(log::LevelFilter::Error),
            "warn" => Some(log::LevelFilter::Warn),
            "info" => Some(log::LevelFilter::Info),
            "debug" => Some(log::LevelFilter::Debug),
            _ => None,
        })
    }

    fn log_format(&self) -> Result<Option<LogFormat>, UsageError> {
        self.parsed("log-format", "json or text", |s| match s {
            "json" => Some(LogFormat::Json),
            "text" => Some(LogFormat::Text),
            _ => None,
        })
    }

    /// `run`'s budget: no deadline, no instruction limit and 1 GiB unless asked.
    fn run_budget(&self) -> Result<Budget, UsageError> {
        let d = Budget::RUN_DEFAULT;
        Ok(Budget {
            timeout: self.duration("handler-timeout")?.or(d.timeout),
            max_instructions: self
                .count("handler-instructions")?
                .unwrap_or(d.max_instructions),
            max_memory_bytes: self.size("handler-memory")?.unwrap_or(d.max_memory_bytes),
        })
    }
}

fn parse_count(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `500ms`, `5s`, `2m`; a bare number and 0 are refused (SERVER.md).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (digits, unit_ms) = if let Some(d) = s.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = s.strip_suffix('s') {
        (d, 1000)
    } else if let Some(d) = s.strip_suffix('m') {
        (d, 60_000)
    } else {
        return None;
    };
    let n = parse_count(digits)?;
    let ms = n.checked_mul(unit_ms)?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// Bytes, or `KiB`, `MiB`, `GiB`; 0 is refused.
pub fn parse_size(s: &str) -> Option<usize> {
    let (digits, unit) = if let Some(d) = s.strip_suffix("KiB") {
        (d, 1u64 << 10)
    } else if let Some(d) = s.strip_suffix("MiB") {
        (d, 1 << 20)
    } else if let Some(d) = s.strip_suffix("GiB") {
        (d, 1 << 30)
    } else {
        (s, 1)
    };
    let n = parse_count(digits)?.checked_mul(unit)?;
    if n == 0 {
        return None;
    }
    usize::try_from(n).ok()
}

/// The `--help` text: usage, then one line per option with its variable and default.
pub fn help() -> String {
    let mut s = String::from(
        "etamil-mio: an HTTP/1.1 server for backends written in eTamil\n\n\
         Usage:\n  \
         etamil-mio [serve] [OPTIONS] [APP.qmz]  serve APP (the embedded default app when no file is given)\n  \
         etamil-mio run [LIMITS] FILE.qmz|-      run a program's top-level statements; அச்சு prints to stdout\n  \
         etamil-mio check [--disasm] FILE.qmz|-  compile only; report every error with line and column\n  \
         etamil-mio routes APP.qmz               one line per route: METHOD<TAB>PATTERN<TAB>FILE:LINE\n  \
         etamil-mio --version | --help\n\n\
         Options (each also read from ETAMIL_<NAME>; a flag wins; durations take ms/s/m,\n\
         sizes take KiB/MiB/GiB; run takes only the handler-* limits):\n",
    );
    for o in OPTIONS {
        let arg = match o.kind {
            Kind::Host => "ADDR",
            Kind::Port => "PORT",
            Kind::Count | Kind::CountOrZero => "N",
            Kind::Duration | Kind::DurationOrZero => "TIME",
            Kind::Size => "SIZE",
            Kind::Switch => "on|off",
            Kind::Level => "LEVEL",
            Kind::Rate => "RATE",
            Kind::Origins => "ORIGINS",
            Kind::File => "FILE",
            Kind::LogFormat => "json|text",
        };
        let flag = format!("--{} {arg}", o.name);
        s.push_str(&format!(
            "  {flag:<32} {} (default {}; {})\n",
            o.help,
            o.default,
            env_name(o.name)
        ));
    }
    s.push_str(&format!(
        "\nExit status: 0 success; 1 runtime error or failure at start; 2 usage or compile error.\n\
         Defaults: max-connections {} needs RLIMIT_NOFILE of at least that + {}.\n",
        limits::DEFAULT_MAX_CONNECTIONS,
        limits::SPARE_FDS
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn serve_cfg(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Config {
        match parse(&args(s), env) {
            Ok(Command::Serve(c)) => c,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn defaults_and_app() {
        let c = serve_cfg("app.qmz", &no_env);
        assert_eq!(c.port, 9999);
        assert_eq!(c.app, Some(PathBuf::from("app.qmz")));
        assert_eq!(c.limits, Limits::default());
        assert!(c.access_log);
        assert!(c.colocate);
        assert_eq!(c.log_config(), LogConfig::default());
        assert!(!serve_cfg("--colocate off", &no_env).colocate);
        let env = |k: &str| (k == "ETAMIL_COLOCATE").then(|| "off".to_owned());
        assert!(!serve_cfg("", &env).colocate);
        assert_eq!(serve_cfg("", &no_env).app, None);
        let env = |k: &str| (k == "ETAMIL_LOG_FORMAT").then(|| "text".to_owned());
        let c = serve_cfg("--access-log off --log-level warn", &env);
        assert_eq!(
            c.log_config(),
            LogConfig {
                format: LogFormat::Text,
                level: log::LevelFilter::Warn,
                access_log: false
            }
        );
        assert_eq!(
            serve_cfg("--log-format json", &env).log_format,
            LogFormat::Json
        );
    }

    #[test]
    fn flag_wins_over_env() {
        let env = |k: &str| match k {
            "ETAMIL_PORT" => Some("8080".to_owned()),
            "ETAMIL_WORKERS" => Some("3".to_owned()),
            _ => None,
        };
        let c = serve_cfg("--port 0", &env);
        assert_eq!(c.port, 0);
        assert_eq!(c.workers, 3);
        let c = serve_cfg("--port=7", &env);
        assert_eq!(c.port, 7);
    }

    #[test]
    fn bad_values_name_the_option() {
        for (line, name) in [
            ("--workers 0", "--workers"),
            ("--handler-timeout 5", "--handler-timeout"),
            ("--handler-timeout 0s", "--handler-timeout"),
            ("--max-body-bytes 1MB", "--max-body-bytes"),
            ("--access-log yes", "--access-log"),
            ("--colocate auto", "--colocate"),
            ("--log-format xml", "--log-format"),
            ("--log-level trace", "--log-level"),
            ("--port 70000", "--port"),
            ("--idle-timeout 0s", "--idle-timeout"),
            ("--drain-delay 3", "--drain-delay"),
            ("--rate-limit 0", "--rate-limit"),
            ("--rate-limit 1.", "--rate-limit"),
            ("--rate-limit -2", "--rate-limit"),
            ("--cors-origin ,", "--cors-origin"),
        ] {
            match parse(&args(line), &no_env) {
                Err(UsageError(m)) => assert!(m.contains(name), "{line}: {m}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        let env = |k: &str| (k == "ETAMIL_QUEUE_DEPTH").then(|| "lots".to_owned());
        match parse(&args(""), &env) {
            Err(UsageError(m)) => assert!(m.contains("ETAMIL_QUEUE_DEPTH"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rate_limit_cors_and_auth() {
        let c = serve_cfg("--rate-limit 2.5", &no_env);
        assert_eq!((c.rate_limit, c.rate_burst), (Some(Rate(2.5)), 3));
        let c = serve_cfg("--rate-limit 0.1", &no_env);
        assert_eq!(c.rate_burst, 1);
        assert_eq!(
            serve_cfg("--rate-limit 5 --rate-burst 20", &no_env).rate_burst,
            20
        );
        assert_eq!(serve_cfg("--cors-origin *", &no_env).cors, Some(Cors::Any));
        let env = |k: &str| (k == AUTH_TOKEN_VAR).then(|| " tok \n".to_owned());
        assert_eq!(
            serve_cfg("", &env).auth,
            Some(Auth::Token(Secret::new("tok").unwrap()))
        );
        match parse(&args("--auth-token-file /x"), &env) {
            Err(UsageError(m)) => assert!(m.contains("both"), "{m}"),
            other => panic!("{other:?}"),
        }
        let empty = |k: &str| (k == AUTH_TOKEN_VAR).then(|| "  ".to_owned());
        assert!(parse(&args(""), &empty).is_err());
        assert_eq!(
            serve_cfg("--auth-token-file /x", &no_env).auth,
            Some(Auth::File("/x".into()))
        );
    }

    #[test]
    fn units() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), None);
        let c = serve_cfg("--drain-delay 0s --header-timeout 250ms", &no_env);
        assert_eq!(c.drain_delay, Duration::ZERO);
        assert_eq!(c.limits.header_timeout, Duration::from_millis(250));
        assert_eq!(parse_size("16KiB"), Some(16384));
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("0KiB"), None);
        assert_eq!(parse_size("-1"), None);
    }

    #[test]
    fn subcommands() {
        assert_eq!(parse(&args("--help"), &no_env), Ok(Command::Help));
        assert_eq!(parse(&args("--version"), &no_env), Ok(Command::Version));
        assert_eq!(
            parse(&args("check --disasm a.qmz"), &no_env),
            Ok(Command::Check {
                source: Source::File("a.qmz".into()),
                disasm: true
            })
        );
        assert_eq!(
            parse(&args("routes a.qmz"), &no_env),
            Ok(Command::Routes {
                app: "a.qmz".into()
            })
        );
        match parse(&args("run --handler-timeout 2s -"), &no_env) {
            Ok(Command::Run {
                source: Source::Stdin,
                budget,
            }) => {
                assert_eq!(budget.timeout, Some(Duration::from_secs(2)));
                assert_eq!(budget.max_memory_bytes, 1 << 30);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&args("run --port 1 a.qmz"), &no_env).is_err());
        assert!(parse(&args("run"), &no_env).is_err());
        assert!(parse(&args("--bogus"), &no_env).is_err());
        // A file called run is served as ./run.
        assert_eq!(
            serve_cfg("--server ./run", &no_env).app,
            Some(PathBuf::from("./run"))
        );
    }
}
