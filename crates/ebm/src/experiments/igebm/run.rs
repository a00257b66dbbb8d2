//! `ebm experiment igebm-mnist`: trains the three models and runs every
//! ability, writing JSON, Markdown and PNGs into the output directory.

use super::classify::{accuracy, all_digits, judge_digits, predict, sample_each_digit, Refinement};
use super::continual::{split_mnist, task_config, SplitMethod};
use super::ood::{evaluate_ood, ood_benchmark};
use super::report::{check_targets, write_report, IgebmReport, ModelTraining, OodTable, Scored};
use super::restore::{cross_class_accuracy, cross_class_picture, evaluate_restoration, nearest_neighbour_inpainting};
use super::robustness::{plot_robustness, robustness_curves, train_cnn_baseline, Norm};
use super::{mnist_architecture, mnist_config, mnist_langevin, restore_langevin, train_model, Budget, DATA_NOISE, HYBRID_CE_WEIGHT};
use crate::data::mnist::load_digits_csv;
use crate::data::mnist_source::{labelled_tensors, MnistData};
use crate::energy::{Energy, Network};
use crate::experiments::shapes::write_grid;
use crate::judge::tasks::MnistTask;
use crate::judge::Judge;
use crate::sample::LangevinConfig;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::Tensor;

pub struct IgebmOptions {
    pub quick: bool,
    pub out: PathBuf,
    pub seed: u64,
    pub mnist_dir: PathBuf,
    pub digits_csv: PathBuf,
    pub judge: PathBuf,
    /// Evaluate the three checkpoints `<dir>/{uncond,cond-cd,cond-hybrid}.safetensors`
    /// instead of training them (the split-MNIST and CNN baselines still train).
    pub models: Option<PathBuf>,
}

/// A trained model and its name in the tables.
struct Model {
    name: &'static str,
    network: Box<dyn Network>,
    conditional: bool,
}

fn say(message: &str) {
    eprintln!("[igebm-mnist] {message}");
}

