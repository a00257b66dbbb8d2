//! A denoiser's error over noise levels as an energy for inference (the
//! comparison a diffusion classifier makes across codes):
//!
//! E(x | c) = 1/L Σ_σ σ^p · ½‖x − D(x + σε_σ, σ, c)‖² / σ²,
//!
//! with the noise ε_σ drawn once and shared by every image and every
//! candidate code, so that codes differ only in how well they explain x.
//! A denoising-trained energy read at its smallest level alone,
//! ½‖x − D(x, σ_min, c)‖²/σ²_min, is a reconstruction error dominated by
//! whatever the autoencoder reproduces worst (an unseen colour, say); at
//! larger σ the code must say where the object is, because the noisy input
//! no longer does.

use crate::energy::{DenoiserEnergy, Energy};
use anyhow::{bail, Result};
use rand::Rng;
use rand_distr::StandardNormal;
use tch::Tensor;

/// Settings of [`DenoisingError`].
#[derive(Clone, Debug)]
pub struct DenoisingErrorConfig {
    /// Noise levels, geometric over `range`.
    pub levels: usize,
    /// The levels' range; None: the range the denoiser was trained over.
    pub range: Option<(f64, f64)>,
    /// Weight σ^p of each level's ½‖x − D‖²/σ² (1: the training loss's weighting).
    pub sigma_power: f64,
    /// Seed of the shared noise draws.
    pub seed: u64,
}

impl Default for DenoisingErrorConfig {
    fn default() -> Self {
        Self {
            levels: 8,
            range: None,
            sigma_power: 1.0,
            seed: 0,
        }
    }
}

/// The averaged denoising error of a denoiser, an [`Energy`] on images of its size.
pub struct DenoisingError<'a> {
    denoiser: &'a DenoiserEnergy,
    sigmas: Vec<f64>,
    power: f64,
    /// One `[1, C, H, W]` draw per level, broadcast over the batch.
    noise: Vec<Tensor>,
}

impl<'a> DenoisingError<'a> {
    pub fn new(denoiser: &'a DenoiserEnergy, config: &DenoisingErrorConfig) -> Result<Self> {
        let trained = (denoiser.config().sigma_min, denoiser.config().sigma_max);
        let (lo, hi) = config.range.unwrap_or(trained);
        if config.levels == 0 || !(lo > 0.0 && hi >= lo && hi.is_finite()) {
            bail!(
                "a denoising error needs at least one level and 0 < σ_min ≤ σ_max, got {} levels over ({lo}, {hi})",
                config.levels
            );
        }
        let sigmas: Vec<f64> = (0..config.levels)
            .map(|i| match config.levels {
                1 => hi,
                n => lo * (hi / lo).powf(i as f64 / (n - 1) as f64),
            })
            .collect();
        let c = denoiser.config();
        // Drawn from the seed alone (not torch's global generator), so
        // inference neither depends on nor disturbs other draws.
        let mut rng = crate::seed::rng_at(config.seed, &[crate::seed::streams::INFERENCE_NOISE]);
        let per_level = (c.channels * c.size * c.size) as usize;
        let noise = sigmas
            .iter()
            .map(|_| {
                let draws: Vec<f32> = (0..per_level).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
                Tensor::from_slice(&draws).view([1, c.channels, c.size, c.size])
            })
            .collect();
        Ok(Self {
            denoiser,
            sigmas,
            power: config.sigma_power,
            noise,
        })
    }

    /// The levels, smallest first.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }
}

impl DenoisingError<'_> {
    /// Σ over levels of the weighted ½‖x − D(·)‖²/σ², each image compared
    /// with `per_image` rows of D; `decoded` gives D at one level from the
    /// noisy images and the level's `[B]` σ.
    fn over_levels(&self, x: &Tensor, per_image: i64, decoded: impl Fn(&Tensor, &Tensor) -> Tensor) -> Tensor {
        let mut total = Tensor::zeros([x.size()[0] * per_image], (x.kind(), x.device()));
        for (&sigma, noise) in self.sigmas.iter().zip(&self.noise) {
            let noisy = x + noise.to_device(x.device()).to_kind(x.kind()) * sigma;
            let level = Tensor::full([x.size()[0]], sigma, (x.kind(), x.device()));
            let target = match per_image {
                1 => x.shallow_clone(),
                k => x.repeat_interleave_self_int(k, 0, None),
            };
            let residual = target - decoded(&noisy, &level).to_kind(x.kind());
            let weight = sigma.powf(self.power) / (2.0 * sigma * sigma);
            total += residual.square().sum_dim_intlist([1i64, 2, 3].as_slice(), false, x.kind()) * weight;
        }
        total / self.sigmas.len() as f64
    }
}

