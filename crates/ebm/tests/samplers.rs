//! ULA, MALA, HMC, step adaptation, annealing and the ESS / R̂ diagnostics
//! against known answers. Every tolerance is stated where it is checked;
//! Monte Carlo tolerances are 4 Monte Carlo standard errors, with the
//! standard error computed from the effective sample size of the draws.

mod common;

use ebm::energy::GaussianEnergy;
use ebm::sample::{
    anneal, geometric, hamiltonian, langevin, leapfrog, sample, Annealed, LangevinConfig, LangevinOptions, Run, SampleOptions,
    SamplerConfig, SamplerKind, Schedule,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use common::samplers::*;

#[test]
fn mala_and_hmc_reproduce_a_correlated_gaussian() {
    let _serial = lock();
    let (mu, cov) = ([1.0, -2.0], [[1.0, 0.4], [0.4, 0.25]]);
    let energy = FullGaussian::new(mu, cov);
    let partial = SamplerConfig {
        momentum_refresh: 0.3,
        ..config(SamplerKind::Hmc, 0.12, 300, 3)
    };
    let cases = [
        (20, "MALA", config(SamplerKind::Mala, 0.1, 500, 1)),
        (21, "HMC", config(SamplerKind::Hmc, 0.05, 120, 10)),
        // Partial refresh at a step with frequent rejections: without the
        // momentum flip on rejection this chain would be biased.
        (22, "HMC, refresh 0.3", partial),
    ];
    for (seed, name, cfg) in cases {
        tch::manual_seed(seed);
        // Uniform on μ ± 3: far wider than the target, discarded as burn-in.
        let x0 = Tensor::rand([2000, 2], DOUBLE) * 6.0 - 3.0 + Tensor::from_slice(&mu);
        let run = sample(&energy, &x0, None, &cfg, &every_step());
        let burn = cfg.steps / 4;
        println!("{name}: acceptance {:.3}", run.mean_acceptance);
        for j in 0..2 {
            let (_, _, n_eff) = assert_moment(&chains_of(&run, burn, column(j)), mu[j as usize], &format!("{name} mean[{j}]"));
            assert!(n_eff > 2000.0, "{name}: ESS {n_eff} too small for a meaningful check");
        }
        for (i, j) in [(0, 0), (0, 1), (1, 1)] {
            let centred = |x: &Tensor| (x.select(1, i) - mu[i as usize]) * (x.select(1, j) - mu[j as usize]);
            let expected = cov[i as usize][j as usize];
            assert_moment(&chains_of(&run, burn, centred), expected, &format!("{name} cov[{i}][{j}]"));
        }
    }
}

/// E[α] at stationarity of MALA with step λ on N(0, I_d), by plain Monte
/// Carlo over (x, ε) in f64, written independently of the tensor code.
fn mala_acceptance_reference(d: usize, step: f64, samples: usize) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let shrink = 1.0 - step / 2.0;
    let mut total = 0.0;
    for _ in 0..samples {
        let (mut log_alpha, mut sq_x, mut sq_y) = (0.0, 0.0, 0.0);
        for _ in 0..d {
            let x: f64 = rng.sample(rand_distr::StandardNormal);
            let e: f64 = rng.sample(rand_distr::StandardNormal);
            let y = shrink * x + step.sqrt() * e;
            sq_x += x * x;
            sq_y += y * y;
            // log q(x | y) − log q(y | x)
            log_alpha += ((y - shrink * x).powi(2) - (x - shrink * y).powi(2)) / (2.0 * step);
        }
        log_alpha += 0.5 * (sq_x - sq_y);
        total += log_alpha.min(0.0).exp();
    }
    total / samples as f64
}

