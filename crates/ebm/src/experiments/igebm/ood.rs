//! Out-of-distribution detection: score −E(x) (conditional models: −min over
//! labels of E(x | label)), AUROC with MNIST test digits as the positives,
//! against sets built from what the repository has.

use super::classify::{all_digits, in_chunks, label_energies};
use crate::data::mnist::ImageSet;
use crate::data::sprites::Sprites;
use crate::energy::Energy;
pub use crate::judge::metrics::auroc;
use crate::viz::score_histogram;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;
use tch::{Kind, Tensor};

/// A named set of `[N, 1, 28, 28]` images that are not MNIST digits.
pub struct OodSet {
    pub name: &'static str,
    pub images: Tensor,
}

/// Salt-and-pepper: each pixel independently becomes 0 or 1 (even odds)
/// with probability `fraction`.
pub fn salt_and_pepper(x: &Tensor, fraction: f64) -> Tensor {
    let hit = x.rand_like().lt(fraction);
    let salt = x.rand_like().lt(0.5).to_kind(x.kind());
    salt.where_self(&hit, x)
}

/// The 8×8 sklearn digits upscaled bilinearly to 20×20 and padded by 4 on
/// each side, like MNIST's 20×20 digit boxes in 28×28 frames.
pub fn upscale_digits(set: &ImageSet, n: usize) -> Tensor {
    let indices: Vec<usize> = (0..set.len().min(n)).collect();
    let small = crate::data::mnist_source::image_tensor(set, &indices);
    small
        .upsample_bilinear2d([20, 20], false, None, None)
        .constant_pad_nd([4, 4, 4, 4])
        .clamp(0.0, 1.0)
}

/// The OOD sets, `n` images each (fewer for the 1797 sklearn digits), built
/// from `digits` (MNIST test images not used as positives) and `small_digits`.
pub fn build_ood_sets(digits: &Tensor, small_digits: &ImageSet, n: usize, seed: u64) -> Vec<OodSet> {
    tch::manual_seed(seed as i64);
    let n_i = n as i64;
    let take = |offset: i64| digits.narrow(0, offset % digits.size()[0], n_i.min(digits.size()[0] - offset % digits.size()[0]));
    let base = take(0);
    let count = base.size()[0];
    let other = base.roll([1], [0]);
    let sprites = Sprites::new(28, seed);
    let (pixels, _) = sprites.batch(0, count as usize);
    vec![
        OodSet {
            name: "uniform noise",
            images: Tensor::rand([count, 1, 28, 28], (Kind::Float, tch::Device::Cpu)),
        },
        OodSet {
            name: "constant",
            images: Tensor::rand([count, 1, 1, 1], (Kind::Float, tch::Device::Cpu))
                .expand([count, 1, 28, 28], false)
                .copy(),
        },
        OodSet {
            name: "average of two digits",
            images: (&base + &other) * 0.5,
        },
        OodSet {
            name: "salt-and-pepper 10%",
            images: salt_and_pepper(&base, 0.1),
        },
        OodSet {
            name: "flipped left-right",
            images: base.flip([3]),
        },
        OodSet {
            name: "rotated 90°",
            images: base.rot90(1, [2, 3]),
        },
        OodSet {
            name: "sklearn digits upscaled",
            images: upscale_digits(small_digits, n),
        },
        OodSet {
            name: "sprites",
            images: Tensor::from_slice(&pixels).reshape([count, 1, 28, 28]),
        },
    ]
}

/// The OOD benchmark of the experiment: the first `n` test digits (at most
/// half of `test_x`) as positives, and the sets built from the test digits
/// after them (so no positive appears in an OOD set).
pub fn ood_benchmark(test_x: &Tensor, small_digits: &ImageSet, n: usize, seed: u64) -> (Tensor, Vec<OodSet>) {
    let total = test_x.size()[0];
    let half = (n as i64).min(total / 2);
    let (positives, candidates) = (test_x.narrow(0, 0, half), test_x.narrow(0, half, total - half));
    (positives, build_ood_sets(&candidates, small_digits, n, seed))
}

/// Higher = more in-distribution: −E(x), or −min over the ten digits.
pub fn ood_scores(energy: &dyn Energy, x: &Tensor, conditional: bool) -> Vec<f64> {
    let scores = in_chunks(x, |chunk| {
        if conditional {
            -label_energies(energy, chunk, &all_digits()).amin(-1, false)
        } else {
            -energy.energy(chunk, None)
        }
    });
    Vec::<f64>::try_from(scores.to_kind(Kind::Double)).unwrap_or_default()
}

#[derive(Clone, Debug, Serialize)]
pub struct OodRow {
    pub set: String,
    pub auroc: f64,
    pub images: usize,
}

/// AUROC of `energy` per OOD set against `positives`, and an energy
/// histogram PNG per set in `out_dir` (prefixed by `tag`).
pub fn evaluate_ood(
    energy: &dyn Energy,
    conditional: bool,
    positives: &Tensor,
    sets: &[OodSet],
    out_dir: &Path,
    tag: &str,
) -> Result<Vec<OodRow>> {
    let in_scores = ood_scores(energy, positives, conditional);
    let mut rows = Vec::new();
    for set in sets {
        let out_scores = ood_scores(energy, &set.images, conditional);
        let file = format!("{tag}-hist-{}.png", set.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
        score_histogram(
            &out_dir.join(file),
            &[("MNIST test", &in_scores), ("OOD", &out_scores)],
            &format!("{tag}: −E, MNIST test vs {}", set.name),
        )?;
        rows.push(OodRow {
            set: set.name.into(),
            auroc: auroc(&in_scores, &out_scores),
            images: out_scores.len(),
        });
    }
    Ok(rows)
}