pub fn run(options: &IgebmOptions, progress: &dyn crate::progress::Progress) -> Result<IgebmReport> {
    let started = Instant::now();
    let budget = if options.quick { Budget::quick() } else { Budget::full() };
    let out = &options.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create the output directory {}", out.display()))?;
    let task = MnistTask::load(&options.mnist_dir, options.seed)
        .context("loading MNIST (set --mnist-dir to the folder with the four IDX files)")?;
    let small_digits = load_digits_csv(&options.digits_csv).context("loading the 8×8 digits (set --digits-csv)")?;
    let (judge, _) =
        Judge::load(&options.judge).context("loading the MNIST judge (set --judge, or train one with `ebm judge train mnist`)")?;
    let (test_x, test_y) = test_tensors(&task, &budget);
    let test_count = test_x.size()[0];

    let (models, training) = match &options.models {
        Some(dir) => load_models(dir)?,
        None => train_models(&task, &budget, options.seed, out, progress)?,
    };
    let (generator, hybrid) = (&models[1], &models[2]);
    let mut pictures = Vec::new();

    say("sampling and classifying");
    let mut generation = Vec::new();
    let sampler = mnist_langevin(budget.sample_steps);
    for model in models.iter().filter(|m| m.conditional) {
        let file = format!("samples-{}.png", model.name);
        let (samples, asked) = conditional_grid(
            model.network.as_ref(),
            budget.samples_per_class,
            &sampler,
            options.seed,
            &out.join(&file),
            model.name,
        )?;
        let value = accuracy(&judge_digits(&judge, &samples), &asked);
        let what = format!(
            "{} per digit, {} steps from dark noise (u³)",
            budget.samples_per_class, budget.sample_steps
        );
        generation.push(Scored {
            model: model.name.into(),
            what,
            value,
        });
        pictures.push(file);
    }
    unconditional_grid(models[0].network.as_ref(), &sampler, &out.join("samples-uncond.png"), options.seed)?;
    pictures.push("samples-uncond.png".into());

    let refine = Refinement {
        steps: budget.refine_steps,
        radius: 0.1,
        langevin: mnist_langevin(1),
    };
    let mut classification = Vec::new();
    for model in models.iter().filter(|m| m.conditional) {
        let (x, y) = (
            test_x.narrow(0, 0, budget.test_images.min(test_count)),
            test_y.narrow(0, 0, budget.test_images.min(test_count)),
        );
        let plain = accuracy(&predict(model.network.as_ref(), &x, &all_digits(), None), &y);
        classification.push(Scored {
            model: model.name.into(),
            what: format!("lowest energy, {} test digits", x.size()[0]),
            value: plain,
        });
        let n = budget.refine_images.min(test_count);
        let refined = accuracy(
            &predict(model.network.as_ref(), &x.narrow(0, 0, n), &all_digits(), Some(&refine)),
            &y.narrow(0, 0, n),
        );
        let what = format!("after {} Langevin steps per label (box 0.1), {n} test digits", refine.steps);
        classification.push(Scored {
            model: model.name.into(),
            what,
            value: refined,
        });
    }

    say("OOD");
    let (positives, sets) = ood_benchmark(&test_x, &small_digits, budget.ood_images, options.seed);
    let mut ood = Vec::new();
    for model in &models {
        let rows = evaluate_ood(
            model.network.as_ref(),
            model.conditional,
            &positives,
            &sets,
            out,
            &format!("ood-{}", model.name),
        )?;
        let mean = rows.iter().map(|r| r.auroc).sum::<f64>() / rows.len() as f64;
        ood.push(OodTable {
            model: model.name.into(),
            rows,
            mean,
        });
    }

    say("restoration");
    let restorer = restore_langevin(budget.restore_steps);
    let n = budget.restore_images.min(test_count);
    let (restore_x, restore_y) = (test_x.narrow(0, 0, n), test_y.narrow(0, 0, n));
    let mut restoration = evaluate_restoration(
        generator.network.as_ref(),
        &judge,
        &restore_x,
        &restore_y,
        &restorer,
        options.seed,
        Some((&out.join("restoration.png"), 10)),
    )?;
    pictures.push("restoration.png".into());
    let (train_x, _) = labelled_tensors(&task.train, &(0..task.train.len()).collect::<Vec<_>>());
    restoration.extend(nearest_neighbour_inpainting(&train_x, &judge, &restore_x, &restore_y, &[1, 20]));
    // Mapping a digit into another moves far: the training sampler (λ = 20,
    // clipped) does it better than the restorer (88.6 % against 70.7 %
    // judged, hybrid model of the cd7d4cf full run, 60 steps).
    let mapper = mnist_langevin(budget.restore_steps);
    cross_class_picture(
        hybrid.network.as_ref(),
        &one_per_digit(&test_x, &test_y),
        &mapper,
        &out.join("cross-class.png"),
    )?;
    pictures.push("cross-class.png".into());
    let sources = test_x.narrow(0, 0, budget.refine_images.min(test_count) / 10);
    let cross_class = Scored {
        model: hybrid.name.into(),
        what: format!("{} test digits × 10 digits, {} steps", sources.size()[0], mapper.steps),
        value: cross_class_accuracy(hybrid.network.as_ref(), &judge, &sources, &mapper),
    };

    say("split-MNIST");
    let split_n = budget.split_test_images.min(test_count);
    let (split_x, split_y) = (test_x.narrow(0, 0, split_n), test_y.narrow(0, 0, split_n));
    let split_mnist = [
        (SplitMethod::AllWeights, budget.split_steps_per_task),
        (SplitMethod::FrozenShared, budget.split_frozen_steps_per_task),
    ]
    .into_iter()
    .map(|(method, steps)| {
        let config = task_config(steps, budget.batch_size, budget.split_langevin_steps, options.seed);
        split_mnist(&task.train, &split_x, &split_y, &config, &budget.split_seeds, method)
    })
    .collect::<Result<Vec<_>>>()?;

    say("adversarial robustness");
    let cnn = train_cnn_baseline(&task, budget.hybrid_steps, budget.batch_size, options.seed)?;
    let n = budget.pgd_images.min(test_count);
    let budgets: Vec<(Norm, f64)> = [0.0, 0.05, 0.1, 0.2, 0.3]
        .iter()
        .map(|&e| (Norm::Linf, e))
        .chain([0.5, 1.0, 2.0, 3.0].iter().map(|&e| (Norm::L2, e)))
        .collect();
    let robustness = robustness_curves(
        hybrid.network.as_ref(),
        &cnn,
        &test_x.narrow(0, 0, n),
        &test_y.narrow(0, 0, n),
        &budgets,
        budget.pgd_steps,
        &refine,
    );
    pictures.extend(plot_robustness(&robustness, out, "robustness")?);

    let mut report = IgebmReport {
        quick: options.quick,
        seed: options.seed,
        budget,
        seconds: 0.0,
        training,
        models_from: options.models.as_ref().map(|d| d.display().to_string()),
        generation,
        classification,
        ood,
        restoration,
        restoration_model: generator.name.into(),
        cross_class,
        split_mnist,
        robustness,
        pictures,
        targets: Vec::new(),
    };
    report.targets = check_targets(&report);
    report.seconds = started.elapsed().as_secs_f64();
    write_report(out, &report)?;
    Ok(report)
}

