//! A driver for the fuzz target `fuzz/fuzz_targets/conn.rs`: one `Conn` fed arbitrary bytes
//! split at arbitrary points, with arbitrary worker outcomes, timeouts, short writes, the
//! drain and every admission option, exactly as the reactor would drive it. Not part of the
//! server; public only so the fuzz crate can reach it.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{BufPool, Conn, Ctx, Next};
use super::guard::{Cors, Guard, RateLimiter, Secret};
use super::limits::Limits;
use super::metrics::Metrics;
use super::pool::JobOutcome;
use super::response::IdGen;
use super::router::Router;
use super::timer::TimerKind;
use crate::app::App;
use crate::lang::chunk::RouteInfo;
use crate::lang::parser::route_segments;
use crate::lang::{Program, Response};

/// The socket as the fuzzer scripts it: reads hand out the pending chunk, writes take at
/// most `write_room` bytes.
struct Script {
    chunk: Vec<u8>,
    eof: bool,
    write_room: usize,
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.chunk.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.drain(..n);
        Ok(n)
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.write_room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.write_room);
        self.write_room -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn route(method: &str, path: &str) -> RouteInfo {
    RouteInfo {
        method: method.to_owned(),
        path: path.to_owned(),
        segments: route_segments(path),
        file: Arc::from("fuzz.qmz"),
        line: 1,
    }
}

/// Drives one connection with `data`: byte 0 picks the options, then each step is an
/// operation byte followed (for reads) by a length byte and that many input bytes.
pub fn drive_conn(data: &[u8]) {
    let Some((&options, mut rest)) = data.split_first() else {
        return;
    };
    let tiny = options & 1 != 0;
    let limits = Limits {
        max_header_bytes: if tiny { 64 } else { 16 << 10 },
        max_header_count: if tiny { 3 } else { 100 },
        max_uri_bytes: if tiny { 16 } else { 8 << 10 },
        max_body_bytes: if tiny { 8 } else { 1 << 20 },
        keepalive_requests: if tiny { 2 } else { 0 },
        max_buffered_bytes: if options & 32 != 0 { 1 } else { 1 << 30 },
        ..Limits::default()
    };
    let routes = [
        route("GET", "/gst/:amount"),
        route("POST", "/echo"),
        route("GET", "/"),
        route("OPTIONS", "/opt"),
    ];
    let metrics = Metrics::new(&[]);
    let patterns: Vec<String> = routes.iter().map(|r| r.path.clone()).collect();
    let app = Arc::new(App {
        program: Program::default(),
        router: Router::new(&routes),
        origin: "fuzz".into(),
        metric_ids: metrics.route_ids(&patterns),
    });
    let mut guard = Guard {
        rate: (options & 2 != 0).then(|| RateLimiter::new(0.5, 2, 4)),
        cors: (options & 4 != 0).then(|| Cors::List(vec!["https://a".into()])),
        token: if options & 8 != 0 {
            Secret::new("tok")
        } else {
            None
        },
    };
    let mut ids = IdGen::default();
    let mut bufs = BufPool::default();
    let started = Instant::now();
    let mut now = started;
    let peer: SocketAddr = ([10, 0, 0, 1], 1234).into();
    let mut conn = Conn::new(1, Some(peer), now);
    let mut sock = Script {
        chunk: Vec::new(),
        eof: false,
        write_room: usize::MAX,
    };
    let mut draining = false;
    for _ in 0..10_000 {
        let Some((&op, tail)) = rest.split_first() else {
            break;
        };
        rest = tail;
        // No other connections (buffered_bytes 0): the 1-byte cap option drives the refusals.
        macro_rules! ctx {
            () => {
                Ctx {
                    app: &app,
                    limits: &limits,
                    date: "Thu, 01 Jan 1970 00:00:00 GMT",
                    ids: &mut ids,
                    bufs: &mut bufs,
                    started,
                    access_log: false,
                    now,
                    buffered_bytes: 0,
                    ready: !draining,
                    draining,
                    guard: &mut guard,
                    metrics: &metrics,
                    open_fds: 0,
                }
            };
        }
        let mut ctx = ctx!();
        let next = match op % 8 {
            // Input: a length byte, then that many bytes (or what is left).
            0..=3 => {
                let (&len, tail) = rest.split_first().unwrap_or((&0, &[]));
                let n = usize::from(len).min(tail.len());
                sock.chunk.extend_from_slice(&tail[..n]);
                rest = &tail[n..];
                conn.readable = true;
                if conn.wants_read() && conn.read_from(&mut sock, &mut ctx).is_err() {
                    return;
                }
                conn.advance(&mut ctx)
            }
            // The socket accepts some output.
            4 => {
                sock.write_room = usize::from(op >> 3) * 97;
                conn.writable = true;
                if conn.has_output() && conn.write_to(&mut sock, ctx.bufs, now).is_err() {
                    return;
                }
                conn.advance(&mut ctx)
            }
            // Time passes and the current deadline fires.
            5 => {
                now += Duration::from_millis(u64::from(op) * 300);
                ctx.now = now;
                match conn.deadline(&limits) {
                    Some((at, kind)) if at <= now => conn.on_timeout(kind, &mut ctx),
                    _ => conn.on_timeout(TimerKind::Linger, &mut ctx),
                }
            }
            // End-of-file from the peer.
            6 => {
                sock.eof = true;
                conn.readable = true;
                if conn.read_from(&mut sock, &mut ctx).is_err() {
                    return;
                }
                conn.advance(&mut ctx)
            }
            // The drain starts.
            _ => {
                draining = true;
                ctx.draining = true;
                ctx.ready = false;
                conn.advance(&mut ctx)
            }
        };
        match next {
            Next::Close => break,
            Next::Linger | Next::Wait => {}
            Next::Submit(_) => {
                // Some worker outcome, chosen by the next byte.
                let (&pick, tail) = rest.split_first().unwrap_or((&0, &[]));
                rest = tail;
                let outcome = match pick % 4 {
                    0 => JobOutcome::Response(Response {
                        status: 100 + u16::from(pick) * 2,
                        body: vec![b'x'; usize::from(pick)],
                        headers: vec![("Vary".into(), "A".into())],
                    }),
                    1 => JobOutcome::NoContent,
                    2 => JobOutcome::Failed {
                        status: 503,
                        message: "queued too long".into(),
                    },
                    _ => JobOutcome::Failed {
                        status: 504,
                        message: "deadline".into(),
                    },
                };
                let mut ctx = ctx!();
                conn.on_done(outcome, &mut ctx);
            }
        }
        let _ = conn.deadline(&limits);
    }
    conn.on_close(&metrics, false);
    conn.release(&mut bufs);
}

#[cfg(test)]
mod tests {
    /// The fuzz driver itself never panics on a few shapes (the fuzzer does the rest).
    #[test]
    fn drives_a_few_shapes() {
        super::drive_conn(b"");
        super::drive_conn(b"\x00\x00\x20GET / HTTP/1.1\r\nHost: a\r\n\r\n\x00\x04\xff");
        for options in 0..64u8 {
            let mut data = vec![options, 0, 60];
            data.extend_from_slice(
                b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab",
            );
            data.extend_from_slice(&[5, 7, 4, 0, 3, b'c', b'x', b'y', 2, 6, 5, 4]);
            super::drive_conn(&data);
        }
    }
}
