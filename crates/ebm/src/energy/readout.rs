//! How a code reaches an image energy's output.
//!
//! `Film` conditions every residual block on the code (IGEBM). The two
//! discriminative read-outs keep the trunk unconditional and write the
//! conditional energy as Bayes does, E(x | c) = E(x) − log p(c | x) + const:
//! - `Classifier` (categorical codes): −log p(c | x) = −Σₖ cₖ log softmax(U φ(x))ₖ;
//! - `Gaussian` (continuous codes): −log p(c | x) = ‖V φ(x) − c‖² / 2τ², τ learned;
//! - `Posterior` (categorical) and `GaussianPosterior` (continuous): the
//!   same −log p(c | x) alone, with no E(x). The model is then only the
//!   concept's posterior, to be composed with models that carry the scene
//!   (its card's `product_of`): p(x | c) ∝ p(x)·p(c | x) is classifier
//!   guidance, and the unconditional head — never trained by the
//!   cross-entropy — would only add an untrained gradient.
//!
//! Design: concept models with FiLM read-outs learned no shape in 600 CD
//! steps (lowest-energy classification at chance, README "Concept models"):
//! the code reaches the scalar energy only through products deep in the net.
//! Here the cross-entropy on −E over the codes is exactly a classifier's
//! loss, which a judge-sized network learns to 99 % in minutes, and a product
//! of concept models is the prior times the concepts' posteriors.

use super::layers::Dense;
use serde::{Deserialize, Serialize};
use tch::{nn::Init, nn::Path, Tensor};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readout {
    #[default]
    Film,
    Classifier,
    Gaussian,
    Posterior,
    GaussianPosterior,
}

impl Readout {
    /// Whether the energy is the code term alone (no E(x) head).
    pub fn is_posterior(self) -> bool {
        matches!(self, Readout::Posterior | Readout::GaussianPosterior)
    }

    /// A softmax read-out reads categories, a Gaussian one continuous values.
    pub fn check_fits(self, categorical: bool) -> Result<(), String> {
        let fits = match self {
            Readout::Film => true,
            Readout::Classifier | Readout::Posterior => categorical,
            Readout::Gaussian | Readout::GaussianPosterior => !categorical,
        };
        let (kind, use_instead) = match categorical {
            true => ("categorical", "classifier or posterior"),
            false => ("continuous", "gaussian or gaussian-posterior"),
        };
        match fits {
            true => Ok(()),
            false => Err(format!(
                "the {} read-out does not fit this {kind} concept: use --readout {use_instead}",
                crate::names::Named::name(self)
            )),
        }
    }
}

crate::named!(Readout, "read-out", [Film => "film", Classifier => "classifier", Gaussian => "gaussian", Posterior => "posterior", GaussianPosterior => "gaussian-posterior"]);

/// Smallest τ of the Gaussian read-out (in code units, codes span [−1, 1]):
/// keeps the concept term's curvature bounded for the samplers.
const MIN_TAU: f64 = 0.02;

/// The code-dependent term of a discriminative read-out.
pub struct CodeTerm {
    readout: Readout,
    projection: Dense,
    log_tau: Option<Tensor>,
}

impl CodeTerm {
    /// None for `Film`, which has no separate code term.
    pub fn new(path: &Path, readout: Readout, features: i64, code_dim: i64) -> Option<Self> {
        let log_tau = match readout {
            Readout::Film => return None,
            Readout::Classifier | Readout::Posterior => None,
            Readout::Gaussian | Readout::GaussianPosterior => Some(path.var("log_tau", &[1], Init::Const((0.3f64).ln()))),
        };
        Some(Self {
            readout,
            projection: Dense::new(&(path / "projection"), features, code_dim, false, 1.0),
            log_tau,
        })
    }

    /// `features: [B, F]`, `code: [B, C]` → `[B]`, the −log p(c | x) term.
    pub fn energy(&self, features: &Tensor, code: &Tensor) -> Tensor {
        let out = self.projection.forward(features);
        let kind = out.kind();
        match (&self.readout, &self.log_tau) {
            (Readout::Gaussian | Readout::GaussianPosterior, Some(log_tau)) => {
                let tau = log_tau.exp() + MIN_TAU;
                (out - code).square().sum_dim_intlist(-1, false, kind) / (tau.square() * 2.0)
            }
            _ => -(out.log_softmax(-1, kind) * code).sum_dim_intlist(-1, false, kind),
        }
    }

    /// The read-out's estimate of the concept: class probabilities, or V φ(x).
    pub fn predict(&self, features: &Tensor) -> Tensor {
        let out = self.projection.forward(features);
        match self.readout {
            Readout::Gaussian | Readout::GaussianPosterior => out,
            _ => out.softmax(-1, out.kind()),
        }
    }
}
