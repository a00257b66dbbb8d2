//! `ebm experiment comet`: COMET's measurements in one report (JSON +
//! Markdown + PNG): segmentation ARI and object swaps on multi-shapes,
//! cross-model recombination, and (given a global-factor model and a β-VAE)
//! disentanglement on shapes.

pub mod cross;
pub mod factors;
pub mod objects;

use crate::comet::decompose::{decompose, MaskSource};
use crate::comet::descent::start_noise;
use crate::comet::pictures::decomposition_grid;
use crate::comet::Comet;
use crate::experiments::shapes::write_labelled_rows;
use crate::progress::Progress;
use anyhow::{Context, Result};
use objects::{object_swaps, segment_scenes, segmentation_result, SegmentationResult, SwapResult};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::Tensor;

pub struct CometOptions {
    /// The object model (multi-shapes).
    pub objects: PathBuf,
    /// A global-factor model on shapes and its β-VAE baselines.
    pub global: Option<(PathBuf, Vec<PathBuf>)>,
    pub out: PathBuf,
    /// Held-out scenes to score.
    pub images: usize,
    pub batch: usize,
    /// Dataset seed of the held-out scenes (training used another).
    pub data_seed: u64,
    /// Another object model, trained separately: its object components are
    /// swapped into the object model's scenes and judged (cross-model).
    pub cross: Option<PathBuf>,
}

#[derive(Serialize)]
pub struct CometReport {
    pub model: String,
    pub segmentation: Vec<SegmentationResult>,
    pub swaps: SwapResult,
    pub disentanglement: Option<factors::DisentanglementReport>,
    /// The global-factor model's `shapes` objects inserted into multi-shapes scenes.
    pub cross_model: Option<cross::CrossResult>,
    pub cross_swaps: Option<CrossSwaps>,
}

/// Object swaps whose donor component comes from another object model.
#[derive(Serialize)]
pub struct CrossSwaps {
    pub donor_model: String,
    pub swaps: SwapResult,
}

pub fn run(options: &CometOptions, progress: &dyn Progress) -> Result<CometReport> {
    std::fs::create_dir_all(&options.out).with_context(|| format!("cannot create {}", options.out.display()))?;
    let (model, _) = Comet::load(&options.objects, tch::Device::Cpu)?;
    let mut segmentation = Vec::new();
    let (mut swaps, mut cross_swaps) = (None, None);
    for source in [MaskSource::Image, MaskSource::Reconstruction] {
        let batches = segment_scenes(&model, options.data_seed, options.images, options.batch, source, progress);
        segmentation.push(segmentation_result(&model, &batches, source));
        if source == MaskSource::Image {
            let (result, pictures) = object_swaps(&model, &batches, &model, &batches);
            write_swap_picture(&options.out.join("swaps.png"), &batches[0].images, &pictures[0])?;
            swaps = Some(result);
            if let Some(path) = &options.cross {
                cross_swaps = Some(swaps_from(&model, &batches, path, options, progress)?);
            }
        }
    }
    let held_out = crate::comet::data::CometData::MultiShapes.images(model.config.size as usize, options.data_seed, 0, 8);
    crate::seed::seed_torch(options.data_seed, &[0x5049_4354]);
    let parts = decompose(&model, &held_out, &start_noise(&held_out), MaskSource::Image);
    decomposition_grid(
        &options.out.join("decomposition.png"),
        &held_out,
        &parts,
        "COMET on multi-shapes (held out)",
    )?;
    let disentanglement = match &options.global {
        Some((comet, vae)) => Some(factors::disentanglement(comet, vae, options)?),
        None => None,
    };
    let cross_model = match options.global.as_ref().map(|(g, _)| g) {
        Some(path) => {
            let (donor_model, _) = Comet::load(path, tch::Device::Cpu)?;
            let name = path.display().to_string();
            Some(cross::cross_model_insertions(
                &model,
                &donor_model,
                &name,
                options.data_seed,
                64,
                &options.out,
            )?)
        }
        None => None,
    };
    let report = CometReport {
        model: options.objects.display().to_string(),
        segmentation,
        swaps: swaps.expect("the image masks ran"),
        disentanglement,
        cross_model,
        cross_swaps,
    };
    std::fs::write(options.out.join("comet.json"), serde_json::to_string_pretty(&report)?)?;
    std::fs::write(options.out.join("comet.md"), markdown(&report, options))?;
    Ok(report)
}

