//! Marginalising the concepts an expression leaves out. Models trained
//! together as a product (`train::product`) learned p(x | c₁ … c_K) ∝
//! exp(−Σₖ Eₖ(x | cₖ)) and each member only *relative to the others*: the
//! position member of a pos × colour product, sampled alone, drew the asked
//! place 0.69 of the time, since it never had to say anything about colour.
//! What it does model is p(x | pos) = Σ_c p(c)·p(x | pos, c), which a chain
//! samples exactly by drawing its own c from the concept's prior (uniform,
//! as the data) and sampling the full product: so every model an expression
//! omits joins it under a random code per chain.
//!
//! Each branch of an OR is a scene description of its own, so the omitted
//! concepts are found and completed per branch. A categorical concept named
//! only under NOT is marginalised over the categories it allows: for
//! `pos & !color=red` each chain draws a colour other than red, which is
//! p(x | pos, colour ≠ red) exactly, where E_pos − α·E_red asks a position
//! member that learned position only relative to colour to carry the scene.

use super::algebra::Composed;
use super::resolve::ConceptModel;
use crate::energy::{ConceptKind, ConceptSchema, Energy};
use rand::Rng;
use tch::Tensor;

/// Which models of a library an expression's omitted concepts are drawn for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Marginalise {
    /// The models trained in a product (their cards list `product_of`):
    /// each learned its concept relative to its partners, which join a
    /// branch that names it and omits them.
    #[default]
    Auto,
    /// Every model given, product member or not.
    On,
    /// None: an expression's energy is the models it names, as written.
    Off,
}

crate::named!(Marginalise, "marginalisation", [Auto => "auto", On => "on", Off => "off"]);

