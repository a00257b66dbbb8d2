//! `ebm experiment composition` runs on the shipped shapes models: several
//! chains per sample (`--particles`), and a table made in resumed pieces.

mod common;

use ebm::data::shapes_concept::ShapesConcept;
use ebm::experiments::composition::{run, CompositionOptions, Keep, Row};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A few short chains per row on the shipped CD models.
fn options(out: PathBuf, rows: Vec<Row>, samples: usize, seed: u64) -> CompositionOptions {
    CompositionOptions {
        models: root().join("models/shapes"),
        judge: root().join("judges/shapes.safetensors"),
        out,
        samples,
        rows,
        langevin: ebm::sample::LangevinOverrides {
            steps: Some(5),
            ..Default::default()
        },
        settings: Default::default(),
        seed,
        annealing: Default::default(),
        prior: None,
        guidance: None,
        or_sampling: Default::default(),
        prior_use: Default::default(),
        marginalise: Default::default(),
        particles: 1,
        keep: Keep::Composed,
        refine: None,
        resume: false,
    }
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("composition.json")).unwrap()).unwrap()
}

/// `ebm experiment composition --particles M` keeps, per sample, the chain
/// that ends at the lowest composed energy. Particle 0 runs the single-chain
/// sampler's chain (same seed, branches and marginal codes), so the kept
/// energies can only fall, and with three particles some do.
#[test]
fn more_particles_keep_chains_at_lower_composed_energy() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().unwrap();
    let final_energy = |particles: usize| {
        let mut options = options(
            dir.path().join(format!("p{particles}")),
            vec![Row::Alone(ShapesConcept::Shape)],
            6,
            3,
        );
        options.particles = particles;
        let rows = run(&options, &ebm::Quiet).unwrap();
        let json = report(&options.out);
        assert_eq!(json["particles"].as_u64(), Some(particles as u64));
        assert_eq!(json["keep"].as_str(), Some("composed"));
        rows[0].metrics["final_energy"]
    };
    let (one, three) = (final_energy(1), final_energy(3));
    assert!(one.is_finite() && three < one, "one particle {one}, three {three}");
}

/// A row gives the same numbers alone or beside others (it is seeded by its
/// place in `Row::ALL`); `resume` keeps finished rows without sampling them
/// again and runs the rest; a report of other settings, or a malformed one,
/// is refused with its path.
#[test]
fn a_table_made_in_resumed_pieces_equals_one_made_at_once() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().unwrap();
    let both = vec![Row::Alone(ShapesConcept::Pos), Row::Alone(ShapesConcept::Color)];
    let whole = run(&options(dir.path().join("whole"), both.clone(), 4, 5), &ebm::Quiet).unwrap();
    let pieces = dir.path().join("pieces");
    let first = run(&options(pieces.clone(), vec![both[1]], 4, 5), &ebm::Quiet).unwrap();
    assert_eq!(
        first[0].metrics, whole[1].metrics,
        "a row alone must equal the same row beside another"
    );

    let mut resumed = options(pieces.clone(), both.clone(), 4, 5);
    resumed.resume = true;
    let rows = run(&resumed, &ebm::Quiet).unwrap();
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["pos-alone", "color-alone"], "rows in the order asked");
    assert_eq!(rows[1].seconds, first[0].seconds, "the finished row was sampled again");
    assert_eq!(rows[0].metrics, whole[0].metrics);
    assert_eq!(report(&pieces)["rows"].as_array().map(Vec::len), Some(2));

    let mut other_seed = options(pieces.clone(), both.clone(), 4, 6);
    other_seed.resume = true;
    let refused = run(&other_seed, &ebm::Quiet).unwrap_err().to_string();
    assert!(refused.contains("composition.json") && refused.contains("seed"), "{refused}");

    std::fs::write(pieces.join("composition.json"), "{ not json").unwrap();
    let refused = run(&resumed, &ebm::Quiet).unwrap_err().to_string();
    assert!(refused.contains("not a composition report"), "{refused}");
}
