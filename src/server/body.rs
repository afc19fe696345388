//! Request body decoders: Content-Length and chunked (RFC 9112 §6, §7.1), incremental.
//!
//! Owns de-framing bytes into the body a handler sees, under the body cap. Each call consumes
//! what it can of the input and says partial / done / invalid; it never reads a socket, and it
//! never looks past the end of the body (pipelined bytes stay in the caller's buffer).

use std::fmt;

/// Longest chunk-size line (size, extensions) and trailer section accepted: extensions and
/// trailers are skipped, so this only bounds the work a hostile client can cause.
const MAX_CHUNK_LINE_BYTES: usize = 4096;
const MAX_TRAILER_BYTES: usize = 16 << 10;

/// Why a body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// 400: the chunked framing is broken.
    Invalid(&'static str),
    /// 413: the body grew past the cap.
    TooLarge { limit: usize },
}

impl BodyError {
    pub fn status(&self) -> u16 {
        match self {
            BodyError::Invalid(_) => 400,
            BodyError::TooLarge { .. } => 413,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Invalid(why) => write!(f, "bad request: {why}"),
            BodyError::TooLarge { limit } => {
                write!(f, "request body too large (limit is {limit} bytes)")
            }
        }
    }
}

/// Progress of one `decode` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// The body is not complete; feed more input.
    Partial,
    /// The body is complete.
    Done,
}

/// Where the chunked decoder is inside the framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading hex digits of a chunk size.
    Size { size: u64, digits: u8, line: usize },
    /// After the size: whitespace and extensions up to CR.
    Extension { size: u64, line: usize },
    /// Saw CR after the size line; LF must follow.
    SizeLf { size: u64 },
    /// Copying chunk data.
    Data { remaining: u64 },
    /// Expecting CR after the data.
    DataCr,
    /// Expecting LF after the data.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart { total: usize },
    /// Inside a trailer field line, skipping to LF.
    TrailerLine { total: usize },
    /// Saw CR of the final empty line; LF must follow.
    EndLf,
}

/// One request body's decoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyDecoder {
    Length { remaining: u64 },
    Chunked(ChunkedState),
}

/// Opaque state of a chunked body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedState(Chunk);

impl BodyDecoder {
    pub fn length(n: u64) -> BodyDecoder {
        BodyDecoder::Length { remaining: n }
    }

    pub fn chunked() -> BodyDecoder {
        BodyDecoder::Chunked(ChunkedState(Chunk::Size {
            size: 0,
            digits: 0,
            line: 0,
        }))
    }

    /// Consumes from `input`, appending body bytes to `out` (at most `max` in total).
    /// Returns the bytes of `input` consumed.
    pub fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(usize, Decoded), BodyError> {
        match self {
            BodyDecoder::Length { remaining } => {
                let take = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                if out.len() + take > max {
                    return Err(BodyError::TooLarge { limit: max });
                }
                out.extend_from_slice(&input[..take]);
                *remaining -= take as u64;
                Ok((
                    take,
                    if *remaining == 0 {
                        Decoded::Done
                    } else {
                        Decoded::Partial
                    },
                ))
            }
            BodyDecoder::Chunked(ChunkedState(state)) => decode_chunked(state, input, out, max),
        }
    }
}

