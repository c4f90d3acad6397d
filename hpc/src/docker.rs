//! What a tool's `DockerRequirement` asks for, and [`ContainerBackend`]: the
//! local backend's way of running such tools in a container (the same runtimes
//! and image cache as the HPC backend), so that a one-machine install runs
//! Docker-based CWL tools too.
//!
//! Inputs are bound read-only at their own paths (nothing is copied; paths in the
//! job, in `InitialWorkDirRequirement` entries and on the command line are those
//! of the host); the output folder is [`OUTDIR`] and the working directory, the
//! temporary folder [`TMPDIR`]. A requirement must run in its container; a hint
//! runs in it when the image is in the cache or can be pulled, else as a local
//! process, as without a runtime.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hysope_engine::cwl::{
    Backend, BoxFuture, ExecutionResult, LocalBackend, StagedFile, Staging, ToolContext,
    ToolInvocation, is_wasm_tool, values,
};
use hysope_engine::{Error, Result};
use serde_json::{Map, Value};

use crate::container::{Bind, ContainerRun, OUTDIR, Runtime, TMPDIR};
use crate::images::ImageCache;

/// The `PATH` a container gets when the tool sets none (Debian's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The image a tool names, and whether it is a requirement (not a hint).
/// `dockerFile`, `dockerLoad` and `dockerImport` are refused: images come from
/// the cache or a registry.
pub fn docker_image(tool: &ToolContext<'_>) -> Result<Option<(String, bool)>> {
    let (found, required) =
        match hysope_engine::cwl::tool::find_req(tool.requirements, "DockerRequirement") {
            Some(r) => (r, true),
            None => match hysope_engine::cwl::tool::find_req(tool.hints, "DockerRequirement") {
                Some(h) => (h, false),
                None => return Ok(None),
            },
        };
    for key in ["dockerFile", "dockerLoad", "dockerImport"] {
        if found.get(key).is_some() && found.get("dockerPull").is_none() {
            return Err(Error::Unsupported {
                location: format!("{}/DockerRequirement/{key}", tool.at),
                message: "images are taken from the image cache or pulled (dockerPull)".into(),
            });
        }
    }
    let image = found
        .get("dockerPull")
        .or_else(|| found.get("dockerImageId"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::cwl(
                format!("{}/DockerRequirement", tool.at),
                "dockerPull (or dockerImageId) must name the image",
            )
        })?;
    crate::images::cache_name(image)
        .map_err(|e| Error::cwl(format!("{}/DockerRequirement/dockerPull", tool.at), e))?;
    Ok(Some((image.to_string(), required)))
}

