//! Marginalising the concepts an expression omits (`ebm::compose::marginal`).

mod common;

use ebm::compose::marginal::{marginalise, prior_codes};
use ebm::compose::{Composed, ConceptModel};
use ebm::energy::{ConceptKind, ConceptSchema, Energy};
use ebm::sample::{langevin, LangevinConfig, LangevinOptions};
use tch::{Kind, Tensor};

/// A concept over one axis of the plane: category k puts a unit well at
/// `centres[k]` on axis `axis`; the other axis is free.
struct AxisWell {
    axis: i64,
    centres: Vec<f64>,
}

impl Energy for AxisWell {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let code = code.expect("a concept model needs its code").to_kind(x.kind());
        let centres = Tensor::from_slice(&self.centres).to_kind(x.kind());
        let centre = (code * centres).sum_dim_intlist(-1, false, x.kind());
        (x.select(1, self.axis) - centre).square() * 0.5
    }
}

fn schema(name: &str) -> ConceptSchema {
    ConceptSchema {
        name: name.into(),
        kind: ConceptKind::Categorical {
            categories: vec!["low".into(), "high".into()],
        },
    }
}

fn one_hot(k: i64) -> Tensor {
    Tensor::from_slice(&[(k == 0) as i64 as f32, (k == 1) as i64 as f32])
}

fn leaf<'a>(model: &'a dyn Energy, k: i64, label: &str) -> Composed<'a> {
    Composed::Leaf {
        model,
        code: Some(one_hot(k)),
        label: label.into(),
    }
}

/// Two concepts on the two axes of the plane, wells at ±2.
fn wells() -> (AxisWell, AxisWell) {
    let well = |axis| AxisWell {
        axis,
        centres: vec![-2.0, 2.0],
    };
    (well(0), well(1))
}

fn partners<'a>(a: &'a AxisWell, b: &'a AxisWell) -> [ConceptModel<'a>; 2] {
    [
        ConceptModel {
            schema: schema("a"),
            energy: a,
            trained_with: None,
        },
        ConceptModel {
            schema: schema("b"),
            energy: b,
            trained_with: None,
        },
    ]
}

/// `n` Langevin chains from the origin, long enough to mix between the wells.
fn sample(energy: &dyn Energy, n: usize) -> Tensor {
    let config = LangevinConfig {
        step_size: 0.1,
        noise_std: 0.1f64.sqrt(),
        steps: 300,
        grad_clip: None,
        clamp: None,
    };
    let start = Tensor::zeros([n as i64, 2], (Kind::Float, tch::Device::Cpu));
    langevin(energy, &start, None, &config, &LangevinOptions::default()).x
}

/// A chain asked only for `a` samples a's value, and b's two values in the
/// proportions of b's prior; without marginalisation b's axis never moves.
#[test]
fn an_omitted_concept_is_sampled_from_its_prior() {
    let _serial = common::serial();
    tch::manual_seed(0);
    let (a, b) = wells();
    let partners = partners(&a, &b);
    let n = 400;
    let mut rng = ebm::seed::rng_at(1, &[2]);
    let energy = marginalise(leaf(&a, 1, "a=high"), &partners, n, &mut rng);
    assert_eq!(energy.describe(), "(a=high & b~prior)");
    let x = sample(&energy, n);
    let mean = |t: Tensor| t.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    assert!((mean(x.select(1, 0)) - 2.0).abs() < 0.2, "a's axis missed its asked value");
    let high_b = mean(x.select(1, 1).gt(0.0));
    assert!((high_b - 0.5).abs() < 0.08, "b's values drawn in proportion {high_b:.3}, prior 0.5");
    let b_spread = mean(x.select(1, 1).abs());
    assert!(
        (b_spread - 2.0).abs() < 0.2,
        "b's axis did not settle into b's wells: |x₁| {b_spread:.2}"
    );
}

/// `a & !b=low`: b is marginalised over the categories the NOT allows, so
/// every chain settles in b's other well.
#[test]
fn a_negated_category_is_marginalised_over_the_others() {
    let _serial = common::serial();
    tch::manual_seed(0);
    let (a, b) = wells();
    let partners = partners(&a, &b);
    let n = 200;
    let not = Composed::Not {
        positive: Box::new(leaf(&a, 0, "a=low")),
        negated: vec![leaf(&b, 0, "b=low")],
        alpha: 0.2,
    };
    let mut rng = ebm::seed::rng_at(1, &[4]);
    let energy = marginalise(not, &partners, n, &mut rng);
    assert_eq!(energy.describe(), "(a=low & b~allowed)");
    let x = sample(&energy, n);
    let high_b = x.select(1, 1).gt(0.0).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    assert!(high_b > 0.95, "only {high_b:.3} of chains reached the one category the NOT allows");
}

