//! Reads the main file and splices imports (LANGUAGE.md 6.10): each `இறக்கு` is replaced by the
//! module's statements, recursively, so the checker and the compiler see one program.
//!
//! Owns module resolution (beside the importing file, then each `ETAMIL_PATH` directory), the
//! skipping of files already imported (so cycles are harmless), the built-in standard library
//! paths that need no file, and the file table of `ast::Program`. It does not check anything
//! beyond what the lexer and parser report for each file.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ast::{Program, Stmt, StmtKind};
use super::error::CompileError;
use super::parser;
use super::span::{FileId, Pos, Span};

/// How deep a chain of imports may go, so that splicing never recurses without bound.
pub const MAX_IMPORT_DEPTH: usize = 64;

/// Upstream's `nUlakam/` modules whose functions are all builtins here (9.6–9.9).
const BUILTIN_MODULES: &[&str] = &[
    "col.qmz",
    "kaNiqam.qmz",
    "aNi.qmz",
    "poruL.qmz",
    "jEcAZ.qmz",
    "paNam.qmz",
];

/// Loads, parses and splices a program from a file on disk.
pub fn load_file(path: &Path) -> Result<Program, Vec<CompileError>> {
    let name: Arc<str> = Arc::from(path.display().to_string());
    let source = read_source(path, &name, None)?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = Loader::new();
    if let Ok(canonical) = fs::canonicalize(path) {
        loader.seen.insert(canonical);
    }
    loader.load_main(&source, name, &base_dir)
}

/// Parses and splices a program given as text. `name` is used in messages; imports resolve
/// against `base_dir`.
pub fn load_source(
    source: &str,
    name: &str,
    base_dir: &Path,
) -> Result<Program, Vec<CompileError>> {
    Loader::new().load_main(source, Arc::from(name), base_dir)
}

/// The file name an error in `name` carries: none for standard input, given as `-`.
pub fn error_file(name: &Arc<str>) -> Option<Arc<str>> {
    (!name.is_empty() && &**name != "-").then(|| name.clone())
}

/// Reads a source file as UTF-8. `at` is where an import asked for it (None for the main file).
fn read_source(
    path: &Path,
    name: &Arc<str>,
    at: Option<(Pos, Option<Arc<str>>)>,
) -> Result<String, Vec<CompileError>> {
    let (pos, file) = at.unwrap_or((Pos::new(1, 1), error_file(name)));
    let bytes = fs::read(path).map_err(|e| {
        vec![CompileError {
            file: file.clone(),
            ..CompileError::new(
                pos,
                format!("'{name}' கோப்பைத் திறக்க முடியவில்லை: {e}"),
                format!("cannot open '{name}': {e}"),
            )
        }]
    })?;
    String::from_utf8(bytes).map_err(|e| {
        // Point at the first byte that is not UTF-8, within the file that holds it.
        let valid = e
            .as_bytes()
            .get(..e.utf8_error().valid_up_to())
            .unwrap_or_default();
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let col = valid
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        let at = Pos::new(
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(col).unwrap_or(u32::MAX),
        );
        vec![CompileError {
            file: error_file(name),
            ..CompileError::new(
                at,
                "மூலக் கோப்பு செல்லுபடியான UTF-8 அல்ல",
                "the source file is not valid UTF-8",
            )
        }]
    })
}

/// Whether `path` names one of upstream's standard modules that are built in here: its last
/// two components are `nUlakam/<module>.qmz`.
fn is_builtin_module(path: &str) -> bool {
    let path = Path::new(path);
    let file = path.file_name().and_then(|f| f.to_str());
    let dir = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|d| d.to_str());
    dir == Some("nUlakam") && file.is_some_and(|f| BUILTIN_MODULES.contains(&f))
}

struct Loader {
    files: Vec<Arc<str>>,
    /// Canonical paths already spliced (or being spliced).
    seen: HashSet<PathBuf>,
    errors: Vec<CompileError>,
}

impl Loader {
    fn new() -> Loader {
        Loader {
            files: Vec::new(),
            seen: HashSet::new(),
            errors: Vec::new(),
        }
    }

    fn load_main(
        mut self,
        source: &str,
        name: Arc<str>,
        base_dir: &Path,
    ) -> Result<Program, Vec<CompileError>> {
        self.files.push(name.clone());
        let mut stmts = Vec::new();
        match parser::parse_source(source, 0) {
            Ok(parsed) => self.splice(parsed, base_dir, &name, 1, &mut stmts),
            Err(errors) => self.add_errors(errors, &name),
        }
        if self.errors.is_empty() {
            Ok(Program {
                files: self.files,
                stmts,
            })
        } else {
            Err(self.errors)
        }
    }

    fn add_errors(&mut self, errors: Vec<CompileError>, name: &Arc<str>) {
        let file = error_file(name);
        self.errors.extend(errors.into_iter().map(|e| CompileError {
            file: file.clone(),
            ..e
        }));
    }

    /// Appends `stmts` to `out`, replacing each import with the module's statements.
    /// `depth` is the import depth of the modules these statements import.
    fn splice(
        &mut self,
        stmts: Vec<Stmt>,
        dir: &Path,
        name: &Arc<str>,
        depth: usize,
        out: &mut Vec<Stmt>,
    ) {
        for stmt in stmts {
            match &stmt.kind {
                StmtKind::Import { path } => self.import(path, stmt.span, dir, name, depth, out),
                _ => out.push(stmt),
            }
        }
    }

