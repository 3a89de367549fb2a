//! Real images: the benchmark sets, the standard degradations and the tasks built from them
//! (issue [3]).
//!
//! [`registry`] lists the sets (Set5, Set14, BSD100, Kodak24) with SHA-256 checksums and checks
//! a data directory; [`read_image`] decodes 8-bit PNGs with errors naming the file;
//! [`imresize_bicubic`] is MATLAB's antialiased bicubic resize, the degradation behind the ×4
//! super-resolution sets; [`degrade`] makes masks and noise; [`ImageTask`] holds a set degraded
//! for one `[[image_task]]`.

pub mod degrade;
mod fetch;
mod imresize;
mod inherent;
mod png;
pub mod registry;
mod task;

pub use fetch::{FetchError, FetchReport};
pub use imresize::{imresize_bicubic, Image8};
pub use inherent::{InherentEstimate, StationaryGaussianEstimate};
pub use png::{read_image, ImageError};
pub use registry::{data_dir, dataset, datasets, DataError, Dataset};
pub use task::{Colour, Degradation, ImageCase, ImageTask, ImageTaskConfig, InherentConfig, ScoredOn, DEAD_LEAVES};
