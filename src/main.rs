//! The `etamil-mio` binary: subcommands serve, run, check and routes. The only place an error
//! becomes an exit status: 0 success; 1 runtime error or failure at start; 2 usage or compile
//! error (SERVER.md "Command line").

use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use etamil_mio::app::App;
use etamil_mio::config::{self, Command, Config, Source};
use etamil_mio::lang::{self, Budget, CompileError, Outcome, Output, Program};
use etamil_mio::logging;
use etamil_mio::server::Stop;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let command = match config::parse(&args, &|name| std::env::var(name).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("etamil-mio: {e}\n(see etamil-mio --help)");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{}", config::help());
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("etamil-mio {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Serve(cfg) => serve(cfg),
        Command::Run { source, budget } => run(&source, &budget),
        Command::Check { source, disasm } => match compile(&source) {
            Ok(program) => {
                if disasm {
                    print!("{}", program.disassemble());
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Routes { app } => match lang::compile_file(&app) {
            Ok(program) => {
                let mut out = io::stdout().lock();
                for r in program.routes() {
                    let _ = writeln!(out, "{}\t{}\t{}:{}", r.method, r.path, r.file, r.line);
                }
                let _ = out.flush();
                ExitCode::SUCCESS
            }
            Err(errors) => compile_failed(&errors),
        },
    }
}

fn compile_failed(errors: &[CompileError]) -> ExitCode {
    for e in errors {
        eprintln!("{e}");
    }
    ExitCode::from(2)
}

/// Compiles a file, or standard input with imports resolved from the current directory.
fn compile(source: &Source) -> Result<Program, ExitCode> {
    let result = match source {
        Source::File(path) => lang::compile_file(path),
        Source::Stdin => {
            let mut text = String::new();
            if let Err(e) = io::stdin().read_to_string(&mut text) {
                eprintln!("etamil-mio: cannot read standard input: {e}");
                return Err(ExitCode::from(2));
            }
            let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            lang::compile_source(&text, "-", Path::new(&base))
        }
    };
    result.map_err(|errors| compile_failed(&errors))
}

/// `அச்சு` in run mode: standard output, buffered, flushed at exit and before `வெளியேறு`.
struct Stdout(BufWriter<io::Stdout>);

impl Output for Stdout {
    fn print(&mut self, line: &str) {
        // A closed stdout (`| head`) must not turn into a runtime error; the run goes on.
        let _ = self.0.write_all(line.as_bytes());
        let _ = self.0.write_all(b"\n");
    }
}

fn run(source: &Source, budget: &Budget) -> ExitCode {
    let program = match compile(source) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut out = Stdout(BufWriter::with_capacity(64 << 10, io::stdout()));
    let result = lang::vm::run_main(&program, &mut out, budget);
    let _ = out.0.flush();
    match result {
        Ok(Outcome::Exit(status)) => {
            // The OS keeps the low 8 bits (LANGUAGE.md 9.5).
            std::process::exit(status);
        }
        Ok(Outcome::Finished | Outcome::Response(_)) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

/// `serve`: the structured logger first (so start-up is logged through it), then the app, then
/// the server; the log writer is drained before the exit status is returned, so the last lines
/// (the error that stopped the server, "Shutdown complete") are not lost.
fn serve(cfg: Config) -> ExitCode {
    let log = match logging::init(cfg.log_config()) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("etamil-mio: cannot start logging: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match App::load(cfg.app.as_deref()) {
        Ok(app) => match etamil_mio::server::serve(cfg, app) {
            Ok(Stop::Drained) => ExitCode::SUCCESS,
            Ok(Stop::TimedOut) => ExitCode::from(1),
            // SERVER.md: a second SIGTERM/SIGINT exits at once with 128 + signal, skipping
            // every destructor (a stuck worker must not hold the exit).
            Ok(Stop::Forced(sig)) => {
                log.flush_and_stop();
                std::process::exit(128 + sig as i32);
            }
            Err(e) => {
                log::error!("{e}");
                ExitCode::from(1)
            }
        },
        // Compile errors are the user's reading matter, not log records: plain stderr, as
        // `check` prints them. Nothing else writes yet, so they cannot interleave.
        Err(errors) => compile_failed(&errors),
    };
    log.flush_and_stop();
    code
}