    fn import(
        &mut self,
        path: &str,
        span: Span,
        dir: &Path,
        importer: &Arc<str>,
        depth: usize,
        out: &mut Vec<Stmt>,
    ) {
        if is_builtin_module(path) {
            return;
        }
        let at = (span.pos, error_file(importer));
        let Some(found) = resolve(path, dir) else {
            self.error_at(
                at,
                format!("'{path}' தொகுதியைத் திறக்க முடியவில்லை"),
                format!("cannot open module '{path}'"),
            );
            return;
        };
        let canonical = fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
        if !self.seen.insert(canonical) {
            return;
        }
        if depth > MAX_IMPORT_DEPTH {
            self.error_at(
                at,
                format!("இறக்குமதிகள் மிக ஆழமாக உள்ளன (வரம்பு {MAX_IMPORT_DEPTH})"),
                format!("imports nested too deeply (limit is {MAX_IMPORT_DEPTH})"),
            );
            return;
        }
        let Ok(file_id) = FileId::try_from(self.files.len()) else {
            self.error_at(at, "தொகுதிகள் மிக அதிகம்", "too many modules");
            return;
        };
        let name: Arc<str> = Arc::from(found.display().to_string());
        let source = match read_source(&found, &name, Some(at)) {
            Ok(source) => source,
            Err(errors) => {
                self.errors.extend(errors);
                return;
            }
        };
        self.files.push(name.clone());
        match parser::parse_source(&source, file_id) {
            Ok(parsed) => {
                let module_dir = found.parent().map(Path::to_path_buf).unwrap_or_default();
                self.splice(parsed, &module_dir, &name, depth + 1, out);
            }
            Err(errors) => self.add_errors(errors, &name),
        }
    }

    fn error_at(
        &mut self,
        at: (Pos, Option<Arc<str>>),
        tamil: impl Into<String>,
        english: impl Into<String>,
    ) {
        let (pos, file) = at;
        self.errors.push(CompileError {
            file,
            ..CompileError::new(pos, tamil, english)
        });
    }
}

/// Finds a module: relative to the importing file's directory, then in each directory of
/// `ETAMIL_PATH`.
fn resolve(path: &str, dir: &Path) -> Option<PathBuf> {
    let beside = dir.join(path);
    if beside.is_file() {
        return Some(beside);
    }
    let search = std::env::var_os("ETAMIL_PATH")?;
    std::env::split_paths(&search)
        .map(|d| d.join(path))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("etamil-loader-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).expect("temp dir");
        dir
    }

    #[test]
    fn imports_are_spliced_once_with_file_ids() {
        let dir = temp_dir("splice");
        fs::write(
            dir.join("sub/a.qmz"),
            "a = 1;\nஇறக்கு \"b.qmz\";\nஇறக்கு \"../main.qmz\";\n",
        )
        .unwrap();
        fs::write(dir.join("sub/b.qmz"), "b = 2;\nஇறக்கு \"a.qmz\";\n").unwrap();
        fs::write(dir.join("main.qmz"), "x = 0;\nஇறக்கு \"sub/a.qmz\";\n_import \"sub/./a.qmz\";\niRakku \"nUlakam/col.qmz\";\nஇறக்கு \"../../nUlakam/paNam.qmz\";\ny = 3;\n").unwrap();
        let program = load_file(&dir.join("main.qmz")).expect("loads");
        let names: Vec<String> = program
            .stmts
            .iter()
            .map(|s| match &s.kind {
                StmtKind::Assign { name, .. } => {
                    format!("{}@{}:{}", name.name, s.span.file, s.span.pos.line)
                }
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names, vec!["x@0:1", "a@1:1", "b@2:1", "y@0:6"]);
        assert_eq!(program.files.len(), 3);
        assert!(program.files[1].ends_with("a.qmz"));
        assert!(program.files[2].ends_with("b.qmz"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn module_errors_name_the_module() {
        let dir = temp_dir("errors");
        fs::write(dir.join("sub/bad.qmz"), "x = 1;\ny = ;\n").unwrap();
        let errors = load_source("இறக்கு \"sub/bad.qmz\";\nஇறக்கு \"missing.qmz\";", "-", &dir)
            .expect_err("fails");
        assert_eq!(errors.len(), 2);
        assert!(errors[0]
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("bad.qmz")));
        assert_eq!(errors[0].pos, Pos::new(2, 5));
        assert_eq!(errors[1].file, None);
        assert_eq!(errors[1].pos, Pos::new(2, 1));
        assert_eq!(errors[1].english, "cannot open module 'missing.qmz'");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn invalid_utf8_is_an_error_at_its_position() {
        let dir = temp_dir("utf8");
        fs::write(dir.join("m.qmz"), b"x = 1;\ny = \"\xff\";\n").unwrap();
        let errors = load_file(&dir.join("m.qmz")).expect_err("fails");
        assert_eq!(errors[0].pos, Pos::new(2, 6));
        assert!(errors[0].english.contains("not valid UTF-8"));
        let errors = load_source("இறக்கு \"m.qmz\";", "main", &dir).expect_err("fails");
        assert!(errors[0]
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("m.qmz")));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_endless_import_chain_stops_at_the_limit() {
        let dir = temp_dir("chain");
        for i in 0..=MAX_IMPORT_DEPTH + 1 {
            fs::write(
                dir.join(format!("m{i}.qmz")),
                format!("இறக்கு \"m{}.qmz\";\n", i + 1),
            )
            .unwrap();
        }
        fs::write(dir.join(format!("m{}.qmz", MAX_IMPORT_DEPTH + 2)), "x = 1;").unwrap();
        let errors = load_file(&dir.join("m0.qmz")).expect_err("too deep");
        assert!(
            errors[0].english.contains("imports nested too deeply"),
            "{:?}",
            errors[0]
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