/// `composed` with every model of `partners` that a branch does not use
/// added to that branch under a code drawn per chain (`n` chains) from its
/// concept's prior: uniform over categories, or uniform over the range.
pub fn marginalise<'a>(composed: Composed<'a>, partners: &[ConceptModel<'a>], n: usize, rng: &mut impl Rng) -> Composed<'a> {
    match composed {
        Composed::Or { terms, temperature } => Composed::Or {
            terms: complete_each(terms, partners, n, rng),
            temperature,
        },
        Composed::Select { terms, branch } => Composed::Select {
            terms: complete_each(terms, partners, n, rng),
            branch,
        },
        scene => {
            let scene = complement_nots(scene, partners, n, rng);
            let mut used = Vec::new();
            models_used(&scene, &mut used);
            let omitted: Vec<&ConceptModel<'a>> = partners
                .iter()
                .filter(|p| !used.iter().any(|u| same_model(*u, p.energy)) && joins(p, &used, partners))
                .collect();
            if omitted.is_empty() {
                return scene;
            }
            let mut terms = vec![(1.0, scene)];
            for partner in omitted {
                terms.push((
                    1.0,
                    Composed::Leaf {
                        model: partner.energy,
                        code: Some(prior_codes(&partner.schema, n, rng)),
                        label: format!("{}~prior", partner.schema.name),
                    },
                ));
            }
            Composed::And(terms)
        }
    }
}

/// Whether omitted `partner` joins a branch that uses the models `used`:
/// always, unless it joins only the models trained with it (`trained_with`).
fn joins(partner: &ConceptModel, used: &[&dyn Energy], partners: &[ConceptModel]) -> bool {
    if partner.trained_with.is_none() {
        return true;
    }
    let name = &partner.schema.name;
    used.iter().any(|u| {
        partners
            .iter()
            .find(|p| same_model(p.energy, *u))
            .and_then(|p| p.trained_with.as_ref())
            .is_some_and(|with| with.iter().any(|w| crate::names::same_name(w, name)))
    })
}

/// Every NOT whose negated terms are all leaves of one categorical partner
/// becomes that partner under a category drawn per chain from those no
/// negated leaf names (left as it is where a chain would have none).
fn complement_nots<'a>(node: Composed<'a>, partners: &[ConceptModel<'a>], n: usize, rng: &mut impl Rng) -> Composed<'a> {
    match node {
        Composed::And(terms) => Composed::And(terms.into_iter().map(|(w, t)| (w, complement_nots(t, partners, n, rng))).collect()),
        Composed::Not { positive, negated, alpha } => {
            let positive = complement_nots(*positive, partners, n, rng);
            match allowed_categories(&negated, partners, n) {
                Some((partner, allowed)) if allowed.iter().all(|a| a.iter().any(|&ok| ok)) => {
                    let k = allowed[0].len();
                    let mut values = vec![0f32; n * k];
                    for (i, row) in allowed.iter().enumerate() {
                        let choices: Vec<usize> = (0..k).filter(|&c| row[c]).collect();
                        values[i * k + choices[rng.random_range(0..choices.len())]] = 1.0;
                    }
                    let leaf = Composed::Leaf {
                        model: partner.energy,
                        code: Some(Tensor::from_slice(&values).reshape([n as i64, k as i64])),
                        label: format!("{}~allowed", partner.schema.name),
                    };
                    Composed::And(vec![(1.0, positive), (1.0, leaf)])
                }
                _ => Composed::Not {
                    positive: Box::new(positive),
                    negated,
                    alpha,
                },
            }
        }
        other => other,
    }
}

/// The partner all of `negated` are one-hot leaves of, and per chain which
/// of its categories no negated leaf names; None when `negated` is anything else.
fn allowed_categories<'p, 'a>(
    negated: &[Composed<'a>],
    partners: &'p [ConceptModel<'a>],
    n: usize,
) -> Option<(&'p ConceptModel<'a>, Vec<Vec<bool>>)> {
    let Some(Composed::Leaf { model: first, .. }) = negated.first() else {
        return None;
    };
    let partner = partners.iter().find(|p| same_model(p.energy, *first))?;
    let ConceptKind::Categorical { categories } = &partner.schema.kind else {
        return None;
    };
    let k = categories.len();
    let mut allowed = vec![vec![true; k]; n];
    for term in negated {
        let Composed::Leaf {
            model, code: Some(code), ..
        } = term
        else {
            return None;
        };
        if !same_model(*model, partner.energy) {
            return None;
        }
        let code = code.to_kind(tch::Kind::Float).reshape([-1, k as i64]);
        if ![1, n as i64].contains(&code.size()[0]) {
            return None;
        }
        let code = code.expand([n as i64, k as i64], false).contiguous();
        let flat = Vec::<f32>::try_from(code.flatten(0, -1)).ok()?;
        for (i, row) in allowed.iter_mut().enumerate() {
            for (c, ok) in row.iter_mut().enumerate() {
                *ok &= flat[i * k + c] < 0.5;
            }
        }
    }
    Some((partner, allowed))
}

fn complete_each<'a>(
    terms: Vec<(f64, Composed<'a>)>,
    partners: &[ConceptModel<'a>],
    n: usize,
    rng: &mut impl Rng,
) -> Vec<(f64, Composed<'a>)> {
    terms.into_iter().map(|(w, t)| (w, marginalise(t, partners, n, rng))).collect()
}

/// `target` with every marginalised leaf (label `concept~…`) under the code
/// of the leaf of the same label in the same OR branch of `source`, and a
/// drawn OR's branches as `source` drew them: so a second model family
/// (a refiner) samples the same omitted values as the chains it refines,
/// though its models omit other concepts (their leaves keep their own codes).
pub fn borrow_marginal_codes<'a>(target: Composed<'a>, source: &Composed) -> Composed<'a> {
    let each = |terms: Vec<(f64, Composed<'a>)>, from: &[(f64, Composed)]| -> Vec<(f64, Composed<'a>)> {
        let mut from = from.iter();
        terms
            .into_iter()
            .map(|(w, t)| match from.next() {
                Some((_, f)) => (w, borrow_marginal_codes(t, f)),
                None => (w, t),
            })
            .collect()
    };
    match (target, source) {
        (Composed::Or { terms, temperature }, Composed::Or { terms: from, .. }) => Composed::Or {
            terms: each(terms, from),
            temperature,
        },
        (Composed::Select { terms, .. }, Composed::Select { terms: from, branch }) => Composed::Select {
            terms: each(terms, from),
            branch: branch.shallow_clone(),
        },
        (scene, from) => {
            let mut codes = Vec::new();
            marginal_leaves(from, &mut codes);
            with_codes(scene, &codes)
        }
    }
}

/// (label, code) of every marginalised leaf under `composed`.
fn marginal_leaves(composed: &Composed, out: &mut Vec<(String, Tensor)>) {
    match composed {
        Composed::Leaf {
            code: Some(code), label, ..
        } if label.contains('~') => out.push((label.clone(), code.shallow_clone())),
        Composed::Leaf { .. } => {}
        Composed::And(terms) | Composed::Or { terms, .. } | Composed::Select { terms, .. } => {
            terms.iter().for_each(|(_, t)| marginal_leaves(t, out))
        }
        Composed::Not { positive, negated, .. } => {
            marginal_leaves(positive, out);
            negated.iter().for_each(|t| marginal_leaves(t, out));
        }
    }
}

/// `composed` with each leaf labelled as one of `codes` under that code.
fn with_codes<'a>(composed: Composed<'a>, codes: &[(String, Tensor)]) -> Composed<'a> {
    let each = |terms: Vec<(f64, Composed<'a>)>| terms.into_iter().map(|(w, t)| (w, with_codes(t, codes))).collect();
    match composed {
        Composed::Leaf { model, code, label } => {
            let code = match codes.iter().find(|(l, _)| *l == label) {
                Some((_, borrowed)) => Some(borrowed.shallow_clone()),
                None => code,
            };
            Composed::Leaf { model, code, label }
        }
        Composed::And(terms) => Composed::And(each(terms)),
        Composed::Or { terms, temperature } => Composed::Or {
            terms: each(terms),
            temperature,
        },
        Composed::Select { terms, branch } => Composed::Select {
            terms: each(terms),
            branch,
        },
        Composed::Not { positive, negated, alpha } => Composed::Not {
            positive: Box::new(with_codes(*positive, codes)),
            negated: negated.into_iter().map(|t| with_codes(t, codes)).collect(),
            alpha,
        },
    }
}

