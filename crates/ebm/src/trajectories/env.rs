//! The three control environments of `spec/environments.md`, to the number:
//! `particle` (a point mass in a box), `maze` (the same mass among two walls)
//! and `reacher` (a two-link arm). States are 4 numbers, actions 2, each
//! action component clipped to [−1, 1]; arithmetic in f64.

use rand::Rng;
use std::f64::consts::PI;

pub type State = [f64; 4];
pub type Action = [f64; 2];
pub type Point = [f64; 2];

/// Success: the steered point ends within this distance of the goal.
pub const SUCCESS_RADIUS: f64 = 0.1;

/// The maze's walls, closed rectangles (x₀, x₁, y₀, y₁).
pub const WALLS: [[f64; 4]; 2] = [[-1.0, 0.4, -0.5, -0.3], [-0.4, 1.0, 0.3, 0.5]];

/// The reacher's link lengths.
pub const LINKS: [f64; 2] = [0.5, 0.5];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Env {
    Particle,
    Maze,
    Reacher,
}

crate::named!(Env, "environment", [Particle => "particle", Maze => "maze", Reacher => "reacher"]);

impl Env {
    /// Steps per episode, T.
    pub fn horizon(self) -> usize {
        match self {
            Env::Particle => 60,
            Env::Maze => 200,
            Env::Reacher => 100,
        }
    }

    /// sₜ₊₁ from sₜ and aₜ (clipped first).
    pub fn step(self, s: &State, a: &Action) -> State {
        let a = a.map(|v| v.clamp(-1.0, 1.0));
        match self {
            Env::Particle => particle_step(s, &a),
            Env::Maze => {
                let next = particle_step(s, &a);
                if WALLS.iter().any(|w| inside(w, next[0], next[1])) {
                    // The step is cancelled and the mass stops.
                    [s[0], s[1], 0.0, 0.0]
                } else {
                    next
                }
            }
            Env::Reacher => {
                let w = [0.8 * s[2] + 0.2 * a[0], 0.8 * s[3] + 0.2 * a[1]];
                [wrap(s[0] + 0.1 * w[0]), wrap(s[1] + 0.1 * w[1]), w[0], w[1]]
            }
        }
    }

    /// The point being steered: the mass, or the reacher's fingertip.
    pub fn position(self, s: &State) -> Point {
        match self {
            Env::Particle | Env::Maze => [s[0], s[1]],
            Env::Reacher => fingertip(s[0], s[1]),
        }
    }

    /// rₜ = −‖pos(sₜ₊₁) − g‖₂.
    pub fn reward(self, next: &State, goal: &Point) -> f64 {
        -distance(&self.position(next), goal)
    }

    pub fn success(self, last: &State, goal: &Point) -> bool {
        distance(&self.position(last), goal) <= SUCCESS_RADIUS
    }

    /// A start state and goal drawn as the spec says.
    pub fn draw_task(self, rng: &mut impl Rng) -> (State, Point) {
        let mut uniform = |lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
        match self {
            Env::Particle => loop {
                let (p, g) = ([uniform(-0.9, 0.9), uniform(-0.9, 0.9)], [uniform(-0.9, 0.9), uniform(-0.9, 0.9)]);
                if distance(&p, &g) >= 0.5 {
                    return ([p[0], p[1], 0.0, 0.0], g);
                }
            },
            Env::Maze => {
                let p = [uniform(-0.9, -0.1), uniform(-0.9, -0.6)];
                let g = [uniform(0.1, 0.9), uniform(0.6, 0.9)];
                ([p[0], p[1], 0.0, 0.0], g)
            }
            Env::Reacher => {
                // Angles uniform in (−π, π]: π − 2π·u with u in [0, 1).
                let angle = |u: f64| PI - 2.0 * PI * u;
                let (t1, t2) = (angle(uniform(0.0, 1.0)), angle(uniform(0.0, 1.0)));
                let (r, phi) = (uniform(0.04, 0.81).sqrt(), angle(uniform(0.0, 1.0)));
                ([t1, t2, 0.0, 0.0], [r * phi.cos(), r * phi.sin()])
            }
        }
    }

    /// Whether a point of the plane is free (inside the box and, for the
    /// maze, outside both walls); the reacher's fingertip is always free.
    pub fn free(self, p: &Point) -> bool {
        match self {
            Env::Particle => p.iter().all(|v| (-1.0..=1.0).contains(v)),
            Env::Maze => p.iter().all(|v| (-1.0..=1.0).contains(v)) && !WALLS.iter().any(|w| inside(w, p[0], p[1])),
            Env::Reacher => true,
        }
    }
}

fn particle_step(s: &State, a: &Action) -> State {
    let mut v = [0.9 * s[2] + 0.1 * a[0], 0.9 * s[3] + 0.1 * a[1]];
    let mut p = [s[0] + 0.1 * v[0], s[1] + 0.1 * v[1]];
    for axis in 0..2 {
        if !(-1.0..=1.0).contains(&p[axis]) {
            p[axis] = p[axis].clamp(-1.0, 1.0);
            v[axis] = 0.0;
        }
    }
    [p[0], p[1], v[0], v[1]]
}

fn inside(wall: &[f64; 4], x: f64, y: f64) -> bool {
    (wall[0]..=wall[1]).contains(&x) && (wall[2]..=wall[3]).contains(&y)
}

/// An angle mapped into (−π, π].
pub fn wrap(angle: f64) -> f64 {
    PI - (PI - angle).rem_euclid(2.0 * PI)
}

pub fn fingertip(t1: f64, t2: f64) -> Point {
    [
        LINKS[0] * t1.cos() + LINKS[1] * (t1 + t2).cos(),
        LINKS[0] * t1.sin() + LINKS[1] * (t1 + t2).sin(),
    ]
}

pub fn distance(a: &Point, b: &Point) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}
