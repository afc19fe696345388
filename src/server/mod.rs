//! The serving side: reactor, connections, workers, and what they report.
pub mod metrics;
