//! A source's images seen through an [`InputView`]: what a model that
//! lives in the view's space (a colour-blind denoiser) trains on. The
//! energy it learns reads images through [`crate::energy::view::Viewed`].

use super::{Batch, DataSource, InitNoise};
use crate::energy::{ConceptSchema, InputView};
use crate::sample::ChainStart;
use tch::Tensor;

pub struct ViewedSource<D: DataSource> {
    pub source: D,
    pub view: InputView,
}

impl<D: DataSource> DataSource for ViewedSource<D> {
    fn batch(&self, step: u64, batch_size: usize) -> Batch {
        let batch = self.source.batch(step, batch_size);
        Batch {
            x: self.view.apply(&batch.x),
            code: batch.code,
        }
    }
    fn example_shape(&self) -> Vec<i64> {
        let mut shape = self.source.example_shape();
        if let Some(channels) = shape.first_mut() {
            *channels = self.view.channels(*channels);
        }
        shape
    }
    fn concept(&self) -> Option<ConceptSchema> {
        self.source.concept()
    }
    fn code_dim(&self) -> i64 {
        self.source.code_dim()
    }
    fn init_noise(&self) -> InitNoise {
        self.source.init_noise()
    }
    fn chain_start(&self) -> ChainStart {
        self.source.chain_start()
    }
    fn fresh_chains(&self, step: u64, n: usize) -> Tensor {
        self.view.apply(&self.source.fresh_chains(step, n))
    }
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "view": crate::names::Named::name(self.view), "source": self.source.describe() })
    }
    fn extra_object_negatives(&self, step: u64, batch_size: usize) -> Option<Tensor> {
        self.source.extra_object_negatives(step, batch_size).map(|x| self.view.apply(&x))
    }
    fn negative_codes(&self, batch: &Batch) -> Option<Tensor> {
        self.source.negative_codes(batch)
    }
}
