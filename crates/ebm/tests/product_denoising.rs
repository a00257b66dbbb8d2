//! Product of experts by joint denoising (`--product … --objective denoise`):
//! the members' denoisers, each under its own label of the same scenes,
//! trained as one joint denoiser, their mean (1/K)Σₖ Dₖ.

mod common;

use ebm::data::shapes::ShapesFilter;
use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
use ebm::data::DataSource;
use ebm::energy::network::named_variables;
use ebm::energy::{Architecture, DenoiserConfig};
use ebm::sample::ChainStart;
use ebm::train::denoising::{draw_noise_levels, product_denoising_loss};
use ebm::train::product::ProductTrainer;
use ebm::train::state::resume;
use ebm::train::{Objective, TrainConfig, Trainer};
use std::path::Path;

fn data(concept: ShapesConcept) -> ShapesConceptData {
    ShapesConceptData::new(concept, 32, 5, ShapesFilter::default(), ChainStart::Background).expect("data")
}

fn config(steps: u64) -> TrainConfig {
    let mut config = ebm::experiments::shapes::concept_config(steps, 5);
    config.objective = Objective::Denoise;
    config.batch_size = 8;
    config.adam_beta1 = 0.9;
    config.guard.snapshot_every = 2;
    config
}

/// A member of a product of two: its energy scaled by 1/2, as the product needs.
fn member<'a>(concept: ShapesConcept, data: &'a ShapesConceptData, steps: u64, out: Option<&Path>) -> Trainer<'a> {
    member_of(2, concept, data, steps, out)
}

/// A member of a product of `k`.
fn member_of<'a>(k: usize, concept: ShapesConcept, data: &'a ShapesConceptData, steps: u64, out: Option<&Path>) -> Trainer<'a> {
    tch::manual_seed(11);
    let architecture = Architecture::Denoiser(DenoiserConfig {
        code_dim: concept.schema().code_dim(),
        width: 8,
        latent: 8,
        energy_scale: 1.0 / k as f64,
        ..DenoiserConfig::default()
    });
    let out = out.map(|dir| dir.join(concept.to_string()));
    Trainer::new(architecture.build(tch::Device::Cpu), data, config(steps), out).expect("trainer")
}

fn same_weights(a: &Trainer, b: &Trainer) -> bool {
    let (a, b) = (named_variables(a.network.var_store()), named_variables(b.network.var_store()));
    a.len() == b.len() && a.iter().zip(&b).all(|((_, x), (_, y))| x.equal(y))
}

/// The joint loss on a fixed batch of 64 scenes and noise (seeded).
fn joint_loss(members: &[Trainer], sources: &[&ShapesConceptData]) -> f64 {
    tch::manual_seed(99);
    let batches: Vec<_> = sources.iter().map(|d| d.batch(10_000, 64)).collect();
    let sigma = draw_noise_levels(64, (0.01, 0.6), tch::Kind::Float, tch::Device::Cpu);
    let denoisers: Vec<_> = members
        .iter()
        .zip(&batches)
        .map(|(m, b)| (m.network.as_denoiser().expect("denoiser"), b.code.as_ref()))
        .collect();
    tch::no_grad(|| product_denoising_loss(&denoisers, &batches[0].x, &sigma, 1.0).double_value(&[]))
}

#[test]
fn a_denoising_product_of_one_model_trains_exactly_as_the_model_alone() {
    let _serial = common::serial();
    let color = data(ShapesConcept::Color);
    let mut alone = member_of(1, ShapesConcept::Color, &color, 4, None);
    alone.run(&ebm::Quiet).expect("alone");
    let mut product = ProductTrainer::new(vec![member_of(1, ShapesConcept::Color, &color, 4, None)], None).expect("product");
    product.run(&ebm::Quiet).expect("product");
    assert!(
        same_weights(&alone, &product.members[0]),
        "a one-member denoising product drifted from the ordinary trainer"
    );
}

