//! ebm: energy-based models on libtorch (through tch).
//!
//! - [`energy`]: the [`energy::Energy`] trait, networks, spectral norm
//! - [`checkpoint`]: one safetensors file per model, with its card
//! - [`sample`]: Langevin dynamics and the replay buffer
//! - [`train`]: contrastive divergence with a divergence guard and exact resume
//! - [`data`]: deterministic datasets
//! - [`judge`]: metrics of sample quality
//! - [`viz`]: PNG pictures
//! - [`progress`]: how long loops report progress (the command draws bars)
//! - [`names`]: settings chosen by name
//!
//! The `ebm` command lives in its own crate (`crates/ebm-cli`); nothing here
//! parses arguments or draws on a terminal.

pub mod checkpoint;
pub mod comet;
pub mod compose;
pub mod data;
pub mod device;
pub mod energy;
pub mod experiments;
pub mod infer;
pub mod io;
pub mod judge;
pub mod memory;
pub mod names;
pub mod progress;
pub mod sample;
pub mod seed;
pub mod train;
pub mod trajectories;
pub mod viz;

pub use energy::{Energy, Network};
pub use names::Named;
pub use progress::{Progress, Quiet};
