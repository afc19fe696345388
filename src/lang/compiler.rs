//! AST → bytecode. Placeholder.
use super::ast;
use super::chunk::Program;
use super::error::CompileError;
pub fn compile(_ast: &ast::Program) -> Result<Program, Vec<CompileError>> {
    Ok(Program::default())
}
