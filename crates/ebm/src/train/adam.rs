//! Adam, kept here rather than in libtorch so that its moments can be saved
//! with the training state and restored bit-exactly on resume.

use tch::Tensor;

pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Updates taken so far.
    pub t: u64,
    /// First and second moments, one per parameter (same order as the
    /// parameter list the trainer passes).
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
}

impl Adam {
    pub fn new(params: &[Tensor], beta1: f64, beta2: f64) -> Self {
        let zeros = || params.iter().map(|p| p.zeros_like().detach()).collect();
        Self {
            beta1,
            beta2,
            eps: 1e-8,
            t: 0,
            m: zeros(),
            v: zeros(),
        }
    }

    /// p ← p − lr · m̂ / (√v̂ + ε).
    pub fn step(&mut self, params: &[Tensor], grads: &[Tensor], lr: f64) {
        self.t += 1;
        let bias1 = 1.0 - self.beta1.powi(self.t as i32);
        let bias2 = 1.0 - self.beta2.powi(self.t as i32);
        tch::no_grad(|| {
            for ((p, g), (m, v)) in params.iter().zip(grads).zip(self.m.iter_mut().zip(self.v.iter_mut())) {
                let _ = m.g_mul_scalar_(self.beta1).g_add_(&(g * (1.0 - self.beta1)));
                let _ = v.g_mul_scalar_(self.beta2).g_add_(&(g.square() * (1.0 - self.beta2)));
                let update = (&*m / bias1) / ((&*v / bias2).sqrt() + self.eps) * lr;
                let _ = p.shallow_clone().g_sub_(&update);
            }
        });
    }
}
