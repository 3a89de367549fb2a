//! ST-LPIPS with AlexNet (Ghildyal and Liu 2022, "Shift-tolerant perceptual similarity
//! metric"; abhijay9/ShiftTolerant-LPIPS, PyPI `stlpips-pytorch` 0.0.2,
//! `LPIPS(net='alex', variant='shift_tolerant')`): a full-reference learned distance, lower is
//! closer, with the weights of `stlpips_alex.safetensors` (BSD-2-Clause).
//!
//! Input scaling: 8-bit RGB → x/255 in [0, 1] → 2x − 1 in [−1, 1] (the package's
//! `normalize=True`) → (x − shift)/scale. A grey image is replicated to three channels. The
//! network is AlexNet's first five convolutions with "BlurPool" anti-aliasing (reflect-pad 2 px,
//! depthwise [1,2,1]ᵀ[1,2,1]/16, stride 2), re-implemented here from its description (the
//! original BlurPool code is CC BY-NC-SA); per layer the channel-normalised features' squared
//! difference is weighted by a 1×1 convolution and averaged over the image, and the five are
//! summed. Computed in float32 on the device of the input tensors.

use std::path::{Path, PathBuf};

use tch::{nn, Device, Kind, Tensor};

use super::{check_image, read_safetensors, take_tensor, Better, Image8, QualityError, QualityMeasure, Reference};

const METRIC: &str = "stlpips-alex";

/// The five AlexNet convolutions: (name in the file, input channels, output channels, kernel,
/// padding).
const CONVS: [(&str, i64, i64, i64, i64); 5] = [
    ("net.slice1.0", 3, 64, 11, 2),
    ("net.slice2.5", 64, 192, 5, 2),
    ("net.slice3.9", 192, 384, 3, 1),
    ("net.slice4.11", 384, 256, 3, 1),
    ("net.slice5.13", 256, 256, 3, 1),
];
/// The three blur filters: (name in the file, channels).
const BLURS: [(&str, i64); 3] = [("net.slice1.1", 64), ("net.slice2.4", 64), ("net.slice3.8", 192)];
/// The channels of the five compared feature maps (the linear heads' inputs).
const CHANNELS: [i64; 5] = [64, 192, 384, 256, 256];

/// ST-LPIPS (AlexNet) with its weights.
pub struct StLpips {
    file: PathBuf,
    vs: nn::VarStore,
}

impl StLpips {
    /// The parameter file's name in the models directory.
    pub const FILE: &'static str = "stlpips_alex.safetensors";

    /// Reads and checks `stlpips_alex.safetensors` in `models_dir` and places the weights on
    /// `device`. The blur filters in the file must equal the [1,2,1]ᵀ[1,2,1]/16 kernel built
    /// here.
    pub fn load(models_dir: &Path, device: Device) -> Result<StLpips, QualityError> {
        let file = models_dir.join(Self::FILE);
        let tensors = read_safetensors(&file)?;
        let vs = nn::VarStore::new(device);
        let mut wanted: Vec<(String, Vec<i64>, Tensor)> = Vec::new();
        {
            let root = vs.root();
            let mut var = |name: String, shape: &[i64]| {
                let mut parts: Vec<&str> = name.split('.').collect();
                let last = parts.pop().unwrap_or_default();
                let p = parts.iter().fold(root.clone(), |p, c| p.sub(*c));
                let v = p.zeros_no_train(last, shape);
                wanted.push((name.clone(), shape.to_vec(), v));
            };
            var("scaling_layer.shift".into(), &[1, 3, 1, 1]);
            var("scaling_layer.scale".into(), &[1, 3, 1, 1]);
            for (name, cin, cout, k, _) in CONVS {
                var(format!("{name}.weight"), &[cout, cin, k, k]);
                var(format!("{name}.bias"), &[cout]);
            }
            for (k, c) in CHANNELS.iter().enumerate() {
                var(format!("lin{k}.model.1.weight"), &[1, *c, 1, 1]);
            }
        }
        let _no_grad = tch::no_grad_guard();
        for (name, shape, mut v) in wanted {
            let t = take_tensor(&file, &tensors, &name, Kind::Float, &shape)?;
            v.f_copy_(&t).map_err(|e| QualityError::Parameter {
                path: file.clone(),
                name: name.clone(),
                reason: e.to_string(),
            })?;
        }
        let blur = blur_kernel(Device::Cpu);
        for (name, c) in BLURS {
            let t = take_tensor(&file, &tensors, &format!("{name}.filt"), Kind::Float, &[c, 1, 3, 3])?;
            if t.not_equal_tensor(&blur.expand([c, 1, 3, 3], false)).any().int64_value(&[]) != 0 {
                return Err(QualityError::Parameter {
                    path: file,
                    name: format!("{name}.filt"),
                    reason: "not the [1,2,1]ᵀ[1,2,1]/16 blur".into(),
                });
            }
        }
        Ok(StLpips { file, vs })
    }

