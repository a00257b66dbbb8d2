//! Energies over noise levels: the composition algebra at each level, and
//! annealed sampling down the levels (with and without the probability-flow
//! predictor) on an exact noise-level family.

mod common;

use ebm::compose::Composed;
use ebm::energy::Energy;
use tch::{Kind, Tensor};

/// A Gaussian smoothed by noise: E_σ(x) = ‖x − μ‖² / 2(s² + σ²), the exact
/// noise-level family of N(μ, s²).
struct SmoothedGaussian {
    mean: f64,
    std: f64,
    range: (f64, f64),
}

impl Energy for SmoothedGaussian {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let sigma = Tensor::full([x.size()[0]], self.range.0, (x.kind(), x.device()));
        self.energy_at_noise(x, code, &sigma)
    }
    fn energy_at_noise(&self, x: &Tensor, _code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        let variance = sigma.square() + self.std * self.std;
        (x - self.mean).square().sum_dim_intlist(1, false, Kind::Double) / (variance * 2.0)
    }
    fn noise_range(&self) -> Option<(f64, f64)> {
        Some(self.range)
    }
}

#[test]
fn the_algebra_applies_at_each_noise_level_and_spans_its_members_ranges() {
    let a = SmoothedGaussian {
        mean: -1.0,
        std: 0.3,
        range: (0.05, 1.0),
    };
    let b = SmoothedGaussian {
        mean: 1.0,
        std: 0.5,
        range: (0.01, 0.5),
    };
    let plain = ebm::energy::GaussianEnergy::new(&[0.0, 0.5], &[1.0, 2.0]);
    let x = Tensor::randn([5, 2], (Kind::Double, tch::Device::Cpu));
    let nested = Composed::Or {
        terms: vec![
            (1.0, Composed::And(vec![(1.0, Composed::leaf(&a)), (0.5, Composed::leaf(&plain))])),
            (
                1.0,
                Composed::Not {
                    positive: Box::new(Composed::leaf(&b)),
                    negated: vec![Composed::leaf(&a)],
                    alpha: 0.2,
                },
            ),
        ],
        temperature: 0.7,
    };
    assert_eq!(nested.noise_range(), Some((0.01, 1.0)));
    for level in [0.8, 0.2, 0.02] {
        let sigma = Tensor::full([5], level, (Kind::Double, tch::Device::Cpu));
        let (ea, eb) = (a.energy_at_noise(&x, None, &sigma), b.energy_at_noise(&x, None, &sigma));
        let first = &ea + plain.energy(&x, None) * 0.5;
        let second = &eb - &ea * 0.2;
        let expected = Tensor::stack(&[-first / 0.7, -second / 0.7], 0).logsumexp([0i64].as_slice(), false) * -0.7;
        let got = nested.energy_at_noise(&x, None, &sigma);
        assert!((got - &expected).abs().max().double_value(&[]) < 1e-12, "σ = {level}");
        // A sampler that knows nothing of σ sees the same energy through AtNoiseLevel.
        let held = ebm::energy::AtNoiseLevel {
            energy: &nested,
            sigma: level,
            gradient: ebm::energy::LevelGradient::Exact,
        };
        assert!((held.energy(&x, None) - expected).abs().max().double_value(&[]) < 1e-12);
    }
    // Without σ, every member is at its own data level.
    let at_data = nested.energy(&x, None);
    let first = a.energy(&x, None) + plain.energy(&x, None) * 0.5;
    let second = b.energy(&x, None) - a.energy(&x, None) * 0.2;
    let expected = Tensor::stack(&[-first / 0.7, -second / 0.7], 0).logsumexp([0i64].as_slice(), false) * -0.7;
    assert!((at_data - expected).abs().max().double_value(&[]) < 1e-12);
    assert_eq!(Composed::leaf(&plain).noise_range(), None);
}

