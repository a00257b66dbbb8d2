//! Datasets. Every source is deterministic: batch `step` of a source with a
//! given seed is the same whatever ran before it, so training can resume
//! mid-run and reproduce the uninterrupted numbers.

pub mod mnist;
pub mod mnist_source;
pub mod raster;
pub mod shapes;
pub mod shapes_concept;
pub mod sprites;
pub mod toy2d;
pub mod viewed;

pub use toy2d::{Toy2d, Toy2dKind};

use crate::energy::ConceptSchema;
use crate::sample::{ChainStart, InitNoise};
use tch::Tensor;

pub struct Batch {
    pub x: Tensor,
    /// Codes of the positives, `[B, C]`, for conditional sources.
    pub code: Option<Tensor>,
}

pub trait DataSource {
    /// Batch number `step` (deterministic in the source's seed and `step`).
    fn batch(&self, step: u64, batch_size: usize) -> Batch;
    /// Shape of one example, without the batch dimension.
    fn example_shape(&self) -> Vec<i64>;
    /// The concept the codes describe (None: unconditional).
    fn concept(&self) -> Option<ConceptSchema> {
        None
    }
    /// Width of the codes: the concept's, or several concepts' side by side
    /// for a joint model, which has no single schema.
    fn code_dim(&self) -> i64 {
        self.concept().map_or(0, |c| c.code_dim())
    }
    /// The noise fresh negative chains start from (when they start from noise).
    fn init_noise(&self) -> InitNoise;
    fn chain_start(&self) -> ChainStart {
        ChainStart::Noise
    }
    /// Starting points of `n` fresh chains at training step `step`.
    fn fresh_chains(&self, _step: u64, n: usize) -> Tensor {
        let mut shape = vec![n as i64];
        shape.extend(self.example_shape());
        self.init_noise().sample(&shape)
    }
    /// Name and parameters, for the model card.
    fn describe(&self) -> serde_json::Value;
    /// Batch `step`'s positives each with a second object added: scenes the
    /// data never holds, negatives under the positives' own codes (see
    /// `TrainConfig::extra_object_weight`). None: the source has none.
    fn extra_object_negatives(&self, _step: u64, _batch_size: usize) -> Option<Tensor> {
        None
    }
    /// Codes for fresh chains: by default those of the positives.
    fn negative_codes(&self, batch: &Batch) -> Option<Tensor> {
        batch.code.as_ref().map(|c| c.shallow_clone())
    }
}

/// A conditional source with its codes dropped: the unconditional model of
/// the same data (the prior that a product-of-experts conjunction divides out).
pub struct Unconditional<D: DataSource>(pub D);

impl<D: DataSource> DataSource for Unconditional<D> {
    fn batch(&self, step: u64, batch_size: usize) -> Batch {
        Batch {
            code: None,
            ..self.0.batch(step, batch_size)
        }
    }
    fn example_shape(&self) -> Vec<i64> {
        self.0.example_shape()
    }
    fn init_noise(&self) -> InitNoise {
        self.0.init_noise()
    }
    fn chain_start(&self) -> ChainStart {
        self.0.chain_start()
    }
    fn fresh_chains(&self, step: u64, n: usize) -> Tensor {
        self.0.fresh_chains(step, n)
    }
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"unconditional": self.0.describe()})
    }
    fn negative_codes(&self, _batch: &Batch) -> Option<Tensor> {
        None
    }
}

pub use crate::seed::rng as stream_rng;
