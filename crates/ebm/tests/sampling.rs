//! Langevin dynamics and the replay buffer against known answers.

mod common;

use ebm::energy::GaussianEnergy;
use ebm::sample::{langevin, BufferMode, InitNoise, LangevinConfig, LangevinOptions, ReplayBuffer, ReplayConfig};
use tch::{Kind, Tensor};

fn column_stats(x: &Tensor) -> (Vec<f64>, Vec<f64>) {
    let x = x.to_kind(Kind::Double);
    let mean = x.mean_dim(0, false, Kind::Double);
    let var = x.var_dim(0, false, false);
    let to_vec = |t: &Tensor| (0..t.size()[0]).map(|i| t.double_value(&[i])).collect();
    (to_vec(&mean), to_vec(&var))
}

/// Stationary variance of x ← x − (λ/2)(x − μ)/s² + σε, an AR(1) chain.
fn discrete_variance(s: f64, step: f64, noise: f64) -> f64 {
    let a = 1.0 - step / (2.0 * s * s);
    noise * noise / (1.0 - a * a)
}

#[test]
fn langevin_reproduces_a_gaussian() {
    let _serial = common::serial();
    tch::manual_seed(10);
    let (mean, std) = ([1.0, -2.0], [0.5, 1.5]);
    let energy = GaussianEnergy::new(&mean, &std);
    let step: f64 = 0.02;
    let config = LangevinConfig {
        step_size: step,
        noise_std: step.sqrt(),
        steps: 2500,
        grad_clip: None,
        clamp: None,
    };
    let x0 = Tensor::rand([4000, 2], (Kind::Float, tch::Device::Cpu)) * 8.0 - 4.0;
    let x = langevin(&energy, &x0, None, &config, &LangevinOptions::default()).x;
    let (m, v) = column_stats(&x);
    for d in 0..2 {
        // Standard error of the mean over 4000 chains is s/63; allow ~4 of them.
        assert!((m[d] - mean[d]).abs() < 4.0 * std[d] / 63.0, "mean[{d}] = {} vs {}", m[d], mean[d]);
        // σ² = λ targets exp(−E) itself: variance s² up to the O(λ) discretisation bias.
        let target = std[d] * std[d];
        assert!((v[d] / target - 1.0).abs() < 0.06, "var[{d}] = {} vs {target}", v[d]);
        let exact = discrete_variance(std[d], step, config.noise_std);
        assert!((v[d] / exact - 1.0).abs() < 0.05, "var[{d}] = {} vs discrete-chain {exact}", v[d]);
    }
}

#[test]
fn noise_is_independent_of_the_step_size() {
    // σ² = λ/4 samples exp(−E/T) with T = 1/4: the variance shrinks fourfold.
    let _serial = common::serial();
    tch::manual_seed(11);
    let energy = GaussianEnergy::new(&[0.0], &[1.0]);
    let step: f64 = 0.05;
    let config = LangevinConfig {
        step_size: step,
        noise_std: step.sqrt() / 2.0,
        steps: 1500,
        grad_clip: None,
        clamp: None,
    };
    let x = langevin(
        &energy,
        &Tensor::zeros([4000, 1], (Kind::Float, tch::Device::Cpu)),
        None,
        &config,
        &LangevinOptions::default(),
    )
    .x;
    let (_, v) = column_stats(&x);
    let exact = discrete_variance(1.0, step, config.noise_std);
    assert!((v[0] / exact - 1.0).abs() < 0.06, "variance {} vs {exact}", v[0]);
    assert!((v[0] - 0.25).abs() < 0.03, "variance {} vs T = 0.25", v[0]);
}

#[test]
fn masked_entries_stay_fixed_and_clamp_and_clip_hold() {
    let _serial = common::serial();
    tch::manual_seed(12);
    let energy = GaussianEnergy::new(&[5.0, 5.0, 5.0], &[0.1, 0.1, 0.1]);
    let x0 = Tensor::rand([64, 3], (Kind::Float, tch::Device::Cpu));
    let mask = Tensor::from_slice(&[1.0f32, 0.0, 0.0]).reshape([1, 3]);
    let config = LangevinConfig {
        step_size: 1.0,
        noise_std: 0.01,
        steps: 50,
        grad_clip: Some(0.02),
        clamp: Some((0.0, 1.0)),
    };
    let options = LangevinOptions {
        fixed_mask: Some(&mask),
        trace: true,
        record_every: Some(10),
    };
    let out = langevin(&energy, &x0, None, &config, &options);
    assert!(out.x.select(1, 0).equal(&x0.select(1, 0)), "masked column changed");
    assert!(
        out.x.min().double_value(&[]) >= 0.0 && out.x.max().double_value(&[]) <= 1.0,
        "clamp violated"
    );
    // With the gradient clipped to 0.02 the drift is at most 0.01 per step.
    let moved = (out.frames[1].select(1, 1) - out.frames[0].select(1, 1))
        .abs()
        .max()
        .double_value(&[]);
    assert!(moved < 10.0 * (0.01 + 4.0 * 0.01) + 1e-6, "moved {moved} in 10 steps");
    assert_eq!(out.trace.len(), 51);
    assert!(out.trace.last() < out.trace.first(), "energy did not decrease: {:?}", out.trace);
}

