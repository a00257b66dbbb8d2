//! Segmentation agreement scores for object discovery: the adjusted Rand
//! index (ARI) of a predicted pixel-to-slot assignment against the true
//! instance mask, over all pixels and over foreground pixels only (the
//! "FG-ARI" of MONet and Slot Attention). Pure Rust on plain slices.

use serde::Serialize;
use std::collections::HashMap;

/// Number of unordered pairs among `count` items, `count choose 2`.
fn pairs(count: u64) -> i128 {
    let count = i128::from(count);
    count * (count - 1) / 2
}

/// Adjusted Rand index (Hubert & Arabie 1985) between two labelings of the
/// same items. Label values are arbitrary ids: only which items share a label
/// matters, so the score is invariant to relabelling either side.
///
/// From the contingency table `n_ij` (items with true label i and predicted
/// label j), with row sums `a_i`, column sums `b_j` and `n` items:
/// `index = Σ C(n_ij, 2)`, `A = Σ C(a_i, 2)`, `B = Σ C(b_j, 2)`, `T = C(n, 2)`,
/// `ARI = (index − A·B/T) / ((A + B)/2 − A·B/T)`.
/// The pair counts are exact integers (i128), and the fraction is formed as
/// `2(T·index − A·B) / (T(A + B) − 2A·B)` so no rounding happens before the
/// final division.
///
/// Conventions:
/// * Empty input returns NaN (there are no pairs to agree on).
/// * When the expected index equals the maximum index (denominator 0: both
///   labelings put everything in one cluster, or both make every item its
///   own cluster, or a single item), the ratio is undefined; like
///   scikit-learn we return 1.0 if the labelings are identical up to
///   relabelling and 0.0 otherwise.
///
/// # Panics
/// If the two slices differ in length (a programming error).
pub fn adjusted_rand_index(truth: &[u32], predicted: &[u32]) -> f64 {
    assert_eq!(truth.len(), predicted.len(), "adjusted_rand_index: labelings of different lengths");
    if truth.is_empty() {
        return f64::NAN;
    }
    let mut joint: HashMap<(u32, u32), u64> = HashMap::new();
    let mut truth_sizes: HashMap<u32, u64> = HashMap::new();
    let mut predicted_sizes: HashMap<u32, u64> = HashMap::new();
    for (&t, &p) in truth.iter().zip(predicted) {
        *joint.entry((t, p)).or_default() += 1;
        *truth_sizes.entry(t).or_default() += 1;
        *predicted_sizes.entry(p).or_default() += 1;
    }
    let index: i128 = joint.values().map(|&c| pairs(c)).sum();
    let truth_pairs: i128 = truth_sizes.values().map(|&c| pairs(c)).sum();
    let predicted_pairs: i128 = predicted_sizes.values().map(|&c| pairs(c)).sum();
    let total_pairs = pairs(truth.len() as u64);

    let numerator = 2 * (total_pairs * index - truth_pairs * predicted_pairs);
    let denominator = total_pairs * (truth_pairs + predicted_pairs) - 2 * truth_pairs * predicted_pairs;
    if denominator == 0 {
        // Identical partitions are exactly those where every pair together in
        // one labeling is together in the other: index == A == B.
        let identical = index == truth_pairs && index == predicted_pairs;
        return if identical { 1.0 } else { 0.0 };
    }
    numerator as f64 / denominator as f64
}

/// ARI of one image's predicted segmentation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SegmentationScores {
    /// ARI over all pixels, background included.
    pub ari: f64,
    /// ARI over the pixels whose true instance id is not 0 (0 = background or
    /// floor); NaN when the image has no foreground pixel.
    pub foreground_ari: f64,
}

/// Scores a predicted segmentation `predicted` (one slot/cluster id per
/// pixel) against the true `instance_mask` (one instance id per pixel, 0 for
/// background), both in the same pixel order.
///
/// The foreground ARI follows the object-discovery literature (MONet, Slot
/// Attention): background pixels are dropped before comparing, so how the
/// model splits the background does not count. With a single foreground
/// object the foreground ARI is 1 if the prediction keeps it in one cluster
/// and 0 otherwise (see the degenerate-case rule of [`adjusted_rand_index`]).
///
/// # Panics
/// If the slices differ in length.
pub fn segmentation_scores(instance_mask: &[u8], predicted: &[u32]) -> SegmentationScores {
    assert_eq!(
        instance_mask.len(),
        predicted.len(),
        "segmentation_scores: mask and prediction of different lengths"
    );
    let truth: Vec<u32> = instance_mask.iter().map(|&id| u32::from(id)).collect();
    let (foreground_truth, foreground_predicted): (Vec<u32>, Vec<u32>) =
        truth.iter().zip(predicted).filter(|(&t, _)| t != 0).map(|(&t, &p)| (t, p)).unzip();
    SegmentationScores {
        ari: adjusted_rand_index(&truth, predicted),
        // Empty foreground gives NaN through adjusted_rand_index's convention.
        foreground_ari: adjusted_rand_index(&foreground_truth, &foreground_predicted),
    }
}

