//! Compile-time checks (LANGUAGE.md 8.2, 8.3). Placeholder until the front end lands.
use super::ast::Program;
use super::error::CompileError;

pub fn check(_program: &Program) -> Vec<CompileError> {
    Vec::new()
}
