//! Measurement (not a test yet): three energies, each trained alone on half of
//! the eight-gaussians ring, composed by AND, OR and NOT at sampling time;
//! prints each composition's share of samples per mode region.
//! `TOY_STEPS=1000 cargo run --release --example compose_toy`

use ebm::compose::Composed;
use ebm::data::toy2d::eight_gaussian_modes;
use ebm::data::Toy2d;
use ebm::energy::{Energy, Network};
use ebm::experiments::toy2d::to_points;
use ebm::experiments::toy2d::{sample_toy, toy_architecture, toy_config, toy_sampler};
use ebm::train::Trainer;

fn train_on(modes: &[usize], seed: u64) -> Box<dyn Network> {
    let data = Toy2d::eight_gaussians_subset(modes, seed).unwrap();
    let mut config = toy_config(std::env::var("TOY_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(400), seed);
    config.batch_size = 128;
    tch::manual_seed(seed as i64);
    let mut trainer = Trainer::new(toy_architecture(false).build(tch::Device::Cpu), &data, config, None).unwrap();
    trainer.run(false).unwrap();
    trainer.network
}

fn leaf(model: &dyn Energy) -> Composed<'_> {
    Composed::Leaf {
        model,
        code: None,
        label: String::new(),
    }
}

/// Share of 1000 samples in each mode's region: nearest to that mode and
/// within 0.5 of it (5σ; neighbouring modes are 1.53 apart).
fn shares(energy: &dyn Energy) -> Vec<f64> {
    let sampler = toy_sampler(ebm::data::Toy2dKind::EightGaussians, &toy_config(1, 0).langevin);
    let points = to_points(&sample_toy(energy, &sampler, 1000, 200, 9));
    let modes = eight_gaussian_modes();
    let mut counts = [0usize; 8];
    for (x, y) in &points {
        let (k, d) = modes
            .iter()
            .enumerate()
            .map(|(k, m)| (k, (m.0 - x).hypot(m.1 - y)))
            .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        if d < 0.5 {
            counts[k] += 1;
        }
    }
    counts.iter().map(|&c| c as f64 / points.len() as f64).collect()
}

fn share(per_mode: &[f64], modes: &[usize]) -> f64 {
    modes.iter().map(|&m| per_mode[m]).sum()
}

fn main() {
    let a = train_on(&[0, 1, 2, 3], 21);
    let b = train_on(&[2, 3, 4, 5], 22);
    let c = train_on(&[4, 5, 6, 7], 23);
    let (ea, eb, ec): (&dyn Energy, &dyn Energy, &dyn Energy) = (a.as_ref(), b.as_ref(), c.as_ref());

    // Each alone covers its own half.
    let s = shares(ea);
    println!("A alone: {s:?}");

    // AND: the intersection {2, 3}.
    let and = Composed::And(vec![(1.0, leaf(ea)), (1.0, leaf(eb))]);
    let s = shares(&and);
    println!("A AND B: {s:?}");

    // OR of disjoint halves: both, about evenly.
    let or = Composed::Or {
        terms: vec![(1.0, leaf(ea)), (1.0, leaf(ec))],
        temperature: 0.01,
    };
    let s = shares(&or);
    println!("A OR C: {s:?}");
    let (left, right) = (share(&s, &[0, 1, 2, 3]), share(&s, &[4, 5, 6, 7]));
    println!("OR split: {:.3} / {:.3}", left / (left + right), right / (left + right));

    // NOT: A without B leaves A's modes outside B, {0, 1}.
    for alpha in [0.05, 0.1, 0.2] {
        let not = Composed::Not {
            positive: Box::new(leaf(ea)),
            negated: vec![leaf(eb)],
            alpha,
        };
        println!("alpha {alpha}: {:?}", shares(&not));
    }
    let not = Composed::Not {
        positive: Box::new(leaf(ea)),
        negated: vec![leaf(eb)],
        alpha: 0.5,
    };
    let s = shares(&not);
    println!("A AND NOT B: {s:?}");
}
