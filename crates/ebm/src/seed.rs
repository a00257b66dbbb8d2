//! One seed-derivation scheme for every random stream: a child seed is the
//! SplitMix64 finaliser of (parent seed + stream · golden ratio), applied
//! once per level of a path such as `[ROWS, row, chunk]`. Streams are named
//! constants below, so two uses never share a stream by accident.
//!
//! Same seed ⇒ same numbers: training steps reseed libtorch with
//! `torch_seed(seed, &[step])` (a resumed run repeats the uninterrupted one),
//! and dataset sample `i` draws from `rng(seed, stream, i)` (ChaCha8 on
//! stream `i`), so it is the same at any batch size.

use rand::SeedableRng;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Stream names (any distinct numbers; they only have to differ).
pub mod streams {
    /// Row `r` of an experiment table (its conditions and chains).
    pub const ROW: u64 = 0x0052_4F57;
    /// Chunk `c` of a row's chains.
    pub const CHUNK: u64 = 0x0043_484B;
    /// The OR branch each chain of a row draws (ancestral OR sampling).
    pub const BRANCH: u64 = 0x4252_4E43;
    /// The codes each chain draws for the concepts an expression omits
    /// (`compose::marginal`).
    pub const MARGINAL: u64 = 0x4D52_474E;
    /// An expression of the demo.
    pub const EXPRESSION: u64 = 0x0045_5850;
    /// Task `t` of a continual-learning sequence.
    pub const TASK: u64 = 0x5441_534B;
    /// The data a task trains on.
    pub const TASK_DATA: u64 = 0x5444_4154;
    /// Evaluation data disjoint from the training data.
    pub const EVAL_DATA: u64 = 0x4556_414C;
    /// Scenes training chains start from (apart from the positives).
    pub const CHAIN_START: u64 = 0x000A_11CE;
    /// Scenes sampling chains start from (apart from every training stream).
    pub const SAMPLING: u64 = 0x5A4D_504C;
    /// The noise a refinement (SDEdit) adds to a sample and anneals away.
    pub const REFINE: u64 = 0x5245_464E;
    /// The shared noise of a denoising error used for inference.
    pub const INFERENCE_NOISE: u64 = 0x494E_4E5A;
    /// Particle `p` (after the first) of a chunk's chains.
    pub const PARTICLE: u64 = 0x5041_5254;
    /// Episode `i` of the exploratory control policy (its task and actions).
    pub const EXPLORATION: u64 = 0x4558_504C;
    /// Training batch `step` of offline transitions.
    pub const TRANSITION_BATCH: u64 = 0x5452_4E53;
    /// Task `i` (start and goal) of a planning evaluation.
    pub const PLANNING_TASK: u64 = 0x504C_414E;
    /// The second and later sets of a union of filtered datasets.
    pub const UNION_PART: u64 = 0x554E_494F;
    /// Validation episodes a setting of an evaluation is chosen on (apart
    /// from the `EVAL_DATA` episodes it is then scored on).
    pub const VALIDATION: u64 = 0x5641_4C49;
}

/// SplitMix64 of `seed` advanced by `stream`.
pub fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed.wrapping_add(stream.wrapping_mul(GOLDEN));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed at the end of `path` below `seed`.
pub fn derive(seed: u64, path: &[u64]) -> u64 {
    path.iter().fold(seed, |s, &p| mix(s, p))
}

/// A seed for libtorch's generator (non-negative i64).
pub fn torch_seed(seed: u64, path: &[u64]) -> i64 {
    (derive(seed, path) >> 1) as i64
}

/// Seeds libtorch's generator from `seed` and `path`.
pub fn seed_torch(seed: u64, path: &[u64]) {
    tch::manual_seed(torch_seed(seed, path));
}

/// A ChaCha stream for (seed, stream, index): independent and reproducible.
/// The datasets' per-sample streams (kept as they were, so every rendered
/// image is unchanged).
pub fn rng(seed: u64, stream: u64, index: u64) -> rand_chacha::ChaCha8Rng {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ stream.wrapping_mul(GOLDEN));
    rng.set_stream(index);
    rng
}

/// A ChaCha generator seeded at the end of `path`.
pub fn rng_at(seed: u64, path: &[u64]) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(derive(seed, path))
}
