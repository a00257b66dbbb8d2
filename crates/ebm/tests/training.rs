//! Contrastive-divergence training end to end: mode recovery on
//! eight-gaussians, exact resume, and the divergence guard.

mod common;

use ebm::data::{Toy2d, Toy2dKind};
use ebm::energy::network::named_variables;
use ebm::experiments::toy2d::{evaluate_toy, sample_toy, toy_architecture, toy_config, train_toy};
use ebm::train::state::{resume, MODEL_FILE};
use ebm::train::Trainer;

/// MMD² (median-heuristic Gaussian kernel, 1000 samples) below which samples
/// count as matching eight-gaussians. Two fresh data sets score ~0.0001;
/// diffuse samples that still cover the ring score 0.01–0.05.
const MMD2_THRESHOLD: f64 = 0.002;

#[test]
fn training_on_eight_gaussians_recovers_the_modes() {
    let _serial = common::serial();
    let mut config = toy_config(300, 0);
    config.batch_size = 128;
    let (network, summary) = train_toy(
        Toy2dKind::EightGaussians,
        &toy_architecture(false),
        config.clone(),
        None,
        &ebm::Quiet,
    )
    .expect("training");
    assert_eq!(summary.divergences, 0);
    let sampler = ebm::experiments::toy2d::toy_sampler(Toy2dKind::EightGaussians, &config.langevin);
    let samples = sample_toy(network.as_ref(), &sampler, 1000, 200, 1);
    let evaluation = evaluate_toy(Toy2dKind::EightGaussians, &samples, 0);
    let coverage = evaluation.coverage.expect("coverage");
    assert!(
        coverage.modes_hit >= 7,
        "only {} modes hit: {:?}",
        coverage.modes_hit,
        coverage.per_mode
    );
    assert!(coverage.on_mode > 0.6, "only {:.2} of samples on a mode", coverage.on_mode);
    assert!(
        evaluation.mmd2 < MMD2_THRESHOLD,
        "MMD² {} (floor {})",
        evaluation.mmd2,
        evaluation.mmd2_data_floor
    );
}

fn small_config(steps: u64) -> ebm::train::TrainConfig {
    let mut config = toy_config(steps, 3);
    config.batch_size = 32;
    config.langevin.steps = 5;
    config.replay.capacity = 100;
    config.guard.snapshot_every = 4;
    config
}

fn weights_of(dir: &std::path::Path) -> Vec<(String, tch::Tensor)> {
    let model = ebm::checkpoint::load_checkpoint(&dir.join(MODEL_FILE)).expect("checkpoint loads");
    named_variables(model.network.var_store())
}

#[test]
fn resuming_an_interrupted_run_reproduces_the_uninterrupted_one() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (whole, part) = (dir.path().join("whole"), dir.path().join("part"));
    let data = Toy2d::new(Toy2dKind::EightGaussians, 3);
    let run = |steps: u64, out: &std::path::Path| {
        tch::manual_seed(3);
        let mut trainer = Trainer::new(
            toy_architecture(false).build(tch::Device::Cpu),
            &data,
            small_config(steps),
            Some(out.to_path_buf()),
        )
        .expect("trainer");
        trainer.run(&ebm::Quiet).expect("run");
    };
    run(20, &whole);
    run(9, &part);
    let mut resumed = resume(&part, &data, Some(20)).expect("resume");
    assert_eq!(resumed.step, 9);
    resumed.run(&ebm::Quiet).expect("resumed run");
    for ((name, a), (_, b)) in weights_of(&whole).iter().zip(weights_of(&part)) {
        assert!(a.equal(&b), "weight {name} differs after resume");
    }
    let metrics = std::fs::read_to_string(part.join("metrics.jsonl")).expect("metrics");
    let steps: Vec<u64> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![10, 20], "metrics log after resume");
}

#[test]
fn resume_refuses_different_data() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = Toy2d::new(Toy2dKind::EightGaussians, 3);
    let mut trainer = Trainer::new(
        toy_architecture(false).build(tch::Device::Cpu),
        &data,
        small_config(2),
        Some(dir.path().to_path_buf()),
    )
    .expect("trainer");
    trainer.run(&ebm::Quiet).expect("run");
    let other = Toy2d::new(Toy2dKind::TwoMoons, 3);
    let error = resume(dir.path(), &other, None)
        .err()
        .expect("resume on other data must fail")
        .to_string();
    assert!(error.contains("two-moons"), "{error}");
}

