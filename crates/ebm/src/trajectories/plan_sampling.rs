//! Planning by sampling (IGEBM's trajectories): after the descent, each plan
//! is drawn from exp(−(Σₜ E + λ·Σₜ d)/T) by any sampler of [`crate::sample`]
//! — MALA or HMC, Metropolis-corrected, with their acceptance reported —
//! started from the descended plan. The descent finds the mode; the sampler
//! then explores around it at the temperature asked for.

use super::cost::TaskCost;
use super::env::Env;
use super::plan::plan_objectives;
use crate::energy::Energy;
use crate::sample::sampler::{sample, SampleOptions, SamplerConfig, SamplerKind};
use tch::Tensor;

/// Transitions of the MALA / HMC plan samplers after each descent, and
/// their temperature. IGEBM samples plans from exp(−ΣE − λΣd), T = 1; on
/// particle validation tasks (seed 7, 20 each; descent alone 20 of 20,
/// return −10.95) T = 1 cost HMC 4 tasks (MALA 20, −11.15; HMC 16, −12.52),
/// T = 0.1 none (MALA 20, −10.95; HMC 20, −11.05).
pub const PLAN_SAMPLE_STEPS: usize = 200;
pub const PLAN_TEMPERATURE: f64 = 0.1;

/// The planning objective as an energy over whole plans `[B, H·W]` (the
/// code is unused): anything that samples an [`Energy`] samples plans.
pub struct PlanEnergy<'a> {
    pub energy: &'a dyn Energy,
    pub env: Env,
    /// `[B, 1, 4]`: each plan's clamped first state.
    pub first: Tensor,
    pub cost: &'a TaskCost,
    pub cost_weight: f64,
    /// Steps H and numbers per step W of every plan.
    pub shape: (i64, i64),
}

impl Energy for PlanEnergy<'_> {
    fn energy(&self, x: &Tensor, _code: Option<&Tensor>) -> Tensor {
        let plans = x.view([-1, self.shape.0, self.shape.1]);
        plan_objectives(self.energy, self.env, &self.first, &plans, self.cost, self.cost_weight).to_kind(x.kind())
    }
}

/// The sampler a planner runs after its descent: `steps` transitions of
/// `kind` at temperature `temperature`, the first half adapting one step
/// size to the usual target acceptance (MALA 0.57, HMC 0.65; 5 leapfrog
/// steps), starting from 1e-6 (the plans' curvature is ~10⁴ per state
/// coordinate, so a step near 1/curvature is where adaptation ends).
pub fn plan_sampler(kind: SamplerKind, steps: usize, temperature: f64) -> SamplerConfig {
    SamplerConfig {
        kind,
        steps,
        step_size: 1e-6,
        leapfrog_steps: 5,
        temperature,
        target_accept: (kind != SamplerKind::Ula).then_some(if kind == SamplerKind::Hmc { 0.65 } else { 0.57 }),
        warmup: steps / 2,
        ..SamplerConfig::default()
    }
}

/// Plans `free: [B, H, W]` after `sampler` on [`PlanEnergy`], and the
/// sampler's mean acceptance. Every entry of a particle or maze plan lies in
/// [−1, 1] (positions, velocities, actions), so MALA and HMC reject
/// proposals leaving it; the reacher's angles are free, so its plans are not
/// boxed.
pub(crate) fn sample_plans(plan: &PlanEnergy, free: &Tensor, sampler: &SamplerConfig) -> (Tensor, f64) {
    let config = SamplerConfig {
        clamp: (plan.env != Env::Reacher).then_some((-1.0, 1.0)),
        ..sampler.clone()
    };
    let tasks = free.size()[0];
    let run = sample(plan, &free.view([tasks, -1]), None, &config, &SampleOptions::default());
    (run.x.view([tasks, plan.shape.0, plan.shape.1]), run.mean_acceptance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trajectories::cost::GoalCost;
    use tch::Kind;

    /// ½‖Δ‖² + the code's sum: any energy that reads its code.
    struct Quadratic;

    impl Energy for Quadratic {
        fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
            let code = code.expect("a transition energy reads the state");
            x.square().sum_dim_intlist(1, false, Kind::Double) * 0.5 + code.sum_dim_intlist(1, false, Kind::Double)
        }
    }

    /// The plan energy of each plan is the planner's objective for it: the
    /// transition energies of its steps plus λ times its goal distances,
    /// computed here by hand.
    #[test]
    fn the_plan_energy_is_each_plans_objective() {
        let env = Env::Particle;
        let goals = [[0.5, 0.5], [-0.5, 0.0]];
        let cost = TaskCost::new(env, &goals, GoalCost::Euclidean);
        let first = Tensor::from_slice(&[0.0, 0.0, 0.0, 0.0, 0.2, -0.2, 0.1, 0.0]).view([2, 1, 4]);
        let plans = Tensor::from_slice(&(0..16).map(|i| (i as f64 * 0.37).sin() * 0.5).collect::<Vec<f64>>()).view([2, 2, 4]);
        let plan = PlanEnergy {
            energy: &Quadratic,
            env,
            first: first.shallow_clone(),
            cost: &cost,
            cost_weight: 3.0,
            shape: (2, 4),
        };
        let energies = Vec::<f64>::try_from(plan.energy(&plans.view([2, 8]), None)).unwrap();
        let all = Vec::<f64>::try_from(Tensor::cat(&[first, plans], 1).reshape([-1])).unwrap();
        for (b, goal) in goals.iter().enumerate() {
            let state = |t: usize| &all[(b * 3 + t) * 4..(b * 3 + t) * 4 + 4];
            let expected: f64 = (0..2)
                .map(|t| {
                    let (from, to) = (state(t), state(t + 1));
                    let delta: f64 = (0..4).map(|i| ((to[i] - from[i]) / 0.1).powi(2)).sum::<f64>() * 0.5;
                    let distance = ((to[0] - goal[0]).powi(2) + (to[1] - goal[1]).powi(2)).sqrt();
                    delta + from.iter().sum::<f64>() + 3.0 * distance
                })
                .sum();
            assert!((energies[b] - expected).abs() < 1e-9, "plan {b}: {} vs {expected}", energies[b]);
        }
    }
}