/// Mean of per-image scores, field by field, skipping NaN values (images
/// with no foreground, or no pixels). A field is NaN when every value is NaN
/// or `scores` is empty.
pub fn mean_scores(scores: &[SegmentationScores]) -> SegmentationScores {
    fn mean_skipping_nan(values: impl Iterator<Item = f64>) -> f64 {
        let (sum, count) = values.filter(|v| !v.is_nan()).fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
        if count == 0 {
            f64::NAN
        } else {
            sum / count as f64
        }
    }
    SegmentationScores {
        ari: mean_skipping_nan(scores.iter().map(|s| s.ari)),
        foreground_ari: mean_skipping_nan(scores.iter().map(|s| s.foreground_ari)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn identical_labelings_score_one() {
        let labels = [3, 3, 1, 1, 1, 7, 0, 0, 2];
        assert_eq!(adjusted_rand_index(&labels, &labels), 1.0);
    }

    #[test]
    fn relabelled_prediction_scores_one() {
        let truth = [0, 0, 1, 1, 2, 2, 2, 3];
        // Permutation 0→42, 1→3, 2→0, 3→1 with a large id thrown in.
        let relabelled = [42, 42, 3, 3, 0, 0, 0, 1];
        assert_eq!(adjusted_rand_index(&truth, &relabelled), 1.0);
        assert_eq!(adjusted_rand_index(&relabelled, &truth), 1.0);
    }

    #[test]
    fn small_example_matches_hand_computation() {
        // Contingency table (rows truth 0,1; columns predicted 0,1,2):
        //   [2 1 0]
        //   [0 1 2]
        // index = C(2,2) + C(2,2) = 2; A = 2·C(3,2) = 6; B = 3·C(2,2) = 3;
        // T = C(6,2) = 15; expected = A·B/T = 1.2; max = (A+B)/2 = 4.5;
        // ARI = (2 − 1.2) / (4.5 − 1.2) = 0.8 / 3.3 = 8/33.
        let truth = [0, 0, 0, 1, 1, 1];
        let predicted = [0, 0, 1, 1, 2, 2];
        assert!((adjusted_rand_index(&truth, &predicted) - 8.0 / 33.0).abs() < 1e-12);
        // ARI is symmetric in its arguments.
        assert!((adjusted_rand_index(&predicted, &truth) - 8.0 / 33.0).abs() < 1e-12);
    }

    #[test]
    fn worse_than_chance_is_negative() {
        // Contingency [[1,1],[1,1]]: index 0, A = B = 2, T = 6,
        // expected 2/3, max 2: ARI = (0 − 2/3)/(2 − 2/3) = −1/2.
        let truth = [0, 0, 1, 1];
        let predicted = [0, 1, 0, 1];
        assert!((adjusted_rand_index(&truth, &predicted) + 0.5).abs() < 1e-12);
    }

    #[test]
    fn independent_random_labelings_score_near_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let truth: Vec<u32> = (0..10_000).map(|_| rng.random_range(0..5)).collect();
        let predicted: Vec<u32> = (0..10_000).map(|_| rng.random_range(0..7)).collect();
        let ari = adjusted_rand_index(&truth, &predicted);
        assert!(ari.abs() < 0.02, "ARI of independent labelings = {ari}");
    }

    #[test]
    fn degenerate_cases_follow_convention() {
        // Both one cluster, both all singletons, one item: identical → 1.
        assert_eq!(adjusted_rand_index(&[5, 5, 5], &[2, 2, 2]), 1.0);
        assert_eq!(adjusted_rand_index(&[0, 1, 2, 3], &[9, 8, 7, 6]), 1.0);
        assert_eq!(adjusted_rand_index(&[4], &[1]), 1.0);
        // One cluster against a split: index = B, A = T, so ARI = 0 exactly.
        assert_eq!(adjusted_rand_index(&[1, 1, 1, 1], &[0, 0, 1, 1]), 0.0);
        assert_eq!(adjusted_rand_index(&[1, 1, 1, 1], &[0, 1, 2, 3]), 0.0);
    }

    #[test]
    fn empty_input_is_nan() {
        assert!(adjusted_rand_index(&[], &[]).is_nan());
    }

    #[test]
    #[should_panic]
    fn different_lengths_panic() {
        adjusted_rand_index(&[0, 1], &[0]);
    }

    #[test]
    fn foreground_ari_ignores_background_errors() {
        // Background (0) pixels 0..4, object 1 at 4..7, object 2 at 7..10.
        let mask: [u8; 10] = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
        // Objects right, background split between a background slot and the
        // object slots.
        let predicted = [9, 9, 5, 6, 5, 5, 5, 6, 6, 6];
        let scores = segmentation_scores(&mask, &predicted);
        assert_eq!(scores.foreground_ari, 1.0);
        assert!(scores.ari < 1.0, "full ARI = {}", scores.ari);
        // A perfect prediction scores 1 on both.
        let perfect = segmentation_scores(&mask, &[7, 7, 7, 7, 1, 1, 1, 2, 2, 2]);
        assert_eq!(
            perfect,
            SegmentationScores {
                ari: 1.0,
                foreground_ari: 1.0
            }
        );
        // An error on a foreground pixel lowers the foreground ARI.
        let wrong_object = segmentation_scores(&mask, &[9, 9, 9, 9, 5, 5, 6, 6, 6, 6]);
        assert!(wrong_object.foreground_ari < 1.0);
    }

    #[test]
    fn no_foreground_gives_nan_foreground_ari() {
        let scores = segmentation_scores(&[0, 0, 0], &[1, 1, 2]);
        assert!(scores.foreground_ari.is_nan());
        assert_eq!(scores.ari, 0.0);
    }

    #[test]
    fn mean_skips_nan_per_field() {
        let scores = [
            SegmentationScores {
                ari: 0.2,
                foreground_ari: f64::NAN,
            },
            SegmentationScores {
                ari: 0.6,
                foreground_ari: 0.5,
            },
            SegmentationScores {
                ari: f64::NAN,
                foreground_ari: 0.9,
            },
        ];
        let mean = mean_scores(&scores);
        assert!((mean.ari - 0.4).abs() < 1e-12);
        assert!((mean.foreground_ari - 0.7).abs() < 1e-12);
        let none = mean_scores(&[]);
        assert!(none.ari.is_nan() && none.foreground_ari.is_nan());
    }
}
