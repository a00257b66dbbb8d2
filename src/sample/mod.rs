//! Sampling from energies: Langevin dynamics and the replay buffer that
//! persists chains across training steps.

pub mod langevin;
pub mod replay_buffer;

pub use langevin::{langevin, ChainStart, InitNoise, LangevinConfig, LangevinOptions, LangevinOverrides, Sampled, SamplerDefaults};
pub use replay_buffer::{BufferMode, ReplayBuffer, ReplayConfig};
