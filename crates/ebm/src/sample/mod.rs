//! Sampling from energies: unadjusted Langevin (ULA), MALA and HMC behind
//! one interface on `&dyn Energy` ([`sample`]), step-size adaptation during
//! warm-up, annealing over temperatures or noise levels, the diagnostics
//! samplers are judged by (ESS, R-hat), and the replay buffer that persists
//! chains across training steps.

pub mod adapt;
pub mod anneal;
pub mod diagnostics;
pub mod hmc;
pub mod langevin;
pub mod mala;
pub mod noise_levels;
pub mod replay_buffer;
pub mod sampler;
pub mod summary;
mod target;

pub use adapt::DualAveraging;
pub use anneal::{anneal, geometric, Annealed, AnnealedRun, Level, NoiseConditioned, NoiseLevels, Schedule};
pub use hmc::{hamiltonian, leapfrog};
pub use langevin::{langevin, ChainStart, InitNoise, LangevinConfig, LangevinOptions, LangevinOverrides, Sampled, SamplerDefaults};
pub use noise_levels::{refine_noise_levels, sample_noise_levels, tweedie, NoiseAnnealing, NoiseLevelRun};
pub use replay_buffer::{BufferMode, ReplayBuffer, ReplayConfig};
pub use sampler::{sample, Run, SampleOptions, SamplerConfig, SamplerKind};
pub use summary::{summarize, RunSummary};
