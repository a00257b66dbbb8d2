//! Per-code offsets for lowest-energy classification (`infer::offsets`):
//! fitted on labelled scenes, they undo a level shift per code that
//! contrastive divergence cannot see.

mod common;

use ebm::energy::Energy;
use ebm::infer::{fit_code_calibration, fit_code_offsets, offset_argmin};
use tch::{Kind, Tensor};

/// `n` draws of 2-D unit Gaussian classes centred at `means` (`[K, 2]`),
/// equal priors: the Bayes energies ½‖x − μₖ‖² (`[n, K]`) and the labels.
fn gaussian_classes(means: &Tensor, n: i64) -> (Tensor, Vec<usize>) {
    let labels = Tensor::randint(means.size()[0], [n], (Kind::Int64, tch::Device::Cpu));
    let x = means.index_select(0, &labels) + Tensor::randn([n, 2], (Kind::Double, tch::Device::Cpu));
    let fit = (x.unsqueeze(1) - means.unsqueeze(0))
        .square()
        .sum_dim_intlist(-1, false, Kind::Double)
        * 0.5;
    let labels = Vec::<i64>::try_from(labels).unwrap().into_iter().map(|l| l as usize).collect();
    (fit, labels)
}

/// The share of `chosen` equal to `labels`.
fn accuracy(chosen: &[usize], labels: &[usize]) -> f64 {
    chosen.iter().zip(labels).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64
}

/// Two-dimensional Gaussian classes E(x | k) = ½‖x − μₖ‖² + bₖ: the Bayes
/// rule is argminₖ ½‖x − μₖ‖² (equal priors), so the planted bₖ mislead the
/// raw reading and the fitted offsets must cancel them.
#[test]
fn fitted_offsets_cancel_planted_level_shifts_and_restore_bayes_accuracy() {
    let _serial = common::serial();
    tch::manual_seed(0);
    let k = 4i64;
    let means = Tensor::from_slice(&[0.0f64, 0.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0]).view([k, 2]);
    let planted = [3.0f64, -2.0, 0.5, 1.5];
    let shift = |fit: &Tensor| fit + Tensor::from_slice(&planted).unsqueeze(0);
    let (fit, calibration_labels) = gaussian_classes(&means, 4000);
    let calibration = shift(&fit);
    let offsets = fit_code_offsets(&calibration, &calibration_labels).unwrap();
    // Up to their common shift, the offsets are minus the planted levels.
    let mean_sum: f64 = offsets.iter().zip(&planted).map(|(o, p)| o + p).sum::<f64>() / k as f64;
    for (o, p) in offsets.iter().zip(&planted) {
        assert!((o + p - mean_sum).abs() < 0.15, "offsets {offsets:?} against planted {planted:?}");
    }
    let (fit, labels) = gaussian_classes(&means, 4000);
    let shifted = shift(&fit);
    let zeros = vec![0.0; k as usize];
    let bayes = accuracy(&offset_argmin(&fit, &zeros).unwrap(), &labels);
    let raw = accuracy(&offset_argmin(&shifted, &zeros).unwrap(), &labels);
    let calibrated = accuracy(&offset_argmin(&shifted, &offsets).unwrap(), &labels);
    assert!(raw < bayes - 0.2, "the planted levels should mislead: raw {raw}, Bayes {bayes}");
    assert!((calibrated - bayes).abs() < 0.02, "calibrated {calibrated} against Bayes {bayes}");
}

/// The same classes at a hundredth of the scale (a CD energy's spread
/// between codes): the fitted temperature finds the scale, and the
/// calibrated reading matches the Bayes rule again.
#[test]
fn the_fitted_temperature_finds_the_energys_scale() {
    let _serial = common::serial();
    tch::manual_seed(1);
    let k = 3i64;
    let means = Tensor::from_slice(&[0.0f64, 0.0, 1.5, 0.0, 0.0, 1.5]).view([k, 2]);
    let planted = Tensor::from_slice(&[0.02f64, -0.03, 0.01]).unsqueeze(0);
    let (fit, labels) = gaussian_classes(&means, 3000);
    let calibration = fit_code_calibration(&(&fit * 0.01 + &planted), &labels).unwrap();
    assert!(
        (0.006..0.016).contains(&calibration.temperature),
        "temperature {} for energies at scale 0.01",
        calibration.temperature
    );
    let (fit, labels) = gaussian_classes(&means, 3000);
    let bayes = accuracy(&offset_argmin(&fit, &[0.0; 3]).unwrap(), &labels);
    let calibrated = accuracy(&calibration.argmin(&(&fit * 0.01 + &planted)).unwrap(), &labels);
    assert!((calibrated - bayes).abs() < 0.02, "calibrated {calibrated} against Bayes {bayes}");
}

