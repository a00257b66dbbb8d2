//! `ebm train trajectories --objective dsm`, `ebm plan` and `ebm env replay`
//! end to end on a tiny budget, and the planner's refusals.

mod common;

use common::ebm;

/// Trains a transition energy for 40 steps into `dir/name`.
fn tiny_model(dir: &std::path::Path, name: &str, conditional: bool) -> std::path::PathBuf {
    let out = dir.join(name);
    let mut args = vec![
        "--threads",
        "1",
        "train",
        "trajectories",
        "--env",
        "particle",
        "--objective",
        "dsm",
        "--steps",
        "40",
        "--out",
    ];
    let out_text = out.display().to_string();
    args.push(&out_text);
    if conditional {
        args.push("--conditional");
    }
    let (ok, text) = ebm(&args);
    assert!(ok, "{text}");
    let model = dir.join(format!("{name}.safetensors"));
    std::fs::copy(out.join("model.safetensors"), &model).unwrap();
    model
}

#[test]
fn plan_writes_episodes_that_replay_and_refuses_the_wrong_models() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), "particle", false);
    tiny_model(dir.path(), "particle-action", true);
    let episodes = dir.path().join("episodes.jsonl");
    let (m, e) = (model.display().to_string(), episodes.display().to_string());
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "--threads",
            "1",
            "plan",
            "--model",
            &m,
            "--episodes",
            "2",
            "--plan-steps",
            "20",
            "--out",
            &e,
        ];
        args.extend_from_slice(extra);
        ebm(&args)
    };
    let (ok, text) = plan(&["--env", "particle"]);
    assert!(ok && text.contains("success"), "{text}");
    let (ok, text) = ebm(&["env", "replay", &e]);
    assert!(ok && text.contains("particle: 2 episodes replayed"), "{text}");
    // Collocation on the action-conditional energy alone.
    let (ok, text) = plan(&["--env", "particle", "--collocate"]);
    assert!(ok && text.contains("success"), "{text}");
    let (ok, text) = ebm(&["env", "replay", &e]);
    assert!(ok && text.contains("particle: 2 episodes replayed"), "{text}");

    // Plans sampled by MALA after the descent, with its acceptance printed;
    // a temperature that is not positive is refused before any work.
    let (ok, text) = plan(&["--env", "particle", "--collocate", "--sampler", "mala", "--sample-steps", "4"]);
    assert!(ok && text.contains("sampler acceptance"), "{text}");
    let (ok, text) = ebm(&["env", "replay", &e]);
    assert!(ok && text.contains("particle: 2 episodes replayed"), "{text}");
    let (ok, text) = plan(&["--env", "particle", "--sampler", "hmc", "--temperature", "0"]);
    assert!(!ok && text.contains("--temperature must be a positive number"), "{text}");

    // The wrong environment, and an action-conditional model as the state model.
    let (ok, text) = plan(&["--env", "maze"]);
    assert!(!ok && text.contains("trained on particle, not maze"), "{text}");
    let action = dir.path().join("particle-action.safetensors").display().to_string();
    let (ok, text) = ebm(&["plan", "--model", &action, "--env", "particle", "--out", &e]);
    assert!(!ok && text.contains("must be an energy of the state alone"), "{text}");
    // A missing action model is named with its path.
    std::fs::remove_file(dir.path().join("particle-action.safetensors")).unwrap();
    let (ok, text) = plan(&["--env", "particle"]);
    assert!(!ok && text.contains("particle-action.safetensors"), "{text}");
}

/// `ebm experiment trajectories --no-planning`: rollouts only, each energy's
/// temperature chosen from the documented candidates and reported, no
/// planner run and no paths drawn.
#[test]
fn the_rollout_experiment_reports_each_energys_chosen_temperature() {
    let dir = tempfile::tempdir().unwrap();
    tiny_model(dir.path(), "particle", false);
    tiny_model(dir.path(), "particle-action", true);
    let out = dir.path().join("report");
    let (models, out_text) = (dir.path().display().to_string(), out.display().to_string());
    let (ok, text) = ebm(&[
        "--threads",
        "1",
        "experiment",
        "trajectories",
        "--envs",
        "particle",
        "--models",
        &models,
        "--rollout-episodes",
        "6",
        "--rollout-steps",
        "2",
        "--no-planning",
        "-o",
        &out_text,
    ]);
    assert!(ok, "{text}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("trajectories.json")).unwrap()).unwrap();
    let env = &report["envs"][0];
    assert_eq!(env["planning"].as_array().map(Vec::len), Some(0));
    let temperatures = env["rollout_temperatures"].as_array().expect("temperatures reported");
    assert_eq!(temperatures.len(), 2, "{temperatures:?}");
    for entry in temperatures {
        let t = entry[1].as_f64().expect("a number");
        assert!(ebm::experiments::trajectories::ROLLOUT_TEMPERATURES.contains(&t), "{t}");
    }
    let chains = env["rollout_chain_steps"].as_array().expect("chain lengths reported");
    assert_eq!(chains.len(), 2, "{chains:?}");
    for entry in chains {
        let steps = entry[1].as_u64().expect("a count") as usize;
        assert!(ebm::experiments::trajectories::ROLLOUT_CHAIN_STEPS.contains(&steps), "{steps}");
    }
    assert!(out.join("frechet-particle.png").exists());
    assert!(!out.join("paths-particle.png").exists());

    // An online setting with no episodes is refused before any work.
    let (ok, text) = ebm(&["experiment", "trajectories", "--online", "--online-episodes", "0", "-o", &out_text]);
    assert!(!ok && text.contains("--online-episodes must be at least 1"), "{text}");
    // So is a share of exploratory data that is no share.
    for share in ["1", "-0.2", "NaN"] {
        let flag = format!("--online-exploration-share={share}");
        let (ok, text) = ebm(&["experiment", "trajectories", "--online", &flag, "-o", &out_text]);
        assert!(
            !ok && text.contains("--online-exploration-share") && text.contains("below 1"),
            "{share}: {text}"
        );
    }
}
