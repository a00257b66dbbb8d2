//! Checkpoints: bit-exact round trips, and clear errors for broken files.

mod common;

use common::checkpoint::conditional_conv;

use ebm::checkpoint::{load_checkpoint, save_checkpoint};
use ebm::energy::network::named_variables;
use ebm::io::{read_tensor_file, write_tensor_file};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

fn saved(dir: &Path) -> PathBuf {
    let (network, card) = conditional_conv();
    let path = dir.join("model.safetensors");
    save_checkpoint(&path, network.as_ref(), &card).expect("save");
    path
}

#[test]
fn round_trip_is_bit_exact() {
    let _serial = common::serial();
    tch::manual_seed(20);
    let dir = tempfile::tempdir().expect("tempdir");
    let (network, card) = conditional_conv();
    let path = dir.path().join("m.safetensors");
    save_checkpoint(&path, network.as_ref(), &card).expect("save");
    let loaded = load_checkpoint(&path).expect("load");
    assert_eq!(loaded.card.concept, card.concept);
    assert_eq!(loaded.card.sampler, card.sampler);
    for ((name, a), (_, b)) in named_variables(network.var_store())
        .iter()
        .zip(named_variables(loaded.network.var_store()))
    {
        assert!(a.equal(&b), "{name} changed in the round trip");
    }
    let x = Tensor::rand([4, 3, 8, 8], (Kind::Float, tch::Device::Cpu));
    let code = Tensor::eye(3, (Kind::Float, tch::Device::Cpu))
        .narrow(0, 0, 3)
        .repeat([2, 1])
        .narrow(0, 0, 4);
    assert!(network.energy(&x, Some(&code)).equal(&loaded.network.energy(&x, Some(&code))));
    // No temporary files are left beside the checkpoint.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

fn load_error(path: &Path) -> String {
    format!("{:#}", load_checkpoint(path).err().expect("loading must fail"))
}

#[test]
fn truncated_checkpoint_is_rejected_with_path_and_reason() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = saved(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    for cut in [bytes.len() - 100, 40, 3] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let error = load_error(&path);
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(
            error.contains("header") || error.contains("truncated") || error.contains("metadata"),
            "{error}"
        );
    }
    let missing = dir.path().join("nope.safetensors");
    assert!(load_error(&missing).contains("cannot read"));
}

/// An edit of a checkpoint's (tensors, card JSON).
type Edit = Box<dyn Fn(&mut Vec<(String, Tensor)>, &mut serde_json::Value)>;

/// Rewrites a saved checkpoint through `edit` of (tensors, card JSON).
fn tampered(dir: &Path, edit: impl Fn(&mut Vec<(String, Tensor)>, &mut serde_json::Value)) -> PathBuf {
    let path = saved(dir);
    let file = read_tensor_file(&path).unwrap();
    let mut tensors: Vec<(String, Tensor)> = file.tensors.into_iter().collect();
    let mut meta = file.metadata;
    edit(&mut tensors, &mut meta);
    write_tensor_file(&path, &tensors, &meta).unwrap();
    path
}

#[test]
fn wrong_version_shape_or_schema_is_rejected() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|_, m| m["format_version"] = 99.into()), "format version 99"),
        (
            Box::new(|_, m| m["architecture"]["widths"] = serde_json::json!([4, 16])),
            "has shape",
        ),
        (Box::new(|t, _| t.retain(|(n, _)| n != "head.weight")), "'head.weight' is missing"),
        (
            Box::new(|t, _| t.push(("stray".into(), Tensor::zeros([2], (Kind::Float, tch::Device::Cpu))))),
            "unexpected tensor 'stray'",
        ),
        (Box::new(|t, _| t[0].1 = t[0].1.full_like(f64::NAN)), "non-finite"),
        (
            Box::new(|_, m| m["concept"]["categories"] = serde_json::json!(["red"])),
            "concept schema describes 1",
        ),
        (
            Box::new(|_, m| m.as_object_mut().unwrap().remove("sampler").map(|_| ()).unwrap()),
            "missing field `sampler`",
        ),
        (
            Box::new(|_, m| m["architecture"]["widths"] = serde_json::json!([])),
            "architecture is invalid",
        ),
        (
            Box::new(|_, m| {
                m["architecture"]["code_head"] = true.into();
                m["architecture"]["code_dim"] = 0.into();
            }),
            "code_head reads a code",
        ),
        (
            Box::new(|_, m| {
                m["concept"] = serde_json::json!({"name": "pos", "kind": "continuous", "components": ["x", "y", "z"], "range": [0.5, 0.5]})
            }),
            "needs finite low < high",
        ),
        (
            Box::new(|_, m| m["sampler"]["init"]["power"] = 0.into()),
            "start noise (lo 0, hi 1, power 0) is invalid",
        ),
    ];
    for (edit, expected) in cases {
        let path = tampered(dir.path(), edit);
        let error = load_error(&path);
        assert!(
            error.contains(expected) && error.contains(&path.display().to_string()),
            "expected '{expected}' in: {error}"
        );
    }
}

#[test]
fn a_flipped_tensor_byte_fails_the_checksum_and_old_checkpoints_still_load() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = saved(dir.path());
    let card = load_checkpoint(&path).expect("a fresh checkpoint loads").card;
    assert!(card.tensor_checksum.as_deref().is_some_and(|c| c.starts_with("fnv1a64+card:")));
    // The checksum covers the card: a changed sampler setting is refused.
    let edited = tampered(dir.path(), |_, meta| {
        meta["sampler"]["langevin"]["step_size"] = serde_json::json!(11.0);
    });
    let error = load_error(&edited);
    assert!(error.contains("its tensors and card do not match the checksum"), "{error}");
    // A tensors-only checksum (written before cards were covered) is still checked, and loads.
    let older = tampered(dir.path(), |tensors, meta| {
        let map: std::collections::BTreeMap<String, tch::Tensor> = tensors.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
        meta["tensor_checksum"] = serde_json::json!(ebm::io::tensors::tensor_checksum(&map).unwrap());
    });
    assert!(load_checkpoint(&older).is_ok(), "{}", load_error(&older));
    // Flip the lowest mantissa bit of the last tensor byte: still finite, still the right shape.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 4;
    bytes[last] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let error = load_error(&path);
    assert!(error.contains("checksum") && error.contains(&path.display().to_string()), "{error}");
    // A card without a checksum (written before checksums) loads as before.
    let old = tampered(dir.path(), |_, meta| {
        meta.as_object_mut().unwrap().remove("tensor_checksum");
    });
    assert!(load_checkpoint(&old).expect("loads").card.tensor_checksum.is_none());
}

/// A joint model (codes of several concepts side by side, no single schema)
/// round-trips when its data lists the concepts; without that list a card
/// whose network takes a code it does not describe is still refused.
#[test]
fn a_joint_model_round_trips_and_an_undescribed_code_is_refused() {
    let (network, card) = conditional_conv();
    let joint = ebm::checkpoint::ModelCard {
        concept: None,
        data: serde_json::json!({ "dataset": "shapes", "joint": ["pos", "size"] }),
        ..card.clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("joint.safetensors");
    save_checkpoint(&path, network.as_ref(), &joint).unwrap();
    assert!(load_checkpoint(&path).unwrap().card.concept.is_none());
    let bare = ebm::checkpoint::ModelCard {
        data: serde_json::json!({ "dataset": "shapes" }),
        ..joint
    };
    let err = bare.validate().unwrap_err().to_string();
    assert!(err.contains("concept schema describes 0 entries"), "{err}");
}
