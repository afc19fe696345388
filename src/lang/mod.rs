//! The eTamil language (../shared/spec/LANGUAGE.md): source → tokens → AST → bytecode, and a VM
//! that runs a compiled `Program` with fresh state under a `Budget`.
//!
//! Data flow:
//!   `loader` reads the main file and splices imports (`lexer` → `parser` per file) → `ast::Program`
//!   → `checker` (declared types, static rules) → `compiler` → `Program` (immutable, `Send + Sync`)
//!   → `vm::run_*` per request or per `run`, each with its own globals and a `Budget`.
//!
//! This module owns the public surface the server and the CLI use; nothing here knows about
//! sockets or HTTP framing.

pub mod ast;
pub mod builtins;
pub mod checker;
pub mod chunk;
pub mod compiler;
pub mod error;
pub mod json;
pub mod lexer;
pub mod loader;
pub mod num;
pub mod parser;
pub mod span;
pub mod text;
pub mod value;
pub mod vm;

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use chunk::Program;
pub use error::{CompileError, Limit, RuntimeError, RuntimeErrorKind};
pub use value::Value;

/// Compiles a program from a file on disk (imports resolved beside it, then `ETAMIL_PATH`).
pub fn compile_file(path: &Path) -> Result<Program, Vec<CompileError>> {
    let ast = loader::load_file(path)?;
    compile_ast(ast)
}

/// Compiles a program from text. `name` is used in messages; imports resolve against
/// `base_dir` (the current directory for `run -`).
pub fn compile_source(
    source: &str,
    name: &str,
    base_dir: &Path,
) -> Result<Program, Vec<CompileError>> {
    let ast = loader::load_source(source, name, base_dir)?;
    compile_ast(ast)
}

fn compile_ast(ast: ast::Program) -> Result<Program, Vec<CompileError>> {
    let errors = checker::check(&ast);
    if !errors.is_empty() {
        return Err(errors);
    }
    compiler::compile(&ast)
}

/// The hard limits of one run (SERVER.md `--handler-timeout`, `--handler-instructions`,
/// `--handler-memory`). The call-depth and nesting limits are fixed by the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Wall time from the start of the run; None = no deadline.
    pub timeout: Option<Duration>,
    /// VM instructions; 0 = unlimited.
    pub max_instructions: u64,
    /// Live bytes of strings, arrays, records and results.
    pub max_memory_bytes: usize,
}

impl Budget {
    /// `etamil-mio run`'s defaults: no deadline, no instruction limit, 1 GiB.
    pub const RUN_DEFAULT: Budget = Budget {
        timeout: None,
        max_instructions: 0,
        max_memory_bytes: 1 << 30,
    };
    /// The server's defaults (SERVER.md): 5 s, unlimited instructions, 64 MiB.
    pub const SERVE_DEFAULT: Budget = Budget {
        timeout: Some(Duration::from_secs(5)),
        max_instructions: 0,
        max_memory_bytes: 64 << 20,
    };
}

/// The request as a handler sees it (LANGUAGE.md 10.4). The server fills it from the parsed
/// head and body; the VM binds only the variables the program reads.
#[derive(Clone, Debug, Default)]
pub struct RequestInput {
    /// As the client sent it (not upper-cased); the common methods without an allocation.
    pub method: Cow<'static, str>,
    /// The path part of the target, without the query, not percent-decoded.
    pub path: String,
    /// The raw query string (after `?`, without it); decoded by the VM when read.
    pub query: String,
    /// Header names as received; the VM lower-cases them. Last value wins.
    pub headers: Headers,
    /// The body bytes after de-chunking; read as UTF-8 with replacement.
    pub body: Vec<u8>,
    /// Path parameters of the matched route: name → percent-decoded segment.
    pub params: Vec<(Arc<str>, String)>,
}

/// Request header fields in the order received, in one buffer (one allocation for a request
/// however many fields it has): per field, the name's and the value's lengths (native-endian
/// `usize`), then the name, then the value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    bytes: Vec<u8>,
    fields: usize,
}

