//! The library's small pieces: names with aliases, the seed scheme, devices,
//! recipes and their overrides, concept inference by enumeration, and the
//! sampler built from a card's Langevin settings.

use ebm::data::shapes_concept::ShapesConcept;
use ebm::energy::{ConceptKind, ConceptSchema, Energy};
use ebm::infer::{candidate_codes, infer_codes};
use ebm::sample::{LangevinConfig, SamplerConfig, SamplerKind};
use ebm::train::recipe::{recipe, Dataset, Overrides};
use tch::{Device, Kind, Tensor};

#[test]
fn names_accept_both_spellings_and_list_the_choices_when_wrong() {
    assert_eq!("colour".parse::<ShapesConcept>(), Ok(ShapesConcept::Color));
    assert_eq!("COLOR".parse::<ShapesConcept>(), Ok(ShapesConcept::Color));
    assert_eq!(ShapesConcept::Color.to_string(), "color");
    let error = "hue".parse::<ShapesConcept>().unwrap_err();
    assert!(
        error.contains("unknown concept 'hue'") && error.contains("pos, color, shape, size"),
        "{error}"
    );
    assert_eq!(
        "leaky_relu".parse::<ebm::energy::Activation>(),
        Ok(ebm::energy::Activation::LeakyRelu)
    );
    assert!(ebm::names::same_name("Colour", "color") && !ebm::names::same_name("color", "shape"));
}

#[test]
fn seeds_derive_reproducibly_and_streams_differ() {
    use ebm::seed::{derive, streams};
    let children: std::collections::HashSet<u64> = (0..1000).map(|i| derive(7, &[streams::ROW, i])).collect();
    assert_eq!(children.len(), 1000, "no two rows share a seed");
    assert_ne!(derive(7, &[streams::ROW, 0]), derive(7, &[streams::CHUNK, 0]));
    assert_ne!(derive(7, &[1, 2]), derive(7, &[2, 1]), "paths are ordered");
    // The trainer reseeds libtorch each step with torch_seed(seed, [step]); it
    // must stay the SplitMix64 formula the trainer used before the scheme
    // existed, or every recorded training run would change.
    let before = |seed: u64, step: u64| {
        let mut z = seed.wrapping_add(step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 1) as i64
    };
    for (seed, step) in [(0, 0), (3, 40), (u64::MAX, 7), (12_345, 1_000_000)] {
        assert_eq!(ebm::seed::torch_seed(seed, &[step]), before(seed, step));
    }
}

#[test]
fn an_expression_names_the_judge_conditions_of_its_conjunction() {
    use ebm::experiments::composition::truth::judge_conditions;
    let expr =
        ebm::compose::parse("pos=(0.3,0.7) & colour=red & color=blue & color=green & !shape=circle & (size=0.1 | size=0.2)").unwrap();
    let conditions = judge_conditions(&expr, 4);
    let names: Vec<&str> = conditions.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["position"],
        "an ambiguous, negated or disjoined concept has no single target"
    );
    assert_eq!(conditions[0].1.size(), [4, 2]);
    let expr = ebm::compose::parse("shape=triangle & size=0.15").unwrap();
    let conditions = judge_conditions(&expr, 3);
    assert_eq!(Vec::<i64>::try_from(&conditions[0].1).unwrap(), [2, 2, 2]);
    assert_eq!(conditions[1].1.size(), [3, 1]);
}

#[test]
fn devices_parse_and_cuda_runs_where_present() {
    assert_eq!(ebm::device::parse_device("cpu"), Ok(Device::Cpu));
    assert!(ebm::device::parse_device("tpu")
        .unwrap_err()
        .contains("choose cpu, cuda, cuda:N or auto"));
    if tch::Cuda::device_count() == 0 {
        let error = ebm::device::parse_device("cuda").unwrap_err();
        assert!(error.contains("no CUDA device"), "{error}");
        eprintln!("CUDA smoke test skipped: libtorch sees no CUDA device");
        return;
    }
    let device = ebm::device::parse_device("cuda").unwrap();
    let network = ebm::experiments::toy2d::toy_architecture(false).build(device);
    let e = network.energy(&Tensor::randn([4, 2], (Kind::Float, device)), None);
    assert_eq!(e.size(), [4]);
    assert_eq!(e.device(), device);
}

