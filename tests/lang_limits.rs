//! Every hard limit of a run (SERVER.md `--handler-*`, LANGUAGE.md 4.7 and 7.2): each ends the
//! run with a typed error naming the limit, never a stack overflow, and the same thread then
//! runs a normal program with fresh state.

use std::path::Path;
use std::time::Duration;

use etamil_mio::lang::{self, Budget, Limit, Outcome, RuntimeError};

/// Worker threads get a 16 MiB stack; these tests use a smaller one to show the limits hold
/// with room to spare.
const WORKER_STACK_BYTES: usize = 2 << 20;

fn run_with(src: &str, budget: Budget) -> Result<Outcome, RuntimeError> {
    let program = lang::compile_source(src, "limit.qmz", Path::new(".")).expect("compiles");
    let mut out = Vec::new();
    lang::vm::run_main(&program, &mut out, &budget)
}

/// Runs `src` expecting `limit`, then a normal program on the same thread.
fn assert_limit_then_recover(
    src: &'static str,
    budget: Budget,
    limit: Limit,
    message: &'static str,
) {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK_BYTES)
        .spawn(move || {
            let err = run_with(src, budget).expect_err("the limit must end the run");
            assert!(err.is_limit(limit), "expected {limit:?}, got {err}");
            assert!(err.to_string().contains(message), "{err}");
            let program =
                lang::compile_source("அ = [1, 2]; அச்சு அ[1] + 0.5;", "ok.qmz", Path::new("."))
                    .unwrap();
            let mut out = Vec::new();
            lang::vm::run_main(&program, &mut out, &budget)
                .expect("a normal program runs after the limit");
            assert_eq!(out, ["2.5"]);
        })
        .unwrap()
        .join()
        .expect("no panic, no stack overflow");
}

#[test]
fn an_endless_loop_stops_at_its_deadline() {
    let budget = Budget {
        timeout: Some(Duration::from_millis(50)),
        ..Budget::RUN_DEFAULT
    };
    assert_limit_then_recover(
        "(மெய்) சுற்று { }",
        budget,
        Limit::Deadline,
        "time limit exceeded (limit is 50ms)",
    );
}

#[test]
fn an_endless_loop_stops_at_its_instruction_budget() {
    let budget = Budget {
        max_instructions: 10_000,
        ..Budget::RUN_DEFAULT
    };
    assert_limit_then_recover(
        "i = 0; (மெய்) சுற்று { i = i + 1; }",
        budget,
        Limit::Instructions,
        "instruction limit exceeded (limit is 10000)",
    );
}

#[test]
fn a_runaway_string_stops_at_the_memory_budget() {
    let budget = Budget {
        max_memory_bytes: 1 << 20,
        ..Budget::RUN_DEFAULT
    };
    assert_limit_then_recover(
        "s = \"x\"; (மெய்) சுற்று { s = s & s; }",
        budget,
        Limit::Memory,
        "memory limit exceeded (limit is 1MiB)",
    );
}

#[test]
fn rendering_a_string_shared_many_times_stops_at_the_memory_budget() {
    // 21 references to one 100 KB string are cheap to hold but 2 MB to render.
    let budget = Budget {
        max_memory_bytes: 1 << 20,
        ..Budget::RUN_DEFAULT
    };
    assert_limit_then_recover(
        "s = திரும்பச்செய்(\"x\", 100000); a = [s]; i = 0; (i < 20) சுற்று { a = இணை(a, s); i = i + 1; } அச்சு a;",
        budget,
        Limit::Memory,
        "memory limit exceeded",
    );
    assert_limit_then_recover(
        "s = திரும்பச்செய்(\"x\", 100000); a = [s]; i = 0; (i < 20) சுற்று { a = இணை(a, s); i = i + 1; } t = \"\" & a;",
        budget,
        Limit::Memory,
        "memory limit exceeded",
    );
}

#[test]
fn a_runaway_array_stops_at_the_memory_budget() {
    let budget = Budget {
        max_memory_bytes: 1 << 20,
        ..Budget::RUN_DEFAULT
    };
    assert_limit_then_recover(
        "a = []; (மெய்) சுற்று { a = இணை(a, \"xxxxxxxx\"); }",
        budget,
        Limit::Memory,
        "memory limit exceeded",
    );
    assert_limit_then_recover(
        "r = {}; i = 0; (மெய்) சுற்று { r[i] = i; i = i + 1; }",
        budget,
        Limit::Memory,
        "memory limit exceeded",
    );
}

#[test]
fn unbounded_recursion_stops_at_the_depth_limit() {
    assert_limit_then_recover(
        "செயல் f(n) { திரும்பு f(n + 1); } f(0);",
        Budget::RUN_DEFAULT,
        Limit::CallDepth,
        "call depth exceeded",
    );
}

#[test]
fn a_value_nested_100000_deep_is_refused() {
    assert_limit_then_recover(
        "a = []; i = 0; (i < 100000) சுற்று { a = [a]; i = i + 1; }",
        Budget::RUN_DEFAULT,
        Limit::ValueDepth,
        "value nested too deeply (limit is 128)",
    );
    assert_limit_then_recover(
        "a = {}; i = 0; (i < 100000) சுற்று { a = {x: a}; i = i + 1; }",
        Budget::RUN_DEFAULT,
        Limit::ValueDepth,
        "value nested too deeply",
    );
    assert_limit_then_recover(
        "a = 1; i = 0; (i < 100000) சுற்று { a = சரி(a); i = i + 1; }",
        Budget::RUN_DEFAULT,
        Limit::ValueDepth,
        "value nested too deeply",
    );
}

#[test]
fn json_text_nested_100000_deep_is_a_failure_not_a_crash() {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK_BYTES)
        .spawn(|| {
            let src = "t = திரும்பச்செய்(\"[\", 100000) & திரும்பச்செய்(\"]\", 100000);
r = ஜேசான்_படி(t); அச்சு தவறா(r);
அச்சு ஜேசான்_படி(\"[[1]]\");";
            let program = lang::compile_source(src, "json.qmz", Path::new(".")).unwrap();
            let mut out = Vec::new();
            lang::vm::run_main(&program, &mut out, &Budget::RUN_DEFAULT).unwrap();
            assert_eq!(out, ["true", "சரி([[1]])"]);
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
}

#[test]
fn source_nested_100000_deep_is_a_compile_error() {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK_BYTES)
        .spawn(|| {
            let src = format!("x = {}1{};", "(".repeat(100_000), ")".repeat(100_000));
            let errors = lang::compile_source(&src, "deep.qmz", Path::new(".")).unwrap_err();
            assert!(errors
                .iter()
                .any(|e| e.to_string().contains("nesting too deep (limit is 200)")));
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
}
