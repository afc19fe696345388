//! Issue 4, SERVER.md "Signals": after a SIGHUP reload, each request runs on the app that was
//! current when its head was parsed. On the real binary; every wait is on an event (a log
//! line, an interim response, a metric), never a sleep that asserts a duration.
mod support;

use std::io::Read;
use std::time::Instant;

use nix::sys::signal::Signal;
use support::{temp_dir, Server, PATIENCE};

/// v1 and v2 put different handlers at the same route index, so a request run with its old
/// route index on the new program would answer "wrong".
const V1: &str = r#"
வழி பெறு, "/forever" { அச்சு "forever started"; (மெய்) சுற்று { i = 1; } }
வழி பெறு, "/version" { பதில் 200, "v1"; }
வழி பதி, "/echo" { பதில் 200, "v1:" & request_body; }
"#;
const V2: &str = r#"
வழி பெறு, "/forever" { அச்சு "forever started"; (மெய்) சுற்று { i = 1; } }
வழி பெறு, "/other" { பதில் 200, "wrong"; }
வழி பதி, "/other" { பதில் 200, "wrong"; }
வழி பெறு, "/version" { பதில் 200, "v2"; }
வழி பதி, "/echo" { பதில் 200, "v2:" & request_body; }
"#;

fn queue_depth(s: &Server) -> String {
    let metrics = s.get("/metrics").text();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("etamil_queue_depth "))
        .unwrap_or("?")
        .to_owned()
}

#[test]
fn requests_parsed_before_a_reload_run_on_the_old_app() {
    let dir = temp_dir("reload-inflight");
    let file = dir.join("app.qmz");
    std::fs::write(&file, V1).unwrap();
    // One worker, so a request can be held in the queue behind an endless handler.
    let s = Server::start(&[
        file.to_str().unwrap(),
        "--workers",
        "1",
        "--handler-timeout",
        "5s",
        "--body-timeout",
        "30s",
    ]);
    assert_eq!(s.get("/version").text(), "v1");

    // 1. A request whose head was parsed (the `100 Continue` says it was admitted) and whose
    //    body is still to come.
    let mut uploading = s.client();
    uploading.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    // Read the interim answer off the socket ourselves (`Client::response` skips it).
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(uploading.stream.read(&mut byte).unwrap(), 1, "closed");
        interim.push(byte[0]);
    }
    assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");

    // 2. The only worker busy until its deadline, and a request queued behind it.
    let mut running = s.client();
    running.send(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(s.wait_for_log("forever started"), "{}", s.stderr());
    let mut queued = s.client();
    queued.send(b"GET /version HTTP/1.1\r\nHost: t\r\n\r\n");
    let deadline = Instant::now() + PATIENCE;
    while queue_depth(&s) != "1" {
        assert!(Instant::now() < deadline, "never queued: {}", s.stderr());
        std::thread::yield_now();
    }

    // 3. Reload to v2, and wait until the reactor swapped it in.
    std::fs::write(&file, V2).unwrap();
    s.signal(Signal::SIGHUP);
    assert!(s.wait_for_log("reloaded"), "{}", s.stderr());
    // The queued request was still waiting when v2 became current (else this test would prove
    // nothing about it): the worker is still held by /forever.
    assert_eq!(queue_depth(&s), "1", "{}", s.stderr());

    // A request parsed now runs on v2.
    let mut fresh = s.client();
    fresh.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");

    // The body parsed under v1 arrives after the swap: v1 answers it.
    uploading.send(b"hello");
    let old_upload = uploading.response();
    assert_eq!(
        (old_upload.status, old_upload.text().as_str()),
        (200, "v1:hello")
    );

    // /forever ends at its deadline; the request queued under v1 is run by v1.
    assert_eq!(running.response().status, 504);
    let old_queued = queued.response();
    assert_eq!((old_queued.status, old_queued.text().as_str()), (200, "v1"));
    let new = fresh.response();
    assert_eq!((new.status, new.text().as_str()), (200, "v2:hi"));

    // And the next requests, on any connection, get v2.
    queued.send(b"GET /version HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(queued.response().text(), "v2");
    uploading.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx");
    assert_eq!(uploading.response().text(), "v2:x");
    let _ = std::fs::remove_dir_all(dir);
}
