//! Samples made outside upbench (`upbench judge`): read from `.npy` files, checked, and handed
//! to the task in place of a model's outputs, observation by observation, so that they take the
//! very path a plugin's samples take.

use std::ops::Range;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use super::RunError;
use crate::npy;

/// What the task expects for one of its inputs: its observations and a sample's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// The input's name (`measurements`, or an image's file name).
    pub name: String,
    /// The observations it holds, in task order.
    pub observations: Range<usize>,
    /// One sample's shape (`[d]`, or `[C, H, W]`).
    pub sample_shape: Vec<i64>,
}

/// Why given samples cannot be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GivenError {
    /// The file could not be read, or is not a finite float32/float64 array.
    #[error(transparent)]
    Npy(#[from] npy::NpyError),
    /// The array does not have the shape the task expects.
    #[error("{path}: shape {found:?}, but {input} needs {expected}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// Its shape.
        found: Vec<u64>,
        /// The input the samples answer.
        input: String,
        /// The shapes that would do, in words.
        expected: String,
    },
    /// Another input's samples have a different number of samples per observation.
    #[error("{path}: {found} samples per observation, but the other files have {first}")]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// Its K.
        found: i64,
        /// The K of the files before it.
        first: i64,
    },
    /// A libtorch operation failed.
    #[error("{0}")]
    Torch(#[from] tch::TchError),
}

/// Samples `[b, K, sample…]` for every observation of a task, from files.
#[derive(Debug)]
pub struct GivenSamples {
    parts: Vec<(Range<usize>, Tensor)>,
    samples_per_observation: i64,
}

impl GivenSamples {
    /// Reads one file per input (`files[i]` answers `expected[i]`), or one file for all of
    /// them when every input has one sample shape (`files` of length 1: the inputs' arrays
    /// stacked in task order). A file holds `[b, K, sample…]` (K samples per observation; K = 1
    /// is a deterministic model) or `[b, sample…]` (a deterministic model); `k` is the task's K.
    pub fn read(files: &[PathBuf], expected: &[Expected], k: i64) -> Result<GivenSamples, GivenError> {
        let groups: Vec<(PathBuf, Vec<&Expected>)> = if files.len() == 1 && expected.len() > 1 {
            vec![(files[0].clone(), expected.iter().collect())]
        } else {
            files.iter().cloned().zip(expected.iter().map(|e| vec![e])).collect()
        };
        let mut parts = Vec::new();
        let mut samples_per_observation = None;
        for (path, inputs) in groups {
            let (tensor, found_k) = read_one(&path, &inputs, k)?;
            if let Some(first) = samples_per_observation.filter(|&first| first != found_k) {
                return Err(GivenError::Inconsistent { path, found: found_k, first });
            }
            samples_per_observation = Some(found_k);
            let mut offset = 0;
            for input in inputs {
                let len = input.observations.len() as i64;
                parts.push((input.observations.clone(), tensor.narrow(0, offset, len)));
                offset += len;
            }
        }
        Ok(GivenSamples { parts, samples_per_observation: samples_per_observation.unwrap_or(1) })
    }

    /// K: 1 for a deterministic model.
    pub fn samples_per_observation(&self) -> i64 {
        self.samples_per_observation
    }

    /// The samples of `observations` as float64 `[b, K, sample…]` on `device`.
    pub fn slice(&self, observations: Range<usize>, device: tch::Device) -> Result<Tensor, RunError> {
        let mut pieces = Vec::new();
        for (range, tensor) in &self.parts {
            let (start, end) = (range.start.max(observations.start), range.end.min(observations.end));
            if start < end {
                pieces.push(tensor.narrow(0, (start - range.start) as i64, (end - start) as i64));
            }
        }
        let covered: usize = pieces.iter().map(|p| p.size()[0] as usize).sum();
        if covered != observations.len() {
            return Err(RunError::Malformed(format!(
                "the given samples do not cover observations {}..{}",
                observations.start, observations.end
            )));
        }
        Ok(Tensor::f_cat(&pieces, 0)?.f_to_device(device)?)
    }
}

