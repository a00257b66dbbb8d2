//! Product-of-experts training (`ebm::train::product`): one chain on the sum
//! of the members' energies, each member updated by its own CD term.

mod common;

use ebm::data::shapes::ShapesFilter;
use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
use ebm::energy::network::named_variables;
use ebm::energy::{Architecture, ConvConfig};
use ebm::sample::ChainStart;
use ebm::train::product::ProductTrainer;
use ebm::train::state::resume;
use ebm::train::{TrainConfig, Trainer};
use std::path::Path;

fn data(concept: ShapesConcept) -> ShapesConceptData {
    ShapesConceptData::new(concept, 32, 5, ShapesFilter::default(), ChainStart::Background).expect("data")
}

fn architecture(concept: ShapesConcept) -> Architecture {
    Architecture::Conv(ConvConfig {
        code_dim: concept.schema().code_dim(),
        spectral_norm: false,
        ..ConvConfig::base(3, 32, &[4, 8])
    })
}

fn config(steps: u64) -> TrainConfig {
    let mut config = ebm::experiments::shapes::concept_config(steps, 5);
    config.batch_size = 8;
    config.langevin.steps = 3;
    config.replay.capacity = 32;
    config.guard.snapshot_every = 2;
    config
}

fn member<'a>(concept: ShapesConcept, data: &'a ShapesConceptData, steps: u64, out: Option<&Path>) -> Trainer<'a> {
    member_with(concept, data, config(steps), out)
}

fn member_with<'a>(concept: ShapesConcept, data: &'a ShapesConceptData, config: TrainConfig, out: Option<&Path>) -> Trainer<'a> {
    tch::manual_seed(11);
    let out = out.map(|dir| dir.join(concept.to_string()));
    Trainer::new(architecture(concept).build(tch::Device::Cpu), data, config, out).expect("trainer")
}

fn same_weights(a: &Trainer, b: &Trainer) -> bool {
    let (a, b) = (named_variables(a.network.var_store()), named_variables(b.network.var_store()));
    a.len() == b.len() && a.iter().zip(&b).all(|((_, x), (_, y))| x.equal(y))
}

#[test]
fn a_product_of_one_model_trains_exactly_as_the_model_alone() {
    let _serial = common::serial();
    let color = data(ShapesConcept::Color);
    let mut alone = member(ShapesConcept::Color, &color, 4, None);
    alone.run(&ebm::Quiet).expect("alone");
    let mut product = ProductTrainer::new(vec![member(ShapesConcept::Color, &color, 4, None)], None).expect("product");
    product.run(&ebm::Quiet).expect("product");
    assert!(
        same_weights(&alone, &product.members[0]),
        "a one-member product drifted from the ordinary trainer"
    );
}

#[test]
fn during_the_supervised_warm_up_each_member_trains_as_it_would_alone() {
    let _serial = common::serial();
    let warm = || TrainConfig {
        label_ce_weight: 1.0,
        supervised_warmup: 3,
        ..config(3)
    };
    let (shape, size) = (data(ShapesConcept::Shape), data(ShapesConcept::Size));
    let mut product = ProductTrainer::new(
        vec![
            member_with(ShapesConcept::Shape, &shape, warm(), None),
            member_with(ShapesConcept::Size, &size, warm(), None),
        ],
        None,
    )
    .expect("product");
    product.run(&ebm::Quiet).expect("product");
    for (trained, (concept, data)) in product
        .members
        .iter()
        .zip([(ShapesConcept::Shape, &shape), (ShapesConcept::Size, &size)])
    {
        let mut alone = member_with(concept, data, warm(), None);
        alone.run(&ebm::Quiet).expect("alone");
        assert!(
            same_weights(&alone, trained),
            "{concept}: the product's warm-up differs from training alone"
        );
        assert!(
            !same_weights(&member_with(concept, data, warm(), None), trained),
            "{concept}: the warm-up left the weights unchanged"
        );
    }
}

#[test]
fn an_interrupted_product_resumes_exactly_and_its_members_share_negatives() {
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
    let whole = run(6, &dir.path().join("whole"));
    let part_dir = dir.path().join("part");
    drop(run(3, &part_dir));
    let members = vec![
        resume(&part_dir.join("pos"), &pos, Some(6)).expect("resume pos"),
        resume(&part_dir.join("color"), &color, Some(6)).expect("resume color"),
    ];
    let mut resumed = ProductTrainer::new(members, Some(part_dir.clone())).expect("resumed product");
    resumed.run(&ebm::Quiet).expect("resumed run");
    for (a, b) in whole.members.iter().zip(&resumed.members) {
        assert!(same_weights(a, b), "a member differs after resume");
    }
    // Each member's card names the product it was trained in (marginalisation reads it).
    let card = ebm::checkpoint::load_checkpoint(&part_dir.join("color").join(ebm::train::state::MODEL_FILE)).expect("checkpoint");
    assert_eq!(
        card.card.training[ebm::train::state::PRODUCT_OF],
        serde_json::json!(["pos", "color"])
    );
    // Trained alone, the colour model sees other negatives: its weights differ.
    let mut alone = member(ShapesConcept::Color, &color, 6, None);
    alone.run(&ebm::Quiet).expect("alone");
    assert!(
        !same_weights(&alone, &whole.members[1]),
        "the product's colour member trained as if alone"
    );
    // Members that disagree on the schedule are refused.
    let mismatched = vec![
        member(ShapesConcept::Pos, &pos, 6, None),
        member(ShapesConcept::Color, &color, 5, None),
    ];
    assert!(ProductTrainer::new(mismatched, None).is_err());
}

