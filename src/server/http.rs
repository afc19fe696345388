//! Request heads: bytes → `Head` with httparse, plus the RFC 9112 framing checks httparse leaves
//! to us; every fault is a typed `Reject`.
//!
//! Owns: the request line and header fields, message framing (Content-Length, Transfer-Encoding),
//! keep-alive, `Expect`, the client's `X-Request-Id`, target forms. It does not decode bodies
//! (body.rs), route (router.rs) or build responses (response.rs).

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;

use super::limits::Limits;
use crate::lang::Headers;

/// How the body of a request is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// What the client put in `Expect` (RFC 9110 §10.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    None,
    Continue,
    /// Any other expectation → 417.
    Other,
}

/// A parsed request head, owning its data so the input buffer can be reused at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub method: Cow<'static, str>,
    /// The path of the target without the query, as sent (not decoded); `/` for `*`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// The target was `*` (only OPTIONS may use it).
    pub asterisk: bool,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 and later 1.x.
    pub minor_version: u8,
    pub headers: Headers,
    pub framing: Framing,
    pub keep_alive: bool,
    pub expect: Expect,
    /// The client's `X-Request-Id` when it is 1–128 bytes of visible ASCII.
    pub request_id: Option<String>,
}

/// Result of looking at a buffer that may hold a head.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The head is not complete yet; read more (within the header-size cap).
    Partial,
    /// A head and the number of bytes it took.
    Complete(Head, usize),
}

/// A request the server refuses on its head; each maps to one status (`status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    /// 400: malformed syntax or framing; the message says which rule.
    BadRequest(&'static str),
    /// 414.
    UriTooLong { limit: usize },
    /// 431: the head is larger than the cap.
    HeadTooLarge { limit: usize },
    /// 431: more header fields than the cap.
    TooManyHeaders { limit: usize },
    /// 501: a transfer coding other than chunked.
    NotImplemented(&'static str),
    /// 505: a major version other than 1.
    VersionNotSupported,
}

impl Reject {
    pub fn status(&self) -> u16 {
        match self {
            Reject::BadRequest(_) => 400,
            Reject::UriTooLong { .. } => 414,
            Reject::HeadTooLarge { .. } | Reject::TooManyHeaders { .. } => 431,
            Reject::NotImplemented(_) => 501,
            Reject::VersionNotSupported => 505,
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::BadRequest(why) => write!(f, "bad request: {why}"),
            Reject::UriTooLong { limit } => {
                write!(f, "request target too long (limit is {limit} bytes)")
            }
            Reject::HeadTooLarge { limit } => {
                write!(f, "request head too large (limit is {limit} bytes)")
            }
            Reject::TooManyHeaders { limit } => {
                write!(f, "too many header fields (limit is {limit})")
            }
            Reject::NotImplemented(why) => write!(f, "not implemented: {why}"),
            Reject::VersionNotSupported => f.write_str("HTTP version not supported"),
        }
    }
}

/// Header slots kept on the stack; a larger `--max-header-count` allocates.
const STACK_HEADERS: usize = 128;

/// Parses the head at the start of `buf` under `limits`.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Parsed, Reject> {
    match parse_inner(buf, limits) {
        Err(ParseFault::Version) => {
            // httparse only knows 1.0 and 1.1. Decide from the request line's last token
            // (RFC 9110 §2.5): HTTP/1.x with x > 1 is served as 1.1, another major is 505.
            match version_token(buf) {
                Some((at, tok))
                    if tok.len() == 8 && tok.starts_with(b"HTTP/1.") && tok[7].is_ascii_digit() =>
                {
                    let mut patched = buf.to_vec();
                    patched[at..at + 8].copy_from_slice(b"HTTP/1.1");
                    match parse_inner(&patched, limits) {
                        Err(ParseFault::Version) => Err(Reject::BadRequest("invalid HTTP version")),
                        Err(ParseFault::Reject(r)) => Err(r),
                        Ok(p) => Ok(p),
                    }
                }
                Some((_, tok))
                    if tok.len() >= 6
                        && tok.starts_with(b"HTTP/")
                        && tok[5].is_ascii_digit()
                        && tok[5] != b'1'
                        && tok[5..].iter().all(|b| b.is_ascii_digit() || *b == b'.') =>
                {
                    Err(Reject::VersionNotSupported)
                }
                _ => Err(Reject::BadRequest("invalid HTTP version")),
            }
        }
        Err(ParseFault::Reject(r)) => Err(r),
        Ok(p) => Ok(p),
    }
}

