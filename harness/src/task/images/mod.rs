//! Real images: the benchmark sets, the standard degradations and the tasks built from them
//! (issue [3]).
//!
//! [`registry`] lists the sets (Set5, Set14, BSD100, Kodak24) with SHA-256 checksums and checks
//! a data directory; [`read_image`] decodes 8-bit PNGs with errors naming the file;
//! [`imresize_bicubic`] is MATLAB's antialiased bicubic resize, the degradation behind the ×4
//! super-resolution sets; [`LrSource`] says whether an SR task reads the sets' stored LR files or
//! degrades its own; [`degrade`] makes masks and noise; [`ImageTask`] holds a set degraded
//! for one `[[image_task]]`.

pub mod degrade;
mod fetch;
mod inherent;
pub mod registry;
mod stored_lr;
mod task;

pub use crate::estimate::fidelity::{Evaluation, ScoredOn};
pub use crate::raster::{imresize_bicubic, read_image, Image8, ImageError};
pub use fetch::{FetchError, FetchReport};
pub use inherent::{InherentEstimate, StationaryGaussianEstimate};
pub use registry::{data_dir, dataset, datasets, DataError, Dataset};
pub use stored_lr::LrSource;
pub use task::{Colour, Degradation, ImageCase, ImageTask, ImageTaskConfig, InherentConfig, DEAD_LEAVES};
