//! etamil-mio: an HTTP/1.1 server for backends written in eTamil.
//!
//! Crate map:
//! - `lang`: the eTamil language: lexer, parser, checker, compiler, VM, builtins.
pub mod lang;
pub mod logging;
pub mod server;
