//! Pictures of `ebm experiment trajectories`: Fréchet distance per rollout
//! step, and executed paths of both planners (over the maze's walls).

use crate::trajectories::env::WALLS;
use crate::trajectories::{Env, Episode};
use anyhow::Result;
use std::path::Path;

/// Episodes drawn per planner in the paths picture.
const PATHS_DRAWN: usize = 4;

type Points = Vec<(f64, f64)>;

fn wall_outlines() -> Vec<Points> {
    WALLS
        .iter()
        .map(|w| vec![(w[0], w[2]), (w[1], w[2]), (w[1], w[3]), (w[0], w[3]), (w[0], w[2])])
        .collect()
}

fn path(env: Env, episode: &Episode) -> Points {
    episode.states.iter().map(|s| env.position(s)).map(|p| (p[0], p[1])).collect()
}

pub fn draw(out: &Path, env: Env, frechet: &[(String, Vec<f64>)], planned: &[Episode], baseline: &[Episode]) -> Result<()> {
    let curves: Vec<(String, Points)> = frechet
        .iter()
        .map(|(name, values)| (name.clone(), values.iter().enumerate().map(|(t, v)| ((t + 1) as f64, *v)).collect()))
        .collect();
    let series: Vec<(&str, &[(f64, f64)])> = curves.iter().map(|(n, p)| (n.as_str(), p.as_slice())).collect();
    let title = format!("{}: Frechet distance of rollouts to the true states", env.name());
    crate::viz::line_plot(
        &out.join(format!("frechet-{}.png", env.name())),
        &series,
        &title,
        "step",
        "Fréchet distance",
        (720, 480),
    )?;

    if planned.is_empty() && baseline.is_empty() {
        return Ok(()); // no planner ran: no paths to draw
    }
    // One series per planner (paths joined by breaks), so each has one colour.
    let joined = |paths: Vec<Points>| paths.join(&(f64::NAN, f64::NAN));
    let mut named: Vec<(String, Points)> = Vec::new();
    for (label, episodes) in [("EBM planner", planned), ("feed-forward + CEM", baseline)] {
        named.push((
            label.to_string(),
            joined(episodes.iter().take(PATHS_DRAWN).map(|e| path(env, e)).collect()),
        ));
    }
    let tasks = if planned.is_empty() { baseline } else { planned };
    let goals = tasks.iter().take(PATHS_DRAWN).map(|e| vec![(e.goal[0], e.goal[1])]).collect();
    named.push(("goals".to_string(), joined(goals)));
    if env == Env::Maze {
        named.push(("walls".to_string(), joined(wall_outlines())));
    }
    let series: Vec<(&str, &[(f64, f64)])> = named.iter().map(|(n, p)| (n.as_str(), p.as_slice())).collect();
    let title = format!("{}: executed paths (dots: goals)", env.name());
    crate::viz::line_plot(
        &out.join(format!("paths-{}.png", env.name())),
        &series,
        &title,
        "x",
        "y",
        (640, 640),
    )
}

/// Side of one episode's frame in the reacher animation, pixels.
const ARM_FRAME: usize = 96;

/// A looping GIF of the first `PATHS_DRAWN` reacher episodes side by side:
/// per step, each arm's two links and fingertip over its goal (the disc of
/// the success radius), every second step a frame.
pub fn reacher_animation(path: &Path, episodes: &[Episode], title: &str) -> Result<()> {
    let shown = &episodes[..episodes.len().min(PATHS_DRAWN)];
    let steps = shown.iter().map(|e| e.states.len()).min().unwrap_or(0);
    let frames: Vec<Vec<f32>> = (0..steps)
        .step_by(2)
        .map(|t| shown.iter().flat_map(|e| arm_frame(&e.states[t], &e.goal)).collect())
        .collect();
    crate::viz::grid_animation(path, &frames, shown.len(), 3, ARM_FRAME, ARM_FRAME, shown.len(), title, 1, 60)
}

/// One arm as a `3 × ARM_FRAME²` image (channels first, values in [0, 1]).
fn arm_frame(state: &crate::trajectories::State, goal: &crate::trajectories::Point) -> Vec<f32> {
    use crate::trajectories::env::{fingertip, LINKS, SUCCESS_RADIUS};
    let n = ARM_FRAME;
    let mut image = vec![1.0f32; 3 * n * n];
    // The plane's [−1.1, 1.1]² onto the frame, y up.
    let to_pixel = |x: f64, y: f64| ((x + 1.1) / 2.2 * n as f64, (1.1 - y) / 2.2 * n as f64);
    let mut disc = |(cx, cy): (f64, f64), radius: f64, colour: [f32; 3]| {
        for py in 0..n {
            for px in 0..n {
                if (px as f64 + 0.5 - cx).hypot(py as f64 + 0.5 - cy) <= radius {
                    for (c, value) in colour.iter().enumerate() {
                        image[c * n * n + py * n + px] = *value;
                    }
                }
            }
        }
    };
    let pixels_per_unit = n as f64 / 2.2;
    disc(to_pixel(goal[0], goal[1]), SUCCESS_RADIUS * pixels_per_unit, [0.7, 0.95, 0.7]);
    let elbow = [LINKS[0] * state[0].cos(), LINKS[0] * state[0].sin()];
    let tip = fingertip(state[0], state[1]);
    for (from, to) in [([0.0, 0.0], elbow), (elbow, tip)] {
        for k in 0..=40 {
            let f = k as f64 / 40.0;
            let point = to_pixel(from[0] + f * (to[0] - from[0]), from[1] + f * (to[1] - from[1]));
            disc(point, 1.6, [0.15, 0.25, 0.6]);
        }
    }
    disc(to_pixel(0.0, 0.0), 3.0, [0.2, 0.2, 0.2]);
    disc(to_pixel(tip[0], tip[1]), 2.5, [0.85, 0.2, 0.2]);
    image
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trajectories::{exploratory_episodes, Env};
    use image::AnimationDecoder;

    #[test]
    fn the_reacher_animation_has_a_frame_every_second_step_with_the_arm_drawn() {
        let episodes = exploratory_episodes(Env::Reacher, 2, 1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("arm.gif");
        reacher_animation(&path, &episodes, "test").unwrap();
        let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let frames = image::codecs::gif::GifDecoder::new(file)
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap();
        assert_eq!(frames.len(), (Env::Reacher.horizon() + 1).div_ceil(2));
        // The fingertip is drawn red where the state puts it.
        let image = arm_frame(&episodes[0].states[0], &episodes[0].goal);
        let tip = crate::trajectories::env::fingertip(episodes[0].states[0][0], episodes[0].states[0][1]);
        let (px, py) = (
            ((tip[0] + 1.1) / 2.2 * ARM_FRAME as f64) as usize,
            ((1.1 - tip[1]) / 2.2 * ARM_FRAME as f64) as usize,
        );
        let at = |c: usize| image[c * ARM_FRAME * ARM_FRAME + py * ARM_FRAME + px];
        assert!(at(0) > 0.8 && at(1) < 0.3 && at(2) < 0.3, "{} {} {}", at(0), at(1), at(2));
    }
}