#[test]
fn a_denoising_product_lowers_its_joint_loss_and_resumes_exactly() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (pos, color) = (data(ShapesConcept::Pos), data(ShapesConcept::Color));
    let run = |steps: u64, out: &Path| {
        let members = vec![
            member(ShapesConcept::Pos, &pos, steps, Some(out)),
            member(ShapesConcept::Color, &color, steps, Some(out)),
        ];
        let mut product = ProductTrainer::new(members, Some(out.to_path_buf())).expect("product");
        product.run(&ebm::Quiet).expect("run");
        product
    };
    let untrained = run(0, &dir.path().join("untrained"));
    let whole = run(40, &dir.path().join("whole"));
    let (before, after) = (
        joint_loss(&untrained.members, &[&pos, &color]),
        joint_loss(&whole.members, &[&pos, &color]),
    );
    assert!(
        after < 0.5 * before,
        "40 joint steps took the held-out loss only from {before:.3} to {after:.3}"
    );
    for (a, b) in untrained.members.iter().zip(&whole.members) {
        assert!(!same_weights(a, b), "a member was not updated by the joint loss");
    }
    let part_dir = dir.path().join("part");
    drop(run(20, &part_dir));
    let members = vec![
        resume(&part_dir.join("pos"), &pos, Some(40)).expect("resume pos"),
        resume(&part_dir.join("color"), &color, Some(40)).expect("resume color"),
    ];
    let mut resumed = ProductTrainer::new(members, Some(part_dir)).expect("resumed product");
    resumed.run(&ebm::Quiet).expect("resumed run");
    for (a, b) in whole.members.iter().zip(&resumed.members) {
        assert!(same_weights(a, b), "a member differs after resume");
    }
}

#[test]
fn a_product_refuses_mixed_objectives_and_unscaled_denoisers() {
    let _serial = common::serial();
    let (pos, color) = (data(ShapesConcept::Pos), data(ShapesConcept::Color));
    let mut cd = member(ShapesConcept::Color, &color, 4, None);
    cd.config.objective = Objective::Cd;
    let members = vec![member(ShapesConcept::Pos, &pos, 4, None), cd];
    let error = ProductTrainer::new(members, None)
        .err()
        .expect("mixed objectives refused")
        .to_string();
    assert!(error.contains("--objective"), "{error}");
    // Members whose energies are not scaled by 1/K would not sum to the trained product.
    let unscaled = vec![
        member_of(1, ShapesConcept::Pos, &pos, 4, None),
        member_of(1, ShapesConcept::Color, &color, 4, None),
    ];
    let error = ProductTrainer::new(unscaled, None)
        .err()
        .expect("unscaled members refused")
        .to_string();
    assert!(error.contains("1/2"), "{error}");
}

/// Members scaled by 1/K (`DenoiserConfig::energy_scale`, what `ebm train
/// --product … --objective denoise` writes) sum to the trained product: a
/// Tweedie step on the sum of their energies lands on their mean denoiser.
#[test]
fn members_scaled_by_one_over_k_sum_to_the_mean_denoiser() {
    let _serial = common::serial();
    let (pos, color) = (data(ShapesConcept::Pos), data(ShapesConcept::Color));
    let members = [
        member(ShapesConcept::Pos, &pos, 1, None),
        member(ShapesConcept::Color, &color, 1, None),
    ];
    let scaled: Vec<_> = members
        .iter()
        .map(|m| ebm::energy::network::with_energy_scale(m.network.as_ref(), 0.5).expect("scale"))
        .collect();
    let codes = [pos.batch(3, 4).code.expect("code"), color.batch(3, 4).code.expect("code")];
    let x = color.batch(3, 4).x;
    let sigma = tch::Tensor::full([4], 0.2, (tch::Kind::Float, tch::Device::Cpu));
    let input = x.detach().set_requires_grad(true);
    let total = scaled
        .iter()
        .zip(&codes)
        .map(|(net, code)| net.tweedie_energy_at_noise(&input, Some(code), &sigma).sum(tch::Kind::Float))
        .fold(tch::Tensor::from(0f32), |a, b| a + b);
    let grad = tch::Tensor::run_backward(&[total], &[&input], false, false).remove(0);
    let stepped = &x - grad * 0.04;
    let mean = tch::no_grad(|| {
        let d = |m: &Trainer, code| m.network.as_denoiser().expect("denoiser").denoise(&x, Some(code), &sigma);
        (d(&members[0], &codes[0]) + d(&members[1], &codes[1])) / 2.0
    });
    let gap = (stepped - &mean).abs().max().double_value(&[]);
    assert!(gap < 1e-4, "the scaled members' Tweedie step is {gap} from their mean denoiser");
    // At scale 1 the same step would be x + Σ(D − x): far from the mean.
    let unscaled_gap = (&x + (&mean - &x) * 2.0 - &mean).abs().max().double_value(&[]);
    assert!(unscaled_gap > 1e-2);
}
