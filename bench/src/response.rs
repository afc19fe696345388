//! An incremental HTTP/1.x response parser: the head through httparse, the body framed by our
//! own code (RFC 9112 §6: no body for HEAD, 1xx, 204, 304; chunked; Content-Length; else read
//! until close). It never holds a body, only counts it, so a connection's buffer stays small.
//!
//! Bad input is an `Err(ParseError)`, never a panic: the generator counts it and closes the
//! connection. Incomplete input is not an error: `feed` consumes what it can and asks for more.

use std::fmt;

/// Longest response head we accept; beyond it the response is malformed for our purposes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Longest chunk-size line (size, extensions, CRLF) or trailer line.
const MAX_LINE_BYTES: usize = 4096;
const MAX_HEADERS: usize = 64;

/// One complete response, as the generator needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Whether the connection may carry another request (RFC 9112 §9.3).
    pub keep_alive: bool,
    pub body_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// httparse refused the head (its message).
    Head(&'static str),
    HeadTooLarge,
    BadContentLength,
    BadChunkSize,
    /// A chunk's data not followed by CRLF.
    BadChunkEnd,
    LineTooLong,
    /// 101 Switching Protocols: we never ask to upgrade.
    UnexpectedUpgrade,
    /// A transfer coding other than chunked last: the length is unknowable (RFC 9112 §6.3).
    UnsupportedTransferEncoding,
    /// The peer closed in the middle of a head or a framed body.
    Truncated,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Head(m) => write!(f, "malformed response head: {m}"),
            ParseError::HeadTooLarge => write!(f, "response head over {MAX_HEAD_BYTES} bytes"),
            ParseError::BadContentLength => write!(f, "invalid Content-Length"),
            ParseError::BadChunkSize => write!(f, "invalid chunk size line"),
            ParseError::BadChunkEnd => write!(f, "chunk data not followed by CRLF"),
            ParseError::LineTooLong => {
                write!(f, "chunk or trailer line over {MAX_LINE_BYTES} bytes")
            }
            ParseError::UnexpectedUpgrade => write!(f, "unexpected 101 Switching Protocols"),
            ParseError::UnsupportedTransferEncoding => {
                write!(f, "transfer coding other than chunked")
            }
            ParseError::Truncated => write!(f, "connection closed mid-response"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Fixed { remaining: u64 },
    ChunkSize,
    ChunkData { remaining: u64 },
    ChunkDataEnd,
    Trailers,
    UntilClose,
}

/// Parses the responses of one connection in order; `reset` after a reconnect.
#[derive(Debug)]
pub struct ResponseParser {
    state: State,
    status: u16,
    keep_alive: bool,
    body_bytes: u64,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn parse_u64_dec(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add((d - b'0') as u64)
    })
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

impl ResponseParser {
    pub fn new() -> Self {
        ResponseParser {
            state: State::Head,
            status: 0,
            keep_alive: false,
            body_bytes: 0,
        }
    }

    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// True between responses: nothing of a next response has been consumed.
    pub fn is_idle(&self) -> bool {
        self.state == State::Head
    }

    /// Consumes bytes from `buf`; returns how many, and the response if one completed. The
    /// caller keeps the unconsumed rest and calls again (for pipelined responses) or after more
    /// bytes arrive. `head_request` says the response answers a HEAD (no body, RFC 9110 §9.3.2).
    pub fn feed(
        &mut self,
        buf: &[u8],
        head_request: bool,
    ) -> Result<(usize, Option<Response>), ParseError> {
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            match self.state {
                State::Head => {
                    let n = match self.parse_head(rest, head_request)? {
                        Some(n) => n,
                        None => return Ok((used, None)),
                    };
                    used += n;
                    if self.state == State::Head {
                        continue; // a 1xx interim response: the final one follows
                    }
                }
                State::Fixed { remaining } => {
                    let take = remaining.min(rest.len() as u64);
                    used += take as usize;
                    self.body_bytes += take;
                    if take < remaining {
                        self.state = State::Fixed {
                            remaining: remaining - take,
                        };
                        return Ok((used, None));
                    }
                    return Ok((used, Some(self.finish())));
                }
                State::ChunkSize => {
                    let Some(end) = find_crlf(&rest[..rest.len().min(MAX_LINE_BYTES)]) else {
                        if rest.len() >= MAX_LINE_BYTES {
                            return Err(ParseError::LineTooLong);
                        }
                        return Ok((used, None));
                    };
                    let line = &rest[..end];
                    // RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF
                    let size_part = line.split(|&b| b == b';').next().unwrap_or(&[]);
                    let size_part = trim(size_part);
                    if size_part.is_empty() || size_part.len() > 15 {
                        return Err(ParseError::BadChunkSize);
                    }
                    let mut size = 0u64;
                    for &d in size_part {
                        let v = (d as char).to_digit(16).ok_or(ParseError::BadChunkSize)?;
                        size = size * 16 + v as u64;
                    }
                    used += end + 2;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::ChunkData { remaining: size }
                    };
                }
                State::ChunkData { remaining } => {
                    let take = remaining.min(rest.len() as u64);
                    used += take as usize;
                    self.body_bytes += take;
                    if take < remaining {
                        self.state = State::ChunkData {
                            remaining: remaining - take,
                        };
                        return Ok((used, None));
                    }
                    self.state = State::ChunkDataEnd;
                }
                State::ChunkDataEnd => {
                    if rest.len() < 2 {
                        if rest.first().is_some_and(|&b| b != b'\r') {
                            return Err(ParseError::BadChunkEnd);
                        }
                        return Ok((used, None));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(ParseError::BadChunkEnd);
                    }
                    used += 2;
                    self.state = State::ChunkSize;
                }
                State::Trailers => {
                    // RFC 9112 §7.1.2: trailer fields, then an empty line.
                    let Some(end) = find_crlf(&rest[..rest.len().min(MAX_LINE_BYTES)]) else {
                        if rest.len() >= MAX_LINE_BYTES {
                            return Err(ParseError::LineTooLong);
                        }
                        return Ok((used, None));
                    };
                    used += end + 2;
                    if end == 0 {
                        return Ok((used, Some(self.finish())));
                    }
                }
                State::UntilClose => {
                    used += rest.len();
                    self.body_bytes += rest.len() as u64;
                    return Ok((used, None));
                }
            }
        }
    }

    /// The peer closed the connection: completes a close-delimited body, or says what was cut.
    /// `Ok(None)` when nothing of a response had arrived.
    pub fn on_eof(&mut self, pending: &[u8]) -> Result<Option<Response>, ParseError> {
        match self.state {
            State::UntilClose => Ok(Some(self.finish())),
            State::Head if pending.is_empty() => Ok(None),
            _ => Err(ParseError::Truncated),
        }
    }

    fn finish(&mut self) -> Response {
        let r = Response {
            status: self.status,
            keep_alive: self.keep_alive && self.state != State::UntilClose,
            body_bytes: self.body_bytes,
        };
        self.state = State::Head;
        self.body_bytes = 0;
        r
    }

    /// Parses a head; `None` if incomplete. Sets the body state, or leaves `Head` after a 1xx.
    fn parse_head(&mut self, buf: &[u8], head_request: bool) -> Result<Option<usize>, ParseError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if buf.len() >= MAX_HEAD_BYTES {
                    return Err(ParseError::HeadTooLarge);
                }
                return Ok(None);
            }
            Err(e) => return Err(ParseError::Head(head_error(e))),
        };
        let status = resp.code.unwrap_or(0);
        let version = resp.version.unwrap_or(1);
        if status == 101 {
            return Err(ParseError::UnexpectedUpgrade);
        }
        if (100..200).contains(&status) {
            return Ok(Some(n)); // interim; stay in Head
        }
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut other_coding = false;
        let mut conn_close = false;
        let mut conn_keep_alive = false;
        for h in resp.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                let v = parse_u64_dec(h.value).ok_or(ParseError::BadContentLength)?;
                if content_length.is_some_and(|c| c != v) {
                    return Err(ParseError::BadContentLength);
                }
                content_length = Some(v);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                // The final coding decides; earlier ones only matter if chunked is not last.
                let last = h.value.split(|&b| b == b',').map(trim).next_back();
                chunked = last.is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
                other_coding = !chunked;
            } else if name.eq_ignore_ascii_case(b"connection") {
                conn_close |= has_token(h.value, b"close");
                conn_keep_alive |= has_token(h.value, b"keep-alive");
            }
        }
        self.status = status;
        self.body_bytes = 0;
        self.keep_alive = if version >= 1 {
            !conn_close
        } else {
            conn_keep_alive && !conn_close
        };
        // RFC 9112 §6.3, in its order.
        self.state = if head_request || status == 204 || status == 304 {
            State::Fixed { remaining: 0 }
        } else if chunked {
            State::ChunkSize
        } else if other_coding {
            // A response may be close-delimited with another coding (§6.3 rule 4 is for
            // requests); without close it cannot be framed.
            if !conn_close && version >= 1 {
                return Err(ParseError::UnsupportedTransferEncoding);
            }
            State::UntilClose
        } else if let Some(len) = content_length {
            State::Fixed { remaining: len }
        } else {
            State::UntilClose
        };
        Ok(Some(n))
    }
}