/// Swaps with donor components from the object model at `path`, written
/// as `cross-swaps.png`.
fn swaps_from(
    model: &Comet,
    batches: &[objects::Segmented],
    path: &Path,
    options: &CometOptions,
    progress: &dyn Progress,
) -> Result<CrossSwaps> {
    let (donor, _) = Comet::load(path, tch::Device::Cpu)?;
    let (d, m) = (&donor.config, &model.config);
    anyhow::ensure!(
        (d.channels, d.size) == (m.channels, m.size),
        "--cross {} draws {}×{}×{} images, the object model {}×{}×{}",
        path.display(),
        d.channels,
        d.size,
        d.size,
        m.channels,
        m.size,
        m.size
    );
    let donor_batches = segment_scenes(
        &donor,
        options.data_seed,
        options.images,
        options.batch,
        MaskSource::Image,
        progress,
    );
    let (swaps, pictures) = object_swaps(model, batches, &donor, &donor_batches);
    write_swap_picture(&options.out.join("cross-swaps.png"), &batches[0].images, &pictures[0])?;
    Ok(CrossSwaps {
        donor_model: path.display().to_string(),
        swaps,
    })
}

fn write_swap_picture(path: &Path, images: &Tensor, (swapped, truth): &(Tensor, Tensor)) -> Result<()> {
    let n = images.size()[0].min(8);
    let donors = images.roll([-1], [0]);
    let rows = vec![
        ("receiving".to_string(), images.narrow(0, 0, n)),
        ("donor".to_string(), donors.narrow(0, 0, n)),
        ("swapped".to_string(), swapped.narrow(0, 0, n)),
        ("truth".to_string(), truth.narrow(0, 0, n)),
    ];
    write_labelled_rows(path, &rows, "object swap: donor's object component into the receiving scene")
}

fn markdown(report: &CometReport, options: &CometOptions) -> String {
    let mut md = format!(
        "# COMET\n\nModel `{}`; {} held-out multi-shapes scenes (dataset seed {}).\n\n## Segmentation\n\n| masks at | ARI | foreground ARI | reconstruction PSNR (dB) |\n|---|---|---|---|\n",
        report.model, options.images, options.data_seed
    );
    for s in &report.segmentation {
        md += &format!("| {} | {:.3} | {:.3} | {:.2} |\n", s.masks_at, s.ari, s.foreground_ari, s.psnr);
    }
    let w = &report.swaps;
    md += &format!(
        "\nTarget: foreground ARI ≥ 0.92.\n\n## Object swaps\n\n{} swaps: moved object judged right {:.3} (target ≥ 0.90); swapped-scene PSNR {:.2} dB against the rendered truth, plain reconstruction {:.2} dB (target: within 2 dB).\n\n![decomposition](decomposition.png)\n\n![swaps](swaps.png)\n",
        w.swaps, w.judged_right, w.psnr, w.reconstruction_psnr
    );
    if let Some(d) = &report.disentanglement {
        md += &factors::markdown(d);
    }
    if let Some(c) = &report.cross_model {
        md += &cross::markdown(c);
    }
    if let Some(c) = &report.cross_swaps {
        let w = &c.swaps;
        md += &format!(
            "\n## Cross-model swaps\n\nAs the object swaps, but the moved object's component comes from `{}`, trained separately, and joins the object model's other components in one descent. {} swaps: moved object judged right {:.3}; swapped-scene PSNR {:.2} dB against the rendered truth, plain reconstruction {:.2} dB.\n\n![cross-model swaps](cross-swaps.png)\n",
            c.donor_model, w.swaps, w.judged_right, w.psnr, w.reconstruction_psnr
        );
    }
    md
}
