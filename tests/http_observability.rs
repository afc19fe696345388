//! Issue 5, end to end: /metrics (validated by promtool when it is installed), the access line
//! and handler prints in the child's stderr, X-Request-Id, /health and /ready, start-up logs.
//! Every wait is a deadline on the log or a response, never a sleep.
mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::{app, Response, Server};

fn test_app(extra: &[&str]) -> Server {
    let path = app("test_app.qmz");
    let mut args: Vec<&str> = extra.to_vec();
    args.push(path.to_str().unwrap());
    Server::start(&args)
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

fn scrape(s: &Server) -> String {
    let r = s.get("/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    r.text()
}

/// The value of the sample whose name and labels are exactly `series`, or None.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// The stderr line (JSON) carrying `"request_id":"ID"` and `"msg":"MSG"`.
fn log_line(s: &Server, id: &str, msg: &str) -> String {
    let id_field = format!("\"request_id\":\"{id}\"");
    let msg_field = format!("\"msg\":\"{msg}\"");
    assert!(
        s.wait_for_log(&id_field),
        "no log line for {id}:\n{}",
        s.stderr()
    );
    // The id can appear in an earlier line (a handler print) than the one asked for: wait for
    // the pair on one line.
    let deadline = std::time::Instant::now() + support::PATIENCE;
    loop {
        if let Some(l) = s
            .stderr()
            .lines()
            .find(|l| l.contains(&id_field) && l.contains(&msg_field))
        {
            return l.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {msg} line for {id}:\n{}",
            s.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn is_fresh_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn metrics_count_requests_and_pass_promtool() {
    let s = test_app(&[]);
    assert_eq!(s.get("/gst/1000").status, 200);
    assert_eq!(s.get("/gst/5").status, 200);
    assert_eq!(s.get("/nope").status, 404);
    assert_eq!(s.get("/fail").status, 500);
    let text = scrape(&s);

    for (series, want) in [
        (
            r#"etamil_http_requests_total{route="/gst/:amount",method="GET",status="200"}"#,
            2.0,
        ),
        (
            r#"etamil_http_requests_total{route="-",method="GET",status="404"}"#,
            1.0,
        ),
        (
            r#"etamil_http_requests_total{route="/fail",method="GET",status="500"}"#,
            1.0,
        ),
        (r#"etamil_handler_errors_total{kind="runtime"}"#, 1.0),
        (
            r#"etamil_http_request_duration_seconds_count{route="/gst/:amount"}"#,
            2.0,
        ),
        // The scrape itself: its head is parsed and its answer not yet written.
        ("etamil_http_requests_in_flight", 1.0),
        ("etamil_connections_open", 1.0),
        ("etamil_queue_depth", 0.0),
        ("etamil_workers_busy", 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in:\n{text}");
    }
    assert!(sample(&text, "etamil_http_received_bytes_total").unwrap() > 0.0);
    assert!(sample(&text, "etamil_http_sent_bytes_total").unwrap() > 0.0);
    assert_eq!(
        sample(
            &text,
            &format!(
                "etamil_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0)
    );
    // The raw path never becomes a label.
    assert!(!text.contains("/gst/1000"), "{text}");

    // HEAD: same length, no body; other methods: 405 like /health.
    let mut c = s.client();
    c.send(b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.head_response();
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let r = s.request("POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_eq!((r.status, r.header("Allow")), (405, Some("GET, HEAD")));

    let Ok(mut promtool) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        println!("SKIPPED: promtool not found (Debian package `prometheus`); /metrics was not validated by it");
        return;
    };
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refused /metrics:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rejections_are_counted_by_reason() {
    let s = test_app(&["--max-header-bytes", "1KiB", "--max-body-bytes", "10"]);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "y".repeat(2000)
    );
    assert_eq!(s.request(&big).status, 431);
    let r = s.request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n");
    assert_eq!(r.status, 413);
    assert_eq!(s.request("GARBAGE\r\n\r\n").status, 400);
    let r = s.request("GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 400);
    let text = scrape(&s);
    for (series, want) in [
        (
            r#"etamil_http_rejections_total{reason="head_too_large"}"#,
            1.0,
        ),
        (
            r#"etamil_http_rejections_total{reason="body_too_large"}"#,
            1.0,
        ),
        (r#"etamil_http_rejections_total{reason="bad_request"}"#, 2.0),
        // A refused head is counted under its method when it has a readable one.
        (
            r#"etamil_http_requests_total{route="-",method="OTHER",status="400"}"#,
            1.0,
        ),
        (
            r#"etamil_http_requests_total{route="-",method="GET",status="400"}"#,
            1.0,
        ),
        (r#"etamil_http_rejections_total{reason="queue_full"}"#, 0.0),
        (
            r#"etamil_http_requests_total{route="-",method="GET",status="431"}"#,
            1.0,
        ),
        // 413 is decided after routing, so it is counted under its route.
        (
            r#"etamil_http_requests_total{route="/echo",method="POST",status="413"}"#,
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in:\n{text}");
    }
}

#[test]
fn open_fds_are_counted_not_walked() {
    let s = test_app(&[]);
    // Three idle keep-alive connections, each known to be accepted (it was answered).
    let mut idle: Vec<support::Client> = (0..3).map(|_| s.client()).collect();
    for c in &mut idle {
        c.send(get("/").as_bytes());
        assert_eq!(c.response().status, 200);
    }
    // Scrape on a connection held open until /proc has been read, so the server holds the
    // same descriptors when it counts and when we look (a closed scrape connection raced).
    let mut scraper = s.client();
    scraper.send(get("/metrics").as_bytes());
    let text = scraper.response().text();
    let counted = sample(&text, "process_open_fds").expect("process_open_fds");
    let Ok(dir) = std::fs::read_dir(format!("/proc/{}/fd", s.pid())) else {
        println!("SKIPPED: /proc/PID/fd not readable; process_open_fds not cross-checked");
        return;
    };
    let actual = dir.count() as f64;
    drop(scraper);
    assert_eq!(counted, actual, "{text}");
    assert_eq!(sample(&text, "etamil_connections_open"), Some(4.0));
}

#[test]
fn access_line_has_the_fields_and_no_secrets() {
    let s = test_app(&[]);
    let raw = "GET /gst/1000?account=98765432101 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer topsecret-token\r\nCookie: session=cookie-secret\r\nX-Request-Id: obs-access-1\r\n\r\n";
    let mut c = s.client();
    let local = c.stream.local_addr().unwrap();
    c.send(raw.as_bytes());
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Request-Id"), Some("obs-access-1"));
    let line = log_line(&s, "obs-access-1", "request");
    for field in [
        r#""level":"info""#.to_owned(),
        r#""method":"GET""#.to_owned(),
        r#""path":"/gst/1000""#.to_owned(),
        r#""route":"/gst/:amount""#.to_owned(),
        r#""status":200"#.to_owned(),
        format!(r#""bytes_in":{}"#, raw.len()),
        format!(r#""remote":"{local}""#),
        r#""duration_us":"#.to_owned(),
        r#""bytes_out":"#.to_owned(),
        r#""ts":"#.to_owned(),
    ] {
        assert!(line.contains(&field), "{field} missing in {line}");
    }
    // A 404 is answered before routing: route "-".
    let r = s.request("GET /nowhere?q=1 HTTP/1.1\r\nHost: t\r\nX-Request-Id: obs-access-2\r\n\r\n");
    assert_eq!(r.status, 404);
    let line = log_line(&s, "obs-access-2", "request");
    assert!(
        line.contains(r#""route":"-""#) && line.contains(r#""path":"/nowhere""#),
        "{line}"
    );

    let err = s.stderr();
    for secret in [
        "98765432101",
        "account=",
        "topsecret",
        "cookie-secret",
        "Bearer",
    ] {
        assert!(
            !err.contains(secret),
            "{secret} leaked into the log:\n{err}"
        );
    }
    for l in err.lines() {
        assert!(
            l.starts_with("{\"ts\":\"") && l.ends_with('}'),
            "not a JSON line: {l}"
        );
    }
}

#[test]
fn text_format_and_access_log_off() {
    let s = test_app(&["--log-format", "text"]);
    s.request("GET /gst/1 HTTP/1.1\r\nHost: t\r\nX-Request-Id: obs-text-1\r\n\r\n");
    assert!(s.wait_for_log("request_id=obs-text-1"), "{}", s.stderr());
    let err = s.stderr();
    let line = err
        .lines()
        .find(|l| l.contains("request_id=obs-text-1"))
        .unwrap();
    assert!(
        line.contains("[INFO]") && line.contains("status=200"),
        "{line}"
    );

    let s = test_app(&["--access-log", "off"]);
    let r = s.request("DELETE /item/3 HTTP/1.1\r\nHost: t\r\nX-Request-Id: obs-off-1\r\n\r\n");
    assert_eq!(r.status, 204);
    // The handler's print is logged; the access line is not.
    log_line(&s, "obs-off-1", "deleting 3");
    assert!(!s.stderr().contains(r#""msg":"request""#), "{}", s.stderr());
}

#[test]
fn handler_prints_go_to_the_log_with_the_request_id() {
    let s = test_app(&["--handler-timeout", "300ms"]);
    let r = s.request("DELETE /item/42 HTTP/1.1\r\nHost: t\r\nX-Request-Id: obs-print-1\r\n\r\n");
    assert_eq!(r.status, 204);
    let line = log_line(&s, "obs-print-1", "deleting 42");
    assert!(line.contains(r#""source":"handler""#), "{line}");

    // A handler that prints and then runs into the deadline: 504, the print is still logged
    // with the id the client got in the header and in the error body.
    let r = s.get("/forever");
    assert_eq!(r.status, 504, "{}", r.text());
    let id = r.header("X-Request-Id").unwrap().to_owned();
    assert!(is_fresh_id(&id), "{id}");
    assert!(
        r.text().contains(&format!(r#""request_id":"{id}""#)),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("forever started"));
    log_line(&s, &id, "forever started");
    let line = log_line(&s, &id, "request");
    assert!(
        line.contains(r#""status":504"#) && line.contains(r#""route":"/forever""#),
        "{line}"
    );
    assert!(s
        .stderr()
        .lines()
        .any(|l| l.contains(&id) && l.contains(r#""level":"warn""#) && l.contains("deadline")));

    // A runtime error is logged with its position and the request id.
    let r = s.request("GET /fail HTTP/1.1\r\nHost: t\r\nX-Request-Id: obs-fail-1\r\n\r\n");
    assert_eq!(r.status, 500);
    assert!(s.wait_for_log("line 20, column 11: division by zero"));
    assert!(s
        .stderr()
        .lines()
        .any(|l| l.contains("obs-fail-1") && l.contains("division by zero")));

    let text = scrape(&s);
    assert_eq!(
        sample(&text, r#"etamil_handler_errors_total{kind="deadline"}"#),
        Some(1.0)
    );
}

#[test]
fn request_ids_echoed_or_generated() {
    let s = test_app(&[]);
    let with = |id: &str| -> Response {
        s.request(&format!(
            "GET /nope HTTP/1.1\r\nHost: t\r\nX-Request-Id: {id}\r\n\r\n"
        ))
    };
    let r = with("abc-123_XYZ.~!");
    assert_eq!(r.header("X-Request-Id"), Some("abc-123_XYZ.~!"));
    assert!(r.text().contains(r#""request_id":"abc-123_XYZ.~!""#));
    let max = "k".repeat(128);
    assert_eq!(with(&max).header("X-Request-Id"), Some(max.as_str()));

    // Too long, or not visible ASCII: a fresh id, the same in header and body.
    for bad in ["k".repeat(129), "a b".to_owned(), "தமிழ்".to_owned()] {
        let r = with(&bad);
        let id = r.header("X-Request-Id").unwrap();
        assert!(is_fresh_id(id), "{bad:?} -> {id}");
        assert!(r.text().contains(&format!(r#""request_id":"{id}""#)));
    }
    let a = s.get("/").header("X-Request-Id").unwrap().to_owned();
    let b = s.get("/").header("X-Request-Id").unwrap().to_owned();
    assert!(is_fresh_id(&a) && is_fresh_id(&b) && a != b);
    // Server-answered endpoints carry one too.
    assert!(is_fresh_id(
        s.get("/health").header("X-Request-Id").unwrap()
    ));
}

#[test]
fn health_and_ready_bodies() {
    let s = test_app(&[]);
    for path in ["/health", "/health/"] {
        let r = s.get(path);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let body = r.text();
        // {"status":"healthy","uptime":"0h00m00s","uptime_seconds":0}
        let secs: u64 = body
            .strip_prefix(r#"{"status":"healthy","uptime":""#)
            .and_then(|rest| rest.split_once(r#"","uptime_seconds":"#))
            .and_then(|(uptime, n)| {
                let n: u64 = n.strip_suffix('}')?.parse().ok()?;
                let want = format!("{}h{:02}m{:02}s", n / 3600, n % 3600 / 60, n % 60);
                (uptime == want).then_some(n)
            })
            .unwrap_or_else(|| panic!("bad /health body {body}"));
        assert!(secs < 600);
    }
    let r = s.get("/ready");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, r#"{"status":"ready"}"#)
    );
}

#[test]
fn start_up_is_logged() {
    let s = Server::start(&["--workers", "3", "--max-body-bytes", "2KiB"]);
    assert!(s.wait_for_log(r#""msg":"limits""#), "{}", s.stderr());
    let err = s.stderr();
    let started = err
        .lines()
        .find(|l| l.contains(r#""msg":"Server started""#))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        started.contains(&format!(r#""addr":"{}""#, s.addr)),
        "{started}"
    );
    assert!(started.contains(r#""app":"embedded default""#), "{started}");
    assert!(
        err.lines().any(|l| l.contains(r#""msg":"route""#)
            && l.contains(r#""method":"GET""#)
            && l.contains(r#""pattern":"/gst/:amount""#)
            && l.contains(r#""source":"#)),
        "{err}"
    );
    let limits = err
        .lines()
        .find(|l| l.contains(r#""msg":"limits""#))
        .unwrap();
    for field in [
        r#""workers":3"#,
        r#""max_body_bytes":2048"#,
        r#""queue_depth":1024"#,
        r#""handler_timeout_ms":5000"#,
        r#""max_connections":10000"#,
    ] {
        assert!(limits.contains(field), "{field} in {limits}");
    }
}

/// Runs `promtool ARGS`; None (after printing SKIPPED) when promtool is not installed.
fn promtool(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("promtool").args(args).output() {
        Ok(out) => Some(out),
        Err(_) => {
            println!(
                "SKIPPED: promtool not found; `promtool {}` not run",
                args.join(" ")
            );
            None
        }
    }
}

#[test]
fn alert_rules_use_metrics_the_server_exports() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let rules = std::fs::read_to_string(dir.join("prometheus-rules.yml")).unwrap();
    let s = test_app(&[]);
    assert_eq!(s.get("/gst/1").status, 200);
    let text = scrape(&s);
    let exported: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("etamil_") || w.starts_with("process_"))
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(!used.is_empty());
    for name in used {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|b| exported.contains(b))
            .unwrap_or(name);
        assert!(
            exported.contains(&base),
            "the rules use {name}, which /metrics does not export"
        );
    }

    for args in [
        vec!["check", "rules", "prometheus-rules.yml"],
        vec!["test", "rules", "prometheus-rules.test.yml"],
    ] {
        let mut full = args.clone();
        let path = dir.join(args[2]);
        full[2] = path.to_str().unwrap();
        let Some(out) = promtool(&full) else { return };
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
