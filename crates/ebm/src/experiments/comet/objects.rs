//! COMET on multi-shapes: segmentation against the instance masks (ARI),
//! reconstruction PSNR, and object swaps between images judged against the
//! rendered ground truth.

use crate::comet::data::CometData;
use crate::comet::decompose::{psnr, segment, segmentation, MaskSource};
use crate::comet::descent::{rebuild, start_noise};
use crate::comet::Comet;
use crate::data::shapes::{MultiShapes, Object, Scene};
use crate::judge::segmentation::{mean_scores, segmentation_scores, SegmentationScores};
use crate::progress::Progress;
use crate::seed::seed_torch;
use serde::Serialize;
use tch::{Kind, Tensor};

/// Stream of the evaluation's descent start noise.
const EVAL_NOISE: u64 = 0x4556_4E5A;

#[derive(Clone, Debug, Serialize)]
pub struct SegmentationResult {
    pub images: usize,
    pub masks_at: String,
    pub ari: f64,
    pub foreground_ari: f64,
    /// Mean PSNR (dB) of the reconstructions.
    pub psnr: f64,
}

/// One image's segmentation and reconstruction, kept for the swaps.
pub struct Segmented {
    pub scenes: Vec<Scene>,
    pub images: Tensor,
    pub latents: Tensor,
    pub reconstructions: Tensor,
    /// `[B, S, S]` component per pixel.
    pub labels: Tensor,
}

/// Segments `n` held-out scenes (dataset seed `data_seed`) in batches.
pub fn segment_scenes(
    model: &Comet,
    data_seed: u64,
    n: usize,
    batch: usize,
    source: MaskSource,
    progress: &dyn Progress,
) -> Vec<Segmented> {
    let size = model.config.size as usize;
    let task = progress.begin("segment", n as u64);
    let mut out = Vec::new();
    for (b, start) in (0..n).step_by(batch.max(1)).enumerate() {
        let count = batch.min(n - start);
        let scenes = MultiShapes::new(size, data_seed).batch(start as u64, count).1;
        let images = CometData::MultiShapes
            .images(size, data_seed, start as u64, count)
            .to_device(model.vs.device());
        seed_torch(data_seed, &[EVAL_NOISE, b as u64]);
        let (latents, reconstructions, masks) = segment(model, &images, &start_noise(&images), source);
        out.push(Segmented {
            scenes,
            images,
            latents,
            reconstructions,
            labels: segmentation(&masks),
        });
        task.advance(count as u64);
    }
    out
}

/// ARI (full and foreground) and PSNR over segmented batches.
pub fn segmentation_result(model: &Comet, batches: &[Segmented], source: MaskSource) -> SegmentationResult {
    let size = model.config.size as usize;
    let mut scores: Vec<SegmentationScores> = Vec::new();
    let mut psnrs = Vec::new();
    for batch in batches {
        let labels = Vec::<i64>::try_from(batch.labels.flatten(0, -1).to_device(tch::Device::Cpu)).unwrap_or_default();
        for (i, scene) in batch.scenes.iter().enumerate() {
            let predicted: Vec<u32> = labels[i * size * size..(i + 1) * size * size].iter().map(|&l| l as u32).collect();
            scores.push(segmentation_scores(&scene.instance_mask(size), &predicted));
        }
        psnrs.extend(psnr(&batch.reconstructions, &batch.images));
    }
    let mean = mean_scores(&scores);
    SegmentationResult {
        images: scores.len(),
        masks_at: format!("{source:?}").to_lowercase(),
        ari: mean.ari,
        foreground_ari: mean.foreground_ari,
        psnr: psnrs.iter().sum::<f64>() / psnrs.len().max(1) as f64,
    }
}

/// The (component, object) pair of one image whose pixel sets overlap
/// best (intersection over union), object indices 0-based in drawing order.
fn best_pair(labels: &[i64], mask: &[u8], components: i64, objects: usize) -> Option<(i64, usize, f64)> {
    let mut best: Option<(i64, usize, f64)> = None;
    for k in 0..components {
        for o in 0..objects {
            let (mut both, mut either) = (0usize, 0usize);
            for (&l, &m) in labels.iter().zip(mask) {
                let (a, b) = (l == k, m as usize == o + 1);
                both += (a && b) as usize;
                either += (a || b) as usize;
            }
            let iou = both as f64 / either.max(1) as f64;
            if best.is_none_or(|(_, _, v)| iou > v) {
                best = Some((k, o, iou));
            }
        }
    }
    best
}

