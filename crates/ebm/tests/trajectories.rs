//! The control environments against hand-computed steps (walls, clamping,
//! angle wrap), tasks drawn within the spec's ranges, and episode files
//! that round-trip and replay.

use ebm::trajectories::env::{fingertip, wrap, Env};
use ebm::trajectories::{exploratory_episodes, read_episodes, rollout, write_episodes};
use std::f64::consts::PI;

fn close(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
}

#[test]
fn the_particle_steps_clips_actions_and_stops_at_the_box() {
    // v′ = 0.9 v + 0.1 a, p′ = p + 0.1 v′; the action 2 is clipped to 1.
    let next = Env::Particle.step(&[0.0, 0.0, 0.0, 0.5], &[2.0, -0.5]);
    assert!(close(&next, &[0.01, 0.04, 0.1, 0.4]), "{next:?}");
    // x would reach 0.99 + 0.1·0.55 = 1.045: clamped to 1, its velocity zeroed; y moves on.
    let next = Env::Particle.step(&[0.99, 0.0, 0.5, 0.2], &[1.0, 0.0]);
    assert!(close(&next, &[1.0, 0.018, 0.0, 0.18]), "{next:?}");
    let next = Env::Particle.step(&[-0.995, -0.995, -0.2, -0.2], &[-1.0, -1.0]);
    assert!(close(&next, &[-1.0, -1.0, 0.0, 0.0]), "{next:?}");
}

#[test]
fn maze_walls_cancel_the_step_and_stop_the_mass() {
    // From y = −0.29 moving down at speed 1 the mass would enter W1 (x = 0 lies in [−1, 0.4]).
    let next = Env::Maze.step(&[0.0, -0.29, 0.0, -1.0], &[0.0, -1.0]);
    assert_eq!(next, [0.0, -0.29, 0.0, 0.0]);
    // Through the gap at x = 0.45 the same move is free.
    let next = Env::Maze.step(&[0.45, -0.29, 0.0, -1.0], &[0.0, -1.0]);
    assert!(close(&next, &[0.45, -0.39, 0.0, -1.0]), "{next:?}");
    // W2 = [−0.4, 1] × [0.3, 0.5]: a point on its boundary is inside.
    assert!(!Env::Maze.free(&[-0.4, 0.4]) && !Env::Maze.free(&[0.0, 0.5]) && Env::Maze.free(&[-0.41, 0.4]));
    assert!(Env::Particle.free(&[0.0, 0.4]));
}

#[test]
fn reacher_angles_wrap_into_minus_pi_to_pi_and_the_fingertip_follows_the_links() {
    assert_eq!(wrap(PI), PI);
    assert_eq!(wrap(-PI), PI);
    assert!((wrap(1.5 * PI) + 0.5 * PI).abs() < 1e-12 && (wrap(0.1) - 0.1).abs() < 1e-15);
    assert!((wrap(-7.0) - (-7.0 + 2.0 * PI)).abs() < 1e-12);
    // ω′ = 0.8 ω + 0.2 a; θ′ = wrap(θ + 0.1 ω′): 3.1 + 0.1 wraps past π.
    let next = Env::Reacher.step(&[3.1, 0.0, 1.0, -1.0], &[1.0, 3.0]);
    assert!(close(&next, &[3.2 - 2.0 * PI, -0.06, 1.0, -0.6]), "{next:?}");
    assert!(close(&fingertip(0.0, 0.0), &[1.0, 0.0]));
    assert!(close(&fingertip(PI / 2.0, PI / 2.0), &[-0.5, 0.5]));
    assert!(close(&Env::Reacher.position(&[PI / 2.0, PI / 2.0, 3.0, 3.0]), &[-0.5, 0.5]));
}

