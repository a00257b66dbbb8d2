//! Measurement behind the toy composition test and the OR/NOT defaults:
//! energies trained alone on rectangles ("x < 0.5", "x > −0.5", …),
//! composed at sampling time; prints where each composition's samples land.
//! `TOY_STEPS=500 TOY_REUSE=0.5 cargo run --release --example compose_toy`

use ebm::compose::Composed;
use ebm::energy::{Energy, Network};
use ebm::experiments::toy2d::{concept_toy_config, fraction_in_band, train_box};

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

fn train(x: (f64, f64), seed: u64) -> Box<dyn Network> {
    let mut config = concept_toy_config(env("TOY_STEPS").unwrap_or(500), seed);
    config.replay.reuse_prob = env("TOY_REUSE").unwrap_or(config.replay.reuse_prob);
    train_box(x, config).unwrap()
}

fn leaf(model: &dyn Energy) -> Composed<'_> {
    Composed::leaf(model)
}

fn fraction(energy: &dyn Energy, inside: impl Fn(f64) -> bool) -> f64 {
    fraction_in_band(energy, 2000, inside)
}

fn main() {
    let a = train((-2.0, 0.5), 21);
    let b = train((-0.5, 2.0), 22);
    let left = train((-2.0, -0.5), 23);
    let right = train((0.5, 2.0), 24);
    let (ea, eb): (&dyn Energy, &dyn Energy) = (a.as_ref(), b.as_ref());
    println!("A alone in x<0.5: {:.3}", fraction(ea, |x| x <= 0.5));
    let and = Composed::And(vec![(1.0, leaf(ea)), (1.0, leaf(eb))]);
    println!("A AND B in |x|<=0.5: {:.3}", fraction(&and, |x| x.abs() <= 0.5));
    for temperature in [0.01, 0.1, 1.0] {
        let or = Composed::Or {
            terms: vec![(1.0, leaf(left.as_ref())), (1.0, leaf(right.as_ref()))],
            temperature,
        };
        let (l, r) = (fraction(&or, |x| x <= -0.5), fraction(&or, |x| x >= 0.5));
        println!("L OR R, T={temperature}: on boxes {:.3}, split {:.3}", l + r, l / (l + r));
    }
    for alpha in [0.05, 0.1, 0.2, 0.5, 1.0] {
        let not = Composed::Not {
            positive: Box::new(leaf(ea)),
            negated: vec![leaf(eb)],
            alpha,
        };
        println!(
            "A AND NOT B, α={alpha}: in B {:.3}, in A-only {:.3}",
            fraction(&not, |x| x >= -0.5),
            fraction(&not, |x| x < -0.5)
        );
    }
}
