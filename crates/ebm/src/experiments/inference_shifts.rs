//! Position inference under distribution shift (the compositional paper's
//! Table 3 analogue). An energy-based position model and a supervised CNN
//! regressor train on the same restricted scenes (four colours, squares and
//! circles, small objects, dim lights), the regressor for the same wall time
//! as the energy. Both then read fresh scenes of that set and sets shifted
//! along one factor each, which neither saw: the other colours, triangles,
//! large objects, bright lights, grey clutter.

use super::inference::{markdown, position_inference, ErrorRow, PositionModel, Regressor, TestSet};
use super::shapes::IMAGE_SIZE;
use crate::data::shapes::{Shapes, ShapesFilter, LIGHT_RANGE, SHAPE_NAMES};
use crate::data::shapes_concept::{ShapesConcept, ShapesConceptData};
use crate::data::viewed::ViewedSource;
use crate::energy::view::Viewed;
use crate::energy::{Architecture, InputView};
use crate::infer::{DenoisingError, DenoisingErrorConfig};
use crate::judge::network::JudgeConfig;
use crate::judge::tasks::{Bar, JudgeTask, Labelled, ShapesTask};
use crate::judge::train::{train_judge, JudgeTraining};
use crate::judge::Judge;
use crate::progress::Progress;
use crate::sample::ChainStart;
use crate::train::recipe::{recipe, Overrides};
use crate::train::{Objective, Trainer};
use anyhow::Result;
use std::path::PathBuf;
use std::time::Instant;

pub struct ShiftOptions {
    /// Training steps of the energy; the regressor gets its wall time.
    pub steps: u64,
    /// Scenes per test set.
    pub n: usize,
    /// Training seed (data and initialisation).
    pub seed: u64,
    /// Seed of the test scenes (apart from the training seed).
    pub test_seed: u64,
    pub out: PathBuf,
    /// Where the trained energy and regressor are kept and looked for (by
    /// steps and seed), so a rerun measures them again without training.
    pub models: PathBuf,
    /// The second EBM row: the denoiser's error averaged over noise levels.
    pub denoising_error: DenoisingErrorConfig,
    /// What both estimators read of the images: the energy is trained on,
    /// and reads test scenes through, this view; so is the regressor.
    pub view: InputView,
}

/// File-name part of a cached model: nothing for RGB (older caches hold).
fn view_tag(view: InputView) -> String {
    match view {
        InputView::Rgb => String::new(),
        other => format!("{}-", crate::names::Named::name(other)),
    }
}

/// Light intensities split at the middle of the spec's range.
const LIGHT_SPLIT: f64 = 1.0;
/// Half-sizes split at 0.14.
const SIZE_SPLIT: f64 = 0.14;

/// What both estimators train on: red, green, blue and yellow squares and
/// circles, half-size 0.10–0.14, light 0.85–1.0.
pub fn base_filter() -> ShapesFilter {
    ShapesFilter {
        colours: vec![0, 1, 2, 3],
        shapes: vec![0, 1],
        r: (crate::data::shapes::SIZE_RANGE.0, SIZE_SPLIT),
        light: (LIGHT_RANGE.0, LIGHT_SPLIT),
        ..ShapesFilter::default()
    }
}

/// The base set's fresh scenes (under 1, 2, 4 and 8 lights of its range),
/// then one set per shifted factor (1 view).
pub fn shifted_sets(seed: u64) -> Vec<TestSet> {
    let base = base_filter();
    let shapes = |filter: ShapesFilter, clutter: (usize, usize)| Shapes {
        filter,
        clutter,
        ..Shapes::new(IMAGE_SIZE as usize, seed)
    };
    let shifted = |name: &str, filter: ShapesFilter| TestSet {
        name: name.into(),
        shapes: shapes(filter, (0, 0)),
        views: vec![1],
    };
    vec![
        TestSet {
            name: "fresh".into(),
            shapes: shapes(base.clone(), (0, 0)),
            views: vec![1, 2, 4, 8],
        },
        shifted(
            "colours (magenta, cyan, orange, purple)",
            ShapesFilter {
                colours: vec![4, 5, 6, 7],
                ..base.clone()
            },
        ),
        shifted(
            &format!("shape ({})", SHAPE_NAMES[2]),
            ShapesFilter {
                shapes: vec![2],
                ..base.clone()
            },
        ),
        shifted(
            "size (0.14-0.18)",
            ShapesFilter {
                r: (SIZE_SPLIT, crate::data::shapes::SIZE_RANGE.1),
                ..base.clone()
            },
        ),
        shifted(
            "light (1.0-1.15)",
            ShapesFilter {
                light: (LIGHT_SPLIT, LIGHT_RANGE.1),
                ..base.clone()
            },
        ),
        TestSet {
            name: "clutter 1-3".into(),
            shapes: shapes(base, (1, 3)),
            views: vec![1],
        },
    ]
}

