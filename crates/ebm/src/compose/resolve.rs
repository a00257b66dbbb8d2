//! From a parsed expression to a [`Composed`] energy over loaded models.

use super::algebra::Composed;
use super::expr::{Expr, ParseError, Value};
use crate::energy::{ConceptKind, ConceptSchema, Energy};
use tch::Tensor;

/// A loaded model and the concept it is conditioned on.
pub struct ConceptModel<'a> {
    pub schema: ConceptSchema,
    pub energy: &'a dyn Energy,
    /// For marginalisation ([`super::marginal`]): None, this model joins any
    /// branch that omits its concept; Some(concepts), the concepts this model
    /// was trained with (its card's `product_of`), and it joins a branch that
    /// omits it only when a model the branch names lists it there.
    pub trained_with: Option<Vec<String>>,
}

/// How the operators are weighted (defaults: [`super::algebra::DEFAULT_ALPHA`],
/// [`super::algebra::DEFAULT_TEMPERATURE`]).
#[derive(Clone, Debug)]
pub struct Settings {
    /// α of NOT (E_pos − α·E_neg).
    pub alpha: f64,
    /// Temperature T of OR (−T·logsumexp(−E/T)).
    pub temperature: f64,
    /// Accept continuous values outside the range a model was trained on
    /// (refused by default: a model says nothing there).
    pub allow_extrapolation: bool,
}

impl Settings {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.temperature > 0.0 && self.temperature.is_finite() && self.alpha.is_finite()) {
            anyhow::bail!(
                "--temperature must be a positive number and --alpha a finite one, got {} and {}",
                self.temperature,
                self.alpha
            );
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            alpha: super::algebra::DEFAULT_ALPHA,
            temperature: super::algebra::DEFAULT_TEMPERATURE,
            allow_extrapolation: false,
        }
    }
}

struct Resolver<'m, 'a> {
    text: &'m str,
    models: &'m [ConceptModel<'a>],
    settings: &'m Settings,
}

impl<'m, 'a> Resolver<'m, 'a> {
    fn error<T>(&self, message: String, position: usize) -> Result<T, ParseError> {
        Err(ParseError {
            message,
            position,
            expression: self.text.to_string(),
        })
    }

    fn ungrounded<T>(&self, at: usize) -> Result<T, ParseError> {
        self.error(
            "ungrounded NOT: a negated concept needs a positive term beside it in the same '&' (e.g. shape=square & !color=red); \
             on its own, −E is lowest infinitely far from the data, so sampling it has no target"
                .into(),
            at,
        )
    }

    /// The code a concept's value stands for.
    fn code(&self, schema: &ConceptSchema, value: &Value, at: usize) -> Result<Tensor, ParseError> {
        match (&schema.kind, value) {
            (ConceptKind::Categorical { categories }, Value::Name(name)) => {
                match categories.iter().position(|c| c.eq_ignore_ascii_case(name)) {
                    Some(index) => Ok(one_hot(index, categories.len())),
                    None => self.error(
                        format!(
                            "'{}' has no category '{name}'; its categories are {}",
                            schema.name,
                            categories.join(", ")
                        ),
                        at,
                    ),
                }
            }
            (ConceptKind::Categorical { categories }, Value::Number(n))
                if n.fract() == 0.0 && *n >= 0.0 && (*n as usize) < categories.len() =>
            {
                Ok(one_hot(*n as usize, categories.len()))
            }
            (ConceptKind::Categorical { categories }, _) => self.error(
                format!(
                    "'{}' takes a category name ({}) or an index 0..{}",
                    schema.name,
                    categories.join(", "),
                    categories.len() - 1
                ),
                at,
            ),
            (
                ConceptKind::Continuous {
                    components,
                    range: (lo, hi),
                },
                value,
            ) => {
                let numbers = match value {
                    Value::Number(n) => vec![*n],
                    Value::Tuple(t) => t.clone(),
                    Value::Name(name) => return self.error(format!("'{}' takes numbers, not the name '{name}'", schema.name), at),
                };
                if numbers.len() != components.len() {
                    return self.error(
                        format!(
                            "'{}' takes {} number(s) ({}), got {}",
                            schema.name,
                            components.len(),
                            components.join(", "),
                            numbers.len()
                        ),
                        at,
                    );
                }
                if let Some(bad) = numbers.iter().find(|v| !v.is_finite()) {
                    return self.error(format!("'{}' got {bad}; values must be finite numbers", schema.name), at);
                }
                let outside = numbers.iter().find(|&&v| v < lo - 1e-9 || v > hi + 1e-9);
                if let (Some(v), false) = (outside, self.settings.allow_extrapolation) {
                    return self.error(
                        format!(
                            "'{}' = {} is outside the range its model was trained on, [{lo}, {hi}]; pass --allow-extrapolation to sample there anyway",
                            schema.name,
                            concise(*v)
                        ),
                        at,
                    );
                }
                // Even extrapolation stays within ten range widths: codes far
                // beyond that only overflow the network.
                let reach = 10.0 * (hi - lo);
                if let Some(v) = numbers.iter().find(|&&v| v < lo - reach || v > hi + reach) {
                    return self.error(
                        format!(
                            "'{}' = {} is far outside its model's range [{lo}, {hi}]; even with --allow-extrapolation values must lie within [{:.3}, {:.3}]",
                            schema.name,
                            concise(*v),
                            lo - reach,
                            hi + reach
                        ),
                        at,
                    );
                }
                Ok(Tensor::from_slice(&schema.encode(&numbers)))
            }
        }
    }

