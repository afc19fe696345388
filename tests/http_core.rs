//! End-to-end tests of the serving core (issue 3): the real binary on --port 0, raw bytes over
//! TCP. No timing assertions: every wait is a deadline.
mod support;

use std::io::Write;
use std::net::{Shutdown, TcpStream};

use support::{app, Client, Server};

fn test_app() -> Server {
    Server::start(&[app("test_app.qmz").to_str().unwrap()])
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

#[test]
fn keep_alive_across_requests() {
    let s = test_app();
    let mut c = s.client();
    for amount in [1000, 250, 5] {
        c.send(&get(&format!("/gst/{amount}")));
        let r = c.response();
        assert_eq!(r.status, 200);
        assert!(r.header("Connection").is_none());
        assert!(r.header("Date").is_some() && r.header("Server").is_some());
        assert_eq!(r.header("X-Request-Id").map(str::len), Some(32));
    }
    c.send(&get("/gst/1000"));
    assert_eq!(c.response().text(), r#"{"gst":180}"#);
}

#[test]
fn ten_pipelined_requests_in_one_write() {
    let s = test_app();
    let mut c = s.client();
    let mut wire = Vec::new();
    for i in 0..10 {
        wire.extend(get(&format!("/gst/{}", i * 100)));
    }
    c.send(&wire);
    for i in 0..10 {
        let r = c.response();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.text(),
            format!("{{\"gst\":{}}}", i * 18),
            "answer {i} out of order"
        );
    }
}

#[test]
fn six_hundred_pipelined_server_answers() {
    // More requests the reactor answers itself than fit one input buffer, in one write.
    let s = test_app();
    let mut c = s.client();
    let mut wire = Vec::new();
    for _ in 0..600 {
        wire.extend(get("/health"));
    }
    wire.extend(get("/gst/1000"));
    c.send(&wire);
    for i in 0..600 {
        assert_eq!(c.response().status, 200, "answer {i}");
    }
    assert_eq!(c.response().text(), r#"{"gst":180}"#);
}

#[test]
fn request_in_one_byte_writes() {
    let s = test_app();
    let mut c = s.client();
    for b in b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello" {
        c.send(&[*b]);
    }
    let r = c.response();
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
}

#[test]
fn content_length_and_chunked_bodies() {
    let s = test_app();
    let mut c = s.client();
    let tamil = "வணக்கம் உலகம்";
    c.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{tamil}",
            tamil.len()
        )
        .as_bytes(),
    );
    let r = c.response();
    assert_eq!(r.text(), tamil);
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    c.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n\
          5;ext=\"a;b\"\r\n{\"a\":\r\n3 ; x\r\n 12\r\n1\r\n}\r\n0\r\nX-Checksum: abc\r\nX-More: 1\r\n\r\n",
    );
    let r = c.response();
    assert_eq!((r.status, r.text().as_str()), (200, "{\"a\": 12}"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    // The connection is still in step after a chunked body with trailers.
    c.send(&get("/gst/1000"));
    assert_eq!(c.response().text(), r#"{"gst":180}"#);
}

#[test]
fn expect_100_continue() {
    let s = test_app();
    let mut c = s.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    // The interim answer arrives before we send the body.
    let mut first = [0u8; 25];
    std::io::Read::read_exact(&mut c.stream, &mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send(b"ping");
    assert_eq!(c.response().text(), "ping");
}

#[test]
fn head_gets_the_get_length_and_no_body() {
    let s = test_app();
    let mut c = s.client();
    c.send(b"HEAD /gst/1000 HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("11"));
    // No body came: the next response starts right away.
    c.send(&get("/gst/2000"));
    assert_eq!(c.response().text(), r#"{"gst":360}"#);
}

#[test]
fn http_1_0() {
    let s = test_app();
    let mut c = s.client();
    c.send(b"GET /gst/1000 HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.header("Connection")), (200, Some("close")));
    assert!(c.closed());
    let mut c = s.client();
    c.send(b"GET /gst/1000 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(c.response().header("Connection"), Some("keep-alive"));
    c.send(b"GET /gst/10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(c.response().text(), r#"{"gst":1.8}"#);
}

#[test]
fn not_found_405_and_options() {
    let s = test_app();
    let mut c = s.client();
    c.send(&get("/no/such/route"));
    let r = c.response();
    assert_eq!(r.status, 404);
    let id = r.header("X-Request-Id").unwrap().to_owned();
    assert_eq!(
        r.text(),
        format!(r#"{{"error":"not found","status":404,"request_id":"{id}"}}"#)
    );
    c.send(b"DELETE /gst/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response();
    assert_eq!(
        (r.status, r.header("Allow")),
        (405, Some("GET, HEAD, OPTIONS"))
    );
    c.send(b"OPTIONS /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.header("Allow")), (204, Some("POST, OPTIONS")));
    assert!(r.header("Content-Length").is_none());
    c.send(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        c.response().header("Allow"),
        Some("GET, HEAD, POST, DELETE, OPTIONS")
    );
}

#[test]
fn tamil_path_params_percent_encoded_and_query() {
    let s = test_app();
    let r = s.get("/params/%E0%AE%B5%E0%AE%B0%E0%AE%BF/a%2Fb?name=%E0%AE%B0%E0%AE%B5%E0%AE%BF&city=New+Delhi&x=1&x=2&flag");
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.text();
    assert!(t.contains(r#""first":"வரி""#), "{t}");
    assert!(t.contains(r#""second":"a/b""#), "{t}");
    assert!(
        t.contains(r#""path":"/params/%E0%AE%B5%E0%AE%B0%E0%AE%BF/a%2Fb""#),
        "{t}"
    );
    assert!(
        t.contains(r#""query":{"city":"New Delhi","name":"ரவி","x":"2"}"#),
        "{t}"
    );
    // Raw UTF-8 in the target and absolute-form work too.
    let r = s.get("http://example.com/params/x/y?q=1");
    assert!(r.text().contains(r#""path":"/params/x/y""#), "{}", r.text());
}

#[test]
fn request_headers_reach_the_handler() {
    let s = test_app();
    let mut c = s.client();
    c.send(
        b"GET /headers HTTP/1.1\r\nHost: t\r\nX-Trace-Id:  t-42 \r\nX-Request-Id: my-req-1\r\n\r\n",
    );
    let r = c.response();
    let t = r.text();
    assert!(t.contains(r#""x-trace-id":"t-42""#), "{t}");
    assert_eq!(r.header("X-Request-Id"), Some("my-req-1"));
    c.send(&get("/teapot"));
    let r = c.response();
    assert_eq!(r.status, 418);
    assert_eq!(r.header("X-Custom"), Some("yes"));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    c.send(b"DELETE /item/7 HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 204);
    assert!(r.header("Content-Length").is_none());
}

#[test]
fn handler_error_is_500_and_connection_stays_usable() {
    let s = test_app();
    let mut c = s.client();
    c.send(&get("/fail"));
    let r = c.response();
    assert_eq!(r.status, 500);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let t = r.text();
    assert!(
        t.contains("division by zero") && t.contains(r#""status":500"#),
        "{t}"
    );
    assert!(!t.contains("✗"), "{t}");
    c.send(&get("/gst/1000"));
    assert_eq!(c.response().text(), r#"{"gst":180}"#);
}

#[test]
fn deadline_is_504() {
    let s = Server::start(&[
        "--handler-timeout",
        "300ms",
        app("test_app.qmz").to_str().unwrap(),
    ]);
    let mut c = s.client();
    c.send(&get("/forever"));
    let r = c.response();
    assert_eq!(r.status, 504, "{}", r.text());
    c.send(&get("/gst/1000"));
    assert_eq!(c.response().status, 200);
}

#[test]
fn health_and_ready_on_the_reactor() {
    let s = test_app();
    let r = s.get("/health/");
    assert_eq!(r.status, 200);
    assert!(
        r.text().starts_with(r#"{"status":"healthy","uptime":""#),
        "{}",
        r.text()
    );
    assert_eq!(s.get("/ready").text(), r#"{"status":"ready"}"#);
    let mut c = s.client();
    c.send(b"POST /health HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.header("Allow")), (405, Some("GET, HEAD")));
}

#[test]
fn malformed_requests_get_400_and_the_server_goes_on() {
    let s = test_app();
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ] {
        let mut c = s.client();
        c.send(bad);
        let r = c.response();
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(bad));
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(c.closed());
    }
    let mut c = s.client();
    c.send(b"GET / HTTP/2.0\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 505);
    assert_eq!(s.get("/gst/1000").status, 200);
}

#[test]
fn body_over_the_cap_is_413_before_the_body() {
    let s = Server::start(&[
        "--max-body-bytes",
        "8",
        app("test_app.qmz").to_str().unwrap(),
    ]);
    let mut c = s.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n");
    assert_eq!(c.response().status, 413);
    let mut c = s.client();
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n");
    assert_eq!(c.response().status, 413);
}

#[test]
fn thousand_concurrent_connections() {
    let s = test_app();
    let mut clients: Vec<Client> = (0..1000).map(|_| s.client()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&get(&format!("/gst/{i}")));
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let r = c.response();
        assert_eq!(r.status, 200, "connection {i}: {}", r.text());
        let want = format!("{{\"gst\":{}}}", support_gst(i));
        assert_eq!(r.text(), want, "connection {i}");
    }
}

/// 18 % of i, rendered as eTamil renders numbers (no trailing zeros).
fn support_gst(i: usize) -> String {
    let hundredths = i * 18;
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

#[test]
fn completion_after_client_closed_is_dropped() {
    let s = Server::start(&[
        "--handler-timeout",
        "300ms",
        "--log-level",
        "debug",
        app("test_app.qmz").to_str().unwrap(),
    ]);
    // Reset (SO_LINGER 0) so the server sees an error and frees the slot while the job runs.
    {
        let stream = TcpStream::connect(&s.addr).unwrap();
        (&stream).write_all(&get("/forever")).unwrap();
        // Only once the worker runs it can its completion outlive the connection.
        assert!(
            s.wait_for_log("forever started"),
            "handler never started:\n{}",
            s.stderr()
        );
        let sock = socket2::SockRef::from(&stream);
        sock.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    }
    assert!(
        s.wait_for_log("dropped"),
        "no dropped completion logged:\n{}",
        s.stderr()
    );
    // A plain close (FIN) of a request in flight: the answer goes nowhere, harmlessly.
    {
        let stream = TcpStream::connect(&s.addr).unwrap();
        (&stream).write_all(&get("/forever")).unwrap();
        stream.shutdown(Shutdown::Both).unwrap();
    }
    // New connections reuse slots; their answers must be their own.
    for i in 0..20 {
        let r = s.get(&format!("/gst/{}", i * 100));
        assert_eq!(r.text(), format!("{{\"gst\":{}}}", i * 18));
    }
}
