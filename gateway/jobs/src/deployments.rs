//! The [`Deployments`] trait: where deployed processes are kept (OGC API -
//! Processes - Part 2), and the components they pin. The embedded default,
//! [`FileDeployments`], keeps them in the data folder's `processes/`; on a shared
//! job store they are kept beside the jobs (`hysope-postgres`), so that every
//! gateway and worker runs what any gateway deployed.
//!
//! What a server holds in memory (its [`Registry`](crate::processes::Registry))
//! follows the store: at start, after its own deploys, on a miss (a job or a
//! request naming a process it does not know), and every
//! [`SYNC_INTERVAL`] from the store's [`changes`](Deployments::changes).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::processes::{Process, registry_pins};
use crate::{Error, Result};

/// How often a server on a shared store looks for processes deployed, replaced
/// or undeployed elsewhere.
pub const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// The folder of a data folder where deployed documents and their components
/// (`HEX.wasm`, where the sandbox finds them) are kept.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("processes")
}

/// A deployed process as kept: the document the deploy made, the request it came
/// from, and the components it pins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Process id.
    pub id: String,
    /// Media type of the deploy request.
    pub content_type: String,
    /// The `$graph` entry deployed, if the document has several.
    pub fragment: Option<String>,
    /// Who deployed it (none for processes deployed before identities existed).
    #[serde(default)]
    pub owner: Option<String>,
    /// The CWL document, its registry references pinned.
    #[serde(skip)]
    pub document: String,
    /// The deploy request's body.
    #[serde(skip)]
    pub body: Vec<u8>,
}

impl Deployment {
    /// The process it is, its document read as if it were at `path`.
    pub fn process(&self, path: PathBuf) -> anyhow::Result<Process> {
        let loaded =
            hysope_engine::cwl::load::load_text(&path, &self.document, self.fragment.as_deref())?;
        Ok(Process {
            id: self.id.clone(),
            version: version_of(&loaded.process),
            pins: registry_pins(&loaded.process),
            cwl: loaded.process,
            source: self.document.clone(),
            path,
            builtin: false,
            owner: self.owner.clone(),
        })
    }
}

/// A process's `s:softwareVersion`, `1.0.0` when it gives none.
pub fn version_of(process: &Value) -> String {
    process
        .get("s:softwareVersion")
        .or_else(|| process.get("https://schema.org/softwareVersion"))
        .and_then(Value::as_str)
        .unwrap_or("1.0.0")
        .to_string()
}

/// Where deployed processes are kept. Every write is durable when it returns.
pub trait Deployments: Send + Sync {
    /// Keeps `deployment`, with the components it pins (`sha256` hex digests),
    /// read from `components` (`HEX.wasm`) unless the store has them already.
    /// With `replace: false` an existing deployment of that id is left alone
    /// and false returned (two gateways deploying one id: one wins).
    fn put(
        &self,
        deployment: &Deployment,
        pins: &[String],
        components: &Path,
        replace: bool,
    ) -> Result<bool>;
    /// Removes the deployment `id`; false when there was none.
    fn remove(&self, id: &str) -> Result<bool>;
    /// The deployment `id`.
    fn get(&self, id: &str) -> Result<Option<Deployment>>;
    /// Every deployment.
    fn all(&self) -> Result<Vec<Deployment>>;
    /// The bytes of the component whose sha256 is `hex`, if the store has them.
    fn component(&self, hex: &str) -> Result<Option<Vec<u8>>>;
    /// The ids deployed, replaced or removed after `mark` (0: from the start),
    /// and the mark to ask from next time. A store only one server uses has
    /// none to report.
    fn changes(&self, mark: u64) -> Result<(u64, Vec<String>)> {
        Ok((mark, Vec::new()))
    }
    /// True when several servers share the store.
    fn shared(&self) -> bool {
        false
    }
}

/// Deployed processes in a folder (the data folder's `processes/`): per process
/// `ID.cwl` (the document), `ID.body` (the request) and `ID.package.json` (the
/// rest of [`Deployment`]), each written through a temporary file and a rename;
/// the components beside them as `HEX.wasm`, where the sandbox finds them.
pub struct FileDeployments {
    dir: PathBuf,
}

