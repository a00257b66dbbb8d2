//! MAP inference of a concept's code by enumeration over candidates.

use crate::energy::{ConceptKind, ConceptSchema, Energy};
use tch::{Kind, Tensor};

/// Candidate codes and the concept values they stand for.
pub struct Candidates {
    /// `[K, C]` codes as the model reads them.
    pub codes: Tensor,
    /// The value of each candidate (category index, or the continuous values).
    pub values: Vec<Vec<f64>>,
}

/// Every category of a categorical concept; for a continuous one, a grid of
/// `per_axis` points per component over its training range (the
/// compositional paper infers position on a 20 × 20 grid).
pub fn candidate_codes(schema: &ConceptSchema, per_axis: usize) -> Candidates {
    match &schema.kind {
        ConceptKind::Categorical { categories } => {
            let k = categories.len() as i64;
            Candidates {
                codes: Tensor::eye(k, (Kind::Float, tch::Device::Cpu)),
                values: (0..k).map(|i| vec![i as f64]).collect(),
            }
        }
        ConceptKind::Continuous {
            components,
            range: (lo, hi),
        } => {
            let axis: Vec<f64> = (0..per_axis)
                .map(|i| lo + (hi - lo) * i as f64 / (per_axis.max(2) - 1) as f64)
                .collect();
            let mut values: Vec<Vec<f64>> = vec![Vec::new()];
            for _ in components {
                values = values
                    .iter()
                    .flat_map(|prefix| axis.iter().map(move |&a| [prefix.as_slice(), &[a]].concat()))
                    .collect();
            }
            let flat: Vec<f32> = values.iter().flat_map(|v| schema.encode(v)).collect();
            Candidates {
                codes: Tensor::from_slice(&flat).view([values.len() as i64, components.len() as i64]),
                values,
            }
        }
    }
}

/// Energies `[B, K]` of each image under each candidate code, without autograd.
pub fn candidate_energies(energy: &dyn Energy, x: &Tensor, codes: &Tensor) -> Tensor {
    let (n, k) = (x.size()[0], codes.size()[0]);
    // Chunk over images so B·K forward rows stay bounded.
    let per_chunk = (4096 / k.max(1)).max(1);
    let parts: Vec<Tensor> = (0..n)
        .step_by(per_chunk as usize)
        .map(|start| {
            let part = x.narrow(0, start, per_chunk.min(n - start));
            let b = part.size()[0];
            let tiled = codes.to_device(x.device()).unsqueeze(0).expand([b, k, codes.size()[1]], false);
            tch::no_grad(|| energy.energies_over_codes(&part, &tiled))
        })
        .collect();
    Tensor::cat(&parts, 0)
}

/// The index of the lowest-energy candidate for each image (one view each).
pub fn infer_codes(energy: &dyn Energy, x: &Tensor, candidates: &Candidates) -> Vec<usize> {
    let e = candidate_energies(energy, x, &candidates.codes);
    Vec::<i64>::try_from(e.argmin(-1, false).to_device(tch::Device::Cpu))
        .unwrap_or_default()
        .into_iter()
        .map(|i| i as usize)
        .collect()
}
