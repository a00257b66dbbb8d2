//! Scoring an image set a user brings with any trained energy: the energy of
//! every image, lowest-energy classification against labels, and for each
//! other set the AUROC of −E against it (IGEBM's classification and OOD
//! detection on one's own data).
//!
//! An unconditional model scores E(x). A conditional one scores
//! min over codes of E(x | c) — every category of a categorical concept, a
//! grid over a continuous one — so its OOD score is −min_c E(x | c).

use super::candidates::{candidate_codes, candidate_energies};
use crate::energy::{ConceptKind, ConceptSchema, Energy};
use crate::judge::metrics::auroc;
use anyhow::{bail, Result};
use serde::Serialize;
use tch::{Kind, Tensor};

/// Rows per forward pass of an unconditional model, to bound memory.
const CHUNK: i64 = 256;

/// Energies of one image set.
pub struct SetEnergies {
    /// `[N]`: E(x), or min over codes of E(x | c).
    pub energy: Vec<f64>,
    /// `[N, K]` energies under each candidate code (conditional models).
    pub per_code: Option<Tensor>,
}

/// Energies of `x` under `energy`; `schema` is the model's concept (None:
/// unconditional), `grid` the points per component of a continuous one.
pub fn set_energies(energy: &dyn Energy, schema: Option<&ConceptSchema>, x: &Tensor, grid: usize) -> SetEnergies {
    match schema {
        None => {
            let n = x.size()[0];
            let parts: Vec<Tensor> = (0..n)
                .step_by(CHUNK as usize)
                .map(|start| tch::no_grad(|| energy.energy(&x.narrow(0, start, CHUNK.min(n - start)), None)))
                .collect();
            SetEnergies {
                energy: to_vec(&Tensor::cat(&parts, 0)),
                per_code: None,
            }
        }
        Some(schema) => {
            let candidates = candidate_codes(schema, grid);
            let per_code = candidate_energies(energy, x, &candidates.codes).to_device(tch::Device::Cpu);
            SetEnergies {
                energy: to_vec(&per_code.amin(-1, false)),
                per_code: Some(per_code),
            }
        }
    }
}

fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_device(tch::Device::Cpu).to_kind(Kind::Double)).unwrap_or_default()
}

#[derive(Clone, Debug, Serialize)]
pub struct Classification {
    pub images: usize,
    pub accuracy: f64,
    /// Accuracy per true category (NaN where a category has no image).
    pub per_category: Vec<(String, f64)>,
    /// The lowest-energy category of each image.
    pub predicted: Vec<i64>,
}

