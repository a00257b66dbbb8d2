//! Autograd against finite differences in f64, for every layer type and both
//! networks, with and without spectral norm: ∇ₓE, and the mixed second
//! derivatives ∂(v·∇ₓE)/∂θ and ∂(v·∇ₓE)/∂code that COMET-style training
//! back-propagates through.

mod common;

use common::{check_input_gradient, check_mixed_second_derivative, randn, ScalarFn};
use ebm::energy::conv::{ResBlock, SpatialPool};
use ebm::energy::layers::{Conv3, Dense, Film};
use ebm::energy::network::named_parameters;
use ebm::energy::{Activation, Architecture, ConvConfig, MlpConfig, Network};
use tch::{nn::VarStore, Device, Kind, Tensor};

/// Casts a network to f64 and sets every residual gain away from its zero
/// init, so each block's second conv takes part.
fn prepare(net: &mut Box<dyn Network>) {
    net.var_store_mut().double();
    for (name, mut p) in named_parameters(net.var_store()) {
        if name.contains("residual_gain") {
            let _ = tch::no_grad(|| p.fill_(0.7));
        }
    }
}

/// Checks ∇ₓE and the mixed derivatives in every parameter tensor and the code.
fn check_network(net: &dyn Network, x: &Tensor, code: Option<&Tensor>) {
    let f = |x: &Tensor, c: Option<&Tensor>| net.energy(x, c).sum(Kind::Double);
    check_input_gradient(&f, x, code, 12);
    for (name, p) in named_parameters(net.var_store()) {
        check_mixed_second_derivative(&f, x, code, &p, &name, 3);
    }
    if let Some(code) = code {
        let code = code.detach().set_requires_grad(true);
        check_mixed_second_derivative(&f, x, Some(&code), &code, "code", 6);
    }
}

#[test]
fn dense_conv_and_film_layers_match_finite_differences() {
    let _serial = common::serial();
    tch::manual_seed(1);
    for spectral in [false, true] {
        let mut vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        let dense = Dense::new(&(&root / "dense"), 5, 4, spectral, 1.0);
        let conv = Conv3::new(&(&root / "conv"), 2, 3, spectral, 1.0);
        let film = Film::new(&(&root / "film"), 3, 2, spectral);
        vs.double();
        let act = Activation::Swish;
        let dense_f: &ScalarFn = &|x, _| act.apply(&dense.forward(x)).sum(Kind::Double);
        let conv_f: &ScalarFn = &|x, _| act.apply(&conv.forward(x)).sum(Kind::Double);
        let film_f: &ScalarFn = &|x, c| act.apply(&film.forward(x, c.expect("code"))).sum(Kind::Double);
        let xv = randn(&[3, 5]);
        let xi = randn(&[2, 2, 5, 5]);
        let code = randn(&[2, 3]).set_requires_grad(true);
        check_input_gradient(dense_f, &xv, None, 10);
        check_input_gradient(conv_f, &xi, None, 10);
        check_input_gradient(film_f, &xi, Some(&code), 10);
        for (name, p) in named_parameters(&vs) {
            let (f, x, c): (&ScalarFn, &Tensor, Option<&Tensor>) = if name.starts_with("dense") {
                (dense_f, &xv, None)
            } else if name.starts_with("conv") {
                (conv_f, &xi, None)
            } else {
                (film_f, &xi, Some(&code))
            };
            check_mixed_second_derivative(f, x, c, &p, &name, 4);
        }
        check_mixed_second_derivative(film_f, &xi, Some(&code), &code, "code", 6);
    }
}