    fn weight(&self, name: &str, device: Device) -> Tensor {
        // every name was created in `load`
        self.vs
            .variables()
            .get(name)
            .map(|t| t.to_device(device))
            .unwrap_or_else(|| Tensor::zeros([1], (Kind::Float, device)))
    }

    /// ST-LPIPS between images `a` and `b`, `[N, 3, H, W]` (or `[3, H, W]`) floats in [0, 1],
    /// computed on their device in float32: one distance per pair, `[N]`.
    pub fn distance(&self, a: &Tensor, b: &Tensor) -> Result<Tensor, QualityError> {
        let bad = |reason: String| QualityError::Image { metric: METRIC, reason };
        let (a, b) = match (a.dim(), b.dim()) {
            (3, 3) => (a.unsqueeze(0), b.unsqueeze(0)),
            (4, 4) => (a.shallow_clone(), b.shallow_clone()),
            _ => return Err(bad(format!("inputs {:?} and {:?}; expected [N, 3, H, W]", a.size(), b.size()))),
        };
        if a.size() != b.size() || a.device() != b.device() {
            return Err(bad(format!(
                "inputs {:?} and {:?} on {:?} and {:?}",
                a.size(),
                b.size(),
                a.device(),
                b.device()
            )));
        }
        let n = a.size()[0];
        let both = self.unit_features(&Tensor::cat(&[a.to_kind(Kind::Float), b.to_kind(Kind::Float)], 0))?;
        let a: Vec<Tensor> = both.iter().map(|f| f.narrow(0, 0, n)).collect();
        let b: Vec<Tensor> = both.iter().map(|f| f.narrow(0, n, n)).collect();
        self.distance_between(&a, &b)
    }

    /// The channel-normalised feature maps of images `x`, `[N, 3, H, W]` floats in [0, 1] on
    /// their device: what [`StLpips::distance_between`] compares. A ground truth's can be kept
    /// and compared with many outputs, which halves the cost of scoring each.
    pub fn unit_features(&self, x: &Tensor) -> Result<Vec<Tensor>, QualityError> {
        let bad = |reason: String| QualityError::Image { metric: METRIC, reason };
        if x.dim() != 4 || x.size()[1] != 3 {
            return Err(bad(format!("input {:?}; expected [N, 3, H, W]", x.size())));
        }
        let (h, w) = (x.size()[2], x.size()[3]);
        if h < 32 || w < 32 {
            return Err(bad(format!("{h}×{w} px; ST-LPIPS (alex) needs at least 32×32")));
        }
        let _no_grad = tch::no_grad_guard();
        let device = x.device();
        let x = x.to_kind(Kind::Float);
        let x =
            (x * 2.0 - 1.0 - self.weight("scaling_layer.shift", device)) / self.weight("scaling_layer.scale", device);
        let feats =
            self.features(&x, device).map_err(|e| QualityError::Numeric { metric: METRIC, reason: e.to_string() })?;
        Ok(feats.iter().map(|f| f / (f.square().sum_dim_intlist(1, true, Kind::Float).sqrt() + 1e-10)).collect())
    }

    /// ST-LPIPS between two sets of [`StLpips::unit_features`] of equal shapes, `[N]`.
    pub fn distance_between(&self, a: &[Tensor], b: &[Tensor]) -> Result<Tensor, QualityError> {
        let shapes = |f: &[Tensor]| f.iter().map(Tensor::size).collect::<Vec<_>>();
        if a.len() != CHANNELS.len() || shapes(a) != shapes(b) {
            let reason = format!("feature maps {:?} and {:?} differ", shapes(a), shapes(b));
            return Err(QualityError::Image { metric: METRIC, reason });
        }
        let _no_grad = tch::no_grad_guard();
        let device = a[0].device();
        let n = a[0].size()[0];
        let mut total = Tensor::zeros([n], (Kind::Float, device));
        for (k, (fa, fb)) in a.iter().zip(b).enumerate() {
            let d = (fa - fb.to_device(device)).square();
            let lin = self.weight(&format!("lin{k}.model.1.weight"), device);
            let s = d.conv2d(&lin, None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1).mean_dim(
                [1, 2, 3].as_slice(),
                false,
                Kind::Float,
            );
            total += s;
        }
        Ok(total)
    }