enum ParseFault {
    Version,
    Reject(Reject),
}

impl From<Reject> for ParseFault {
    fn from(r: Reject) -> ParseFault {
        ParseFault::Reject(r)
    }
}

/// The last space-separated token of the first line and where it starts, once the line is whole.
fn version_token(buf: &[u8]) -> Option<(usize, &[u8])> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let start = line.iter().rposition(|&b| b == b' ').map_or(0, |p| p + 1);
    Some((start, &line[start..]))
}

/// A method as a `Cow`: the common methods without an allocation.
pub fn method_name(method: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
    ];
    match KNOWN.iter().find(|&&m| m == method) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(method.to_owned()),
    }
}

/// Bytes of the header names and values (untrimmed): an upper bound for `Headers`.
fn fields_bytes(headers: &[httparse::Header<'_>]) -> usize {
    headers.iter().map(|h| h.name.len() + h.value.len()).sum()
}

fn parse_inner(buf: &[u8], limits: &Limits) -> Result<Parsed, ParseFault> {
    let count = limits.max_header_count;
    let mut stack: [MaybeUninit<httparse::Header<'_>>; STACK_HEADERS] =
        [const { MaybeUninit::uninit() }; STACK_HEADERS];
    let mut heap: Vec<MaybeUninit<httparse::Header<'_>>> = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if count <= STACK_HEADERS {
        &mut stack[..count]
    } else {
        heap.resize_with(count, MaybeUninit::uninit);
        &mut heap[..]
    };
    let mut req = httparse::Request::new(&mut []);
    let status = match req.parse_with_uninit_headers(buf, slots) {
        Ok(s) => s,
        Err(httparse::Error::Version) => return Err(ParseFault::Version),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Reject::TooManyHeaders { limit: count }.into())
        }
        Err(e) => return Err(Reject::BadRequest(bad_request_reason(e)).into()),
    };
    let len = match status {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => {
            // Caps for a head still arriving: the request line alone, then the whole head.
            let line_done = buf.contains(&b'\n');
            if !line_done && buf.len() > limits.max_uri_bytes + 64 {
                return Err(Reject::UriTooLong {
                    limit: limits.max_uri_bytes,
                }
                .into());
            }
            if buf.len() > limits.max_header_bytes {
                return Err(Reject::HeadTooLarge {
                    limit: limits.max_header_bytes,
                }
                .into());
            }
            return Ok(Parsed::Partial);
        }
    };
    if len > limits.max_header_bytes {
        return Err(Reject::HeadTooLarge {
            limit: limits.max_header_bytes,
        }
        .into());
    }
    // httparse fills these three on Complete; a missing one would be its bug, not the client's.
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(Reject::BadRequest("incomplete request line").into());
    };
    if target.len() > limits.max_uri_bytes {
        return Err(Reject::UriTooLong {
            limit: limits.max_uri_bytes,
        }
        .into());
    }
    let (path, query, asterisk) = split_target(method, target)?;
    let mut head = Head {
        method: method_name(method),
        path,
        query,
        asterisk,
        minor_version: minor,
        headers: Headers::with_capacity(req.headers.len(), fields_bytes(req.headers)),
        framing: Framing::None,
        keep_alive: minor >= 1,
        expect: Expect::None,
        request_id: None,
    };
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Vec<String> = Vec::new();
    let mut hosts = 0;
    for h in req.headers.iter() {
        let name = h.name;
        let value = trim(h.value);
        if name.eq_ignore_ascii_case("content-length") {
            // RFC 9112 §6.3: repeated or list-valued Content-Length must agree, else 400.
            for part in value.split(|&b| b == b',') {
                let n =
                    parse_length(trim(part)).ok_or(Reject::BadRequest("invalid Content-Length"))?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(Reject::BadRequest("conflicting Content-Length values").into());
                }
                content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            for coding in value.split(|&b| b == b',') {
                let coding = trim(coding);
                if !coding.is_empty() {
                    transfer_encoding.push(String::from_utf8_lossy(coding).to_ascii_lowercase());
                }
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    head.keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && minor == 0 {
                    head.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("expect") {
            // RFC 9110 §10.1.1: a 1.0 client's expectation is ignored.
            if minor >= 1 {
                head.expect = if value.eq_ignore_ascii_case(b"100-continue") {
                    Expect::Continue
                } else {
                    Expect::Other
                };
            }
        } else if name.eq_ignore_ascii_case("x-request-id") && is_request_id(value) {
            // Checked to be visible ASCII just above.
            head.request_id = Some(String::from_utf8_lossy(value).into_owned());
        }
        head.headers.push(name, value);
    }
    // RFC 9112 §3.2: exactly one Host in an HTTP/1.1 request.
    if minor >= 1 && hosts != 1 {
        return Err(Reject::BadRequest(if hosts == 0 {
            "missing Host header"
        } else {
            "repeated Host header"
        })
        .into());
    }
    if let Some((last, before)) = transfer_encoding.split_last() {
        // RFC 9112 §6.1: TE with CL is a smuggling vector; TE in 1.0 is faulty framing.
        if content_length.is_some() {
            return Err(Reject::BadRequest("both Content-Length and Transfer-Encoding").into());
        }
        if minor == 0 {
            return Err(Reject::BadRequest("Transfer-Encoding in an HTTP/1.0 request").into());
        }
        // RFC 9112 §6.3: the final coding must be chunked, and chunked only once.
        if last != "chunked" {
            return Err(Reject::BadRequest("final transfer coding is not chunked").into());
        }
        if before.iter().any(|c| c == "chunked") {
            return Err(Reject::BadRequest("chunked applied more than once").into());
        }
        if !before.is_empty() {
            return Err(Reject::NotImplemented("transfer coding other than chunked").into());
        }
        head.framing = Framing::Chunked;
    } else if let Some(n) = content_length {
        head.framing = Framing::Length(n);
    }
    // A request whose body framing cannot be trusted ends the connection after the answer.
    Ok(Parsed::Complete(head, len))
}

fn bad_request_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid method or target",
        _ => "malformed request head",
    }
}

