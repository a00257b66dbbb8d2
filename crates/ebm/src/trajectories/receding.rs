//! The model-predictive loop every planner shares: plan a window from the
//! states reached, execute the first actions, plan again.

use super::env::{Action, Env, Point, State};
use super::episode::{rollout, Episode};

/// How far each plan of the model-predictive loop looks ahead.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// Steps planned ahead; 0 plans to the episode's end.
    pub length: usize,
    /// Whether a fixed window keeps its length past the episode's end
    /// (else it shrinks to the steps left).
    pub past_end: bool,
}

/// The model-predictive loop both planners share, for all tasks at once:
/// `plan` the next `window` steps from the states reached (it returns one
/// row per task, or anything else to stop), execute the first `chunk`
/// actions `act` derives from that plan and the states reached, repeat
/// until the horizon.
#[allow(clippy::too_many_arguments)]
pub(crate) fn receding_horizon<P>(
    env: Env,
    tasks: &[(State, Point)],
    chunk: usize,
    window: Window,
    label: &str,
    progress: &dyn crate::Progress,
    mut plan: impl FnMut(&[(State, Point)], usize) -> Vec<P>,
    mut act: impl FnMut(&Vec<P>, usize, &[State]) -> Vec<Action>,
) -> Vec<Episode> {
    let horizon = env.horizon();
    let chunk = chunk.max(1);
    let mut actions: Vec<Vec<Action>> = vec![Vec::with_capacity(horizon); tasks.len()];
    let mut current: Vec<(State, Point)> = tasks.to_vec();
    let task = progress.begin(label, horizon as u64);
    let mut done = 0;
    while done < horizon {
        let length = match (window.length, window.past_end) {
            (0, _) => horizon - done,
            (h, true) => h,
            (h, false) => h.min(horizon - done),
        };
        let planned = plan(&current, length);
        if planned.len() != tasks.len() {
            break; // nothing planned (a tensor that would not convert): stop, never spin
        }
        let executed = chunk.min(length).min(horizon - done);
        for step in 0..executed {
            let states: Vec<State> = current.iter().map(|c| c.0).collect();
            for (i, action) in act(&planned, step, &states).into_iter().enumerate() {
                actions[i].push(action);
                current[i].0 = env.step(&current[i].0, &action);
            }
        }
        done += executed;
        task.set_position(done as u64);
    }
    tasks
        .iter()
        .zip(&actions)
        .map(|((start, goal), a)| rollout(env, *start, *goal, a))
        .collect()
}

/// The rest of `plan` after its first `executed` states, `length` long
/// (the last state repeated where the old plan ends).
pub(crate) fn shifted<T: Copy>(plan: &[T], executed: usize, length: usize) -> Vec<T> {
    (0..length)
        .filter_map(|i| plan.get(executed + i).or(plan.last()).copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window lengths the loop asks `plan` for over one maze episode
    /// (horizon 200), replanning every 10 steps.
    fn requested(window: Window) -> Vec<usize> {
        let mut lengths = Vec::new();
        let tasks = [([0.0; 4], [0.5, 0.5])];
        let episodes = receding_horizon(
            Env::Maze,
            &tasks,
            10,
            window,
            "test",
            &crate::Quiet,
            |current, length| {
                lengths.push(length);
                vec![(); current.len()]
            },
            |_, _, _| vec![[0.0, 0.0]],
        );
        assert_eq!(episodes[0].actions.len(), 200, "every step executed");
        lengths
    }

    #[test]
    fn windows_shrink_at_the_end_or_run_past_it() {
        let past = requested(Window {
            length: 50,
            past_end: true,
        });
        assert_eq!(past, vec![50; 20]);
        let shrinking = requested(Window {
            length: 50,
            past_end: false,
        });
        assert_eq!(shrinking.len(), 20);
        assert_eq!(&shrinking[15..], &[50, 40, 30, 20, 10]);
        let to_end = requested(Window { length: 0, past_end: true });
        assert_eq!(to_end, (1..=20).rev().map(|k| 10 * k).collect::<Vec<_>>());
    }
}
