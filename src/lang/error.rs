//! Error kinds per stage of the interpreter, each carrying its message in Tamil and English
//! (LANGUAGE.md 11). The server maps them to statuses in one place (`server::response`);
//! nothing here knows about HTTP.

use std::fmt;
use std::sync::Arc;

use super::span::{bilingual, bilingual_at, Pos};

/// A lexical, parse, check or module error: always has a position (LANGUAGE.md 11.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// The file the error is in, as the user named it (None for the main file given as `-`).
    pub file: Option<Arc<str>>,
    pub pos: Pos,
    pub tamil: String,
    pub english: String,
}

impl CompileError {
    pub fn new(pos: Pos, tamil: impl Into<String>, english: impl Into<String>) -> CompileError {
        CompileError {
            file: None,
            pos,
            tamil: tamil.into(),
            english: english.into(),
        }
    }

    /// The message without the `✗ ` prefix, e.g. for JSON error bodies and logs.
    pub fn message(&self) -> String {
        let located = bilingual_at(self.pos, &self.tamil, &self.english);
        match &self.file {
            Some(file) => format!("{file}: {located}"),
            None => located,
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "✗ {}", self.message())
    }
}

/// The hard limits of one run (SERVER.md `--handler-*`, LANGUAGE.md 4.7 and 7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Deadline,
    Instructions,
    Memory,
    CallDepth,
    ValueDepth,
}

/// What ended a run abnormally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeErrorKind {
    /// An ordinary eTamil runtime error (division by zero, undefined variable, …).
    Error,
    /// A hard limit was reached; the server answers 504 for `Deadline`, 500 otherwise.
    Limit(Limit),
}

/// A runtime error with its bilingual message and, when known, the position of the failing
/// operation (LANGUAGE.md 11.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeError {
    pub kind: RuntimeErrorKind,
    pub tamil: String,
    pub english: String,
    pub pos: Option<Pos>,
    pub file: Option<Arc<str>>,
}

impl RuntimeError {
    pub fn new(tamil: impl Into<String>, english: impl Into<String>) -> RuntimeError {
        RuntimeError {
            kind: RuntimeErrorKind::Error,
            tamil: tamil.into(),
            english: english.into(),
            pos: None,
            file: None,
        }
    }

    pub fn limit(limit: Limit, tamil: impl Into<String>, english: impl Into<String>) -> Self {
        RuntimeError {
            kind: RuntimeErrorKind::Limit(limit),
            ..RuntimeError::new(tamil, english)
        }
    }

    /// Attaches a position unless the error already has one (the innermost position wins).
    pub fn at(mut self, pos: Pos) -> RuntimeError {
        if self.pos.is_none() {
            self.pos = Some(pos);
        }
        self
    }

    pub fn is_limit(&self, limit: Limit) -> bool {
        self.kind == RuntimeErrorKind::Limit(limit)
    }

    /// The message without the `✗ Runtime error: ` prefix (JSON error bodies, logs).
    pub fn message(&self) -> String {
        let text = match self.pos {
            Some(pos) => bilingual_at(pos, &self.tamil, &self.english),
            None => bilingual(&self.tamil, &self.english),
        };
        match &self.file {
            Some(file) => format!("{file}: {text}"),
            None => text,
        }
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "✗ Runtime error: {}", self.message())
    }
}

impl std::error::Error for RuntimeError {}
impl std::error::Error for CompileError {}

/// Shorthand used throughout the VM and builtins.
pub type RtResult<T> = Result<T, RuntimeError>;
