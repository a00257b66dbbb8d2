//! Judging samples: distribution metrics, and judge networks that read
//! factors off images to score generated samples as the papers do.

pub mod metrics;
pub mod network;
pub mod score;
pub mod tasks;
pub mod train;

pub use metrics::{mmd2, mode_coverage, mode_shares, ModeCoverage};
pub use network::{Head, HeadKind, Judge, JudgeConfig};
pub use score::{score, HeadScore};
pub mod assignment;
pub mod disentanglement;
pub mod frechet;
pub mod segmentation;
