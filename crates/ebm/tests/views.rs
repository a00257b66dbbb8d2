//! Models that live in a view's space: the source they train on and the
//! energy they read images through.

use ebm::data::shapes::ShapesFilter;
use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
use ebm::data::viewed::ViewedSource;
use ebm::data::DataSource;
use ebm::energy::view::Viewed;
use ebm::energy::{Energy, InputView};
use ebm::sample::ChainStart;
use tch::{Kind, Tensor};

/// The viewed source's images are the chroma of the source's, one channel,
/// with the same codes; a shapes object stands out of the floor in it.
#[test]
fn viewed_source_serves_the_chroma_of_each_scene() {
    let source = || ShapesConceptData::new(ShapesConcept::Pos, 16, 3, ShapesFilter::default(), ChainStart::Background).unwrap();
    let viewed = ViewedSource {
        source: source(),
        view: InputView::Chroma,
    };
    assert_eq!(viewed.example_shape(), vec![1, 16, 16]);
    let (plain, seen) = (source().batch(2, 4), viewed.batch(2, 4));
    assert_eq!(seen.x.size(), vec![4, 1, 16, 16]);
    let expected = plain.x.amax([1i64].as_slice(), true) - plain.x.amin([1i64].as_slice(), true);
    assert!(seen.x.allclose(&expected, 0.0, 0.0, false));
    assert!(seen.code.unwrap().equal(&plain.code.unwrap()));
    // Every colour has chroma ≥ 0.55 at full light and the floor ≤ 0.12·1.15:
    // each scene's brightest chroma pixel belongs to its object.
    let peak = seen.x.flatten(1, -1).amax([1i64].as_slice(), false);
    assert!(peak.min().double_value(&[]) > 0.35, "{peak}");
    assert_eq!(viewed.describe()["view"], "chroma");
}

/// ½‖x − 0.2‖² over each example.
struct Quadratic;

impl Energy for Quadratic {
    fn energy(&self, x: &Tensor, _code: Option<&Tensor>) -> Tensor {
        ((x - 0.2).square() * 0.5).flatten(1, -1).sum_dim_intlist(1, false, x.kind())
    }
}

