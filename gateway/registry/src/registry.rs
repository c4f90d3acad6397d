//! The registry as its routes use it: blobs, manifests and curation together, and
//! what a push of a manifest goes through.
//!
//! **Publishing a component** (a manifest pushed by version tag):
//! 1. the repository's namespace is the pusher's, or a shared one they belong to;
//! 2. the quotas (versions per day, new packages per hour, pending submissions,
//!    storage per namespace) leave room (operators are not bound by them);
//! 3. the manifest is a wasm artifact whose blobs are stored, with the sizes it says;
//! 4. the signature in its [`SIGNATURE_ANNOTATION`](crate::oci::SIGNATURE_ANNOTATION)
//!    signs the component's bytes with one of the pusher's registered keys:
//!    **nothing has parsed or compiled the component before this**;
//! 5. the [`ComponentCheck`] compiles it, checks its world and that the CWL
//!    descriptor of [`CWL_ANNOTATION`](crate::oci::CWL_ANNOTATION) describes it,
//!    and runs it on its example job
//!    ([`EXAMPLE_ANNOTATION`](crate::oci::EXAMPLE_ANNOTATION)) when there is one;
//! 6. the manifest, its tag, the version (`submitted`) and its audit entry are
//!    stored in one durable commit.
//!
//! A refusal at any step stores nothing (the blobs uploaded before the manifest
//! stay, content-addressed, as with any OCI registry).
//!
//! **A signature pushed as a referrer** (an `oras attach`): its subject is a
//! component manifest of the repository, and the signature signs that component
//! with one of the pusher's keys.

use std::sync::Arc;

use object_store::ObjectStore;

use crate::blobs::Blobs;
use crate::curation::{
    Actor, AuditEntry, Curation, Refusal, Signer, State, VersionRecord, append_audit, now_ms,
    put_version,
};
use crate::manifests::{Manifests, Pushed};
use crate::oci::{
    CWL_ANNOTATION, Code, Digest, EXAMPLE_ANNOTATION, Manifest, OciError, SIGNATURE_ANNOTATION,
    check_repository, check_version, parse_manifest,
};
use crate::signatures;

/// What the registry asks of the engine when a component is published.
pub trait ComponentCheck: Send + Sync {
    /// Compiles `component`, checks that it is a component of the plugin world,
    /// that `cwl` (the descriptor published with it) is a `CommandLineTool` that
    /// runs it, and runs it once on `example` (a job, published with it) when
    /// given. Returns the report kept with the version, or why it is refused.
    fn check(
        &self,
        reference: &str,
        component: &[u8],
        cwl: &str,
        example: Option<&str>,
    ) -> Result<serde_json::Value, String>;
}

/// The limits on what a namespace publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// The largest blob (a component) taken, in bytes.
    pub max_component: u64,
    /// The components' bytes a namespace holds, at most.
    pub storage_per_namespace: u64,
    /// New versions of one package per day, at most.
    pub versions_per_day: usize,
    /// New packages of one namespace per hour, at most.
    pub packages_per_hour: usize,
    /// Versions of one namespace waiting for review, at most.
    pub pending_per_namespace: usize,
}

impl Default for Quotas {
    /// crates.io's anchors: 10 versions of a package a day, 5 new packages an hour;
    /// 64 MiB a component, 2 GiB a namespace, 20 pending submissions.
    fn default() -> Self {
        Quotas {
            max_component: 64 << 20,
            storage_per_namespace: 2 << 30,
            versions_per_day: 10,
            packages_per_hour: 5,
            pending_per_namespace: 20,
        }
    }
}

/// A namespace's use of its quotas.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// The namespace.
    pub namespace: String,
    /// Components' bytes held.
    pub storage_bytes: u64,
    /// Versions waiting for review.
    pub pending: usize,
    /// Packages made in the last hour.
    pub packages_last_hour: usize,
}

const HOUR_MS: u64 = 3600 * 1000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// The plugin registry.
pub struct Registry {
    /// Blobs.
    pub blobs: Blobs,
    /// Manifests and tags.
    pub manifests: Manifests,
    /// Versions, reviews, keys, namespaces.
    pub curation: Curation,
    /// The limits.
    pub quotas: Quotas,
}