#[test]
fn residual_block_matches_finite_differences() {
    let _serial = common::serial();
    tch::manual_seed(2);
    for (spectral, act) in [(true, Activation::Swish), (false, Activation::Swish), (true, Activation::LeakyRelu)] {
        let mut vs = VarStore::new(Device::Cpu);
        let config = ConvConfig {
            code_dim: 4,
            activation: act,
            spectral_norm: spectral,
            ..ConvConfig::base(2, 6, &[3])
        };
        let block = ResBlock::new(&vs.root(), 2, 3, &config);
        vs.double();
        for (name, mut p) in named_parameters(&vs) {
            if name.contains("residual_gain") {
                let _ = tch::no_grad(|| p.fill_(0.7));
            }
        }
        let f: &ScalarFn = &|x, c| block.forward(x, c, act).sum(Kind::Double);
        let x = randn(&[2, 2, 6, 6]);
        let code = randn(&[2, 4]);
        check_input_gradient(f, &x, Some(&code), 12);
        if act == Activation::Swish {
            for (name, p) in named_parameters(&vs) {
                check_mixed_second_derivative(f, &x, Some(&code), &p, &name, 3);
            }
            let code = code.set_requires_grad(true);
            check_mixed_second_derivative(f, &x, Some(&code), &code, "code", 6);
        }
    }
}

#[test]
fn conv_energy_with_codes_matches_finite_differences() {
    let _serial = common::serial();
    tch::manual_seed(3);
    // Coordinate channels on in one variant: they enter the input conv; the
    // other reads the code out of the pooled features too.
    for (spectral, pool, coords, code_head) in [(true, SpatialPool::Sum, true, false), (false, SpatialPool::Mean, false, true)] {
        let arch = Architecture::Conv(ConvConfig {
            code_dim: 3,
            spectral_norm: spectral,
            pool,
            coords,
            residual_gain: 1.0,
            code_head,
            init_gain: 2.0,
            ..ConvConfig::base(3, 8, &[4, 6])
        });
        let mut net = arch.build(Device::Cpu);
        prepare(&mut net);
        // Odd spatial sizes exercise average pooling's edge handling too.
        let x = randn(&[2, 3, 8, 8]);
        let code = randn(&[2, 3]);
        check_network(net.as_ref(), &x, Some(&code));
    }
}

#[test]
fn discriminative_readouts_match_finite_differences_and_score_all_codes_in_one_pass() {
    let _serial = common::serial();
    tch::manual_seed(6);
    for (readout, code_dim) in [(ebm::energy::Readout::Classifier, 3), (ebm::energy::Readout::Gaussian, 2)] {
        let arch = Architecture::Conv(ConvConfig {
            code_dim,
            spectral_norm: false,
            pool: SpatialPool::Max,
            coords: true,
            residual_gain: 1.0,
            init_gain: 1.4,
            readout,
            dense_head: 5,
            input_blur: 0.8,
            ..ConvConfig::base(3, 8, &[4, 6])
        });
        let mut net = arch.build(Device::Cpu);
        prepare(&mut net);
        let x = randn(&[2, 3, 8, 8]);
        let code = randn(&[2, code_dim]).softmax(-1, Kind::Double);
        check_network(net.as_ref(), &x, Some(&code));
        // One trunk pass for K candidates must equal K separate evaluations.
        let candidates = randn(&[2, 4, code_dim]);
        let once = net.energies_over_codes(&x, &candidates);
        let repeated = ebm::energy::repeated_energies(net.as_ref(), &x, &candidates);
        let gap = (once - repeated).abs().max().double_value(&[]);
        assert!(gap < 1e-10, "{readout:?}: one-pass candidate energies differ by {gap}");
    }
}

