//! Energies: the [`Energy`] trait that everything downstream takes, the
//! trainable networks, and the schema of their codes. Checkpoints (which
//! also carry sampler settings) live one layer up, in [`crate::checkpoint`].
//!
//! Conventions (see README): low energy = likely, p(x|c) ∝ exp(−E(x|c)); an
//! energy maps a batch `x: [B, ...]` (and an optional code `[B, C]`) to `[B]`.

pub mod analytic;
pub mod compute;
pub mod concept;
pub mod conv;
pub mod denoiser;
pub mod layers;
pub mod mlp;
pub mod network;
pub mod normalised;
pub mod readout;
pub mod spectral;
pub mod view;

pub use analytic::GaussianEnergy;
pub use compute::{Compute, Precision};
pub use concept::{ConceptKind, ConceptSchema};
pub use conv::{ConvConfig, ConvEnergy};
pub use denoiser::{DenoiserConfig, DenoiserEnergy};
pub use layers::Activation;
pub use mlp::{MlpConfig, MlpEnergy};
pub use network::{Architecture, Network};
pub use normalised::ModeNormalised;
pub use readout::Readout;
pub use view::InputView;

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

    /// The energy at noise level σ, E_σ(x | code), `sigma: [B]` one level
    /// per element. Energies trained over noise levels (denoising score
    /// matching) override it; every other energy is the same at every level.
    fn energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        let _ = sigma;
        self.energy(x, code)
    }

    /// E_σ(x | code) with the same value but the x-gradient (x − D)/σ² of
    /// the energy's denoiser D — minus its Tweedie score — in place of the
    /// exact ∇ₓE_σ, which adds D's Jacobian. For sampling only: no gradient
    /// reaches the parameters. Energies without a denoiser are unchanged.
    fn tweedie_energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        self.energy_at_noise(x, code, sigma)
    }
    /// The noise levels (σ_min, σ_max) the energy was trained over, for
    /// energies that have them (samplers then anneal from σ_max down).
    fn noise_range(&self) -> Option<(f64, f64)> {
        None
    }
}

/// Which x-gradient a sampler follows at a noise level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelGradient {
    /// ∇ₓE_σ, what the energy defines.
    #[default]
    Exact,
    /// The denoiser's Tweedie score, [`Energy::tweedie_energy_at_noise`].
    Tweedie,
}

crate::named!(LevelGradient, "level gradient", [Exact => "exact", Tweedie => "tweedie"]);

/// An energy held at one noise level σ: `energy` is `energy_at_noise` with
/// σ for every element, so a sampler that knows nothing of noise levels
/// samples E_σ.
pub struct AtNoiseLevel<'a> {
    pub energy: &'a dyn Energy,
    pub sigma: f64,
    pub gradient: LevelGradient,
}

impl Energy for AtNoiseLevel<'_> {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let sigma = Tensor::full([x.size()[0]], self.sigma, (x.kind(), x.device()));
        match self.gradient {
            LevelGradient::Exact => self.energy.energy_at_noise(x, code, &sigma),
            LevelGradient::Tweedie => self.energy.tweedie_energy_at_noise(x, code, &sigma),
        }
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
    fn energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        (**self).energy_at_noise(x, code, sigma)
    }
    fn tweedie_energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        (**self).tweedie_energy_at_noise(x, code, sigma)
    }
    fn noise_range(&self) -> Option<(f64, f64)> {
        (**self).noise_range()
    }
}

impl<E: Energy + ?Sized> Energy for &E {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        (**self).energy(x, code)
    }
    fn energies_over_codes(&self, x: &Tensor, codes: &Tensor) -> Tensor {
        (**self).energies_over_codes(x, codes)
    }
    fn energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        (**self).energy_at_noise(x, code, sigma)
    }
    fn tweedie_energy_at_noise(&self, x: &Tensor, code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        (**self).tweedie_energy_at_noise(x, code, sigma)
    }
    fn noise_range(&self) -> Option<(f64, f64)> {
        (**self).noise_range()
    }
}
