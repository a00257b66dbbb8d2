//! Whether a judged image satisfies an expression: the judge's reading of
//! each factor makes every atom true or false, and the logic does the rest.
//! Used to score free-form expressions (the demo) the way Table 1's rows are
//! scored: position within 0.1, size within 0.03, colour and shape exact.

use super::{Judged, POSITION_TOLERANCE, SIZE_TOLERANCE};
use crate::compose::expr::{Expr, Value};
use crate::data::shapes::{COLOUR_NAMES, SHAPE_NAMES};
use anyhow::{bail, Result};

fn category(value: &Value, names: &[&str]) -> Option<usize> {
    match value {
        Value::Name(n) => names.iter().position(|c| c.eq_ignore_ascii_case(n)),
        Value::Number(k) if k.fract() == 0.0 && *k >= 0.0 && (*k as usize) < names.len() => Some(*k as usize),
        _ => None,
    }
}

/// Truth of `expr` for judged sample `i`. Weights do not change truth.
pub fn satisfies(expr: &Expr, judged: &Judged, i: usize) -> Result<bool> {
    Ok(match expr {
        Expr::Atom { concept, value, .. } => match (crate::names::canonical(concept).as_str(), value) {
            ("pos", Value::Tuple(t)) if t.len() == 2 => (judged.pos[i].0 - t[0]).hypot(judged.pos[i].1 - t[1]) <= POSITION_TOLERANCE,
            ("size", Value::Number(r)) => (judged.size[i] - r).abs() <= SIZE_TOLERANCE,
            ("color", v) if category(v, &COLOUR_NAMES).is_some() => category(v, &COLOUR_NAMES) == Some(judged.colour[i]),
            ("shape", v) if category(v, &SHAPE_NAMES).is_some() => category(v, &SHAPE_NAMES) == Some(judged.shape[i]),
            (name, value) => bail!("the shapes judge cannot check {name}={value:?}; it reads pos=(x,y), size=r, color=NAME and shape=NAME"),
        },
        Expr::And(terms) => terms
            .iter()
            .map(|t| satisfies(t, judged, i))
            .collect::<Result<Vec<_>>>()?
            .iter()
            .all(|&b| b),
        Expr::Or(terms) => terms
            .iter()
            .map(|t| satisfies(t, judged, i))
            .collect::<Result<Vec<_>>>()?
            .iter()
            .any(|&b| b),
        Expr::Not { inner, .. } => !satisfies(inner, judged, i)?,
        Expr::Weighted { inner, .. } => satisfies(inner, judged, i)?,
    })
}

/// Fraction of the judged samples that satisfy `expr`.
pub fn satisfaction(expr: &Expr, judged: &Judged) -> Result<f64> {
    let n = judged.colour.len();
    let mut hits = 0;
    for i in 0..n {
        hits += usize::from(satisfies(expr, judged, i)?);
    }
    Ok(hits as f64 / n.max(1) as f64)
}

/// The judge conditions an expression asks for, as `ebm judge score` reads
/// them: one tensor per atom that every satisfying sample must meet (atoms
/// of the top-level conjunction; negated, disjoined or duplicated concepts
/// have no single target and are left out). `position` `[n, 2]`, `size`
/// `[n, 1]`, `shape` and `color` class indices `[n]`.
pub fn judge_conditions(expr: &Expr, n: usize) -> Vec<(String, tch::Tensor)> {
    let mut atoms = Vec::new();
    conjuncts(expr, &mut atoms);
    let mut out: Vec<(String, tch::Tensor)> = Vec::new();
    let mut ambiguous: Vec<&str> = Vec::new();
    let n = n as i64;
    for (concept, value) in atoms {
        let entry = match (crate::names::canonical(concept).as_str(), value) {
            ("pos", Value::Tuple(t)) if t.len() == 2 => (
                "position",
                tch::Tensor::from_slice(&[t[0] as f32, t[1] as f32]).view([1, 2]).repeat([n, 1]),
            ),
            ("size", Value::Number(r)) => ("size", tch::Tensor::full([n, 1], *r, (tch::Kind::Float, tch::Device::Cpu))),
            ("color", v) => match category(v, &COLOUR_NAMES) {
                Some(k) => ("color", tch::Tensor::full([n], k as i64, (tch::Kind::Int64, tch::Device::Cpu))),
                None => continue,
            },
            ("shape", v) => match category(v, &SHAPE_NAMES) {
                Some(k) => ("shape", tch::Tensor::full([n], k as i64, (tch::Kind::Int64, tch::Device::Cpu))),
                None => continue,
            },
            _ => continue,
        };
        // A concept asked twice (`color=red & color=blue`) has no one target.
        if ambiguous.contains(&entry.0) {
            continue;
        }
        if out.iter().any(|(head, _)| head == entry.0) {
            out.retain(|(head, _)| head != entry.0);
            ambiguous.push(entry.0);
            continue;
        }
        out.push((entry.0.to_string(), entry.1));
    }
    out
}

fn conjuncts<'e>(expr: &'e Expr, atoms: &mut Vec<(&'e str, &'e Value)>) {
    match expr {
        Expr::Atom { concept, value, .. } => atoms.push((concept, value)),
        Expr::And(terms) => terms.iter().for_each(|t| conjuncts(t, atoms)),
        Expr::Weighted { inner, .. } => conjuncts(inner, atoms),
        Expr::Or(_) | Expr::Not { .. } => {}
    }
}
