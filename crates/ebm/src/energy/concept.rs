//! What a model's code means: the schema a checkpoint's card carries so that
//! expressions can name concepts and values.

use serde::{Deserialize, Serialize};

/// What a model's code means, so expressions can name concepts and values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConceptSchema {
    pub name: String,
    #[serde(flatten)]
    pub kind: ConceptKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConceptKind {
    /// One-hot code over named categories.
    Categorical { categories: Vec<String> },
    /// A real vector; `components` names each entry, `range` gives the values
    /// seen in training.
    Continuous { components: Vec<String>, range: (f64, f64) },
}

impl ConceptSchema {
    pub fn code_dim(&self) -> i64 {
        match &self.kind {
            ConceptKind::Categorical { categories } => categories.len() as i64,
            ConceptKind::Continuous { components, .. } => components.len() as i64,
        }
    }

    /// The code for continuous values: `range` maps linearly onto [−1, 1], so
    /// FiLM sees codes of unit scale whatever the units (a size range of
    /// 0.10–0.18 would otherwise barely move the features). Values outside the
    /// range extrapolate linearly. Categorical schemas return the values as given.
    pub fn encode(&self, values: &[f64]) -> Vec<f32> {
        match &self.kind {
            ConceptKind::Continuous { range: (lo, hi), .. } => values.iter().map(|v| (2.0 * (v - lo) / (hi - lo) - 1.0) as f32).collect(),
            ConceptKind::Categorical { .. } => values.iter().map(|&v| v as f32).collect(),
        }
    }

    /// Inverse of [`ConceptSchema::encode`].
    pub fn decode(&self, code: &[f32]) -> Vec<f64> {
        match &self.kind {
            ConceptKind::Continuous { range: (lo, hi), .. } => code.iter().map(|&c| lo + (c as f64 + 1.0) / 2.0 * (hi - lo)).collect(),
            ConceptKind::Categorical { .. } => code.iter().map(|&c| c as f64).collect(),
        }
    }
}
