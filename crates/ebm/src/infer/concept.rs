//! MAP concept inference over one or several views of a scene:
//! c* = argmin_c Σᵢ E(xᵢ | c) — categories by enumeration; continuous
//! concepts on a dense grid (the compositional paper's 20 × 20 for
//! position), then refined by a local search on the code.

use super::candidates::{candidate_codes, candidate_energies};
use crate::energy::{ConceptKind, ConceptSchema, Energy};
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// Settings of [`infer_concept`].
#[derive(Clone, Debug)]
pub struct InferConfig {
    /// Grid points per component of a continuous concept.
    pub grid: usize,
    /// Consecutive images that show one scene (all of them are summed over).
    pub views: usize,
    /// Local-search steps after the grid (continuous concepts; 0: grid only).
    pub refine_steps: usize,
    /// Per-candidate offsets in energy units (`CodeCalibration::energy_offsets`),
    /// added once per view before the grid's or categories' argmin: a CD
    /// energy's levels per code are free (`infer::offsets`). The local search
    /// then runs on the raw energy, which is smooth in the code.
    pub offsets: Option<Vec<f64>>,
}

impl Default for InferConfig {
    fn default() -> Self {
        Self {
            grid: 20,
            views: 1,
            refine_steps: 30,
            offsets: None,
        }
    }
}

/// What inference found for each scene.
#[derive(Debug)]
pub struct Inference {
    /// Per scene: the category index, or the continuous values (in the concept's units).
    pub values: Vec<Vec<f64>>,
    /// `[scenes, candidates]` energies Σᵢ E(xᵢ | c) over the grid or the categories.
    pub energies: Tensor,
}

/// Infers the concept of `schema` for each scene of `images` (`[S·views, C, H, W]`).
pub fn infer_concept(energy: &dyn Energy, schema: &ConceptSchema, images: &Tensor, config: &InferConfig) -> Result<Inference> {
    let n = images.size()[0];
    let views = config.views.max(1) as i64;
    if n == 0 || n % views != 0 {
        bail!("{n} images do not split into scenes of {views} views each");
    }
    let candidates = candidate_codes(schema, config.grid.max(2));
    let k = candidates.codes.size()[0];
    let energies = candidate_energies(energy, images, &candidates.codes)
        .view([n / views, views, k])
        .sum_dim_intlist(1, false, Kind::Float);
    let chosen = match &config.offsets {
        None => energies.shallow_clone(),
        Some(offsets) if offsets.len() as i64 == k => {
            let shift = Tensor::from_slice(offsets).to_kind(Kind::Float).to_device(energies.device());
            &energies + shift * views as f64
        }
        Some(offsets) => bail!(
            "{} calibration offsets for {k} candidate codes (grid {})",
            offsets.len(),
            config.grid
        ),
    };
    let best: Vec<i64> = Vec::try_from(chosen.argmin(-1, false))?;
    let values = match &schema.kind {
        ConceptKind::Categorical { .. } => best.iter().map(|&i| vec![i as f64]).collect(),
        ConceptKind::Continuous { .. } => {
            let start = candidates.codes.index_select(0, &Tensor::from_slice(&best));
            let spacing = 2.0 / (config.grid.max(2) - 1) as f64;
            let codes = refine(energy, images, &start, views, spacing, config.refine_steps);
            let flat: Vec<f32> = Vec::try_from(codes.contiguous().view([-1]))?;
            let dim = schema.code_dim() as usize;
            flat.chunks(dim).map(|c| schema.decode(c)).collect()
        }
    };
    Ok(Inference { values, energies })
}

/// Σ over views of E(x | code) per scene, `codes: [S, D]` → `[S]`.
fn scene_energies(energy: &dyn Energy, images: &Tensor, codes: &Tensor, views: i64) -> Tensor {
    let per_image = codes.repeat_interleave_self_int(views, 0, None);
    energy
        .energy(images, Some(&per_image))
        .view([-1, views])
        .sum_dim_intlist(1, false, Kind::Float)
}