/// Splits a request target (RFC 9112 §3.2) into path and query.
fn split_target(method: &str, target: &str) -> Result<(String, String, bool), Reject> {
    if target == "*" {
        if method != "OPTIONS" {
            return Err(Reject::BadRequest("'*' target is only for OPTIONS"));
        }
        return Ok(("/".to_owned(), String::new(), true));
    }
    let rest = if target.starts_with('/') {
        target
    } else {
        // absolute-form (RFC 9112 §3.2.2): the server ignores the authority's routing role.
        let lower_scheme = target
            .get(..8)
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let after = if lower_scheme.starts_with("http://") {
            &target[7..]
        } else if lower_scheme.starts_with("https://") {
            &target[8..]
        } else {
            return Err(Reject::BadRequest("request target must start with '/'"));
        };
        match after.find(['/', '?']) {
            Some(i) if after.as_bytes()[i] == b'/' => &after[i..],
            Some(i) => return Ok(("/".to_owned(), after[i + 1..].to_owned(), false)),
            None => "/",
        }
    };
    Ok(match rest.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned(), false),
        None => (rest.to_owned(), String::new(), false),
    })
}

fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |p| p + 1);
    &v[start..end]
}

/// SERVER.md: a client's id is kept when it is 1–128 bytes of visible ASCII.
pub fn is_request_id(v: &[u8]) -> bool {
    (1..=128).contains(&v.len()) && v.iter().all(|b| (0x21..=0x7e).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits::default()
    }

    fn head(raw: &str) -> Head {
        match parse_head(raw.as_bytes(), &lim()) {
            Ok(Parsed::Complete(h, n)) => {
                assert_eq!(n, raw.len());
                h
            }
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    fn reject(raw: &str) -> u16 {
        match parse_head(raw.as_bytes(), &lim()) {
            Err(r) => r.status(),
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    #[test]
    fn simple_get() {
        let h = head("GET /gst/1000?rate=12 HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n\r\n");
        assert_eq!(h.method, "GET");
        assert_eq!(h.path, "/gst/1000");
        assert_eq!(h.query, "rate=12");
        assert!(h.keep_alive);
        assert_eq!(h.framing, Framing::None);
        assert_eq!(h.request_id.as_deref(), Some("abc"));
        assert_eq!(h.headers.len(), 2);
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
    }

    #[test]
    fn partial_and_caps() {
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\nHost:", &lim()),
            Ok(Parsed::Partial)
        );
        assert_eq!(parse_head(b"", &lim()), Ok(Parsed::Partial));
        let small = Limits {
            max_header_bytes: 64,
            max_uri_bytes: 16,
            max_header_count: 2,
            ..lim()
        };
        let long_head = format!("GET / HTTP/1.1\r\nHost: x\r\nA: {}\r\n", "a".repeat(80));
        assert_eq!(
            parse_head(long_head.as_bytes(), &small).map_err(|r| r.status()),
            Err(431)
        );
        let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "u".repeat(20));
        assert_eq!(
            parse_head(long_uri.as_bytes(), &small).map_err(|r| r.status()),
            Err(414)
        );
        let many = "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(
            parse_head(many.as_bytes(), &small).map_err(|r| r.status()),
            Err(431)
        );
    }

    #[test]
    fn framing() {
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n").framing,
            Framing::Length(5)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
                .framing,
            Framing::Length(5)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").framing,
            Framing::Chunked
        );
        assert_eq!(
            reject("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            400
        );
        assert_eq!(
            reject("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            400
        );
        assert_eq!(
            reject("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            400
        );
        assert_eq!(
            reject("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        assert_eq!(
            reject("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
            400
        );
        assert_eq!(
            reject("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            501
        );
        assert_eq!(
            reject("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
    }

    #[test]
    fn versions_and_host() {
        assert_eq!(reject("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
        assert_eq!(reject("GET / HTTP/1.x\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(head("GET / HTTP/1.2\r\nHost: x\r\n\r\n").minor_version, 1);
        assert_eq!(reject("GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(reject("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(reject("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 400);
        assert_eq!(reject("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), 400);
    }

    #[test]
    fn targets() {
        let h = head("GET http://example.com/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert_eq!((h.path.as_str(), h.query.as_str()), ("/a/b", "x=1"));
        let h = head("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert_eq!(h.path, "/");
        assert!(head("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").asterisk);
        assert_eq!(reject("GET * HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(
            reject("GET example.com:80 HTTP/1.1\r\nHost: x\r\n\r\n"),
            400
        );
    }

    #[test]
    fn expectations_and_ids() {
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n").expect,
            Expect::Continue
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n").expect,
            Expect::Other
        );
        assert_eq!(
            head("POST / HTTP/1.0\r\nExpect: magic\r\n\r\n").expect,
            Expect::None
        );
        assert!(!is_request_id(b""));
        assert!(!is_request_id(b"a b"));
        assert!(!is_request_id(&[b'a'; 129]));
    }

    #[test]
    fn garbage_never_panics() {
        let inputs: [&[u8]; 6] = [
            b"\0\0\0",
            b"\r\n\r\n",
            b"GET",
            b"GET / HTTP/1.1\n\n",
            b"G\xffT / HTTP/1.1\r\n\r\n",
            b" / HTTP/9",
        ];
        for input in inputs {
            let _ = parse_head(input, &lim());
        }
    }
}