    /// The five ReLU feature maps of the shift-tolerant AlexNet.
    fn features(&self, x: &Tensor, device: Device) -> Result<Vec<Tensor>, tch::TchError> {
        let conv = |x: &Tensor, i: usize| -> Result<Tensor, tch::TchError> {
            let (name, _, _, _, pad) = CONVS[i];
            x.f_conv2d(
                &self.weight(&format!("{name}.weight"), device),
                Some(&self.weight(&format!("{name}.bias"), device)),
                [1, 1],
                [pad, pad],
                [1, 1],
                1,
            )
        };
        let blur_pool = |x: &Tensor| -> Result<Tensor, tch::TchError> {
            let c = x.size()[1];
            let filt = blur_kernel(device).expand([c, 1, 3, 3], false).contiguous();
            x.f_reflection_pad2d([2, 2, 2, 2])?.f_conv2d(&filt, None::<&Tensor>, [2, 2], [0, 0], [1, 1], c)
        };
        let f1 = blur_pool(&conv(x, 0)?)?.relu();
        let f2 = conv(&blur_pool(&max_pool_3x3(&f1)?)?, 1)?.relu();
        let f3 = conv(&blur_pool(&max_pool_3x3(&f2)?)?, 2)?.relu();
        let f4 = conv(&f3, 3)?.relu();
        let f5 = conv(&f4, 4)?.relu();
        Ok(vec![f1, f2, f3, f4, f5])
    }

    /// The device the weights were placed on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }
}

/// AlexNet's 3×3 max pooling at stride 1 without padding (`[N, C, H, W]` → `[N, C, H−2, W−2]`),
/// as two separable passes of elementwise maxima over shifted views: the same values as
/// `max_pool2d` (a maximum is exact), about ten times faster than libtorch's CPU kernel for
/// stride 1, which was a quarter of the metric's time.
fn max_pool_3x3(x: &Tensor) -> Result<Tensor, tch::TchError> {
    let max3 = |x: &Tensor, dim: i64| -> Result<Tensor, tch::TchError> {
        let n = x.size()[dim as usize] - 2;
        x.f_narrow(dim, 0, n)?.f_maximum(&x.f_narrow(dim, 1, n)?)?.f_maximum(&x.f_narrow(dim, 2, n)?)
    };
    max3(&max3(x, 2)?, 3)
}

/// [1,2,1]ᵀ[1,2,1]/16 as a `[1, 1, 3, 3]` float32 tensor.
fn blur_kernel(device: Device) -> Tensor {
    let a = Tensor::from_slice(&[1.0f32, 2.0, 1.0]);
    (a.view([3, 1]) * a.view([1, 3]) / 16.0).view([1, 1, 3, 3]).to_device(device)
}

/// An 8-bit image as `[1, 3, H, W]` float32 in [0, 1] (grey replicated).
fn to_tensor(image: &Image8, device: Device) -> Tensor {
    let (h, w, c) = (image.height as i64, image.width as i64, image.channels as i64);
    let t = Tensor::from_slice(&image.data).view([h, w, c]).permute([2, 0, 1]).to_kind(Kind::Float) / 255.0;
    t.expand([3, h, w], false).unsqueeze(0).to_device(device)
}

impl QualityMeasure for StLpips {
    fn name(&self) -> &'static str {
        METRIC
    }

    fn reference(&self) -> Reference {
        Reference::Full
    }

    fn better(&self) -> Better {
        Better::Lower
    }

    fn convention(&self) -> String {
        format!(
            "ST-LPIPS alex (stlpips-pytorch 0.0.2, variant shift_tolerant): RGB x/255 -> 2x-1 (normalize=True), \
             grey replicated, float32, weights {}",
            self.file.display()
        )
    }

    fn score(&self, image: &Image8, reference: Option<&Image8>) -> Result<f64, QualityError> {
        let reference = reference.ok_or_else(|| QualityError::Image {
            metric: METRIC,
            reason: "full-reference: the ground truth is missing".into(),
        })?;
        check_image(METRIC, image)?;
        check_image(METRIC, reference)?;
        if (image.height, image.width) != (reference.height, reference.width) {
            return Err(QualityError::Image {
                metric: METRIC,
                reason: format!(
                    "image {}×{} and ground truth {}×{} differ in size",
                    image.height, image.width, reference.height, reference.width
                ),
            });
        }
        let device = self.device();
        let d = self.distance(&to_tensor(image, device), &to_tensor(reference, device))?;
        Ok(d.double_value(&[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_separable_max_pool_equals_libtorchs() {
        tch::manual_seed(7);
        let x = Tensor::randn([2, 5, 17, 23], (Kind::Float, Device::Cpu));
        let ours = max_pool_3x3(&x).unwrap();
        let theirs = x.max_pool2d([3, 3], [1, 1], [0, 0], [1, 1], false);
        assert_eq!(ours.size(), vec![2, 5, 15, 21]);
        assert!(ours.equal(&theirs));
    }
}