/// Reads the samples of `inputs` (consecutive, one sample shape) from `path`: `[b, K, sample…]`
/// or `[b, sample…]`, b the inputs' observations together, K the task's `k` or 1; the samples
/// of a single observation may also come without the observation axis (`[K, sample…]`,
/// `[sample…]`: one image's file).
fn read_one(path: &Path, inputs: &[&Expected], k: i64) -> Result<(Tensor, i64), GivenError> {
    let array = npy::read(path)?;
    let b = inputs.iter().map(|i| i.observations.len()).sum::<usize>() as i64;
    let sample = &inputs[0].sample_shape;
    let single = b == 1;
    let shape = |prefix: &[i64]| {
        let dims: Vec<String> = prefix.iter().chain(sample).map(|s| s.to_string()).collect();
        format!("[{}]", dims.join(", "))
    };
    let (sampled, fixed) = if single { (shape(&[k]), shape(&[])) } else { (shape(&[b, k]), shape(&[b])) };
    let wrong = || GivenError::Shape {
        path: path.to_path_buf(),
        found: array.shape.clone(),
        input: if inputs.len() == 1 { inputs[0].name.clone() } else { format!("the task's {} inputs", inputs.len()) },
        expected: format!("{sampled} (K = {k} samples per observation) or {fixed} (a deterministic model)"),
    };
    if inputs.iter().any(|i| i.sample_shape != *sample) {
        return Err(wrong());
    }
    let dims: Vec<i64> = array.shape.iter().map(|&s| s as i64).collect();
    let rank = sample.len();
    let trailing = |from: usize| dims.len() == from + rank && dims[from..] == sample[..];
    let samples_per_observation = |v: i64| v == k || v == 1;
    let tensor = array.to_tensor()?.to_kind(Kind::Double);
    if trailing(2) && dims[0] == b && samples_per_observation(dims[1]) {
        Ok((tensor, dims[1]))
    } else if trailing(1) && dims[0] == b {
        Ok((tensor.unsqueeze(1), 1))
    } else if single && trailing(1) && samples_per_observation(dims[0]) {
        Ok((tensor.unsqueeze(0), dims[0]))
    } else if single && trailing(0) {
        Ok((tensor.unsqueeze(0).unsqueeze(0), 1))
    } else {
        Err(wrong())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, t: &Tensor) -> PathBuf {
        let path = dir.join(name);
        npy::write(&path, t, false).unwrap();
        path
    }

    #[test]
    fn stacked_and_per_input_files_give_the_same_slices() {
        let dir = tempfile::tempdir().unwrap();
        let all = Tensor::arange(3 * 2 * 4, (Kind::Double, tch::Device::Cpu)).reshape([3, 2, 4]);
        let expected: Vec<Expected> = (0..3)
            .map(|i| Expected { name: format!("img{i}"), observations: i..i + 1, sample_shape: vec![4] })
            .collect();
        let stacked = GivenSamples::read(&[write(dir.path(), "all.npy", &all)], &expected, 2).unwrap();
        let files: Vec<PathBuf> =
            (0..3).map(|i| write(dir.path(), &format!("{i}.npy"), &all.narrow(0, i, 1))).collect();
        let apart = GivenSamples::read(&files, &expected, 2).unwrap();
        for given in [&stacked, &apart] {
            assert_eq!(given.samples_per_observation(), 2);
            let middle = given.slice(1..3, tch::Device::Cpu).unwrap();
            assert!(middle.equal(&all.narrow(0, 1, 2)));
        }
    }

    #[test]
    fn one_observations_samples_may_come_without_its_axis() {
        let dir = tempfile::tempdir().unwrap();
        let expected = [Expected { name: "a.png".into(), observations: 0..1, sample_shape: vec![3, 2, 2] }];
        let opts = (Kind::Double, tch::Device::Cpu);
        for (shape, k) in
            [(vec![4i64, 3, 2, 2], 4), (vec![3, 2, 2], 1), (vec![1, 4, 3, 2, 2], 4), (vec![1, 3, 2, 2], 1)]
        {
            let path = write(dir.path(), "one.npy", &Tensor::ones(shape.as_slice(), opts));
            let given = GivenSamples::read(&[path], &expected, 4).unwrap();
            assert_eq!(given.samples_per_observation(), k, "{shape:?}");
            assert_eq!(given.slice(0..1, tch::Device::Cpu).unwrap().size(), [1, k, 3, 2, 2]);
        }
        let path = write(dir.path(), "bad.npy", &Tensor::ones([2, 3, 2, 2], opts));
        let err = GivenSamples::read(&[path], &expected, 4).unwrap_err().to_string();
        assert!(err.contains("a.png needs [4, 3, 2, 2] (K = 4 samples per observation) or [3, 2, 2]"), "{err}");
    }

    #[test]
    fn shapes_are_checked_against_the_task_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let expected = [Expected { name: "measurements".into(), observations: 0..3, sample_shape: vec![4] }];
        // A deterministic model's [n, d] is one sample per observation.
        let det = write(dir.path(), "det.npy", &Tensor::zeros([3, 4], (Kind::Double, tch::Device::Cpu)));
        assert_eq!(GivenSamples::read(&[det], &expected, 8).unwrap().samples_per_observation(), 1);
        for (name, shape) in [("k.npy", vec![3i64, 5, 4]), ("n.npy", vec![2, 8, 4]), ("d.npy", vec![3, 8, 5])] {
            let path = write(dir.path(), name, &Tensor::zeros(shape.as_slice(), (Kind::Double, tch::Device::Cpu)));
            let err = GivenSamples::read(&[path], &expected, 8).unwrap_err().to_string();
            assert!(
                err.contains(name)
                    && err.contains("measurements needs [3, 8, 4] (K = 8 samples per observation) or [3, 4]"),
                "{err}"
            );
        }
    }
}