#[test]
fn mala_acceptance_matches_an_independent_monte_carlo_and_tends_to_one() {
    // Chains start at the exact target, so every step is at stationarity.
    // Sampler: 2000 chains × 100 steps (SE of mean α ≈ 1e-3); reference:
    // 4e5 draws (SE ≈ 5e-4). Tolerance 0.01. As λ → 0 the rejection rate of
    // MALA falls like λ^{3/2}: quartering λ divides it by ≈ 8 (checked in [6, 10]).
    let _serial = lock();
    let d = 10;
    let energy = GaussianEnergy::new(&[0.0; 10], &[1.0; 10]);
    let mut rejection = Vec::new();
    for (i, step) in [0.4, 0.1, 0.025].into_iter().enumerate() {
        tch::manual_seed(30 + i as i64);
        let x0 = Tensor::randn([2000, d as i64], DOUBLE);
        let run = sample(
            &energy,
            &x0,
            None,
            &config(SamplerKind::Mala, step, 100, 1),
            &SampleOptions::default(),
        );
        let reference = mala_acceptance_reference(d, step, 400_000);
        println!("λ = {step}: acceptance {:.4}, reference {reference:.4}", run.mean_acceptance);
        assert!(
            (run.mean_acceptance - reference).abs() < 0.01,
            "λ = {step}: {} vs {reference}",
            run.mean_acceptance
        );
        rejection.push(1.0 - run.mean_acceptance);
    }
    assert!(rejection[2] < 0.01, "acceptance at λ = 0.025 is {}", 1.0 - rejection[2]);
    for pair in rejection.windows(2) {
        let ratio = pair[0] / pair[1];
        println!("rejection ratio for λ / 4: {ratio:.2}");
        assert!((6.0..10.0).contains(&ratio), "rejection ratio {ratio}, expected ≈ 8");
    }
}

#[test]
fn hmc_with_one_leapfrog_step_is_mala() {
    let _serial = lock();
    let energy = FullGaussian::new([1.0, -2.0], [[1.0, 0.4], [0.4, 0.25]]);
    tch::manual_seed(39);
    let x0 = Tensor::rand([64, 2], DOUBLE) * 4.0 - 2.0;
    let runs = [SamplerKind::Mala, SamplerKind::Hmc].map(|kind| {
        tch::manual_seed(40);
        sample(&energy, &x0, None, &config(kind, 0.2, 50, 1), &SampleOptions::default())
    });
    let diff = (&runs[0].x - &runs[1].x).abs().max().double_value(&[]);
    assert!(diff < 1e-10, "MALA and HMC(L = 1) differ by {diff}");
    assert!((runs[0].mean_acceptance - runs[1].mean_acceptance).abs() < 1e-10);
    // Both moved: the check is not vacuous.
    let moved = (&runs[0].x - &x0).abs().min().double_value(&[]);
    assert!(moved > 0.0, "some chain never moved");
}

#[test]
fn ula_through_the_interface_is_langevin_with_noise_variance_equal_to_the_step() {
    // sample(ULA, λ, T) is langevin with step λ/T and σ = √λ, draw for draw
    // (f32 tensors, the default of GaussianEnergy and of the trainer).
    let _serial = lock();
    let energy = GaussianEnergy::new(&[0.5, -1.0], &[0.3, 2.0]);
    tch::manual_seed(45);
    let x0 = Tensor::rand([32, 2], (Kind::Float, tch::Device::Cpu)) * 4.0 - 2.0;
    let (step, temperature) = (0.02, 0.5);
    let cfg = SamplerConfig {
        temperature,
        grad_clip: Some(3.0),
        clamp: Some((-1.5, 1.5)),
        ..config(SamplerKind::Ula, step, 40, 1)
    };
    tch::manual_seed(46);
    let run = sample(
        &energy,
        &x0,
        None,
        &cfg,
        &SampleOptions {
            trace: true,
            ..Default::default()
        },
    );
    let reference_config = LangevinConfig {
        step_size: step / temperature,
        noise_std: step.sqrt(),
        steps: 40,
        grad_clip: Some(3.0),
        clamp: Some((-1.5, 1.5)),
    };
    tch::manual_seed(46);
    let reference = langevin(
        &energy,
        &x0,
        None,
        &reference_config,
        &LangevinOptions {
            trace: true,
            ..Default::default()
        },
    );
    let diff = (&run.x - &reference.x).abs().max().double_value(&[]);
    assert_eq!(diff, 0.0, "ULA and langevin differ by {diff}");
    assert_eq!(run.trace, reference.trace);
    assert_eq!(run.x.kind(), Kind::Float);
    assert!(run.acceptance.iter().all(|&a| a == 1.0));
}

