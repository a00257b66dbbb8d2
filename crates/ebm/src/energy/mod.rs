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
pub mod readout;
pub mod spectral;

pub use analytic::GaussianEnergy;
pub use concept::{ConceptKind, ConceptSchema};
pub use conv::{ConvConfig, ConvEnergy};
pub use layers::Activation;
pub use mlp::{MlpConfig, MlpEnergy};
pub use network::{Architecture, Network};
pub use readout::Readout;

use tch::Tensor;

/// Anything with an energy. Samplers, trainers and compositions take
/// `&dyn Energy`, so a network, an analytic density and a composition of
/// either are interchangeable.
pub trait Energy {
    /// Energy of each element of the batch `x: [B, ...]` under `code: [B, C]`
    /// (None for unconditional energies): a `[B]` tensor, differentiable in
    /// `x`, the code and the parameters.
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor;

    /// Energies `[N, K]` of each `x: [N, ...]` under each of its K candidate
    /// codes `codes: [N, K, C]` (classification, the cross-entropy term).
    /// Networks whose trunk ignores the code override it to run the trunk once.
    fn energies_over_codes(&self, x: &Tensor, codes: &Tensor) -> Tensor {
        repeated_energies(self, x, codes)
    }
}

/// [`Energy::energies_over_codes`] by repeating each input K times.
pub fn repeated_energies<E: Energy + ?Sized>(energy: &E, x: &Tensor, codes: &Tensor) -> Tensor {
    let (n, k, dim) = (codes.size()[0], codes.size()[1], codes.size()[2]);
    let repeated = x.repeat_interleave_self_int(k, 0, None);
    energy.energy(&repeated, Some(&codes.reshape([n * k, dim]))).view([n, k])
}

impl<E: Energy + ?Sized> Energy for Box<E> {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        (**self).energy(x, code)
    }
    fn energies_over_codes(&self, x: &Tensor, codes: &Tensor) -> Tensor {
        (**self).energies_over_codes(x, codes)
    }
}

impl<E: Energy + ?Sized> Energy for &E {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        (**self).energy(x, code)
    }
    fn energies_over_codes(&self, x: &Tensor, codes: &Tensor) -> Tensor {
        (**self).energies_over_codes(x, codes)
    }
}
