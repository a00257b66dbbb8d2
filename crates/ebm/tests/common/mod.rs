//! Helpers shared by the integration tests.
#![allow(dead_code)]

use tch::{Kind, Tensor};

pub mod checkpoint;
pub mod concepts;
pub mod samplers;

/// A scalar function of (x, code) built from the layer under test.
pub type ScalarFn<'a> = dyn Fn(&Tensor, Option<&Tensor>) -> Tensor + 'a;

fn grad_of(f: &ScalarFn, x: &Tensor, code: Option<&Tensor>) -> Tensor {
    let x = x.detach().set_requires_grad(true);
    let y = f(&x, code);
    Tensor::run_backward(&[y], &[&x], false, false).remove(0)
}

/// v · ∇ₓf(x, code), as a differentiable scalar (double backward).
fn directional_grad(f: &ScalarFn, x: &Tensor, code: Option<&Tensor>, v: &Tensor) -> Tensor {
    let x = x.detach().set_requires_grad(true);
    let y = f(&x, code);
    let g = Tensor::run_backward(&[y], &[&x], true, true).remove(0);
    (g * v).sum(Kind::Double)
}

fn value(f: &ScalarFn, x: &Tensor, code: Option<&Tensor>) -> f64 {
    tch::no_grad(|| f(x, code)).double_value(&[])
}

fn flat_indices(numel: i64, count: usize, salt: i64) -> Vec<i64> {
    (0..count as i64).map(|i| (i * 7919 + salt * 104_729 + 13) % numel).collect()
}

fn assert_close(analytic: f64, numeric: f64, what: &str) {
    // Central differences with ε = 1e-6 in f64 are good to ~1e-9 absolute.
    let scale = analytic.abs().max(numeric.abs());
    let rel = (analytic - numeric).abs() / scale.max(1e-12);
    assert!(
        (analytic - numeric).abs() < 1e-5 * scale + 1e-9,
        "{what}: autograd {analytic:.10e} vs finite difference {numeric:.10e} (relative error {rel:.2e})"
    );
}

const EPS: f64 = 1e-6;

/// Central differences of `f` in x at `count` entries match ∇ₓf.
pub fn check_input_gradient(f: &ScalarFn, x: &Tensor, code: Option<&Tensor>, count: usize) {
    let grad = grad_of(f, x, code).flatten(0, -1);
    for i in flat_indices(x.numel() as i64, count, 1) {
        let bump = |d: f64| {
            let xp = x.detach().copy();
            let _ = xp.flatten(0, -1).get(i).g_add_scalar_(d);
            value(f, &xp, code)
        };
        let numeric = (bump(EPS) - bump(-EPS)) / (2.0 * EPS);
        assert_close(grad.double_value(&[i]), numeric, &format!("dE/dx[{i}]"));
    }
}

/// ∂(v·∇ₓf)/∂p by double backward matches central differences of v·∇ₓf in
/// each entry tested of `param` (a parameter tensor or the code).
pub fn check_mixed_second_derivative(f: &ScalarFn, x: &Tensor, code: Option<&Tensor>, param: &Tensor, name: &str, count: usize) {
    let v = x.randn_like();
    let g = directional_grad(f, x, code, &v);
    let analytic = Tensor::run_backward(&[g], &[param], false, false).remove(0);
    // Parameters that ∇ₓf does not depend on (a final bias) get no gradient.
    let analytic = if analytic.defined() { analytic } else { param.zeros_like() }.flatten(0, -1);
    for i in flat_indices(param.numel() as i64, count, 2) {
        let bump = |d: f64| {
            tch::no_grad(|| {
                let _ = param.flatten(0, -1).get(i).g_add_scalar_(d);
            });
            let out = directional_grad(f, x, code, &v).double_value(&[]);
            tch::no_grad(|| {
                let _ = param.flatten(0, -1).get(i).g_add_scalar_(-d);
            });
            out
        };
        let numeric = (bump(EPS) - bump(-EPS)) / (2.0 * EPS);
        assert_close(analytic.double_value(&[i]), numeric, &format!("d(v.dE/dx)/d{name}[{i}]"));
    }
}

/// A random f64 tensor.
pub fn randn(shape: &[i64]) -> Tensor {
    Tensor::randn(shape, (Kind::Double, tch::Device::Cpu))
}

/// libtorch's random generator is global to the process, and the tests of one
/// binary run on parallel threads: every test that seeds it holds this lock,
/// so its numbers do not depend on what runs beside it.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
