//! The stored low-resolution files of the super-resolution sets as measurements (issue [14]):
//! every published ×4 table fed its models the `lr_x4/` files that ship with Set5, Set14 and
//! BSD100, which differ from a re-degradation of the ground truth in a few pixels by several grey
//! levels. An SR task reads them by default where they exist; its operator (MATLAB bicubic) is
//! unchanged for the theory, and `lr = "degrade"` restores the task's own degradation.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::registry::dataset;
use super::{read_image, Image8};

/// Where a super-resolution task's measurements come from (`lr` of an `[[image_task]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSource {
    /// The set's stored ×s low-resolution files, as the published tables had them.
    Stored,
    /// The task's own degradation of the ground truth (MATLAB bicubic, rounded to 8 bits).
    Degrade,
}

impl LrSource {
    /// The name a suite file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LrSource::Stored => "stored",
            LrSource::Degrade => "degrade",
        }
    }

    /// What results files written before the field existed used: the task's own degradation.
    pub fn legacy() -> LrSource {
        LrSource::Degrade
    }
}

/// What decides whether a task can read stored LR files.
pub(super) struct LrWanted<'a> {
    /// The registered set.
    pub dataset: &'a str,
    /// The SR factor, `None` for other degradations.
    pub sr_scale: Option<usize>,
    /// Whether the task adds no noise.
    pub noise_free: bool,
    /// Whether the task is RGB.
    pub rgb: bool,
}

/// Why the stored files cannot serve as this task's measurements, if they cannot.
fn why_not_stored(w: &LrWanted<'_>) -> Option<String> {
    let Some(scale) = w.sr_scale else {
        return Some("stored low-resolution files are super-resolution measurements".into());
    };
    if !w.noise_free {
        return Some("the stored files are noise-free measurements; a task with noise_std > 0 degrades its own".into());
    }
    if !w.rgb {
        return Some("the stored files are RGB measurements; a grey task degrades its own".into());
    }
    match dataset(w.dataset) {
        Ok(set) if set.ships_lr(scale) => None,
        _ => Some(format!("the set {} ships no lr_x{scale}/ files", w.dataset)),
    }
}

/// The task's LR source: `lr` when given (an error naming why when `stored` is impossible), else
/// the stored files where the set ships them for a noise-free RGB SR task, else its own.
pub(super) fn resolve(lr: Option<LrSource>, wanted: &LrWanted<'_>) -> Result<LrSource, String> {
    match (lr, why_not_stored(wanted)) {
        (Some(LrSource::Stored), Some(why)) => Err(format!("lr = \"stored\": {why}; use lr = \"degrade\"")),
        (Some(source), _) => Ok(source),
        (None, None) => Ok(LrSource::Stored),
        (None, Some(_)) => Ok(LrSource::Degrade),
    }
}

/// The low-resolution size a ground truth of `height × width` has at ×`scale`.
fn expected_size(height: usize, width: usize, scale: usize) -> (usize, usize) {
    (height / scale, width / scale)
}

fn size_problem(lr: &Path, got: (usize, usize), truth: &Path, hr: (usize, usize), scale: usize) -> Option<String> {
    let want = expected_size(hr.0, hr.1, scale);
    (got != want).then(|| {
        format!(
            "{}: {}×{} pixels, but its ground truth {} is {}×{}, so ×{scale} needs {}×{}",
            lr.display(),
            got.0,
            got.1,
            truth.display(),
            hr.0,
            hr.1,
            want.0,
            want.1
        )
    })
}

/// Every stored LR file among `truths` (paths under `set_dir`) whose size is not its ground
/// truth's / `scale`, or whose header cannot be read: PNG headers only, no image decoded.
pub(super) fn size_problems(set_dir: &Path, truths: &[(String, String)], scale: usize) -> Vec<String> {
    let dims = |p: &Path| {
        image::image_dimensions(p).map(|(w, h)| (h as usize, w as usize)).map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut problems = Vec::new();
    for (truth, lr) in truths {
        let (truth, lr) = (set_dir.join(truth), set_dir.join(lr));
        match (dims(&truth), dims(&lr)) {
            (Ok(hr), Ok(got)) => problems.extend(size_problem(&lr, got, &truth, hr, scale)),
            (Err(e), _) | (_, Err(e)) => problems.push(e),
        }
    }
    problems
}

/// Reads the stored LR file `lr` of a ground truth of `height × width` (before cropping to a
/// multiple of `scale`), checking its size.
pub(super) fn read_stored(lr: &Path, truth: &Path, hr: (usize, usize), scale: usize) -> Result<Image8, String> {
    let image = read_image(lr).map_err(|e| e.to_string())?;
    match size_problem(lr, (image.height, image.width), truth, hr, scale) {
        Some(problem) => Err(problem),
        None => Ok(image),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(dataset: &str, sr_scale: Option<usize>, noise_free: bool, rgb: bool) -> LrWanted<'_> {
        LrWanted { dataset, sr_scale, noise_free, rgb }
    }

    #[test]
    fn stored_by_default_where_the_set_ships_them_and_named_errors_where_impossible() {
        assert_eq!(resolve(None, &wanted("set14", Some(4), true, true)), Ok(LrSource::Stored));
        assert_eq!(resolve(Some(LrSource::Degrade), &wanted("set14", Some(4), true, true)), Ok(LrSource::Degrade));
        for (w, why) in [
            (wanted("set14", Some(2), true, true), "ships no lr_x2/"),
            (wanted("kodak24", Some(4), true, true), "ships no lr_x4/"),
            (wanted("dead-leaves", Some(4), true, true), "ships no lr_x4/"),
            (wanted("set5", Some(4), false, true), "noise_std > 0"),
            (wanted("set5", Some(4), true, false), "grey task"),
            (wanted("set5", None, true, true), "super-resolution"),
        ] {
            assert_eq!(resolve(None, &w), Ok(LrSource::Degrade));
            let err = resolve(Some(LrSource::Stored), &w).unwrap_err();
            assert!(err.starts_with("lr = \"stored\": ") && err.contains(why), "{err}");
        }
    }

    #[test]
    fn a_stored_file_of_the_wrong_size_is_named() {
        let p = size_problem(Path::new("lr_x4/a.png"), (31, 42), Path::new("hr/a.png"), (128, 170), 4).unwrap();
        assert_eq!(p, "lr_x4/a.png: 31×42 pixels, but its ground truth hr/a.png is 128×170, so ×4 needs 32×42");
        assert!(size_problem(Path::new("l"), (32, 42), Path::new("h"), (131, 170), 4).is_none());
    }

    #[test]
    fn size_problems_read_the_png_headers_of_every_pair() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["hr", "lr_x4"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let save = |path: &str, width: u32, height: u32| {
            image::GrayImage::new(width, height).save(dir.path().join(path)).unwrap();
        };
        save("hr/a.png", 171, 130);
        save("lr_x4/a.png", 42, 32);
        save("hr/b.png", 171, 130);
        save("lr_x4/b.png", 43, 32);
        let pair = |n: &str| (format!("hr/{n}.png"), format!("lr_x4/{n}.png"));
        let problems = size_problems(dir.path(), &[pair("a"), pair("b"), pair("c")], 4);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("lr_x4/b.png: 32×43 pixels, but its ground truth"), "{problems:?}");
        assert!(problems[0].contains("is 130×171, so ×4 needs 32×42"), "{problems:?}");
        assert!(problems[1].contains("hr/c.png"), "{problems:?}");
    }
}
