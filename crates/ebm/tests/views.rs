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
