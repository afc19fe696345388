//! Issue 4: SIGTERM/SIGINT drain, the shutdown timeout, a second signal, SIGHUP reload — on
//! the real binary, through real signals. Every wait is a deadline; nothing asserts a duration.
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::{app, temp_dir, Response, Server, PATIENCE};

fn start(extra: &[&str]) -> Server {
    let test_app = app("test_app.qmz");
    let mut args = vec![test_app.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// How reading one response ended.
#[derive(Debug)]
enum Read1 {
    Complete(Response),
    /// End-of-file or reset before any byte of a response: the server never took the request.
    NothingBack,
    /// Some bytes of a response, then end-of-file: a broken answer.
    Partial(Vec<u8>),
}

/// Reads one response from `s` (keeping extra bytes in `buf`), never panicking on a close.
fn read_one(s: &mut TcpStream, buf: &mut Vec<u8>) -> Read1 {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let status: u16 = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let len = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let body = buf[end + 4..end + 4 + len].to_vec();
                buf.drain(..end + 4 + len);
                return Read1::Complete(Response {
                    status,
                    headers,
                    body,
                });
            }
        }
        match s.read(&mut chunk) {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ if buf.is_empty() => return Read1::NothingBack,
            _ => return Read1::Partial(std::mem::take(buf)),
        }
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

#[test]
fn sigterm_finishes_received_requests_pipelined_included_then_exits_0() {
    let mut s = start(&["--handler-timeout", "1s", "--workers", "2"]);
    // An idle keep-alive connection: closed by the drain without an answer.
    let mut idle = s.client();
    idle.send(get("/gst/1").as_bytes());
    assert_eq!(idle.response().status, 200);
    // A running request with a second one pipelined behind it, in one write.
    let mut busy = TcpStream::connect(&s.addr).unwrap();
    busy.set_read_timeout(Some(PATIENCE)).unwrap();
    busy.write_all(format!("{}{}", get("/forever"), get("/gst/100")).as_bytes())
        .unwrap();
    assert!(s.wait_for_log("forever started"), "{}", s.stderr());
    s.signal(Signal::SIGTERM);
    let mut buf = Vec::new();
    let Read1::Complete(first) = read_one(&mut busy, &mut buf) else {
        panic!("no answer to the running request; {}", s.stderr());
    };
    // The deadline ends the endless loop; a pipelined request follows, so no close yet.
    assert_eq!(first.status, 504, "{}", first.text());
    assert_eq!(first.header("Connection"), None);
    let Read1::Complete(second) = read_one(&mut busy, &mut buf) else {
        panic!("no answer to the pipelined request; {}", s.stderr());
    };
    assert_eq!(second.status, 200);
    assert_eq!(second.header("Connection"), Some("close"));
    assert!(matches!(read_one(&mut busy, &mut buf), Read1::NothingBack));
    assert!(idle.closed());
    assert_eq!(s.wait_exit(), Some(0), "{}", s.stderr());
    assert!(s.stderr().contains("Shutdown complete"), "{}", s.stderr());
}

#[test]
fn steady_load_then_sigterm_every_received_request_is_answered_and_exit_0() {
    let mut s = start(&["--workers", "2", "--access-log", "off"]);
    let answered = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for t in 0..6 {
        let (addr, answered) = (s.addr.clone(), Arc::clone(&answered));
        threads.push(std::thread::spawn(move || {
            // (complete answers, requests the server never took, broken answers)
            let mut tally = (0usize, 0usize, Vec::new());
            let deadline = Instant::now() + PATIENCE;
            'conns: while Instant::now() < deadline {
                let Ok(mut c) = TcpStream::connect(&addr) else {
                    break; // the listener is closed
                };
                c.set_read_timeout(Some(PATIENCE)).unwrap();
                let mut buf = Vec::new();
                loop {
                    // Odd threads pipeline two requests per write.
                    let n = if t % 2 == 1 { 2 } else { 1 };
                    let wire: String = (0..n).map(|i| get(&format!("/gst/{i}"))).collect();
                    if c.write_all(wire.as_bytes()).is_err() {
                        tally.1 += 1;
                        continue 'conns;
                    }
                    for _ in 0..n {
                        match read_one(&mut c, &mut buf) {
                            Read1::Complete(r) => {
                                assert_eq!(r.status, 200, "{}", r.text());
                                tally.0 += 1;
                                answered.fetch_add(1, Ordering::Relaxed);
                                if r.header("Connection") == Some("close") {
                                    // The drain's last answer; a new connection is refused.
                                    continue 'conns;
                                }
                            }
                            Read1::NothingBack => {
                                tally.1 += 1;
                                continue 'conns;
                            }
                            Read1::Partial(bytes) => {
                                tally.2.push(String::from_utf8_lossy(&bytes).into_owned());
                                continue 'conns;
                            }
                        }
                    }
                }
            }
            tally
        }));
    }
    let deadline = Instant::now() + PATIENCE;
    while answered.load(Ordering::Relaxed) < 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    s.signal(Signal::SIGTERM);
    let code = s.wait_exit();
    let (mut ok, mut not_taken) = (0, 0);
    for t in threads {
        let (a, n, broken) = t.join().unwrap();
        assert!(broken.is_empty(), "broken answers: {broken:?}");
        ok += a;
        not_taken += n;
    }
    assert_eq!(code, Some(0), "{}", s.stderr());
    assert!(s.stderr().contains("Shutdown complete"), "{}", s.stderr());
    eprintln!("steady load: {ok} answered, {not_taken} requests never taken by the server");
}