#[test]
fn tasks_are_drawn_within_the_specs_ranges() {
    let mut rng = ebm::seed::rng_at(5, &[1]);
    for _ in 0..2000 {
        let (s, g) = Env::Particle.draw_task(&mut rng);
        let d = ((s[0] - g[0]).powi(2) + (s[1] - g[1]).powi(2)).sqrt();
        assert!(d >= 0.5 && s.iter().chain(&g).all(|v| v.abs() <= 0.9) && s[2] == 0.0 && s[3] == 0.0);
        let (s, g) = Env::Maze.draw_task(&mut rng);
        assert!((-0.9..=-0.1).contains(&s[0]) && (-0.9..=-0.6).contains(&s[1]));
        assert!((0.1..=0.9).contains(&g[0]) && (0.6..=0.9).contains(&g[1]));
        let (s, g) = Env::Reacher.draw_task(&mut rng);
        let r = (g[0].powi(2) + g[1].powi(2)).sqrt();
        assert!((0.2..=0.9).contains(&r) && s[..2].iter().all(|t| *t > -PI && *t <= PI));
    }
}

#[test]
fn episode_files_round_trip_and_replay_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("episodes.jsonl");
    let mut episodes = Vec::new();
    for env in [Env::Particle, Env::Maze, Env::Reacher] {
        episodes.extend(exploratory_episodes(env, 3, 7));
    }
    // The same seed gives the same episodes.
    assert_eq!(exploratory_episodes(Env::Maze, 3, 7), episodes[3..6]);
    write_episodes(&path, &episodes).unwrap();
    let back = read_episodes(&path).unwrap();
    assert_eq!(back, episodes);
    for e in &back {
        let replay = e.replay().unwrap();
        let env = e.environment().unwrap();
        let by_hand: f64 = e.states[1..].iter().map(|s| env.reward(s, &e.goal)).sum();
        assert_eq!(replay.max_deviation, 0.0);
        assert!((replay.episode_return - by_hand).abs() < 1e-12);
        assert!(e.actions.len() == env.horizon() && e.states.len() == env.horizon() + 1);
    }
    // Actions are recorded as given, before clipping, and replay to the same states.
    let big = rollout(Env::Particle, [0.0; 4], [0.5, 0.5], &vec![[5.0, -3.0]; 60]);
    assert_eq!(big.actions[0], [5.0, -3.0]);
    assert!(big.replay().unwrap().episode_return < 0.0);
    // A state off by more than 1e-6, a short episode, a malformed line: refused with the reason.
    let mut tampered = episodes[0].clone();
    tampered.states[10][1] += 1e-5;
    assert!(tampered.replay().unwrap_err().to_string().contains("state 10"));
    let mut short = episodes[0].clone();
    short.actions.pop();
    assert!(short.replay().unwrap_err().to_string().contains("exactly 60 actions"));
    std::fs::write(&path, "{\"env\": \"maze\", \"start\": [0, 0]}\n").unwrap();
    let error = format!("{:#}", read_episodes(&path).unwrap_err());
    assert!(error.contains("episodes.jsonl line 1"), "{error}");
    std::fs::write(
        &path,
        serde_json::to_string(&ebm::trajectories::Episode {
            env: "cartpole".into(),
            ..episodes[0].clone()
        })
        .unwrap(),
    )
    .unwrap();
    let error = format!("{:#}", read_episodes(&path).unwrap_err());
    assert!(error.contains("unknown environment 'cartpole'"), "{error}");
}

#[test]
fn transitions_are_scaled_steps_coded_by_state_and_action_and_invert_exactly() {
    use ebm::data::DataSource;
    use ebm::trajectories::transitions::{apply_delta, delta, Transitions};
    let episodes = exploratory_episodes(Env::Reacher, 2, 3);
    let data = Transitions::from_episodes(Env::Reacher, &episodes, true, 3);
    assert_eq!(data.len(), 2 * Env::Reacher.horizon());
    let batch = data.batch(0, 16);
    assert_eq!(batch.x.size(), [16, 4]);
    assert_eq!(batch.code.as_ref().unwrap().size(), [16, 6]);
    assert_eq!(data.concept().unwrap().code_dim(), 6);
    // A step across the ±π seam is small, and applying it gives the next state back.
    let (s, next) = ([3.1, -3.1, 1.0, -1.0], [-3.1, 3.1, 1.0, -1.0]);
    let d = delta(Env::Reacher, &s, &next);
    assert!(d[0].abs() < 1.0 && d[1].abs() < 1.0, "{d:?}");
    assert!(close(&apply_delta(Env::Reacher, &s, &d), &next));
    for e in &episodes {
        for t in 0..e.actions.len() {
            let d = delta(Env::Reacher, &e.states[t], &e.states[t + 1]);
            assert!(close(&apply_delta(Env::Reacher, &e.states[t], &d), &e.states[t + 1]));
        }
    }
}