#[test]
fn sampler_config_round_trips_through_json_and_fills_defaults() {
    let partial: SamplerConfig = serde_json::from_str(r#"{"kind": "hmc", "step_size": 0.1, "target_accept": 0.8}"#).unwrap();
    let expected = SamplerConfig {
        kind: SamplerKind::Hmc,
        step_size: 0.1,
        target_accept: Some(0.8),
        ..SamplerConfig::default()
    };
    assert_eq!(partial, expected);
    let back: SamplerConfig = serde_json::from_str(&serde_json::to_string(&expected).unwrap()).unwrap();
    assert_eq!(back, expected);
}

/// Sample variance of every x (> 0 or < 0 on `side`) in the frames from `skip` on.
fn side_variance(run: &Run, skip: usize, side: usize) -> f64 {
    let x = Tensor::cat(&run.frames[skip..], 0).flatten(0, -1);
    let x = x.masked_select(&if side == 1 { x.gt(0.0) } else { x.le(0.0) });
    x.var(true).double_value(&[])
}

#[test]
fn ula_is_biased_on_an_anisotropic_gaussian_where_mala_and_hmc_are_not() {
    // Stds 1 and 0.1 (condition number 100), λ = 0.01 = s²_min: ULA's
    // stationary variance in the narrow direction is s²/(1 − λ/4s²) = 4/3 s².
    let _serial = lock();
    let std = [1.0, 0.1];
    let energy = GaussianEnergy::new(&[0.0, 0.0], &std);
    let step = 0.01;
    for (seed, kind, steps, leapfrog) in [
        (50, SamplerKind::Ula, 150, 1),
        (51, SamplerKind::Mala, 200, 1),
        (52, SamplerKind::Hmc, 60, 10),
    ] {
        tch::manual_seed(seed);
        let x0 = Tensor::randn([2000, 2], DOUBLE) * Tensor::from_slice(&std);
        let run = sample(&energy, &x0, None, &config(kind, step, steps, leapfrog), &every_step());
        let burn = 20;
        for j in 0..2 {
            let s2 = std[j as usize] * std[j as usize];
            let scaled_square = move |x: &Tensor| x.select(1, j).square() / s2;
            let draws = chains_of(&run, burn, scaled_square);
            if kind == SamplerKind::Ula {
                let ratio = pooled_mean(&draws);
                println!("ULA var[{j}] / s² = {ratio:.4}");
                if j == 1 {
                    assert!(
                        ratio > 1.2,
                        "ULA's narrow variance is inflated by only {:.1}%",
                        100.0 * (ratio - 1.0)
                    );
                    assert!(
                        (ratio / (4.0 / 3.0) - 1.0).abs() < 0.05,
                        "ULA ratio {ratio} vs the discrete chain's 4/3"
                    );
                }
            } else {
                println!("{kind:?}: acceptance {:.3}", run.mean_acceptance);
                assert_moment(&draws, 1.0, &format!("{kind:?} var[{j}] / s²"));
            }
        }
    }
}

#[test]
fn mala_and_hmc_recover_mixture_weights_and_variances_where_ula_is_biased() {
    // 0.7 N(−1.25, 0.5²) + 0.3 N(1.25, 0.5²); chains start in the minor mode.
    // λ = 0.2 (λ/s² = 0.8): ULA inflates each mode's variance by ≈ 1/(1 − 0.2).
    let _serial = lock();
    let mixture = Mixture::two([0.7, 0.3], [-1.25, 1.25], 0.5);
    let (p_right, side) = mixture.side_moments();
    println!(
        "reference: P(x > 0) = {p_right:.4}, var | x<0 = {:.4}, var | x>0 = {:.4}",
        side[0].1, side[1].1
    );
    let burn = 300;
    for (seed, kind, steps, leapfrog) in [
        (60, SamplerKind::Ula, 600, 1),
        (61, SamplerKind::Mala, 1200, 1),
        (62, SamplerKind::Hmc, 600, 5),
    ] {
        tch::manual_seed(seed);
        let x0 = Tensor::randn([2000, 1], DOUBLE) * 0.5 + 1.25;
        let run = sample(&mixture, &x0, None, &config(kind, 0.2, steps, leapfrog), &every_step());
        let right = chains_of(&run, burn, |x: &Tensor| x.select(1, 0).gt(0.0).to_kind(Kind::Double));
        let var_left = side_variance(&run, burn, 0);
        println!("{kind:?}: acceptance {:.3}, var | x<0 = {var_left:.4}", run.mean_acceptance);
        if kind == SamplerKind::Ula {
            let inflation = var_left / side[0].1 - 1.0;
            println!(
                "ULA: P(x > 0) = {:.4}, within-mode variance inflated by {:.1}%",
                pooled_mean(&right),
                100.0 * inflation
            );
            assert!(inflation > 0.15, "ULA's variance inflation {inflation} is not measurable");
            continue;
        }
        let (_, mcse, _) = assert_moment(&right, p_right, &format!("{kind:?} P(x > 0)"));
        assert!(mcse < 0.01, "{kind:?}: weight MCSE {mcse} too large for a meaningful check");
        // The major mode holds ≈ 700 chains: a variance estimate from ≥ 1e5
        // correlated draws; 5% is well over 4 of its standard errors.
        assert!(
            (var_left / side[0].1 - 1.0).abs() < 0.05,
            "{kind:?}: var | x<0 = {var_left} vs {}",
            side[0].1
        );
        let var_right = side_variance(&run, burn, 1);
        assert!(
            (var_right / side[1].1 - 1.0).abs() < 0.07,
            "{kind:?}: var | x>0 = {var_right} vs {}",
            side[1].1
        );
    }
}

fn fraction_right(x: &Tensor) -> f64 {
    x.gt(0.0).to_kind(Kind::Double).mean(Kind::Double).double_value(&[])
}

#[test]
fn annealing_finds_the_other_mode_of_a_well_separated_mixture() {
    // 0.7 N(−4, 0.5²) + 0.3 N(4, 0.5²): a barrier of ≈ 32 nats. All chains
    // start in the left mode; plain MALA never crosses.
    let _serial = lock();
    let mixture = Mixture::two([0.7, 0.3], [-4.0, 4.0], 0.5);
    let x0 = || Tensor::randn([1000, 1], DOUBLE) * 0.5 - 4.0;
    let options = SampleOptions::default();
    tch::manual_seed(70);
    let plain = sample(&mixture, &x0(), None, &config(SamplerKind::Mala, 0.1, 600, 1), &options);
    let stuck = fraction_right(&plain.x);
    println!("plain MALA: fraction in the right mode {stuck:.4}");
    assert!(stuck < 0.01, "plain MALA crossed a 32-nat barrier: {stuck}");

    // Temperatures 30 → 1 (λ ∝ T): crossings stop where the barrier reaches
    // a few T, so the split freezes between 0.5/0.5 and 0.7/0.3.
    for (seed, kind) in [(71, SamplerKind::Mala), (72, SamplerKind::Hmc)] {
        tch::manual_seed(seed);
        let schedule = Schedule::temperatures(&geometric(30.0, 1.0, 12), 50, 0.1);
        let run = anneal(
            Annealed::Temperature(&mixture),
            &x0(),
            None,
            &schedule,
            &config(kind, 0.1, 0, 3),
            &options,
        );
        let found = fraction_right(&run.x);
        println!("{kind:?} tempered: fraction in the right mode {found:.4}");
        assert!((0.15..0.6).contains(&found), "{kind:?}: fraction {found} in the other mode");
    }

    // Noise levels 8 → 0.02 on the smoothed mixture (λ ∝ σ²): the weights are
    // 0.7/0.3 at every level, so the chains end with the right split.
    tch::manual_seed(73);
    let schedule = Schedule::noise_levels(&geometric(8.0, 0.02, 12), 40, 0.5 * 0.02 * 0.02);
    let family = SmoothedMixture(mixture.clone());
    let run = anneal(
        Annealed::Noise(&family),
        &x0(),
        None,
        &schedule,
        &config(SamplerKind::Mala, 0.0, 0, 1),
        &options,
    );
    let found = fraction_right(&run.x);
    println!(
        "MALA noise-annealed: fraction in the right mode {found:.4} (level acceptances {:?})",
        {
            run.levels
                .iter()
                .map(|l| (l.mean_acceptance * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        }
    );
    // 1000 chains: SE of the fraction ≈ 0.015.
    assert!((found - 0.3).abs() < 0.05, "noise annealing: fraction {found} vs 0.3");
}

#[test]
fn leapfrog_is_reversible_and_its_energy_error_is_second_order() {
    let _serial = lock();
    tch::manual_seed(80);
    let mixture = Mixture::two([0.7, 0.3], [-1.25, 1.25], 0.5);
    let x0 = Tensor::randn([64, 1], DOUBLE) * 1.5;
    let p0 = Tensor::randn([64, 1], DOUBLE);
    let (x1, p1) = leapfrog(&mixture, &x0, &p0, None, 0.05, 40, 1.0);
    let (x2, p2) = leapfrog(&mixture, &x1, &(-&p1), None, 0.05, 40, 1.0);
    let back = (&x2 - &x0)
        .abs()
        .max()
        .double_value(&[])
        .max((&p2 + &p0).abs().max().double_value(&[]));
    let moved = (&x1 - &x0).abs().mean(Kind::Double).double_value(&[]);
    println!("reversibility error {back:.2e} after moving {moved:.3} on average");
    assert!(back < 1e-10, "leapfrog not reversible: {back}");
    assert!(moved > 0.1);

    // Fixed trajectory length 1: |ΔH| ∝ ε².
    let h0 = hamiltonian(&mixture, &x0, &p0, None, 1.0);
    let error = |eps: f64, n: usize| {
        let (x, p) = leapfrog(&mixture, &x0, &p0, None, eps, n, 1.0);
        (hamiltonian(&mixture, &x, &p, None, 1.0) - &h0)
            .abs()
            .mean(Kind::Double)
            .double_value(&[])
    };
    let (coarse, fine) = (error(0.04, 25), error(0.02, 50));
    println!("|ΔH|: {coarse:.3e} at ε = 0.04, {fine:.3e} at ε = 0.02, ratio {:.3}", coarse / fine);
    assert!((3.6..4.4).contains(&(coarse / fine)), "halving ε divided |ΔH| by {}", coarse / fine);
}

#[test]
fn adaptation_reaches_the_target_acceptance_and_freezes_the_step() {
    let _serial = lock();
    let energy = FullGaussian::new([1.0, -2.0], [[1.0, 0.4], [0.4, 0.25]]);
    for (seed, kind, start, goal, leapfrog) in [(100, SamplerKind::Mala, 1e-3, 0.574, 1), (101, SamplerKind::Hmc, 1.0, 0.8, 3)] {
        tch::manual_seed(seed);
        let x0 = Tensor::rand([500, 2], DOUBLE) * 8.0 - 4.0;
        let warmup = 200;
        let cfg = SamplerConfig {
            target_accept: Some(goal),
            warmup,
            ..config(kind, start, 400, leapfrog)
        };
        let run = sample(&energy, &x0, None, &cfg, &SampleOptions::default());
        println!(
            "{kind:?}: λ {start} → {:.4}, acceptance after warm-up {:.3} (target {goal})",
            run.step_size, run.mean_acceptance
        );
        assert!(
            (run.mean_acceptance - goal).abs() < 0.05,
            "{kind:?}: acceptance {} vs {goal}",
            run.mean_acceptance
        );
        assert!(
            run.step_sizes[warmup..].iter().all(|&s| s == run.step_size),
            "step moved after warm-up"
        );
        assert!((run.step_size / start).ln().abs() > 1.0, "the step barely adapted");
        let distinct = run.step_sizes[..warmup].windows(2).filter(|w| w[0] != w[1]).count();
        assert!(distinct > warmup / 2, "the step changed only {distinct} times during warm-up");
    }
}

#[test]
fn masked_entries_stay_fixed_and_the_rest_samples_the_conditional() {
    // x₀ fixed at 2: x₁ | x₀ ~ N(−2 + 0.4·(2 − 1), 0.25 − 0.16) = N(−1.6, 0.09).
    let _serial = lock();
    let energy = FullGaussian::new([1.0, -2.0], [[1.0, 0.4], [0.4, 0.25]]);
    let mask = Tensor::from_slice(&[1.0, 0.0]).reshape([1, 2]);
    for (seed, kind, leapfrog) in [(110, SamplerKind::Mala, 1), (111, SamplerKind::Hmc, 3)] {
        tch::manual_seed(seed);
        let x0 = Tensor::cat(
            &[Tensor::full([2000, 1], 2.0, DOUBLE), Tensor::rand([2000, 1], DOUBLE) * 4.0 - 4.0],
            1,
        );
        let options = SampleOptions {
            fixed_mask: Some(&mask),
            ..every_step()
        };
        let run = sample(&energy, &x0, None, &config(kind, 0.05, 200, leapfrog), &options);
        let drift = (run.x.select(1, 0) - 2.0).abs().max().double_value(&[]);
        assert_eq!(drift, 0.0, "{kind:?}: a fixed entry moved");
        assert_moment(&chains_of(&run, 50, column(1)), -1.6, &format!("{kind:?} E[x1 | x0 = 2]"));
        let centred = |x: &Tensor| (x.select(1, 1) + 1.6).square();
        assert_moment(&chains_of(&run, 50, centred), 0.09, &format!("{kind:?} Var[x1 | x0 = 2]"));
    }
}

#[test]
fn clamped_chains_sample_the_target_restricted_to_the_box() {
    // N(0, 1) restricted to [0, 10]: a half-normal, mean √(2/π), E[x²] = 1.
    let _serial = lock();
    let energy = GaussianEnergy::new(&[0.0], &[1.0]);
    for (seed, kind, leapfrog) in [(120, SamplerKind::Mala, 1), (121, SamplerKind::Hmc, 2)] {
        tch::manual_seed(seed);
        let x0 = Tensor::rand([1000, 1], DOUBLE) * 2.0;
        let cfg = SamplerConfig {
            clamp: Some((0.0, 10.0)),
            ..config(kind, 0.3, 400, leapfrog)
        };
        let run = sample(&energy, &x0, None, &cfg, &every_step());
        assert!(run.frames.iter().all(|f| f.min().double_value(&[]) >= 0.0), "{kind:?} left the box");
        assert_moment(
            &chains_of(&run, 100, column(0)),
            (2.0 / std::f64::consts::PI).sqrt(),
            &format!("{kind:?} mean"),
        );
        assert_moment(
            &chains_of(&run, 100, |x: &Tensor| x.select(1, 0).square()),
            1.0,
            &format!("{kind:?} E[x²]"),
        );
    }
}
