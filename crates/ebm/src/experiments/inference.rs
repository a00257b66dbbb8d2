//! Position inference (the compositional paper's Table 3 analogue): the
//! error of c* = argmin_c Σᵢ E(xᵢ | c) on fresh `shapes` scenes, on scenes
//! with grey clutter no model saw, and against the number of views (the
//! same scene under 1, 2, 4, 8 lights), beside the shapes judge — a
//! supervised CNN regressor — reading the same images. Energy maps on
//! two-object `multi-shapes` scenes show whether a model trained on one
//! object finds both.

use crate::data::shapes::{MultiShapes, Scene, Shapes};
use crate::energy::{ConceptSchema, Energy};
use crate::infer::{infer_concept, write_energy_maps, InferConfig};
use crate::judge::Judge;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;
use tch::Tensor;

/// `n` scenes of `shapes`, each rendered under `views` lights (its other
/// factors fixed), consecutively: view j of scene i takes the light of scene
/// n + i·views + j of the same stream (view 0 keeps its own).
pub fn scenes_under_lights(shapes: &Shapes, n: usize, views: usize) -> (Tensor, Vec<Scene>) {
    let (_, scenes) = shapes.batch(0, n);
    let rendered: Vec<Scene> = scenes
        .iter()
        .enumerate()
        .flat_map(|(i, scene)| {
            (0..views).map(move |j| Scene {
                light: if j == 0 {
                    scene.light
                } else {
                    shapes.scene((n + i * views + j) as u64).light
                },
                objects: scene.objects.clone(),
            })
        })
        .collect();
    let s = shapes.size as i64;
    let pixels: Vec<f32> = rendered.iter().flat_map(|v| v.render(shapes.size)).collect();
    (Tensor::from_slice(&pixels).view([rendered.len() as i64, 3, s, s]), rendered)
}

/// One estimator's mean position error (normalised image units) on a test set.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorRow {
    pub estimator: String,
    pub test_set: String,
    pub views: usize,
    pub mean_error: f64,
    /// Share of scenes within the judge's 0.1 position tolerance.
    pub within_tolerance: f64,
}

/// A position model to measure, under the name the report gives it.
pub struct PositionModel<'a> {
    pub name: String,
    /// File-name part of its pictures (`maps-<key>.png`).
    pub key: String,
    pub energy: &'a dyn Energy,
    pub schema: ConceptSchema,
}

fn errors(estimates: &[[f64; 2]], scenes: &[Scene], views: usize) -> (f64, f64) {
    let truth = scenes.iter().step_by(views).map(|s| s.objects.last().expect("an object"));
    let distances: Vec<f64> = estimates
        .iter()
        .zip(truth)
        .map(|(e, o)| ((e[0] - o.x).powi(2) + (e[1] - o.y).powi(2)).sqrt())
        .collect();
    let n = distances.len().max(1) as f64;
    (
        distances.iter().sum::<f64>() / n,
        distances.iter().filter(|&&d| d <= 0.1).count() as f64 / n,
    )
}

/// The judge's position estimate per scene, averaged over its views.
fn judge_positions(judge: &Judge, images: &Tensor, views: usize) -> Result<Vec<[f64; 2]>> {
    let head = judge
        .head_index("position")
        .ok_or_else(|| anyhow::anyhow!("the judge has no position head"))?;
    let out = tch::no_grad(|| judge.forward(images)).swap_remove(head);
    let mean = out.view([-1, views as i64, 2]).mean_dim(1, false, tch::Kind::Float);
    let flat: Vec<f32> = Vec::try_from(mean.contiguous().view([-1]))?;
    Ok(flat.chunks(2).map(|p| [p[0] as f64, p[1] as f64]).collect())
}

fn model_positions(model: &PositionModel, images: &Tensor, views: usize) -> Result<Vec<[f64; 2]>> {
    let config = InferConfig {
        views,
        ..InferConfig::default()
    };
    let inference = infer_concept(model.energy, &model.schema, images, &config)?;
    Ok(inference.values.iter().map(|v| [v[0], v[1]]).collect())
}

/// A test set: scenes of `shapes` read under each number of views.
pub struct TestSet {
    pub name: String,
    pub shapes: Shapes,
    pub views: Vec<usize>,
}

