//! Lexer + parser + checker + compiler on arbitrary text, and a short run of whatever
//! compiles: nothing may panic or overflow a stack, whatever the source.
#![no_main]

use std::path::Path;

use etamil_mio::lang::{self, Budget, Discard};
use libfuzzer_sys::fuzz_target;

/// Small enough that every input finishes quickly.
const BUDGET: Budget = Budget {
    timeout: None,
    max_instructions: 20_000,
    max_memory_bytes: 1 << 20,
};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(program) = lang::compile_source(source, "fuzz.qmz", Path::new("/nonexistent")) {
        let _ = program.disassemble();
        let _ = lang::vm::run_main(&program, &mut Discard, &BUDGET);
        if !program.routes().is_empty() {
            let _ = lang::vm::run_route(
                &program,
                0,
                &lang::RequestInput::default(),
                &mut Discard,
                &BUDGET,
            );
        }
    }
});