fn refusal(e: Refusal) -> OciError {
    match e {
        Refusal::NotFound(m) => OciError::new(Code::NameUnknown, m),
        Refusal::Forbidden(m) => OciError::new(Code::Denied, m),
        Refusal::Conflict(m) | Refusal::Invalid(m) => OciError::new(Code::ManifestInvalid, m),
        Refusal::Store(m) => OciError::new(Code::ManifestInvalid, m),
        Refusal::Unavailable(m) => OciError::new(Code::Unavailable, m).retry_after(5),
    }
}

impl Registry {
    /// The registry whose records are `records`, its blobs in `objects`, uploads
    /// staged in `uploads`.
    pub fn open(
        records: Arc<dyn crate::records::Records>,
        objects: Arc<dyn ObjectStore>,
        uploads: &std::path::Path,
        quotas: Quotas,
    ) -> Result<Self, String> {
        Ok(Registry {
            blobs: Blobs::open(objects, uploads, quotas.max_component)
                .map_err(|e| format!("cannot open the registry's upload folder: {e}"))?,
            manifests: Manifests::new(records.clone()),
            curation: Curation::new(records),
            quotas,
        })
    }

    /// The use `namespace` makes of its quotas.
    pub fn usage(&self, namespace: &str) -> Result<Usage, OciError> {
        let prefix = format!("{namespace}/");
        let versions = self
            .curation
            .versions(None, |v| v.repository.starts_with(&prefix))
            .map_err(refusal)?;
        let now = now_ms();
        let mut first: std::collections::HashMap<&str, u64> = Default::default();
        for v in &versions {
            let e = first.entry(v.repository.as_str()).or_insert(v.created_ms);
            *e = (*e).min(v.created_ms);
        }
        Ok(Usage {
            namespace: namespace.to_string(),
            storage_bytes: versions.iter().map(|v| v.size).sum(),
            pending: versions
                .iter()
                .filter(|v| v.state == State::Submitted)
                .count(),
            packages_last_hour: first
                .values()
                .filter(|&&t| now.saturating_sub(t) < HOUR_MS)
                .count(),
        })
    }

    /// Refuses with 429 and `Retry-After` a publish of `size` bytes to
    /// `repository` that passes a quota.
    fn check_quotas(&self, repository: &str, size: u64) -> Result<(), OciError> {
        let namespace = repository.split('/').next().unwrap_or("");
        let q = self.quotas;
        let usage = self.usage(namespace)?;
        let now = now_ms();
        let mine = self
            .curation
            .versions(Some(repository), |_| true)
            .map_err(refusal)?;
        let today: Vec<u64> = mine
            .iter()
            .map(|v| v.created_ms)
            .filter(|t| now.saturating_sub(*t) < DAY_MS)
            .collect();
        if today.len() >= q.versions_per_day {
            let oldest = today.iter().min().copied().unwrap_or(now);
            let wait = (oldest + DAY_MS).saturating_sub(now) / 1000;
            return Err(OciError::new(
                Code::TooManyRequests,
                format!(
                    "{repository} has {} new versions in the last day, the most allowed; try again in {wait} s",
                    today.len()
                ),
            )
            .retry_after(wait));
        }
        if mine.is_empty() && usage.packages_last_hour >= q.packages_per_hour {
            return Err(OciError::new(
                Code::TooManyRequests,
                format!(
                    "{namespace} made {} new packages in the last hour, the most allowed",
                    usage.packages_last_hour
                ),
            )
            .retry_after(600));
        }
        if usage.pending >= q.pending_per_namespace {
            return Err(OciError::new(
                Code::TooManyRequests,
                format!(
                    "{namespace} has {} versions waiting for review, the most allowed; wait for their review",
                    usage.pending
                ),
            )
            .retry_after(3600));
        }
        if usage.storage_bytes + size > q.storage_per_namespace {
            return Err(OciError::new(
                Code::TooManyRequests,
                format!(
                    "{namespace} holds {} bytes; this component's {size} would pass its {} bytes (versions are never deleted: ask an operator for more room)",
                    usage.storage_bytes, q.storage_per_namespace
                ),
            )
            .retry_after(DAY_MS / 1000));
        }
        Ok(())
    }

