//! Where CWL tools run, chosen on the command line of `hysope run`,
//! `hysope cwl-runner` and `hysope serve`: `--backend local|hpc`, `--hpc-config
//! FILE`, `--container-runtime apptainer|singularity|bwrap`, `--image-cache DIR`
//! (the flags override the configuration file's `[containers]`).
//!
//! `local`: wasm plugins in the sandbox, `DockerRequirement` tools in a container
//! when a runtime is named (else as processes), other tools as processes.
//! `hpc`: every step a Slurm job (see `hysope_hpc`); the work folder is the
//! configuration's `work_dir`, else `hysope-hpc-work` beside the output folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use hysope_engine::cwl::Backend;
use hysope_engine::wasm::Limits;
use hysope_hpc::{ContainerBackend, Hpc, HpcConfig, HpcSettings, ImageCache};

/// The backend flags.
#[derive(Args, Debug, Clone, Default)]
pub struct BackendArgs {
    /// Where tools run: `local` (this machine) or `hpc` (Slurm jobs).
    #[arg(long, default_value = "local", value_parser = ["local", "hpc"])]
    pub backend: String,
    /// The HPC site's configuration (partition, account, work folder, arrays,
    /// containers); see deploy/hpc.toml.
    #[arg(long, value_name = "FILE")]
    pub hpc_config: Option<PathBuf>,
    /// Runs DockerRequirement tools in containers: apptainer, singularity or bwrap.
    #[arg(long, value_name = "RUNTIME")]
    pub container_runtime: Option<String>,
    /// The container images: NAME.sif files or NAME/ root-filesystem folders
    /// (`debian:bookworm` is `debian_bookworm`).
    #[arg(long, value_name = "DIR")]
    pub image_cache: Option<PathBuf>,
}

/// The backends a runner is given before the engine's own, and what they share.
pub struct Backends {
    /// The HPC backend of the site, if `--backend hpc`.
    pub hpc: Option<Hpc>,
    /// The local container backend, if a runtime is named and not `--backend hpc`.
    pub containers: Option<Arc<ContainerBackend>>,
    /// The image cache.
    pub images: Option<Arc<ImageCache>>,
}

impl BackendArgs {
    /// The configuration file's content, with the flags over it.
    pub fn config(&self) -> anyhow::Result<HpcConfig> {
        let mut config = match &self.hpc_config {
            Some(path) => HpcConfig::load(path).map_err(|e| anyhow!(e))?,
            None => HpcConfig::default(),
        };
        if let Some(runtime) = &self.container_runtime {
            hysope_hpc::container::Runtime::parse(runtime).map_err(|e| anyhow!(e))?;
            config.containers.runtime = Some(runtime.clone());
        }
        if let Some(dir) = &self.image_cache {
            config.containers.image_cache = Some(dir.clone());
        }
        if self.hpc_config.is_some() && self.backend != "hpc" && config.work_dir.is_some() {
            tracing::info!("--hpc-config without --backend hpc: only its [containers] are used");
        }
        Ok(config)
    }

    /// Opens the backends; `beside` is the folder the HPC work folder goes beside
    /// when the configuration names none.
    pub async fn open(
        &self,
        limits: &Limits,
        plugin_path: &[PathBuf],
        beside: &Path,
        strict: bool,
    ) -> anyhow::Result<Backends> {
        let config = self.config()?;
        let images = match config.containers.runtime().map_err(|e| anyhow!(e))? {
            Some(runtime) => {
                let Some(dir) = config.containers.image_cache.clone() else {
                    bail!(
                        "--container-runtime needs --image-cache DIR (or image_cache in the configuration)"
                    );
                };
                Some(Arc::new(ImageCache::new(
                    dir,
                    runtime,
                    config.containers.pull.clone(),
                )))
            }
            None => None,
        };
        if self.backend != "hpc" {
            return Ok(Backends {
                hpc: None,
                containers: images
                    .clone()
                    .map(|i| Arc::new(ContainerBackend::new(i, limits.clone()).strict(strict))),
                images,
            });
        }
        let work_dir = config
            .work_dir
            .clone()
            .unwrap_or_else(|| beside.join("hysope-hpc-work"));
        let hpc = Hpc::open_with_images(
            HpcSettings {
                config,
                work_dir,
                limits: limits.clone(),
                plugin_path: plugin_path.to_vec(),
                strict_containers: strict,
            },
            images.clone(),
        )
        .await
        .map_err(|e| anyhow!(e))
        .context("--backend hpc")?;
        Ok(Backends {
            hpc: Some(hpc),
            containers: None,
            images,
        })
    }
}

