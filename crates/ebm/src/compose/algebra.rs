//! The energy algebra. Every node is an [`Energy`], so samplers run on a
//! composition unchanged and gradients flow through every member:
//!
//! - AND: E = Σ wᵢ·Eᵢ (product of experts)
//! - OR: E = −T·log Σ exp(−wᵢ·Eᵢ / T) (a mixture; T → 0 gives min)
//! - NOT, grounded: E = E_pos − α·E_neg (only meaningful beside a positive
//!   term, which keeps the negated energy from pushing samples to infinity)
//! - a leaf: a model under a fixed code (its concept's value)

use crate::energy::Energy;
use tch::Tensor;

pub enum Composed<'a> {
    /// `model` under `code` (`[C]`, broadcast over the batch, or `[B, C]`,
    /// one per sample; None for an unconditional model).
    Leaf {
        model: &'a dyn Energy,
        code: Option<Tensor>,
        label: String,
    },
    And(Vec<(f64, Composed<'a>)>),
    Or {
        terms: Vec<(f64, Composed<'a>)>,
        temperature: f64,
    },
    Not {
        positive: Box<Composed<'a>>,
        negated: Vec<Composed<'a>>,
        alpha: f64,
    },
    /// Sample i has the energy of `terms[branch[i]]` (`branch`: `[B]`, int64):
    /// an OR whose branch was drawn per chain (`compose::mixture`).
    Select {
        terms: Vec<(f64, Composed<'a>)>,
        branch: Tensor,
    },
}

impl<'a> Composed<'a> {
    /// An unconditional model as a leaf.
    pub fn leaf(model: &'a dyn Energy) -> Self {
        Composed::Leaf {
            model,
            code: None,
            label: String::new(),
        }
    }

    /// A readable form, e.g. `(pos=(0.3,0.7) & !colour=red)`.
    pub fn describe(&self) -> String {
        let join = |terms: &[(f64, Composed)], op: &str| {
            let parts: Vec<String> = terms
                .iter()
                .map(|(w, t)| if *w == 1.0 { t.describe() } else { format!("{w}*{}", t.describe()) })
                .collect();
            format!("({})", parts.join(op))
        };
        match self {
            Composed::Leaf { label, .. } => label.clone(),
            Composed::And(terms) => join(terms, " & "),
            Composed::Or { terms, .. } => join(terms, " | "),
            Composed::Select { terms, .. } => format!("one of {}", join(terms, ", ")),
            Composed::Not { positive, negated, .. } => {
                let nots: Vec<String> = negated.iter().map(|n| format!(" & !{}", n.describe())).collect();
                format!("({}{})", positive.describe(), nots.concat())
            }
        }
    }
}

/// Where a composition is evaluated: at the data, or with every member at a
/// noise level (the algebra applied level by level, as for denoising-trained
/// models), optionally through each member's Tweedie gradient.
#[derive(Clone, Copy)]
enum Level<'t> {
    Data,
    Noise(&'t Tensor),
    Tweedie(&'t Tensor),
}

impl Composed<'_> {
    fn evaluate(&self, x: &Tensor, level: Level) -> Tensor {
        match self {
            Composed::Leaf { model, code, .. } => {
                // One code for the whole batch ([C]) or one per sample ([B, C]).
                let batch_code = code.as_ref().map(|c| match c.dim() {
                    1 => c.to_kind(x.kind()).unsqueeze(0).expand([x.size()[0], c.size()[0]], false),
                    _ => c.to_kind(x.kind()),
                });
                match level {
                    Level::Data => model.energy(x, batch_code.as_ref()),
                    Level::Noise(sigma) => model.energy_at_noise(x, batch_code.as_ref(), sigma),
                    Level::Tweedie(sigma) => model.tweedie_energy_at_noise(x, batch_code.as_ref(), sigma),
                }
            }
            Composed::And(terms) => {
                let mut terms = terms.iter().map(|(w, t)| t.evaluate(x, level) * *w);
                let first = terms.next().expect("an AND has terms");
                terms.fold(first, |acc, e| acc + e)
            }
            Composed::Or { terms, temperature } => {
                let scaled: Vec<Tensor> = terms.iter().map(|(w, t)| t.evaluate(x, level) * (-*w / temperature)).collect();
                Tensor::stack(&scaled, 0).logsumexp([0i64].as_slice(), false) * (-temperature)
            }
            Composed::Not { positive, negated, alpha } => negated
                .iter()
                .fold(positive.evaluate(x, level), |acc, n| acc - n.evaluate(x, level) * *alpha),
            Composed::Select { terms, branch } => {
                let energies: Vec<Tensor> = terms.iter().map(|(w, t)| t.evaluate(x, level) * *w).collect();
                let branch = branch.to_device(x.device()).unsqueeze(0);
                Tensor::stack(&energies, 0).gather(0, &branch, false).squeeze_dim(0)
            }
        }
    }

    fn members(&self) -> Vec<&Composed<'_>> {
        match self {
            Composed::Leaf { .. } => vec![],
            Composed::And(terms) | Composed::Or { terms, .. } | Composed::Select { terms, .. } => terms.iter().map(|(_, t)| t).collect(),
            Composed::Not { positive, negated, .. } => std::iter::once(positive.as_ref()).chain(negated).collect(),
        }
    }
}

impl Composed<'_> {
    /// The energy of each term of a top-level AND at `x` (weighted as in the
    /// sum), `[B]` each; any other node is one term, its whole energy.
    pub fn conjunct_energies(&self, x: &Tensor) -> Vec<Tensor> {
        match self {
            Composed::And(terms) => terms.iter().map(|(w, t)| t.energy(x, None) * *w).collect(),
            _ => vec![self.energy(x, None)],
        }
    }
}

impl Energy for Composed<'_> {
    fn energy(&self, x: &Tensor, _code: Option<&Tensor>) -> Tensor {
        self.evaluate(x, Level::Data)
    }

    fn energy_at_noise(&self, x: &Tensor, _code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        self.evaluate(x, Level::Noise(sigma))
    }

    fn tweedie_energy_at_noise(&self, x: &Tensor, _code: Option<&Tensor>, sigma: &Tensor) -> Tensor {
        self.evaluate(x, Level::Tweedie(sigma))
    }

    /// The widest range over the members that have noise levels.
    fn noise_range(&self) -> Option<(f64, f64)> {
        match self {
            Composed::Leaf { model, .. } => model.noise_range(),
            _ => self
                .members()
                .into_iter()
                .filter_map(|m| m.noise_range())
                .reduce(|(lo, hi), (l, h)| (lo.min(l), hi.max(h))),
        }
    }
}