#[test]
fn recipes_are_picked_by_name_and_overridden_once() {
    let mut r = recipe("shapes-colour", 100, 5).unwrap();
    assert!(matches!(
        r.dataset,
        Dataset::Shapes {
            concept: ShapesConcept::Color,
            ..
        }
    ));
    assert_eq!((r.config.steps, r.config.seed), (100, 5));
    r.apply(&Overrides {
        lr: Some(2e-4),
        widths: Some(vec![8, 8]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.config.lr, 2e-4);
    assert_eq!(r.architecture.code_dim(), 8);
    let cond = recipe("mnist-cond", 10, 0).unwrap();
    let hybrid = recipe("mnist-hybrid", 10, 0).unwrap();
    assert!(cond.config.data_noise > 0.0 && cond.config.label_ce_weight == 0.0);
    assert!(hybrid.config.data_noise == 0.0 && hybrid.config.label_ce_weight > 0.0);
    let mut toy = recipe("two-moons", 10, 0).unwrap();
    let refused = toy.apply(&Overrides {
        pool: Some(ebm::energy::conv::SpatialPool::Mean),
        ..Default::default()
    });
    assert!(refused.unwrap_err().to_string().contains("image models"));
    let bad = toy.apply(&Overrides {
        lr: Some(-1.0),
        ..Default::default()
    });
    assert!(bad.unwrap_err().to_string().contains("lr must be a positive number"));
    assert!(recipe("mnist-gan", 10, 0).is_err() && recipe("shapes-texture", 10, 0).is_err());
}

/// E(x | c) = ‖x − A c‖²: the lowest-energy candidate is the code whose image is nearest.
struct Nearest {
    a: Tensor,
}

impl Energy for Nearest {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let target = code.expect("conditional").matmul(&self.a.tr());
        (x - target).square().sum_dim_intlist(1, false, Kind::Float)
    }
}

#[test]
fn inference_recovers_the_code_of_an_analytic_energy() {
    let schema = ConceptSchema {
        name: "pos".into(),
        kind: ConceptKind::Continuous {
            components: vec!["x".into(), "y".into()],
            range: (0.2, 0.8),
        },
    };
    let candidates = candidate_codes(&schema, 7);
    assert_eq!(candidates.codes.size(), [49, 2]);
    let energy = Nearest {
        a: Tensor::from_slice(&[2.0f32, 0.0, 0.0, 3.0]).view([2, 2]),
    };
    // Images made from candidate codes 5, 17 and 40 must come back as exactly those.
    let chosen = [5i64, 17, 40];
    let x = candidates
        .codes
        .index_select(0, &Tensor::from_slice(&chosen))
        .matmul(&energy.a.tr());
    assert_eq!(infer_codes(&energy, &x, &candidates), vec![5, 17, 40]);
    // Candidate 40 = 5·7 + 5: the last component varies fastest.
    let expected = [0.2 + 0.6 * 5.0 / 6.0; 2];
    assert!(
        candidates.values[40].iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-12),
        "{:?}",
        candidates.values[40]
    );
    let categorical = ConceptSchema {
        name: "shape".into(),
        kind: ConceptKind::Categorical {
            categories: vec!["a".into(), "b".into(), "c".into()],
        },
    };
    let one_hot = candidate_codes(&categorical, 20);
    let x = Tensor::from_slice(&[0.0f32, 3.0, 2.0, 0.0]).view([2, 2]);
    let energy = Nearest {
        a: Tensor::from_slice(&[2.0f32, 0.0, 0.0, 0.0, 3.0, 0.0]).view([2, 3]),
    };
    assert_eq!(infer_codes(&energy, &x, &one_hot), vec![1, 0]);
}

#[test]
fn a_cards_langevin_becomes_the_exact_sampler_of_its_temperature() {
    let card = LangevinConfig {
        step_size: 20.0,
        noise_std: 0.01,
        steps: 30,
        grad_clip: Some(0.01),
        clamp: Some((0.0, 1.0)),
    };
    let mala = SamplerConfig::from_langevin(SamplerKind::Mala, &card);
    // Drift (λ/2)∇E/T must equal the card's (λ'/2)∇E, noise √λ the card's σ.
    assert!((mala.step_size / mala.temperature - card.step_size).abs() < 1e-9);
    assert!((mala.step_size.sqrt() - card.noise_std).abs() < 1e-12);
    assert_eq!((mala.steps, mala.clamp), (30, Some((0.0, 1.0))));
    assert!(mala.validate().is_ok());
    let broken = SamplerConfig {
        target_accept: Some(1.5),
        ..mala.clone()
    };
    assert!(broken.validate().unwrap_err().contains("target acceptance"));
}
