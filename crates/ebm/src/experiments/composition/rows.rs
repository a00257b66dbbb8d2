//! The rows of Table 1 on `shapes`: per-sample conditions drawn at random,
//! the composed energy each row samples, and how its samples are scored.

use super::{Judged, POSITION_TOLERANCE, SIZE_TOLERANCE};
use crate::compose::Composed;
use crate::data::shapes::{COLOUR_NAMES, SHAPE_NAMES};
use crate::data::shapes_concept::ShapesConcept;
use crate::energy::Energy;
use rand::Rng;
use std::collections::BTreeMap;
use tch::Tensor;

/// The conditions of one sample.
#[derive(Clone, Debug)]
pub struct Conditions {
    pub pos: (f64, f64),
    pub colour: usize,
    pub shape: usize,
    pub size: f64,
    /// The second branch of an OR row.
    pub pos2: (f64, f64),
    pub colour2: usize,
}

impl Conditions {
    /// Positions kept 0.05 inside the trained range [0.2, 0.8] so that a
    /// judged position within 0.1 is possible on every side. OR rows put
    /// branch 1 bottom-left and branch 2 top-right, as the paper does.
    pub fn draw(rng: &mut impl Rng, row: Row) -> Self {
        let mut u = |lo: f64, hi: f64| rng.random_range(lo..hi);
        let (pos, pos2) = if row.is_or() {
            ((u(0.25, 0.4), u(0.6, 0.75)), (u(0.6, 0.75), u(0.25, 0.4)))
        } else {
            ((u(0.25, 0.75), u(0.25, 0.75)), (0.0, 0.0))
        };
        let size = u(0.11, 0.17);
        let colour = rng.random_range(0..8);
        let colour2 = (colour + rng.random_range(1..8)) % 8;
        Self {
            pos,
            colour,
            shape: rng.random_range(0..3),
            size,
            pos2,
            colour2,
        }
    }

    pub fn caption(&self, row: Row) -> String {
        let colour = &COLOUR_NAMES[self.colour][..3];
        let pos = format!("{:.2},{:.2}", self.pos.0, self.pos.1);
        match row {
            Row::Alone(ShapesConcept::Color) | Row::NotPosAndCol => colour.to_string(),
            Row::Alone(ShapesConcept::Shape) => SHAPE_NAMES[self.shape][..3].to_string(),
            Row::Alone(ShapesConcept::Size) => format!("r{:.3}", self.size),
            Row::PosAndCol | Row::AllFour => format!("{pos} {colour}"),
            Row::PosAndNotCol => format!("{pos} !{colour}"),
            Row::PosOrPos | Row::PosColOrPosCol => format!("{pos}|{:.2},{:.2}", self.pos2.0, self.pos2.1),
            Row::Implication => format!("{pos} =>{colour}"),
            Row::Alone(ShapesConcept::Pos) => pos,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    Alone(ShapesConcept),
    PosAndCol,
    PosAndNotCol,
    NotPosAndCol,
    PosOrPos,
    PosColOrPosCol,
    AllFour,
    /// pos ∧ ¬c₁ ∧ … ∧ ¬c₇, which implies the eighth colour.
    Implication,
}

impl Row {
    pub const ALL: [Row; 11] = [
        Row::Alone(ShapesConcept::Pos),
        Row::Alone(ShapesConcept::Color),
        Row::Alone(ShapesConcept::Shape),
        Row::Alone(ShapesConcept::Size),
        Row::PosAndCol,
        Row::PosAndNotCol,
        Row::NotPosAndCol,
        Row::PosOrPos,
        Row::PosColOrPosCol,
        Row::AllFour,
        Row::Implication,
    ];

    pub fn is_or(self) -> bool {
        matches!(self, Row::PosOrPos | Row::PosColOrPosCol)
    }

    /// Short identifier (file names, JSON keys, `--rows`).
    pub fn key(self) -> String {
        match self {
            Row::Alone(c) => format!("{}-alone", c.name()),
            Row::PosAndCol => "pos-and-color".into(),
            Row::PosAndNotCol => "pos-and-not-color".into(),
            Row::NotPosAndCol => "not-pos-and-color".into(),
            Row::PosOrPos => "pos-or-pos".into(),
            Row::PosColOrPosCol => "pos-color-or-pos-color".into(),
            Row::AllFour => "pos-color-shape-size".into(),
            Row::Implication => "implication".into(),
        }
    }

    /// The concepts the row's expression names (each needs its model).
    pub fn concepts(self) -> &'static [ShapesConcept] {
        use ShapesConcept::{Color, Pos, Shape, Size};
        match self {
            Row::Alone(Pos) => &[Pos],
            Row::Alone(Color) => &[Color],
            Row::Alone(Shape) => &[Shape],
            Row::Alone(Size) => &[Size],
            Row::PosAndCol | Row::PosAndNotCol | Row::NotPosAndCol | Row::PosColOrPosCol | Row::Implication => &[Pos, Color],
            Row::PosOrPos => &[Pos],
            Row::AllFour => &[Pos, Color, Shape, Size],
        }
    }

    /// The row as an expression template.
    pub fn formula(self) -> &'static str {
        match self {
            Row::Alone(ShapesConcept::Pos) => "pos=P",
            Row::Alone(ShapesConcept::Color) => "color=C",
            Row::Alone(ShapesConcept::Shape) => "shape=S",
            Row::Alone(ShapesConcept::Size) => "size=R",
            Row::PosAndCol => "pos=P & color=C",
            Row::PosAndNotCol => "pos=P & !color=C",
            Row::NotPosAndCol => "color=C & !pos=P",
            Row::PosOrPos => "pos=P1 | pos=P2",
            Row::PosColOrPosCol => "(pos=P1 & color=C1) | (pos=P2 & color=C2)",
            Row::AllFour => "pos=P & color=C & shape=S & size=R",
            Row::Implication => "pos=P & !color=c1 & … & !color=c7 (⇒ c8 = C)",
        }
    }
}