#[derive(Clone, Debug, Serialize)]
pub struct SwapResult {
    pub swaps: usize,
    /// The moved object judged right (see [`object_judged_right`]).
    pub judged_right: f64,
    /// Mean PSNR (dB) of swapped scenes against the rendered ground truth.
    pub psnr: f64,
    /// Mean PSNR of the plain reconstructions of the same receiving scenes.
    pub reconstruction_psnr: f64,
}

/// Scenes rendered as images `[N, 3, S, S]`.
pub(super) fn render_scenes(scenes: &[Scene], size: usize) -> Tensor {
    let pixels: Vec<f32> = scenes.iter().flat_map(|s| s.render(size)).collect();
    Tensor::from_slice(&pixels).view([scenes.len() as i64, 3, size as i64, size as i64])
}

/// Each image's best (component, object) pair under its segmentation.
fn best_pairs(batch: &Segmented, components: i64, size: usize) -> Vec<Option<(i64, usize, f64)>> {
    let labels = Vec::<i64>::try_from(batch.labels.flatten(0, -1).to_device(tch::Device::Cpu)).unwrap_or_default();
    batch
        .scenes
        .iter()
        .enumerate()
        .map(|(i, scene)| {
            best_pair(
                &labels[i * size * size..(i + 1) * size * size],
                &scene.instance_mask(size),
                components,
                scene.objects.len(),
            )
        })
        .collect()
}

/// Swaps, within each batch, image i's best-matched object component for
/// image i+1's (rolled) under `donor`, whose segmentations of the same
/// scenes are `donor_batches` (the model itself and `batches` for swaps
/// within one model; another model for cross-model swaps). The ground truth
/// is image i's scene with its object removed and image i+1's object drawn
/// in front. Returns the result, and per batch the swapped images and
/// their ground truths.
pub fn object_swaps(
    model: &Comet,
    batches: &[Segmented],
    donor: &Comet,
    donor_batches: &[Segmented],
) -> (SwapResult, Vec<(Tensor, Tensor)>) {
    let size = model.config.size as usize;
    let k = model.config.components;
    let (mut right, mut count, mut psnr_sum, mut plain_sum) = (0usize, 0usize, 0.0, 0.0);
    let mut pictures = Vec::new();
    for (b, (batch, donor_batch)) in batches.iter().zip(donor_batches).enumerate() {
        let n = batch.scenes.len();
        if n < 2 {
            continue;
        }
        let pairs = best_pairs(batch, k, size);
        let donor_pairs = best_pairs(donor_batch, donor.config.components, size);
        let (mut kept, mut donated) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut truths = Vec::with_capacity(n);
        let mut moved = Vec::with_capacity(n);
        for (i, receiving) in pairs.iter().enumerate() {
            let from = (i + 1) % n;
            let pair = receiving.zip(donor_pairs[from]);
            // Unmatched images still need K − 1 + 1 latents; they are not scored.
            let ((ki, oi, _), (kd, od, _)) = pair.unwrap_or(((k - 1, 0, 0.0), (0, 0, 0.0)));
            let others: Vec<i64> = (0..k).filter(|&c| c != ki).collect();
            let index = Tensor::from_slice(&others).to_device(batch.latents.device());
            kept.push(batch.latents.get(i as i64).index_select(0, &index));
            donated.push(donor_batch.latents.get(from as i64).narrow(0, kd, 1));
            if pair.is_none() {
                truths.push(batch.scenes[i].clone());
                moved.push(None);
                continue;
            }
            let mut scene = batch.scenes[i].clone();
            scene.objects.remove(oi);
            let object = batch.scenes[from].objects[od].clone();
            scene.objects.push(object.clone());
            truths.push(scene);
            moved.push(Some(object));
        }
        let parts = [(model, Tensor::stack(&kept, 0)), (donor, Tensor::stack(&donated, 0))];
        seed_torch(b as u64, &[EVAL_NOISE, 1]);
        let swapped = rebuild(&parts, &start_noise(&batch.images));
        let truth = render_scenes(&truths, size).to_device(swapped.device());
        let swap_psnr = psnr(&swapped, &truth);
        let plain_psnr = psnr(&batch.reconstructions, &batch.images);
        for i in 0..n {
            if let Some(object) = &moved[i] {
                count += 1;
                right += object_judged_right(&swapped.get(i as i64), &truth.get(i as i64), object, &truths[i], size) as usize;
                psnr_sum += swap_psnr[i];
                plain_sum += plain_psnr[i];
            }
        }
        pictures.push((swapped, truth));
    }
    let c = count.max(1) as f64;
    let result = SwapResult {
        swaps: count,
        judged_right: right as f64 / c,
        psnr: psnr_sum / c,
        reconstruction_psnr: plain_sum / c,
    };
    (result, pictures)
}

