//! Reconstruction by gradient descent on a sum of component energies, and
//! the training loss through it.
//!
//! x⁰ is uniform noise; xⁿ = clamp(xⁿ⁻¹ − λ∇ₓ Σ E(xⁿ⁻¹; zₖ), 0, 1). The sum
//! may hold components of several models (cross-model recombination): every
//! part is a model with its own latents.

use super::config::{ReconstructionLoss, Unroll};
use super::model::{Comet, Conditioned};
use tch::Tensor;

/// Components to descend on: each model with latents `[B, K, latent]`.
pub type Parts<'a> = [(&'a Comet, Tensor)];

/// What the descent keeps for back-propagation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Graph {
    /// Nothing: decomposition and pictures.
    None,
    /// Each step's graph, with its input detached (the published code).
    Truncated,
    /// Every step's graph, chained: exact gradients through the descent.
    Full,
}

impl From<Unroll> for Graph {
    fn from(unroll: Unroll) -> Self {
        match unroll {
            Unroll::Truncated => Graph::Truncated,
            Unroll::Full => Graph::Full,
        }
    }
}

/// Parts with their latents conditioned once, for a descent's repeated
/// evaluations.
type Prepared<'a> = Vec<(&'a Comet, Conditioned)>;

/// Conditions every part's latents. Without a graph the latents are
/// detached and nothing is recorded: a backward pass that frees its graph
/// must not free the encoder's, which the loss may use.
fn prepare<'a>(parts: &Parts<'a>, graph: Graph) -> Prepared<'a> {
    parts
        .iter()
        .map(|(model, z)| {
            let conditioned = match graph {
                Graph::None => tch::no_grad(|| model.condition(&z.detach())),
                _ => model.condition(z),
            };
            (*model, conditioned)
        })
        .collect()
}

/// ∇ₓ of Σ over parts of Σₖ E(x; zₖ) at `x` (which must require grad).
fn gradient_given(prepared: &Prepared, x: &Tensor, create_graph: bool) -> Tensor {
    let energy = prepared
        .iter()
        .map(|(model, c)| model.energies_given(c, x).sum(x.kind()))
        .reduce(|a, b| a + b)
        .expect("at least one part");
    Tensor::run_backward(&[energy], &[x], create_graph, create_graph).remove(0)
}

/// ∇ₓ of the total energy at `x` (which must require grad), with the graph
/// kept for second-order back-propagation when `create_graph`.
pub fn energy_gradient(parts: &Parts, x: &Tensor, create_graph: bool) -> Tensor {
    let graph = if create_graph { Graph::Full } else { Graph::None };
    gradient_given(&prepare(parts, graph), x, create_graph)
}

/// The descent iterates x¹…x^N from `start` (λ and N from the first part's
/// config unless `steps` overrides N).
pub fn descend(parts: &Parts, start: &Tensor, graph: Graph, steps: Option<usize>) -> Vec<Tensor> {
    let descent = &parts[0].0.config.descent;
    let (n, step_size) = (steps.unwrap_or(descent.steps), descent.step_size);
    let prepared = prepare(parts, graph);
    let mut x = start.detach().set_requires_grad(true);
    let mut iterates = Vec::with_capacity(n);
    for _ in 0..n {
        let gradient = gradient_given(&prepared, &x, graph != Graph::None);
        let next = (&x - gradient * step_size).clamp(0.0, 1.0);
        x = match graph {
            Graph::Full => next.shallow_clone(),
            Graph::Truncated | Graph::None => next.detach().set_requires_grad(true),
        };
        iterates.push(match graph {
            Graph::None => next.detach(),
            _ => next,
        });
    }
    iterates
}

/// Uniform noise in [0, 1] shaped like `images`, from libtorch's generator
/// (seeded by the caller).
pub fn start_noise(images: &Tensor) -> Tensor {
    Tensor::rand_like(images)
}

/// Mean squared error of the reconstruction (final iterate, or summed over
/// iterates), through the encoder and the descent as the config says.
pub fn reconstruction_loss(model: &Comet, images: &Tensor, start: &Tensor) -> Tensor {
    let z = model.encode(images);
    let descent = &model.config.descent;
    let parts = [(model, z)];
    match descent.loss {
        // Only the last step's graph is used: the steps before it build none.
        ReconstructionLoss::Final if descent.unroll == Unroll::Truncated => {
            let before = match descent.steps {
                1 => start.shallow_clone(),
                n => descend(&parts, start, Graph::None, Some(n - 1)).pop().expect("at least one step"),
            };
            let last = descend(&parts, &before, Graph::Truncated, Some(1)).pop().expect("one step");
            last.mse_loss(images, tch::Reduction::Mean)
        }
        ReconstructionLoss::Final => descend(&parts, start, Graph::Full, None)
            .pop()
            .expect("at least one step")
            .mse_loss(images, tch::Reduction::Mean),
        ReconstructionLoss::AllSteps => descend(&parts, start, descent.unroll.into(), None)
            .iter()
            .map(|x| x.mse_loss(images, tch::Reduction::Mean))
            .reduce(|a, b| a + b)
            .expect("at least one step"),
    }
}

/// The final iterate of the descent on `parts` from `start`, without a
/// graph: reconstructions, renderings and recombinations.
pub fn rebuild(parts: &Parts, start: &Tensor) -> Tensor {
    descend(parts, start, Graph::None, None)
        .pop()
        .expect("a validated config has at least one step")
}
