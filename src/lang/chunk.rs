//! Bytecode. Placeholder.
/// A compiled program.
pub struct Program {}
