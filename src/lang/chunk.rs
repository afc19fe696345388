//! Bytecode. Placeholder: the real Op/Chunk land with the compiler; the public surface below is fixed.
use std::sync::Arc;

use super::ast::Segment;

/// One declared route (LANGUAGE.md 10.1), in matching (source) order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// Upper-cased method.
    pub method: String,
    /// The path literal as written.
    pub path: String,
    pub segments: Vec<Segment>,
    /// File the route is declared in and its line, for `etamil-mio routes`.
    pub file: Arc<str>,
    pub line: u32,
}

/// A compiled program: immutable and `Send + Sync`; every worker runs it with fresh state.
#[derive(Debug, Default)]
pub struct Program {
    routes: Vec<RouteInfo>,
}

impl Program {
    /// The routes in matching order. A program with no routes serves itself on `/` for GET,
    /// POST, PUT and DELETE (LANGUAGE.md 10.1).
    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }

    /// Human-readable bytecode listing (`check --disasm`).
    pub fn disassemble(&self) -> String {
        String::new()
    }
}
