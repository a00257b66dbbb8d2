//! Ancestral sampling of an OR (`ebm::compose::mixture`).

mod common;

use ebm::compose::Composed;
use ebm::energy::Energy;
use tch::{Kind, Tensor};

/// Ancestral OR sampling: a chain's energy is its drawn branch's, and from a
/// start nearer one branch the soft-min sends every chain there while the
/// ancestral sampler splits them evenly.
#[test]
fn ancestral_or_sampling_splits_where_the_soft_min_collapses() {
    use ebm::compose::mixture::draw_branches;
    use ebm::energy::analytic::GaussianEnergy;
    use ebm::sample::{langevin, LangevinConfig, LangevinOptions};
    let _serial = common::serial();
    tch::manual_seed(0);
    let (a, b) = (
        GaussianEnergy::new(&[-3.0, 0.0], &[0.5, 0.5]),
        GaussianEnergy::new(&[3.0, 0.0], &[0.5, 0.5]),
    );
    let or = || Composed::Or {
        terms: vec![(1.0, Composed::leaf(&a)), (1.0, Composed::leaf(&b))],
        temperature: 0.01,
    };
    let n = 400;
    let mut rng = ebm::seed::rng_at(3, &[1]);
    let (select, branches) = draw_branches(or(), n, &mut rng);
    let branches = branches.expect("an OR draws branches");
    let x = Tensor::randn([n as i64, 2], (Kind::Float, tch::Device::Cpu));
    let (ea, eb, es) = (a.energy(&x, None), b.energy(&x, None), select.energy(&x, None));
    for (i, &k) in branches.iter().enumerate() {
        let want = if k == 0 { &ea } else { &eb }.double_value(&[i as i64]);
        assert!(
            (es.double_value(&[i as i64]) - want).abs() < 1e-6,
            "sample {i} took the wrong branch's energy"
        );
    }
    let config = LangevinConfig {
        step_size: 0.05,
        noise_std: 0.05f64.sqrt(),
        steps: 400,
        grad_clip: None,
        clamp: None,
    };
    let start = Tensor::full([n as i64, 2], -0.5, (Kind::Float, tch::Device::Cpu));
    let share_right = |energy: &dyn Energy| {
        let x = langevin(energy, &start, None, &config, &LangevinOptions::default()).x;
        x.select(1, 0).gt(0.0).to_kind(Kind::Double).mean(Kind::Double).double_value(&[])
    };
    let (soft_min, ancestral) = (share_right(&or()), share_right(&select));
    let drawn_right = branches.iter().filter(|&&k| k == 1).count() as f64 / n as f64;
    assert!(soft_min < 0.05, "soft-min OR: {soft_min:.3} of chains reached the far branch");
    assert!((ancestral - 0.5).abs() < 0.08, "ancestral OR: {ancestral:.3} on the right branch");
    assert!(
        (ancestral - drawn_right).abs() < 0.02,
        "chains left their drawn branch: {ancestral:.3} vs {drawn_right:.3}"
    );
}
