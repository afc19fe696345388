//! Interpreter benchmarks (issue 2 "Speed"): per-request overhead of a trivial handler, the
//! 10,000,000-iteration loop against CPython in the same command, and what the prelude
//! snapshot saves. Prints ns/op and ratios; never asserts a time.
//!
//! Run: `cargo run --release --manifest-path bench/Cargo.toml --bin interp`

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use etamil_mio::lang::{self, Budget, Discard, Outcome, RequestInput};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn compile(src: &str) -> lang::Program {
    lang::compile_source(src, "bench.qmz", Path::new(".")).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn get_with_five_headers() -> RequestInput {
    RequestInput {
        method: "GET".into(),
        path: "/".into(),
        query: String::new(),
        headers: [
            ("Host", &b"127.0.0.1:9999"[..]),
            ("User-Agent", b"wrk"),
            ("Accept", b"*/*"),
            ("Accept-Encoding", b"gzip"),
            ("Connection", b"keep-alive"),
        ]
        .into_iter()
        .collect(),
        body: Vec::new(),
        params: Vec::new(),
    }
}

/// ns per run of `route` on `program`, median of `rounds` rounds of `n` runs.
fn per_request_ns(
    program: &lang::Program,
    route: usize,
    req: &RequestInput,
    n: u32,
    rounds: usize,
) -> f64 {
    let budget = Budget::SERVE_DEFAULT;
    let mut out = Discard;
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..n {
            match lang::vm::run_route(program, route, req, &mut out, &budget) {
                Ok(Outcome::Response(r)) => assert_eq!(r.status, 200),
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        samples.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    median(samples)
}

fn time_loop(program: &lang::Program) -> Duration {
    let mut lines: Vec<String> = Vec::new();
    let t = Instant::now();
    lang::vm::run_main(program, &mut lines, &Budget::RUN_DEFAULT).expect("loop runs");
    let d = t.elapsed();
    assert_eq!(lines, ["5000000"]);
    d
}

fn time_python(script: &Path) -> Option<Duration> {
    let t = Instant::now();
    let out = Command::new("python3").arg(script).output().ok()?;
    out.status.success().then(|| t.elapsed())
}

fn main() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench");

    // 1. Per-request overhead.
    let trivial = compile("வழி பெறு, \"/\" { பதில் 200, \"ok\"; }");
    let req = get_with_five_headers();
    let ns = per_request_ns(&trivial, 0, &req, 200_000, 7);
    println!(
        "trivial handler (பதில் 200, \"ok\";), GET with 5 headers: {ns:.0} ns/run (target < 1000)"
    );

    let gst = compile("வழி பெறு, \"/gst/:amount\" { எண் a = param_amount; பதில் 200, \"{\\\"gst\\\":\" & (a * 18%) & \"}\"; }");
    let mut gst_req = get_with_five_headers();
    gst_req.path = "/gst/1000".into();
    gst_req.params = vec![("amount".into(), "1000".into())];
    let ns = per_request_ns(&gst, 0, &gst_req, 200_000, 7);
    println!("GET /gst/:amount handler: {ns:.0} ns/run");

    // 2. The prelude snapshot: a prelude building a 1000-entry rate table.
    let heavy_prelude = "rates = {}; i = 0; (i < 1000) சுற்று { rates[i] = i * 18%; i = i + 1; }
வழி பெறு, \"/\" { பதில் 200, \"ok\"; }";
    let cached = compile(heavy_prelude);
    let ns_cached = per_request_ns(&cached, 0, &req, 20_000, 5);
    let uncached = compile(&format!(
        "x = சூழல்(\"ETAMIL_BENCH_UNSET\", 0);\n{heavy_prelude}"
    ));
    let ns_uncached = per_request_ns(&uncached, 0, &req, 2_000, 5);
    println!(
        "1000-entry prelude: {ns_cached:.0} ns/run from the snapshot vs {ns_uncached:.0} ns/run re-running it ({:.1}x)",
        ns_uncached / ns_cached
    );

    // 3. The 10,000,000-iteration loop against CPython, interleaved.
    let loop_src = "எண் i = 0; எண் s = 0; (i < 10000000) சுற்று { s = s + 0.5; i = i + 1; } அச்சு s;";
    let program = compile(loop_src);
    let mut ours = Vec::new();
    let mut python = Vec::new();
    for _ in 0..3 {
        ours.push(time_loop(&program).as_secs_f64());
        if let Some(d) = time_python(&shared.join("loop10m.py")) {
            python.push(d.as_secs_f64());
        }
    }
    let ours = median(ours);
    println!(
        "loop10m: etamil {:.1} ns/iteration ({ours:.3} s, median of 3)",
        ours * 100.0
    );
    if python.is_empty() {
        println!("loop10m: python3 not available, no ratio");
    } else {
        let py = median(python);
        println!(
            "loop10m: CPython {:.1} ns/iteration ({py:.3} s, process start included); etamil/CPython = {:.2} (target <= 0.5)",
            py * 100.0,
            ours / py
        );
    }
}
