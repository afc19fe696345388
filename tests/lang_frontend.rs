//! The front end (lexer, parser, loader, checker) against the shared conformance corpus: every
//! program that must run is accepted, and every program that must fail at compile time is
//! rejected with the expected position.

use std::fs;
use std::path::{Path, PathBuf};

use etamil_mio::lang::{checker, loader, CompileError};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance");

fn front_end(path: &Path) -> Result<(), Vec<CompileError>> {
    let program = loader::load_file(path)?;
    let errors = checker::check(&program);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn programs(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.extension().is_some_and(|x| x == "qmz"));
    found.sort();
    found
}

/// A compile-time expectation names a position: `line L, column C:`.
fn is_position(expected: &str) -> bool {
    expected.starts_with("line ") && expected.contains(", column ")
}

#[test]
fn conformance_programs_are_accepted_or_rejected_as_expected() {
    let corpus = Path::new(CORPUS);
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in programs(corpus)
        .into_iter()
        .chain(programs(&corpus.join("http")))
    {
        let result = front_end(&path);
        let err_file = path.with_extension("err");
        let expected = fs::read_to_string(&err_file)
            .ok()
            .and_then(|text| text.lines().nth(1).map(str::to_owned))
            .filter(|line| is_position(line));
        match (expected, result) {
            (None, Ok(())) => {}
            (None, Err(errors)) => failures.push(format!(
                "{}: rejected: {}",
                path.display(),
                errors
                    .iter()
                    .map(|e| e.message())
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            (Some(want), Ok(())) => {
                failures.push(format!("{}: accepted, expected '{want}'", path.display()))
            }
            (Some(want), Err(errors)) => {
                if !errors.iter().any(|e| e.message().contains(&want)) {
                    failures.push(format!(
                        "{}: expected '{want}', got {}",
                        path.display(),
                        errors
                            .iter()
                            .map(|e| e.message())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ));
                }
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 77,
        "only {checked} programs found under {CORPUS}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "prints the compile errors of the corpus for reading"]
fn show_compile_errors() {
    for n in ["060", "061", "068", "069", "073"] {
        for path in programs(Path::new(CORPUS)) {
            if path
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(n))
            {
                for e in front_end(&path).err().unwrap_or_default() {
                    println!("{e}");
                }
            }
        }
    }
}

/// A tiny deterministic generator, so the test needs no dependency and always runs the same.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn no_input_makes_the_front_end_panic() {
    const PIECES: &[&str] = &[
        "x",
        "வரி",
        "எண்",
        "சொல்",
        "அச்சு",
        "எனில்",
        "இன்றேல்",
        "சுற்று",
        "செயல்",
        "திரும்பு",
        "ஒவ்வொரு",
        "இல்",
        "இறக்கு",
        "வழி",
        "பதில்",
        "பெறு",
        "மற்றும்",
        "அல்லது",
        "இல்லை",
        "மெய்",
        "இன்மை",
        "உள்",
        "கோப்பு",
        "1",
        "2.5",
        "18%",
        "99999999999999999999999999999999",
        "0.000000000000000000000000000000000001",
        "\"s\"",
        "\"/a/:x\"",
        "\"",
        "\\",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ";",
        ":",
        ".",
        "?",
        "=",
        "==",
        "!=",
        "<",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "&",
        "@",
        "%",
        "!",
        "\n",
        " ",
        "\t",
        "\r",
        "//",
        "\u{FEFF}",
        "\u{0BCD}",
        "\u{00A0}",
        "_fn",
        "il2",
        "GET",
        ":",
        "\u{0}",
    ];
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    let dir = std::env::temp_dir();
    for _ in 0..4000 {
        let len = (rng.next() % 40) as usize;
        let src: String = (0..len)
            .map(|_| rng.pick(PIECES))
            .collect::<Vec<_>>()
            .join(" ");
        if let Ok(program) = loader::load_source(&src, "-", &dir) {
            let _ = checker::check(&program);
        }
        let glued: String = (0..len).map(|_| rng.pick(PIECES)).collect();
        if let Ok(program) = loader::load_source(&glued, "-", &dir) {
            let _ = checker::check(&program);
        }
    }
}
