//! A realism figure per row: KID (the kernel inception distance, with the
//! shapes judge's penultimate features in place of Inception's) between a
//! row's samples and real scenes that satisfy the same per-sample
//! conditions. Accuracy alone lets two half-right objects pass for one right
//! one (the judge reads one of them); a real scene never holds two.

use super::rows::{Conditions, Row};
use crate::data::shapes::{Shapes, COLOURS};
use crate::data::shapes_concept::ShapesConcept;
use crate::judge::Judge;
use tch::{Kind, Tensor};

/// Real scene i of a fresh stream with the row's conditioned factors set
/// from `c`: both factors of a conjunction, one branch (alternating) of an
/// OR, a colour other than the negated one for pos ∧ ¬colour, the implied
/// colour for the implication. Factors the row leaves free stay random.
fn matching_scene(shapes: &Shapes, row: Row, c: &Conditions, i: u64) -> Vec<f32> {
    let mut scene = shapes.scene(i);
    let object = scene.objects.last_mut().expect("a shapes scene has its object");
    let second_branch = row.is_or() && i % 2 == 1;
    let (pos, colour) = if second_branch { (c.pos2, c.colour2) } else { (c.pos, c.colour) };
    let colour = if row == Row::PosAndNotCol { c.colour2 } else { colour };
    let conditioned = row.concepts();
    let sets = |concept| conditioned.contains(&concept);
    if sets(ShapesConcept::Pos) && row != Row::NotPosAndCol {
        (object.x, object.y) = pos;
    }
    if sets(ShapesConcept::Color) && !(row == Row::PosOrPos) {
        object.colour = Some(colour);
        object.rgb = COLOURS[colour];
    }
    if sets(ShapesConcept::Shape) {
        object.shape = c.shape;
    }
    if sets(ShapesConcept::Size) {
        object.r = c.size;
    }
    scene.render(shapes.size)
}

/// Real scenes `[N, 3, S, S]` matching each sample's conditions.
pub fn matching_scenes(row: Row, conditions: &[Conditions], size: usize, seed: u64) -> Tensor {
    let shapes = Shapes::new(size, seed);
    let pixels: Vec<f32> = conditions
        .iter()
        .enumerate()
        .flat_map(|(i, c)| matching_scene(&shapes, row, c, i as u64))
        .collect();
    let s = size as i64;
    Tensor::from_slice(&pixels).reshape([conditions.len() as i64, 3, s, s])
}

/// Unbiased squared MMD with the cubic polynomial kernel (x·y/d + 1)³ of
/// KID (Bińkowski et al. 2018) between feature sets `[N, d]` and `[M, d]`.
pub fn kid(x: &Tensor, y: &Tensor) -> f64 {
    let (x, y) = (x.to_kind(Kind::Double), y.to_kind(Kind::Double));
    let d = x.size()[1] as f64;
    let kernel = |a: &Tensor, b: &Tensor| (a.matmul(&b.tr()) / d + 1.0).pow_tensor_scalar(3);
    let off_diagonal_mean = |k: Tensor| {
        let n = k.size()[0] as f64;
        (k.sum(Kind::Double) - k.trace()).double_value(&[]) / (n * (n - 1.0))
    };
    off_diagonal_mean(kernel(&x, &x)) + off_diagonal_mean(kernel(&y, &y)) - 2.0 * kernel(&x, &y).mean(Kind::Double).double_value(&[])
}

/// KID between `samples` and real scenes matching their conditions, and the
/// same figure for a second independent set of real scenes (the floor a
/// perfect sampler would reach at this sample size).
pub fn realism(judge: &Judge, row: Row, conditions: &[Conditions], samples: &Tensor, seed: u64) -> (f64, f64) {
    let size = samples.size()[3] as usize;
    let features = |images: &Tensor| tch::no_grad(|| judge.features(images));
    let stream = |k: u64| crate::seed::derive(seed, &[crate::seed::streams::ROW, k]);
    let real = features(&matching_scenes(row, conditions, size, stream(1)));
    let other = features(&matching_scenes(row, conditions, size, stream(2)));
    (kid(&features(samples), &real), kid(&other, &real))
}
