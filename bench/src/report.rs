//! Turning `Stats` into what people and scripts read: a text summary, JSON, and a TSV table of a
//! sweep (one row per target and concurrency level, medians over the repeats).

use std::fmt::Write as _;

use crate::engine::{Errors, RunConfig, Stats};

/// One run's figures, flattened; latencies in nanoseconds.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub label: String,
    pub connections: usize,
    pub threads: usize,
    pub responses: u64,
    pub rps: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
    pub errors: Errors,
    pub non_2xx: u64,
    pub max_open: usize,
    pub unfinished: u64,
}

impl Summary {
    pub fn of(cfg: &RunConfig, s: &Stats) -> Summary {
        let h = &s.latency;
        Summary {
            label: cfg.target.label.clone(),
            connections: cfg.connections,
            threads: effective_threads(cfg),
            responses: s.responses,
            rps: s.rps(),
            p50: h.quantile(0.5),
            p90: h.quantile(0.9),
            p99: h.quantile(0.99),
            p999: h.quantile(0.999),
            max: h.max(),
            mean: h.mean(),
            errors: s.errors,
            non_2xx: s.non_2xx(),
            max_open: s.max_open,
            unfinished: s.unfinished,
        }
    }

    /// Medians of repeated runs of one point (throughput and each quantile separately); errors
    /// and non-2xx add up, and the peak of open connections is the lowest run's, so a row
    /// claims only what every run did.
    pub fn median(runs: &[Summary]) -> Summary {
        let Some(first) = runs.first() else {
            return Summary::default();
        };
        fn med<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            v[v.len() / 2]
        }
        let mut errors = Errors::default();
        for r in runs {
            errors.connect += r.errors.connect;
            errors.read += r.errors.read;
            errors.write += r.errors.write;
            errors.timeout += r.errors.timeout;
            errors.parse += r.errors.parse;
        }
        Summary {
            label: first.label.clone(),
            connections: first.connections,
            threads: first.threads,
            responses: runs.iter().map(|r| r.responses).sum(),
            rps: med(runs.iter().map(|r| r.rps).collect()),
            p50: med(runs.iter().map(|r| r.p50).collect()),
            p90: med(runs.iter().map(|r| r.p90).collect()),
            p99: med(runs.iter().map(|r| r.p99).collect()),
            p999: med(runs.iter().map(|r| r.p999).collect()),
            max: runs.iter().map(|r| r.max).max().unwrap_or(0),
            mean: med(runs.iter().map(|r| r.mean).collect()),
            errors,
            non_2xx: runs.iter().map(|r| r.non_2xx).sum(),
            max_open: runs.iter().map(|r| r.max_open).min().unwrap_or(0),
            unfinished: runs.iter().map(|r| r.unfinished).sum(),
        }
    }
}

pub fn effective_threads(cfg: &RunConfig) -> usize {
    if cfg.hold.is_some() {
        1
    } else {
        cfg.threads.clamp(1, cfg.connections.max(1))
    }
}

/// A duration in ns for people: 612us, 1.25ms, 2.00s.
pub fn fmt_ns(v: u64) -> String {
    let v = v as f64;
    if v < 1e6 {
        format!("{:.0}us", v / 1e3)
    } else if v < 1e9 {
        format!("{:.2}ms", v / 1e6)
    } else {
        format!("{:.2}s", v / 1e9)
    }
}

/// 1234567 → "1,234,567".
pub fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub fn describe(cfg: &RunConfig) -> String {
    let mode = match (cfg.hold, cfg.rate) {
        (Some(h), _) => format!("hold {:.1}s", h.as_secs_f64()),
        (None, Some(r)) => format!("open loop at {r:.0} req/s"),
        (None, None) => "closed loop".into(),
    };
    format!(
        "{} {} — {} connections, {} thread(s), {}, depth {}, {}",
        cfg.request.method,
        cfg.target.url,
        cfg.connections,
        effective_threads(cfg),
        if cfg.request.close {
            "a connection per request"
        } else {
            "keep-alive"
        },
        cfg.depth,
        mode
    )
}

