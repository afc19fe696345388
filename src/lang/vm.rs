//! The VM. Placeholder: the public surface below is fixed.
use super::chunk::Program;
use super::error::RuntimeError;
use super::{Budget, Outcome, Output, RequestInput};

/// Runs the top-level statements (run mode): routes inert, request variables unbound.
pub fn run_main(
    _program: &Program,
    _out: &mut dyn Output,
    _budget: &Budget,
) -> Result<Outcome, RuntimeError> {
    Err(RuntimeError::new("", "VM not built yet"))
}

/// Serve mode: fresh globals, request variables, prelude, then route `route`'s handler.
pub fn run_route(
    _program: &Program,
    _route: usize,
    _request: &RequestInput,
    _out: &mut dyn Output,
    _budget: &Budget,
) -> Result<Outcome, RuntimeError> {
    Err(RuntimeError::new("", "VM not built yet"))
}