/// The energy: a position denoiser (the recipe of `models/shapes-denoise`)
/// on the base set. Returns it with its training seconds.
fn train_energy(options: &ShiftOptions, progress: &dyn Progress) -> Result<(Box<dyn crate::energy::Network>, f64)> {
    let file = format!(
        "denoiser-{}{}steps-seed{}.safetensors",
        view_tag(options.view),
        options.steps,
        options.seed
    );
    let (network, _, seconds) = super::cached_model(&options.models.join(file), || {
        let mut r = recipe("shapes-pos", options.steps, options.seed)?;
        r.apply(&Overrides {
            objective: Some(Objective::Denoise),
            batch_size: Some(64),
            adam_beta1: Some(0.9),
            lr: Some(1e-3),
            ..Overrides::default()
        })?;
        r.config.checkpoint_every = 0;
        match &mut r.architecture {
            Architecture::Denoiser(d) => d.channels = options.view.channels(d.channels),
            _ => anyhow::bail!("the shapes-pos recipe with the denoise objective should build a denoiser"),
        }
        let data = ViewedSource {
            source: ShapesConceptData::new(
                ShapesConcept::Pos,
                IMAGE_SIZE as usize,
                options.seed,
                base_filter(),
                ChainStart::Background,
            )?,
            view: options.view,
        };
        tch::manual_seed(options.seed as i64);
        let mut trainer = Trainer::new(r.architecture.build(tch::Device::Cpu), &data, r.config, None)?;
        let seconds = trainer.run(progress)?.seconds;
        Ok((trainer.averaged_network(), trainer.card(), seconds))
    })?;
    Ok((network, seconds))
}

/// The regressor for `seconds` of training (kept under `options.models`),
/// with its steps and seconds.
fn train_regressor(options: &ShiftOptions, seconds: f64, progress: &dyn Progress) -> Result<(Judge, u64, f64)> {
    let path = options.models.join(format!(
        "regressor-{}{}steps-seed{}.safetensors",
        view_tag(options.view),
        options.steps,
        options.seed
    ));
    if path.exists() {
        let (judge, card) = Judge::load(&path)?;
        let number = |key: &str| card.metrics[key].as_f64().unwrap_or(f64::NAN);
        return Ok((judge, number("steps") as u64, number("seconds")));
    }
    let task = PositionTask(
        ShapesTask {
            data: Shapes {
                filter: base_filter(),
                ..Shapes::new(IMAGE_SIZE as usize, options.seed)
            },
        },
        options.view,
    );
    let batch = 64;
    let training = JudgeTraining {
        steps: regressor_steps(&task, batch, seconds)?,
        batch,
        lr: 1e-3,
        seed: options.seed,
        eval_examples: 256,
    };
    let (regressor, report) = train_judge(&task, &training, progress)?;
    let metrics = serde_json::json!({ "steps": training.steps, "seconds": report.seconds, "scores": report.scores });
    std::fs::create_dir_all(&options.models).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", options.models.display()))?;
    regressor.save(&path, task.describe(), metrics)?;
    Ok((regressor, training.steps, report.seconds))
}

/// The baseline's task: the shapes judge's network and position head
/// (its first), on the base set seen through a view.
struct PositionTask(ShapesTask, InputView);

impl PositionTask {
    fn position_only(&self, mut labelled: Labelled) -> Labelled {
        labelled.targets.truncate(1);
        labelled.images = self.1.apply(&labelled.images);
        labelled
    }
}