/// The four concept models of `shapes`.
pub struct ShapesModels<'a> {
    pub pos: &'a dyn Energy,
    pub color: &'a dyn Energy,
    pub shape: &'a dyn Energy,
    pub size: &'a dyn Energy,
}

/// Per-sample codes of one concept, `[B, C]`.
fn codes(conditions: &[Conditions], concept: ShapesConcept, pick: impl Fn(&Conditions) -> Vec<f64>) -> Tensor {
    let schema = concept.schema();
    let dim = schema.code_dim() as usize;
    let flat: Vec<f32> = conditions
        .iter()
        .flat_map(|c| match concept {
            ShapesConcept::Pos | ShapesConcept::Size => schema.encode(&pick(c)),
            ShapesConcept::Color | ShapesConcept::Shape => {
                let index = pick(c)[0] as usize;
                (0..dim).map(|k| if k == index { 1.0 } else { 0.0 }).collect()
            }
        })
        .collect();
    Tensor::from_slice(&flat).reshape([conditions.len() as i64, dim as i64])
}

/// Per-sample codes of `concept` for the value each of `conditions` asks
/// (the first branch's, for OR rows).
pub fn concept_codes(conditions: &[Conditions], concept: ShapesConcept) -> Tensor {
    codes(conditions, concept, |c| match concept {
        ShapesConcept::Pos => vec![c.pos.0, c.pos.1],
        ShapesConcept::Color => vec![c.colour as f64],
        ShapesConcept::Shape => vec![c.shape as f64],
        ShapesConcept::Size => vec![c.size],
    })
}

