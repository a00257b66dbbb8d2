//! Judging samples: distribution metrics now; trained judge networks later.

pub mod metrics;

pub use metrics::{mmd2, mode_coverage, ModeCoverage};
