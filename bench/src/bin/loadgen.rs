//! loadgen: the HTTP/1.1 load generator of etamil-mio (mio, no async runtime).
//! `loadgen --help` for the options; bench/README.md for the recipes.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use etamil_bench::engine::{self, Progress, RunConfig, Stats};
use etamil_bench::report::{self, Summary};
use etamil_bench::request::{RequestSpec, Target};
use etamil_bench::{svg, sys};

const HELP: &str = "\
loadgen — HTTP/1.1 load generator for etamil-mio (loopback targets only)

usage: loadgen [OPTIONS] [NAME=]URL...

  -c, --connections N    concurrent connections (default 10)
  -t, --threads N        generator threads, each with its own Poll (default 1)
  -d, --duration D       run time, e.g. 10s, 500ms, 2m (default 10s; a cap with -n)
  -n, --requests N       stop after N requests answered or failed
  -p, --pipeline N       requests in flight per connection (default 1)
      --no-keepalive     a new connection per request (Connection: close); latency includes connect
  -m, --method M         request method (default GET)
  -H, --header 'K: V'    extra request header (repeatable)
  -b, --body TEXT        request body (Content-Length is added)
      --body-file FILE   request body from a file
  -R, --rate N           open loop: N requests/s in total, latency from the intended send time
      --timeout D        a request unanswered (or connect unfinished) this long is an error (2s)
      --max-connecting N connects in progress at once per thread (default 256)
      --sweep LIST       concurrency levels, e.g. 1,10,100,1000:2 (C:T sets threads for a level)
      --repeat N         runs per level and target, interleaved; medians reported (default 1)
      --pause D          pause between runs (default 500ms)
      --svg FILE         sweep chart: throughput and p99 against concurrency
      --title TEXT       chart title
      --p99-limit D      dashed limit line on the chart's p99 panel
      --json FILE        every run and the medians, as JSON
      --tsv FILE         the medians, one tab-separated row per target and level
      --hold D           C10K: one request per connection, hold all idle for D, one more each
      --server-pid PID   sample this process's VmRSS (hold mode: memory per connection)
  -q, --quiet            no progress line and no per-run text
  -h, --help

With several URLs every level runs each target in turn (A B A B with --repeat), so drift shows.
Exit status: 0 when every run finished without errors, 1 when any had errors, 2 usage.
";

struct Args {
    base: RunConfig,
    targets: Vec<Target>,
    sweep: Vec<(usize, Option<usize>)>,
    repeat: usize,
    pause: Duration,
    svg: Option<String>,
    title: Option<String>,
    p99_limit: Option<Duration>,
    json: Option<String>,
    tsv: Option<String>,
    quiet: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration '{s}' (use e.g. 500ms, 10s, 2m)");
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(v * mult))
}

fn parse_num<T: std::str::FromStr>(flag: &str, s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{flag}: invalid number '{s}'"))
}

