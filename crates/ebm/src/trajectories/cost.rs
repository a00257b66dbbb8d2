//! The task cost both planners minimise: how far the steered point is from
//! its goal. In the open box that is the Euclidean distance. Among the
//! maze's walls it is the geodesic distance — the length of the shortest
//! path around the walls — read off a distance field computed per goal and
//! interpolated bilinearly, so a plan gets a gradient from it. (The
//! Euclidean cost in the maze pulls every plan straight at the wall between
//! the start's band and the goal's: 0 of 100 maze episodes succeeded with
//! it.)

use super::env::{Env, Point, WALLS};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use tch::{Kind, Tensor};

/// Nodes per axis of a distance field over [−1, 1]²: spacing 0.025, a
/// quarter of the most a step can move per axis.
const FIELD_NODES: usize = 81;

/// Walls are widened by this much for the field, so plans keep off them
/// (an executed step into a wall stops the mass).
const WALL_MARGIN: f64 = 0.05;

/// Cost per unit length inside a (widened) wall: finite, so a plan that
/// strays into a wall is still pulled out along the shortest way, but high:
/// the cost sums over every planned state, so at 10 a plan cut through a
/// wall (a few states paying the penalty, every later one nearer the goal)
/// and the mass pressed against the wall's underside all episode.
const WALL_PENALTY: f64 = 1000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoalCost {
    /// ‖pos − g‖₂.
    Euclidean,
    /// The shortest path's length around the environment's walls.
    Geodesic,
}

impl GoalCost {
    /// Geodesic where the environment has walls, Euclidean (identical
    /// there, and exact) elsewhere.
    pub fn for_env(env: Env) -> Self {
        match env {
            Env::Maze => GoalCost::Geodesic,
            Env::Particle | Env::Reacher => GoalCost::Euclidean,
        }
    }
}

/// The cost toward each task's goal, ready to score positions.
pub struct TaskCost {
    goals: Tensor,
    /// `[B, FIELD_NODES²]` geodesic distances to each goal (node (i, j) at
    /// x = −1 + i·h, y = −1 + j·h stored at i·FIELD_NODES + j).
    fields: Option<Tensor>,
}

impl TaskCost {
    pub fn new(env: Env, goals: &[Point], kind: GoalCost) -> Self {
        let fields = match kind {
            GoalCost::Euclidean => None,
            GoalCost::Geodesic => {
                let walls: &[[f64; 4]] = if env == Env::Maze { &WALLS } else { &[] };
                let values: Vec<f64> = goals.iter().flat_map(|g| distance_field(g, walls)).collect();
                Some(Tensor::from_slice(&values).view([goals.len() as i64, -1]))
            }
        };
        let flat: Vec<f64> = goals.iter().flatten().copied().collect();
        TaskCost {
            goals: Tensor::from_slice(&flat).view([-1, 1, 2]),
            fields,
        }
    }

    /// Costs `[B, R]` of positions `[B, R, 2]` (row b toward goal b),
    /// differentiable in the positions.
    pub fn cost(&self, positions: &Tensor) -> Tensor {
        match &self.fields {
            None => (positions - &self.goals)
                .square()
                .sum_dim_intlist(2, false, Kind::Double)
                .clamp_min(1e-12)
                .sqrt(),
            Some(fields) => bilinear(fields, positions),
        }
    }
}

/// The field `[B, G²]` at positions `[B, R, 2]`, bilinearly.
fn bilinear(fields: &Tensor, positions: &Tensor) -> Tensor {
    let n = FIELD_NODES as i64;
    let spacing = 2.0 / (FIELD_NODES - 1) as f64;
    let u = ((positions.to_kind(Kind::Double) + 1.0) / spacing).clamp(0.0, (n - 1) as f64 - 1e-9);
    let corner = u.detach().floor();
    let fraction = &u - &corner;
    let corner = corner.to_kind(Kind::Int64);
    let (ix, iy) = (corner.select(2, 0), corner.select(2, 1));
    let (fx, fy) = (fraction.select(2, 0), fraction.select(2, 1));
    let at = |dx: i64, dy: i64| fields.gather(1, &((&ix + dx) * n + (&iy + dy)), false);
    let (one_x, one_y) = (fx.ones_like() - &fx, fy.ones_like() - &fy);
    at(0, 0) * &one_x * &one_y + at(1, 0) * &fx * &one_y + at(0, 1) * &one_x * &fy + at(1, 1) * &fx * &fy
}