/// True when the tool asks for the network (`NetworkAccess: true`).
pub fn network(tool: &ToolContext<'_>) -> bool {
    tool.find("NetworkAccess")
        .and_then(|r| r.get("networkAccess"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Every file and folder of the inputs (with secondary files), bound read-only
/// at its own path.
pub fn input_binds(inputs: &mut Map<String, Value>) -> Result<Vec<StagedFile>> {
    let mut staged: Vec<StagedFile> = Vec::new();
    for value in inputs.values_mut() {
        collect(value, &mut staged)?;
    }
    staged.sort_by(|a, b| a.host.cmp(&b.host));
    staged.dedup_by(|a, b| a.host == b.host);
    // A folder bound covers what is below it.
    let mut kept: Vec<StagedFile> = Vec::new();
    for s in staged {
        if !kept.iter().any(|k| s.host.starts_with(&k.host)) {
            kept.push(s);
        }
    }
    Ok(kept)
}

fn collect(value: &mut Value, staged: &mut Vec<StagedFile>) -> Result<()> {
    values::for_each_file(value, &mut |map| {
        if let Some(host) = values::path_of(&Value::Object(map.clone()))
            && host.exists()
        {
            staged.push(StagedFile {
                guest: host.display().to_string(),
                host,
            });
        }
        if let Some(Value::Array(secondary)) = map.get_mut("secondaryFiles") {
            for s in secondary.iter_mut() {
                collect(s, staged)?;
            }
        }
        Ok(())
    })
}

/// How a staged container tool is run: its command line for `runtime`, from the
/// invocation's (the program the container runtime, the environment cleared).
pub fn container_command(
    runtime: Runtime,
    image: PathBuf,
    invocation: &ToolInvocation,
    tmpdir: &Path,
) -> Result<Vec<String>> {
    let mut env = invocation.env.clone();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    let run = ContainerRun {
        image,
        binds: invocation
            .staging
            .staged
            .iter()
            .map(|s| Bind {
                host: s.host.clone(),
                guest: PathBuf::from(&s.guest),
                writable: false,
            })
            .collect(),
        outdir: invocation.outdir.clone(),
        tmpdir: tmpdir.to_path_buf(),
        env,
        network: invocation.staging.network,
        argv: invocation.argv.clone(),
    };
    run.command(runtime)
        .map_err(|e| Error::cwl(format!("{}/DockerRequirement", invocation.at), e))
}

/// The host path of a path the tool sees: below [`OUTDIR`] it is in `outdir`.
pub fn host_path(guest: &Path, outdir: &Path) -> PathBuf {
    match guest.strip_prefix(OUTDIR) {
        Ok(rest) => outdir.join(rest),
        Err(_) => guest.to_path_buf(),
    }
}

/// Rewrites the paths of collected outputs that name [`OUTDIR`] to `outdir`.
pub fn unstage_outputs(outputs: &mut Value, outdir: &Path) {
    let _ = values::for_each_file(outputs, &mut |map| {
        for key in ["path", "location"] {
            if let Some(Value::String(text)) = map.get(key) {
                let (scheme, path) = match text.strip_prefix("file://") {
                    Some(p) => ("file://", p),
                    None => ("", text.as_str()),
                };
                if let Ok(rest) = Path::new(path).strip_prefix(OUTDIR) {
                    let host = outdir.join(rest);
                    map.insert(
                        key.into(),
                        Value::String(format!("{scheme}{}", host.display())),
                    );
                }
            }
        }
        Ok(())
    });
}

/// Runs `DockerRequirement` tools locally in a container.
pub struct ContainerBackend {
    images: Arc<ImageCache>,
    local: LocalBackend,
    strict: bool,
}

impl ContainerBackend {
    /// A backend running images of `images` with its runtime; the local process
    /// backend (with `limits`) runs the container runtime.
    pub fn new(images: Arc<ImageCache>, limits: hysope_engine::wasm::Limits) -> Self {
        Self {
            images,
            local: LocalBackend::new(limits),
            strict: false,
        }
    }

    /// A hint is a requirement: the tool runs in its container or not at all
    /// (a server's deployed tools, which must never run as host processes).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// True when the image of a hint is at hand (in the cache, or pullable).
    fn available(&self, image: &str) -> bool {
        self.images.can_pull() || matches!(self.images.find(image), Ok(Some(_)))
    }
}

impl Backend for ContainerBackend {
    fn name(&self) -> &'static str {
        "container"
    }

    fn accepts(&self, requirements: &[Value], hints: &[Value]) -> bool {
        if is_wasm_tool(requirements, hints) {
            return false;
        }
        let tool = ToolContext {
            process: &Value::Null,
            requirements,
            hints,
            at: "#",
        };
        match docker_image(&tool) {
            Ok(Some((_, true))) => true,
            Ok(Some((image, false))) => self.strict || self.available(&image),
            // A malformed requirement is the container backend's to report.
            Err(_) => true,
            Ok(None) => false,
        }
    }

    fn stage(
        &self,
        tool: &ToolContext<'_>,
        inputs: &mut Map<String, Value>,
        outdir: &Path,
    ) -> Result<Staging> {
        let (image, _) = docker_image(tool)?
            .ok_or_else(|| Error::cwl(tool.at, "the tool has no DockerRequirement"))?;
        let mut staging = self.local.stage(tool, inputs, outdir)?;
        staging.staged = input_binds(inputs)?;
        staging.image = Some(PathBuf::from(image));
        staging.network = network(tool);
        staging.outdir = OUTDIR.into();
        staging.tmpdir = TMPDIR.into();
        Ok(staging)
    }

    fn execute(&self, mut invocation: ToolInvocation) -> BoxFuture<'_, Result<ExecutionResult>> {
        Box::pin(async move {
            let name = invocation
                .staging
                .image
                .clone()
                .ok_or_else(|| Error::Setup("container invocation without an image".into()))?;
            let name = name.display().to_string();
            let image = self
                .images
                .resolve(&name)
                .await
                .map_err(|e| Error::cwl(format!("{}/DockerRequirement", invocation.at), e))?;
            let tmpdir = invocation
                .staging
                .stage_dir
                .clone()
                .ok_or_else(|| Error::Setup("container invocation without a tmpdir".into()))?;
            invocation.argv =
                container_command(self.images.runtime(), image, &invocation, &tmpdir)?;
            invocation.env = Vec::new();
            invocation.stdin = invocation
                .stdin
                .take()
                .map(|p| host_path(&p, &invocation.outdir));
            self.local.execute(invocation).await
        })
    }

    fn unstage(&self, outputs: &mut Value, outdir: &Path) {
        unstage_outputs(outputs, outdir);
    }
}
