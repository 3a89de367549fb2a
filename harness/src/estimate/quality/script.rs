//! A suite's own learned metric (`[[metric]]`, `docs/metrics.md` "Your own metric"): a
//! TorchScript file pinned by its SHA-256 and called under one convention.
//!
//! Calling convention: `forward(image)` (no reference) or `forward(image, reference)` (full
//! reference), each a float32 `[1, 3, H, W]` RGB tensor in [0, 1] on the run's device (the 8-bit
//! output divided by 255; a grey image repeated to three channels), under no_grad; it returns a
//! scalar: a 0-dim or 1-element floating tensor, or a float. The file is loaded through the code
//! path of the `torchscript` plugin ([`upbench_tch::script::load_module`]).

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use tch::{Device, IValue, Kind, Tensor};
use upbench_tch::script::{load_module, torch_message};

use super::{check_image, Better, Image8, QualityError, QualityMeasure, Reference};

/// What a `[[metric]]` entry names, its path resolved against the suite's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedMetricSpec {
    /// The metric's name: its column and its key in the records.
    pub name: String,
    /// The TorchScript file.
    pub path: PathBuf,
    /// The file's SHA-256 the suite pins (64 lowercase hex digits).
    pub sha256: String,
    /// Whether `forward` takes the ground truth too.
    pub reference: Reference,
    /// Which way is better.
    pub better: Better,
}

/// A loaded user metric; see the module's documentation for its calling convention.
pub struct ScriptedMetric {
    spec: ScriptedMetricSpec,
    module: tch::CModule,
    device: Device,
}

/// The side of the square input [`ScriptedMetric::probe`] calls the module on.
const PROBE_SIDE: i64 = 32;

impl ScriptedMetric {
    /// Reads the file, checks its SHA-256 against the pinned one and loads it on `device`. A
    /// missing file ([`QualityError::Module`]), a wrong checksum ([`QualityError::Checksum`]) or a
    /// file libtorch cannot load (`Module`) is an error naming the file; the module is not called here ([`ScriptedMetric::probe`] does).
    pub fn load(spec: &ScriptedMetricSpec, device: Device) -> Result<ScriptedMetric, QualityError> {
        let path = &spec.path;
        let bytes = std::fs::read(path).map_err(|e| QualityError::Module {
            path: path.clone(),
            reason: match path.is_file() {
                true => format!("cannot read it: {e}"),
                false => "no such file (a relative `torchscript` path is read from the suite's folder)".into(),
            },
        })?;
        let found = format!("{:x}", Sha256::digest(&bytes));
        if found != spec.sha256 {
            return Err(QualityError::Checksum { path: path.clone(), expected: spec.sha256.clone(), found });
        }
        let module = load_module(path, device).map_err(|e| QualityError::Module { path: e.path, reason: e.reason })?;
        Ok(ScriptedMetric { spec: spec.clone(), module, device })
    }