/// Annealing down the levels of an exact noise-level family ends at its
/// data distribution N(0.5, 0.1²), here through a composition of one member.
#[test]
fn annealing_down_noise_levels_reaches_the_data_distribution() {
    use ebm::sample::{sample_noise_levels, NoiseAnnealing};
    let _lock = common::serial();
    tch::manual_seed(11);
    let family = SmoothedGaussian {
        mean: 0.5,
        std: 0.1,
        range: (0.01, 1.0),
    };
    let composed = Composed::And(vec![(1.0, Composed::leaf(&family))]);
    let annealing = NoiseAnnealing {
        denoise_last: false,
        clamp: None,
        ..Default::default()
    };
    let run = sample_noise_levels(&composed, &[2000, 2], None, &annealing, &Default::default(), tch::Device::Cpu);
    assert_eq!(run.levels.len(), annealing.levels);
    let x = run.x.to_kind(Kind::Double);
    let (mean, std) = (x.mean(Kind::Double).double_value(&[]), x.std(true).double_value(&[]));
    assert!((mean - 0.5).abs() < 0.02 && (std - 0.1).abs() < 0.015, "mean {mean}, std {std}");
}

/// The probability-flow predictor alone (sampler steps of negligible size)
/// carries N(0.5, 1²) noise to the data distribution N(0.5, 0.1²); without
/// it the same schedule leaves the chains where they started.
#[test]
fn the_probability_flow_predictor_transports_noise_to_the_data() {
    use ebm::sample::{sample_noise_levels, NoiseAnnealing};
    let _lock = common::serial();
    let family = SmoothedGaussian {
        mean: 0.5,
        std: 0.1,
        range: (0.01, 1.0),
    };
    let moments = |predictor: bool| {
        tch::manual_seed(12);
        let annealing = NoiseAnnealing {
            levels: 60,
            steps_per_level: 1,
            step_scale: 1e-8,
            denoise_last: false,
            clamp: None,
            predictor,
            ..Default::default()
        };
        let x = sample_noise_levels(&family, &[2000, 2], None, &annealing, &Default::default(), tch::Device::Cpu).x;
        let x = x.to_kind(Kind::Double);
        (x.mean(Kind::Double).double_value(&[]), x.std(true).double_value(&[]))
    };
    let (mean, std) = moments(true);
    assert!(
        (mean - 0.5).abs() < 0.02 && (std - 0.1).abs() < 0.015,
        "with the predictor: mean {mean}, std {std}"
    );
    let (_, std) = moments(false);
    assert!(std > 0.5, "without the predictor the chains should barely move, std {std}");
}

/// Refinement (SDEdit) keeps what its start says above the starting level
/// and redraws what lies below it: on an equal mixture of N(−1, 0.1²) and
/// N(1, 0.1²), chains started at +1 and refined from σ = 0.2 stay in the +1
/// mode with its spread; refined from σ = 2 they forget the start and split.
#[test]
fn refinement_keeps_the_start_above_its_level_and_forgets_it_from_the_top() {
    use ebm::sample::{refine_noise_levels, NoiseAnnealing};
    let _lock = common::serial();
    let mode = |mean: f64| SmoothedGaussian {
        mean,
        std: 0.1,
        range: (0.01, 2.0),
    };
    let (left, right) = (mode(-1.0), mode(1.0));
    let mixture = Composed::Or {
        terms: vec![(1.0, Composed::leaf(&left)), (1.0, Composed::leaf(&right))],
        temperature: 1.0,
    };
    let annealing = NoiseAnnealing {
        levels: 20,
        denoise_last: false,
        clamp: None,
        ..Default::default()
    };
    let start = Tensor::ones([2000, 1], (Kind::Double, tch::Device::Cpu));
    let refined = |sigma: f64| {
        tch::manual_seed(13);
        let x = refine_noise_levels(&mixture, &start, sigma, None, &annealing, &Default::default()).x;
        let x = x.to_kind(Kind::Double);
        let right_share = x.gt(0.0).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
        (right_share, x)
    };
    let (share, x) = refined(0.2);
    let kept = x.masked_select(&x.gt(0.0));
    let (mean, std) = (kept.mean(Kind::Double).double_value(&[]), kept.std(true).double_value(&[]));
    assert!(share > 0.99, "from σ = 0.2, {share} of the chains stayed in the start's mode");
    assert!(
        (mean - 1.0).abs() < 0.03 && (std - 0.1).abs() < 0.02,
        "mode +1 refined to mean {mean}, std {std}"
    );
    let (share, _) = refined(2.0);
    assert!(
        (0.35..0.65).contains(&share),
        "from σ = 2, {share} in the start's mode (an even split expected)"
    );
}
