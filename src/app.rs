//! `App`: a compiled `Program` and the `Router` built from its routes, kept together so a request
//! always runs on the program its route came from.
//!
//! Owns loading an app file (or the embedded default app, `examples/default.qmz`) and building
//! its routing table once. It does not serve anything (server/) or print errors (main.rs).

use std::path::{Path, PathBuf};

use crate::lang::{self, CompileError, Program};
use crate::server::metrics::Metrics;
use crate::server::router::Router;

/// The embedded default app, served when no app file is given.
pub const DEFAULT_APP_SOURCE: &str = include_str!("../examples/default.qmz");
/// How the embedded app is named in messages and logs.
pub const DEFAULT_APP_NAME: &str = "default.qmz (embedded)";

/// A compiled app, immutable and shared by the reactor and every worker through an `Arc`.
#[derive(Debug)]
pub struct App {
    pub program: Program,
    pub router: Router,
    /// The app file, or `DEFAULT_APP_NAME`.
    pub origin: String,
    /// Each route's slot in `Metrics` (by index in `Program::routes()`), from
    /// `Metrics::route_ids`; empty until `register_metrics`.
    pub metric_ids: Vec<usize>,
}

impl App {
    /// Compiles `path`, or the embedded default app when None.
    pub fn load(path: Option<&Path>) -> Result<App, Vec<CompileError>> {
        match path {
            Some(p) => Ok(App::new(lang::compile_file(p)?, p.display().to_string())),
            None => {
                let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                let program = lang::compile_source(DEFAULT_APP_SOURCE, DEFAULT_APP_NAME, &base)?;
                Ok(App::new(program, DEFAULT_APP_NAME.to_owned()))
            }
        }
    }

    pub fn new(program: Program, origin: String) -> App {
        let router = Router::new(program.routes());
        App {
            program,
            router,
            origin,
            metric_ids: Vec::new(),
        }
    }

    /// Gives each route its metrics slot by pattern; call once per `Metrics` before serving
    /// (and on each reload, with the same `Metrics`, so a pattern keeps its series).
    pub fn register_metrics(&mut self, metrics: &Metrics) {
        self.metric_ids = metrics.route_ids(&self.route_patterns());
    }

    /// The route patterns in route order, as the metrics and access log label them.
    pub fn route_patterns(&self) -> Vec<String> {
        self.program
            .routes()
            .iter()
            .map(|r| r.path.clone())
            .collect()
    }

    /// Route `route`'s metrics slot; an unregistered route counts under `route="(other)"`.
    pub fn metric_id(&self, route: usize) -> usize {
        self.metric_ids
            .get(route)
            .copied()
            .unwrap_or(crate::server::metrics::MAX_ROUTE_SLOTS)
    }

    /// Route `route`'s pattern, for the access log; `-` if out of range.
    pub fn route_pattern(&self, route: usize) -> &str {
        self.program
            .routes()
            .get(route)
            .map_or(crate::server::metrics::UNROUTED, |r| r.path.as_str())
    }
}