/// Default OR temperature. The compositional code uses T = 0.01
/// (−logsumexp(−100·E)/100): close to min, but smooth. On shapes, branch
/// correctness fell as T rose (0.98 → 0.68 → 0.20 at T = 0.01 / 0.1 / 1);
/// on toys the split did not depend on T.
pub const DEFAULT_TEMPERATURE: f64 = 0.01;
/// Default NOT weight α, chosen by experiment (README, "Defaults"): on toys
/// α = 0.2 kept 96 % of A∧¬B samples in A outside B (0.05: 81 %, 1.0: 92 %
/// with samples leaving A); on shapes, pos ∧ ¬colour showed the negated
/// colour on 5 / 1 / 0 / 0 % of samples at α = 0.05 / 0.2 / 0.5 / 1 while
/// position accuracy fell 0.96 / 0.94 / 0.89 / 0.56.
pub const DEFAULT_ALPHA: f64 = 0.2;

/// Every conjunction rewritten relative to `prior` (an unconditional energy
/// of the same data): AND = E_u + Σ wᵢ(Eᵢ − E_u), and a grounded NOT =
/// E_u + (E_pos − E_u) − α·Σ(E_neg − E_u). The plain sum counts the data
/// prior once per member — an AND of N concept models is pulled N times
/// towards what every scene shares (a bare floor) and once towards each
/// concept — while the product of the experts p(x)·Π p(cᵢ|x) counts it once.
pub fn relative_to_prior<'a>(composed: Composed<'a>, prior: &'a dyn Energy) -> Composed<'a> {
    let prior_leaf = || Composed::Leaf {
        model: prior,
        code: None,
        label: "prior".into(),
    };
    match composed {
        Composed::And(terms) => {
            let total: f64 = terms.iter().map(|(w, _)| w).sum();
            let mut terms: Vec<_> = terms.into_iter().map(|(w, t)| (w, relative_to_prior(t, prior))).collect();
            if total != 1.0 {
                terms.push((1.0 - total, prior_leaf()));
            }
            Composed::And(terms)
        }
        Composed::Or { terms, temperature } => Composed::Or {
            terms: terms.into_iter().map(|(w, t)| (w, relative_to_prior(t, prior))).collect(),
            temperature,
        },
        Composed::Not { positive, negated, alpha } => {
            let weight = alpha * negated.len() as f64;
            let not = Composed::Not {
                positive: Box::new(relative_to_prior(*positive, prior)),
                negated: negated.into_iter().map(|n| relative_to_prior(n, prior)).collect(),
                alpha,
            };
            Composed::And(vec![(1.0, not), (weight, prior_leaf())])
        }
        leaf => leaf,
    }
}

