//! The command line (SERVER.md "Command line"): subcommands, exit statuses, stdout discipline.
mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn etamil(args: &[&str]) -> Output {
    Command::new(support::bin())
        .args(args)
        .env_remove("ETAMIL_PORT")
        .output()
        .expect("run etamil-mio")
}

fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(support::bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("etamil-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

#[test]
fn version_and_help() {
    let o = etamil(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        text(&o.stdout),
        format!("etamil-mio {}\n", env!("CARGO_PKG_VERSION"))
    );
    let o = etamil(&["--help"]);
    assert!(o.status.success());
    let help = text(&o.stdout);
    for needle in [
        "run [LIMITS]",
        "check [--disasm]",
        "routes APP.qmz",
        "--handler-timeout",
        "ETAMIL_QUEUE_DEPTH",
    ] {
        assert!(help.contains(needle), "help lacks {needle}");
    }
}

#[test]
fn usage_errors_exit_2_naming_the_option() {
    for (args, needle) in [
        (&["--no-such-flag"][..], "--no-such-flag"),
        (&["--workers", "0"], "--workers"),
        (&["--handler-timeout", "5"], "--handler-timeout"),
        (&["--max-body-bytes", "1MB"], "--max-body-bytes"),
        (&["run"], "run"),
        (&["run", "--port", "1", "x.qmz"], "--port"),
    ] {
        let o = etamil(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            text(&o.stderr).contains(needle),
            "{args:?}: {}",
            text(&o.stderr)
        );
        assert!(o.stdout.is_empty());
    }
    let o = Command::new(support::bin())
        .env("ETAMIL_QUEUE_DEPTH", "many")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("ETAMIL_QUEUE_DEPTH"));
}

#[test]
fn check_reports_errors_with_positions() {
    let good = temp_file("good.qmz", "அச்சு 1 + 2;\n");
    let o = etamil(&["check", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    let bad = temp_file("bad.qmz", "அச்சு 1\nஅச்சு 2;\n");
    let o = etamil(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("line 2, column 1"),
        "{}",
        text(&o.stderr)
    );
    let o = etamil(&["check", "--disasm", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!o.stdout.is_empty(), "--disasm printed nothing");
}

#[test]
fn run_prints_and_exits() {
    let o = with_stdin(&["run", "-"], "அச்சு \"வணக்கம்\";\nஅச்சு 10 / 4;\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "வணக்கம்\n2.5\n");
    let o = with_stdin(&["run", "-"], "அச்சு \"முன்\";\nx = 1 / 0;\n");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "முன்\n");
    assert!(text(&o.stderr).contains("division by zero"));
    let o = with_stdin(
        &["run", "-"],
        "அச்சு \"bye\";\nவெளியேறு(3);\nஅச்சு \"never\";\n",
    );
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(text(&o.stdout), "bye\n");
    let o = with_stdin(
        &["run", "--handler-timeout", "200ms", "-"],
        "(மெய்) சுற்று { x = 1; }\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("time limit"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn routes_lists_method_pattern_and_place() {
    let app = support::app("test_app.qmz");
    let o = etamil(&["routes", app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let first = out.lines().next().unwrap();
    let fields: Vec<&str> = first.split('\t').collect();
    assert_eq!(fields.len(), 3, "{first}");
    assert_eq!((fields[0], fields[1]), ("GET", "/"));
    assert!(fields[2].ends_with("test_app.qmz:5"), "{first}");
    assert!(out.contains("DELETE\t/item/:id\t"), "{out}");
}

#[test]
fn serve_prints_only_the_address() {
    let s = support::Server::start(&[]);
    let (host, port) = s.addr.rsplit_once(':').expect("HOST:PORT");
    assert_eq!(host, "127.0.0.1");
    assert!(port.parse::<u16>().unwrap() > 0);
    // The default app is embedded.
    let r = s.get("/gst/1000");
    assert_eq!(r.text(), r#"{"gst":180}"#);
}

#[test]
fn serve_refuses_a_broken_app() {
    let bad = temp_file("broken.qmz", "வழி பெறு, \"/\" { பதில் 200 }\n");
    let o = etamil(&["--port", "0", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(text(&o.stderr).contains("line 1"), "{}", text(&o.stderr));
}
