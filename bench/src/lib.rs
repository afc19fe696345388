//! etamil-bench: the load generator of etamil-mio and the harness its benchmarks share.
//!
//! - `hist`     latency histogram, log-bucketed (HdrHistogram's scheme), mergeable
//! - `response` incremental HTTP/1.x response parser (head by httparse, bodies by us)
//! - `request`  target URL (loopback only) and the request bytes
//! - `engine`   the mio loop per thread: closed loop, open loop at a fixed rate, C10K hold
//! - `report`   text, JSON and TSV of a run or a sweep
//! - `svg`      the sweep chart, hand-written SVG
//! - `sys`      RLIMIT_NOFILE and another process's resident memory
//!
//! Flow: `bin/loadgen.rs` parses the command line into `engine::RunConfig`s, `engine::run` splits
//! each over threads (each with its own `Poll`) and merges their `Stats`, `report` and `svg`
//! render them. Nothing here panics on what a server sends: a bad response is a counted error.

pub mod engine;
pub mod hist;
pub mod report;
pub mod request;
pub mod response;
pub mod svg;
pub mod sys;