#[test]
fn the_guard_recovers_from_a_forced_blow_up() {
    let _serial = common::serial();
    let data = Toy2d::new(Toy2dKind::EightGaussians, 5);
    let mut config = small_config(30);
    // An absurd Langevin step with no clamp throws the negatives to ~1e8,
    // where the energy leaves any sane range.
    config.langevin.step_size = 1e8;
    config.langevin.clamp = None;
    config.guard.backoff = 0.01;
    config.guard.max_abs_energy = 1e3;
    tch::manual_seed(5);
    let mut trainer = Trainer::new(toy_architecture(false).build(tch::Device::Cpu), &data, config, None).expect("trainer");
    let summary = trainer.run(&ebm::Quiet).expect("the guard should recover");
    assert_eq!(summary.steps, 30);
    assert!(summary.divergences >= 1, "no divergence was detected");
    assert!(trainer.step_size < 1e8, "step size not lowered");
    for (name, t) in named_variables(trainer.network.var_store()) {
        assert!(t.isfinite().all().int64_value(&[]) == 1, "{name} is not finite after recovery");
    }
    assert!(summary.last.e_pos.abs() < 1e3 && summary.last.e_neg.abs() < 1e3);
}

#[test]
fn the_guard_gives_up_with_a_clear_message() {
    let _serial = common::serial();
    let data = Toy2d::new(Toy2dKind::EightGaussians, 5);
    let mut config = small_config(10);
    config.langevin.step_size = 1e8;
    config.langevin.clamp = None;
    config.guard.backoff = 1.0; // never lowers anything: recovery cannot succeed
    config.guard.max_abs_energy = 1e3;
    config.guard.max_retries = 3;
    let mut trainer = Trainer::new(toy_architecture(false).build(tch::Device::Cpu), &data, config, None).expect("trainer");
    let error = trainer.run(&ebm::Quiet).err().expect("must give up").to_string();
    assert!(error.contains("diverged 4 times") && error.contains("--step-size"), "{error}");
}

/// Chains that cannot move (no Langevin steps) are told from data at once:
/// E(x⁻) − E(x⁺) grows, which `max_gap` reports as a collapsed CD.
#[test]
fn the_guard_reports_a_collapsed_cd() {
    let _serial = common::serial();
    let data = Toy2d::new(Toy2dKind::EightGaussians, 5);
    let run = |max_gap: Option<f64>| {
        let mut config = small_config(60);
        config.langevin.steps = 0;
        config.lr = 1e-2;
        config.guard.backoff = 1.0;
        config.guard.max_retries = 2;
        config.guard.max_gap = max_gap;
        tch::manual_seed(5);
        let mut trainer = Trainer::new(toy_architecture(false).build(tch::Device::Cpu), &data, config, None).expect("trainer");
        trainer.run(&ebm::Quiet).map(|s| s.last.gap)
    };
    let unguarded_gap = run(None).expect("no gap limit: runs through");
    assert!(
        unguarded_gap > 0.5,
        "the frozen chains should be told apart (gap {unguarded_gap:.3})"
    );
    let error = run(Some(0.5)).expect_err("the gap limit must stop it").to_string();
    assert!(error.contains("CD collapsed"), "{error}");
    // A gap that was never within the limit is where the run started (e.g.
    // after a supervised warm-up), not a collapse: no step is rejected for it.
    run(Some(-1e9)).expect("a limit no step has met is not armed");
}

