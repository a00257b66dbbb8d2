//! Cross-model insertions, judged: every component of a multi-shapes
//! scene under the object model, plus the object component of a `shapes`
//! scene under the global-factor model, rebuilt in one descent. Our
//! scenes render from their labels, so the result has a ground truth: the
//! multi-shapes scene with the shapes object added in front (under the
//! receiving scene's light).

use super::factors::object_component;
use super::objects::{object_judged_right, render_scenes};
use crate::comet::decompose::psnr;
use crate::comet::descent::{rebuild, start_noise};
use crate::comet::Comet;
use crate::data::shapes::{MultiShapes, Scene, Shapes};
use crate::experiments::shapes::write_labelled_rows;
use crate::seed::seed_torch;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;

/// Stream of the insertions' slot draws and start noise.
const CROSS_NOISE: u64 = 0x4352_4F53;

#[derive(Clone, Debug, Serialize)]
pub struct CrossResult {
    /// The model whose object component was inserted.
    pub donor_model: String,
    pub insertions: usize,
    /// Share of inserted objects judged right (shape, colour, position
    /// within 0.1), by the object-swap judge.
    pub judged_right: f64,
    /// Mean PSNR (dB) of the recombined scene against the rendered truth.
    pub psnr: f64,
}

/// Inserts the object of `n` shapes scenes (dataset seed `data_seed`) into
/// as many multi-shapes scenes; writes `cross-model.png`.
pub fn cross_model_insertions(
    objects: &Comet,
    donor: &Comet,
    donor_name: &str,
    data_seed: u64,
    n: usize,
    out: &Path,
) -> Result<CrossResult> {
    anyhow::ensure!(
        (donor.config.channels, donor.config.size) == (objects.config.channels, objects.config.size),
        "the donor model draws {}×{}×{} images, the object model {}×{}×{}",
        donor.config.channels,
        donor.config.size,
        donor.config.size,
        objects.config.channels,
        objects.config.size,
        objects.config.size
    );
    let size = objects.config.size as usize;
    let scenes = MultiShapes::new(size, data_seed).batch(0, n).1;
    let singles = Shapes::new(size, data_seed).batch(0, n).1;
    let (receiving, donors) = (render_scenes(&scenes, size), render_scenes(&singles, size));
    // Before encoding: sampled slots draw from the generator.
    seed_torch(data_seed, &[CROSS_NOISE]);
    let parts = [
        (objects, objects.encode(&receiving).detach()),
        (donor, object_component(donor, &donors)),
    ];
    let together = rebuild(&parts, &start_noise(&receiving));
    let truths: Vec<Scene> = scenes
        .iter()
        .zip(&singles)
        .map(|(scene, single)| {
            let mut truth = scene.clone();
            truth.objects.extend(single.objects.iter().cloned());
            truth
        })
        .collect();
    let truth = render_scenes(&truths, size);
    let right = (0..n)
        .filter(|&i| {
            let inserted = singles[i].objects.last().expect("a shapes scene has its object");
            object_judged_right(&together.get(i as i64), &truth.get(i as i64), inserted, &truths[i], size)
        })
        .count();
    let psnrs = psnr(&together, &truth);
    let shown = (n as i64).min(8);
    let rows = vec![
        ("multi-shapes".to_string(), receiving.narrow(0, 0, shown)),
        ("shapes".to_string(), donors.narrow(0, 0, shown)),
        ("both models".to_string(), together.narrow(0, 0, shown)),
        ("truth".to_string(), truth.narrow(0, 0, shown)),
    ];
    write_labelled_rows(
        &out.join("cross-model.png"),
        &rows,
        "cross-model: the object model's components plus the shapes model's object component",
    )?;
    Ok(CrossResult {
        donor_model: donor_name.to_string(),
        insertions: n,
        judged_right: right as f64 / n.max(1) as f64,
        psnr: psnrs.iter().sum::<f64>() / psnrs.len().max(1) as f64,
    })
}

pub fn markdown(result: &CrossResult) -> String {
    format!(
        "\n## Cross-model insertions\n\nEvery component of a multi-shapes scene under the object model, plus the object component (smallest mask share) of a `shapes` scene under `{}`, rebuilt in one descent; judged against the multi-shapes scene rendered with that object added in front. {} insertions: inserted object judged right {:.3}; PSNR {:.2} dB against the rendered truth.\n\n![cross-model](cross-model.png)\n",
        result.donor_model, result.insertions, result.judged_right, result.psnr
    )
}