/// Our object judge (the spec defines none for multi-object scenes): the
/// pixels near the object's colour in the swapped image, within a window of
/// half-size r + 0.1 around its true centre, must overlap its true mask with
/// IoU ≥ 0.5 (shape), have their centroid within 0.1 of its centre
/// (position), and its colour must be the nearest of the eight in the
/// swapped image's mean over the true mask (colour).
pub fn object_judged_right(swapped: &Tensor, truth: &Tensor, object: &Object, scene: &Scene, size: usize) -> bool {
    let s = size as i64;
    let to_vec = |t: &Tensor| Vec::<f32>::try_from(t.to_kind(Kind::Float).to_device(tch::Device::Cpu).flatten(0, -1)).unwrap_or_default();
    let (x, reference) = (to_vec(swapped), to_vec(truth));
    let mask = scene.instance_mask(size);
    let index = scene.objects.len() as u8; // drawn last, so mask id = count
    let plane = (s * s) as usize;
    let pixel = |v: &[f32], p: usize| [v[p] as f64, v[plane + p] as f64, v[2 * plane + p] as f64];
    let inside: Vec<usize> = (0..plane).filter(|&p| mask[p] == index).collect();
    if inside.is_empty() {
        return false;
    }
    let mean = |v: &[f32]| {
        let mut m = [0.0; 3];
        for &p in &inside {
            let c = pixel(v, p);
            (0..3).for_each(|j| m[j] += c[j] / inside.len() as f64);
        }
        m
    };
    let (target, seen) = (mean(&reference), mean(&x));
    let colour_right = nearest_colour(seen) == object.colour;
    let window = object.r + 0.1;
    let (mut both, mut either, mut cx, mut cy, mut found) = (0usize, 0usize, 0.0, 0.0, 0usize);
    for (p, &id) in mask.iter().enumerate() {
        let (u, v) = (((p % size) as f64 + 0.5) / size as f64, ((p / size) as f64 + 0.5) / size as f64);
        if (u - object.x).abs() > window || (v - object.y).abs() > window {
            continue;
        }
        let c = pixel(&x, p);
        let close = (0..3).map(|j| (c[j] - target[j]).powi(2)).sum::<f64>().sqrt() < 0.15;
        let truly = id == index;
        both += (close && truly) as usize;
        either += (close || truly) as usize;
        if close {
            (cx, cy, found) = (cx + u, cy + v, found + 1);
        }
    }
    let iou = both as f64 / either.max(1) as f64;
    let f = found.max(1) as f64;
    let centred = found > 0 && (cx / f - object.x).hypot(cy / f - object.y) <= 0.1;
    colour_right && iou >= 0.5 && centred
}

/// The nearest of the eight colours by chromaticity (the light scales brightness).
fn nearest_colour(rgb: [f64; 3]) -> Option<usize> {
    let norm = |c: [f64; 3]| {
        let n = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt().max(1e-9);
        [c[0] / n, c[1] / n, c[2] / n]
    };
    let seen = norm(rgb);
    crate::data::shapes::COLOURS
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let c = norm(c);
            (i, (0..3).map(|j| (c[j] - seen[j]).powi(2)).sum::<f64>())
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}