#[test]
fn checkpoints_hold_the_ema_weights_when_ema_is_on() {
    let _serial = common::serial();
    let data = Toy2d::new(Toy2dKind::EightGaussians, 6);
    for (decay, expect_equal) in [(0.0, true), (0.9, false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = small_config(5);
        config.ema_decay = Some(decay);
        tch::manual_seed(6);
        let mut trainer = Trainer::new(
            toy_architecture(false).build(tch::Device::Cpu),
            &data,
            config,
            Some(dir.path().to_path_buf()),
        )
        .expect("trainer");
        trainer.run(&ebm::Quiet).expect("run");
        let raw = named_variables(trainer.network.var_store());
        let saved = weights_of(dir.path());
        let all_equal = raw.iter().zip(&saved).all(|((_, a), (_, b))| a.equal(b));
        // Decay 0 averages nothing away: the EMA is the last weights. Decay 0.9 lags behind them.
        assert_eq!(all_equal, expect_equal, "decay {decay}");
    }
}

#[test]
fn data_noise_reaches_the_positives_and_zero_noise_leaves_them_as_they_are() {
    let _serial = common::serial();
    let data = Toy2d::new(Toy2dKind::EightGaussians, 3);
    let first_e_pos = |data_noise: f64| {
        tch::manual_seed(3);
        let mut config = small_config(1);
        config.data_noise = data_noise;
        let mut trainer = Trainer::new(toy_architecture(false).build(tch::Device::Cpu), &data, config, None).expect("trainer");
        trainer.step().expect("step").e_pos
    };
    let clean = first_e_pos(0.0);
    assert_eq!(clean, first_e_pos(0.0), "same seed, same positives");
    let noisy = first_e_pos(0.5);
    assert!((noisy - clean).abs() > 1e-4, "noise 0.5 left E+ at {clean}");
    let mut config = small_config(1);
    config.data_noise = -0.1;
    assert!(config.validate().unwrap_err().contains("data_noise"));
}

#[test]
fn the_label_terms_temperature_must_be_positive_and_finite() {
    for bad in [0.0, -0.01, f64::NAN, f64::INFINITY] {
        let mut config = small_config(1);
        config.label_ce_temperature = bad;
        assert!(config.validate().unwrap_err().contains("label_ce_temperature"), "{bad} accepted");
    }
    let mut config = small_config(1);
    config.label_ce_temperature = 0.01;
    assert!(config.validate().is_ok());
}

/// A small shapes model with a discriminative read-out.
fn readout_model(concept: ebm::data::shapes_concept::ShapesConcept, readout: ebm::energy::Readout) -> ebm::energy::Architecture {
    ebm::energy::Architecture::Conv(ebm::energy::ConvConfig {
        code_dim: concept.schema().code_dim(),
        spectral_norm: false,
        pool: ebm::energy::conv::SpatialPool::Max,
        coords: concept == ebm::data::shapes_concept::ShapesConcept::Pos,
        residual_gain: 1.0,
        init_gain: 1.4,
        readout,
        ..ebm::energy::ConvConfig::base(3, 32, &[8, 16, 16])
    })
}

#[test]
fn supervised_warmup_teaches_discriminative_readouts_their_concept_without_chains() {
    use ebm::data::shapes::ShapesFilter;
    use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
    use ebm::energy::Readout;
    use ebm::experiments::concept_check::check_concept;
    let _serial = common::serial();
    for (concept, readout, steps) in [
        (ShapesConcept::Color, Readout::Classifier, 200),
        (ShapesConcept::Pos, Readout::Gaussian, 200),
    ] {
        tch::manual_seed(0);
        let data = ShapesConceptData::new(concept, 32, 3, ShapesFilter::default(), ebm::sample::ChainStart::Background).unwrap();
        let mut config = ebm::experiments::shapes::concept_config(steps, 3);
        config.label_ce_weight = 1.0;
        config.supervised_warmup = steps;
        config.adam_beta1 = 0.9;
        config.ema_decay = None;
        let network = readout_model(concept, readout).build(tch::Device::Cpu);
        let mut trainer = Trainer::new(network, &data, config, None).expect("trainer");
        let untrained = check_concept(trainer.network.as_ref(), concept, 200, 9001).unwrap();
        trainer.run(&ebm::Quiet).expect("training");
        // Warm-up steps run no chain: the CD energies stay unmeasured.
        assert_eq!((trainer.last_metrics.e_pos, trainer.last_metrics.e_neg), (0.0, 0.0));
        let trained = check_concept(trainer.network.as_ref(), concept, 200, 9001).unwrap();
        match (trained.accuracy, trained.mean_error) {
            (Some(accuracy), _) => {
                let before = untrained.accuracy.unwrap();
                assert!(
                    accuracy >= 0.8 && accuracy > before + 0.3,
                    "{concept:?}: accuracy {before} → {accuracy}"
                );
            }
            (None, Some(error)) => {
                let before = untrained.mean_error.unwrap();
                assert!(
                    error < 0.8 * trained.chance && error < 0.8 * before,
                    "{concept:?}: error {before} → {error} (middle guess {})",
                    trained.chance
                );
            }
            _ => unreachable!("a check reports accuracy or error"),
        }
    }
}

/// The warm-up's cross-entropy fixes only differences between codes; the
/// L2 term keeps the energies themselves near 0 (without it a colour model
/// drifted to E ≈ −300 in 2000 steps and its first CD chains blew up).
#[test]
fn the_supervised_warmup_keeps_energies_bounded_under_its_l2_term() {
    use ebm::data::shapes::ShapesFilter;
    use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
    let _serial = common::serial();
    let concept = ShapesConcept::Color;
    let data = ShapesConceptData::new(concept, 32, 3, ShapesFilter::default(), ebm::sample::ChainStart::Background).unwrap();
    let mean_square = |energy_l2: f64| {
        tch::manual_seed(0);
        let mut config = ebm::experiments::shapes::concept_config(150, 3);
        config.label_ce_weight = 1.0;
        config.supervised_warmup = 150;
        config.energy_l2 = energy_l2;
        config.ema_decay = None;
        let network = readout_model(concept, ebm::energy::Readout::Film).build(tch::Device::Cpu);
        let mut trainer = Trainer::new(network, &data, config, None).expect("trainer");
        trainer.run(&ebm::Quiet).expect("training");
        let batch = ebm::data::DataSource::batch(&data, 10_000, 64);
        let energy = trainer.network.energy(&batch.x, batch.code.as_ref());
        energy.square().mean(tch::Kind::Double).double_value(&[])
    };
    let (free, anchored) = (mean_square(0.0), mean_square(1.0));
    assert!(
        anchored < 10.0 && anchored < 0.1 * free,
        "mean E² after the warm-up: {free} without the L2 term, {anchored} with it"
    );
}

/// A denoiser-shaped energy trained by denoising alone (no chain, no
/// buffer, no label term) learns its code: E = ½‖x − D(x | c)‖²/σ² has no
/// free offset per code (it is 0 at a perfect reconstruction), so the
/// lowest energy picks the colour with no calibration step.
#[test]
fn a_denoising_trained_colour_energy_ranks_the_true_colour_lowest_without_calibration() {
    use ebm::data::shapes::ShapesFilter;
    use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
    use ebm::experiments::concept_check::check_concept;
    let _serial = common::serial();
    tch::manual_seed(0);
    let concept = ShapesConcept::Color;
    let data = ShapesConceptData::new(concept, 32, 3, ShapesFilter::default(), ebm::sample::ChainStart::Background).unwrap();
    let steps = 240;
    let config = ebm::train::TrainConfig {
        objective: ebm::train::Objective::Denoise,
        adam_beta1: 0.9,
        ema_decay: None,
        ..ebm::experiments::shapes::concept_config(steps, 3)
    };
    let architecture = ebm::energy::Architecture::Denoiser(ebm::energy::DenoiserConfig {
        code_dim: 8,
        width: 16,
        ..Default::default()
    });
    let mut trainer = Trainer::new(architecture.build(tch::Device::Cpu), &data, config, None).expect("trainer");
    let untrained = check_concept(trainer.network.as_ref(), concept, 200, 9001)
        .unwrap()
        .accuracy
        .unwrap();
    trainer.run(&ebm::Quiet).expect("training");
    let trained = check_concept(trainer.network.as_ref(), concept, 200, 9001)
        .unwrap()
        .accuracy
        .unwrap();
    assert!(
        trained >= 0.4 && trained > untrained + 0.2,
        "colour accuracy {untrained} → {trained} (chance 0.125)"
    );
}

/// Mean E(x⁺ with a second object | c) − E(x⁺ | c) on held-out batches.
fn extra_object_margin(network: &dyn ebm::Network, data: &ebm::data::shapes_concept::ShapesConceptData) -> f64 {
    use ebm::data::DataSource;
    tch::no_grad(|| {
        let batch = data.batch(1000, 64);
        let extra = data.extra_object_negatives(1000, 64).unwrap();
        let gap = network.energy(&extra, batch.code.as_ref()) - network.energy(&batch.x, batch.code.as_ref());
        gap.mean(tch::Kind::Double).double_value(&[])
    })
}

#[test]
fn the_extra_object_term_teaches_a_concept_model_to_object_to_a_second_object() {
    use ebm::data::shapes::ShapesFilter;
    use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
    let _serial = common::serial();
    let data = ShapesConceptData::new(
        ShapesConcept::Color,
        32,
        4,
        ShapesFilter::default(),
        ebm::sample::ChainStart::Background,
    )
    .unwrap();
    let mut margins = Vec::new();
    for weight in [0.0, 1.0] {
        tch::manual_seed(0);
        // The term alone (no CD term; a one-step chain), on a network that learns quickly.
        let mut config = ebm::experiments::shapes::concept_config(60, 4);
        config.batch_size = 16;
        config.langevin.steps = 1;
        config.cd_weight = 0.0;
        config.adam_beta1 = 0.9;
        config.ema_decay = None;
        config.extra_object_weight = weight;
        let architecture = readout_model(ShapesConcept::Color, ebm::energy::Readout::Film);
        let mut trainer = Trainer::new(architecture.build(tch::Device::Cpu), &data, config, None).expect("trainer");
        trainer.run(&ebm::Quiet).expect("training");
        margins.push(extra_object_margin(trainer.network.as_ref(), &data));
    }
    assert!(
        margins[1] > 0.5 && margins[1] > margins[0] + 0.5,
        "E(two objects) − E(one): {:.3} without the term, {:.3} with it",
        margins[0],
        margins[1]
    );
    let mut config = small_config(1);
    config.extra_object_weight = f64::NAN;
    assert!(config.validate().unwrap_err().contains("extra_object_weight"));
}