#[test]
fn replay_buffer_reuses_at_the_configured_rate_and_keeps_codes() {
    let _serial = common::serial();
    tch::manual_seed(13);
    let mut buffer = ReplayBuffer::new(ReplayConfig {
        capacity: 100,
        reuse_prob: 0.95,
        mode: BufferMode::Fifo,
        reuse_codes: true,
    });
    let fresh = Tensor::zeros([2000, 3], (Kind::Float, tch::Device::Cpu));
    let fresh_codes = Tensor::zeros([2000, 2], (Kind::Float, tch::Device::Cpu));
    let (x, codes) = buffer.draw(&fresh, Some(&fresh_codes));
    assert!(x.equal(&fresh) && codes.is_some(), "an empty buffer must hand back the fresh batch");
    // Each stored sample's code equals its first coordinate, so pairs can be checked.
    let stored = Tensor::arange(150, (Kind::Float, tch::Device::Cpu)) + 1.0;
    buffer.push(&stored.unsqueeze(1).repeat([1, 3]), Some(&stored.unsqueeze(1).repeat([1, 2])));
    assert_eq!(buffer.len(), 100);
    let (x, codes) = buffer.draw(&fresh, Some(&fresh_codes));
    let codes = codes.expect("codes");
    let reused = x.select(1, 0).gt(0.0);
    let rate = reused.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    assert!((rate - 0.95).abs() < 0.02, "reuse rate {rate}");
    assert!(x.select(1, 0).equal(&codes.select(1, 0)), "codes were separated from their samples");
    // FIFO: the oldest 50 were overwritten, so only values 51..=150 remain.
    let min_reused = x.select(1, 0).masked_select(&reused).min().double_value(&[]);
    assert!(min_reused >= 51.0, "found overwritten sample {min_reused}");
    // Without reuse_codes, restarted chains take the fresh codes (split-MNIST).
    buffer.config.reuse_codes = false;
    let (x, codes) = buffer.draw(&fresh, Some(&fresh_codes));
    assert!(x.select(1, 0).gt(0.0).any().int64_value(&[]) == 1, "nothing was reused");
    assert!(codes.expect("codes").equal(&fresh_codes), "reused chains kept their old codes");
}

#[test]
fn reservoir_buffer_keeps_a_uniform_sample_of_everything_pushed() {
    let _serial = common::serial();
    tch::manual_seed(14);
    let mut buffer = ReplayBuffer::new(ReplayConfig {
        capacity: 2000,
        reuse_prob: 1.0,
        mode: BufferMode::Reservoir,
        reuse_codes: true,
    });
    for chunk in 0..20 {
        let values = Tensor::arange(250, (Kind::Float, tch::Device::Cpu)) + (chunk * 250) as f64;
        buffer.push(&values.unsqueeze(1), None);
    }
    let (x, _) = buffer.draw(&Tensor::zeros([20000, 1], (Kind::Float, tch::Device::Cpu)), None);
    // 2000 kept of 0..5000 uniformly: mean 2500 ± 32 (one standard error).
    let mean = x.mean(Kind::Double).double_value(&[]);
    assert!((mean - 2500.0).abs() < 130.0, "mean {mean}: reservoir favours old or new samples");
}

#[test]
fn start_noise_power_skews_toward_lo_with_the_right_moments() {
    tch::manual_seed(5);
    // lo + (hi − lo)·uᵖ has mean lo + (hi − lo)/(p + 1) and, for the
    // median, lo + (hi − lo)·0.5ᵖ.
    for (lo, hi, power) in [(0.0, 1.0, 1.0), (0.0, 1.0, 3.0), (-2.0, 2.0, 2.0)] {
        let x = InitNoise { lo, hi, power }.sample(&[200_000]);
        let mean = x.mean(Kind::Double).double_value(&[]);
        let median = x.median().double_value(&[]);
        let want_mean = lo + (hi - lo) / (power + 1.0);
        let want_median = lo + (hi - lo) * 0.5f64.powf(power);
        assert!(
            (mean - want_mean).abs() < 0.01 * (hi - lo),
            "p={power}: mean {mean} want {want_mean}"
        );
        assert!(
            (median - want_median).abs() < 0.01 * (hi - lo),
            "p={power}: median {median} want {want_median}"
        );
        assert!(x.min().double_value(&[]) >= lo && x.max().double_value(&[]) <= hi);
    }
}