/// Each OR branch is completed with what it omits; nothing is added when
/// nothing is omitted, and a NOT of every category is left as written.
#[test]
fn omitted_concepts_are_found_per_branch() {
    let (a, b) = wells();
    let partners = partners(&a, &b);
    let mut rng = ebm::seed::rng_at(1, &[3]);
    let or = Composed::Or {
        terms: vec![(1.0, leaf(&a, 0, "a=low")), (1.0, leaf(&b, 1, "b=high"))],
        temperature: 1.0,
    };
    assert_eq!(
        marginalise(or, &partners, 4, &mut rng).describe(),
        "((a=low & b~prior) | (b=high & a~prior))"
    );
    let both = Composed::And(vec![(1.0, leaf(&a, 0, "a=low")), (1.0, leaf(&b, 1, "b=high"))]);
    assert_eq!(marginalise(both, &partners, 4, &mut rng).describe(), "(a=low & b=high)");
    let nothing_left = Composed::Not {
        positive: Box::new(leaf(&a, 0, "a=low")),
        negated: vec![leaf(&b, 0, "b=low"), leaf(&b, 1, "b=high")],
        alpha: 1.0,
    };
    let described = nothing_left.describe();
    assert_eq!(marginalise(nothing_left, &partners, 4, &mut rng).describe(), described);
}

/// Prior codes: one-hot and uniform over categories; continuous codes
/// uniform over the range, encoded onto [−1, 1].
#[test]
fn prior_codes_follow_the_concepts_prior() {
    let mut rng = ebm::seed::rng_at(5, &[]);
    let n = 4000;
    let codes = prior_codes(&schema("a"), n, &mut rng);
    assert_eq!(codes.size(), [n as i64, 2]);
    assert!(codes.sum_dim_intlist(1, false, Kind::Float).eq(1.0).all().int64_value(&[]) == 1);
    let high = codes.select(1, 1).mean(Kind::Double).double_value(&[]);
    assert!((high - 0.5).abs() < 0.03, "category frequency {high:.3}");
    let size = ConceptSchema {
        name: "size".into(),
        kind: ConceptKind::Continuous {
            components: vec!["r".into()],
            range: (0.10, 0.18),
        },
    };
    let codes = prior_codes(&size, n, &mut rng);
    let (lo, hi) = (codes.min().double_value(&[]), codes.max().double_value(&[]));
    assert!(
        lo >= -1.0 && hi <= 1.0 && lo < -0.95 && hi > 0.95,
        "continuous codes span [{lo:.3}, {hi:.3}]"
    );
    assert!(codes.mean(Kind::Double).double_value(&[]).abs() < 0.05);
}

/// Under `auto`, a product member's card names the concepts it was trained
/// beside (members or frozen partners): those are marginalised when an
/// expression omits them, even when their own cards name no product.
#[test]
fn auto_marginalises_product_members_and_their_frozen_partners() {
    use ebm::checkpoint::{save_checkpoint, ModelCard};
    use ebm::compose::library::ConceptLibrary;
    use ebm::compose::marginal::Marginalise;
    use ebm::data::shapes_concept::ShapesConcept;
    use ebm::energy::{Architecture, ConvConfig};
    use ebm::sample::{ChainStart, InitNoise, SamplerDefaults};
    let dir = tempfile::tempdir().expect("tempdir");
    let save = |concept: ShapesConcept, product_of: Option<&[&str]>| {
        let architecture = Architecture::Conv(ConvConfig {
            code_dim: concept.schema().code_dim(),
            ..ConvConfig::base(3, 32, &[4])
        });
        let network = architecture.build(tch::Device::Cpu);
        let sampler = SamplerDefaults {
            langevin: LangevinConfig::default(),
            init: InitNoise::uniform(0.0, 1.0),
            start: ChainStart::Background,
        };
        let mut card = ModelCard::new(architecture, Some(concept.schema()), serde_json::json!({}), sampler);
        if let Some(members) = product_of {
            card.training = serde_json::json!({ ebm::train::state::PRODUCT_OF: members });
        }
        let path = dir.path().join(format!("{}.safetensors", concept.name()));
        save_checkpoint(&path, network.as_ref(), &card).expect("save");
        format!("{}={}", concept.name(), path.display())
    };
    let specs = [
        save(ShapesConcept::Shape, Some(&["shape", "size"])),
        save(ShapesConcept::Size, None),
        save(ShapesConcept::Color, None),
    ];
    let library = ConceptLibrary::load(&specs).expect("library");
    let names = |mode| -> Vec<String> { library.marginal_partners(mode).iter().map(|m| m.schema.name.clone()).collect() };
    assert_eq!(names(Marginalise::Auto), ["shape", "size"]);
    assert_eq!(names(Marginalise::On), ["shape", "size", "color"]);
    assert!(names(Marginalise::Off).is_empty());
    // A branch naming shape gets size (shape was trained with it); one naming
    // size or colour gets nothing under auto (neither lists the other), and
    // everything omitted under on.
    let models = library.concept_models();
    let branch = |k: usize| Composed::Leaf {
        model: models[k].energy,
        code: Some(Tensor::zeros([2, models[k].schema.code_dim()], (Kind::Float, tch::Device::Cpu))),
        label: models[k].schema.name.clone(),
    };
    let mut rng = rand::SeedableRng::seed_from_u64(0);
    let described =
        |k: usize, mode, rng: &mut rand_chacha::ChaCha8Rng| marginalise(branch(k), &library.marginal_partners(mode), 2, rng).describe();
    assert_eq!(described(0, Marginalise::Auto, &mut rng), "(shape & size~prior)");
    assert_eq!(described(1, Marginalise::Auto, &mut rng), "size");
    assert_eq!(described(2, Marginalise::Auto, &mut rng), "color");
    assert_eq!(described(2, Marginalise::On, &mut rng), "(color & shape~prior & size~prior)");
}