/// A viewed energy is its energy at the view of the input, in value and gradient.
#[test]
fn viewed_energy_is_the_energy_of_the_view() {
    let inner = Quadratic;
    let viewed = Viewed {
        energy: &inner,
        view: InputView::Chroma,
    };
    let x = Tensor::rand([3, 3, 2, 2], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
    let energy = viewed.energy(&x, None);
    let chroma = (x.amax([1i64].as_slice(), true) - x.amin([1i64].as_slice(), true)).detach();
    assert!(energy.allclose(&inner.energy(&chroma, None), 1e-6, 1e-6, false));
    let grad = Tensor::run_backward(&[energy.sum(Kind::Float)], &[&x], false, false).remove(0);
    // Only each pixel's largest and smallest channel moves the chroma, in opposite directions.
    let per_pixel = grad.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
    assert!(per_pixel.abs().max().double_value(&[]) < 1e-5, "{per_pixel}");
    assert!(grad.abs().sum(Kind::Float).double_value(&[]) > 0.0);
}

/// The object-colour view of a scene is its object's colour, shaded, with
/// the floor's weight negligible: the nearest palette colour (scaled by the
/// mean shade) is the object's for all eight colours, and moving the object
/// barely changes it.
#[test]
fn object_colour_view_reads_the_objects_colour_wherever_it_is() {
    use ebm::data::shapes::{Light, Object, Scene, COLOURS};
    let view = |colour: usize, x: f64, shape: usize| {
        let object = Object {
            x,
            y: 0.6,
            r: 0.10,
            shape,
            rgb: COLOURS[colour],
            colour: Some(colour),
        };
        let scene = Scene {
            light: Light { intensity: 1.0, phi: 0.7 },
            objects: vec![object],
        };
        let image = Tensor::from_slice(&scene.render(32)).view([1, 3, 32, 32]);
        let seen = InputView::ObjectColour.apply(&image);
        assert_eq!(seen.size(), vec![1, 4, 1, 1]);
        Vec::<f64>::try_from(seen.flatten(0, -1).to_kind(Kind::Double)).unwrap()
    };
    for colour in 0..COLOURS.len() {
        let seen = view(colour, 0.3, 2);
        // A triangle of half-size 0.1 covers 2·0.1² of the unit square; its
        // edge pixels, mostly covered, count whole (0.026 measured).
        assert!(seen[3] > 0.015 && seen[3] < 0.035, "object share {}", seen[3]);
        // The shade k = 0.75 + 0.25·t averages 0.875 over the object.
        let distance = |c: &[f64; 3]| (0..3).map(|i| (seen[i] - 0.875 * c[i]).powi(2)).sum::<f64>();
        let nearest = (0..COLOURS.len())
            .min_by(|&a, &b| distance(&COLOURS[a]).total_cmp(&distance(&COLOURS[b])))
            .unwrap();
        assert_eq!(nearest, colour, "{seen:?}");
        let elsewhere = view(colour, 0.7, 2);
        let moved = (0..3).map(|i| (seen[i] - elsewhere[i]).abs()).fold(0.0, f64::max);
        assert!(moved < 0.03, "moving the object moved its colour by {moved}");
    }
}

/// The object-centred view puts the object at the centre wherever it is in
/// the scene: in two scenes that differ only in where the object is, the
/// object covers nearly the same pixels of the view (the floor around it
/// differs: it is shaded by place, and what comes in from outside is 0).
#[test]
fn object_centred_view_is_the_same_wherever_the_object_is() {
    let image = |x: f64, y: f64| scene_image(x, y, 2);
    let iou = |a: &Tensor, b: &Tensor| {
        let (a, b) = (a.gt(0.3), b.gt(0.3));
        let both = a.logical_and(&b).sum(Kind::Float).double_value(&[]);
        both / a.logical_or(&b).sum(Kind::Float).double_value(&[])
    };
    let (here, there) = (image(0.3, 0.35), image(0.7, 0.6));
    let centred = |x: &Tensor| InputView::ObjectCentred.apply(x);
    let (a, b) = (centred(&here), centred(&there));
    assert_eq!(a.size(), vec![1, 1, 32, 32]);
    // Sub-pixel placement moves a 44-pixel triangle's edge pixels (0.83 here).
    assert!(iou(&a, &b) > 0.75, "centred views overlap by {}", iou(&a, &b));
    let plain = |x: &Tensor| InputView::Chroma.apply(x);
    assert!(iou(&plain(&here), &plain(&there)) < 0.1, "the object did not move");
    let (row, column) = bright_centre(&a);
    for centre in [row, column] {
        assert!((centre - 15.5).abs() < 0.5, "{centre}");
    }
}

/// A 32-pixel `shapes` scene of one yellow object of half-size 0.14.
fn scene_image(x: f64, y: f64, shape: usize) -> Tensor {
    use ebm::data::shapes::{Light, Object, Scene, COLOURS};
    let object = Object {
        x,
        y,
        r: 0.14,
        shape,
        rgb: COLOURS[3],
        colour: Some(3),
    };
    let scene = Scene {
        light: Light { intensity: 1.0, phi: 0.7 },
        objects: vec![object],
    };
    Tensor::from_slice(&scene.render(32)).view([1, 3, 32, 32])
}

/// The mean (row, column) of a one-channel view's pixels above 0.3.
fn bright_centre(view: &Tensor) -> (f64, f64) {
    let object = view.gt(0.3).to_kind(Kind::Float).squeeze();
    let index = Tensor::arange(32, (Kind::Float, tch::Device::Cpu));
    let mass = object.sum(Kind::Float);
    let row = (&object * index.view([32, 1])).sum(Kind::Float) / &mass;
    let column = (&object * index.view([1, 32])).sum(Kind::Float) / &mass;
    (row.double_value(&[]), column.double_value(&[]))
}

/// The extent view centres every shape on its bounding box's centre, the
/// spec's position (a triangle's chroma is centred a third of its half-size
/// lower, 1.5 pixels here), and draws the same rectangle for each shape.
#[test]
fn extent_view_centres_every_shape_on_its_bounding_box() {
    let (x, y) = (0.43, 0.57);
    let label = (y * 32.0 - 0.5, x * 32.0 - 0.5);
    let views: Vec<Tensor> = (0..3).map(|shape| InputView::Extent.apply(&scene_image(x, y, shape))).collect();
    for (shape, view) in views.iter().enumerate() {
        assert_eq!(view.size(), vec![1, 1, 32, 32]);
        let (row, column) = bright_centre(view);
        assert!(
            (row - label.0).abs() < 0.5 && (column - label.1).abs() < 0.5,
            "shape {shape}: ({row}, {column}) against {label:?}"
        );
    }
    let differing = views[0].gt(0.3).logical_xor(&views[2].gt(0.3)).sum(Kind::Int64).int64_value(&[]);
    assert!(differing <= 9, "square and triangle rectangles differ in {differing} pixels");
    let (row, _) = bright_centre(&InputView::Chroma.apply(&scene_image(x, y, 2)));
    assert!(row - label.0 > 1.0, "the triangle's chroma centre {row} is not below {}", label.0);
}
