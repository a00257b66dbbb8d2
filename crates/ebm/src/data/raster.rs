//! Anti-aliased rendering shared by the procedural datasets
//! (`../shared/spec/datasets.md`): every pixel is the box-filtered average of
//! a 4×4 grid of sub-samples, each evaluated and clamped to [0, 1] first.

/// Sub-samples per pixel along each axis.
pub const SUPERSAMPLE: usize = 4;

/// Renders a `size`×`size` image with `C` channels, channels-first
/// (`[C, size, size]`, row v, column u). `shade(u, v)` gives the colour at a
/// point in normalised coordinates (u right, v down); it is called at
/// ((i + (a + 0.5)/4)/S, (j + (b + 0.5)/4)/S) for sub-sample (a, b) of pixel
/// column i, row j.
pub fn supersample<const C: usize>(size: usize, mut shade: impl FnMut(f64, f64) -> [f64; C]) -> Vec<f32> {
    let s = size as f64;
    let inv = 1.0 / (SUPERSAMPLE * SUPERSAMPLE) as f64;
    let mut out = vec![0f32; C * size * size];
    for j in 0..size {
        for i in 0..size {
            let mut sum = [0f64; C];
            for a in 0..SUPERSAMPLE {
                for b in 0..SUPERSAMPLE {
                    let u = (i as f64 + (a as f64 + 0.5) / SUPERSAMPLE as f64) / s;
                    let v = (j as f64 + (b as f64 + 0.5) / SUPERSAMPLE as f64) / s;
                    let colour = shade(u, v);
                    for c in 0..C {
                        sum[c] += colour[c].clamp(0.0, 1.0);
                    }
                }
            }
            for c in 0..C {
                out[c * size * size + j * size + i] = (sum[c] * inv) as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_plane_covers_half_of_each_straddling_pixel() {
        // Edge at u = 0.5 on a 3-pixel image: the middle pixel spans u ∈ [1/3, 2/3],
        // and 2 of its 4 sub-sample columns lie left of the edge.
        let img = supersample::<1>(3, |u, _| [if u < 0.5 { 1.0 } else { 0.0 }]);
        assert_eq!(&img[0..3], &[1.0, 0.5, 0.0]);
    }

    #[test]
    fn values_are_clamped_per_sub_sample_before_averaging() {
        let img = supersample::<2>(2, |u, _| [if u < 0.5 { 3.0 } else { -1.0 }, 0.5]);
        assert_eq!(img[0], 1.0, "left pixel: every sub-sample clamps to 1");
        assert_eq!(img[1], 0.0);
        assert!(img[4..].iter().all(|&x| x == 0.5), "second channel");
    }
}