/// One length in front of a field; there are two.
const LEN: usize = std::mem::size_of::<usize>();
const FIELD_PREFIX: usize = 2 * LEN;

impl Headers {
    /// Room for `fields` fields of `bytes` bytes (names and values) in total.
    pub fn with_capacity(fields: usize, bytes: usize) -> Headers {
        Headers {
            bytes: Vec::with_capacity(bytes + fields * FIELD_PREFIX),
            fields: 0,
        }
    }

    pub fn push(&mut self, name: &str, value: &[u8]) {
        self.bytes.extend_from_slice(&name.len().to_ne_bytes());
        self.bytes.extend_from_slice(&value.len().to_ne_bytes());
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(value);
        self.fields += 1;
    }

    /// The fields as `(name, value)`, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        let mut rest: &[u8] = &self.bytes;
        std::iter::from_fn(move || {
            let (lengths, after) = rest.split_at_checked(FIELD_PREFIX)?;
            let (name_len, value_len) = lengths.split_at(LEN);
            let name_len = usize::from_ne_bytes(name_len.try_into().ok()?);
            let value_len = usize::from_ne_bytes(value_len.try_into().ok()?);
            let (name, after) = after.split_at_checked(name_len)?;
            let (value, after) = after.split_at_checked(value_len)?;
            rest = after;
            // Names went in as `&str`: always valid UTF-8.
            Some((std::str::from_utf8(name).unwrap_or_default(), value))
        })
    }

    /// The first field called `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.fields
    }

    pub fn is_empty(&self) -> bool {
        self.fields == 0
    }

    /// Names and values, in bytes.
    pub fn bytes_len(&self) -> usize {
        self.bytes.len() - self.fields * FIELD_PREFIX
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(fields: I) -> Headers {
        let mut headers = Headers::default();
        for (name, value) in fields {
            headers.push(name.as_ref(), value.as_ref());
        }
        headers
    }
}

/// A response header field as the handler wrote it; the default Content-Type is static.
pub type ResponseHeader = (Cow<'static, str>, Cow<'static, str>);

/// A response produced by `பதில்` (LANGUAGE.md 10.5), validated and ready for framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// Handler headers, names as written, minus the framing headers the server owns.
    /// Always contains a Content-Type (the default `application/json` when not set).
    pub headers: Vec<ResponseHeader>,
}

/// How a run ended normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `பதில்` was executed.
    Response(Response),
    /// The run finished without `பதில்` (serve mode: 204).
    Finished,
    /// `வெளியேறு(n)` in run mode.
    Exit(i32),
}

/// Where `அச்சு` writes: stdout in run mode, the log (with the request id) in serve mode.
pub trait Output {
    fn print(&mut self, line: &str);
}

/// Collects printed lines (tests, serve mode).
impl Output for Vec<String> {
    fn print(&mut self, line: &str) {
        self.push(line.to_owned());
    }
}

/// Discards printed lines.
pub struct Discard;

impl Output for Discard {
    fn print(&mut self, _line: &str) {}
}

#[cfg(test)]
mod tests {
    use super::Headers;

    #[test]
    fn headers_keep_order_case_and_bytes() {
        let mut h = Headers::with_capacity(3, 32);
        assert!(h.is_empty());
        h.push("Host", b"a");
        h.push("X-Empty", b"");
        h.push("x-tamil", "வணக்கம்".as_bytes());
        h.push("host", b"second");
        assert_eq!(h.len(), 4);
        let fields: Vec<(&str, &[u8])> = h.iter().collect();
        assert_eq!(
            fields,
            [
                ("Host", &b"a"[..]),
                ("X-Empty", b""),
                ("x-tamil", "வணக்கம்".as_bytes()),
                ("host", b"second"),
            ]
        );
        assert_eq!(h.get("HOST"), Some(&b"a"[..]));
        assert_eq!(h.get("x-empty"), Some(&b""[..]));
        assert_eq!(h.get("missing"), None);
        let names_and_values: usize = fields.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert_eq!(h.bytes_len(), names_and_values);
        assert_eq!(h, fields.into_iter().collect::<Headers>());
    }
}