    /// Pushes a manifest (see the module): `reference` is a version tag or the
    /// manifest's digest. Returns its digest.
    pub async fn push_manifest(
        &self,
        actor: Actor<'_>,
        repository: &str,
        reference: &str,
        content_type: &str,
        bytes: &[u8],
        checker: Arc<dyn ComponentCheck>,
    ) -> Result<Digest, OciError> {
        let (namespace, _) = check_repository(repository)?;
        if !self
            .curation
            .may_publish(actor, namespace)
            .map_err(refusal)?
        {
            return Err(OciError::new(
                Code::Denied,
                format!(
                    "{:?} may not publish in the namespace {namespace:?} (their own is {:?})",
                    actor.user, actor.user
                ),
            ));
        }
        let manifest = parse_manifest(content_type, bytes)?;
        let digest = Digest::of(bytes);
        let tag = if reference.starts_with("sha256:") {
            if Digest::parse(reference)? != digest {
                return Err(OciError::new(
                    Code::DigestInvalid,
                    format!("the manifest's digest is {digest}, not {reference}"),
                ));
            }
            None
        } else {
            check_version(reference)?;
            Some(reference)
        };
        for blob in manifest.blobs() {
            let d = Digest::parse(&blob.digest)?;
            match self.blobs.size(&d).await? {
                None => {
                    return Err(OciError::new(
                        Code::ManifestBlobUnknown,
                        format!("blob {d} is not in the registry; push it before the manifest"),
                    ));
                }
                Some(size) if size != blob.size => {
                    return Err(OciError::new(
                        Code::ManifestInvalid,
                        format!("blob {d} has {size} bytes, the manifest says {}", blob.size),
                    ));
                }
                Some(_) => {}
            }
        }
        match &manifest {
            Manifest::Signature { subject, layer } => {
                self.push_signature(actor, repository, tag, bytes, &manifest, subject, layer)
                    .await
            }
            Manifest::Component {
                layer, annotations, ..
            } => {
                let Some(tag) = tag else {
                    return Err(OciError::new(
                        Code::ManifestInvalid,
                        "a component is pushed by its version (PUT /v2/NAME/manifests/1.2.0), not by digest",
                    ));
                };
                if let Some((d, _)) = self.manifests.get(repository, tag)? {
                    if d == digest {
                        return Ok(d);
                    }
                }
                // Quotas bound what developers publish; operators curate.
                if !actor.operator {
                    self.check_quotas(repository, layer.size)?;
                }
                let signature = annotations.get(SIGNATURE_ANNOTATION).ok_or_else(|| {
                    OciError::new(
                        Code::Denied,
                        format!(
                            "the component is not signed: put the armored signature of `ssh-keygen -Y sign -n {} FILE.wasm` in the manifest annotation {SIGNATURE_ANNOTATION}",
                            signatures::NAMESPACE
                        ),
                    )
                })?;
                let cwl = annotations.get(CWL_ANNOTATION).ok_or_else(|| {
                    OciError::new(
                        Code::ManifestInvalid,
                        format!(
                            "the component has no CWL descriptor: put the tool's document in the manifest annotation {CWL_ANNOTATION}"
                        ),
                    )
                })?;
                let component_digest = Digest::parse(&layer.digest)?;
                let component = self.blobs.read(&component_digest).await?.ok_or_else(|| {
                    OciError::new(Code::ManifestBlobUnknown, "the component's blob vanished")
                })?;
                // The signature first: nothing reads the component before it passed.
                let fingerprint = self.verify(actor.user, signature.as_bytes(), &component)?;
                let reference_text = format!("{repository}@{tag}");
                let example = annotations.get(EXAMPLE_ANNOTATION).cloned();
                let report = {
                    let (checker, cwl, r) = (checker.clone(), cwl.clone(), reference_text.clone());
                    tokio::task::spawn_blocking(move || {
                        checker.check(&r, &component, &cwl, example.as_deref())
                    })
                    .await
                    .map_err(|e| {
                        OciError::new(Code::ManifestInvalid, format!("the check failed: {e}"))
                    })?
                    .map_err(|why| OciError::new(Code::ManifestInvalid, why))?
                };
                let now = now_ms();
                let record = VersionRecord {
                    repository: repository.to_string(),
                    version: tag.to_string(),
                    manifest: digest.to_string(),
                    component: component_digest.to_string(),
                    size: layer.size,
                    publisher: actor.user.to_string(),
                    signer: Signer {
                        user: actor.user.to_string(),
                        fingerprint,
                    },
                    state: State::Submitted,
                    yanked_from: None,
                    successor: None,
                    created_ms: now,
                    updated_ms: now,
                    report,
                    cwl: cwl.clone(),
                };
                let entry = AuditEntry {
                    seq: 0,
                    at_ms: now,
                    actor: actor.user.to_string(),
                    action: "publish".into(),
                    subject: record.reference(),
                    from: None,
                    to: Some(State::Submitted),
                    reason: format!("signed by {}", record.signer.fingerprint),
                    successor: None,
                };
                let also: crate::manifests::Also = Box::new(move |tx| {
                    put_version(tx, &record)?;
                    append_audit(tx, &entry)?;
                    Ok(())
                });
                match self
                    .manifests
                    .push(repository, Some(tag), bytes, &manifest, Some(also))?
                {
                    Pushed::New(d) | Pushed::Unchanged(d) => Ok(d),
                }
            }
        }
    }