impl<'a> ShapesModels<'a> {
    fn leaf(&self, concept: ShapesConcept, conditions: &[Conditions], pick: impl Fn(&Conditions) -> Vec<f64>) -> Composed<'a> {
        let model = match concept {
            ShapesConcept::Pos => self.pos,
            ShapesConcept::Color => self.color,
            ShapesConcept::Shape => self.shape,
            ShapesConcept::Size => self.size,
        };
        Composed::Leaf {
            model,
            code: Some(codes(conditions, concept, pick)),
            label: concept.name().into(),
        }
    }

    /// The composed energy of `row` for a batch with these conditions.
    pub fn energy(&self, row: Row, conditions: &[Conditions], alpha: f64, temperature: f64) -> Composed<'a> {
        let pos = || self.leaf(ShapesConcept::Pos, conditions, |c| vec![c.pos.0, c.pos.1]);
        let pos2 = || self.leaf(ShapesConcept::Pos, conditions, |c| vec![c.pos2.0, c.pos2.1]);
        let colour = || self.leaf(ShapesConcept::Color, conditions, |c| vec![c.colour as f64]);
        let colour2 = || self.leaf(ShapesConcept::Color, conditions, |c| vec![c.colour2 as f64]);
        let shape = || self.leaf(ShapesConcept::Shape, conditions, |c| vec![c.shape as f64]);
        let size = || self.leaf(ShapesConcept::Size, conditions, |c| vec![c.size]);
        let and = |terms: Vec<Composed<'a>>| Composed::And(terms.into_iter().map(|t| (1.0, t)).collect());
        let not = |positive: Composed<'a>, negated: Vec<Composed<'a>>| Composed::Not {
            positive: Box::new(positive),
            negated,
            alpha,
        };
        let or = |terms: Vec<Composed<'a>>| Composed::Or {
            terms: terms.into_iter().map(|t| (1.0, t)).collect(),
            temperature,
        };
        match row {
            Row::Alone(ShapesConcept::Pos) => pos(),
            Row::Alone(ShapesConcept::Color) => colour(),
            Row::Alone(ShapesConcept::Shape) => shape(),
            Row::Alone(ShapesConcept::Size) => size(),
            Row::PosAndCol => and(vec![pos(), colour()]),
            Row::PosAndNotCol => not(pos(), vec![colour()]),
            Row::NotPosAndCol => not(colour(), vec![pos()]),
            Row::PosOrPos => or(vec![pos(), pos2()]),
            Row::PosColOrPosCol => or(vec![and(vec![pos(), colour()]), and(vec![pos2(), colour2()])]),
            Row::AllFour => and(vec![pos(), colour(), shape(), size()]),
            Row::Implication => {
                // Every colour but the sample's own is negated.
                let negated = (1..8)
                    .map(|k| self.leaf(ShapesConcept::Color, conditions, move |c| vec![((c.colour + k) % 8) as f64]))
                    .collect();
                not(pos(), negated)
            }
        }
    }
}

/// Whether a judged position is within the spec's tolerance of the asked one.
pub fn near(a: (f64, f64), b: (f64, f64)) -> bool {
    (a.0 - b.0).hypot(a.1 - b.1) <= POSITION_TOLERANCE
}

/// The row's accuracies. Every row reports all four factors against its
/// conditions (for factors it does not condition on they show chance, as the
/// paper's table does); NOT rows report how often the negated value appears;
/// OR rows report how samples split between the branches and how many of
/// each branch's samples are correct.
pub fn score_row(row: Row, conditions: &[Conditions], judged: &Judged) -> BTreeMap<String, f64> {
    let n = conditions.len() as f64;
    let fraction = |hit: &dyn Fn(usize) -> bool| (0..conditions.len()).filter(|&i| hit(i)).count() as f64 / n;
    let mut m = BTreeMap::new();
    m.insert("position".into(), fraction(&|i| near(judged.pos[i], conditions[i].pos)));
    m.insert("color".into(), fraction(&|i| judged.colour[i] == conditions[i].colour));
    m.insert("shape".into(), fraction(&|i| judged.shape[i] == conditions[i].shape));
    m.insert(
        "size".into(),
        fraction(&|i| (judged.size[i] - conditions[i].size).abs() <= SIZE_TOLERANCE),
    );
    if row == Row::AllFour {
        // The target for this row is all four at once.
        let all = |i: usize| {
            let c = &conditions[i];
            near(judged.pos[i], c.pos)
                && judged.colour[i] == c.colour
                && judged.shape[i] == c.shape
                && (judged.size[i] - c.size).abs() <= SIZE_TOLERANCE
        };
        m.insert("jointly".into(), fraction(&all));
    }
    if row.is_or() {
        let with_colour = row == Row::PosColOrPosCol;
        let distance = |i: usize, p: (f64, f64)| (judged.pos[i].0 - p.0).hypot(judged.pos[i].1 - p.1);
        let branch = |i: usize| distance(i, conditions[i].pos) <= distance(i, conditions[i].pos2);
        let correct = |i: usize, first: bool| {
            let c = &conditions[i];
            let (p, colour) = if first { (c.pos, c.colour) } else { (c.pos2, c.colour2) };
            near(judged.pos[i], p) && (!with_colour || judged.colour[i] == colour)
        };
        for (name, first) in [("branch1", true), ("branch2", false)] {
            let members: Vec<usize> = (0..conditions.len()).filter(|&i| branch(i) == first).collect();
            m.insert(format!("{name}_share"), members.len() as f64 / n);
            let right = members.iter().filter(|&&i| correct(i, first)).count();
            m.insert(format!("{name}_correct"), right as f64 / members.len().max(1) as f64);
        }
    }
    m
}
