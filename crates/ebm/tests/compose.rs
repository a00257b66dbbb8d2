//! The composition algebra and its expression language.

mod common;

use common::concepts::{concept_models, mlp, position};

use ebm::compose::expr::Value;
use ebm::compose::{parse, resolve, Composed, Expr, Settings};
use ebm::energy::Energy;
use tch::{Kind, Tensor};

fn atom(concept: &str, value: Value, at: usize) -> Expr {
    Expr::Atom {
        concept: concept.into(),
        value,
        at,
    }
}

#[test]
fn parses_every_operator_with_precedence() {
    let e = parse("pos=(0.3,0.7) & color=red").unwrap();
    assert_eq!(
        e,
        Expr::And(vec![
            atom("pos", Value::Tuple(vec![0.3, 0.7]), 0),
            atom("color", Value::Name("red".into()), 16)
        ])
    );
    // ! binds tighter than &, & tighter than |.
    let e = parse("a=1 | b=2 & !c=x").unwrap();
    let Expr::Or(terms) = e else { panic!("| at the top") };
    assert_eq!(terms[0], atom("a", Value::Number(1.0), 0));
    let Expr::And(and) = &terms[1] else { panic!("& under |") };
    assert!(matches!(&and[1], Expr::Not { at: 12, .. }));
    // Parentheses override.
    let e = parse("(a=1 | b=2) & c=-0.5").unwrap();
    let Expr::And(and) = e else { panic!("& at the top") };
    assert!(matches!(and[0], Expr::Or(_)));
    assert_eq!(and[1], atom("c", Value::Number(-0.5), 14));
    // Weights, nesting, indices.
    let e = parse("0.5*size=0.15 & ((shape=0))").unwrap();
    let Expr::And(and) = e else { panic!() };
    assert!(matches!(&and[0], Expr::Weighted { weight, .. } if *weight == 0.5));
    assert_eq!(and[1], atom("shape", Value::Number(0.0), 18));
    assert!(parse("!!a=1 & b=2").is_ok());
}

#[test]
fn errors_point_at_the_character() {
    let cases = [
        ("pos=(0.3,0.7) & color", 21, "expected '='"),
        ("pos=(0.3 0.7)", 9, "expected ',' or ')'"),
        ("(a=1 & b=2", 10, "expected ')'"),
        ("a=1 & b=2)", 9, "unmatched ')'"),
        ("a=1 b=2", 4, "expected '&', '|'"),
        ("a=1 & ", 6, "ends where a term"),
        ("", 0, "ends where a term"),
        ("a=1 # b=2", 4, "unexpected character '#'"),
        ("0.5 a=1", 0, "must be a weight"),
        ("-2*a=1 & b=1", 0, "positive number"),
        ("a=1 & |", 6, "expected a term"),
        ("a=(1,x)", 5, "expected a number"),
        ("a=&", 2, "expected a value"),
    ];
    for (text, position, phrase) in cases {
        let error = parse(text).expect_err(text);
        assert_eq!(error.position, position, "{text}: {error}");
        assert!(error.message.contains(phrase), "{text}: {}", error.message);
        // The rendering puts a caret under the offending character.
        let rendered = error.to_string();
        let caret_line = rendered.lines().last().unwrap();
        assert_eq!(caret_line.len() - 1, 2 + position, "{text}:\n{rendered}");
    }
}

fn energies_and_grads(e: &dyn Energy, x: &Tensor) -> (Tensor, Tensor) {
    let x = x.detach().set_requires_grad(true);
    let energy = e.energy(&x, None);
    let grad = Tensor::run_backward(&[energy.sum(Kind::Double)], &[&x], false, false).remove(0);
    (energy.detach(), grad)
}

