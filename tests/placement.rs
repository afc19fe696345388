//! `--colocate` end to end: under a light load (one client, one request at a time) the reactor
//! and the workers end up on one CPU, and say so in the log and /metrics, while every answer
//! stays right; with `--colocate off` the kernel keeps placing them.
//!
//! One test function, so no other server of this binary loads the CPUs meanwhile (another
//! process on the shared CPU is a reason to spread). Waits are deadlines, never timing goals.
mod support;

use std::time::{Duration, Instant};

use support::{Server, PATIENCE};

/// `Cpus_allowed_list` of each thread of `pid`, by thread name.
fn thread_cpus(pid: u32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = entry.unwrap().path();
        let (Ok(name), Ok(status)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("status")),
        ) else {
            continue; // the thread ended meanwhile
        };
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap()
            .trim()
            .to_owned();
        out.push((name.trim().to_owned(), cpus));
    }
    out
}

/// CPUs this test may use (the server inherits them), from a list such as "0-3,6".
fn allowed_cpu_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim();
    list.split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

fn gauge(s: &Server, name: &str) -> f64 {
    let text = s.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap()
}

/// 200 requests on one connection, one at a time, each answered right. (A new connection each
/// time: the server closes one after --keepalive-requests.)
fn light_load(s: &Server) {
    let mut c = s.client();
    for _ in 0..200 {
        c.send(b"GET /gst/1000 HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.response();
        assert_eq!((r.status, r.text()), (200, r#"{"gst":180}"#.to_owned()));
    }
}

fn is_server_thread(name: &str) -> bool {
    name == "etamil-mio" || name.starts_with("etamil-worker")
}

#[test]
fn a_light_load_puts_the_reactor_and_the_workers_on_one_cpu_unless_off() {
    let cpus = allowed_cpu_count();

    // Off: several of the governor's ticks (500 ms) of light load move nothing.
    let off = Server::start(&["--access-log", "off", "--colocate", "off"]);
    let until = Instant::now() + Duration::from_millis(1600);
    while Instant::now() < until {
        light_load(&off);
    }
    assert_eq!(gauge(&off, "etamil_threads_colocated"), 0.0);
    assert_eq!(gauge(&off, "etamil_colocate_moves_total"), 0.0);
    let full = thread_cpus(std::process::id())[0].1.clone();
    for (name, list) in thread_cpus(off.pid()) {
        assert_eq!(list, full, "{name} was moved with --colocate off");
    }
    drop(off);

    // On (the default).
    let on = Server::start(&["--access-log", "off"]);
    if cpus < 2 {
        // One CPU: nothing to choose, the governor does not run.
        light_load(&on);
        assert_eq!(gauge(&on, "etamil_threads_colocated"), 0.0);
        return;
    }
    let deadline = Instant::now() + PATIENCE;
    while gauge(&on, "etamil_threads_colocated") != 1.0 {
        assert!(Instant::now() < deadline, "never shared: {}", on.stderr());
        light_load(&on);
    }
    assert!(on.wait_for_log("reactor and workers now share one CPU"));
    assert!(gauge(&on, "etamil_colocate_moves_total") >= 1.0);
    let threads = thread_cpus(on.pid());
    let server: Vec<_> = threads
        .iter()
        .filter(|(n, _)| is_server_thread(n))
        .collect();
    assert!(server.len() >= 2, "{threads:?}");
    let shared = &server[0].1;
    assert!(
        shared.parse::<usize>().is_ok(),
        "one CPU expected: {threads:?}"
    );
    for (name, list) in &server {
        assert_eq!(list, shared, "{name}: {threads:?}");
    }
    // Still serving, on one CPU.
    light_load(&on);
}