    /// Checks `signature` of `message` against `user`'s keys; the key's
    /// fingerprint.
    fn verify(&self, user: &str, signature: &[u8], message: &[u8]) -> Result<String, OciError> {
        let keys: Vec<ssh_key::PublicKey> = self
            .curation
            .keys(user)
            .map_err(refusal)?
            .iter()
            .filter_map(|k| signatures::parse_public_key(&k.key).ok())
            .collect();
        if keys.is_empty() {
            return Err(OciError::new(
                Code::Denied,
                format!(
                    "{user:?} has no signing key registered; add one (hysope plugin keys add KEY.pub) before publishing"
                ),
            ));
        }
        signatures::verify(signature, message, &keys)
    }

    #[allow(clippy::too_many_arguments)]
    async fn push_signature(
        &self,
        actor: Actor<'_>,
        repository: &str,
        tag: Option<&str>,
        bytes: &[u8],
        manifest: &Manifest,
        subject: &crate::oci::Descriptor,
        layer: &crate::oci::Descriptor,
    ) -> Result<Digest, OciError> {
        if tag.is_some() {
            return Err(OciError::new(
                Code::ManifestInvalid,
                "a signature is pushed by its digest, not by a version tag",
            ));
        }
        let subject_digest = Digest::parse(&subject.digest)?;
        let (_, subject_bytes) = self
            .manifests
            .get(repository, subject_digest.as_str())?
            .ok_or_else(|| {
                OciError::new(
                    Code::ManifestUnknown,
                    format!("the signed manifest {subject_digest} is not in {repository}"),
                )
            })?;
        let Manifest::Component {
            layer: component, ..
        } = parse_manifest(crate::oci::MANIFEST, &subject_bytes)?
        else {
            return Err(OciError::new(
                Code::ManifestInvalid,
                "a signature signs a component, not another signature",
            ));
        };
        if layer.size > signatures::MAX_SIGNATURE as u64 {
            return Err(OciError::new(
                Code::SizeInvalid,
                format!(
                    "the signature has {} bytes; one from ssh-keygen -Y sign has a few hundred",
                    layer.size
                ),
            ));
        }
        let signature = self
            .blobs
            .read(&Digest::parse(&layer.digest)?)
            .await?
            .ok_or_else(|| {
                OciError::new(Code::ManifestBlobUnknown, "the signature's blob vanished")
            })?;
        let component_bytes = self
            .blobs
            .read(&Digest::parse(&component.digest)?)
            .await?
            .ok_or_else(|| {
                OciError::new(Code::ManifestBlobUnknown, "the component's blob vanished")
            })?;
        self.verify(actor.user, &signature, &component_bytes)?;
        match self
            .manifests
            .push(repository, None, bytes, manifest, None)?
        {
            Pushed::New(d) | Pushed::Unchanged(d) => Ok(d),
        }
    }