#[test]
fn a_second_signal_exits_at_once_with_128_plus_signal() {
    for (sig, code) in [(Signal::SIGTERM, 143), (Signal::SIGINT, 130)] {
        let mut s = start(&["--handler-timeout", "60s"]);
        let mut c = s.client();
        c.send(get("/forever").as_bytes());
        assert!(s.wait_for_log("forever started"));
        s.signal(sig);
        assert!(s.wait_for_log("draining"), "{}", s.stderr());
        s.signal(sig);
        assert_eq!(s.wait_exit(), Some(code), "{}", s.stderr());
    }
}

#[test]
fn a_drain_past_the_shutdown_timeout_exits_1() {
    let mut s = start(&["--handler-timeout", "60s", "--shutdown-timeout", "300ms"]);
    let mut c = s.client();
    c.send(get("/forever").as_bytes());
    assert!(s.wait_for_log("forever started"));
    s.signal(Signal::SIGTERM);
    assert_eq!(s.wait_exit(), Some(1), "{}", s.stderr());
    assert!(s.stderr().contains("Shutdown timed out"), "{}", s.stderr());
    assert!(c.closed());
}

#[test]
fn during_the_drain_delay_ready_is_503_and_requests_are_still_served() {
    let s = start(&["--drain-delay", "60s"]);
    assert_eq!(s.get("/ready").status, 200);
    s.signal(Signal::SIGTERM);
    assert!(s.wait_for_log("draining"), "{}", s.stderr());
    let r = s.get("/ready");
    assert_eq!(
        (r.status, r.text().as_str()),
        (503, r#"{"status":"draining"}"#)
    );
    // New connections are still accepted and served.
    assert_eq!(s.get("/gst/1000").text(), r#"{"gst":180}"#);
}

#[test]
fn sighup_swaps_the_app_and_a_failed_reload_keeps_the_old_one() {
    let dir = temp_dir("reload");
    let file = dir.join("app.qmz");
    std::fs::write(&file, "வழி பெறு, \"/version\" { பதில் 200, \"v1\"; }\n").unwrap();
    let s = Server::start(&[file.to_str().unwrap()]);
    assert_eq!(s.get("/version").text(), "v1");
    std::fs::write(
        &file,
        "வழி பெறு, \"/version\" { பதில் 200, \"v2\"; }\nவழி பெறு, \"/new\" { பதில் 200, \"new\"; }\n",
    )
    .unwrap();
    s.signal(Signal::SIGHUP);
    let deadline = Instant::now() + PATIENCE;
    while s.get("/version").text() != "v2" {
        assert!(Instant::now() < deadline, "never reloaded: {}", s.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.get("/new").status, 200);
    // A broken file: the errors are logged, the old app keeps serving.
    std::fs::write(&file, "வழி பெறு, \"/version\" { பதில் 200, ; \n").unwrap();
    s.signal(Signal::SIGHUP);
    assert!(s.wait_for_log("reload failed"), "{}", s.stderr());
    assert_eq!(s.get("/version").text(), "v2");
    assert_eq!(s.get("/new").status, 200);
    let metrics = s.get("/metrics").text();
    assert!(
        metrics.contains("etamil_app_reloads_total{result=\"failure\"} 1")
            && metrics.contains("etamil_app_reloads_total{result=\"success\"} 1"),
        "{metrics}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sighup_is_ignored_for_the_embedded_app() {
    let s = Server::start(&[]);
    s.signal(Signal::SIGHUP);
    assert!(s.wait_for_log("SIGHUP ignored"), "{}", s.stderr());
    assert_eq!(s.get("/health").status, 200);
}
