//! ebm: energy-based models on libtorch (through tch).
//!
//! - [`energy`]: the [`energy::Energy`] trait, networks, spectral norm, checkpoints
//! - [`sample`]: Langevin dynamics and the replay buffer
//! - [`train`]: contrastive divergence with a divergence guard and exact resume
//! - [`data`]: deterministic datasets
//! - [`judge`]: metrics of sample quality
//! - [`viz`]: PNG pictures
//! - [`cli`]: the `ebm` command

pub mod cli;
pub mod compose;
pub mod data;
pub mod energy;
pub mod experiments;
pub mod io;
pub mod judge;
pub mod sample;
pub mod train;
pub mod viz;

pub use energy::{Energy, Network};
