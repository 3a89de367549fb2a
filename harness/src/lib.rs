/*!
upbench: measures how much generative restoration models hallucinate, against the proven
uncertainty–perception bound (Cohen et al., NeurIPS 2024; `docs/theory.md` of the project).

# Brief overview

The modules follow the data:

0. [`plan`]: a checked suite becomes cells (task × plugin configuration) with content ids.
1. [`plugin`]: load model plugins (native libraries built against `upbench-sdk`).
2. [`task`]: build exact benchmark tasks ([`task::ExactTask`]) with closed-form posteriors.
3. [`run`]: run a model on a task's measurements and time it.
4. [`estimate`]: uncertainty, perception and distortion per observation.
5. [`judge`]: aggregate with confidence intervals, compare with η(P; d)·N(X|Y) ([`judge::bound`]),
   decide the [`judge::Region`] and [`judge::Validity`].
6. [`report`]: the [`report::RunReport`] and what is made of it: tables (terminal, CSV,
   Markdown), plots (SVG and PNG), the self-contained HTML page, sample grids, and the
   comparison of two runs ([`report::compare`]).

[`pipeline::run_suite`] chains them for a [`suite::Suite`] (every cell through one code path,
[`pipeline::Workbench`]); [`worker`] runs cells in child processes so a crashing plugin costs
only its cell; [`journal`] is the run's durable log, from which reports are assembled and runs
resumed; [`cli`] is the command line.

# Example

The bound itself needs nothing but numbers:

```
use upbench::judge::bound::eta;
// Perfect perception costs twice the inherent uncertainty…
assert_eq!(eta(0.0, 64), 2.0);
// …and the price falls towards 1 as the perception index grows.
assert!((eta(2.0, 64) - 1.6050).abs() < 1e-4);
```
*/
#![warn(missing_docs)]

pub mod assemble;
pub mod check;
pub mod cli;
pub mod device;
pub mod draw;
pub mod engine;
pub mod estimate;
pub mod float;
pub mod journal;
pub mod judge;
pub mod npy;
pub mod pipeline;
pub mod plan;
pub mod plugin;
pub mod provenance;
pub mod raster;
pub mod record;
pub mod report;
pub mod run;
pub mod seed;
pub mod setup;
pub mod suite;
pub mod sync;
pub mod task;
pub mod worker;