/// Coordinate-free local search from the grid's best code: a step of
/// `spacing/2` along the normalised gradient, shrinking by 0.85 a step,
/// kept per scene only where it lowers the energy; codes stay in [−1, 1].
fn refine(energy: &dyn Energy, images: &Tensor, start: &Tensor, views: i64, spacing: f64, steps: usize) -> Tensor {
    let mut codes = start.to_kind(Kind::Float).detach();
    let mut current = tch::no_grad(|| scene_energies(energy, images, &codes, views));
    let mut step = spacing / 2.0;
    for _ in 0..steps {
        let probe = codes.detach().set_requires_grad(true);
        let e = scene_energies(energy, images, &probe, views);
        let grad = Tensor::run_backward(&[e.sum(Kind::Float)], &[&probe], false, false).remove(0);
        let direction = &grad / (grad.norm_scalaropt_dim(2, [1i64].as_slice(), true) + 1e-12);
        let proposal = (&codes - direction * step).clamp(-1.0, 1.0);
        let proposed = tch::no_grad(|| scene_energies(energy, images, &proposal, views));
        let better = proposed.lt_tensor(&current);
        codes = codes.where_self(&better.logical_not().unsqueeze(1), &proposal);
        current = current.where_self(&better.logical_not(), &proposed);
        step *= 0.85;
    }
    codes
}

/// Energy span (nats) an energy map's colours cover at most.
const MAP_SPREAD: f32 = 10.0;

/// A picture per scene: the (first view of the) scene beside its energy map
/// over a 2-D concept's grid, drawn in image coordinates (u right, v down)
/// as exp(−(E − min E)/T) in viridis — bright where the model puts the concept
/// (T = 1, or larger where the map spans more than [`MAP_SPREAD`]).
/// The map sits where the grid's range `(lo, hi)` lies in the image
/// (position square [0.2, 0.8]²), black outside it.
pub fn write_energy_maps(
    path: &std::path::Path,
    images: &Tensor,
    inference: &Inference,
    views: usize,
    grid: usize,
    range: (f64, f64),
) -> Result<()> {
    let scenes = inference.energies.size()[0];
    if inference.energies.size()[1] != (grid * grid) as i64 {
        bail!("energy maps need a 2-D concept on a {grid}×{grid} grid");
    }
    let dims = images.size();
    let (h, w) = (dims[2] as usize, dims[3] as usize);
    let first = images.view([scenes, views as i64, dims[1], dims[2], dims[3]]).select(1, 0);
    let first = if dims[1] == 1 { first.repeat([1, 3, 1, 1]) } else { first };
    let pixels: Vec<f32> = Vec::try_from(first.to_kind(Kind::Float).contiguous().view([-1]))?;
    let energies: Vec<f32> = Vec::try_from(inference.energies.contiguous().view([-1]))?;
    let mut cells = Vec::with_capacity(scenes as usize * 6 * h * w);
    for (s, map) in energies.chunks(grid * grid).enumerate() {
        cells.extend_from_slice(&pixels[s * 3 * h * w..(s + 1) * 3 * h * w]);
        let min = map.iter().copied().fold(f32::INFINITY, f32::min);
        let max = map.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // exp(−ΔE) at temperature 1, unless the map spans more than
        // MAP_SPREAD: then the temperature that spreads it over MAP_SPREAD
        // (a denoiser's energy, ‖x − D‖²/2σ² at σ = 0.01, spans thousands,
        // and at temperature 1 its map is one bright cell).
        let temperature = ((max - min) / MAP_SPREAD).max(1.0);
        let mut rgb = vec![0f32; 3 * h * w];
        for row in 0..h {
            for col in 0..w {
                // Candidate index: x (u) is the outer component, y (v) the inner.
                let index = |p: usize, n: usize| {
                    let t = ((p as f64 + 0.5) / n as f64 - range.0) / (range.1 - range.0);
                    (0.0..=1.0).contains(&t).then(|| (t * (grid - 1) as f64).round() as usize)
                };
                let colour = match (index(col, w), index(row, h)) {
                    (Some(ix), Some(iy)) => crate::viz::viridis((-((map[ix * grid + iy] - min) / temperature) as f64).exp()),
                    _ => [0, 0, 0],
                };
                for (c, value) in colour.iter().enumerate() {
                    rgb[c * h * w + row * w + col] = *value as f32 / 255.0;
                }
            }
        }
        cells.extend(rgb);
    }
    let n = 2 * scenes as usize;
    crate::viz::grid::image_grid(path, &cells, n, 3, h, w, 8, None, Some("scene | energy map over position"), 4)
}
