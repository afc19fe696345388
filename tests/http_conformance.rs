//! The shared HTTP conformance corpus (../shared/conformance/http), run unchanged by its own
//! runner against this binary.
mod support;

use std::process::Command;

#[test]
fn conformance_http_apps() {
    let runner = support::shared().join("conformance/http/run_cases.py");
    assert!(runner.exists(), "missing {}", runner.display());
    let out = Command::new("python3")
        .arg(&runner)
        .arg("--bin")
        .arg(support::bin())
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "run_cases.py failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