fn decode_chunked(
    state: &mut Chunk,
    input: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<(usize, Decoded), BodyError> {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        match *state {
            Chunk::Size { size, digits, line } => {
                if let Some(d) = hex(b) {
                    // 16 hex digits fill a u64; more is an attack or an error either way.
                    if digits >= 16 {
                        return Err(BodyError::Invalid("chunk size too long"));
                    }
                    *state = Chunk::Size {
                        size: size << 4 | u64::from(d),
                        digits: digits + 1,
                        line: line + 1,
                    };
                } else if digits == 0 {
                    return Err(BodyError::Invalid("invalid chunk size"));
                } else if b == b'\r' {
                    *state = Chunk::SizeLf { size };
                } else if matches!(b, b';' | b' ' | b'\t') {
                    // RFC 9112 §7.1.1: BWS and chunk extensions, which we ignore.
                    *state = Chunk::Extension {
                        size,
                        line: line + 1,
                    };
                } else {
                    return Err(BodyError::Invalid("invalid chunk size"));
                }
            }
            Chunk::Extension { size, line } => {
                if b == b'\r' {
                    *state = Chunk::SizeLf { size };
                } else if b == b'\n' || b == 0 {
                    return Err(BodyError::Invalid("invalid chunk extension"));
                } else if line >= MAX_CHUNK_LINE_BYTES {
                    return Err(BodyError::Invalid("chunk extension too long"));
                } else {
                    *state = Chunk::Extension {
                        size,
                        line: line + 1,
                    };
                }
            }
            Chunk::SizeLf { size } => {
                if b != b'\n' {
                    return Err(BodyError::Invalid("chunk size line must end in CRLF"));
                }
                if size == 0 {
                    *state = Chunk::TrailerStart { total: 0 };
                } else {
                    if (out.len() as u64).saturating_add(size) > max as u64 {
                        return Err(BodyError::TooLarge { limit: max });
                    }
                    *state = Chunk::Data { remaining: size };
                }
            }
            Chunk::Data { remaining } => {
                let take = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                out.extend_from_slice(&input[i..i + take]);
                let left = remaining - take as u64;
                *state = if left == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data { remaining: left }
                };
                i += take;
                continue;
            }
            Chunk::DataCr => {
                if b != b'\r' {
                    return Err(BodyError::Invalid("chunk data must end in CRLF"));
                }
                *state = Chunk::DataLf;
            }
            Chunk::DataLf => {
                if b != b'\n' {
                    return Err(BodyError::Invalid("chunk data must end in CRLF"));
                }
                *state = Chunk::Size {
                    size: 0,
                    digits: 0,
                    line: 0,
                };
            }
            Chunk::TrailerStart { total } => {
                if b == b'\r' {
                    *state = Chunk::EndLf;
                } else if b == b'\n' || b == 0 {
                    return Err(BodyError::Invalid("invalid trailer section"));
                } else {
                    *state = Chunk::TrailerLine { total: total + 1 };
                }
            }
            Chunk::TrailerLine { total } => {
                // RFC 9112 §7.1.2: trailer fields may be discarded; only their framing matters.
                if total >= MAX_TRAILER_BYTES {
                    return Err(BodyError::Invalid("trailer section too long"));
                }
                *state = if b == b'\n' {
                    Chunk::TrailerStart { total: total + 1 }
                } else {
                    Chunk::TrailerLine { total: total + 1 }
                };
                if b == 0 {
                    return Err(BodyError::Invalid("invalid trailer section"));
                }
            }
            Chunk::EndLf => {
                if b != b'\n' {
                    return Err(BodyError::Invalid("invalid end of chunked body"));
                }
                return Ok((i + 1, Decoded::Done));
            }
        }
        i += 1;
    }
    Ok((i, Decoded::Partial))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns the body and the bytes left over.
    fn run(
        mut d: BodyDecoder,
        input: &[u8],
        step: usize,
        max: usize,
    ) -> Result<(Vec<u8>, usize), BodyError> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let end = (pos + step).min(input.len());
            let (used, state) = d.decode(&input[pos..end], &mut out, max)?;
            pos += used;
            if state == Decoded::Done {
                return Ok((out, input.len() - pos));
            }
            assert_eq!(pos, end, "a partial step consumes all it was given");
        }
        panic!("body never completed: {:?}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn content_length_any_split() {
        for step in [1, 2, 3, 100] {
            let (body, left) = run(BodyDecoder::length(5), b"hello GET", step, 100).unwrap();
            assert_eq!(body, b"hello");
            assert_eq!(left, 4);
        }
        assert_eq!(
            run(BodyDecoder::length(5), b"hello", 10, 4)
                .unwrap_err()
                .status(),
            413
        );
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let wire = b"4;name=\"va;l\"\r\nWiki\r\n5 ; x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0;last\r\nX-Trailer: 1\r\nY: 2\r\n\r\nNEXT";
        for step in [1, 2, 7, 1000] {
            let (body, left) = run(BodyDecoder::chunked(), wire, step, 1000).unwrap();
            assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
            assert_eq!(left, 4);
        }
    }

    #[test]
    fn chunked_errors() {
        let bad: [&[u8]; 7] = [
            b"x\r\n",
            b"\r\n",
            b"4\nWiki",
            b"4\r\nWikiXX",
            b"11111111111111111\r\n",
            b"0\r\nX: 1\r\n\n",
            b"4;a\nb\r\n",
        ];
        for input in bad {
            let mut d = BodyDecoder::chunked();
            let r = d.decode(input, &mut Vec::new(), 1000);
            assert!(
                matches!(r, Err(BodyError::Invalid(_))),
                "{:?}: {r:?}",
                String::from_utf8_lossy(input)
            );
        }
        let mut d = BodyDecoder::chunked();
        assert_eq!(
            d.decode(b"10\r\n", &mut Vec::new(), 8),
            Err(BodyError::TooLarge { limit: 8 })
        );
    }
}
