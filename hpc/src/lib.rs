//! The HPC backend (issue 20), first part: [`slurm`], what Slurm 22.05 says about
//! jobs (`squeue --json`, `scontrol show job -o`), parsed and tested on outputs
//! recorded on a real one-node cluster; [`script`], the batch script of a step or
//! of an array of steps; [`container`], the Apptainer/Singularity and bubblewrap
//! command lines of a `DockerRequirement`. The submission, the poller and the
//! `Backend` come next.

pub mod container;
pub mod script;
pub mod slurm;
