//! COMET (Du et al. 2021): an encoder splits an image into K latents zₖ; one
//! weight-tied energy E(x; zₖ) per component; the image is rebuilt by
//! gradient descent on Σₖ E(x; zₖ), and training back-propagates through
//! that descent (second order: ∇θ of ∇ₓE).
//!
//! - [`config`]: the documented base and its recipes
//! - [`network`]: the encoder (global or slot attention) and the energy
//! - [`experts`]: the Gaussian-expert energy (components compete for pixels)
//! - [`model`]: the model as a value, with its checkpoint
//! - [`descent`]: reconstruction and the training loss
//! - [`beta_vae`]: the disentanglement baseline

pub mod beta_vae;
pub mod config;
pub mod data;
pub mod decompose;
pub mod descent;
pub mod experts;
pub mod model;
pub mod network;
pub mod pictures;
pub mod train;

pub use config::{CometConfig, EncoderKind, EnergyKind, ReconstructionLoss, SlotStart, Unroll};
pub use model::{Comet, CometCard};