    fn resolve(&self, expr: &Expr) -> Result<Composed<'a>, ParseError> {
        match expr {
            Expr::Atom { concept, value, at } => {
                let Some(model) = self.models.iter().find(|m| crate::names::same_name(&m.schema.name, concept)) else {
                    let loaded: Vec<&str> = self.models.iter().map(|m| m.schema.name.as_str()).collect();
                    let loaded = if loaded.is_empty() { "none".to_string() } else { loaded.join(", ") };
                    return self.error(format!("no model for concept '{concept}' is loaded (loaded: {loaded})"), *at);
                };
                let code = self.code(&model.schema, value, *at)?;
                let label = match value {
                    Value::Number(n) => format!("{concept}={n}"),
                    Value::Name(name) => format!("{concept}={name}"),
                    Value::Tuple(t) => format!("{concept}=({})", t.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")),
                };
                Ok(Composed::Leaf {
                    model: model.energy,
                    code: Some(code),
                    label,
                })
            }
            Expr::Not { at, .. } => self.ungrounded(*at),
            Expr::Weighted { weight, inner } => Ok(Composed::And(vec![(*weight, self.resolve(inner)?)])),
            Expr::Or(terms) => {
                let terms = terms.iter().map(|t| self.weighted(t)).collect::<Result<_, _>>()?;
                Ok(Composed::Or {
                    terms,
                    temperature: self.settings.temperature,
                })
            }
            Expr::And(terms) => {
                let (negated, positive): (Vec<&Expr>, Vec<&Expr>) = terms.iter().partition(|t| matches!(t, Expr::Not { .. }));
                if positive.is_empty() {
                    let Expr::Not { at, .. } = negated[0] else {
                        unreachable!("partitioned on Not")
                    };
                    return self.ungrounded(*at);
                }
                let positive = Composed::And(positive.into_iter().map(|t| self.weighted(t)).collect::<Result<_, _>>()?);
                if negated.is_empty() {
                    return Ok(positive);
                }
                let negated = negated
                    .into_iter()
                    .map(|t| match t {
                        Expr::Not { inner, .. } => self.resolve(inner),
                        _ => unreachable!("partitioned on Not"),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Composed::Not {
                    positive: Box::new(positive),
                    negated,
                    alpha: self.settings.alpha,
                })
            }
        }
    }

    /// A term with its weight (1 unless written `w*term`).
    fn weighted(&self, expr: &Expr) -> Result<(f64, Composed<'a>), ParseError> {
        match expr {
            Expr::Weighted { weight, inner } => Ok((*weight, self.resolve(inner)?)),
            other => Ok((1.0, self.resolve(other)?)),
        }
    }
}

fn one_hot(index: usize, n: usize) -> Tensor {
    let mut v = vec![0f32; n];
    v[index] = 1.0;
    Tensor::from_slice(&v)
}

/// Resolves `text` (parsed as `expr`) against `models`.
pub fn resolve<'a>(text: &str, expr: &Expr, models: &[ConceptModel<'a>], settings: &Settings) -> Result<Composed<'a>, ParseError> {
    Resolver { text, models, settings }.resolve(expr)
}

/// A number as a person would write it: 1e308, not 309 digits.
fn concise(v: f64) -> String {
    if v != 0.0 && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}
