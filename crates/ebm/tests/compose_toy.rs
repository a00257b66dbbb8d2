//! Composition of independently trained 2-D concept energies (issue #4,
//! "Show" 2). Each energy is trained alone on a rectangle — A: x ∈ [−2, 0.5],
//! B: x ∈ [−0.5, 2], L: x ∈ [−2, −0.5], R: x ∈ [0.5, 2], all with |y| ≤ 2 —
//! and composed at sampling time with the library's default α and T.

mod common;

use ebm::compose::algebra::{DEFAULT_ALPHA, DEFAULT_TEMPERATURE};
use ebm::compose::Composed;
use ebm::energy::Energy;
use ebm::experiments::toy2d::{concept_toy_config, fraction_in_band, train_box};

fn leaf(model: &dyn Energy) -> Composed<'_> {
    Composed::leaf(model)
}

fn fraction(energy: &dyn Energy, inside: impl Fn(f64) -> bool) -> f64 {
    fraction_in_band(energy, 1000, inside)
}

#[test]
fn and_or_not_of_independently_trained_toy_energies() {
    let _serial = common::serial();
    let train = |x, seed| train_box(x, concept_toy_config(300, seed)).unwrap();
    let (a, b) = (train((-2.0, 0.5), 21), train((-0.5, 2.0), 22));
    let (l, r) = (train((-2.0, -0.5), 23), train((0.5, 2.0), 24));
    let (ea, eb): (&dyn Energy, &dyn Energy) = (a.as_ref(), b.as_ref());

    let alone = fraction(ea, |x| x <= 0.5);
    assert!(alone >= 0.9, "A alone should stay in its rectangle: {alone:.3}");

    let and = Composed::And(vec![(1.0, leaf(ea)), (1.0, leaf(eb))]);
    let in_both = fraction(&and, |x| x.abs() <= 0.5);
    assert!(in_both >= 0.9, "A AND B should land in A∩B (|x| ≤ 0.5): {in_both:.3}");

    let or = Composed::Or {
        terms: vec![(1.0, leaf(l.as_ref())), (1.0, leaf(r.as_ref()))],
        temperature: DEFAULT_TEMPERATURE,
    };
    let (left, right) = (fraction(&or, |x| x <= -0.5), fraction(&or, |x| x >= 0.5));
    assert!(
        left + right >= 0.9,
        "L OR R should stay in the two rectangles: {left:.3} + {right:.3}"
    );
    let split = left / (left + right);
    assert!((split - 0.5).abs() <= 0.1, "L OR R should split evenly, got {split:.3}");

    let not = Composed::Not {
        positive: Box::new(leaf(ea)),
        negated: vec![leaf(eb)],
        alpha: DEFAULT_ALPHA,
    };
    let (in_b, a_only) = (fraction(&not, |x| x >= -0.5), fraction(&not, |x| x < -0.5));
    assert!(in_b <= 0.1, "A AND NOT B should avoid B (x ≥ −0.5): {in_b:.3}");
    assert!(a_only >= 0.85, "A AND NOT B should keep the rest of A: {a_only:.3}");
}