/// Each conjunction's member weights multiplied by `w`, for use with
/// [`relative_to_prior`]: AND = E_u + w·Σ(Eᵢ − E_u), the concepts' pull made
/// w times stronger against the prior's (classifier-free guidance in
/// diffusion models). A conjunction nested in a conjunction is scaled once.
pub fn guided(composed: Composed<'_>, w: f64) -> Composed<'_> {
    fn inner(t: Composed<'_>, w: f64) -> Composed<'_> {
        match t {
            Composed::And(_) => t,
            other => guided(other, w),
        }
    }
    match composed {
        Composed::And(terms) => Composed::And(terms.into_iter().map(|(wi, t)| (wi * w, inner(t, w))).collect()),
        other => map_branches(other, &|t| guided(t, w)),
    }
}

/// `f` applied to each branch of an OR and to a NOT's positive term (its
/// negated terms are left as they are); a leaf or an AND unchanged. The
/// recursion the guidance rewrites share.
fn map_branches<'a>(composed: Composed<'a>, f: &dyn Fn(Composed<'a>) -> Composed<'a>) -> Composed<'a> {
    match composed {
        Composed::Or { terms, temperature } => Composed::Or {
            terms: terms.into_iter().map(|(wi, t)| (wi, f(t))).collect(),
            temperature,
        },
        Composed::Not { positive, negated, alpha } => Composed::Not {
            positive: Box::new(f(*positive)),
            negated,
            alpha,
        },
        other => other,
    }
}

/// `w` must be a positive number.
pub fn check_guidance(w: f64) -> Result<(), String> {
    if !(w > 0.0 && w.is_finite()) {
        return Err(format!("--guidance takes a positive number, got {w}"));
    }
    Ok(())
}

/// Every conjunction taken relative to its members' own unconditional
/// energies, each model's null code (zeros): AND = E₁(∅) + w·Σ wᵢ(Eᵢ(cᵢ) − Eᵢ(∅)).
/// The models must have been trained with code dropout, so that E(∅) is
/// the unconditional energy of the same network: a difference of one
/// network's two answers cancels that network's errors, which a difference
/// against a separately trained prior does not (there, guidance drew
/// saturated noise). Conjunctions nested in conjunctions are flattened; an
/// OR's branches and a NOT's positive term are each guided on their own.
pub fn null_guided(composed: Composed<'_>, w: f64) -> Composed<'_> {
    match composed {
        leaf @ Composed::Leaf { .. } => null_guided(Composed::And(vec![(1.0, leaf)]), w),
        Composed::And(terms) => {
            let mut out = Vec::new();
            let mut base = None;
            for (weight, term) in flatten(terms) {
                match term {
                    Composed::Leaf {
                        model,
                        code: Some(code),
                        label,
                    } => {
                        let null = || Composed::Leaf {
                            model,
                            code: Some(code.zeros_like()),
                            label: format!("{label}(∅)"),
                        };
                        base.get_or_insert_with(null);
                        out.push((-weight * w, null()));
                        out.push((
                            weight * w,
                            Composed::Leaf {
                                model,
                                code: Some(code),
                                label,
                            },
                        ));
                    }
                    leaf @ Composed::Leaf { .. } => out.push((weight, leaf)),
                    other => out.push((weight, null_guided(other, w))),
                }
            }
            out.extend(base.map(|b| (1.0, b)));
            Composed::And(out)
        }
        other => map_branches(other, &|t| null_guided(t, w)),
    }
}

/// The members of nested conjunctions, weights multiplied through.
fn flatten(terms: Vec<(f64, Composed<'_>)>) -> Vec<(f64, Composed<'_>)> {
    terms
        .into_iter()
        .flat_map(|(w, t)| match t {
            Composed::And(inner) => flatten(inner).into_iter().map(|(wi, t)| (w * wi, t)).collect(),
            other => vec![(w, other)],
        })
        .collect()
}

/// How an unconditional model beside concept models enters a composition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriorUse {
    /// Every conjunction relative to it ([`relative_to_prior`]): for concept
    /// models trained alone, each of which carries the data prior.
    #[default]
    Relative,
    /// Added once to the whole expression, E_u + E_expr ([`over_base`]): for
    /// concept models trained with it in one product
    /// (`ebm train shapes --product … --prior`), whose energies are relative to it.
    Base,
}

crate::named!(PriorUse, "prior use", [Relative => "relative", Base => "base"]);

/// E_base + E_composed.
pub fn over_base<'a>(composed: Composed<'a>, base: &'a dyn Energy) -> Composed<'a> {
    Composed::And(vec![(1.0, composed), (1.0, Composed::leaf(base))])
}
