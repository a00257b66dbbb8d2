//! Pure-Rust loaders for MNIST (IDX files, gzip or plain) and the sklearn 8×8 digits CSV.
//!
//! Every error names the offending file, the problem, and what a valid file looks like. Nothing here panics on bad input.

use anyhow::{anyhow, bail, Result};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

const IMAGES_MAGIC: usize = 0x0000_0803;
const LABELS_MAGIC: usize = 0x0000_0801;
const IDX_HELP: &str = "a valid IDX file is big-endian: magic 0x00000803 (u8 images) or 0x00000801 (u8 labels), one u32 per \
                        dimension (n, rows, cols for images; n for labels), then exactly n*rows*cols (or n) data bytes; gzip optional";
const CSV_HELP: &str = "a valid digits CSV has one line per image with 65 comma-separated numbers: 64 pixels in 0..=16 (8×8, \
                        row-major) then the label 0..=9; an optional header line; gzip optional";
const MNIST_HELP: &str = "a valid MNIST directory holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte \
                          and t10k-labels-idx1-ubyte, each plain or with a .gz suffix";

/// Images as f32 in [0,1], row-major, n × rows × cols; labels 0..=9.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The `i`-th image, `rows * cols` values. Panics if `i >= len()` (like slice indexing).
    pub fn image(&self, i: usize) -> &[f32] {
        let d = self.rows * self.cols;
        &self.images[i * d..(i + 1) * d]
    }

    /// How many images carry each label 0..=9.
    pub fn label_counts(&self) -> [usize; 10] {
        let mut counts = [0usize; 10];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }
}

/// Which MNIST split to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Reads the whole file, gunzipping it when it starts with the gzip magic bytes 1f 8b (whatever its extension).
fn read_maybe_gz(path: &Path, help: &str) -> Result<Vec<u8>> {
    let p = path.display();
    let raw = std::fs::read(path).map_err(|e| anyhow!("{p}: cannot read file ({e}); {help}"))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    // The gzip trailer holds the uncompressed size mod 2^32: use it as a capacity hint, bounded by the maximal deflate ratio.
    let size_hint = raw.last_chunk().map_or(0, |&t| u32::from_le_bytes(t) as usize);
    let mut out = Vec::with_capacity(size_hint.min(raw.len().saturating_mul(1100)));
    MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| anyhow!("{p}: bad gzip stream, corrupt or truncated ({e}): the file starts with gzip magic 1f 8b; {help}"))?;
    Ok(out)
}

/// Validates an IDX u8 buffer against `want` (magic, dims, exact size) and returns (data without header, dims).
fn parse_idx(path: &Path, mut buf: Vec<u8>, want: usize) -> Result<(Vec<u8>, Vec<usize>)> {
    let (p, len, want_nd) = (path.display(), buf.len(), want & 0xff);
    let kind = if want_nd == 3 { "images" } else { "labels" };
    let other = if want_nd == 3 { "labels" } else { "images" };
    let be = |c: &[u8]| c.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
    let Some(magic) = buf.get(..4).map(be) else {
        bail!("{p}: file is only {len} bytes, too short for the 4-byte IDX magic (truncated or empty); {IDX_HELP}");
    };
    if magic != want {
        let (nd, ty) = (magic & 0xff, (magic >> 8) & 0xff);
        let why = if magic == IMAGES_MAGIC ^ LABELS_MAGIC ^ want {
            format!("{other} file given where {kind} expected")
        } else if magic >> 8 == 0x08 {
            format!("wrong dimension count: IDX u8 with {nd} dimensions, expected {want_nd}")
        } else if magic >> 16 == 0 {
            format!("unsupported IDX data type 0x{ty:02x}, only u8 (0x08) is supported")
        } else {
            "not an IDX file".to_string()
        };
        bail!("{p}: wrong magic 0x{magic:08x}, expected 0x{want:08x} (IDX u8 {kind}): {why}; {IDX_HELP}");
    }
    let hlen = 4 + 4 * want_nd;
    let Some(header) = buf.get(4..hlen) else {
        bail!("{p}: truncated header: expected {hlen} bytes of header, found {len} bytes; {IDX_HELP}");
    };
    let dims: Vec<usize> = header.chunks_exact(4).map(be).collect();
    if let Some(i) = dims.iter().position(|&d| d == 0) {
        bail!("{p}: zero-size dimension {i} in header dims {dims:?}; every dimension must be at least 1; {IDX_HELP}");
    }
    let data_len = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let Some(need) = data_len.and_then(|n| n.checked_add(hlen)) else {
        bail!("{p}: header dims {dims:?} overflow usize; {IDX_HELP}");
    };
    if len < need {
        bail!("{p}: truncated: header declares dims {dims:?}, so {need} bytes expected, but {len} bytes found; {IDX_HELP}");
    }
    if len > need {
        let extra = len - need;
        bail!("{p}: trailing garbage: {extra} bytes beyond the declared size of {need} bytes (dims {dims:?}); {IDX_HELP}");
    }
    buf.drain(..hlen);
    Ok((buf, dims))
}