impl FileDeployments {
    /// The deployments in `dir` (made when missing).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn file(&self, id: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{id}.{ext}"))
    }

    fn load(&self, record: &Path) -> anyhow::Result<Deployment> {
        let mut deployment: Deployment = serde_json::from_slice(&std::fs::read(record)?)?;
        deployment.document = std::fs::read_to_string(self.file(&deployment.id, "cwl"))?;
        deployment.body = std::fs::read(self.file(&deployment.id, "body")).unwrap_or_default();
        Ok(deployment)
    }
}

fn io(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Database(format!("deployed processes: {what}: {e:#}"))
}

impl Deployments for FileDeployments {
    fn put(
        &self,
        deployment: &Deployment,
        pins: &[String],
        components: &Path,
        replace: bool,
    ) -> Result<bool> {
        let record = self.file(&deployment.id, "package.json");
        if !replace && record.exists() {
            return Ok(false);
        }
        (|| -> anyhow::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            // The components beside the documents (where the server put them
            // already, unless it read them from elsewhere).
            for hex in pins {
                anyhow::ensure!(is_hex_digest(hex), "{hex:?} is not a sha256 digest");
                let kept = self.dir.join(format!("{hex}.wasm"));
                if !kept.is_file() {
                    write_durably(
                        &kept,
                        &std::fs::read(components.join(format!("{hex}.wasm")))?,
                    )?;
                }
            }
            write_durably(
                &self.file(&deployment.id, "cwl"),
                deployment.document.as_bytes(),
            )?;
            write_durably(&self.file(&deployment.id, "body"), &deployment.body)?;
            // The record last: a process is there once it is.
            write_durably(&record, &serde_json::to_vec_pretty(deployment)?)?;
            std::fs::File::open(&self.dir)?.sync_all()?;
            Ok(())
        })()
        .map_err(|e| io(&format!("cannot keep {}", deployment.id), e))?;
        Ok(true)
    }

    fn remove(&self, id: &str) -> Result<bool> {
        let existed = self.file(id, "package.json").exists();
        (|| -> anyhow::Result<()> {
            for ext in ["package.json", "cwl", "body"] {
                let path = self.file(id, ext);
                if path.exists() {
                    std::fs::remove_file(&path)?;
                }
            }
            if self.dir.exists() {
                std::fs::File::open(&self.dir)?.sync_all()?;
            }
            Ok(())
        })()
        .map_err(|e| io(&format!("cannot remove {id}"), e))?;
        Ok(existed)
    }

    fn get(&self, id: &str) -> Result<Option<Deployment>> {
        let record = self.file(id, "package.json");
        if !record.exists() {
            return Ok(None);
        }
        self.load(&record)
            .map(Some)
            .map_err(|e| io(&format!("cannot read {id}"), e))
    }

    fn all(&self) -> Result<Vec<Deployment>> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(out);
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".package.json") {
                continue;
            }
            // One unreadable deployment does not hide the others.
            match self.load(&path) {
                Ok(d) => out.push(d),
                Err(e) => {
                    tracing::error!(file = %path.display(), error = format!("{e:#}"), "deployed process not loaded")
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    fn component(&self, hex: &str) -> Result<Option<Vec<u8>>> {
        if !is_hex_digest(hex) {
            return Ok(None);
        }
        match std::fs::read(self.dir.join(format!("{hex}.wasm"))) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&format!("component {hex}"), e)),
        }
    }
}

/// True for 64 lowercase hex digits (a sha256 digest, as components are named).
pub fn is_hex_digest(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Writes `bytes` to `path` through a temporary file and a rename, synced.
pub fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(written?)
}

/// Puts the component `hex` of `deployments` at `dir/HEX.wasm` unless it is
/// there, checked against its digest: a server runs what another deployed.
pub fn materialise(deployments: &dyn Deployments, hex: &str, dir: &Path) -> anyhow::Result<()> {
    use sha2::Digest;
    let path = dir.join(format!("{hex}.wasm"));
    if path.is_file() {
        return Ok(());
    }
    let bytes = deployments
        .component(hex)?
        .ok_or_else(|| anyhow::anyhow!("component sha256:{hex} is not in the store"))?;
    let got = hex::encode(sha2::Sha256::digest(&bytes));
    anyhow::ensure!(
        got == hex,
        "component sha256:{hex} read from the store has digest sha256:{got}"
    );
    std::fs::create_dir_all(dir)?;
    write_durably(&path, &bytes)
}