/// A colour-blind energy (chroma view) is differentiable where channels
/// differ, cannot tell colours apart that differ by a channel permutation or
/// a grey offset, and keeps its view through a checkpoint's architecture.
#[test]
fn chroma_view_matches_finite_differences_and_ignores_colour() {
    let _serial = common::serial();
    tch::manual_seed(7);
    let config = ConvConfig {
        code_dim: 2,
        coords: true,
        residual_gain: 1.0,
        init_gain: 1.4,
        view: ebm::energy::InputView::Chroma,
        ..ConvConfig::base(3, 8, &[4, 6])
    };
    let mut net = Architecture::Conv(config.clone()).build(Device::Cpu);
    prepare(&mut net);
    let x = randn(&[2, 3, 8, 8]);
    let code = randn(&[2, 2]);
    check_network(net.as_ref(), &x, Some(&code));
    let energy = net.energy(&x, Some(&code));
    let permuted = x.index_select(1, &Tensor::from_slice(&[2i64, 0, 1]));
    for other in [permuted, &x + 0.3] {
        let gap = (net.energy(&other, Some(&code)) - &energy).abs().max().double_value(&[]);
        assert!(gap < 1e-10, "the chroma view told colours apart by {gap}");
    }
    let json = serde_json::to_string(&Architecture::Conv(config.clone())).unwrap();
    assert!(json.contains("\"view\":\"chroma\""), "{json}");
    let back: Architecture = serde_json::from_str(&json).unwrap();
    assert_eq!(back, net.architecture());
    let rgb = serde_json::to_string(&Architecture::Conv(ConvConfig::base(3, 8, &[4]))).unwrap();
    assert!(!rgb.contains("view"), "an RGB card must read as before: {rgb}");
    // The object-centred chroma: its shift is differentiable too (twice).
    let centred = ConvConfig {
        view: ebm::energy::InputView::ObjectCentred,
        ..config
    };
    let mut net = Architecture::Conv(centred).build(Device::Cpu);
    prepare(&mut net);
    check_network(net.as_ref(), &randn(&[2, 3, 8, 8]).sigmoid(), Some(&code));
}

#[test]
fn conv_energy_on_odd_sizes_matches_finite_differences() {
    let _serial = common::serial();
    tch::manual_seed(4);
    let arch = Architecture::Conv(ConvConfig {
        ..ConvConfig::base(1, 7, &[3, 3])
    });
    let mut net = arch.build(Device::Cpu);
    prepare(&mut net);
    check_network(net.as_ref(), &randn(&[2, 1, 7, 7]), None);
}

#[test]
fn mlp_energy_matches_finite_differences() {
    let _serial = common::serial();
    tch::manual_seed(5);
    for spectral in [true, false] {
        let arch = Architecture::Mlp(MlpConfig {
            input_dim: 3,
            hidden: vec![8, 8],
            code_dim: 2,
            activation: Activation::Swish,
            spectral_norm: spectral,
            input_shape: vec![],
            noise_range: None,
            view: Default::default(),
        });
        let mut net = arch.build(Device::Cpu);
        prepare(&mut net);
        check_network(net.as_ref(), &randn(&[4, 3]), Some(&randn(&[4, 2])));
    }
}

#[test]
fn mlp_on_images_flattens_them_and_checks_the_shape() {
    let _serial = common::serial();
    tch::manual_seed(6);
    let config = MlpConfig {
        input_dim: 4,
        hidden: vec![5],
        code_dim: 2,
        activation: Activation::Swish,
        spectral_norm: false,
        input_shape: vec![1, 2, 2],
        noise_range: None,
        view: Default::default(),
    };
    let arch = Architecture::Mlp(config.clone());
    assert_eq!(arch.input_shape(), vec![1, 2, 2]);
    let net = arch.build(Device::Cpu);
    let images = tch::Tensor::randn([3, 1, 2, 2], (Kind::Float, Device::Cpu));
    let code = tch::Tensor::randn([3, 2], (Kind::Float, Device::Cpu));
    let flat = net.energy(&images.view([3, 4]), Some(&code));
    assert!(net.energy(&images, Some(&code)).allclose(&flat, 1e-6, 1e-6, false));
    let wrong = Architecture::Mlp(MlpConfig {
        input_shape: vec![1, 3, 2],
        noise_range: None,
        ..config
    });
    let message = wrong.validate().expect_err("6 numbers are not input_dim 4");
    assert!(message.contains("input_shape"), "{message}");
}

