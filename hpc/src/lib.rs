//! The HPC backend: CWL steps become Slurm jobs on a shared disk, concurrent
//! steps become job arrays, container steps run under Apptainer, Singularity or
//! bubblewrap from a site image cache, wasm plugin steps run `hysope` inside the
//! allocation with the portal's sandbox and limits.
//!
//! - [`backend`]: [`Hpc`] (one Slurm client, batcher and poller per site) and
//!   [`HpcRun`], the engine's `Backend` for one run;
//! - [`docker`]: what a `DockerRequirement` asks for, and [`ContainerBackend`],
//!   the same containers for local runs;
//! - [`images`]: the image cache, one pull per image;
//! - [`pool`]: pools of workers (Slurm array tasks that claim queued steps), and
//!   what the poller makes of exit-code files and `squeue`;
//! - [`script`]: the batch script of a step or of an array of steps;
//! - [`container`]: the container runtimes' command lines;
//! - [`slurm`]: what Slurm 22.05 says about jobs, parsed;
//! - [`cluster`]: the Slurm commands, counted;
//! - [`config`]: the site's `hpc.toml`.

pub mod backend;
pub mod cluster;
pub mod config;
pub mod container;
pub mod docker;
pub mod images;
pub mod pool;
pub mod script;
pub mod slurm;

pub use backend::{Hpc, HpcRun, HpcSettings, StepError, WasmStep};
pub use config::{ContainerConfig, HpcConfig};
pub use docker::ContainerBackend;
pub use images::ImageCache;