fn head_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid new line",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split into pieces of `step` bytes, as a socket might deliver it, and collects
    /// the responses; the buffer handling mirrors the generator's (keep what was not consumed).
    fn run(input: &[u8], step: usize, head: bool) -> Result<Vec<Response>, ParseError> {
        let mut p = ResponseParser::new();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let (n, r) = p.feed(&buf, head)?;
                buf.drain(..n);
                match r {
                    Some(r) => out.push(r),
                    None => break,
                }
            }
        }
        if let Some(r) = p.on_eof(&buf)? {
            out.push(r);
        }
        Ok(out)
    }

    fn every_split(input: &[u8], head: bool) -> Vec<Response> {
        let whole = run(input, input.len(), head).expect("whole input parses");
        for step in 1..input.len().min(40) {
            assert_eq!(
                run(input, step, head).unwrap(),
                whole,
                "split every {step} bytes"
            );
        }
        whole
    }

    const OK: Response = Response {
        status: 200,
        keep_alive: true,
        body_bytes: 0,
    };

    #[test]
    fn content_length() {
        let r = every_split(
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"gst\":180}\n",
            false,
        );
        assert_eq!(
            r,
            vec![Response {
                body_bytes: 12,
                ..OK
            }]
        );
    }

    #[test]
    fn pipelined_keep_alive() {
        let one = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let input: Vec<u8> = one.iter().copied().cycle().take(one.len() * 5).collect();
        let r = every_split(&input, false);
        assert_eq!(r.len(), 5);
        assert!(r
            .iter()
            .all(|r| r.status == 200 && r.keep_alive && r.body_bytes == 2));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
            5;name=v\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n\
            HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        let r = every_split(input, false);
        assert_eq!(
            r,
            vec![
                Response {
                    body_bytes: 31,
                    ..OK
                },
                Response { status: 404, ..OK }
            ]
        );
    }

    #[test]
    fn close_delimited_and_http10() {
        let r = every_split(b"HTTP/1.0 200 OK\r\n\r\nbody until close", false);
        assert_eq!(
            r,
            vec![Response {
                status: 200,
                keep_alive: false,
                body_bytes: 16
            }]
        );
        let r = every_split(
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
            false,
        );
        assert!(r[0].keep_alive);
        let r = every_split(
            b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx",
            false,
        );
        assert!(!r[0].keep_alive);
    }

    #[test]
    fn no_body_for_head_204_304_and_interim_1xx_skipped() {
        let r = every_split(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true);
        assert_eq!(r, vec![OK]);
        let r = every_split(
            b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            false,
        );
        assert_eq!(
            r,
            vec![
                Response { status: 204, ..OK },
                Response { status: 304, ..OK }
            ]
        );
        let r = every_split(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert_eq!(r, vec![Response { status: 201, ..OK }]);
    }

    #[test]
    fn malformed_is_an_error_never_a_panic() {
        let cases: &[(&[u8], ParseError)] = &[
            (
                b"HTTP/1.1 2OO OK\r\n\r\n",
                ParseError::Head("invalid status"),
            ),
            (
                b"HTTX/1.1 200 OK\r\n\r\n",
                ParseError::Head("invalid HTTP version"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                ParseError::BadContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ParseError::BadContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                ParseError::BadContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                ParseError::BadChunkSize,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                ParseError::BadChunkSize,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
                ParseError::BadChunkEnd,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                ParseError::UnsupportedTransferEncoding,
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                ParseError::UnexpectedUpgrade,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                ParseError::Truncated,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-", ParseError::Truncated),
        ];
        for (input, want) in cases {
            for step in [1, 3, input.len()] {
                assert_eq!(
                    run(input, step, false).unwrap_err(),
                    *want,
                    "{:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    #[test]
    fn garbage_and_huge_heads_are_errors() {
        assert!(run(&[0u8; 100], 7, false).is_err());
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        while big.len() < MAX_HEAD_BYTES + 10 {
            big.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let mut p = ResponseParser::new();
        assert!(p.feed(&big, false).is_err());
        let long_chunk_line = [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".as_slice(),
            &[b'x'; 5000],
        ]
        .concat();
        assert_eq!(
            run(&long_chunk_line, 5000, false).unwrap_err(),
            ParseError::LineTooLong
        );
    }

    #[test]
    fn eof_between_responses_is_clean() {
        let mut p = ResponseParser::new();
        assert_eq!(p.on_eof(b""), Ok(None));
        assert!(p.is_idle());
    }
}
