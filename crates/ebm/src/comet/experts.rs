//! The Gaussian-expert component energy: each component holds every pixel
//! with a precision αₖ(p) towards a colour μₖ(p), both drawn from its latent
//! over coordinate channels (FiLM):
//!
//! E(x; zₖ) = ½ · mean over channels and pixels of αₖ(p)·(x_c(p) − μₖ,c(p))².
//!
//! Why: a sum of such energies is a product of Gaussian experts, whose
//! minimum is the precision-weighted mean Σₖ αₖμₖ / Σₖ αₖ at every pixel. A
//! component can only win a pixel by out-holding the others there, and one
//! latent cannot describe a whole scene, so the components must share the
//! image out: the exclusive, per-pixel competition that makes components
//! objects. The generic network ([`super::network::ComponentEnergy`]) has no
//! such competition; on multi-shapes its components split the image by
//! colour (models/comet/README.md). Each component's mask is its share of
//! the precision, ∂²Eₖ/∂x² (the pull it exerts on the pixel), weighted by
//! how well its colour fits the pixel ([`ExpertFields::shares`]).

use super::config::CometConfig;
use super::network::{coordinate_channels, FilmBlock};
use crate::energy::layers::{Activation, Conv3};
use tch::nn::Path;
use tch::Tensor;

const SWISH: Activation = Activation::Swish;

/// The fields one latent draws: precision `[N, 1, S, S]` (positive) and
/// mean colour `[N, C, S, S]` in (0, 1).
pub struct ExpertFields {
    pub precision: Tensor,
    pub mean: Tensor,
}

/// Latent → (αₖ, μₖ) over the image, at full resolution: coordinates →
/// conv → FiLM residual blocks → conv to 1 + C channels.
pub struct ExpertField {
    input: Conv3,
    blocks: Vec<FilmBlock>,
    out: Conv3,
    channels: i64,
    size: i64,
    octaves: usize,
}

/// Initial precision of each component: softplus(2) ≈ 2.1, so five
/// components sum to about 10, and the base descent (λ = 200 on a mean
/// over 3·32·32 entries) moves a pixel 200·10/3072 ≈ 0.7 of the way to the
/// weighted mean per step: fast, and short of overshooting.
const PRECISION_BIAS: f64 = 2.0;

impl ExpertField {
    pub fn new(path: &Path, config: &CometConfig) -> Self {
        let w = config.energy_width;
        Self {
            input: Conv3::new(&(path / "input"), 2 + 4 * config.field_octaves as i64, w, false, 2f64.sqrt()),
            blocks: FilmBlock::stack(path, config),
            out: Conv3::new(&(path / "out"), w, 1 + config.channels, false, 1.0),
            channels: config.channels,
            size: config.size,
            octaves: config.field_octaves,
        }
    }

    /// `z: [N, latent]` → the fields of each of the N latents.
    pub fn fields(&self, z: &Tensor) -> ExpertFields {
        let n = z.size()[0];
        let probe = Tensor::zeros([n, 1, self.size, self.size], (z.kind(), z.device()));
        let mut h = SWISH.apply(&self.input.forward(&place_features(&probe, self.octaves)));
        for block in &self.blocks {
            h = block.forward(&h, z);
        }
        let out = self.out.forward(&h);
        ExpertFields {
            precision: (out.narrow(1, 0, 1) + PRECISION_BIAS).softplus(),
            mean: out.narrow(1, 1, self.channels).sigmoid(),
        }
    }
}

/// The coordinates u, v in [−1, 1] and, for each octave l, sin and cos of
/// 2ˡπ·u and 2ˡπ·v: `[B, 2 + 4L, S, S]`.
pub fn place_features(like: &Tensor, octaves: usize) -> Tensor {
    let coordinates = coordinate_channels(like);
    let mut features = vec![coordinates.shallow_clone()];
    for octave in 0..octaves {
        let phase = &coordinates * (std::f64::consts::PI * (1u64 << octave) as f64);
        features.push(phase.sin());
        features.push(phase.cos());
    }
    Tensor::cat(&features, 1)
}

impl ExpertFields {
    /// Eₖ for fields `[B·K, …]` viewed as `[B, K, …]` and `x` `[B, C, S, S]`
    /// (shared by the components) or `[B, K, C, S, S]` → `[B, K]`.
    pub fn energies(&self, x: &Tensor, b: i64, k: i64) -> Tensor {
        let ms = self.mean.size();
        let mean = self.mean.view([b, k, ms[1], ms[2], ms[3]]);
        let precision = self.precision.view([b, k, 1, ms[2], ms[3]]);
        let x = match x.dim() {
            4 => x.unsqueeze(1),
            _ => x.shallow_clone(),
        };
        ((x - mean).square() * precision).mean_dim(&[2i64, 3, 4][..], false, self.mean.kind()) * 0.5
    }

    /// Each pixel's share among the K components, `[B, K, S, S]`: of the
    /// precision alone, or, given the image `x`, of the precision weighted by
    /// how well each component's colour fits the pixel,
    /// αₖ·exp(−β‖x − μₖ‖²) normalised over k (β = `fit_weight`).
    pub fn shares(&self, b: i64, k: i64, x: Option<&Tensor>, fit_weight: f64) -> Tensor {
        let ms = self.mean.size();
        let log_precision = self.precision.view([b, k, ms[2], ms[3]]).log();
        let logits = match x {
            Some(x) => {
                let mean = self.mean.view([b, k, ms[1], ms[2], ms[3]]);
                let misfit = (x.unsqueeze(1) - mean).square().sum_dim_intlist(&[2i64][..], false, x.kind());
                log_precision - misfit * fit_weight
            }
            None => log_precision,
        };
        logits.softmax(1, logits.kind())
    }

    pub fn detach(&self) -> Self {
        Self {
            precision: self.precision.detach(),
            mean: self.mean.detach(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// After u and v, octave l holds sin(2ˡπ·u), sin(2ˡπ·v), cos(2ˡπ·u), cos(2ˡπ·v).
    #[test]
    fn place_features_are_sines_of_the_coordinates() {
        let like = Tensor::zeros([1, 3, 8, 8], (Kind::Double, Device::Cpu));
        let features = place_features(&like, 2);
        assert_eq!(features.size(), vec![1, 10, 8, 8]);
        let coordinates = coordinate_channels(&like);
        let phase = &coordinates * (2.0 * std::f64::consts::PI);
        let octave1 = features.narrow(1, 6, 4);
        assert!(octave1.allclose(&Tensor::cat(&[phase.sin(), phase.cos()], 1), 1e-12, 1e-12, false));
        assert!(features.narrow(1, 0, 2).equal(&coordinates));
    }
}
