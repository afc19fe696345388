//! Responses → bytes: status line, Date, Server, framing, `X-Request-Id`; JSON error bodies;
//! the cached Date; request ids.
//!
//! Owns the wire form of every response the server writes. It decides nothing about which
//! status to send (conn.rs maps each typed error to its status) and writes to no socket.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::digits::Decimal;
use crate::lang::ResponseHeader;

/// Our `Server` header value.
pub const SERVER: &str = concat!("etamil-mio/", env!("CARGO_PKG_VERSION"));

/// Headers the server always writes itself; a handler's copy is dropped (LANGUAGE.md 10.5 leaves
/// framing to the server; Date, Server and X-Request-Id must match the log).
const SERVER_OWNED: &[&str] = &["date", "server", "x-request-id"];

/// How one response is framed.
#[derive(Clone, Copy, Debug)]
pub struct Framing<'a> {
    pub request_id: &'a str,
    /// The cached IMF-fixdate.
    pub date: &'a str,
    /// Send `Connection: close` (the server closes after this response).
    pub close: bool,
    /// An HTTP/1.0 client that asked for keep-alive must be told it was granted.
    pub keep_alive_10: bool,
    /// HEAD: the length the body would have, no body.
    pub head: bool,
}

/// The reason phrase RFC 9110 registers for `status`; `Unknown` for codes without one.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// RFC 9110 §6.4.1, §8.6: these never carry a body or Content-Length.
pub fn bodyless(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

/// Appends a complete response to `out`. `server_headers` are ours (canonical case);
/// `handler_headers` are sent as written, minus the ones the server owns.
pub fn encode(
    out: &mut Vec<u8>,
    status: u16,
    server_headers: &[(&str, &str)],
    handler_headers: &[ResponseHeader],
    body: &[u8],
    f: &Framing<'_>,
) {
    out.reserve(160 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    push_num(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(f.date.as_bytes());
    out.extend_from_slice(b"\r\nServer: ");
    out.extend_from_slice(SERVER.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in server_headers {
        push_header(out, name, value);
    }
    for (name, value) in handler_headers {
        if !SERVER_OWNED.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            push_header(out, name, value);
        }
    }
    let has_body = !bodyless(status);
    if has_body {
        out.extend_from_slice(b"Content-Length: ");
        push_num(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    if f.close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if f.keep_alive_10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"X-Request-Id: ");
    out.extend_from_slice(f.request_id.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    if has_body && !f.head {
        out.extend_from_slice(body);
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn push_num(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(Decimal::new(n, 1).as_bytes());
}

/// SERVER.md's error body: `{"error":"…","status":N,"request_id":"…"}`.
pub fn error_body(status: u16, message: &str, request_id: &str) -> Vec<u8> {
    let message = message.strip_prefix("✗ ").unwrap_or(message);
    let mut s = String::with_capacity(message.len() + request_id.len() + 48);
    s.push_str("{\"error\":");
    json_string(&mut s, message);
    s.push_str(",\"status\":");
    s.push_str(&status.to_string());
    s.push_str(",\"request_id\":");
    json_string(&mut s, request_id);
    s.push('}');
    s.into_bytes()
}

/// Appends `text` as a JSON string (RFC 8259 §7).
pub fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The `Date` header value, formatted once per second (RFC 9110 §5.6.7 IMF-fixdate).
pub struct DateCache {
    second: u64,
    text: String,
}

impl Default for DateCache {
    fn default() -> DateCache {
        let mut d = DateCache {
            second: u64::MAX,
            text: String::new(),
        };
        d.refresh(SystemTime::now());
        d
    }
}

impl DateCache {
    /// Reformats only when the second changed.
    pub fn refresh(&mut self, now: SystemTime) {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs != self.second {
            self.second = secs;
            self.text = http_date(secs);
        }
    }

    pub fn get(&self) -> &str {
        &self.text
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for seconds since the epoch.
pub fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A request's id: one of ours (32 hex digits, held inline, so making one allocates nothing on
/// the reactor) or the client's `X-Request-Id` (shared, not copied, by the connection, the job
/// and the log lines). Reads as the `str` it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestId {
    Ours([u8; 32]),
    Client(Arc<str>),
}

impl std::ops::Deref for RequestId {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            // Hex digits only: always valid UTF-8.
            RequestId::Ours(hex) => std::str::from_utf8(hex).unwrap_or_default(),
            RequestId::Client(id) => id,
        }
    }
}

impl From<&str> for RequestId {
    fn from(id: &str) -> RequestId {
        RequestId::Client(Arc::from(id))
    }
}

/// Fresh request ids: 32 lowercase hex digits from a xorshift generator seeded once at start,
/// so an id costs no syscall. Not a secret, only unique enough to find a request in the logs,
/// across restarts and across instances started in the same nanosecond.
pub struct IdGen {
    state: [u64; 2],
}

impl Default for IdGen {
    fn default() -> IdGen {
        use std::hash::{BuildHasher, Hasher};
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        // RandomState's keys come from the OS's random source (read once per thread by std).
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let seed = t ^ random ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
        IdGen {
            state: [splitmix(seed), splitmix(seed ^ 0xdead_beef_cafe_f00d) | 1],
        }
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl IdGen {
    fn next_u64(&mut self) -> u64 {
        // xorshift128+
        let [mut s1, s0] = self.state;
        let result = s0.wrapping_add(s1);
        s1 ^= s1 << 23;
        self.state = [s0, s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26)];
        result
    }

    /// A fresh id.
    pub fn next_id(&mut self) -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = [0u8; 32];
        for (half, n) in id.chunks_mut(16).zip([self.next_u64(), self.next_u64()]) {
            for (i, b) in half.iter_mut().enumerate() {
                *b = HEX[(n >> (60 - 4 * i) & 0xf) as usize];
            }
        }
        RequestId::Ours(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing(close: bool, head: bool) -> Framing<'static> {
        Framing {
            request_id: "rid",
            date: "Thu, 01 Jan 1970 00:00:00 GMT",
            close,
            keep_alive_10: false,
            head,
        }
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn encodes_with_length_and_id() {
        let mut out = Vec::new();
        let handler: Vec<ResponseHeader> = vec![
            ("Content-Type".into(), "application/json".into()),
            ("server".into(), "x".into()),
        ];
        encode(&mut out, 200, &[], &handler, b"{}", &framing(false, false));
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(
            "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nServer: etamil-mio/"
        ));
        assert!(text.contains("\r\nContent-Type: application/json\r\nContent-Length: 2\r\nX-Request-Id: rid\r\n\r\n{}"));
        assert!(!text.contains("server: x"));
    }

    #[test]
    fn head_and_bodyless() {
        let mut out = Vec::new();
        encode(&mut out, 200, &[], &[], b"hello", &framing(true, true));
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 5\r\nConnection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        let mut out = Vec::new();
        encode(
            &mut out,
            204,
            &[("Allow", "GET")],
            &[],
            b"ignored",
            &framing(false, false),
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"));
        assert!(!text.contains("Content-Length") && text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn error_bodies_are_json() {
        let b = error_body(500, "✗ line 1: \"bad\"\n", "r1");
        assert_eq!(
            String::from_utf8(b).unwrap(),
            r#"{"error":"line 1: \"bad\"\n","status":500,"request_id":"r1"}"#
        );
    }

    #[test]
    fn ids_are_hex_and_distinct() {
        let mut g = IdGen::default();
        let (a, b) = (g.next_id(), g.next_id());
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
