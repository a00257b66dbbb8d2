//! Up-front memory estimates, so a request that cannot fit (`-n`, batch
//! sizes, recorded frames) is refused with the estimate before it starts
//! instead of being killed by the kernel halfway through.
//!
//! The estimate counts what autograd keeps per sample: about eight tensors
//! of each layer's output size (convolution, activation, FiLM, residual sum
//! and their gradients), times a factor for what is differentiated. It is
//! meant to be right within a factor of about two, not exact.

use crate::energy::Architecture;
use anyhow::{bail, Result};

/// Saved tensors per layer output (forward values and their gradients).
const TENSORS_PER_LAYER: i64 = 8;

/// What a batch is used for, which sets how much autograd keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pass {
    /// Input gradients for sampling (one backward, no graph kept).
    Sampling,
    /// Contrastive divergence: positives and negatives through a weight gradient.
    Training,
    /// Denoising score matching: an input gradient with graph, then the weight
    /// gradient through it (second order).
    SecondOrder,
}

impl Pass {
    fn factor(self) -> i64 {
        match self {
            Pass::Sampling => 2,
            Pass::Training => 4,
            Pass::SecondOrder => 6,
        }
    }
}

/// Floats of layer outputs for one input.
pub fn activation_floats(architecture: &Architecture) -> i64 {
    let layers = match architecture {
        Architecture::Mlp(c) => c.input_shape.iter().product::<i64>().max(c.input_dim) + c.hidden.iter().sum::<i64>(),
        Architecture::Conv(c) => {
            let input = c.channels * c.size * c.size;
            input
                + c.widths
                    .iter()
                    .enumerate()
                    .map(|(level, w)| w * (c.size >> level).max(1).pow(2))
                    .sum::<i64>()
        }
        // Encoder and decoder: width·2^k channels at size/2^k, k = 0..3.
        Architecture::Denoiser(c) => (0..4).map(|k| 2 * (c.width << k) * (c.size >> k).max(1).pow(2)).sum::<i64>(),
    };
    layers * TENSORS_PER_LAYER
}

/// Bytes a batch of `batch` inputs needs through `architectures` (summed:
/// a composition keeps every member's graph until its backward), plus
/// `frames` recorded copies of the batch.
pub fn batch_bytes(architectures: &[&Architecture], batch: i64, pass: Pass, frames: i64) -> u64 {
    let floats: i64 = architectures.iter().map(|a| activation_floats(a)).sum();
    let input: i64 = architectures.first().map_or(0, |a| a.input_shape().iter().product());
    let total = (batch as i128) * ((floats * pass.factor()) as i128 + (input * (frames + 4)) as i128) * 4;
    total.clamp(0, u64::MAX as i128) as u64
}

/// Memory the kernel says is available now (`MemAvailable`), if it says.
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses `what` when `needed` exceeds 90 % of `available`, naming both
/// and `fix`. Where the machine does not say, it lets the request run.
pub fn ensure_fits(what: &str, needed: u64, available: Option<u64>, fix: &str) -> Result<()> {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    if let Some(available) = available {
        if needed as f64 > 0.9 * available as f64 {
            bail!(
                "{what} would need about {:.1} GiB of memory, and this machine has {:.1} GiB available; {fix}",
                gib(needed),
                gib(available)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::{Activation, MlpConfig};

    fn mlp() -> Architecture {
        Architecture::Mlp(MlpConfig {
            input_dim: 2,
            hidden: vec![128, 128],
            code_dim: 0,
            activation: Activation::Swish,
            spectral_norm: false,
            input_shape: vec![],
            noise_range: None,
            view: Default::default(),
        })
    }

    #[test]
    fn estimates_grow_with_the_batch_and_refuse_what_cannot_fit() {
        let arch = mlp();
        assert_eq!(activation_floats(&arch), (2 + 256) * TENSORS_PER_LAYER);
        let one = batch_bytes(&[&arch], 1000, Pass::Sampling, 0);
        assert_eq!(batch_bytes(&[&arch], 2000, Pass::Sampling, 0), 2 * one);
        assert!(batch_bytes(&[&arch, &arch], 1000, Pass::Sampling, 0) > one);
        assert!(batch_bytes(&[&arch], 1000, Pass::SecondOrder, 0) > batch_bytes(&[&arch], 1000, Pass::Training, 0));
        let gib = 1u64 << 30;
        assert!(ensure_fits("sampling", gib, Some(2 * gib), "lower -n").is_ok());
        let error = ensure_fits("sampling 10 chains", 3 * gib, Some(2 * gib), "lower -n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("about 3.0 GiB") && error.contains("2.0 GiB available") && error.contains("lower -n"),
            "{error}"
        );
        assert!(ensure_fits("anything", u64::MAX, None, "").is_ok());
    }
}