/// Lowest-energy classification of a set scored under a categorical concept.
pub fn classify(scores: &SetEnergies, schema: &ConceptSchema, labels: &[i64]) -> Result<Classification> {
    let (ConceptKind::Categorical { categories }, Some(per_code)) = (&schema.kind, &scores.per_code) else {
        bail!(
            "classification needs a model of a categorical concept; '{}' is continuous",
            schema.name
        );
    };
    let n = per_code.size()[0] as usize;
    if labels.len() != n {
        bail!(
            "there are {} labels for {n} images; give one label per image, in image order",
            labels.len()
        );
    }
    let predicted = Vec::<i64>::try_from(per_code.argmin(-1, false))?;
    let hits = |filter: &dyn Fn(i64) -> bool| {
        let chosen: Vec<bool> = (0..n).filter(|&i| filter(labels[i])).map(|i| predicted[i] == labels[i]).collect();
        chosen.iter().filter(|&&h| h).count() as f64 / chosen.len() as f64
    };
    Ok(Classification {
        images: n,
        accuracy: hits(&|_| true),
        per_category: categories
            .iter()
            .enumerate()
            .map(|(k, name)| (name.clone(), hits(&|l| l == k as i64)))
            .collect(),
        predicted,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct OodScore {
    pub set: String,
    pub images: usize,
    /// P(−E of a random in-set image > −E of a random image of this set).
    pub auroc: f64,
    pub mean_energy: f64,
}

/// The AUROC of −E with `inside` as the positives against `outside`.
pub fn ood_score(set: &str, inside: &SetEnergies, outside: &SetEnergies) -> OodScore {
    let negate = |e: &[f64]| e.iter().map(|v| -v).collect::<Vec<f64>>();
    OodScore {
        set: set.into(),
        images: outside.energy.len(),
        auroc: auroc(&negate(&inside.energy), &negate(&outside.energy)),
        mean_energy: mean(&outside.energy),
    }
}

/// The mean of the finite values (NaN when there are none).
pub fn mean(values: &[f64]) -> f64 {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    finite.iter().sum::<f64>() / finite.len() as f64
}

/// One row per image: its index, energy, and energy under each code.
pub fn energies_csv(scores: &SetEnergies, code_names: &[String], labels: Option<&[i64]>) -> String {
    let mut header = vec!["index".to_string(), "energy".to_string()];
    header.extend(code_names.iter().map(|c| format!("energy|{c}")));
    if labels.is_some() {
        header.extend(["label".to_string(), "predicted".to_string()]);
    }
    let per_code = scores
        .per_code
        .as_ref()
        .map(|t| Vec::<Vec<f64>>::try_from(t.to_kind(Kind::Double)).unwrap_or_default());
    let mut out = header.join(",") + "\n";
    for (i, e) in scores.energy.iter().enumerate() {
        let mut row = vec![i.to_string(), format!("{e}")];
        if let Some(rows) = &per_code {
            row.extend(rows[i].iter().map(|v| format!("{v}")));
        }
        if let (Some(labels), Some(rows)) = (labels, &per_code) {
            let best = rows[i].iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(k, _)| k);
            row.extend([labels[i].to_string(), best.to_string()]);
        }
        out += &(row.join(",") + "\n");
    }
    out
}

/// Names of the candidate codes of a concept, as CSV column names.
pub fn code_names(schema: Option<&ConceptSchema>, grid: usize) -> Vec<String> {
    match schema.map(|s| (&s.kind, s)) {
        None => Vec::new(),
        Some((ConceptKind::Categorical { categories }, _)) => categories.clone(),
        Some((ConceptKind::Continuous { .. }, s)) => candidate_codes(s, grid)
            .values
            .iter()
            .map(|v| v.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" "))
            .collect(),
    }
}

/// What [`score_sets`] is given: the in-set, its labels, and named OOD sets.
pub struct ScoreInputs {
    pub images: Tensor,
    pub labels: Option<Vec<i64>>,
    pub ood: Vec<(String, Tensor)>,
    /// Grid points per component of a continuous concept.
    pub grid: usize,
}

#[derive(Serialize)]
pub struct ScoreReport {
    pub images: usize,
    pub mean_energy: f64,
    pub conditional: bool,
    pub classification: Option<Classification>,
    pub ood: Vec<OodScore>,
    /// The files written beside `score.json`.
    pub files: Vec<String>,
}

/// Scores every set, writes `energies.csv` (and `energies-<set>.csv`,
/// `hist-<set>.png` per OOD set) into `out`, then `score.json`.
pub fn score_sets(energy: &dyn Energy, schema: Option<&ConceptSchema>, inputs: &ScoreInputs, out: &std::path::Path) -> Result<ScoreReport> {
    let names = code_names(schema, inputs.grid);
    let inside = set_energies(energy, schema, &inputs.images, inputs.grid);
    let classification = match (&inputs.labels, schema) {
        (Some(labels), Some(schema)) => Some(classify(&inside, schema, labels)?),
        (Some(_), None) => bail!("--labels needs a conditional model of a categorical concept; this model is unconditional"),
        (None, _) => None,
    };
    let write = |file: &str, text: String| crate::io::write_atomically(&out.join(file), text.as_bytes());
    write("energies.csv", energies_csv(&inside, &names, inputs.labels.as_deref()))?;
    let mut files = vec!["energies.csv".to_string()];
    let mut ood = Vec::new();
    for (set, images) in &inputs.ood {
        let outside = set_energies(energy, schema, images, inputs.grid);
        let slug: String = set.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let (csv, png) = (format!("energies-{slug}.csv"), format!("hist-{slug}.png"));
        write(&csv, energies_csv(&outside, &names, None))?;
        let negate = |e: &[f64]| e.iter().map(|v| -v).collect::<Vec<f64>>();
        crate::viz::score_histogram(
            &out.join(&png),
            &[("in-set", &negate(&inside.energy)), (set.as_str(), &negate(&outside.energy))],
            &format!("−E: in-set vs {set}"),
        )?;
        ood.push(ood_score(set, &inside, &outside));
        files.extend([csv, png]);
    }
    let report = ScoreReport {
        images: inside.energy.len(),
        mean_energy: mean(&inside.energy),
        conditional: schema.is_some(),
        classification,
        ood,
        files,
    };
    write("score.json", serde_json::to_string_pretty(&report)? + "\n")?;
    Ok(report)
}
