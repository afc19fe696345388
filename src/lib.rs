//! etamil-mio: an HTTP/1.1 server for backends written in eTamil.
//!
//! Crate map:
//! - `lang`: the eTamil language: lexer, parser, checker, compiler, VM, builtins.
//! - `config`: the command line and `ETAMIL_*` variables → `config::Command`.
//! - `digits`: integers in ASCII decimal without `core::fmt`, for the hot paths.
//! - `logging`: our `log::Log` (JSON lines or text) through a bounded channel to one writer
//!   thread; access lines and handler prints.
//! - `app`: a compiled `Program` with its `Router`; the embedded default app.
//! - `server`: the serving core — reactor (mio), connections (sans-io state machines), HTTP
//!   parsing, body decoding, routing, responses, the worker pool, metrics.
//!
//! Data flow: main.rs parses the command line → `App::load` compiles once → `server::serve`
//! binds and runs one reactor thread; workers run `lang::vm::run_route` on the shared
//! `Arc<App>` and hand responses back through a completion queue and one `mio::Waker`.
//!
//! Invariants: the reactor never runs eTamil and never blocks outside `poll`; workers never
//! touch sockets; one request per connection is in flight, so answers stay in order; nothing
//! panics on any input, and an I/O error closes that connection only.
pub mod app;
pub mod config;
pub mod digits;
pub mod lang;
pub mod logging;
pub mod server;