#[test]
fn composed_energies_and_gradients_follow_their_formulas() {
    let _serial = common::serial();
    let (pos_net, col_net) = (mlp(2, 1), mlp(3, 2));
    let models = concept_models(pos_net.as_ref(), col_net.as_ref());
    let settings = Settings {
        alpha: 0.3,
        temperature: 0.7,
        allow_extrapolation: false,
    };
    let x = Tensor::randn([64, 2], (Kind::Double, tch::Device::Cpu));
    let leaf = |text: &str| {
        let expr = parse(text).unwrap();
        resolve(text, &expr, &models, &settings).unwrap()
    };
    let (ep, gp) = energies_and_grads(&leaf("pos=(0.3,0.7)"), &x);
    let (ec, gc) = energies_and_grads(&leaf("color=blue"), &x);
    let (eg, gg) = energies_and_grads(&leaf("color=green"), &x);
    // The leaf is the model under the one-hot code.
    let code = Tensor::from_slice(&[0.0f64, 0.0, 1.0]).unsqueeze(0).expand([64, 3], false);
    assert!(col_net.energy(&x, Some(&code)).allclose(&ec, 1e-12, 1e-12, false));

    let check = |text: &str, energy: Tensor, grad: Tensor| {
        let (e, g) = energies_and_grads(&leaf(text), &x);
        assert!(e.allclose(&energy, 1e-9, 1e-9, false), "{text}: energy");
        assert!(g.allclose(&grad, 1e-9, 1e-9, false), "{text}: gradient");
    };
    check("pos=(0.3,0.7) & 2*color=blue", &ep + &ec * 2.0, &gp + &gc * 2.0);
    check(
        "pos=(0.3,0.7) & !color=blue & !color=green",
        &ep - &ec * 0.3 - &eg * 0.3,
        &gp - &gc * 0.3 - &gg * 0.3,
    );
    // OR: −T log Σ exp(−Eᵢ/T); its gradient weighs each ∇Eᵢ by softmax(−Eᵢ/T).
    let stacked = Tensor::stack(&[&ep, &ec], 0);
    let or = (&stacked * (-1.0 / 0.7)).logsumexp([0i64].as_slice(), false) * -0.7;
    let w = (&stacked * (-1.0 / 0.7)).softmax(0, Kind::Double);
    check(
        "pos=(0.3,0.7) | color=blue",
        or,
        gp * w.get(0).unsqueeze(1) + gc * w.get(1).unsqueeze(1),
    );
}

#[test]
fn or_approaches_min_as_the_temperature_falls() {
    let _serial = common::serial();
    let (a, b) = (mlp(0, 3), mlp(0, 4));
    let x = Tensor::randn([32, 2], (Kind::Double, tch::Device::Cpu));
    let min = a.energy(&x, None).minimum(&b.energy(&x, None));
    let mut last_gap = f64::INFINITY;
    for t in [1.0, 0.1, 0.01, 0.001] {
        let (ea, eb): (&dyn Energy, &dyn Energy) = (a.as_ref(), b.as_ref());
        let terms = vec![
            (
                1.0,
                Composed::Leaf {
                    model: ea,
                    code: None,
                    label: "a".into(),
                },
            ),
            (
                1.0,
                Composed::Leaf {
                    model: eb,
                    code: None,
                    label: "b".into(),
                },
            ),
        ];
        let or = Composed::Or { terms, temperature: t };
        let gap = (min.shallow_clone() - or.energy(&x, None)).max().double_value(&[]);
        // −T log(e^{−a/T} + e^{−b/T}) lies in [min − T log 2, min].
        assert!(gap >= -1e-12 && gap <= t * 2f64.ln() + 1e-12, "T = {t}: gap {gap}");
        assert!(gap <= last_gap);
        last_gap = gap;
    }
    assert!(last_gap < 1e-3);
}

#[test]
fn resolution_names_what_is_wrong() {
    let (pos_net, col_net) = (mlp(2, 1), mlp(3, 2));
    let models = concept_models(pos_net.as_ref(), col_net.as_ref());
    let cases = [
        ("shape=square", 0, "no model for concept 'shape' is loaded (loaded: pos, color)"),
        ("color=pink", 0, "no category 'pink'; its categories are red, green, blue"),
        ("color=5", 0, "index 0..2"),
        ("pos=(0.1,0.2,0.3)", 0, "takes 2 number(s) (x, y), got 3"),
        ("pos=left", 0, "not the name 'left'"),
        ("!color=red", 0, "ungrounded NOT"),
        ("pos=(0.5,0.5) | !color=red", 16, "ungrounded NOT"),
        ("!color=red & !color=blue", 0, "ungrounded NOT"),
        (
            "pos=(1e308,0.5)",
            0,
            "outside the range its model was trained on, [0.2, 0.8]; pass --allow-extrapolation",
        ),
        ("color=red & pos=(0.5,0.1)", 12, "= 0.1 is outside the range"),
    ];
    for (text, position, phrase) in cases {
        let expr = parse(text).unwrap();
        let error = resolve(text, &expr, &models, &Settings::default()).err().expect(text);
        assert_eq!(error.position, position, "{text}: {error}");
        assert!(error.message.contains(phrase), "{text}: {}", error.message);
    }
    // Asked for, a value outside the range is sampled; a non-finite one never is.
    let lenient = Settings {
        allow_extrapolation: true,
        ..Settings::default()
    };
    assert!(resolve("", &parse("pos=(0.9,0.5)").unwrap(), &models, &lenient).is_ok());
    let huge = resolve("", &parse("pos=(1e309,0.5)").unwrap(), &models, &lenient)
        .err()
        .expect("inf");
    assert!(huge.message.contains("finite"), "{}", huge.message);
    let far = resolve("", &parse("pos=(1e308,0.5)").unwrap(), &models, &lenient)
        .err()
        .expect("far");
    assert!(
        far.message.contains("1e308 is far outside") && far.message.contains("[-5.800, 6.800]"),
        "{}",
        far.message
    );
    let expr = parse("(pos=(0.2,0.8) & color=blue) | (pos=(0.8,0.2) & !color=green)").unwrap();
    let composed = resolve("", &expr, &models, &Settings::default()).unwrap();
    assert_eq!(
        composed.describe(),
        "((pos=(0.2,0.8) & color=blue) | ((pos=(0.8,0.2)) & !color=green))"
    );
}

