//! Energies with closed forms, for checking samplers against known answers.

use super::Energy;
use tch::Tensor;

/// Diagonal Gaussian N(mean, diag(std²)): E(x) = ½ Σ ((x − μ)/σ)².
/// Ignores the code.
pub struct GaussianEnergy {
    pub mean: Tensor,
    pub std: Tensor,
}

impl GaussianEnergy {
    pub fn new(mean: &[f64], std: &[f64]) -> Self {
        assert_eq!(mean.len(), std.len(), "mean and std must have the same length");
        Self {
            mean: Tensor::from_slice(mean).to_kind(tch::Kind::Float),
            std: Tensor::from_slice(std).to_kind(tch::Kind::Float),
        }
    }
}

impl Energy for GaussianEnergy {
    fn energy(&self, x: &Tensor, _code: Option<&Tensor>) -> Tensor {
        let kind = x.kind();
        let z = (x - self.mean.to_kind(kind)) / self.std.to_kind(kind);
        (z.square() * 0.5).sum_dim_intlist(-1, false, kind)
    }
}