fn small_denoiser() -> Box<dyn Network> {
    let config = ebm::energy::DenoiserConfig {
        channels: 2,
        size: 8,
        code_dim: 2,
        width: 2,
        latent: 3,
        // Large levels keep E = ½‖x − D‖²/σ² near 1, where central
        // differences are accurate to ~1e-10.
        sigma_min: 2.0,
        sigma_max: 4.0,
        ..Default::default()
    };
    let mut net = Architecture::Denoiser(config).build(Device::Cpu);
    net.var_store_mut().double();
    net
}

#[test]
fn denoiser_energy_matches_finite_differences_at_every_noise_level() {
    let _lock = common::serial();
    tch::manual_seed(31);
    let net = small_denoiser();
    let x = randn(&[2, 2, 8, 8]) * 0.3 + 0.5;
    let code = randn(&[2, 2]);
    check_network(net.as_ref(), &x, Some(&code));
    let sigma = Tensor::from_slice(&[3.0f64, 2.5]);
    let at_level = |x: &Tensor, c: Option<&Tensor>| net.energy_at_noise(x, c, &sigma).sum(Kind::Double);
    check_input_gradient(&at_level, &x, Some(&code), 8);
    // E_σ reads σ: the same input has other energies at other levels.
    let other = net.energy_at_noise(&x, Some(&code), &Tensor::from_slice(&[2.2f64, 3.5]));
    assert!((net.energy_at_noise(&x, Some(&code), &sigma) - other).abs().min().double_value(&[]) > 1e-9);
}

/// The denoising score-matching loss is second order (∇θ of a function of
/// ∇ₓE): its autograd gradient against central differences of the loss,
/// with the same noise draw at every evaluation.
#[test]
fn dsm_loss_gradient_matches_finite_differences() {
    use ebm::train::denoising::{denoising_loss, dsm_loss};
    let _lock = common::serial();
    tch::manual_seed(32);
    let net = small_denoiser();
    let x = (randn(&[3, 2, 8, 8]) * 0.3 + 0.5).clamp(0.0, 1.0);
    let code = randn(&[3, 2]);
    let sigma = Tensor::from_slice(&[2.0f64, 3.0, 4.0]);
    let denoiser = net.as_denoiser().expect("a denoiser");
    type Loss<'a> = Box<dyn Fn() -> Tensor + 'a>;
    let losses: [(&str, Loss); 2] = [
        ("dsm", Box::new(|| dsm_loss(net.as_ref(), &x, Some(&code), &sigma, 1.0))),
        ("denoise", Box::new(|| denoising_loss(denoiser, &x, Some(&code), &sigma, 0.0))),
    ];
    for (objective, loss) in &losses {
        let seeded = || {
            tch::manual_seed(7);
            loss()
        };
        for (name, p) in named_parameters(net.var_store()) {
            let analytic = Tensor::run_backward(&[seeded()], &[&p], false, false).remove(0).flatten(0, -1);
            let n = p.numel() as i64;
            for i in [0, n / 2, n - 1] {
                let bump = |d: f64| {
                    tch::no_grad(|| {
                        let _ = p.flatten(0, -1).get(i).g_add_scalar_(d);
                    });
                    let out = seeded().double_value(&[]);
                    tch::no_grad(|| {
                        let _ = p.flatten(0, -1).get(i).g_add_scalar_(-d);
                    });
                    out
                };
                let numeric = (bump(1e-6) - bump(-1e-6)) / 2e-6;
                let got = analytic.double_value(&[i]);
                assert!(
                    (got - numeric).abs() <= 1e-5 * (1.0 + numeric.abs()),
                    "{objective}: d loss / d {name}[{i}]: autograd {got}, finite differences {numeric}"
                );
            }
        }
    }
}