#[test]
fn continuous_codes_map_the_range_onto_unit_scale_and_back() {
    let schema = position();
    let code = schema.encode(&[0.2, 0.8, 0.5, 0.35]);
    for (c, expected) in code.iter().zip([-1.0, 1.0, 0.0, -0.5]) {
        assert!((c - expected).abs() < 1e-6, "{code:?}");
    }
    let back = schema.decode(&code);
    for (a, b) in back.iter().zip([0.2, 0.8, 0.5, 0.35]) {
        assert!((a - b).abs() < 1e-6, "{back:?}");
    }
    // The resolver hands the model the encoded value.
    let _serial = common::serial();
    let (pos_net, col_net) = (mlp(2, 5), mlp(3, 6));
    let models = concept_models(pos_net.as_ref(), col_net.as_ref());
    let text = "pos=(0.35,0.8)";
    let leaf = resolve(text, &parse(text).unwrap(), &models, &Settings::default()).unwrap();
    let x = Tensor::randn([8, 2], (Kind::Double, tch::Device::Cpu));
    let code = Tensor::from_slice(&[-0.5f64, 1.0]).unsqueeze(0).expand([8, 2], false);
    assert!(leaf
        .energy(&x, None)
        .allclose(&pos_net.energy(&x, Some(&code)), 1e-12, 1e-12, false));
}

#[test]
fn a_leaf_takes_one_code_per_sample() {
    let _serial = common::serial();
    let net = mlp(3, 7);
    let x = Tensor::randn([3, 2], (Kind::Double, tch::Device::Cpu));
    let codes = Tensor::eye(3, (Kind::Double, tch::Device::Cpu));
    let leaf = Composed::Leaf {
        model: net.as_ref(),
        code: Some(codes.shallow_clone()),
        label: "color".into(),
    };
    let e = leaf.energy(&x, None);
    for i in 0..3 {
        let one = Composed::Leaf {
            model: net.as_ref(),
            code: Some(codes.get(i)),
            label: "color".into(),
        };
        let ei = one.energy(&x.narrow(0, i, 1), None);
        assert!((e.double_value(&[i]) - ei.double_value(&[0])).abs() < 1e-12);
    }
}

#[test]
fn judged_truth_of_an_expression_follows_the_logic() {
    use ebm::experiments::composition::truth::satisfies;
    use ebm::experiments::composition::Judged;
    // Sample 0: red square at (0.3, 0.7), r 0.15; sample 1: blue circle at (0.7, 0.3), r 0.11.
    let judged = Judged {
        pos: vec![(0.3, 0.7), (0.7, 0.3)],
        size: vec![0.15, 0.11],
        shape: vec![0, 1],
        colour: vec![0, 2],
    };
    let truth = |text: &str| [0, 1].map(|i| satisfies(&parse(text).unwrap(), &judged, i).unwrap());
    assert_eq!(truth("pos=(0.35,0.75) & color=red"), [true, false]);
    assert_eq!(truth("pos=(0.45,0.7)"), [false, false], "0.15 away is outside the 0.1 tolerance");
    assert_eq!(truth("shape=square | color=blue"), [true, true]);
    assert_eq!(truth("shape=circle & !color=red"), [false, true]);
    assert_eq!(truth("0.5*size=0.13 & !(color=2 | shape=1)"), [true, false]);
    assert_eq!(truth("size=0.13"), [true, true], "within 0.03");
    assert!(satisfies(&parse("hue=3").unwrap(), &judged, 0).is_err());
}