/// The human summary of one run.
pub fn text(cfg: &RunConfig, s: &Stats) -> String {
    let m = Summary::of(cfg, s);
    let mut o = String::new();
    let _ = writeln!(o, "{}", describe(cfg));
    let _ = writeln!(
        o,
        "  {} responses in {:.2}s: {:.0} req/s, {:.2} MB/s read",
        fmt_count(m.responses),
        s.elapsed.as_secs_f64(),
        m.rps,
        s.bytes_read as f64 / 1e6 / s.elapsed.as_secs_f64().max(1e-9)
    );
    let from = if cfg.rate.is_some() {
        "from intended send"
    } else {
        "from write"
    };
    let _ = writeln!(
        o,
        "  latency ({from}): p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}",
        fmt_ns(m.p50),
        fmt_ns(m.p90),
        fmt_ns(m.p99),
        fmt_ns(m.p999),
        fmt_ns(m.max),
        fmt_ns(m.mean as u64)
    );
    if cfg.rate.is_some() {
        let h = &s.service;
        let _ = writeln!(
            o,
            "  service (from write):     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            fmt_ns(h.quantile(0.5)),
            fmt_ns(h.quantile(0.9)),
            fmt_ns(h.quantile(0.99)),
            fmt_ns(h.quantile(0.999)),
            fmt_ns(h.max())
        );
    }
    let e = &m.errors;
    let _ = writeln!(
        o,
        "  errors: connect {} read {} write {} timeout {} parse {}   non-2xx {}   unfinished {}",
        e.connect, e.read, e.write, e.timeout, e.parse, m.non_2xx, m.unfinished
    );
    let codes: Vec<String> = s
        .status
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(c, n)| format!("{c}: {}", fmt_count(*n)))
        .collect();
    let _ = writeln!(
        o,
        "  status: {}   connects {}   peak open {}",
        if codes.is_empty() {
            "none".into()
        } else {
            codes.join(", ")
        },
        s.connects,
        s.max_open
    );
    for msg in &s.error_samples {
        let _ = writeln!(o, "  error: {msg}");
    }
    if let Some(h) = &s.hold {
        let kib = |v: Option<u64>| v.map_or("?".to_string(), |k| format!("{k} KiB"));
        let _ = writeln!(
            o,
            "  hold: {} of {} connections held; answered {} then {}; closed by the server while idle {}",
            h.held, h.connections, h.answered_first, h.answered_second, h.closed_while_idle
        );
        let _ = writeln!(
            o,
            "  server RSS: before {}, holding {} → {} per connection",
            kib(h.rss_before_kib),
            kib(h.rss_idle_kib),
            h.bytes_per_connection()
                .map_or("?".into(), |b| format!("{b:.0} bytes"))
        );
    }
    o
}

pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn us(v: u64) -> String {
    format!("{:.1}", v as f64 / 1e3)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("null".into(), |v| v.to_string())
}