/// Shortest-path distances from every node of the grid to `goal`
/// (Dijkstra over 8-neighbour moves, each weighted by its length and the
/// mean cost per length of its two ends).
pub fn distance_field(goal: &Point, walls: &[[f64; 4]]) -> Vec<f64> {
    let n = FIELD_NODES;
    let spacing = 2.0 / (n - 1) as f64;
    let coordinate = |i: usize| -1.0 + i as f64 * spacing;
    let penalty: Vec<f64> = (0..n * n)
        .map(|k| {
            let (x, y) = (coordinate(k / n), coordinate(k % n));
            let blocked = walls
                .iter()
                .any(|w| x >= w[0] - WALL_MARGIN && x <= w[1] + WALL_MARGIN && y >= w[2] - WALL_MARGIN && y <= w[3] + WALL_MARGIN);
            if blocked {
                WALL_PENALTY
            } else {
                1.0
            }
        })
        .collect();
    let mut distance = vec![f64::INFINITY; n * n];
    let mut queue = BinaryHeap::new();
    // Seeds: the corners of the goal's cell, at their straight distance.
    let cell = |v: f64| (((v + 1.0) / spacing).floor().max(0.0) as usize).min(n - 2);
    for (i, j) in [(0, 0), (1, 0), (0, 1), (1, 1)].map(|(a, b)| (cell(goal[0]) + a, cell(goal[1]) + b)) {
        let k = i * n + j;
        let d = ((coordinate(i) - goal[0]).hypot(coordinate(j) - goal[1])) * penalty[k];
        if d < distance[k] {
            distance[k] = d;
            queue.push(Reverse((d.to_bits(), k)));
        }
    }
    // Non-negative f64s order as their bit patterns do.
    while let Some(Reverse((bits, k))) = queue.pop() {
        let d = f64::from_bits(bits);
        if d > distance[k] {
            continue;
        }
        let (i, j) = ((k / n) as i64, (k % n) as i64);
        for (di, dj) in [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)] {
            let (a, b) = (i + di, j + dj);
            if a < 0 || b < 0 || a >= n as i64 || b >= n as i64 {
                continue;
            }
            let m = a as usize * n + b as usize;
            let step = spacing * ((di * di + dj * dj) as f64).sqrt() * (penalty[k] + penalty[m]) / 2.0;
            if d + step < distance[m] {
                distance[m] = d + step;
                queue.push(Reverse(((d + step).to_bits(), m)));
            }
        }
    }
    distance
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_field_is_near_euclidean_and_walls_lengthen_paths() {
        let goal = [0.5, 0.7];
        let open = distance_field(&goal, &[]);
        let cost = TaskCost::new(Env::Particle, &[goal], GoalCost::Geodesic);
        let points = Tensor::from_slice(&[-0.8, -0.8, 0.1, 0.2, 0.5, 0.7]).view([1, 3, 2]);
        let got = Vec::<f64>::try_from(cost.cost(&points).view([-1])).unwrap();
        for (p, g) in [[-0.8, -0.8], [0.1, 0.2], [0.5, 0.7]].iter().zip(&got) {
            let exact = (p[0] - goal[0]).hypot(p[1] - goal[1]);
            // 8-neighbour paths overshoot straight lines by at most 8 %.
            assert!(*g >= exact - 1e-9 && *g <= exact * 1.09 + 0.01, "{p:?}: {g} vs {exact}");
        }
        assert!(open.iter().all(|v| v.is_finite()));
        // In the maze, the start band to the goal band goes around both walls:
        // through x > 0.4, then back through x < −0.4.
        let maze = TaskCost::new(Env::Maze, &[goal], GoalCost::Geodesic);
        let start = Tensor::from_slice(&[-0.5, -0.8]).view([1, 1, 2]);
        let around = f64::try_from(maze.cost(&start).view([-1]).get(0)).unwrap();
        // No shorter than start → (0.4, −0.4) → (−0.4, 0.4) → goal.
        let lower_bound = 0.9f64.hypot(0.4) + 0.8f64.hypot(0.8) + 0.9f64.hypot(0.3);
        assert!(around >= lower_bound, "{around} vs at least {lower_bound}");
        assert!(around < lower_bound * 1.25, "{around}: a detour through a wall?");
    }
}