/// The Tweedie variant keeps the energy's value but follows (x − D)/σ², D
/// held fixed; through a composition every member's gradient is swapped.
#[test]
fn tweedie_gradient_is_the_denoisers_residual_and_composes() {
    use ebm::compose::algebra::Composed;
    use ebm::energy::Energy;
    let _lock = common::serial();
    tch::manual_seed(33);
    let net = small_denoiser();
    let denoiser = net.as_denoiser().expect("a denoiser");
    let x = randn(&[2, 2, 8, 8]) * 0.3 + 0.5;
    let code = randn(&[2, 2]);
    let sigma = Tensor::from_slice(&[3.0f64, 2.5]);
    let input_gradient = |f: &dyn Fn(&Tensor) -> Tensor| {
        let x = x.detach().set_requires_grad(true);
        let e = f(&x);
        (
            e.detach(),
            Tensor::run_backward(&[e.sum(Kind::Double)], &[&x], false, false).remove(0),
        )
    };
    let (exact_value, exact) = input_gradient(&|x| net.energy_at_noise(x, Some(&code), &sigma));
    let (value, got) = input_gradient(&|x| net.tweedie_energy_at_noise(x, Some(&code), &sigma));
    let residual = (&x - denoiser.denoise(&x, Some(&code), &sigma)) / sigma.square().view([-1, 1, 1, 1]);
    assert!((&value - &exact_value).abs().max().double_value(&[]) < 1e-12, "same value");
    assert!((&got - &residual).abs().max().double_value(&[]) < 1e-12, "gradient (x − D)/σ²");
    let jacobian_term = (&got - &exact).abs().max().double_value(&[]);
    assert!(
        jacobian_term > 1e-9,
        "and not the exact gradient (D's Jacobian is not 0): {jacobian_term}"
    );
    // An AND of two members through the algebra: the sum of their residuals.
    let leaf = || Composed::Leaf {
        model: net.as_ref(),
        code: Some(code.shallow_clone()),
        label: "d".into(),
    };
    let and = Composed::And(vec![(1.0, leaf()), (0.5, leaf())]);
    let (_, composed) = input_gradient(&|x| and.tweedie_energy_at_noise(x, None, &sigma));
    assert!((composed - &residual * 1.5).abs().max().double_value(&[]) < 1e-12);
}

/// An MLP of the object-colour view is differentiable, cannot tell where
/// things are (rolling the image leaves its energy), keeps its view through
/// a checkpoint's architecture, and the view is refused where it cannot work.
#[test]
fn object_colour_mlp_matches_finite_differences_and_ignores_place() {
    let _serial = common::serial();
    tch::manual_seed(8);
    let config = MlpConfig {
        input_dim: 3 * 4 * 4,
        hidden: vec![6, 6],
        code_dim: 2,
        activation: Activation::Swish,
        spectral_norm: false,
        input_shape: vec![3, 4, 4],
        noise_range: None,
        view: ebm::energy::InputView::ObjectColour,
    };
    let mut net = Architecture::Mlp(config.clone()).build(Device::Cpu);
    prepare(&mut net);
    // Pixel values as images have them: chroma in [0, 1].
    let x = randn(&[2, 3, 4, 4]).sigmoid();
    let code = randn(&[2, 2]);
    check_network(net.as_ref(), &x, Some(&code));
    let energy = net.energy(&x, Some(&code));
    let moved = x.roll([1i64, 2].as_slice(), [2i64, 3].as_slice());
    let gap = (net.energy(&moved, Some(&code)) - &energy).abs().max().double_value(&[]);
    assert!(gap < 1e-10, "moving the pixels changed the energy by {gap}");
    let json = serde_json::to_string(&Architecture::Mlp(config.clone())).unwrap();
    assert!(json.contains("\"view\":\"object-colour\""), "{json}");
    assert_eq!(serde_json::from_str::<Architecture>(&json).unwrap(), net.architecture());
    let flat = MlpConfig {
        input_shape: vec![],
        ..config
    };
    assert!(flat.validate().expect_err("a flat input has no colours").contains("input_shape"));
    let conv = ConvConfig {
        view: ebm::energy::InputView::ObjectColour,
        ..ConvConfig::base(3, 8, &[4])
    };
    assert!(conv.validate().expect_err("not an image").contains("object-colour view is not one"));
}