    /// Calls the module once on a seeded random `[1, 3, 32, 32]` image (and a second one as the
    /// reference), as a run calls it, and returns the score; a module that cannot be called so
    /// (another number of inputs, an exception) or answers with anything but one finite number
    /// is a [`QualityError::Module`] naming the file and the convention expected.
    pub fn probe(&self) -> Result<f64, QualityError> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x6d65_7472_6963);
        let mut draw = || {
            let values: Vec<f32> = (0..3 * PROBE_SIDE * PROBE_SIDE).map(|_| rng.random::<f32>()).collect();
            Tensor::from_slice(&values).view([1, 3, PROBE_SIDE, PROBE_SIDE]).to_device(self.device)
        };
        let image = draw();
        let reference = (self.spec.reference == Reference::Full).then(&mut draw);
        self.score_unit(&image, reference.as_ref()).map_err(|e| {
            let what = match e {
                QualityError::Scripted { reason, .. } => reason,
                other => other.to_string(),
            };
            QualityError::Module {
                path: self.spec.path.clone(),
                reason: format!(
                    "cannot be used as a metric: called as {} on float32 [1, 3, {PROBE_SIDE}, {PROBE_SIDE}] in [0, 1]: {what}",
                    self.signature()
                ),
            }
        })
    }

    /// The module's score of `image` (`[1, 3, H, W]` float32 in [0, 1]) against `reference`
    /// (the same, for a full-reference metric), both moved to the metric's device.
    pub fn score_unit(&self, image: &Tensor, reference: Option<&Tensor>) -> Result<f64, QualityError> {
        let fail = |reason: String| QualityError::Scripted { metric: self.spec.name.clone(), reason };
        let _no_grad = tch::no_grad_guard();
        let mut inputs = vec![IValue::Tensor(image.to_device(self.device))];
        match (self.spec.reference, reference) {
            (Reference::None, _) => {}
            (Reference::Full, Some(r)) => inputs.push(IValue::Tensor(r.to_device(self.device))),
            (Reference::Full, None) => return Err(fail("needs the ground truth".into())),
        }
        let out = self.module.forward_is(&inputs).map_err(|e| fail(torch_message(&e)))?;
        let value = match out {
            IValue::Double(v) => v,
            IValue::Tensor(t) if t.numel() == 1 && t.is_floating_point() => {
                t.to_kind(Kind::Double).reshape([1]).f_double_value(&[0]).map_err(|e| fail(torch_message(&e)))?
            }
            IValue::Tensor(t) => {
                return Err(fail(format!(
                    "it returned a {:?} tensor of shape {:?}; expected a scalar (0-dim or 1 element, floating)",
                    t.kind(),
                    t.size()
                )))
            }
            other => return Err(fail(format!("it returned {}; expected a scalar tensor", ivalue_kind(&other)))),
        };
        if !value.is_finite() {
            return Err(fail(format!("it returned {value}; expected a finite number")));
        }
        Ok(value)
    }

    /// The call as the convention writes it.
    fn signature(&self) -> &'static str {
        match self.spec.reference {
            Reference::None => "forward(image) (reference = \"none\")",
            Reference::Full => "forward(image, reference) (reference = \"full\")",
        }
    }

    /// The file this metric was loaded from.
    pub fn path(&self) -> &Path {
        &self.spec.path
    }
}

/// What a module returned, for messages.
fn ivalue_kind(v: &IValue) -> &'static str {
    match v {
        IValue::Tuple(_) => "a tuple",
        IValue::GenericList(_) | IValue::TensorList(_) | IValue::DoubleList(_) | IValue::IntList(_) => "a list",
        IValue::GenericDict(_) => "a dict",
        IValue::None => "None",
        IValue::Int(_) => "an int",
        IValue::Bool(_) => "a bool",
        IValue::String(_) => "a string",
        _ => "a value that is not a tensor",
    }
}

/// An 8-bit image as the convention passes it: `[1, 3, H, W]` float32 x/255 (grey repeated).
fn unit_rgb(image: &Image8) -> Tensor {
    let (h, w, c) = (image.height as i64, image.width as i64, image.channels as i64);
    let x = Tensor::from_slice(&image.data).view([h, w, c]).permute([2, 0, 1]).to_kind(Kind::Float) / 255.0;
    x.expand([3, h, w], false).unsqueeze(0).contiguous()
}

impl QualityMeasure for ScriptedMetric {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn reference(&self) -> Reference {
        self.spec.reference
    }

    fn better(&self) -> Better {
        self.spec.better
    }

    fn convention(&self) -> String {
        let file = self.spec.path.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        format!(
            "TorchScript {file} (sha256 {}), {} on float32 [1, 3, H, W] RGB in [0, 1] (the 8-bit image / 255, grey repeated to 3 channels), no_grad, on the run's device",
            self.spec.sha256,
            self.signature()
        )
    }

    fn score(&self, image: &Image8, reference: Option<&Image8>) -> Result<f64, QualityError> {
        check_image("metric", image)?;
        if let Some(r) = reference {
            check_image("metric", r)?;
        }
        let reference = reference.map(unit_rgb);
        self.score_unit(&unit_rgb(image), reference.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_passed_as_rgb_in_the_unit_range_grey_repeated() {
        let grey = Image8 { height: 1, width: 2, channels: 1, data: vec![0, 255] };
        let x = unit_rgb(&grey);
        assert_eq!((x.size(), x.kind()), (vec![1, 3, 1, 2], Kind::Float));
        assert_eq!(Vec::<f32>::try_from(x.flatten(0, -1)).unwrap(), [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
        // HWC bytes to CHW planes
        let rgb = Image8 { height: 1, width: 2, channels: 3, data: vec![51, 102, 153, 0, 0, 255] };
        let x = unit_rgb(&rgb);
        let want = [51.0f32 / 255.0, 0.0, 102.0 / 255.0, 0.0, 153.0 / 255.0, 1.0];
        assert_eq!(Vec::<f32>::try_from(x.flatten(0, -1)).unwrap(), want);
    }
}