/// Trains `uncond`, `cond-cd` and `cond-hybrid` (in that order), each into
/// `out/models/<name>`. Only `cond-cd`, which generates and restores, sees
/// noisy digits ([`DATA_NOISE`]); `uncond` (the OOD scorer) and
/// `cond-hybrid` (classification, cross-class mapping, robustness) see them
/// clean.
fn train_models(
    task: &MnistTask,
    budget: &Budget,
    seed: u64,
    out: &Path,
    progress: &dyn crate::progress::Progress,
) -> Result<(Vec<Model>, Vec<ModelTraining>)> {
    let specs = [
        ("uncond", false, 0.0, 0.0, budget.uncond_steps),
        ("cond-cd", true, 0.0, DATA_NOISE, budget.train_steps),
        ("cond-hybrid", true, HYBRID_CE_WEIGHT, 0.0, budget.hybrid_steps),
    ];
    let mut models = Vec::new();
    let mut training = Vec::new();
    for (name, conditional, ce, data_noise, steps) in specs {
        say(&format!("training {name} for {steps} steps"));
        let data = MnistData::new(&task.train, conditional, None, seed)?;
        let mut config = mnist_config(steps, budget.batch_size, budget.langevin_steps, seed);
        config.label_ce_weight = ce;
        config.data_noise = data_noise;
        let dir = out.join("models").join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let (network, summary) = train_model(&data, &mnist_architecture(conditional), config, Some(dir), progress)?;
        training.push(ModelTraining {
            model: name.into(),
            steps: summary.steps,
            seconds: summary.seconds,
            divergences: summary.divergences,
            e_pos: summary.last.e_pos,
            e_neg: summary.last.e_neg,
        });
        models.push(Model {
            name,
            network,
            conditional,
        });
    }
    Ok((models, training))
}

/// Loads the three models from `dir` (as shipped in `models/mnist`); their
/// training rows come from the cards, with no seconds.
fn load_models(dir: &Path) -> Result<(Vec<Model>, Vec<ModelTraining>)> {
    let mut models = Vec::new();
    let mut training = Vec::new();
    for (name, conditional) in [("uncond", false), ("cond-cd", true), ("cond-hybrid", true)] {
        let path = dir.join(format!("{name}.safetensors"));
        say(&format!("loading {name} from {}", path.display()));
        let loaded = crate::checkpoint::load_checkpoint(&path)?;
        if loaded.card.concept.is_some() != conditional {
            anyhow::bail!(
                "{} is {}conditional, but `{name}` must be {}conditional; point --models at a folder laid out like models/mnist",
                path.display(),
                if conditional { "un" } else { "" },
                if conditional { "" } else { "un" }
            );
        }
        let metrics = &loaded.card.metrics;
        let last = |key: &str| metrics["last"][key].as_f64().unwrap_or(f64::NAN);
        training.push(ModelTraining {
            model: name.into(),
            steps: metrics["steps"].as_u64().unwrap_or(0),
            seconds: f64::NAN,
            divergences: metrics["divergences"].as_u64().unwrap_or(0) as u32,
            e_pos: last("e_pos"),
            e_neg: last("e_neg"),
        });
        models.push(Model {
            name,
            network: loaded.network,
            conditional,
        });
    }
    Ok((models, training))
}

/// The test digits every ability reads (the first of the test split).
pub fn test_tensors(task: &MnistTask, budget: &Budget) -> (Tensor, Tensor) {
    let test_count = (task.test.len() as i64).min(budget.test_images.max(budget.split_test_images));
    labelled_tensors(&task.test, &(0..test_count as usize).collect::<Vec<_>>())
}

/// The first test image of each digit, `[10, 1, 28, 28]` (digits missing
/// from the test images are skipped).
fn one_per_digit(test_x: &Tensor, test_y: &Tensor) -> Tensor {
    let labels = Vec::<i64>::try_from(test_y).unwrap_or_default();
    let rows: Vec<i64> = (0..10)
        .filter_map(|d| labels.iter().position(|&l| l == d).map(|i| i as i64))
        .collect();
    test_x.index_select(0, &Tensor::from_slice(&rows))
}

/// `per_class` samples of each digit from MNIST's start noise as a PNG, a row per digit;
/// returns the samples and the digits asked for.
pub fn conditional_grid(
    energy: &dyn Energy,
    per_class: usize,
    sampler: &LangevinConfig,
    seed: u64,
    path: &Path,
    name: &str,
) -> Result<(Tensor, Tensor)> {
    let (samples, asked) = sample_each_digit(energy, per_class, sampler, seed as i64);
    let captions: Vec<String> = (0..samples.size()[0]).map(|i| format!("{}", i / per_class as i64)).collect();
    let title = format!("{name}: a row per digit, {} Langevin steps from dark noise", sampler.steps);
    write_grid(path, &samples, per_class, &captions, &title)?;
    Ok((samples, asked))
}

/// 40 unconditional samples from MNIST's start noise as a PNG.
pub fn unconditional_grid(energy: &dyn Energy, sampler: &LangevinConfig, path: &Path, seed: u64) -> Result<()> {
    tch::manual_seed(seed as i64);
    let x0 = crate::data::mnist_source::MNIST_INIT.sample(&[40, 1, 28, 28]);
    let x = crate::sample::langevin(energy, &x0, None, sampler, &Default::default()).x;
    write_grid(
        path,
        &x,
        10,
        &vec![String::new(); 40],
        &format!("uncond: {} Langevin steps from dark noise", sampler.steps),
    )
}