/// One run as a JSON object; latencies in microseconds.
pub fn json(cfg: &RunConfig, s: &Stats) -> String {
    let m = Summary::of(cfg, s);
    let e = &m.errors;
    let lat = |h: &crate::hist::Histogram| {
        format!(
            "{{\"p50\":{},\"p90\":{},\"p99\":{},\"p99_9\":{},\"p99_99\":{},\"max\":{},\"min\":{},\"mean\":{:.1}}}",
            us(h.quantile(0.5)),
            us(h.quantile(0.9)),
            us(h.quantile(0.99)),
            us(h.quantile(0.999)),
            us(h.quantile(0.9999)),
            us(h.max()),
            us(h.min()),
            h.mean() / 1e3
        )
    };
    let status: Vec<String> = s
        .status
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(c, n)| format!("\"{c}\":{n}"))
        .collect();
    let samples: Vec<String> = s.error_samples.iter().map(|m| json_str(m)).collect();
    let hold = match &s.hold {
        None => "null".to_string(),
        Some(h) => format!(
            "{{\"connections\":{},\"held\":{},\"answered_first\":{},\"answered_second\":{},\"closed_while_idle\":{},\"rss_before_kib\":{},\"rss_idle_kib\":{},\"bytes_per_connection\":{}}}",
            h.connections,
            h.held,
            h.answered_first,
            h.answered_second,
            h.closed_while_idle,
            opt(h.rss_before_kib),
            opt(h.rss_idle_kib),
            opt(h.bytes_per_connection().map(|b| format!("{b:.1}")))
        ),
    };
    format!(
        "{{\"label\":{},\"url\":{},\"method\":{},\"connections\":{},\"threads\":{},\"keep_alive\":{},\"depth\":{},\"mode\":{},\"rate\":{},\"duration_s\":{:.3},\"elapsed_s\":{:.3},\"requests\":{},\"rps\":{:.1},\"bytes_read\":{},\"latency_us\":{},\"service_us\":{},\"errors\":{{\"connect\":{},\"read\":{},\"write\":{},\"timeout\":{},\"parse\":{},\"total\":{}}},\"error_samples\":[{}],\"status\":{{{}}},\"non_2xx\":{},\"connects\":{},\"max_open\":{},\"unfinished\":{},\"hold\":{}}}",
        json_str(&cfg.target.label),
        json_str(&cfg.target.url),
        json_str(&cfg.request.method),
        cfg.connections,
        m.threads,
        !cfg.request.close,
        cfg.depth,
        json_str(if cfg.hold.is_some() {
            "hold"
        } else if cfg.rate.is_some() {
            "open"
        } else {
            "closed"
        }),
        opt(cfg.rate),
        cfg.duration.as_secs_f64(),
        s.elapsed.as_secs_f64(),
        m.responses,
        m.rps,
        s.bytes_read,
        lat(&s.latency),
        lat(&s.service),
        e.connect,
        e.read,
        e.write,
        e.timeout,
        e.parse,
        e.total(),
        samples.join(","),
        status.join(","),
        m.non_2xx,
        s.connects,
        m.max_open,
        m.unfinished,
        hold
    )
}

/// A summary row as JSON (sweep medians).
pub fn summary_json(m: &Summary) -> String {
    format!(
        "{{\"label\":{},\"connections\":{},\"threads\":{},\"rps\":{:.1},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p99_9_us\":{},\"max_us\":{},\"errors\":{},\"timeouts\":{},\"non_2xx\":{},\"max_open\":{}}}",
        json_str(&m.label),
        m.connections,
        m.threads,
        m.rps,
        us(m.p50),
        us(m.p90),
        us(m.p99),
        us(m.p999),
        us(m.max),
        m.errors.total(),
        m.errors.timeout,
        m.non_2xx,
        m.max_open
    )
}

pub const TSV_HEADER: &str = "label\tconnections\tthreads\trps\tp50_us\tp90_us\tp99_us\tp99_9_us\tmax_us\terrors\ttimeouts\tconnect_errors\tnon_2xx\tmax_open";

/// A summary row for scripts (tab-separated, header `TSV_HEADER`).
pub fn tsv_row(m: &Summary) -> String {
    format!(
        "{}\t{}\t{}\t{:.0}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        m.label,
        m.connections,
        m.threads,
        m.rps,
        us(m.p50),
        us(m.p90),
        us(m.p99),
        us(m.p999),
        us(m.max),
        m.errors.total(),
        m.errors.timeout,
        m.errors.connect,
        m.non_2xx,
        m.max_open
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_count(1234567), "1,234,567");
        assert_eq!(fmt_count(12), "12");
        assert_eq!(fmt_ns(612_000), "612us");
        assert_eq!(fmt_ns(1_250_000), "1.25ms");
        assert_eq!(json_str("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }

    #[test]
    fn median_of_runs() {
        let r = |rps: f64, p99: u64, open: usize| Summary {
            rps,
            p99,
            max_open: open,
            ..Summary::default()
        };
        let m = Summary::median(&[r(3.0, 30, 100), r(1.0, 10, 99), r(2.0, 20, 100)]);
        assert_eq!(m.rps, 2.0);
        assert_eq!(m.p99, 20);
        assert_eq!(m.max_open, 99);
    }
}