#[test]
fn conjunctions_relative_to_a_prior_count_it_once() {
    use ebm::compose::algebra::relative_to_prior;
    use ebm::energy::GaussianEnergy;
    let (a, b, c) = (
        GaussianEnergy::new(&[0.0, 1.0], &[1.0, 1.0]),
        GaussianEnergy::new(&[1.0, 0.0], &[0.5, 2.0]),
        GaussianEnergy::new(&[-1.0, 0.0], &[1.0, 0.7]),
    );
    let prior = GaussianEnergy::new(&[0.0, 0.0], &[3.0, 3.0]);
    let x = Tensor::randn([6, 2], (Kind::Double, tch::Device::Cpu));
    let e = |g: &GaussianEnergy| g.energy(&x, None);
    let and = Composed::And(vec![(1.0, Composed::leaf(&a)), (0.5, Composed::leaf(&b))]);
    let expected = e(&a) + e(&b) * 0.5 - e(&prior) * 0.5;
    let got = relative_to_prior(and, &prior).energy(&x, None);
    assert!((got - expected).abs().max().double_value(&[]) < 1e-12);
    // NOT, nested under an OR: E_u + (E_a − E_u) − α[(E_b − E_u) + (E_c − E_u)].
    let not = Composed::Not {
        positive: Box::new(Composed::leaf(&a)),
        negated: vec![Composed::leaf(&b), Composed::leaf(&c)],
        alpha: 0.3,
    };
    let or = Composed::Or {
        terms: vec![(1.0, not), (1.0, Composed::leaf(&c))],
        temperature: 1.0,
    };
    let first = e(&a) - (e(&b) + e(&c)) * 0.3 + e(&prior) * 0.6;
    let expected = Tensor::stack(&[-first, -e(&c)], 0).logsumexp([0i64].as_slice(), false) * -1.0;
    let got = relative_to_prior(or, &prior).energy(&x, None);
    assert!((got - expected).abs().max().double_value(&[]) < 1e-12);
    // One concept alone is unchanged.
    let alone = relative_to_prior(Composed::leaf(&a), &prior).energy(&x, None);
    assert!((alone - e(&a)).abs().max().double_value(&[]) < 1e-12);
    // Guidance w: E_u + w·Σ(Eᵢ − E_u); a conjunction nested in it is scaled once.
    let nested = Composed::And(vec![
        (1.0, Composed::leaf(&a)),
        (1.0, Composed::And(vec![(1.0, Composed::leaf(&b)), (1.0, Composed::leaf(&c))])),
    ]);
    let guided = relative_to_prior(ebm::compose::algebra::guided(nested, 3.0), &prior).energy(&x, None);
    let inner = e(&b) + e(&c) - e(&prior);
    let expected = e(&prior) + (e(&a) - e(&prior)) * 3.0 + (inner - e(&prior)) * 3.0;
    assert!((guided - expected).abs().max().double_value(&[]) < 1e-12);
}

/// A conditional energy whose mean is its code: E(x | c) = ½‖x − c‖²·scale.
struct CodeMean(f64);

impl Energy for CodeMean {
    fn energy(&self, x: &Tensor, code: Option<&Tensor>) -> Tensor {
        let code = code.expect("a conditional energy");
        (x - code).square().sum_dim_intlist([1i64].as_slice(), false, Kind::Double) * (0.5 * self.0)
    }
}

/// Null-code guidance: AND = E₁(∅) + w·Σ(Eᵢ(cᵢ) − Eᵢ(∅)), nested conjunctions
/// flattened; an OR's branches are guided on their own.
#[test]
fn null_guidance_takes_each_member_against_its_own_null_code() {
    use ebm::compose::algebra::null_guided;
    let x = Tensor::randn([5, 2], (Kind::Double, tch::Device::Cpu));
    let leaf = |m: &'static CodeMean, c: [f64; 2]| Composed::Leaf {
        model: m,
        code: Some(Tensor::from_slice(&c)),
        label: String::new(),
    };
    static A: CodeMean = CodeMean(1.0);
    static B: CodeMean = CodeMean(3.0);
    let at = |m: &CodeMean, c: [f64; 2]| {
        let code = Tensor::from_slice(&c).unsqueeze(0).expand([5, 2], false);
        m.energy(&x, Some(&code))
    };
    let nested = Composed::And(vec![
        (1.0, leaf(&A, [0.5, 0.2])),
        (1.0, Composed::And(vec![(0.5, leaf(&B, [-1.0, 1.0]))])),
    ]);
    let got = null_guided(nested, 2.5).energy(&x, None);
    let null = [0.0, 0.0];
    let expected = at(&A, null) + (at(&A, [0.5, 0.2]) - at(&A, null)) * 2.5 + (at(&B, [-1.0, 1.0]) - at(&B, null)) * (2.5 * 0.5);
    assert!((got - expected).abs().max().double_value(&[]) < 1e-12);
    // Each OR branch is a conjunction of its own (here one guided leaf).
    let or = Composed::Or {
        terms: vec![(1.0, leaf(&A, [1.0, 0.0])), (1.0, leaf(&B, [0.0, 1.0]))],
        temperature: 0.5,
    };
    let branch = |m: &CodeMean, c| at(m, null) + (at(m, c) - at(m, null)) * 2.0;
    let expected =
        Tensor::stack(&[-branch(&A, [1.0, 0.0]) / 0.5, -branch(&B, [0.0, 1.0]) / 0.5], 0).logsumexp([0i64].as_slice(), false) * -0.5;
    let got = null_guided(or, 2.0).energy(&x, None);
    assert!((got - expected).abs().max().double_value(&[]) < 1e-12);
}