/// The default sets: fresh scenes under 1, 2, 4 and 8 lights, and scenes
/// with grey clutter no model saw.
pub fn standard_sets(seed: u64) -> Vec<TestSet> {
    let fresh = Shapes::new(crate::experiments::shapes::IMAGE_SIZE as usize, seed);
    let cluttered = Shapes {
        clutter: (1, 3),
        ..fresh.clone()
    };
    vec![
        TestSet {
            name: "fresh".into(),
            shapes: fresh,
            views: vec![1, 2, 4, 8],
        },
        TestSet {
            name: "clutter 1-3 (unseen)".into(),
            shapes: cluttered,
            views: vec![1],
        },
    ]
}

/// A supervised regressor (a judge with a position head), under its name.
pub struct Regressor<'a> {
    pub name: String,
    pub judge: &'a Judge,
    /// What it reads of the images (the view it was trained on).
    pub view: crate::energy::InputView,
}

/// Every (estimator, test set, views) row, and the pictures (energy maps on
/// the first set's scenes and on two-object scenes), into `out_dir`.
pub fn position_inference(
    models: &[PositionModel],
    regressors: &[Regressor],
    sets: &[TestSet],
    n: usize,
    out_dir: &Path,
) -> Result<Vec<ErrorRow>> {
    let mut rows = Vec::new();
    for set in sets {
        for &views in &set.views {
            let (images, scenes) = scenes_under_lights(&set.shapes, n, views);
            let mut push = |estimator: &str, estimates: Vec<[f64; 2]>| {
                let (mean_error, within_tolerance) = errors(&estimates, &scenes, views);
                rows.push(ErrorRow {
                    estimator: estimator.to_string(),
                    test_set: set.name.clone(),
                    views,
                    mean_error,
                    within_tolerance,
                });
            };
            for regressor in regressors {
                push(
                    &regressor.name,
                    judge_positions(regressor.judge, &regressor.view.apply(&images), views)?,
                );
            }
            for model in models {
                push(&model.name, model_positions(model, &images, views)?);
            }
        }
    }
    if let Some(first) = sets.first() {
        write_maps(models, &first.shapes, out_dir)?;
    }
    Ok(rows)
}

/// Eight one-object scenes of `shapes`, then eight two-object ones, for every model's maps.
fn write_maps(models: &[PositionModel], shapes: &Shapes, out_dir: &Path) -> Result<()> {
    let (one, _) = scenes_under_lights(shapes, 8, 1);
    let multi = MultiShapes {
        objects: (2, 2),
        ..MultiShapes::new(shapes.size, shapes.seed)
    };
    let (pixels, _) = multi.batch(0, 8);
    let s = shapes.size as i64;
    let all = Tensor::cat(&[one, Tensor::from_slice(&pixels).view([8, 3, s, s])], 0);
    for model in models {
        let inference = infer_concept(model.energy, &model.schema, &all, &InferConfig::default())?;
        let range = match &model.schema.kind {
            crate::energy::ConceptKind::Continuous { range, .. } => *range,
            _ => anyhow::bail!("{} is not a position model", model.name),
        };
        let file = out_dir.join(format!("maps-{}.png", model.key));
        write_energy_maps(&file, &all, &inference, 1, InferConfig::default().grid, range)?;
    }
    Ok(())
}

/// The rows as a Markdown table (estimators as rows, test sets × views as columns).
pub fn markdown(rows: &[ErrorRow]) -> String {
    let mut columns: Vec<(String, usize)> = Vec::new();
    let mut estimators: Vec<String> = Vec::new();
    for r in rows {
        if !columns.contains(&(r.test_set.clone(), r.views)) {
            columns.push((r.test_set.clone(), r.views));
        }
        if !estimators.contains(&r.estimator) {
            estimators.push(r.estimator.clone());
        }
    }
    let mut out = String::from("| estimator |");
    for (set, views) in &columns {
        out += &format!(" {set}, {views} view{} |", if *views == 1 { "" } else { "s" });
    }
    out += &format!("\n|---|{}\n", "---|".repeat(columns.len()));
    for e in &estimators {
        out += &format!("| {e} |");
        for (set, views) in &columns {
            match rows.iter().find(|r| &r.estimator == e && &r.test_set == set && r.views == *views) {
                Some(r) => out += &format!(" {:.4} ({:.0} %) |", r.mean_error, 100.0 * r.within_tolerance),
                None => out += " – |",
            }
        }
        out += "\n";
    }
    out
}
