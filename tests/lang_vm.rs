//! The VM's semantics through the public API: decimals, scoping, recursion, value semantics,
//! serve-mode runs (request variables, fresh state, the prelude snapshot), responses.

use std::path::Path;

use etamil_mio::lang::{self, Budget, Outcome, Program, RequestInput, RuntimeError};

fn compile(src: &str) -> Program {
    match lang::compile_source(src, "test.qmz", Path::new(".")) {
        Ok(p) => p,
        Err(e) => panic!(
            "compile failed: {}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn run(src: &str) -> (Vec<String>, Result<Outcome, RuntimeError>) {
    let program = compile(src);
    let mut out = Vec::new();
    let r = lang::vm::run_main(&program, &mut out, &Budget::RUN_DEFAULT);
    (out, r)
}

fn output(src: &str) -> Vec<String> {
    let (out, r) = run(src);
    if let Err(e) = r {
        panic!("runtime error: {e}");
    }
    out
}

fn error(src: &str) -> String {
    match run(src).1 {
        Err(e) => e.to_string(),
        Ok(o) => panic!("expected an error, got {o:?}"),
    }
}

#[test]
fn decimals_are_exact() {
    assert_eq!(output("அச்சு 0.1 + 0.2; அச்சு 18% * 1000; அச்சு 1 / 3; அச்சு 10 / 3 * 3; அச்சு (0.1 + 0.2 == 0.3);"),
        ["0.3", "180", "0.3333333333333333333333333333", "10", "true"]);
}

#[test]
fn overflow_and_division_by_zero_are_errors_with_positions() {
    assert!(error("x = 79228162514264337593543950335 + 1;").contains("number overflow"));
    let e = error("அ = 1;\nஆ = அ / 0;");
    assert!(e.contains("line 2, column 7: division by zero"), "{e}");
}

#[test]
fn functions_read_globals_until_they_assign_a_local() {
    let src = "மொத்தம் = 10;
செயல் f() { அச்சு மொத்தம்; மொத்தம் = 5; அச்சு மொத்தம்; }
f(); அச்சு மொத்தம்;";
    assert_eq!(output(src), ["10", "5", "10"]);
}

#[test]
fn callers_locals_are_invisible_and_recursion_works() {
    let src = "செயல் g() { திரும்பு y; }
செயல் f() { y = 1; திரும்பு g(); }
செயல் fact(n) { (n <= 1) எனில் { திரும்பு 1; } திரும்பு n * fact(n - 1); }
அச்சு fact(27);
f();";
    let (out, r) = run(src);
    assert_eq!(out, ["10888869450418352160768000000"]);
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("undefined variable 'y'"));
}

#[test]
fn arrays_are_values_even_when_appended_in_place() {
    let src = "a = [1, 2]; b = a; a = இணை(a, 3); b[0] = 9; அச்சு a; அச்சு b;
செயல் f(x) { x = இணை(x, 4); x[0] = 0; திரும்பு x; }
அச்சு f(a); அச்சு a;
g = [1]; செயல் h() { g = இணை(g, 2); திரும்பு g; } அச்சு h(); அச்சு g;";
    assert_eq!(
        output(src),
        [
            "[1, 2, 3]",
            "[9, 2]",
            "[0, 2, 3, 4]",
            "[1, 2, 3]",
            "[1, 2]",
            "[1]"
        ]
    );
}

#[test]
fn foreach_iterates_a_snapshot_and_return_inside_a_loop_unwinds_it() {
    let src = "a = [1, 2, 3];
ஒவ்வொரு x இல் a { a = இணை(a, x); }
அச்சு a;
செயல் first_over(xs, n) { ஒவ்வொரு x இல் xs { (x > n) எனில் { திரும்பு x; } } திரும்பு இன்மை; }
ஒவ்வொரு y இல் [5, 6] { அச்சு first_over([1, 7, 9], y); }";
    assert_eq!(output(src), ["[1, 2, 3, 1, 2, 3]", "7", "7"]);
}

#[test]
fn try_returns_failures_from_functions() {
    let src = "செயல் half(n) { (n == 0) எனில் { திரும்பு தவறு(\"zero\"); } திரும்பு சரி(n / 2); }
செயல் quarter(n) { திரும்பு சரி(half(half(n)?)? + 0); }
அச்சு quarter(8); அச்சு quarter(0);";
    assert_eq!(output(src), ["சரி(2)", "தவறு(zero)"]);
}

fn request(method: &str, path: &str, query: &str) -> RequestInput {
    RequestInput {
        method: method.to_owned().into(),
        path: path.into(),
        query: query.into(),
        headers: [("X-Api-Key", b" k1 ")].into_iter().collect(),
        body: b"{\"a\":1}".to_vec(),
        params: vec![("amount".into(), "1000".into())],
    }
}

fn respond(program: &Program, route: usize, req: &RequestInput) -> Result<Outcome, RuntimeError> {
    let mut out = Vec::new();
    lang::vm::run_route(program, route, req, &mut out, &Budget::SERVE_DEFAULT)
}

fn body(o: Outcome) -> (u16, String) {
    match o {
        Outcome::Response(r) => (r.status, String::from_utf8(r.body).unwrap()),
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn serve_mode_binds_request_variables_and_keeps_no_state() {
    let src = r#"count = 0;
rate = 18%;
வழி பெறு, "/gst/:amount" { எண் a = param_amount; பதில் 200, "{\"gst\":" & (a * rate) & "}"; }
வழி பதி, "/echo" { count = count + 1; பதில் 201, {m: request_method, p: request_path, q: query_params, h: headers."x-api-key", b: request_body, n: count}; }
வழி பெறு, "/none" { x = 1; }"#;
    let program = compile(src);
    let req = request("GET", "/gst/1000", "");
    assert_eq!(
        body(respond(&program, 0, &req).unwrap()),
        (200, "{\"gst\":180}".into())
    );
    assert!(program.prelude_is_cached());
    let post = request("POST", "/echo", "x=1&y=a+b%21&x=2&bad");
    for _ in 0..2 {
        let (status, text) = body(respond(&program, 1, &post).unwrap());
        assert_eq!(status, 201);
        assert_eq!(
            text,
            r#"{"b":"{\"a\":1}","h":"k1","m":"POST","n":1,"p":"/echo","q":{"x":"2","y":"a b!"}}"#
        );
    }
    assert_eq!(respond(&program, 2, &req).unwrap(), Outcome::Finished);
}

#[test]
fn a_prelude_that_reads_the_request_runs_every_time() {
    let src = r#"m = request_method;
அச்சு "prelude";
வழி பெறு, "/" { பதில் 200, m; }"#;
    let program = compile(src);
    let mut out = Vec::new();
    let r = lang::vm::run_route(
        &program,
        0,
        &request("GET", "/", ""),
        &mut out,
        &Budget::SERVE_DEFAULT,
    );
    assert_eq!(body(r.unwrap()), (200, "GET".into()));
    assert_eq!(out, ["prelude"]);
    assert!(!program.prelude_is_cached());
}

#[test]
fn responses_are_validated() {
    let program = compile(
        r#"வழி பெறு, "/a" { பதில் 99, "x"; }
வழி பெறு, "/b" { பதில் "201", "x", {"content-type": "text/plain", "Content-Length": 5}; }
வழி பெறு, "/c" { பதில் 200, "x", {"X-Bad": "a\nb"}; }
வழி பெறு, "/d" { வெளியேறு(0); }"#,
    );
    let req = request("GET", "/", "");
    assert!(respond(&program, 0, &req)
        .unwrap_err()
        .to_string()
        .contains("invalid response status"));
    match respond(&program, 1, &req).unwrap() {
        Outcome::Response(r) => {
            assert_eq!(r.status, 201);
            assert_eq!(
                r.headers,
                vec![("content-type".into(), "text/plain".into())]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(respond(&program, 2, &req).is_err());
    assert!(respond(&program, 3, &req)
        .unwrap_err()
        .to_string()
        .contains("exit is not allowed"));
}
