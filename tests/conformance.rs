//! Runs every program of the shared conformance corpus (../shared/conformance, README there)
//! through the library and compares the exact output, or checks the expected error.

use std::path::{Path, PathBuf};

use etamil_mio::lang::{self, Budget, Outcome};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

/// What a `run` of the program produced: output, and the error text with its exit status.
fn run(path: &Path) -> (String, Result<i32, (i32, String)>) {
    let program = match lang::compile_file(path) {
        Ok(p) => p,
        Err(errors) => {
            let text = errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n");
            return (String::new(), Err((2, text)));
        }
    };
    let mut lines: Vec<String> = Vec::new();
    let result = lang::vm::run_main(&program, &mut lines, &Budget::RUN_DEFAULT);
    let mut out = String::new();
    for l in &lines {
        out.push_str(l);
        out.push('\n');
    }
    let status = match result {
        Ok(Outcome::Exit(code)) => Ok(code),
        Ok(_) => Ok(0),
        Err(e) => Err((1, e.to_string())),
    };
    (out, status)
}

#[test]
fn conformance_corpus_passes_completely() {
    let mut programs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("the shared conformance corpus is beside the crate")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "qmz"))
        .collect();
    programs.sort();
    assert!(
        programs.len() >= 70,
        "corpus not found or incomplete: {}",
        programs.len()
    );
    let mut failures = Vec::new();
    for q in &programs {
        let name = q.file_name().unwrap().to_string_lossy().into_owned();
        // Each runs on its own thread, as a worker would, so a stack problem shows here.
        let path = q.clone();
        let (out, status) = std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(move || run(&path))
            .unwrap()
            .join()
            .unwrap_or_else(|_| (String::new(), Err((101, "panicked".into()))));
        let expected_out = q.with_extension("out");
        let expected_err = q.with_extension("err");
        if expected_out.exists() {
            let want = std::fs::read_to_string(&expected_out).unwrap();
            if out != want || status != Ok(0) {
                failures.push(format!(
                    "{name}: status {status:?}\n--- got ---\n{out}--- want ---\n{want}"
                ));
            }
        } else if expected_err.exists() {
            let spec = std::fs::read_to_string(&expected_err).unwrap();
            let needle = spec.lines().nth(1).unwrap_or("").to_owned();
            match status {
                Err((code, text)) if code != 0 && text.contains(&needle) => {}
                other => failures.push(format!(
                    "{name}: want an error containing {needle:?}, got {other:?}"
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} programs failed:\n{}",
        failures.len(),
        programs.len(),
        failures.join("\n\n")
    );
}
