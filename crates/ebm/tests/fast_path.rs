//! The fast path (bf16, channels-last) computes the same energy as the
//! reference fp32 NCHW path, within bf16's precision, and trains the same
//! fp32 weights.

use ebm::energy::compute::{channels_last, is_channels_last, MatrixUnits};
use ebm::energy::{Architecture, Compute, ConvConfig, Network, Precision};
use tch::{Device, Kind, Tensor};

/// A concept-model-shaped energy (coords, FiLM code, spectral norm, a
/// skip conv) with its residual branches switched on.
fn network(seed: i64) -> Box<dyn Network> {
    tch::manual_seed(seed);
    let mut network = Architecture::Conv(ConvConfig {
        code_dim: 4,
        coords: true,
        residual_gain: 0.5,
        init_gain: 1.5,
        ..ConvConfig::base(3, 32, &[16, 32, 64])
    })
    .build(Device::Cpu);
    network.set_compute(Compute::REFERENCE);
    network
}

/// Energies and input gradients of a batch under `compute`.
fn energies_and_gradients(network: &mut dyn Network, compute: Compute, x: &Tensor, code: &Tensor) -> (Tensor, Tensor) {
    network.set_compute(compute);
    let x = x.detach().set_requires_grad(true);
    let e = network.energy(&x, Some(code));
    let g = Tensor::run_backward(&[e.sum(Kind::Float)], &[&x], false, false).remove(0);
    (e.detach(), g)
}

fn relative_error(a: &Tensor, reference: &Tensor) -> f64 {
    let diff = (a - reference).norm().double_value(&[]);
    diff / reference.norm().double_value(&[]).max(1e-12)
}

fn cosine(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.flatten(0, -1), b.flatten(0, -1));
    (a.dot(&b) / (a.norm() * b.norm())).double_value(&[])
}

fn batch(seed: i64) -> (Tensor, Tensor) {
    tch::manual_seed(seed);
    let x = Tensor::rand([16, 3, 32, 32], (Kind::Float, Device::Cpu));
    let code = Tensor::randn([16, 4], (Kind::Float, Device::Cpu));
    (x, code)
}

#[test]
fn fast_path_energies_and_input_gradients_match_fp32_nchw() {
    let mut net = network(3);
    let (x, code) = batch(4);
    let (e_ref, g_ref) = energies_and_gradients(net.as_mut(), Compute::REFERENCE, &x, &code);
    assert_eq!(e_ref.kind(), Kind::Float);
    // Channels-last in fp32 reorders sums only: fp32 rounding.
    let fp32_nhwc = Compute {
        precision: Precision::Fp32,
        channels_last: true,
    };
    let (e, g) = energies_and_gradients(net.as_mut(), fp32_nhwc, &x, &code);
    assert!(
        relative_error(&e, &e_ref) < 1e-5,
        "fp32-nhwc energies off by {}",
        relative_error(&e, &e_ref)
    );
    assert!(
        relative_error(&g, &g_ref) < 1e-4,
        "fp32-nhwc gradients off by {}",
        relative_error(&g, &g_ref)
    );
    // bf16 keeps 8 bits of mantissa (2⁻⁸ ≈ 0.4 % per rounding). Stated
    // tolerances: energies within 1.5 % (relative L2 over the batch; measured 0.4 %), input
    // gradients within 3 % (measured 0.9 %) and pointing the same way (cosine > 0.999).
    for channels_last in [false, true] {
        let compute = Compute {
            precision: Precision::Bf16,
            channels_last,
        };
        let (e, g) = energies_and_gradients(net.as_mut(), compute, &x, &code);
        assert_eq!(e.kind(), Kind::Float, "energies come back in the parameters' kind");
        assert_eq!(g.kind(), Kind::Float, "the chain's gradient stays fp32");
        let (de, dg, cos) = (relative_error(&e, &e_ref), relative_error(&g, &g_ref), cosine(&g, &g_ref));
        let label = compute.label();
        assert!(de < 0.015, "{label}: energies off by {de:.4} relative");
        assert!(dg < 0.03 && cos > 0.999, "{label}: gradients off by {dg:.4} (cosine {cos:.5})");
        // The rounding is real: bf16 is not secretly computing in fp32.
        assert!(de > 1e-6, "{label}: energies identical to fp32 ({de:e}); is bf16 applied?");
    }
}

#[test]
fn fast_path_trains_the_fp32_weights_with_matching_gradients() {
    let mut net = network(5);
    let (x, code) = batch(6);
    let params: Vec<Tensor> = ebm::energy::network::named_parameters(net.var_store())
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let mut weight_gradients = |compute: Compute| {
        net.set_compute(compute);
        let e = net.energy(&x, Some(&code));
        let loss = e.mean(Kind::Float) + e.square().mean(Kind::Float) * 0.1;
        Tensor::run_backward(&[loss], &params, false, false)
    };
    let reference = weight_gradients(Compute::REFERENCE);
    let fast = weight_gradients(Compute::FAST);
    let flat = |grads: &[Tensor]| Tensor::cat(&grads.iter().map(|g| g.flatten(0, -1)).collect::<Vec<_>>(), 0);
    assert!(
        fast.iter().all(|g| g.kind() == Kind::Float),
        "weight gradients must reach the fp32 master weights"
    );
    let (r, f) = (flat(&reference), flat(&fast));
    let (err, cos) = (relative_error(&f, &r), cosine(&f, &r));
    assert!(err < 0.03 && cos > 0.999, "bf16 weight gradients off by {err:.4} (cosine {cos:.5})");
    assert!(params.iter().all(|p| p.kind() == Kind::Float), "the weights stay fp32");
}