#[test]
fn offsets_refuse_mismatched_shapes_and_non_finite_energies() {
    let energies = Tensor::zeros([3, 2], (Kind::Float, tch::Device::Cpu));
    assert!(fit_code_offsets(&energies, &[0, 1]).is_err());
    assert!(fit_code_offsets(&energies, &[0, 1, 2]).is_err());
    let bad = Tensor::from_slice(&[0.0f32, f32::NAN]).view([1, 2]);
    assert!(fit_code_offsets(&bad, &[0]).unwrap_err().to_string().contains("finite"));
    assert!(offset_argmin(&energies, &[0.0]).is_err());
}

/// A trained energy with a level added per code: `shift · k` for code k.
pub struct Shifted<'a> {
    pub inner: &'a dyn Energy,
    pub shift: f64,
}

impl Energy for Shifted<'_> {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let e = self.inner.energy(x, code);
        match code {
            Some(code) => {
                let k = code.size()[1];
                let levels = Tensor::arange(k, (Kind::Float, code.device())) * self.shift;
                e + code.to_kind(Kind::Float).matmul(&levels)
            }
            None => e,
        }
    }
}

/// On a colour model trained in the test budget, levels planted per code
/// wreck the raw lowest-energy reading, and the concept check's calibrated
/// reading recovers the model's own accuracy.
#[test]
fn the_calibrated_concept_check_orders_codes_of_a_model_trained_in_the_test_budget() {
    use ebm::data::shapes::ShapesFilter;
    use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
    use ebm::experiments::concept_check::check_concept_calibrated;
    let _serial = common::serial();
    tch::manual_seed(0);
    let concept = ShapesConcept::Color;
    let data = ShapesConceptData::new(concept, 32, 3, ShapesFilter::default(), ebm::sample::ChainStart::Background).unwrap();
    let steps = 150;
    let mut config = ebm::experiments::shapes::concept_config(steps, 3);
    config.label_ce_weight = 1.0;
    config.supervised_warmup = steps;
    config.adam_beta1 = 0.9;
    config.ema_decay = None;
    let architecture = ebm::energy::ConvConfig {
        code_dim: concept.schema().code_dim(),
        spectral_norm: false,
        pool: ebm::energy::conv::SpatialPool::Max,
        residual_gain: 1.0,
        init_gain: 1.4,
        readout: ebm::energy::Readout::Classifier,
        ..ebm::energy::ConvConfig::base(3, 32, &[8, 16, 16])
    };
    let network = ebm::energy::Architecture::Conv(architecture).build(tch::Device::Cpu);
    let mut trainer = ebm::train::Trainer::new(network, &data, config, None).expect("trainer");
    trainer.run(&ebm::Quiet).expect("training");
    let own = check_concept_calibrated(trainer.network.as_ref(), concept, 200, 9001, 0).unwrap();
    let shifted = Shifted {
        inner: trainer.network.as_ref(),
        shift: 3.0,
    };
    let check = check_concept_calibrated(&shifted, concept, 200, 9001, 600).unwrap();
    let (own, raw, calibrated) = (own.accuracy.unwrap(), check.accuracy.unwrap(), check.calibrated_accuracy.unwrap());
    assert!(own > 0.6, "the model should know colour first: {own}");
    assert!(raw < 0.3, "levels of 3 per code should wreck the raw reading: {raw}");
    assert!(calibrated > own - 0.08, "calibrated {calibrated} against the model's own {own}");
}