    /// Publishes a bundled plugin (`hysope/NAME@VERSION`) signed with the
    /// bootstrap key, through the checks of any publish, and admits it as
    /// approved. `Ok(None)` when that version is there already with these bytes.
    pub async fn publish_bundled(
        &self,
        name: &str,
        version: &str,
        component: &[u8],
        cwl: &str,
        key: &crate::bootstrap::BootstrapKey,
        checker: Arc<dyn ComponentCheck>,
    ) -> Result<Option<VersionRecord>, OciError> {
        use crate::bootstrap::{NAMESPACE, PUBLISHER};
        let repository = format!("{NAMESPACE}/{name}");
        let component_digest = Digest::of(component);
        let config = crate::oci::EMPTY_WASM_CONFIG;
        if let Some(existing) = self
            .curation
            .version(&repository, version)
            .map_err(refusal)?
        {
            if existing.component == component_digest.as_str() {
                // Published by another gateway sharing the records: its blobs
                // may be where only it reads them (a data folder of its own).
                self.ensure_blob(config).await?;
                self.ensure_blob(component).await?;
                return Ok(None);
            }
            return Err(OciError::new(
                Code::Denied,
                format!(
                    "{repository}@{version} holds {} already; the bundled component {component_digest} needs a new version (s:softwareVersion)",
                    existing.component
                ),
            ));
        }
        let public = key.public_line();
        let registered = self.curation.keys(PUBLISHER).map_err(refusal)?;
        let fingerprint = signatures::parse_public_key(&public)
            .map(|k| signatures::fingerprint(&k))
            .map_err(|e| OciError::new(Code::Denied, e))?;
        if !registered.iter().any(|k| k.fingerprint == fingerprint) {
            self.curation
                .add_key(PUBLISHER, &public, "bootstrap key of the bundled plugins")
                .map_err(refusal)?;
        }
        let signature = key
            .sign(component)
            .map_err(|e| OciError::new(Code::Denied, e))?;
        self.ensure_blob(config).await?;
        self.ensure_blob(component).await?;
        let manifest = crate::oci::component_manifest(
            &component_digest,
            component.len() as u64,
            &format!("{name}.wasm"),
            &[
                (SIGNATURE_ANNOTATION, signature),
                (CWL_ANNOTATION, cwl.to_string()),
            ]
            .into(),
        )
        .to_string()
        .into_bytes();
        let actor = Actor {
            user: PUBLISHER,
            operator: true,
        };
        let pushed = self
            .push_manifest(
                actor,
                &repository,
                version,
                crate::oci::MANIFEST,
                &manifest,
                checker,
            )
            .await;
        // Gateways that share the records start together: another one may have
        // published this version (signed with its own key) or admitted it since
        // the check above.
        let theirs = |e| -> Result<Option<VersionRecord>, OciError> {
            match self
                .curation
                .version(&repository, version)
                .map_err(refusal)?
            {
                Some(v) if v.component == component_digest.as_str() => Ok(None),
                _ => Err(e),
            }
        };
        if let Err(e) = pushed {
            return theirs(e);
        }
        match self.curation.admit_bundled(&repository, version) {
            Ok(record) => Ok(Some(record)),
            Err(e @ Refusal::Conflict(_)) => theirs(refusal(e)),
            Err(e) => Err(refusal(e)),
        }
    }

    /// Stores `bytes` unless the blob store has them.
    async fn ensure_blob(&self, bytes: &[u8]) -> Result<(), OciError> {
        let digest = Digest::of(bytes);
        if self.blobs.size(&digest).await?.is_none() {
            self.blobs.put(&digest, bytes).await?;
        }
        Ok(())
    }

    /// The version a manifest of `repository` is (by its tag, or by the component
    /// its manifest names).
    pub fn version_of_manifest(
        &self,
        repository: &str,
        manifest: &[u8],
    ) -> Result<Option<VersionRecord>, OciError> {
        match parse_manifest(crate::oci::MANIFEST, manifest) {
            Ok(Manifest::Component { layer, .. }) => {
                let exact = Digest::of(manifest);
                let mut found = self
                    .curation
                    .versions_of_component(&layer.digest)
                    .map_err(refusal)?;
                found.retain(|v| v.repository == repository);
                // The version this very manifest is, else one with its component.
                found.sort_by_key(|v| v.manifest != exact.as_str());
                Ok(found.into_iter().next())
            }
            _ => Ok(None),
        }
    }
}
