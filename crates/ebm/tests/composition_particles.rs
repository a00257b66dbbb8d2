//! `ebm experiment composition --particles`: several chains per sample, the
//! lowest composed energy kept, on the shipped shapes models.

/// `ebm experiment composition --particles M` keeps, per sample, the chain
/// that ends at the lowest composed energy. Particle 0 runs the single-chain
/// sampler's chain (same seed, branches and marginal codes), so the kept
/// energies can only fall, and with three particles some do.
#[test]
fn more_particles_keep_chains_at_lower_composed_energy() {
    use ebm::data::shapes_concept::ShapesConcept;
    use ebm::experiments::composition::{run, CompositionOptions, Row};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let final_energy = |particles: usize| {
        let options = CompositionOptions {
            models: root.join("models/shapes"),
            judge: root.join("judges/shapes.safetensors"),
            out: dir.path().join(format!("p{particles}")),
            samples: 6,
            rows: vec![Row::Alone(ShapesConcept::Shape)],
            langevin: ebm::sample::LangevinOverrides {
                steps: Some(5),
                ..Default::default()
            },
            settings: Default::default(),
            seed: 3,
            annealing: Default::default(),
            prior: None,
            guidance: None,
            or_sampling: Default::default(),
            prior_use: Default::default(),
            marginalise: Default::default(),
            particles,
            keep: ebm::experiments::composition::Keep::Composed,
            refine: None,
        };
        let rows = run(&options, &ebm::Quiet).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(options.out.join("composition.json")).unwrap()).unwrap();
        assert_eq!(json["particles"].as_u64(), Some(particles as u64));
        assert_eq!(json["keep"].as_str(), Some("composed"));
        rows[0].metrics["final_energy"]
    };
    let (one, three) = (final_energy(1), final_energy(3));
    assert!(one.is_finite() && three < one, "one particle {one}, three {three}");
}