/// Rollouts scored by Fréchet distance: the true dynamics score 0 at every
/// step; predicting "nothing moves" does not, and grows with the step.
#[test]
fn rollouts_of_the_true_dynamics_have_zero_frechet_distance() {
    use ebm::trajectories::rollout::rollout_frechet;
    let env = Env::Particle;
    let episodes = ebm::trajectories::exploratory_episodes(env, 64, 5);
    let mut exact = |s: &[ebm::trajectories::State], a: Option<&[ebm::trajectories::Action]>| {
        s.iter().zip(a.expect("conditional")).map(|(s, a)| env.step(s, a)).collect()
    };
    let truth = rollout_frechet(&episodes, 10, true, &mut exact);
    assert!(truth.iter().all(|d| *d < 1e-12), "{truth:?}");
    let mut still = |s: &[ebm::trajectories::State], _: Option<&[ebm::trajectories::Action]>| s.to_vec();
    let copy = rollout_frechet(&episodes, 10, false, &mut still);
    assert!(copy[0] > 1e-3 && copy[9] > copy[0], "{copy:?}");
}

/// The feed-forward baseline learns the particle's dynamics from the
/// offline data: one step ahead it beats "nothing moves" by far.
#[test]
fn the_feed_forward_baseline_learns_one_step_dynamics() {
    use ebm::trajectories::feedforward::{FeedForward, FeedForwardConfig};
    use ebm::trajectories::rollout::mean_error;
    let env = Env::Particle;
    let config = FeedForwardConfig {
        steps: 1500,
        ..FeedForwardConfig::default()
    };
    let mut model = FeedForward::new(env, true, &config);
    model
        .fit(&ebm::trajectories::transitions::Transitions::exploratory(env, true, 0), &config)
        .expect("trains");
    let held_out = ebm::trajectories::exploratory_episodes(env, 4, 99);
    let (mut states, mut actions, mut next) = (Vec::new(), Vec::new(), Vec::new());
    for e in &held_out {
        states.extend_from_slice(&e.states[..e.actions.len()]);
        actions.extend_from_slice(&e.actions);
        next.extend_from_slice(&e.states[1..]);
    }
    let predicted = model.predict_next(&states, Some(&actions));
    let (model_error, copy_error) = (mean_error(&predicted, &next), mean_error(&states, &next));
    assert!(
        model_error < 0.5 * copy_error,
        "model {model_error:.4} vs nothing moves {copy_error:.4}"
    );
}

/// The maze's exploratory episodes start at rest anywhere in free space —
/// every band, never in a wall — while the tasks' goals stay the spec's.
#[test]
fn maze_exploration_starts_anywhere_in_free_space() {
    let episodes = exploratory_episodes(Env::Maze, 60, 2);
    let starts: Vec<_> = episodes.iter().map(|e| e.start).collect();
    assert!(starts.iter().all(|s| Env::Maze.free(&[s[0], s[1]]) && s[2] == 0.0 && s[3] == 0.0));
    for (lo, hi) in [(-1.0, -0.5), (-0.3, 0.3), (0.5, 1.0)] {
        let in_band = starts.iter().filter(|s| s[1] > lo && s[1] < hi).count();
        assert!(in_band >= 5, "{in_band} of 60 starts in the band y ∈ ({lo}, {hi})");
    }
    assert!(episodes.iter().all(|e| e.goal[1] >= 0.6 && e.goal[0] >= 0.1));
    // The particle's still start where its tasks do (at least 0.5 from the goal).
    let particle = exploratory_episodes(Env::Particle, 20, 2);
    assert!(particle
        .iter()
        .all(|e| (e.start[0] - e.goal[0]).hypot(e.start[1] - e.goal[1]) >= 0.5));
}