#[test]
fn an_f64_network_never_drops_to_bf16() {
    let mut net = network(7);
    net.var_store_mut().set_kind(Kind::Double);
    net.set_compute(Compute::FAST);
    let (x, code) = batch(8);
    let e = net.energy(&x.to_kind(Kind::Double), Some(&code.to_kind(Kind::Double)));
    let e_ref = {
        net.set_compute(Compute::REFERENCE);
        net.energy(&x.to_kind(Kind::Double), Some(&code.to_kind(Kind::Double)))
    };
    // Same kind, same values up to f64 reordering: gradient checks stay exact.
    assert!(relative_error(&e, &e_ref) < 1e-12);
}

#[test]
fn channels_last_keeps_values_and_changes_strides() {
    let x = Tensor::randn([2, 5, 4, 3], (Kind::Float, Device::Cpu));
    let y = channels_last(&x);
    assert_eq!(y.size(), x.size());
    assert!(is_channels_last(&y) && !is_channels_last(&x));
    assert_eq!(y.stride(), vec![60, 1, 15, 5]);
    assert_eq!(relative_error(&y, &x), 0.0);
}

#[test]
fn compute_modes_parse_and_detection_reads_cpu_flags() {
    let cpu = Device::Cpu;
    assert_eq!(Compute::parse("bf16", cpu), Ok(Compute::FAST));
    assert_eq!(Compute::parse("FP32", cpu), Ok(Compute::REFERENCE));
    let nchw = Compute::parse("bf16-nchw", cpu).unwrap();
    assert!(nchw.precision == Precision::Bf16 && !nchw.channels_last);
    assert_eq!(Compute::parse("fp32-nhwc", cpu).unwrap().label(), "fp32-nhwc");
    for bad in ["fp16", "bf16-nwhc", "", "auto-nhwc"] {
        assert!(Compute::parse(bad, cpu).is_err(), "'{bad}' was accepted");
    }
    let amx = MatrixUnits::from_cpuinfo("processor : 0\nflags\t\t: fpu sse2 avx512f amx_tile amx_bf16 avx512_bf16\n");
    assert!(amx.amx_bf16 && amx.avx512_bf16 && amx.bf16());
    let old = MatrixUnits::from_cpuinfo("flags : fpu sse2 avx2 avx512f\n");
    assert!(!old.bf16());
    assert_eq!(old.describe(), "none");
    // auto is the fast path exactly where the machine has the units.
    let auto = Compute::parse("auto", cpu).unwrap();
    assert_eq!(auto == Compute::FAST, MatrixUnits::detect().bf16());
}

#[test]
fn the_denoiser_on_the_fast_path_matches_its_fp32_energy_and_dsm_gradients() {
    use ebm::energy::DenoiserConfig;
    use ebm::train::denoising::dsm_loss;
    tch::manual_seed(9);
    let config = DenoiserConfig {
        code_dim: 4,
        width: 8,
        latent: 8,
        ..DenoiserConfig::default()
    };
    let mut net = Architecture::Denoiser(config).build(Device::Cpu);
    let (x, code) = batch(10);
    let sigma = Tensor::full([16], 0.2, (Kind::Float, Device::Cpu));
    let params: Vec<Tensor> = ebm::energy::network::named_parameters(net.var_store())
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let mut measure = |compute: Compute| {
        net.set_compute(compute);
        let e = net.energy_at_noise(&x, Some(&code), &sigma).detach();
        tch::manual_seed(11);
        let loss = dsm_loss(net.as_ref(), &x, Some(&code), &sigma, 2.0);
        let grads = Tensor::run_backward(&[loss], &params, false, false);
        (e, Tensor::cat(&grads.iter().map(|g| g.flatten(0, -1)).collect::<Vec<_>>(), 0))
    };
    let (e_ref, g_ref) = measure(Compute::REFERENCE);
    let (e, g) = measure(Compute::FAST);
    assert_eq!(e.kind(), Kind::Float);
    let (de, dg, cos) = (relative_error(&e, &e_ref), relative_error(&g, &g_ref), cosine(&g, &g_ref));
    // Measured: energies 0.2 %, weight gradients 0.3 % (cosine 0.999998).
    assert!(
        de < 0.01 && de > 1e-6,
        "denoiser energies off by {de:.4} (0 would mean bf16 is not applied)"
    );
    assert!(
        dg < 0.03 && cos > 0.999,
        "second-order DSM weight gradients off by {dg:.4} (cosine {cos:.5})"
    );
}