/// The models under the leaves of `composed`.
fn models_used<'a>(composed: &Composed<'a>, used: &mut Vec<&'a dyn Energy>) {
    match composed {
        Composed::Leaf { model, .. } => used.push(*model),
        Composed::And(terms) | Composed::Or { terms, .. } | Composed::Select { terms, .. } => {
            terms.iter().for_each(|(_, t)| models_used(t, used))
        }
        Composed::Not { positive, negated, .. } => {
            models_used(positive, used);
            negated.iter().for_each(|t| models_used(t, used));
        }
    }
}

fn same_model(a: &dyn Energy, b: &dyn Energy) -> bool {
    std::ptr::addr_eq(a as *const dyn Energy, b as *const dyn Energy)
}

/// `n` codes `[n, D]` drawn from a concept's prior.
pub fn prior_codes(schema: &ConceptSchema, n: usize, rng: &mut impl Rng) -> Tensor {
    let (width, values): (usize, Vec<f32>) = match &schema.kind {
        ConceptKind::Categorical { categories } => {
            let k = categories.len();
            let mut values = vec![0f32; n * k];
            for i in 0..n {
                values[i * k + rng.random_range(0..k)] = 1.0;
            }
            (k, values)
        }
        ConceptKind::Continuous {
            components,
            range: (lo, hi),
        } => {
            let d = components.len();
            let values: Vec<f64> = (0..n * d).map(|_| rng.random_range(*lo..*hi)).collect();
            (d, schema.encode(&values))
        }
    };
    Tensor::from_slice(&values).reshape([n as i64, width as i64])
}