/// A refiner's composition borrows the chains' drawn OR branches and the
/// codes of the concepts both families marginalised (by label, per
/// branch), and keeps its own codes for a concept only it marginalised.
#[test]
fn borrowed_codes_follow_the_source_per_branch() {
    use ebm::compose::marginal::borrow_marginal_codes;
    let (a, b) = wells();
    let codes = |k: &[i64]| Tensor::stack(&k.iter().map(|&k| one_hot(k)).collect::<Vec<_>>(), 0);
    let drawn = |model: &'static str, k: &[i64]| (model, codes(k));
    let branch = |asked: Composed<'static>, marginal: Vec<(&'static str, Tensor)>, models: (&'static AxisWell, &'static AxisWell)| {
        let mut terms = vec![(1.0, asked)];
        for (label, code) in marginal {
            let model: &dyn Energy = if label.starts_with('a') { models.0 } else { models.1 };
            terms.push((
                1.0,
                Composed::Leaf {
                    model,
                    code: Some(code),
                    label: label.into(),
                },
            ));
        }
        Composed::And(terms)
    };
    let models: (&'static AxisWell, &'static AxisWell) = (Box::leak(Box::new(a)), Box::leak(Box::new(b)));
    let source = Composed::Select {
        terms: vec![
            (1.0, branch(leaf(models.0, 0, "a"), vec![drawn("b~prior", &[1, 0, 1])], models)),
            (1.0, branch(leaf(models.0, 1, "a"), vec![drawn("b~prior", &[0, 0, 1])], models)),
        ],
        branch: Tensor::from_slice(&[0i64, 1, 1]),
    };
    let target = Composed::Select {
        terms: vec![
            (
                1.0,
                branch(
                    leaf(models.0, 0, "a"),
                    vec![drawn("b~prior", &[0, 1, 0]), drawn("c~prior", &[1, 1, 0])],
                    models,
                ),
            ),
            (1.0, branch(leaf(models.0, 1, "a"), vec![drawn("b~prior", &[1, 1, 0])], models)),
        ],
        branch: Tensor::from_slice(&[1i64, 0, 0]),
    };
    let Composed::Select { terms, branch } = borrow_marginal_codes(target, &source) else {
        panic!("the OR stays drawn")
    };
    assert!(branch.equal(&Tensor::from_slice(&[0i64, 1, 1])));
    let code_of = |t: &Composed, label: &str| -> Tensor {
        let Composed::And(terms) = t else {
            panic!("a branch is a conjunction")
        };
        terms
            .iter()
            .find_map(|(_, t)| match t {
                Composed::Leaf {
                    label: l, code: Some(c), ..
                } if l == label => Some(c.shallow_clone()),
                _ => None,
            })
            .expect("the leaf is there")
    };
    assert!(code_of(&terms[0].1, "b~prior").equal(&codes(&[1, 0, 1])));
    assert!(code_of(&terms[1].1, "b~prior").equal(&codes(&[0, 0, 1])));
    assert!(
        code_of(&terms[0].1, "c~prior").equal(&codes(&[1, 1, 0])),
        "a concept only the target marginalised keeps its codes"
    );
}