impl JudgeTask for PositionTask {
    fn name(&self) -> &'static str {
        "position regressor"
    }
    fn config(&self) -> JudgeConfig {
        let mut config = self.0.config();
        config.heads.truncate(1);
        config.channels = self.1.channels(config.channels);
        config
    }
    fn train_batch(&self, step: u64, batch: usize) -> Labelled {
        self.position_only(self.0.train_batch(step, batch))
    }
    fn eval_set(&self, n: usize) -> Labelled {
        self.position_only(self.0.eval_set(n))
    }
    fn bars(&self) -> Vec<Bar> {
        Vec::new()
    }
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "dataset": "shapes", "filter": self.0.data.filter, "seed": self.0.data.seed, "view": crate::names::Named::name(self.1) })
    }
}

/// Steps of the regressor that fill `seconds`, from a timed trial of a few steps.
fn regressor_steps(task: &PositionTask, batch: usize, seconds: f64) -> Result<u64> {
    let trial = JudgeTraining {
        steps: 10,
        batch,
        lr: 1e-3,
        seed: 0,
        eval_examples: 1,
    };
    let started = Instant::now();
    train_judge(task, &trial, &crate::progress::Quiet)?;
    let per_step = started.elapsed().as_secs_f64() / trial.steps as f64;
    Ok(((seconds / per_step).round() as u64).max(1))
}

/// The shifted table: rows, `report.json`, `table.md` and energy maps in `out`.
pub fn run(options: &ShiftOptions, progress: &dyn Progress) -> Result<Vec<ErrorRow>> {
    options
        .view
        .require_spatial("--view: the position model")
        .map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&options.out).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", options.out.display()))?;
    let (energy, energy_seconds) = train_energy(options, progress)?;
    let (regressor, steps, regressor_seconds) = train_regressor(options, energy_seconds, progress)?;
    let schema = ShapesConcept::Pos.schema();
    let denoiser = energy
        .as_denoiser()
        .ok_or_else(|| anyhow::anyhow!("the position energy is not a denoiser"))?;
    let error = DenoisingError::new(denoiser, &options.denoising_error)?;
    let viewed_energy = Viewed {
        energy: energy.as_ref(),
        view: options.view,
    };
    let viewed_error = Viewed {
        energy: &error,
        view: options.view,
    };
    let seen = match options.view {
        InputView::Rgb => String::new(),
        view => format!(" (reads the {} view)", crate::names::Named::name(view)),
    };
    let models = [
        PositionModel {
            name: format!("EBM: position denoiser{seen}, {} steps ({:.0} s)", options.steps, energy_seconds),
            key: "denoiser".into(),
            energy: &viewed_energy,
            schema: schema.clone(),
        },
        PositionModel {
            name: format!(
                "EBM: the same denoiser's error over {} levels (σ^{} weights)",
                options.denoising_error.levels, options.denoising_error.sigma_power
            ),
            key: "denoising-error".into(),
            energy: &viewed_error,
            schema,
        },
    ];
    let regressors = [Regressor {
        name: format!("CNN regressor{seen}, {} steps ({:.0} s)", steps, regressor_seconds),
        judge: &regressor,
        view: options.view,
    }];
    let rows = position_inference(&models, &regressors, &shifted_sets(options.test_seed), options.n, &options.out)?;
    let json = serde_json::json!({
        "scenes_per_set": options.n,
        "seed": options.seed,
        "test_seed": options.test_seed,
        "train_filter": base_filter(),
        "view": crate::names::Named::name(options.view),
        "energy": { "steps": options.steps, "seconds": energy_seconds },
        "denoising_error": {
            "levels": options.denoising_error.levels,
            "range": options.denoising_error.range,
            "sigma_power": options.denoising_error.sigma_power,
            "noise_seed": options.denoising_error.seed,
        },
        "regressor": { "steps": steps, "seconds": regressor_seconds },
        "rows": rows,
    });
    crate::io::write_atomically(&options.out.join("report.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    crate::io::write_atomically(&options.out.join("table.md"), markdown(&rows).as_bytes())?;
    Ok(rows)
}
