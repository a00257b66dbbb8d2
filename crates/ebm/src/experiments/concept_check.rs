//! The diagnostic a concept model must pass before its samples are judged
//! (concept-model issue): on fresh `shapes` scenes, lowest-energy
//! classification of its own concept (categorical: accuracy, target ≥ 0.95)
//! or the error of energy-minimising inference of its value over a grid
//! (continuous: mean Euclidean error, target ≤ 0.05 for position, 1/12 of
//! the range for others, and below the error of guessing the middle).

use crate::data::shapes::ShapesFilter;
use crate::data::shapes_concept::ShapesConceptData;
use crate::data::DataSource;
use crate::energy::{ConceptKind, Energy};
use crate::infer::{candidate_codes, infer_codes};
use anyhow::{bail, Result};
use serde::Serialize;

/// Mean position error a position model must reach (other continuous
/// concepts: the same fraction of their range, 1/12).
pub const POSITION_TARGET: f64 = 0.05;

/// Points per axis of the inference grid (the paper's 20 × 20 for position).
pub const GRID: usize = 20;

#[derive(Clone, Debug, Serialize)]
pub struct ConceptCheck {
    pub concept: String,
    pub scenes: usize,
    /// Categorical: fraction of scenes whose lowest-energy code is the true one.
    pub accuracy: Option<f64>,
    /// Continuous: mean Euclidean distance between the inferred and true value.
    pub mean_error: Option<f64>,
    /// Chance for a categorical concept; for a continuous one, the error of
    /// always answering the middle of the range.
    pub chance: f64,
    pub passed: bool,
}

/// Runs the check on `n` scenes of the full distribution drawn from `seed`
/// (pick one apart from the training seed).
pub fn check_concept(
    energy: &dyn Energy,
    concept: crate::data::shapes_concept::ShapesConcept,
    n: usize,
    seed: u64,
) -> Result<ConceptCheck> {
    if n == 0 {
        bail!("the concept check needs at least one scene");
    }
    let data = ShapesConceptData::new(
        concept,
        crate::experiments::shapes::IMAGE_SIZE as usize,
        seed,
        ShapesFilter::default(),
        Default::default(),
    )?;
    let batch = data.batch(0, n);
    let schema = concept.schema();
    let candidates = candidate_codes(&schema, GRID);
    let chosen = infer_codes(energy, &batch.x, &candidates);
    let truth = batch.code.expect("concept scenes carry codes");
    let truth: Vec<f32> = Vec::<f32>::try_from(truth.contiguous().view([-1]))?;
    let dim = schema.code_dim() as usize;
    let (accuracy, mean_error, chance, passed) = match &schema.kind {
        ConceptKind::Categorical { categories } => {
            let hits = chosen.iter().enumerate().filter(|(i, &k)| truth[i * dim + k] == 1.0).count();
            let accuracy = hits as f64 / n as f64;
            (Some(accuracy), None, 1.0 / categories.len() as f64, accuracy >= 0.95)
        }
        ConceptKind::Continuous { range: (lo, hi), .. } => {
            let mid = (lo + hi) / 2.0;
            let (mut error, mut baseline) = (0.0, 0.0);
            for (i, &k) in chosen.iter().enumerate() {
                let value = schema.decode(&truth[i * dim..(i + 1) * dim]);
                let guess = &candidates.values[k];
                error += value.iter().zip(guess).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
                baseline += value.iter().map(|a| (a - mid).powi(2)).sum::<f64>().sqrt();
            }
            let (error, baseline) = (error / n as f64, baseline / n as f64);
            // 0.05 for position (the target over a 0.6-wide range), the
            // same share of the range for others; and better than guessing the middle.
            let threshold = POSITION_TARGET * (hi - lo) / 0.6;
            (None, Some(error), baseline, error <= threshold && error < baseline)
        }
    };
    Ok(ConceptCheck {
        concept: concept.name().into(),
        scenes: n,
        accuracy,
        mean_error,
        chance,
        passed,
    })
}
