//! `shapes` and `multi-shapes` against the numbers of ../shared/spec/datasets.md.

use ebm::data::shapes::{Corner, MultiShapes, Object, Scene, Shapes, ShapesFilter, COLOURS, MIN_SEPARATION};

fn pixel(image: &[f32], size: usize, c: usize, i: usize, j: usize) -> f64 {
    image[c * size * size + j * size + i] as f64
}

/// Pixels whose whole footprint lies inside the object (all 16 sub-samples).
fn interior_pixels(o: &Object, size: usize) -> Vec<(usize, usize)> {
    let s = size as f64;
    let mut out = Vec::new();
    for j in 0..size {
        for i in 0..size {
            let corners = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)];
            if corners.iter().all(|(a, b)| o.contains((i as f64 + a) / s, (j as f64 + b) / s)) {
                out.push((i, j));
            }
        }
    }
    out
}

#[test]
fn object_pixels_carry_the_spec_colour_within_the_shading_range() {
    let data = Shapes::new(32, 1);
    for i in 0..200 {
        let scene = data.scene(i);
        let image = scene.render(32);
        let o = scene.objects.last().unwrap();
        let rgb = COLOURS[o.colour.unwrap()];
        let l = scene.light.intensity;
        for (pi, pj) in interior_pixels(o, 32) {
            let k: Vec<f64> = (0..3).map(|c| pixel(&image, 32, c, pi, pj) / rgb[c]).collect();
            // Every channel is the colour times one factor L·(0.75 + 0.25 t) ∈ [0.75 L, L]
            // (unless the channel can clip at 1 in some sub-samples: colour·L > 1).
            let unclipped: Vec<f64> = (0..3).filter(|&c| rgb[c] * l < 1.0).map(|c| k[c]).collect();
            for &kc in &unclipped {
                assert!(
                    kc >= 0.75 * l - 1e-3 && kc <= l + 1e-3,
                    "scene {i}: shading factor {kc} outside [{}, {l}]",
                    0.75 * l
                );
                assert!((kc - unclipped[0]).abs() < 1e-3, "scene {i}: channels shaded unequally {k:?}");
            }
        }
    }
}

