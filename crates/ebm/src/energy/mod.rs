//! Energies: the [`Energy`] trait that everything downstream takes, the
//! trainable networks, and the schema of their codes. Checkpoints (which
//! also carry sampler settings) live one layer up, in [`crate::checkpoint`].
//!
//! Conventions (see README): low energy = likely, p(x|c) ∝ exp(−E(x|c)); an
//! energy maps a batch `x: [B, ...]` (and an optional code `[B, C]`) to `[B]`.

pub mod analytic;
pub mod concept;
pub mod conv;
pub mod layers;
pub mod mlp;
pub mod network;
pub mod spectral;

pub use analytic::GaussianEnergy;
pub use concept::{ConceptKind, ConceptSchema};
pub use conv::{ConvConfig, ConvEnergy};
pub use layers::Activation;
pub use mlp::{MlpConfig, MlpEnergy};
pub use network::{Architecture, Network};

use tch::Tensor;

/// Anything with an energy. Samplers, trainers and compositions take
/// `&dyn Energy`, so a network, an analytic density and a composition of
/// either are interchangeable.
pub trait Energy {
    /// Energy of each element of the batch `x: [B, ...]` under `code: [B, C]`
    /// (None for unconditional energies): a `[B]` tensor, differentiable in
    /// `x`, the code and the parameters.
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor;
}

impl<E: Energy + ?Sized> Energy for Box<E> {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        (**self).energy(x, code)
    }
}

impl<E: Energy + ?Sized> Energy for &E {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        (**self).energy(x, code)
    }
}
