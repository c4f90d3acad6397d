//! The site's configuration of the HPC backend (`hpc.toml`), and of the container
//! runtime the local backend shares with it. Every field is optional: with none,
//! jobs go to the cluster's default partition, the work folder is chosen by the
//! caller (beside the output folder), and tools with a `DockerRequirement` run
//! without a container unless a runtime is named.
//!
//! ```toml
//! work_dir = "/scratch/hysope/work"      # on the disk the compute nodes share
//! partition = "swot"
//! account = "hydro"
//! qos = "normal"
//! extra = ["--constraint=cpu"]            # more #SBATCH lines, as written
//! max_array_size = 1000                   # elements per array (default: the cluster's MaxArraySize)
//! array_throttle = 100                    # elements running at once (%N)
//! batch_window_ms = 200                   # steps arriving within it share one array
//! poll_max_s = 30                         # the slowest squeue interval
//! lost_grace_s = 60                       # a job gone from squeue without its exit-code file is lost after it
//! max_workers = 64                        # workers of a pool at most (default: the cluster's cores)
//! worker_linger_s = 5                     # an idle worker waits this long for another step
//! hysope = "/opt/hysope/bin/hysope"      # the binary wasm steps run in the allocation
//!
//! [containers]
//! runtime = "apptainer"                   # apptainer | singularity | bwrap
//! image_cache = "/scratch/hysope/images"  # NAME.sif files or NAME/ root-filesystem folders
//! pull = ["apptainer", "pull", "{dest}", "docker://{image}"]  # how a missing image is fetched
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::container::Runtime;
use crate::script::Site;

/// `hpc.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HpcConfig {
    /// The shared work folder (step folders, job scripts, arrays).
    pub work_dir: Option<PathBuf>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--qos`.
    pub qos: Option<String>,
    /// More `#SBATCH` arguments, as written.
    pub extra: Vec<String>,
    /// Elements per array at most (below the cluster's `MaxArraySize`).
    pub max_array_size: Option<u32>,
    /// Elements of an array running at once (`--array=...%N`).
    pub array_throttle: Option<u32>,
    /// Steps submitted within this window of each other share an array (ms).
    pub batch_window_ms: Option<u64>,
    /// The slowest interval between two `squeue` calls (s); kept under a third of
    /// the cluster's `MinJobAge` whatever it says.
    pub poll_max_s: Option<u64>,
    /// A job that left squeue with no exit-code file is failed as lost after this (s).
    pub lost_grace_s: Option<u64>,
    /// Workers of a pool at most (default: the cluster's cores over the steps').
    pub max_workers: Option<u32>,
    /// How long an idle worker waits for another step before it ends (s, default 5).
    pub worker_linger_s: Option<u64>,
    /// The `hysope` binary wasm steps run inside the allocation (default: this one).
    pub hysope: Option<PathBuf>,
    /// The container runtime and its image cache.
    pub containers: ContainerConfig,
}

/// How `DockerRequirement` tools run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContainerConfig {
    /// `apptainer`, `singularity` or `bwrap`.
    pub runtime: Option<String>,
    /// The image cache folder.
    pub image_cache: Option<PathBuf>,
    /// The command that fetches a missing image into `{dest}` (a SIF file or a
    /// folder), `{image}` being the image's name. Default for Apptainer and
    /// Singularity: `RUNTIME pull {dest} docker://{image}`; none for bwrap.
    pub pull: Option<Vec<String>>,
}

impl ContainerConfig {
    /// The runtime named, if any.
    pub fn runtime(&self) -> Result<Option<Runtime>, String> {
        self.runtime.as_deref().map(Runtime::parse).transpose()
    }
}

impl HpcConfig {
    /// Reads `path`; unknown keys are refused with their name.
    pub fn load(path: &Path) -> Result<HpcConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        HpcConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the text of a configuration file.
    pub fn parse(text: &str) -> Result<HpcConfig, String> {
        let config: HpcConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.containers.runtime()?;
        if config.max_array_size == Some(0) || config.array_throttle == Some(0) {
            return Err("max_array_size and array_throttle must be at least 1".into());
        }
        Ok(config)
    }

    /// What every job script adds.
    pub fn site(&self) -> Site {
        Site {
            partition: self.partition.clone(),
            account: self.account.clone(),
            qos: self.qos.clone(),
            extra: self.extra.clone(),
        }
    }

    /// The batching window.
    pub fn batch_window(&self) -> Duration {
        Duration::from_millis(self.batch_window_ms.unwrap_or(200).min(10_000))
    }

    /// The lost-job grace period.
    pub fn lost_grace(&self) -> Duration {
        Duration::from_secs(self.lost_grace_s.unwrap_or(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses_and_unknown_keys_are_named() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let config = HpcConfig::parse(&example).unwrap();
        assert_eq!(config.partition.as_deref(), Some("swot"));
        assert_eq!(config.array_throttle, Some(100));
        assert_eq!(
            config.containers.runtime().unwrap(),
            Some(Runtime::Apptainer)
        );
        assert_eq!(config.containers.pull.as_ref().unwrap().len(), 4);
        let error = HpcConfig::parse("partiton = \"x\"").unwrap_err();
        assert!(error.contains("partiton"), "{error}");
        let error = HpcConfig::parse("[containers]\nruntime = \"docker\"").unwrap_err();
        assert!(error.contains("apptainer"), "{error}");
        assert!(HpcConfig::parse("max_array_size = 0").is_err());
        // The example the deployment folder ships.
        let shipped =
            HpcConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/hpc.toml"))
                .unwrap();
        assert_eq!(shipped.array_throttle, Some(200));
        assert_eq!(shipped.site().extra, vec!["--constraint=cpu".to_string()]);
    }
}
