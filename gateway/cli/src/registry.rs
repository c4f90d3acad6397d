//! The registry's client side: `hysope plugin publish` (sign with `ssh-keygen -Y
//! sign`, push the component and its CWL descriptor over the OCI distribution
//! API), `hysope plugin keys` (the caller's signing keys) and `hysope registry`
//! (the review queue and review actions, for operators).
//!
//! The server and the caller: `--server URL --token TOKEN` (or `HYSOPE_SERVER`,
//! `HYSOPE_TOKEN`), or `--data-dir DIR` for the server holding that folder, as
//! its local operator.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use hysope_registry::Digest;
use serde_json::{Value, json};

use super::fail;

/// Which server, as whom.
#[derive(Args, Clone)]
pub struct RemoteArgs {
    /// The Hysope server (`https://hysope.example.org`).
    #[arg(long, env = "HYSOPE_SERVER")]
    server: Option<String>,
    /// A personal access token (`hysope_pat_...`).
    #[arg(long, env = "HYSOPE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Instead: the data folder of a server running on this machine, as its local
    /// operator.
    #[arg(long, conflicts_with_all = ["server", "token"])]
    data_dir: Option<PathBuf>,
}

/// `hysope plugin keys ...`.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Register an SSH public key (the `.pub` file of `ssh-keygen -t ed25519`) to
    /// sign your components with.
    Add {
        /// The public key file.
        key: PathBuf,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Your signing keys.
    List {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Remove one of your keys (by the id `list` shows).
    Remove {
        /// The key's id.
        id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// `hysope plugin publish`.
#[derive(Args)]
pub struct PublishArgs {
    /// The component (`target/wasm32-wasip2/release/NAME.wasm`).
    component: PathBuf,
    /// Its CWL descriptor (default: `NAME.cwl` beside the component, else in the
    /// current folder, as `hysope plugin build` writes it).
    #[arg(long)]
    cwl: Option<PathBuf>,
    /// The package: `namespace/name` (your namespace is your user name).
    #[arg(long)]
    name: String,
    /// The version (default: the descriptor's `s:softwareVersion`).
    #[arg(long)]
    version: Option<String>,
    /// Sign with this SSH private key (`ssh-keygen -Y sign -n hysope-component`).
    #[arg(long, conflicts_with = "signature")]
    sign: Option<PathBuf>,
    /// Or a signature made already (`ssh-keygen -Y sign -n hysope-component -f KEY
    /// NAME.wasm` writes `NAME.wasm.sig`).
    #[arg(long)]
    signature: Option<PathBuf>,
    /// An example job (YAML or JSON, literal values only: a file as
    /// `{class: File, basename, contents}`), run once in the sandbox at publish.
    #[arg(long)]
    example: Option<PathBuf>,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// `hysope registry ...` (operators).
#[derive(Subcommand)]
pub enum RegistryCommand {
    /// The versions waiting for review.
    Queue {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// A version: state, digests, signer, check report, review log.
    Show {
        /// `namespace/name@version`.
        reference: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Approve, reject, deprecate, undeprecate, yank, unyank or quarantine a version.
    Review {
        /// `namespace/name@version`.
        reference: String,
        /// approve, reject, deprecate, undeprecate, yank, unyank or quarantine.
        action: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// The version to use instead (deprecate): `namespace/name@version`.
        #[arg(long)]
        successor: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// A server and the caller's token.
struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Remote {
    fn new(args: &RemoteArgs) -> anyhow::Result<Self> {
        let (base, token) = match (&args.data_dir, &args.server, &args.token) {
            (Some(dir), _, _) => {
                let local = crate::local::LocalServer::of(dir, &"no server named")?;
                (local.url().to_string(), local.token().to_string())
            }
            (None, Some(server), Some(token)) => (server.clone(), token.clone()),
            (None, None, _) => {
                bail!("name the server: --server URL (or HYSOPE_SERVER), or --data-dir DIR")
            }
            (None, Some(_), None) => bail!("give your personal token: --token (or HYSOPE_TOKEN)"),
        };
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("the server {base:?} is not an http(s) URL");
        }
        Ok(Remote {
            base,
            token,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(600))
                .build()?,
        })
    }

    /// Sends a request; the status, headers and body.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .body(body);
        if let Some(c) = content_type {
            request = request.header("content-type", c);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?.to_vec();
        Ok((status, headers, bytes))
    }

    /// Sends and reads a JSON reply; a refusal is an error saying why (the OGC
    /// exception's detail or the OCI error's message).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<(reqwest::header::HeaderMap, Value)> {
        let (status, headers, bytes) = self.send(method, path, content_type, body).await?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let why = value["detail"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    value["errors"][0]["message"].as_str().map(|m| {
                        format!("{}: {m}", value["errors"][0]["code"].as_str().unwrap_or(""))
                    })
                })
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            bail!("the server refused ({status}): {why}");
        }
        Ok((headers, value))
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let ctype = body.map(|_| "application/json");
        Ok(self.call(method, path, ctype, bytes).await?.1)
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn done(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, 1),
    }
}

/// `hysope plugin keys ...`.
pub fn keys(command: KeysCommand) -> ExitCode {
    done(runtime().and_then(|rt| {
        rt.block_on(async {
            match command {
                KeysCommand::Add { key, remote } => {
                    let text = std::fs::read_to_string(&key)
                        .with_context(|| format!("cannot read {}", key.display()))?;
                    if text.contains("PRIVATE KEY") {
                        bail!("{} is a private key: give the .pub file", key.display());
                    }
                    let r = Remote::new(&remote)?
                        .json(
                            reqwest::Method::POST,
                            "/registry/keys",
                            Some(&json!({"key": text.trim()})),
                        )
                        .await?;
                    println!(
                        "added {} ({}) for {}; id {}",
                        r["fingerprint"].as_str().unwrap_or("?"),
                        r["comment"].as_str().unwrap_or(""),
                        r["user"].as_str().unwrap_or("?"),
                        r["id"].as_str().unwrap_or("?")
                    );
                }
                KeysCommand::List { remote } => {
                    let r = Remote::new(&remote)?
                        .json(reqwest::Method::GET, "/registry/keys", None)
                        .await?;
                    for k in r["keys"].as_array().into_iter().flatten() {
                        println!(
                            "{}  {}  {}",
                            k["id"].as_str().unwrap_or("?"),
                            k["fingerprint"].as_str().unwrap_or("?"),
                            k["comment"].as_str().unwrap_or("")
                        );
                    }
                }
                KeysCommand::Remove { id, remote } => {
                    let r = Remote::new(&remote)?
                        .json(
                            reqwest::Method::DELETE,
                            &format!("/registry/keys/{id}"),
                            None,
                        )
                        .await?;
                    println!("removed {}", r["removed"].as_str().unwrap_or("?"));
                }
            }
            Ok(())
        })
    }))
}

/// `ssh-keygen -Y sign -n hysope-component -f KEY` of `bytes` (given on stdin):
/// the armored signature.
fn sign(key: &Path, bytes: &[u8]) -> anyhow::Result<String> {
    use std::io::Write;
    let mut child = Command::new("ssh-keygen")
        .args([
            "-Y",
            "sign",
            "-n",
            hysope_registry::signatures::NAMESPACE,
            "-f",
        ])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run ssh-keygen (install openssh-client)")?;
    child
        .stdin
        .take()
        .context("ssh-keygen took no input")?
        .write_all(bytes)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "ssh-keygen -Y sign failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).context("ssh-keygen wrote no text signature")
}

/// The chunk size of uploads.
const CHUNK: usize = 8 << 20;

/// `hysope plugin publish`.
pub fn publish(args: PublishArgs) -> ExitCode {
    done(runtime().and_then(|rt| rt.block_on(publish_async(args))))
}

async fn publish_async(args: PublishArgs) -> anyhow::Result<()> {
    let component = std::fs::read(&args.component)
        .with_context(|| format!("cannot read {}", args.component.display()))?;
    let stem = args
        .component
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin")
        .to_string();
    let cwl_path = match &args.cwl {
        Some(p) => p.clone(),
        None => [
            args.component.with_extension("cwl"),
            PathBuf::from(format!("{stem}.cwl")),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("no {stem}.cwl beside the component or here: give --cwl"))?,
    };
    let cwl = std::fs::read_to_string(&cwl_path)
        .with_context(|| format!("cannot read {}", cwl_path.display()))?;
    let version = match &args.version {
        Some(v) => v.clone(),
        None => {
            let doc: Value = serde_yaml::from_str(&cwl)
                .with_context(|| format!("{} is not YAML or JSON", cwl_path.display()))?;
            doc.get("s:softwareVersion")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    anyhow!(
                        "{} has no s:softwareVersion: give --version",
                        cwl_path.display()
                    )
                })?
        }
    };
    hysope_registry::oci::check_repository(&args.name).map_err(|e| anyhow!(e.message))?;
    hysope_registry::oci::check_version(&version).map_err(|e| anyhow!(e.message))?;
    let signature = match (&args.sign, &args.signature) {
        (Some(key), _) => sign(key, &component)?,
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?,
        (None, None) => {
            bail!("sign the component: --sign KEY (your SSH private key) or --signature FILE")
        }
    };
    let remote = Remote::new(&args.remote)?;
    let repo = &args.name;
    // The config, then the component in chunks, then the manifest.
    let config = hysope_registry::oci::EMPTY_WASM_CONFIG;
    remote
        .call(
            reqwest::Method::POST,
            &format!("/v2/{repo}/blobs/uploads/?digest={}", Digest::of(config)),
            Some("application/octet-stream"),
            config.to_vec(),
        )
        .await?;
    let component_digest = Digest::of(&component);
    let (headers, _) = remote
        .call(
            reqwest::Method::POST,
            &format!("/v2/{repo}/blobs/uploads/"),
            None,
            vec![],
        )
        .await?;
    let mut location = location(&headers)?;
    let mut at = 0usize;
    for chunk in component.chunks(CHUNK) {
        let (status, headers, bytes) = remote.send_range(&location, at, chunk.to_vec()).await?;
        if status != 202 {
            bail!(
                "the upload was refused ({status}): {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        location = location_of(&headers).unwrap_or(location);
        at += chunk.len();
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    remote
        .call(
            reqwest::Method::PUT,
            &format!("{location}{sep}digest={component_digest}"),
            Some("application/octet-stream"),
            vec![],
        )
        .await?;
    let mut annotations = std::collections::BTreeMap::from([
        (hysope_registry::oci::SIGNATURE_ANNOTATION, signature),
        (hysope_registry::oci::CWL_ANNOTATION, cwl),
    ]);
    if let Some(example) = &args.example {
        let job = std::fs::read_to_string(example)
            .with_context(|| format!("cannot read {}", example.display()))?;
        annotations.insert(hysope_registry::oci::EXAMPLE_ANNOTATION, job);
    }
    let manifest = hysope_registry::oci::component_manifest(
        &component_digest,
        component.len() as u64,
        &format!("{stem}.wasm"),
        &annotations,
    );
    let (headers, _) = remote
        .call(
            reqwest::Method::PUT,
            &format!("/v2/{repo}/manifests/{version}"),
            Some(hysope_registry::oci::MANIFEST),
            manifest.to_string().into_bytes(),
        )
        .await?;
    let manifest_digest = headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?");
    println!(
        "published {repo}@{version}: component {component_digest}, manifest {manifest_digest}"
    );
    println!(
        "it waits for an operator's review; follow it with: hysope registry show {repo}@{version}"
    );
    println!("{repo}@{version}");
    Ok(())
}

impl Remote {
    async fn send_range(
        &self,
        location: &str,
        at: usize,
        chunk: Vec<u8>,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
        let url = if location.starts_with("http") {
            location.to_string()
        } else {
            format!("{}{location}", self.base)
        };
        let end = at + chunk.len().saturating_sub(1);
        let response = self
            .http
            .patch(&url)
            .bearer_auth(&self.token)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{at}-{end}"))
            .body(chunk)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Ok((status, headers, response.bytes().await?.to_vec()))
    }
}

fn location_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn location(headers: &reqwest::header::HeaderMap) -> anyhow::Result<String> {
    location_of(headers).ok_or_else(|| anyhow!("the server started no upload (no Location)"))
}

/// `hysope registry ...`.
pub fn main(command: RegistryCommand) -> ExitCode {
    done(runtime().and_then(|rt| {
        rt.block_on(async {
            match command {
                RegistryCommand::Queue { remote } => {
                    let r = Remote::new(&remote)?
                        .json(reqwest::Method::GET, "/registry/queue", None)
                        .await?;
                    for v in r["submissions"].as_array().into_iter().flatten() {
                        println!(
                            "{}  by {}  signed {}  {}",
                            v["reference"].as_str().unwrap_or("?"),
                            v["publisher"].as_str().unwrap_or("?"),
                            v["signer"]["fingerprint"].as_str().unwrap_or("?"),
                            v["component"].as_str().unwrap_or("?")
                        );
                    }
                }
                RegistryCommand::Show { reference, remote } => {
                    let (repo, version) = split_reference(&reference)?;
                    let r = Remote::new(&remote)?
                        .json(
                            reqwest::Method::GET,
                            &format!("/registry/packages/{repo}/versions/{version}"),
                            None,
                        )
                        .await?;
                    println!("{}", serde_json::to_string_pretty(&r)?);
                }
                RegistryCommand::Review {
                    reference,
                    action,
                    reason,
                    successor,
                    remote,
                } => {
                    let (repo, version) = split_reference(&reference)?;
                    let mut body = json!({"action": action, "reason": reason});
                    if let Some(s) = successor {
                        body["successor"] = json!(s);
                    }
                    let r = Remote::new(&remote)?
                        .json(
                            reqwest::Method::POST,
                            &format!("/registry/packages/{repo}/versions/{version}/review"),
                            Some(&body),
                        )
                        .await?;
                    println!("{reference} is {}", r["state"].as_str().unwrap_or("?"));
                    if let Some(jobs) = r["cancelled_jobs"].as_array() {
                        println!("{} queued jobs cancelled", jobs.len());
                    }
                }
            }
            Ok(())
        })
    }))
}

fn split_reference(reference: &str) -> anyhow::Result<(&str, &str)> {
    let (repo, version) = reference
        .split_once('@')
        .ok_or_else(|| anyhow!("{reference:?} is not namespace/name@version"))?;
    hysope_registry::oci::check_repository(repo).map_err(|e| anyhow!(e.message))?;
    Ok((repo, version))
}