#[test]
fn the_floor_follows_the_spec_gradient_and_light() {
    let data = Shapes::new(32, 2);
    let scene = data.scene(0);
    let image = scene.render(32);
    let o = scene.objects.last().unwrap();
    let (top, bottom) = ([0.40, 0.40, 0.44], [0.62, 0.56, 0.50]);
    let mut checked = 0;
    for (i, j) in [(0, 0), (31, 0), (0, 31), (31, 31), (16, 0), (0, 16)] {
        let (u, v) = ((i as f64 + 0.5) / 32.0, (j as f64 + 0.5) / 32.0);
        if o.contains(u, v) || (o.x - u).hypot(o.y - v) < o.r * 1.5 + 0.05 {
            continue;
        }
        let light = scene.light.intensity * (1.0 + 0.12 * ((u - 0.5) * scene.light.phi.cos() + (v - 0.5) * scene.light.phi.sin()));
        for c in 0..3 {
            let expected = (top[c] + (bottom[c] - top[c]) * v) * light;
            // The box filter of a product of two linear ramps differs from its centre value by < 1e-4.
            assert!(
                (pixel(&image, 32, c, i, j) - expected).abs() < 1e-4,
                "floor pixel ({i},{j}) channel {c}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 3);
}

#[test]
fn shapes_cover_the_spec_areas_at_the_labelled_position() {
    let size = 128;
    for (shape, area) in [(0usize, 4.0), (1, std::f64::consts::PI), (2, 2.0)] {
        let mut data = Shapes::new(size, 3);
        data.filter.shapes = vec![shape];
        for i in 0..10 {
            let scene = data.scene(i);
            let o = scene.objects.last().unwrap();
            let mask = scene.instance_mask(size);
            let covered: Vec<(f64, f64)> = (0..size * size)
                .filter(|&p| mask[p] == 1)
                .map(|p| (((p % size) as f64 + 0.5) / size as f64, ((p / size) as f64 + 0.5) / size as f64))
                .collect();
            let measured = covered.len() as f64 / (size * size) as f64;
            let expected = area * o.r * o.r;
            assert!(
                (measured / expected - 1.0).abs() < 0.05,
                "shape {shape}: area {measured} vs {expected}"
            );
            // (x, y) is the centre of the bounding box for every shape.
            let (min_u, max_u) = covered.iter().fold((1.0f64, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
            let (min_v, max_v) = covered.iter().fold((1.0f64, 0.0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
            let px = 1.0 / size as f64;
            assert!(
                ((min_u + max_u) / 2.0 - o.x).abs() < px && ((min_v + max_v) / 2.0 - o.y).abs() < px,
                "shape {shape}: bbox centre"
            );
            // Pixel centres sample the edges: the triangle's widest row of centres sits
            // up to a pixel above its base, where it is a pixel narrower.
            assert!(
                (max_u - min_u - 2.0 * o.r).abs() < 3.0 * px,
                "shape {shape}: width {} vs {}",
                max_u - min_u,
                2.0 * o.r
            );
        }
    }
}

#[test]
fn the_triangle_points_up() {
    let o = Object {
        x: 0.5,
        y: 0.5,
        r: 0.1,
        shape: 2,
        rgb: [1.0; 3],
        colour: Some(0),
    };
    assert!(o.contains(0.5, 0.41) && !o.contains(0.45, 0.41), "apex at the top (small v)");
    assert!(o.contains(0.41, 0.59) && o.contains(0.59, 0.59), "base corners at the bottom");
}

#[test]
fn a_sample_is_the_same_whatever_the_batch() {
    let data = Shapes {
        clutter: (1, 3),
        ..Shapes::new(32, 4)
    };
    let (whole, scenes) = data.batch(0, 10);
    let (part, part_scenes) = data.batch(5, 3);
    let n = 3 * 32 * 32;
    assert_eq!(&whole[5 * n..8 * n], &part[..], "pixels differ by batch");
    assert_eq!(&scenes[5..8], &part_scenes[..]);
    assert_eq!(data.scene(7).render(32), whole[7 * n..8 * n].to_vec());
    assert_ne!(Shapes::new(32, 5).scene(7), data.scene(7), "seeds must differ");
}

#[test]
fn filters_only_yield_matching_labels() {
    let filter = ShapesFilter {
        colours: vec![7],
        shapes: vec![0],
        ..ShapesFilter::default()
    }
    .corner(Corner::TopRight, 0.1);
    filter.validate().unwrap();
    let side = 0.6 * 0.1f64.sqrt();
    let data = Shapes {
        filter,
        ..Shapes::new(32, 6)
    };
    let (mut min_x, mut max_y) = (1.0f64, 0.0f64);
    for i in 0..500 {
        let o = data.scene(i).objects.pop().unwrap();
        assert_eq!((o.colour, o.shape), (Some(7), 0));
        assert!(
            o.x >= 0.8 - side - 1e-12 && o.x <= 0.8 && o.y >= 0.2 && o.y <= 0.2 + side + 1e-12,
            "({}, {})",
            o.x,
            o.y
        );
        min_x = min_x.min(o.x);
        max_y = max_y.max(o.y);
    }
    // The draws fill the corner, not just part of it.
    assert!(min_x < 0.8 - 0.9 * side && max_y > 0.2 + 0.9 * side);
    let bad = ShapesFilter {
        r: (0.05, 0.1),
        ..ShapesFilter::default()
    };
    assert!(bad.validate().unwrap_err().to_string().contains("size range"));
    assert!(ShapesFilter {
        colours: vec![9],
        ..ShapesFilter::default()
    }
    .validate()
    .is_err());
}

#[test]
fn clutter_is_grey_small_and_behind() {
    let data = Shapes {
        clutter: (3, 3),
        ..Shapes::new(32, 7)
    };
    for i in 0..50 {
        let scene: Scene = data.scene(i);
        assert_eq!(scene.objects.len(), 4);
        for c in &scene.objects[..3] {
            assert!(c.colour.is_none() && c.rgb[0] == c.rgb[1] && c.rgb[1] == c.rgb[2] && (0.25..0.75).contains(&c.rgb[0]));
            assert!((0.05..0.08).contains(&c.r) && (0.1..0.9).contains(&c.x) && (0.1..0.9).contains(&c.y));
        }
        assert!(scene.objects[3].colour.is_some(), "the labelled object is drawn last, in front");
    }
}

#[test]
fn multi_shapes_are_separated_and_masked_front_to_back() {
    let data = MultiShapes::new(64, 8);
    let mut counts = [0usize; 5];
    for i in 0..300 {
        let scene = data.scene(i);
        let k = scene.objects.len();
        counts[k] += 1;
        for (a, oa) in scene.objects.iter().enumerate() {
            for ob in &scene.objects[..a] {
                assert!((oa.x - ob.x).hypot(oa.y - ob.y) >= MIN_SEPARATION, "scene {i}: centres too close");
            }
        }
        let mask = scene.instance_mask(64);
        for (p, &m) in mask.iter().enumerate() {
            let (u, v) = (((p % 64) as f64 + 0.5) / 64.0, ((p / 64) as f64 + 0.5) / 64.0);
            let front = scene.objects.iter().rposition(|o| o.contains(u, v)).map_or(0, |m| m + 1);
            assert_eq!(m as usize, front);
        }
    }
    assert!(
        counts[2] > 70 && counts[3] > 70 && counts[4] > 70,
        "k not uniform in 2..=4: {counts:?}"
    );
}

#[test]
fn shapes_concept_codes_describe_their_images() {
    use ebm::data::shapes::{Shapes, ShapesFilter};
    use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
    use ebm::data::DataSource;
    use ebm::sample::ChainStart;
    let scenes = Shapes::new(32, 5);
    for concept in ShapesConcept::ALL {
        let data = ShapesConceptData::new(concept, 32, 5, ShapesFilter::default(), ChainStart::Data).unwrap();
        let batch = data.batch(3, 6);
        assert_eq!(batch.x.size(), [6, 3, 32, 32]);
        let code = batch.code.unwrap();
        let schema = data.concept().unwrap();
        assert_eq!(code.size(), [6, schema.code_dim()]);
        for i in 0..6 {
            let object = scenes.scene(3 * 6 + i as u64).objects.last().unwrap().clone();
            let row: Vec<f32> = Vec::try_from(code.get(i)).unwrap();
            let expected: Vec<f64> = match concept {
                ShapesConcept::Pos => vec![object.x, object.y],
                ShapesConcept::Size => vec![object.r],
                ShapesConcept::Color => (0..8).map(|k| f64::from(u8::from(Some(k) == object.colour))).collect(),
                ShapesConcept::Shape => (0..3).map(|k| f64::from(u8::from(k == object.shape))).collect(),
            };
            let decoded = schema.decode(&row);
            for (a, b) in decoded.iter().zip(&expected) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{concept:?} sample {i}: code {row:?} decodes to {decoded:?}, label {expected:?}"
                );
            }
        }
        // Fresh chains start at other scenes of the dataset, the same for the same step.
        let fresh = data.fresh_chains(3, 6);
        assert_eq!(fresh.size(), [6, 3, 32, 32]);
        assert!(fresh.equal(&data.fresh_chains(3, 6)));
        assert!(!fresh.equal(&batch.x), "chains must not start at the positives themselves");
        assert!(fresh.min().double_value(&[]) >= 0.0 && fresh.max().double_value(&[]) <= 1.0);
    }
}

#[test]
fn background_chains_start_on_empty_floors() {
    use ebm::data::shapes::ShapesFilter;
    use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
    use ebm::data::DataSource;
    use ebm::sample::ChainStart;
    let jump = |x: &tch::Tensor| (x.narrow(3, 1, 31) - x.narrow(3, 0, 31)).abs().max().double_value(&[]);
    let floors = ShapesConceptData::new(ShapesConcept::Color, 32, 1, ShapesFilter::default(), ChainStart::Background).unwrap();
    let scenes = ShapesConceptData::new(ShapesConcept::Color, 32, 1, ShapesFilter::default(), ChainStart::Data).unwrap();
    // The floor changes by a few hundredths between neighbouring pixels; an object edge by much more.
    assert!(jump(&floors.fresh_chains(0, 16)) < 0.05);
    assert!(jump(&scenes.fresh_chains(0, 16)) > 0.2);
}

#[test]
fn extra_object_negatives_add_one_separated_object_to_the_same_scene() {
    use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData};
    use ebm::data::DataSource;
    let data = Shapes::new(32, 7);
    let (mut behind, mut masks_with_two) = (0, 0);
    for i in 0..200 {
        let (plain, extra) = (data.scene(i), data.scene_with_extra_object(i));
        assert_eq!(extra, data.scene_with_extra_object(i), "scene {i} is not deterministic");
        assert_eq!(extra.light, plain.light);
        assert_eq!(extra.objects.len(), 2);
        let main = plain.objects.last().unwrap();
        let position = extra
            .objects
            .iter()
            .position(|o| o == main)
            .expect("the labelled object is kept as it was");
        let added = &extra.objects[1 - position];
        assert!(added.colour.is_some() && (added.x - main.x).hypot(added.y - main.y) >= MIN_SEPARATION);
        behind += (position == 1) as usize;
        let mask = extra.instance_mask(32);
        masks_with_two += (mask.contains(&1) && mask.contains(&2)) as usize;
    }
    assert!(
        (70..=130).contains(&behind),
        "the second object is behind in {behind} of 200, not about half"
    );
    assert!(masks_with_two >= 190, "both objects visible in only {masks_with_two} of 200");
    // The concept source hands them out batch by batch, aligned with its positives.
    let source = ShapesConceptData::new(ShapesConcept::Color, 32, 7, ShapesFilter::default(), ebm::sample::ChainStart::Data).unwrap();
    let negatives = source
        .extra_object_negatives(2, 4)
        .expect("shapes concept data has extra-object negatives");
    let expected: Vec<f32> = (8..12).flat_map(|i| data.scene_with_extra_object(i).render(32)).collect();
    assert_eq!(Vec::<f32>::try_from(negatives.flatten(0, -1)).unwrap(), expected);
}

/// A joint source's codes are its concepts' codes side by side, over the same
/// scenes; the continual experiment's stage filters hold what they promise.
#[test]
fn joint_codes_are_the_concepts_codes_side_by_side_on_the_same_scenes() {
    use ebm::data::shapes_concept::{ShapesConceptData, ShapesJointData};
    use ebm::data::DataSource;
    use ebm::experiments::continual::{stage_filter, STAGES};
    use ebm::sample::ChainStart;
    let filter = stage_filter(1);
    let joint = ShapesJointData::new(&STAGES, 32, 4, filter.clone(), ChainStart::Background).unwrap();
    assert_eq!(joint.code_dim(), 2 + 3 + 8);
    let batch = joint.batch(2, 5);
    let parts: Vec<tch::Tensor> = STAGES
        .iter()
        .map(|&c| {
            let single = ShapesConceptData::new(c, 32, 4, filter.clone(), ChainStart::Background)
                .unwrap()
                .batch(2, 5);
            assert!(single.x.equal(&batch.x), "{c:?}: other scenes");
            single.code.unwrap()
        })
        .collect();
    assert!(tch::Tensor::cat(&parts, 1).equal(&batch.code.unwrap()));
    // Stage 1 sees purple squares only, stage 2 purple objects of every shape, stage 3 everything.
    let scenes = |stage: usize| {
        let mut shapes = Shapes::new(32, 4);
        shapes.filter = stage_filter(stage);
        shapes.batch(0, 200).1
    };
    let object = |s: &Scene| s.objects.last().unwrap().clone();
    assert!(scenes(0).iter().all(|s| object(s).colour == Some(7) && object(s).shape == 0));
    let second = scenes(1);
    assert!(second.iter().all(|s| object(s).colour == Some(7)));
    assert!((0..3).all(|k| second.iter().any(|s| object(s).shape == k)));
    assert!((0..8).all(|k| scenes(2).iter().any(|s| object(s).colour == Some(k))));
    assert!(ShapesJointData::new(&[], 32, 4, ShapesFilter::default(), ChainStart::Background).is_err());
}

/// A union of filtered sets splits each batch between them: the first part
/// is exactly the first filter's batch, the rest obeys the second filter;
/// the extrapolation experiment's sets and requests hold what they promise.
#[test]
fn a_union_of_filters_splits_batches_and_the_extrapolation_sets_hold() {
    use ebm::data::shapes_concept::{ShapesConcept, ShapesConceptData, ShapesJointData};
    use ebm::data::DataSource;
    use ebm::experiments::extrapolation::{position_filter, size_filter, test_conditions, LARGE, SMALL};
    use ebm::sample::ChainStart;
    let concepts = [ShapesConcept::Pos, ShapesConcept::Size];
    let filters = [size_filter(0.1), position_filter()];
    let union = ShapesJointData::union(&concepts, 16, 9, &filters, ChainStart::Background).unwrap();
    let batch = union.batch(3, 7);
    assert_eq!(batch.x.size(), [7, 3, 16, 16]);
    let first = ShapesConceptData::new(ShapesConcept::Pos, 16, 9, filters[0].clone(), ChainStart::Background)
        .unwrap()
        .batch(3, 4);
    assert!(first.x.equal(&batch.x.narrow(0, 0, 4)), "the first filter's part is its own batch");
    let code = Vec::<f32>::try_from(batch.code.unwrap().view([-1])).unwrap();
    let schema_pos = ShapesConcept::Pos.schema();
    let schema_size = ShapesConcept::Size.schema();
    for (i, row) in code.chunks(3).enumerate() {
        let (x, y) = {
            let p = schema_pos.decode(&row[..2]);
            (p[0], p[1])
        };
        let r = schema_size.decode(&row[2..])[0];
        if i < 4 {
            assert!(
                x >= filters[0].x.0 - 1e-9 && y <= filters[0].y.1 + 1e-9,
                "scene {i} at ({x}, {y}) is outside the corner"
            );
        } else {
            assert!(r >= LARGE.0 - 1e-9, "scene {i} has half-size {r}, not a large object");
        }
    }
    // The corner holds 10 % of the position square's area, top right (v downwards).
    let corner = size_filter(0.1);
    let area = (corner.x.1 - corner.x.0) * (corner.y.1 - corner.y.0);
    assert!((area / 0.36 - 0.1).abs() < 1e-9 && corner.x.1 == 0.8 && corner.y.0 == 0.2);
    for c in test_conditions(300, 0) {
        assert!((SMALL.0..SMALL.1).contains(&c.size));
        assert!(!(c.pos.0 >= corner.x.0 && c.pos.1 <= corner.y.1), "{:?} asks for the corner", c.pos);
    }
    assert!(ShapesJointData::union(&concepts, 16, 9, &[], ChainStart::Background).is_err());
}

/// The light filter restricts L and nothing else, and leaves the spec's
/// draws untouched at its default; each Table 3 shifted set differs from the
/// training set in its one factor, outside the training range.
#[test]
fn the_light_filter_and_the_shifted_inference_sets_hold() {
    use ebm::data::shapes::LIGHT_RANGE;
    use ebm::experiments::inference_shifts::{base_filter, shifted_sets};
    let dim = Shapes {
        filter: ShapesFilter {
            light: (0.85, 0.9),
            ..ShapesFilter::default()
        },
        ..Shapes::new(16, 3)
    };
    let plain = Shapes::new(16, 3);
    for i in 0..100 {
        let (a, b) = (dim.scene(i), plain.scene(i));
        assert!((0.85..0.9).contains(&a.light.intensity));
        assert!((LIGHT_RANGE.0..LIGHT_RANGE.1).contains(&b.light.intensity));
        assert_eq!(a.light.phi, b.light.phi, "only L is restricted");
        assert_eq!(a.objects, b.objects);
    }
    // The default is left out of descriptions, so older cards keep their text.
    assert!(!serde_json::to_string(&ShapesFilter::default()).unwrap().contains("light"));
    assert!(ShapesFilter {
        light: (0.5, 1.0),
        ..ShapesFilter::default()
    }
    .validate()
    .unwrap_err()
    .to_string()
    .contains("light range"));
    let base = base_filter();
    let sets = shifted_sets(5);
    assert_eq!(sets[0].views, vec![1, 2, 4, 8]);
    let inside = |set: &ebm::experiments::inference::TestSet| {
        let (_, scenes) = set.shapes.batch(0, 200);
        let objects: Vec<_> = scenes.iter().map(|s| s.objects.last().unwrap().clone()).collect();
        let lights: Vec<f64> = scenes.iter().map(|s| s.light.intensity).collect();
        [
            objects.iter().all(|o| base.colours.contains(&o.colour.unwrap())),
            objects.iter().all(|o| base.shapes.contains(&o.shape)),
            objects.iter().all(|o| o.r <= base.r.1),
            lights.iter().all(|&l| l <= base.light.1),
            scenes.iter().all(|s| s.objects.len() == 1),
        ]
    };
    assert_eq!(inside(&sets[0]), [true; 5], "fresh scenes are the training set's");
    for (k, set) in sets[1..].iter().enumerate() {
        let within = inside(set);
        for (factor, &holds) in within.iter().enumerate() {
            assert_eq!(holds, factor != k, "set '{}', factor {factor}", set.name);
        }
    }
}
