//! Global factors on `shapes`: MCC, MIG and DCI of COMET's latents and of a
//! β-VAE's means against the known factors; and a cross-model
//! recombination picture (components of the object model and the
//! global-factor model summed in one descent).

use super::CometOptions;
use crate::comet::beta_vae::BetaVae;
use crate::comet::data::CometData;
use crate::comet::Comet;
use crate::judge::disentanglement::{dci, mcc, mig, Dci, Matrix};
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// Histogram bins per latent for MIG.
const MIG_BINS: usize = 20;
/// Factors with an order (MCC correlates linearly, so shape and colour
/// indices are left out of it; MIG and DCI take every factor).
const ORDERED: [&str; 6] = ["x", "y", "size", "light", "light cos", "light sin"];

#[derive(Clone, Debug, Serialize)]
pub struct ScoreRow {
    pub model: String,
    pub latent_dims: usize,
    pub mcc: f64,
    pub mig: f64,
    pub dci: Dci,
}

#[derive(Clone, Debug, Serialize)]
pub struct DisentanglementReport {
    pub images: usize,
    pub factors: Vec<String>,
    pub rows: Vec<ScoreRow>,
}

fn to_rows(t: &Tensor) -> (Vec<f64>, usize) {
    let t = t.to_kind(Kind::Double).to_device(tch::Device::Cpu).flatten(1, -1);
    let cols = t.size()[1] as usize;
    (Vec::<f64>::try_from(t.flatten(0, -1)).unwrap_or_default(), cols)
}

/// Scores `latents` (N × D) against `factors` (N × F, names given); DCI
/// fits on the first half and scores on the second.
fn score(model: &str, latents: &[f64], dims: usize, factors: &[f64], names: &[&str]) -> ScoreRow {
    let n = latents.len() / dims;
    let f = names.len();
    let ordered: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| ORDERED.contains(n))
        .map(|(i, _)| i)
        .collect();
    let ordered_values: Vec<f64> = (0..n).flat_map(|i| ordered.iter().map(move |&j| factors[i * f + j])).collect();
    let half = n / 2;
    let (lat, fac) = (Matrix::new(latents, n, dims), Matrix::new(factors, n, f));
    ScoreRow {
        model: model.into(),
        latent_dims: dims,
        mcc: mcc(lat, Matrix::new(&ordered_values, n, ordered.len())),
        mig: mig(lat, fac, MIG_BINS),
        dci: dci(
            Matrix::new(&latents[..half * dims], half, dims),
            Matrix::new(&factors[..half * f], half, f),
            Matrix::new(&latents[half * dims..], n - half, dims),
            Matrix::new(&factors[half * f..], n - half, f),
        ),
    }
}

/// Encodes `options.images` held-out `shapes` scenes with COMET and each
/// β-VAE and scores them.
pub fn disentanglement(comet: &Path, vaes: &[PathBuf], options: &CometOptions) -> Result<DisentanglementReport> {
    let (global, _) = Comet::load(comet, tch::Device::Cpu)?;
    let size = global.config.size as usize;
    let n = options.images;
    let images = CometData::Shapes.images(size, options.data_seed, 0, n);
    let factors = CometData::Shapes
        .factors(size, options.data_seed, 0, n)
        .expect("shapes has factors");
    let names = factors.names.clone();
    let mut rows = Vec::new();
    let chunks = |encode: &dyn Fn(&Tensor) -> Tensor| {
        let parts: Vec<Tensor> = (0..n as i64)
            .step_by(options.batch)
            .map(|s| tch::no_grad(|| encode(&images.narrow(0, s, (options.batch as i64).min(n as i64 - s)))))
            .collect();
        to_rows(&Tensor::cat(&parts, 0))
    };
    let (latents, dims) = chunks(&|x| global.encode(x));
    rows.push(score("COMET", &latents, dims, &factors.values, &names));
    for path in vaes {
        let (baseline, _) = BetaVae::load(path)?;
        let (latents, dims) = chunks(&|x| baseline.encode(x).0);
        let name = format!("β-VAE (β = {})", baseline.config.beta);
        rows.push(score(&name, &latents, dims, &factors.values, &names));
    }
    Ok(DisentanglementReport {
        images: n,
        factors: names.iter().map(|s| s.to_string()).collect(),
        rows,
    })
}

/// Each image's component with the smallest total mask share (the object,
/// where the other components explain the floor and light), `[B, 1, latent]`:
/// adding the floor twice would double the floor's gradient.
pub(super) fn object_component(model: &Comet, images: &Tensor) -> Tensor {
    let z = model.encode(images).detach();
    let share = crate::comet::decompose::component_masks(model, images, &z).sum_dim_intlist(&[2i64, 3][..], false, Kind::Float);
    let smallest = share.argmin(1, true);
    let index = smallest.unsqueeze(-1).expand([-1, 1, z.size()[2]], false);
    z.gather(1, &index, false)
}

pub fn markdown(report: &DisentanglementReport) -> String {
    let mut md = format!(
        "\n## Global factors on shapes\n\n{} held-out scenes; factors {}. MCC over the ordered factors ({}); MIG with {MIG_BINS} bins; DCI by ridge regression (fit on the first half, scored on the second).\n\n| model | latent dims | MCC | MIG | DCI disentanglement | completeness | informativeness |\n|---|---|---|---|---|---|---|\n",
        report.images,
        report.factors.join(", "),
        ORDERED.join(", ")
    );
    for r in &report.rows {
        md += &format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            r.model, r.latent_dims, r.mcc, r.mig, r.dci.disentanglement, r.dci.completeness, r.dci.informativeness
        );
    }
    md += "\nTargets: COMET MCC ≥ 0.80 and MIG above the β-VAE's (above every β-VAE row here).\n";
    md
}