fn parse_args(argv: Vec<String>) -> Result<Option<Args>, String> {
    let mut base = RunConfig {
        target: Target::parse("http://127.0.0.1:9999/").map_err(|e| e.to_string())?,
        request: RequestSpec {
            method: "GET".into(),
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        },
        connections: 10,
        threads: 1,
        duration: Duration::from_secs(10),
        requests: None,
        depth: 1,
        rate: None,
        timeout: Duration::from_secs(2),
        max_connecting: 256,
        hold: None,
        server_pid: None,
    };
    let mut a = Args {
        base: base.clone(),
        targets: Vec::new(),
        sweep: Vec::new(),
        repeat: 1,
        pause: Duration::from_millis(500),
        svg: None,
        title: None,
        p99_limit: None,
        json: None,
        tsv: None,
        quiet: false,
    };
    let mut duration_set = false;
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        // --flag=value, and wrk's -c100 for the short flags that take a value
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ if arg.len() > 2
                && arg.is_char_boundary(2)
                && !arg.starts_with("--")
                && arg.starts_with('-')
                && "ctdnpmHbR".contains(&arg[1..2]) =>
            {
                (arg[..2].to_string(), Some(arg[2..].to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut val = || -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "-c" | "--connections" => base.connections = parse_num(&flag, &val()?)?,
            "-t" | "--threads" => base.threads = parse_num(&flag, &val()?)?,
            "-d" | "--duration" => {
                base.duration = parse_duration(&val()?)?;
                duration_set = true;
            }
            "-n" | "--requests" => base.requests = Some(parse_num(&flag, &val()?)?),
            "-p" | "--pipeline" => base.depth = parse_num(&flag, &val()?)?,
            "--no-keepalive" => base.request.close = true,
            "-k" | "--keepalive" => base.request.close = false,
            "-m" | "--method" => base.request.method = val()?.to_ascii_uppercase(),
            "-H" | "--header" => {
                let h = val()?;
                let (k, v) = h
                    .split_once(':')
                    .ok_or_else(|| format!("header '{h}' is not 'Name: value'"))?;
                base.request
                    .headers
                    .push((k.trim().to_string(), v.trim().to_string()));
            }
            "-b" | "--body" => base.request.body = val()?.into_bytes(),
            "--body-file" => {
                let f = val()?;
                base.request.body = fs::read(&f).map_err(|e| format!("{f}: {e}"))?;
            }
            "-R" | "--rate" => {
                let r: f64 = parse_num(&flag, &val()?)?;
                if !(r > 0.0 && r.is_finite()) {
                    return Err("--rate must be positive".into());
                }
                base.rate = Some(r);
            }
            "--timeout" => base.timeout = parse_duration(&val()?)?,
            "--max-connecting" => base.max_connecting = parse_num(&flag, &val()?)?,
            "--sweep" => {
                for part in val()?.split(',').filter(|p| !p.is_empty()) {
                    let (c, t) = match part.split_once(':') {
                        Some((c, t)) => (c, Some(parse_num(&flag, t)?)),
                        None => (part, None),
                    };
                    a.sweep.push((parse_num(&flag, c)?, t));
                }
            }
            "--repeat" => a.repeat = parse_num::<usize>(&flag, &val()?)?.max(1),
            "--pause" => a.pause = parse_duration(&val()?)?,
            "--svg" => a.svg = Some(val()?),
            "--title" => a.title = Some(val()?),
            "--p99-limit" => a.p99_limit = Some(parse_duration(&val()?)?),
            "--json" => a.json = Some(val()?),
            "--tsv" => a.tsv = Some(val()?),
            "--hold" => base.hold = Some(parse_duration(&val()?)?),
            "--server-pid" => base.server_pid = Some(parse_num(&flag, &val()?)?),
            "-q" | "--quiet" => a.quiet = true,
            f if f.starts_with('-') => return Err(format!("unknown option {f} (see --help)")),
            _ => a
                .targets
                .push(Target::parse(&arg).map_err(|e| e.to_string())?),
        }
    }
    if a.targets.is_empty() {
        return Err("no target URL (see --help)".into());
    }
    if base.connections == 0 || base.threads == 0 || base.depth == 0 {
        return Err("--connections, --threads and --pipeline must be at least 1".into());
    }
    if base.request.close && base.depth > 1 {
        return Err("--pipeline needs keep-alive".into());
    }
    if let Some(h) = base.hold {
        base.depth = 1;
        base.rate = None;
        base.requests = None;
        // Bounded all the same: connects and two rounds each get their timeout.
        base.duration = h + base.timeout * 4 + Duration::from_secs(30);
    } else if base.requests.is_some() && !duration_set {
        base.duration = Duration::from_secs(300);
    }
    if a.sweep.is_empty() {
        a.sweep.push((base.connections, Some(base.threads)));
    }
    a.base = base;
    Ok(Some(a))
}

/// Runs one configuration, with a progress line on a terminal.
fn run_one(cfg: &RunConfig, show_progress: bool) -> Stats {
    let threads = report::effective_threads(cfg);
    let progress: Arc<Vec<Progress>> =
        Arc::new((0..threads).map(|_| Progress::default()).collect());
    if !show_progress {
        return engine::run(cfg, &progress);
    }
    thread::scope(|s| {
        let h = s.spawn(|| engine::run(cfg, &progress));
        let start = Instant::now();
        let mut out = io::stdout();
        while !h.is_finished() {
            thread::sleep(Duration::from_millis(100));
            let done: u64 = progress
                .iter()
                .map(|p| p.responses.load(Ordering::Relaxed))
                .sum();
            let errs: u64 = progress
                .iter()
                .map(|p| p.errors.load(Ordering::Relaxed))
                .sum();
            let t = start.elapsed().as_secs_f64();
            let _ = write!(
                out,
                "\r\x1b[2K  [{t:6.1}s / {:.1}s] {} responses, {:.0} req/s, {errs} errors",
                cfg.duration.as_secs_f64(),
                report::fmt_count(done),
                done as f64 / t.max(1e-3)
            );
            let _ = out.flush();
        }
        let _ = write!(out, "\r\x1b[2K");
        let _ = out.flush();
        h.join().unwrap_or_default()
    })
}

fn write_file(path: &str, content: &str) -> bool {
    match fs::write(path, content) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("loadgen: cannot write {path}: {e}");
            false
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let a = match parse_args(argv) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let nofile = sys::raise_nofile();
    let biggest = a.sweep.iter().map(|(c, _)| *c).max().unwrap_or(0) as u64;
    if nofile < biggest + 32 {
        eprintln!("loadgen: warning: file-descriptor limit {nofile} is below {biggest} connections; raise `ulimit -Hn`");
    }
    let tty = io::stdout().is_terminal();
    let show = tty && !a.quiet;
    let mut run_json = Vec::new();
    let mut summaries: Vec<Summary> = Vec::new();
    let mut any_errors = false;
    let mut first = true;
    for &(conns, threads) in &a.sweep {
        let mut per_target: Vec<Vec<Summary>> = vec![Vec::new(); a.targets.len()];
        for _ in 0..a.repeat {
            for (k, target) in a.targets.iter().enumerate() {
                if !first && !a.pause.is_zero() {
                    thread::sleep(a.pause);
                }
                first = false;
                let mut cfg = a.base.clone();
                cfg.target = target.clone();
                cfg.connections = conns;
                cfg.threads = threads.unwrap_or(a.base.threads);
                let stats = run_one(&cfg, show);
                if !a.quiet {
                    print!("{}", report::text(&cfg, &stats));
                    let _ = io::stdout().flush();
                }
                any_errors |= stats.errors.total() > 0;
                run_json.push(report::json(&cfg, &stats));
                per_target[k].push(Summary::of(&cfg, &stats));
            }
        }
        for runs in &per_target {
            summaries.push(Summary::median(runs));
        }
    }
    if a.sweep.len() > 1 || a.targets.len() > 1 || a.repeat > 1 {
        println!(
            "\n{:<24} {:>6} {:>3} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
            "target",
            "conns",
            "thr",
            "req/s",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "errors",
            "non2xx"
        );
        for m in &summaries {
            println!(
                "{:<24} {:>6} {:>3} {:>10.0} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
                m.label,
                m.connections,
                m.threads,
                m.rps,
                report::fmt_ns(m.p50),
                report::fmt_ns(m.p90),
                report::fmt_ns(m.p99),
                report::fmt_ns(m.p999),
                report::fmt_ns(m.max),
                m.errors.total(),
                m.non_2xx
            );
        }
    }
    let mut ok = true;
    if let Some(path) = &a.json {
        let medians: Vec<String> = summaries.iter().map(report::summary_json).collect();
        let doc = format!(
            "{{\"runs\":[\n{}\n],\"summary\":[\n{}\n]}}\n",
            run_json.join(",\n"),
            medians.join(",\n")
        );
        ok &= write_file(path, &doc);
    }
    if let Some(path) = &a.tsv {
        let mut doc = String::from(report::TSV_HEADER);
        doc.push('\n');
        for m in &summaries {
            doc.push_str(&report::tsv_row(m));
            doc.push('\n');
        }
        ok &= write_file(path, &doc);
    }
    if let Some(path) = &a.svg {
        let title = a
            .title
            .clone()
            .unwrap_or_else(|| format!("{} {}", a.base.request.method, a.targets[0].path));
        let limit = a.p99_limit.map(|d| d.as_secs_f64() * 1e3);
        ok &= write_file(path, &svg::chart(&title, &summaries, limit));
    }
    if !ok {
        return ExitCode::from(2);
    }
    if any_errors {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
