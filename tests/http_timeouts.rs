//! Issue 4: the header, body, idle and write timeouts, lingering close and
//! `--max-buffered-bytes`, on the real binary with short timeouts. Every wait is a deadline
//! (`PATIENCE`); nothing asserts how long anything took.
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{app, Server, PATIENCE};

fn start(extra: &[&str]) -> Server {
    let test_app = app("test_app.qmz");
    let mut args = vec![test_app.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Reads until end-of-file (or a reset); what arrived before it.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("server did not close within {PATIENCE:?}; got {all:?}")
            }
            Err(_) => return all,
        }
    }
}

#[test]
fn header_timeout_is_not_reset_by_trickling_bytes() {
    let s = start(&["--header-timeout", "300ms"]);
    let mut c = s.client();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n");
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = c.stream.try_clone().unwrap();
    let flag = Arc::clone(&stop);
    // One header byte every 20 ms: a timeout reset by each byte would never fire.
    let trickle = std::thread::spawn(move || {
        let deadline = Instant::now() + PATIENCE;
        while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
            if w.write_all(b"X").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let r = c.response();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(r.status, 408, "{}", r.text());
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(r.text().contains("\"status\":408"), "{}", r.text());
    trickle.join().unwrap();
    // The server is fine for others.
    assert_eq!(s.get("/gst/1000").status, 200);
}

#[test]
fn no_byte_within_the_header_timeout_closes_silently() {
    let s = start(&["--header-timeout", "200ms"]);
    let mut c = TcpStream::connect(&s.addr).unwrap();
    assert!(read_to_close(&mut c).is_empty());
}

#[test]
fn idle_timeout_closes_silently_after_a_response() {
    let s = start(&["--idle-timeout", "200ms"]);
    let mut c = s.client();
    c.send(b"GET /gst/100 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 200);
    assert!(read_to_close(&mut c.stream).is_empty());
}

#[test]
fn body_timeout_is_408() {
    let s = start(&["--body-timeout", "200ms"]);
    let mut c = s.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    let r = c.response();
    assert_eq!(r.status, 408, "{}", r.text());
    assert_eq!(r.header("Connection"), Some("close"));
}

#[test]
fn a_body_withheld_after_100_continue_gets_408() {
    let s = start(&["--body-timeout", "200ms"]);
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n",
    )
    .unwrap();
    let got = read_to_close(&mut c);
    let text = String::from_utf8_lossy(&got);
    // The body timeout runs from the `100 Continue`: the invitation, then 408 and close.
    assert!(
        text.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 408 "),
        "{text}"
    );
    assert_eq!(s.get("/gst/1000").status, 200);
}

#[test]
fn write_timeout_closes_a_reader_that_stopped_reading() {
    // A client that pipelines big answers and never reads: the server's writes stall.
    let s = start(&["--write-timeout", "200ms", "--max-body-bytes", "1MiB"]);
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_write_timeout(Some(PATIENCE)).unwrap();
    let body = vec![b'x'; 512 << 10];
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // Keep sending echo requests until the server closes on us (its answers pile up unread).
    let deadline = Instant::now() + PATIENCE;
    let mut closed = false;
    while Instant::now() < deadline {
        if c.write_all(head.as_bytes()).is_err() || c.write_all(&body).is_err() {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "the server never gave up on a client that does not read"
    );
    assert_eq!(s.get("/gst/1000").status, 200);
}

#[test]
fn lingering_close_delivers_413_to_a_client_still_sending() {
    let s = start(&["--max-body-bytes", "1KiB"]);
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n")
        .unwrap();
    // Send part of the body the server will never read, after its 413 is on the way.
    let _ = c.write_all(&vec![b'y'; 32 << 10]);
    let got = read_to_close(&mut c);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(text.contains("\"status\":413"), "{text}");
}

#[test]
fn max_buffered_bytes_answers_503_with_retry_after() {
    // 36 KiB in all; each connection reading a head holds a 4 KiB input buffer.
    let s = start(&["--max-buffered-bytes", "36KiB"]);
    // An upload admitted (the `100 Continue` says so) is counted whole before its body arrives.
    let mut hog = TcpStream::connect(&s.addr).unwrap();
    hog.set_read_timeout(Some(PATIENCE)).unwrap();
    hog.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 30000\r\n\r\n",
    )
    .unwrap();
    let mut interim = [0u8; 25];
    hog.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    // A second upload would pass the cap: 503 with Retry-After, and no `100 Continue`.
    let r = s.request(
        "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3000\r\n\r\n",
    );
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("Retry-After"), Some("1"));
    // A small request still fits; /health is answered regardless.
    assert_eq!(s.get("/gst/1").status, 200);
    assert_eq!(s.get("/health").status, 200);
    // The hog's body completes: it was admitted, so it is served.
    hog.write_all(&vec![b'z'; 30000]).unwrap();
    let got = String::from_utf8_lossy(&read_until_body(&mut hog, 30000)).into_owned();
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    drop(hog);

    // A chunked body cannot be counted ahead: it may grow only into the room left, and past
    // it gets 503 mid-body, delivered by the lingering close while the client still sends.
    let mut grower = TcpStream::connect(&s.addr).unwrap();
    grower
        .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = format!("1000\r\n{}\r\n", "c".repeat(0x1000));
    for _ in 0..16 {
        if grower.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    let got = read_to_close(&mut grower);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    assert!(text.contains("Retry-After: 1\r\n"), "{text}");
    // Its bytes went back: a fresh upload of the same size as the first fits again.
    let r = s.request(&format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 30000\r\n\r\n{}",
        "y".repeat(30000)
    ));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Reads until a response head and `body` bytes after it arrived.
fn read_until_body(s: &mut TcpStream, body: usize) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = all.windows(4).position(|w| w == b"\r\n\r\n") {
            if all.len() >= end + 4 + body {
                return all;
            }
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&all));
        all.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn bare_cr_and_nul_in_the_head_are_400() {
    let s = start(&[]);
    for wire in [
        &b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n",
        b"GET /\0 HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET / HTTP/1.1\rHost: t\r\n\r\n",
    ] {
        let mut c = s.client();
        c.send(wire);
        let r = c.response();
        assert_eq!(
            r.status,
            400,
            "{:?}: {}",
            String::from_utf8_lossy(wire),
            r.text()
        );
    }
}

#[test]
fn an_endless_loop_gets_504_while_other_clients_are_served() {
    let s = start(&["--handler-timeout", "500ms", "--workers", "2"]);
    let mut looping = s.client();
    looping.send(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(s.wait_for_log("forever started"), "{}", s.stderr());
    // While one worker spins, the other and the reactor keep answering.
    for _ in 0..5 {
        assert_eq!(s.get("/gst/1000").text(), r#"{"gst":180}"#);
        assert_eq!(s.get("/health").status, 200);
    }
    let r = looping.response();
    assert_eq!(r.status, 504, "{}", r.text());
    // And the worker is free again at once.
    looping.send(b"GET /gst/100 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(looping.response().status, 200);
}

#[test]
fn a_slowloris_of_many_connections_does_not_starve_a_normal_client() {
    let s = start(&["--header-timeout", "2s"]);
    // 300 connections, each with an unfinished head, each trickling a byte now and then.
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
            c
        })
        .collect();
    for round in 0..3 {
        for c in slow.iter_mut() {
            let _ = c.write_all(b"X");
        }
        // Liveness only: a normal client is answered during the attack.
        let r = s.get(&format!("/gst/{round}"));
        assert_eq!(r.status, 200);
    }
    // The header timeout ends every slow connection, with 408 (a head byte had arrived).
    for c in slow.iter_mut().take(10) {
        let got = read_to_close(c);
        assert!(
            got.starts_with(b"HTTP/1.1 408 "),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
    }
}