/// An unconditional member (the product's prior, `--product … --prior`) has
/// no code; its energy is part of the chain's and it is updated on the same
/// negatives.
#[test]
fn a_product_takes_an_unconditional_member() {
    let _serial = common::serial();
    let pos = data(ShapesConcept::Pos);
    let prior = ebm::data::Unconditional(data(ShapesConcept::Color));
    let mut prior_arch = architecture(ShapesConcept::Color);
    if let Architecture::Conv(conv) = &mut prior_arch {
        conv.code_dim = 0;
    }
    tch::manual_seed(11);
    let unconditional = Trainer::new(prior_arch.build(tch::Device::Cpu), &prior, config(3), None).expect("prior trainer");
    let before: Vec<tch::Tensor> = named_variables(unconditional.network.var_store())
        .into_iter()
        .map(|(_, t)| t.copy())
        .collect();
    let mut product = ProductTrainer::new(vec![member(ShapesConcept::Pos, &pos, 3, None), unconditional], None).expect("product");
    product.run(&ebm::Quiet).expect("run");
    let after = named_variables(product.members[1].network.var_store());
    assert!(
        before.iter().zip(&after).any(|(a, (_, b))| !a.equal(b)),
        "the prior member was not trained"
    );
    assert!(product.members.iter().all(|m| m.step == 3));
}

/// An energy that is the same everywhere: a partner that draws nothing.
struct Flat;

impl ebm::energy::Energy for Flat {
    fn energy(&self, x: &tch::Tensor, _code: Option<&tch::Tensor>) -> tch::Tensor {
        x.flatten(1, -1).sum_dim_intlist(1, false, tch::Kind::Float) * 0.0
    }
}

/// A frozen partner joins the chain and is never updated: with a flat energy
/// the member trains exactly as alone; with a trained model it sees other
/// negatives, and its card lists the partner.
#[test]
fn a_frozen_partner_shapes_the_negatives_and_is_never_updated() {
    use ebm::train::product::FrozenPartner;
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (shape, color) = (data(ShapesConcept::Shape), data(ShapesConcept::Color));
    let mut alone = member(ShapesConcept::Shape, &shape, 4, None);
    alone.run(&ebm::Quiet).expect("alone");

    let flat = FrozenPartner {
        name: "color".into(),
        model: &Flat,
        data: &color,
    };
    let mut beside_flat = ProductTrainer::new(vec![member(ShapesConcept::Shape, &shape, 4, None)], None)
        .and_then(|p| p.with_partners(vec![flat]))
        .expect("product");
    beside_flat.run(&ebm::Quiet).expect("run");
    assert!(same_weights(&alone, &beside_flat.members[0]), "a flat partner changed training");

    tch::manual_seed(3);
    let partner = architecture(ShapesConcept::Color).build(tch::Device::Cpu);
    let before: Vec<tch::Tensor> = named_variables(partner.var_store()).into_iter().map(|(_, t)| t.copy()).collect();
    let real = FrozenPartner {
        name: "color".into(),
        model: partner.as_ref(),
        data: &color,
    };
    let mut beside = ProductTrainer::new(
        vec![member(ShapesConcept::Shape, &shape, 4, Some(dir.path()))],
        Some(dir.path().to_path_buf()),
    )
    .and_then(|p| p.with_partners(vec![real]))
    .expect("product");
    beside.run(&ebm::Quiet).expect("run");
    assert!(!same_weights(&alone, &beside.members[0]), "the partner did not reach the negatives");
    let after = named_variables(partner.var_store());
    assert!(
        before.iter().zip(&after).all(|(a, (_, b))| a.equal(b)),
        "the frozen partner was updated"
    );
    let card = ebm::checkpoint::load_checkpoint(&dir.path().join("shape").join(ebm::train::state::MODEL_FILE)).expect("checkpoint");
    assert_eq!(
        card.card.training[ebm::train::state::PRODUCT_OF],
        serde_json::json!(["shape", "color"])
    );

    // A concept both trained and frozen is refused.
    let twin = FrozenPartner {
        name: "shape".into(),
        model: &Flat,
        data: &shape,
    };
    let product = ProductTrainer::new(vec![member(ShapesConcept::Shape, &shape, 4, None)], None).expect("product");
    assert!(product.with_partners(vec![twin]).is_err());
}
