//! The posterior read-out, adversarial training of a concept's code term,
//! and the energy scale that sets its guidance strength.

mod common;

use ebm::data::shapes::ShapesFilter;
use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
use ebm::data::DataSource;
use ebm::energy::{Architecture, ConvConfig, Energy, Readout};
use ebm::train::adversarial::{pgd, Norm};
use ebm::train::Trainer;
use tch::{Kind, Tensor};

/// 16-pixel scenes keep the training test cheap.
const SIZE: i64 = 16;

fn posterior_model(concept: ShapesConcept) -> Architecture {
    Architecture::Conv(ConvConfig {
        code_dim: concept.schema().code_dim(),
        spectral_norm: false,
        residual_gain: 1.0,
        init_gain: 1.4,
        readout: Readout::Posterior,
        dense_head: 32,
        ..ConvConfig::base(3, SIZE, &[8, 16])
    })
}

fn source(concept: ShapesConcept, seed: u64) -> ShapesConceptData {
    ShapesConceptData::new(
        concept,
        SIZE as usize,
        seed,
        ShapesFilter::default(),
        ebm::sample::ChainStart::Background,
    )
    .expect("shapes data")
}

fn scenes(concept: ShapesConcept, n: usize, step: u64) -> ebm::data::Batch {
    source(concept, 7).batch(step, n)
}

/// E(x | c) = −log p(c | x): for every image the codes' exp(−E) sum to 1,
/// trained or not, so the model adds no term of its own about x.
#[test]
fn a_posterior_readout_is_a_normalised_distribution_over_codes() {
    let _serial = common::serial();
    tch::manual_seed(0);
    let network = posterior_model(ShapesConcept::Color).build(tch::Device::Cpu);
    let batch = scenes(ShapesConcept::Color, 6, 0);
    let codes = Tensor::eye(8, (Kind::Float, tch::Device::Cpu))
        .unsqueeze(0)
        .expand([6, 8, 8], false);
    let energies = tch::no_grad(|| network.energies_over_codes(&batch.x, &codes));
    let total = (-&energies).exp().sum_dim_intlist(-1, false, Kind::Double);
    let worst = (total - 1.0).abs().max().double_value(&[]);
    assert!(worst < 1e-5, "Σ exp(−E) deviates from 1 by {worst}");
    let spread = energies.std(false).double_value(&[]);
    assert!(spread > 1e-4, "the codes' energies are all equal ({spread})");
}

/// Trained on PGD images, a colour posterior keeps more of its accuracy
/// under the same attack than one trained on clean images only.
#[test]
fn adversarial_training_makes_the_code_term_robust_to_the_attack() {
    let _serial = common::serial();
    let concept = ShapesConcept::Color;
    let data = source(concept, 3);
    let test = scenes(concept, 128, 10_000);
    let labels = test.code.as_ref().expect("shapes batches carry codes").argmax(-1, false);
    let codes = Tensor::eye(8, (Kind::Float, tch::Device::Cpu))
        .unsqueeze(0)
        .expand([128, 8, 8], false);
    let eps = 0.04;
    let robust_accuracy = |adversarial_eps: f64| {
        tch::manual_seed(0);
        let mut config = ebm::experiments::shapes::concept_config(300, 3);
        config.label_ce_weight = 1.0;
        config.supervised_warmup = 300;
        config.adam_beta1 = 0.9;
        config.ema_decay = None;
        config.adversarial_eps = adversarial_eps;
        config.adversarial_ramp = 100;
        let network = posterior_model(concept).build(tch::Device::Cpu);
        let mut trainer = Trainer::new(network, &data, config, None).expect("trainer");
        trainer.run(&ebm::Quiet).expect("training");
        let net = trainer.network.as_ref();
        let logits = |x: &Tensor| -net.energies_over_codes(x, &codes);
        let attacked = pgd(&logits, &test.x, &labels, Norm::Linf, eps, 5);
        let accuracy = |x: &Tensor| {
            tch::no_grad(|| {
                logits(x)
                    .argmax(-1, false)
                    .eq_tensor(&labels)
                    .to_kind(Kind::Double)
                    .mean(Kind::Double)
                    .double_value(&[])
            })
        };
        (accuracy(&test.x), accuracy(&attacked))
    };
    let (plain_clean, plain_attacked) = robust_accuracy(0.0);
    let (robust_clean, robust_attacked) = robust_accuracy(eps);
    eprintln!("clean {plain_clean} / {robust_clean}, attacked {plain_attacked} / {robust_attacked}");
    // Robustness costs some clean accuracy (Tsipras et al.): both must
    // still have learned colour (chance 0.125).
    assert!(
        plain_clean > 0.8 && robust_clean > 0.6,
        "clean accuracy {plain_clean} / {robust_clean}"
    );
    assert!(
        robust_attacked > plain_attacked + 0.2,
        "under PGD ε = {eps}: plain {plain_attacked}, adversarially trained {robust_attacked}"
    );
}

/// The guidance scale multiplies the energy, and with it every code's
/// energy alike; a scale that is not a positive number is refused.
#[test]
fn energy_scale_multiplies_the_posterior_energy() {
    use ebm::energy::network::with_energy_scale;
    let _serial = common::serial();
    tch::manual_seed(1);
    let a = posterior_model(ShapesConcept::Shape).build(tch::Device::Cpu);
    let b = with_energy_scale(a.as_ref(), 0.25).expect("a valid scale");
    let batch = scenes(ShapesConcept::Shape, 4, 3);
    let code = batch.code.as_ref().expect("shapes batches carry codes");
    let (ea, eb) = tch::no_grad(|| (a.energy(&batch.x, Some(code)), b.energy(&batch.x, Some(code))));
    let worst = (eb - ea * 0.25).abs().max().double_value(&[]);
    assert!(worst < 1e-6, "scaled energy off by {worst}");
    for bad in [0.0, -1.0, f64::NAN] {
        assert!(with_energy_scale(a.as_ref(), bad)
            .err()
            .unwrap_or_default()
            .contains("energy_scale"));
    }
}