impl Backends {
    /// The backends of one run named `run`, and the runner's scratch folder (on
    /// the shared disk for the HPC backend).
    pub fn for_run(
        &self,
        run: &str,
        default_scratch: PathBuf,
    ) -> anyhow::Result<(Vec<Arc<dyn Backend>>, PathBuf)> {
        if let Some(hpc) = &self.hpc {
            let run = hpc.for_run(run).map_err(|e| anyhow!(e))?;
            let scratch = run.dir().join("scratch");
            std::fs::create_dir_all(&scratch)?;
            return Ok((vec![Arc::new(run)], scratch));
        }
        let mut backends: Vec<Arc<dyn Backend>> = Vec::new();
        if let Some(c) = &self.containers {
            backends.push(c.clone());
        }
        Ok((backends, default_scratch))
    }
}

/// A name for a command-line run: unique on this machine.
pub fn run_name() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("run-{t}-{}", std::process::id())
}

impl hysope_jobs::RunBackends for Backends {
    fn for_job(
        &self,
        id: &str,
        log: hysope_engine::cwl::ComponentLog,
        events: tokio::sync::mpsc::UnboundedSender<hysope_engine::wasm::RunEvent>,
    ) -> Result<hysope_jobs::JobBackends, String> {
        if let Some(hpc) = &self.hpc {
            let run = hpc.for_run(id)?.with_log(log).with_events(events);
            let scratch = run.dir().join("scratch");
            return Ok(hysope_jobs::JobBackends {
                backends: vec![Arc::new(run)],
                scratch: Some(scratch),
            });
        }
        let mut backends: Vec<Arc<dyn Backend>> = Vec::new();
        if let Some(c) = &self.containers {
            backends.push(c.clone());
        }
        Ok(hysope_jobs::JobBackends {
            backends,
            scratch: None,
        })
    }

    fn finished(&self, id: &str) {
        if let Some(hpc) = &self.hpc
            && let Ok(run) = hpc.for_run(id)
        {
            let _ = std::fs::remove_dir_all(run.dir());
        }
    }

    fn check_image(&self, image: &str) -> Result<(), String> {
        let Some(images) = &self.images else {
            return Err(format!(
                "image {image}: this server runs no container (start it with --container-runtime and --image-cache)"
            ));
        };
        match images.find(image)? {
            Some(_) => Ok(()),
            None if images.can_pull() => Ok(()),
            None => Err(format!(
                "image {image} is not in the image cache {} and this server pulls no image",
                images.dir().display()
            )),
        }
    }
}

/// A command-line run's folder (its local scratch, or its folder on the HPC
/// backend's shared disk), removed when the run is over (a command-line run is
/// not re-attached), and the Slurm calls it made.
pub struct RunDir {
    pub dir: PathBuf,
    pub hpc: Option<Hpc>,
}

impl RunDir {
    /// Says on stderr how many Slurm calls the run made (`--backend hpc`).
    pub fn report(&self) {
        if let Some(hpc) = &self.hpc {
            let c = hpc.calls();
            eprintln!(
                "hysope: Slurm calls: sbatch {}, squeue {}, scancel {}, scontrol {}, sinfo {}",
                c.sbatch, c.squeue, c.scancel, c.scontrol, c.sinfo
            );
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
