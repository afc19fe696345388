//! Issue 4: admission before a job — rate limit (429), CORS, bearer token (401) — in SERVER.md's
//! order, on the real binary.
mod support;

use std::process::Command;

use nix::sys::signal::Signal;
use support::{app, temp_dir, Response, Server};

fn start(extra: &[&str]) -> Server {
    let test_app = app("test_app.qmz");
    let mut args = vec![test_app.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn request(s: &Server, wire: &str) -> Response {
    let mut c = s.client();
    c.send(wire.as_bytes());
    c.response()
}

#[test]
fn rate_limit_429_with_retry_after_and_exempt_endpoints() {
    let s = start(&["--rate-limit", "0.01", "--rate-burst", "2"]);
    assert_eq!(s.get("/gst/1").status, 200);
    assert_eq!(s.get("/gst/1").status, 200);
    let r = s.get("/gst/1");
    assert_eq!(r.status, 429, "{}", r.text());
    let retry: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    assert!(r.text().contains("\"status\":429"));
    // Before routing: an unknown path is 429 too, and the server's endpoints are exempt.
    assert_eq!(s.get("/nope").status, 429);
    for path in ["/health", "/ready", "/health/"] {
        assert_eq!(s.get(path).status, 200, "{path}");
    }
}

#[test]
fn bearer_token_from_the_environment() {
    let mut s = Server::start_with_env(
        &["--port", "0", app("test_app.qmz").to_str().unwrap()],
        &[("ETAMIL_AUTH_TOKEN", " s3cret \n")],
    );
    let r = s.get("/gst/1");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
    // Before routing: an unknown path does not say 404.
    assert_eq!(s.get("/no/such/route").status, 401);
    let ok = request(
        &s,
        "GET /gst/1000 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\n\r\n",
    );
    assert_eq!((ok.status, ok.text().as_str()), (200, r#"{"gst":180}"#));
    let bad = request(
        &s,
        "GET /gst/1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cre\r\n\r\n",
    );
    assert_eq!(bad.status, 401);
    assert_eq!(s.get("/health").status, 200);
    assert_eq!(s.get("/ready").status, 200);
    // A 401 with a body on the way closes the connection (lingering), answer intact.
    let r = request(
        &s,
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!((r.status, r.header("Connection")), (401, Some("close")));
    assert!(s.alive());
}

#[test]
fn bearer_token_file_is_reread_on_sighup() {
    let dir = temp_dir("token");
    let file = dir.join("token");
    std::fs::write(&file, "first\n").unwrap();
    let s = start(&["--auth-token-file", file.to_str().unwrap()]);
    let auth =
        |t: &str| format!("GET /gst/1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {t}\r\n\r\n");
    assert_eq!(request(&s, &auth("first")).status, 200);
    std::fs::write(&file, "second").unwrap();
    s.signal(Signal::SIGHUP);
    assert!(s.wait_for_log("reloaded"), "{}", s.stderr());
    assert_eq!(request(&s, &auth("first")).status, 401);
    assert_eq!(request(&s, &auth("second")).status, 200);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn auth_refuses_to_start_when_ambiguous_or_empty() {
    let dir = temp_dir("token-bad");
    let empty = dir.join("empty");
    std::fs::write(&empty, " \n").unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(support::bin());
        cmd.args(["--port", "0"]).args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("ETAMIL_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied()).output().unwrap()
    };
    let out = run(&["--auth-token-file", empty.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
    let out = run(&["--auth-token-file", "/x"], &[("ETAMIL_AUTH_TOKEN", "t")]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[], &[("ETAMIL_AUTH_TOKEN", "")]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cors_preflight_and_allowed_origins() {
    let s = Server::start_with_env(
        &[
            "--port",
            "0",
            "--cors-origin",
            "https://a.example,https://b.example",
            app("test_app.qmz").to_str().unwrap(),
        ],
        &[("ETAMIL_AUTH_TOKEN", "tok")],
    );
    // A preflight is answered by the server, before auth.
    let r = request(
        &s,
        "OPTIONS /echo HTTP/1.1\r\nHost: t\r\nOrigin: https://b.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, authorization\r\n\r\n",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://b.example")
    );
    assert_eq!(
        r.header("Access-Control-Allow-Methods"),
        Some("POST, OPTIONS")
    );
    assert_eq!(
        r.header("Access-Control-Allow-Headers"),
        Some("content-type, authorization")
    );
    assert_eq!(r.header("Access-Control-Max-Age"), Some("600"));
    assert_eq!(r.header("Vary"), Some("Origin"));
    // An actual request from an allowed origin: ours replace the handler's.
    let r = request(
        &s,
        "GET /gst/1 HTTP/1.1\r\nHost: t\r\nOrigin: https://a.example\r\nAuthorization: Bearer tok\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://a.example")
    );
    assert_eq!(r.header("Vary"), Some("Origin"));
    // The 401 to an allowed origin carries it too, so the browser can read it.
    let r = request(
        &s,
        "GET /gst/1 HTTP/1.1\r\nHost: t\r\nOrigin: https://a.example\r\n\r\n",
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://a.example")
    );
    // Another origin gets no CORS header.
    let r = request(
        &s,
        "GET /gst/1 HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example\r\nAuthorization: Bearer tok\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Access-Control-Allow-Origin"), None);
}

#[test]
fn cors_star_and_none_without_the_option() {
    let s = start(&["--cors-origin", "*"]);
    let r = request(
        &s,
        "GET /gst/1 HTTP/1.1\r\nHost: t\r\nOrigin: https://x.example\r\n\r\n",
    );
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    let plain = start(&[]);
    let r = request(
        &plain,
        "OPTIONS /echo HTTP/1.1\r\nHost: t\r\nOrigin: https://x.example\r\nAccess-Control-Request-Method: POST\r\n\r\n",
    );
    assert_eq!(r.status, 204);
    assert!(
        r.headers
            .iter()
            .all(|(n, _)| !n.starts_with("Access-Control")),
        "{r:?}"
    );
    assert_eq!(r.header("Allow"), Some("POST, OPTIONS"));
}
