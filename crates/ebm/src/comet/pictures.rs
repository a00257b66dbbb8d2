//! Pictures of decompositions: per image, the image, its reconstruction,
//! each component's rendering and the segmentation (a colour per component).

use super::decompose::{segmentation, Decomposition};
use crate::viz::grid::image_grid;
use anyhow::Result;
use std::path::Path;
use tch::{Kind, Tensor};

/// Distinct colours for up to 10 components (then repeating).
const PALETTE: [[f64; 3]; 10] = [
    [0.90, 0.10, 0.10],
    [0.10, 0.60, 0.90],
    [0.20, 0.80, 0.20],
    [0.95, 0.80, 0.10],
    [0.70, 0.30, 0.90],
    [0.95, 0.50, 0.10],
    [0.10, 0.85, 0.75],
    [0.90, 0.40, 0.70],
    [0.55, 0.55, 0.55],
    [0.45, 0.30, 0.15],
];

/// Labels `[B, S, S]` (int) → colours `[B, 3, S, S]`.
pub fn label_colours(labels: &Tensor) -> Tensor {
    let palette: Vec<f32> = PALETTE.iter().flatten().map(|&v| v as f32).collect();
    let palette = Tensor::from_slice(&palette).view([PALETTE.len() as i64, 3]);
    let index = labels.remainder(PALETTE.len() as i64).to_kind(Kind::Int64);
    palette
        .index_select(0, &index.flatten(0, -1))
        .view([labels.size()[0], labels.size()[1], labels.size()[2], 3])
        .permute([0, 3, 1, 2])
}

/// One row per image: image, reconstruction, K renderings, segmentation.
pub fn decomposition_grid(path: &Path, images: &Tensor, decomposition: &Decomposition, title: &str) -> Result<()> {
    let colour = |x: &Tensor| {
        if x.size()[1] == 1 {
            x.repeat([1, 3, 1, 1])
        } else {
            x.shallow_clone()
        }
    };
    let b = images.size()[0];
    let k = decomposition.renderings.size()[1];
    let mut columns = vec![colour(images), colour(&decomposition.reconstruction)];
    for i in 0..k {
        columns.push(colour(&decomposition.renderings.select(1, i)));
    }
    columns.push(label_colours(&segmentation(&decomposition.masks)));
    let cells = Tensor::stack(&columns, 1).to_kind(Kind::Float).flatten(0, 1).contiguous();
    let s = images.size()[2] as usize;
    let mut captions = vec!["image".to_string(), "rebuilt".to_string()];
    captions.extend((0..k).map(|i| format!("comp {}", i + 1)));
    captions.push("segments".into());
    let ncols = captions.len();
    let all_captions: Vec<String> = (0..b as usize).flat_map(|_| captions.clone()).collect();
    let pixels = Vec::<f32>::try_from(cells.flatten(0, -1))?;
    image_grid(
        path,
        &pixels,
        b as usize * ncols,
        3,
        s,
        s,
        ncols,
        Some(&all_captions),
        Some(title),
        3,
    )
}
