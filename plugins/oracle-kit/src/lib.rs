/*!
Building blocks for the reference ("oracle") plugins on exact Gaussian tasks.

Each oracle plugin is its own crate, written against `upbench-sdk` as a third party would; this
library holds what they share (the tensor bridge is [`upbench_tch`]'s):

- [`ExactPosterior`]: the closed-form posterior of Y = A·X + σ·W under the task's Gaussian or
  Gaussian-mixture prior, computed on the task's device in float64, with its mean and exact
  sampler.

It is a plain library, not a plugin, and never talks to the harness.
*/
#![warn(missing_docs)]

mod posterior;

pub use posterior::ExactPosterior;