/// Reads an IDX image file (magic 0x00000803, u8 data) — gzip (detected by the 1f 8b magic bytes, not the extension) or plain.
/// Returns (pixels, n, rows, cols).
pub fn read_idx_images(path: &Path) -> Result<(Vec<u8>, usize, usize, usize)> {
    let (pixels, dims) = parse_idx(path, read_maybe_gz(path, IDX_HELP)?, IMAGES_MAGIC)?;
    let [n, rows, cols] = dims[..] else {
        bail!("{}: internal error: expected 3 dims, got {dims:?}", path.display())
    };
    Ok((pixels, n, rows, cols))
}

/// Reads an IDX label file (magic 0x00000801).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    Ok(parse_idx(path, read_maybe_gz(path, IDX_HELP)?, LABELS_MAGIC)?.0)
}

/// Pairs an image file and a label file; checks counts match and labels ≤ 9.
pub fn load_idx_pair(images: &Path, labels: &Path) -> Result<ImageSet> {
    let (pixels, n, rows, cols) = read_idx_images(images)?;
    let label_vec = read_idx_labels(labels)?;
    let (ip, lp, nl) = (images.display(), labels.display(), label_vec.len());
    if nl != n {
        bail!("count mismatch: {ip} holds {n} images but {lp} holds {nl} labels; a valid pair has exactly one label per image");
    }
    if let Some((i, l)) = label_vec.iter().enumerate().find(|(_, &l)| l > 9) {
        bail!("{lp}: label {l} at index {i} is out of range; valid labels are digits 0..=9");
    }
    let lut: [f32; 256] = std::array::from_fn(|b| b as f32 / 255.0);
    let images = pixels.iter().map(|&b| lut[usize::from(b)]).collect();
    Ok(ImageSet {
        images,
        labels: label_vec,
        rows,
        cols,
    })
}

/// `dir/name` if it exists, else `dir/name.gz`.
fn find_plain_or_gz(dir: &Path, name: &str) -> Result<PathBuf> {
    let found = [dir.join(name), dir.join(format!("{name}.gz"))].into_iter().find(|p| p.exists());
    let d = dir.display();
    found.ok_or_else(|| anyhow!("{d}: missing MNIST file, neither {name} nor {name}.gz exists there; {MNIST_HELP}"))
}