impl Energy for DenoisingError<'_> {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        self.over_levels(x, 1, |noisy, level| self.denoiser.denoise(noisy, code, level))
    }

    /// Each image is encoded once per level (the code enters only the
    /// decoder) and decoded under each of its K codes.
    fn energies_over_codes(&self, x: &Tensor, codes: &Tensor) -> Tensor {
        let (n, k) = (x.size()[0], codes.size()[1]);
        let flat_codes = codes.reshape([n * k, -1]);
        let totals = self.over_levels(x, k, |noisy, level| {
            let z = self.denoiser.encode(noisy, level).repeat_interleave_self_int(k, 0, None);
            let levels = level.repeat_interleave_self_int(k, 0, None);
            self.denoiser.decode(&z, Some(&flat_codes), &levels)
        });
        totals.view([n, k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::DenoiserConfig;
    use tch::{Device, Kind};

    fn small_denoiser() -> DenoiserEnergy {
        let config = DenoiserConfig {
            code_dim: 2,
            size: 16,
            width: 8,
            latent: 8,
            ..DenoiserConfig::default()
        };
        DenoiserEnergy::new(config, Device::Cpu)
    }

    #[test]
    fn one_level_is_the_weighted_denoising_error_with_the_seeded_noise() {
        let denoiser = small_denoiser();
        let config = DenoisingErrorConfig {
            levels: 1,
            range: Some((0.3, 0.3)),
            sigma_power: 1.0,
            seed: 7,
        };
        let error = DenoisingError::new(&denoiser, &config).expect("valid settings");
        let x = Tensor::rand([3, 3, 16, 16], (Kind::Float, Device::Cpu));
        let code = Tensor::rand([3, 2], (Kind::Float, Device::Cpu));
        let noisy = &x + &error.noise[0] * 0.3;
        let sigma = Tensor::full([3], 0.3, (Kind::Float, Device::Cpu));
        let by_hand =
            (&x - denoiser.denoise(&noisy, Some(&code), &sigma))
                .square()
                .sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float)
                * (0.3 / (2.0 * 0.09));
        let measured = error.energy(&x, Some(&code));
        assert!(measured.allclose(&by_hand, 1e-5, 1e-5, false));
        // The same seed draws the same noise; another seed does not.
        let again = DenoisingError::new(&denoiser, &config).expect("valid settings");
        assert!(again.energy(&x, Some(&code)).equal(&measured));
        let other = DenoisingError::new(&denoiser, &DenoisingErrorConfig { seed: 8, ..config }).expect("valid");
        assert!(!other.noise[0].allclose(&error.noise[0], 1e-3, 1e-3, false));
    }

    #[test]
    fn encoding_once_per_image_gives_the_energies_of_every_code() {
        let denoiser = small_denoiser();
        let error = DenoisingError::new(&denoiser, &DenoisingErrorConfig::default()).expect("valid settings");
        assert_eq!(error.sigmas().len(), 8);
        let x = Tensor::rand([2, 3, 16, 16], (Kind::Float, Device::Cpu));
        let codes = Tensor::rand([2, 5, 2], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let fast = error.energies_over_codes(&x, &codes);
        let slow = crate::energy::repeated_energies(&error, &x, &codes);
        assert_eq!(fast.size(), vec![2, 5]);
        assert!(fast.allclose(&slow, 1e-4, 1e-4, false), "{fast} vs {slow}");
        // The codes matter: an untrained decoder still reads them.
        assert!(fast.std(false).double_value(&[]) > 0.0);
    }

    #[test]
    fn bad_levels_are_refused() {
        let denoiser = small_denoiser();
        for config in [
            DenoisingErrorConfig {
                levels: 0,
                ..DenoisingErrorConfig::default()
            },
            DenoisingErrorConfig {
                range: Some((0.0, 0.5)),
                ..DenoisingErrorConfig::default()
            },
            DenoisingErrorConfig {
                range: Some((0.5, 0.1)),
                ..DenoisingErrorConfig::default()
            },
        ] {
            assert!(DenoisingError::new(&denoiser, &config).is_err());
        }
    }
}