/// MNIST from a directory holding the four standard files (gz or not: try `name` then `name.gz`).
pub fn load_mnist(dir: &Path, split: Split) -> Result<ImageSet> {
    let prefix = if split == Split::Train { "train" } else { "t10k" };
    let images = find_plain_or_gz(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels = find_plain_or_gz(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    load_idx_pair(&images, &labels)
}

/// The 8×8 digits CSV (gz or plain); pixels 0..16 scaled to [0,1].
/// A first line with no numeric field is taken as a header and skipped; blank lines are ignored.
pub fn load_digits_csv(path: &Path) -> Result<ImageSet> {
    let p = path.display();
    let bytes = read_maybe_gz(path, CSV_HELP)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| anyhow!("{p}: not UTF-8 text ({e}); {CSV_HELP}"))?;
    let (mut images, mut labels) = (Vec::with_capacity(64 * 2048), Vec::with_capacity(2048));
    for (ln, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if ln == 1 && fields.iter().all(|f| f.parse::<f32>().is_err()) {
            continue;
        }
        if fields.len() != 65 {
            bail!("{p}: line {ln} has wrong column count {}, expected 65; {CSV_HELP}", fields.len());
        }
        for (c, f) in fields.iter().enumerate() {
            let Some(v) = f.parse::<f32>().ok().filter(|v| v.is_finite()) else {
                bail!("{p}: line {ln}, column {}: non-numeric value {f:?}; {CSV_HELP}", c + 1);
            };
            if c < 64 {
                if !(0.0..=16.0).contains(&v) {
                    bail!("{p}: line {ln}, column {}: pixel value {v} out of range 0..=16; {CSV_HELP}", c + 1);
                }
                images.push(v / 16.0);
            } else if v.fract() != 0.0 || !(0.0..=9.0).contains(&v) {
                bail!("{p}: line {ln}, column 65: label {v} out of range, must be an integer 0..=9; {CSV_HELP}");
            } else {
                labels.push(v as u8);
            }
        }
    }
    if labels.is_empty() {
        bail!("{p}: no data rows; {CSV_HELP}");
    }
    Ok(ImageSet {
        images,
        labels,
        rows: 8,
        cols: 8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    /// Shared data dir: $EBM_SHARED_DATA, else `<manifest>/../shared/data` (= /work/shared/data for /work/main).
    fn data_dir() -> PathBuf {
        std::env::var_os("EBM_SHARED_DATA")
            .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"), PathBuf::from)
    }

    fn tmp_dir(test: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ebm-mnist-test-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn put(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| v.extend(d.to_be_bytes()));
        [v, data.to_vec()].concat()
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// Asserts `r` failed with a message naming `path` and containing every `|`-separated phrase.
    fn assert_err<T: std::fmt::Debug>(r: Result<T>, path: &Path, phrases: &str) {
        let msg = format!("{:#}", r.unwrap_err());
        let p = path.display().to_string();
        for ph in phrases.split('|').chain([p.as_str()]) {
            assert!(msg.contains(ph), "{ph:?} missing from: {msg}");
        }
    }

    fn check_mnist(split: Split, n: usize, counts: [usize; 10]) -> ImageSet {
        let dir = data_dir().join("mnist");
        let set = load_mnist(&dir, split).unwrap_or_else(|e| panic!("{e:#} (set EBM_SHARED_DATA to the shared data dir)"));
        assert_eq!((set.len(), set.rows, set.cols, set.images.len()), (n, 28, 28, n * 784));
        assert_eq!(set.label_counts(), counts);
        assert!(set.images.iter().all(|&x| (0.0..=1.0).contains(&x)));
        assert_eq!(set.image(n - 1).len(), 784);
        set
    }

    #[test]
    fn mnist_train_real() {
        let set = check_mnist(Split::Train, 60000, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
        let mean = set.images.iter().map(|&x| f64::from(x)).sum::<f64>() / set.images.len() as f64;
        assert!((mean - 0.1307).abs() < 0.001, "mean {mean}");
    }

    #[test]
    fn mnist_test_real() {
        check_mnist(Split::Test, 10000, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    }

    #[test]
    fn digits_real() {
        let set = load_digits_csv(&data_dir().join("sklearn-digits/digits.csv.gz")).unwrap();
        assert_eq!((set.len(), set.rows, set.cols, set.images.len()), (1797, 8, 8, 1797 * 64));
        assert_eq!(set.label_counts(), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert!(set.images.iter().all(|&x| (0.0..=1.0).contains(&x)) && set.images.contains(&1.0));
        assert_eq!(set.labels[..3], [0, 1, 2]);
    }

    #[test]
    fn idx_roundtrip_plain_and_gz_and_dir() {
        let d = tmp_dir("roundtrip");
        let img = idx(0x803, &[2, 2, 3], &[0, 51, 102, 153, 204, 255, 1, 2, 3, 4, 5, 6]);
        put(&d, "train-images-idx3-ubyte", &img); // plain
        put(&d, "train-labels-idx1-ubyte.gz", &gz(&idx(0x801, &[2], &[7, 9])));
        let set = load_mnist(&d, Split::Train).unwrap();
        assert_eq!((set.len(), set.rows, set.cols, set.labels.clone()), (2, 2, 3, vec![7, 9]));
        assert_eq!(set.image(0), &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let p = put(&d, "images.bin", &gz(&img)); // gzip is detected by content, not by extension
        assert_eq!(read_idx_images(&p).unwrap(), (img[16..].to_vec(), 2, 2, 3));
        assert_err(load_mnist(&d, Split::Test), &d, "missing MNIST file|t10k-images-idx3-ubyte.gz");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn idx_corruptions() {
        let d = tmp_dir("idx");
        let img = idx(0x803, &[3, 2, 2], &[9; 12]);
        let bad_gzip = [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let cases: [(&str, Vec<u8>, &str); 11] = [
            ("trunc.gz", gz(&img)[..20].to_vec(), "bad gzip stream"),
            ("trunc", img[..20].to_vec(), "truncated|28 bytes expected, but 20 bytes found"),
            (
                "trunc-payload.gz",
                gz(&img[..25]),
                "truncated|28 bytes expected, but 25 bytes found",
            ),
            ("short-header", img[..9].to_vec(), "truncated header"),
            (
                "labels",
                idx(0x801, &[3], &[1, 2, 3]),
                "wrong magic 0x00000801, expected 0x00000803|labels file given where images expected",
            ),
            (
                "dims2",
                idx(0x802, &[3, 4], &[0; 12]),
                "wrong dimension count|2 dimensions, expected 3",
            ),
            ("text", b"hello world".to_vec(), "wrong magic|not an IDX file"),
            ("float", idx(0xd03, &[1, 1, 1], &[0; 4]), "unsupported IDX data type 0x0d"),
            ("zero", idx(0x803, &[5, 0, 28], &[]), "zero-size dimension 1"),
            (
                "tail",
                [&img[..], b"xyz"].concat(),
                "trailing garbage: 3 bytes beyond the declared size of 28 bytes",
            ),
            ("garbage.gz", bad_gzip.to_vec(), "bad gzip stream"),
        ];
        for (name, bytes, phrases) in cases {
            assert_err(read_idx_images(&put(&d, name, &bytes)), &d.join(name), phrases);
        }
        assert_err(
            read_idx_labels(&put(&d, "img", &img)),
            &d.join("img"),
            "images file given where labels expected",
        );
        assert_err(
            read_idx_labels(&d.join("does-not-exist")),
            &d.join("does-not-exist"),
            "cannot read file",
        );
        assert_err(read_idx_labels(&put(&d, "empty", &[])), &d.join("empty"), "too short");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn pair_corruptions() {
        let d = tmp_dir("pair");
        let img = put(&d, "img.gz", &gz(&idx(0x803, &[3, 2, 2], &[9; 12])));
        let lab2 = put(&d, "lab2", &idx(0x801, &[2], &[1, 2]));
        assert_err(
            load_idx_pair(&img, &lab2),
            &lab2,
            &format!("count mismatch: {} holds 3 images|2 labels", img.display()),
        );
        let lab12 = put(&d, "lab12.gz", &gz(&idx(0x801, &[3], &[1, 12, 3])));
        assert_err(load_idx_pair(&img, &lab12), &lab12, "label 12 at index 1|0..=9");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn csv_variants_and_corruptions() {
        let d = tmp_dir("csv");
        let row = |label: &str| format!("{}{label}\n", "16,".repeat(64));
        let p = put(
            &d,
            "hdr.csv",
            format!("{}target\r\n\n{}{}", "p,".repeat(64), row("3"), row("4.0")).as_bytes(),
        );
        let set = load_digits_csv(&p).unwrap();
        assert_eq!((set.labels.clone(), set.image(1)[63]), (vec![3, 4], 1.0));
        let p = put(&d, "short.csv.gz", &gz(format!("{}0,1,2\n", row("1")).as_bytes()));
        assert_err(load_digits_csv(&p), &p, "line 2 has wrong column count 3, expected 65");
        let p = put(&d, "nonnum.csv", (row("1") + &row("x")).as_bytes());
        assert_err(load_digits_csv(&p), &p, "line 2, column 65: non-numeric");
        let p = put(&d, "pix.csv", (row("1") + &row("1").replacen("16", "17", 1)).as_bytes());
        assert_err(load_digits_csv(&p), &p, "line 2, column 1: pixel value 17 out of range 0..=16");
        let p = put(&d, "lab.csv", row("10").as_bytes());
        assert_err(load_digits_csv(&p), &p, "line 1, column 65: label 10 out of range");
        let p = put(&d, "empty.csv", b"\n\n");
        assert_err(load_digits_csv(&p), &p, "no data rows");
        std::fs::remove_dir_all(&d).ok();
    }
}
