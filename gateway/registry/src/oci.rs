//! What the OCI distribution API says and takes: its error codes and envelope,
//! repository names, digests, version tags, and the manifests the registry
//! accepts (the CNCF wasm artifact layout, and signatures that refer to one).

use serde::Deserialize;
use serde_json::{Value, json};

/// The media type of an OCI image manifest.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config media type of a wasm artifact (CNCF "Wasm OCI artifact" layout).
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the one layer of a wasm artifact.
pub const WASM_LAYER: &str = "application/wasm";
/// The artifact type of a component's signature (an `ssh-keygen -Y sign` file of
/// namespace `hysope-component`), attached to the component's manifest as a
/// referrer (`subject`).
pub const SIGNATURE: &str = "application/vnd.hysope.signature.v1+sshsig";
/// The manifest annotation that carries the publisher's signature of the
/// component's bytes (the armored file `ssh-keygen -Y sign -n hysope-component`
/// writes): checked before anything reads the component.
pub const SIGNATURE_ANNOTATION: &str = "dev.hysope.signature";
/// The manifest annotation that carries the component's CWL descriptor (JSON or
/// YAML text): a `CommandLineTool` with a `hysope:WasmRequirement`.
pub const CWL_ANNOTATION: &str = "dev.hysope.cwl";
/// The manifest annotation that carries an example job of the component (JSON or
/// YAML, literal values only): run once in the sandbox at publish.
pub const EXAMPLE_ANNOTATION: &str = "dev.hysope.example";
/// The media type of an empty config (`{}`), for artifacts without one.
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// The error codes of the distribution specification, with their HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A blob the request names is not in the repository (404).
    BlobUnknown,
    /// The upload is wrong: a chunk out of order, a bad range (400, or 416).
    BlobUploadInvalid,
    /// No upload session with that id (404).
    BlobUploadUnknown,
    /// The digest given does not match the content, or is not one (400).
    DigestInvalid,
    /// A manifest names a blob the repository lacks (404).
    ManifestBlobUnknown,
    /// The manifest is not one the registry accepts (400).
    ManifestInvalid,
    /// No manifest with that reference (404).
    ManifestUnknown,
    /// The repository name is not one (400).
    NameInvalid,
    /// No such repository (404).
    NameUnknown,
    /// The content is larger than allowed, or its length is wrong (400).
    SizeInvalid,
    /// No credentials, or bad ones (401).
    Unauthorized,
    /// The caller may not (403).
    Denied,
    /// The operation is not supported (405).
    Unsupported,
    /// Too many requests: a quota (429).
    TooManyRequests,
    /// The registry's store is out of reach for now (503, as Docker's registry
    /// says it).
    Unavailable,
}

impl Code {
    /// The code as the envelope spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::Unavailable => "UNAVAILABLE",
        }
    }

    /// The HTTP status the code goes with.
    pub fn status(self) -> u16 {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestBlobUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => 404,
            Code::Unauthorized => 401,
            Code::Denied => 403,
            Code::Unsupported => 405,
            Code::TooManyRequests => 429,
            Code::Unavailable => 503,
            _ => 400,
        }
    }
}

/// An error of the distribution API: its code and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct OciError {
    /// The code.
    pub code: Code,
    /// Says what and where.
    pub message: String,
    /// For a quota: when to try again, in seconds (`Retry-After`).
    pub retry_after_s: Option<u64>,
}

impl OciError {
    /// An error of `code`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        OciError {
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// The same error, to be tried again after `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds.max(1));
        self
    }

    /// The error envelope: `{"errors": [{"code", "message", "detail"}]}`.
    pub fn envelope(&self) -> Value {
        json!({"errors": [{"code": self.code.as_str(), "message": self.message, "detail": {}}]})
    }
}

/// A content digest, `sha256:` and 64 lowercase hex digits (the only algorithm
/// taken).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses a digest.
    pub fn parse(text: &str) -> Result<Digest, OciError> {
        let hex = text.strip_prefix("sha256:").ok_or_else(|| {
            OciError::new(
                Code::DigestInvalid,
                format!("{text:?} is not a sha256 digest (sha256:<64 hex digits>)"),
            )
        })?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(OciError::new(
                Code::DigestInvalid,
                format!("{text:?}: a sha256 digest has 64 lowercase hex digits"),
            ));
        }
        Ok(Digest(text.to_string()))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest(format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(bytes))
        ))
    }

    /// From a finished hasher.
    pub fn from_hasher(hasher: sha2::Sha256) -> Digest {
        use sha2::Digest as _;
        Digest(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The digest as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A repository name: `namespace/name`, each part lowercase letters and digits
/// separated by one `.`, `_` or `-`, 2 to 64 characters, the whole at most 128.
pub fn check_repository(name: &str) -> Result<(&str, &str), OciError> {
    let invalid = |why: &str| {
        OciError::new(
            Code::NameInvalid,
            format!(
                "repository {name:?}: {why} (namespace/name, lowercase letters, digits and single . _ -)"
            ),
        )
    };
    if name.len() > 128 {
        return Err(invalid("longer than 128 characters"));
    }
    let (namespace, package) = name
        .split_once('/')
        .ok_or_else(|| invalid("no namespace"))?;
    for part in [namespace, package] {
        if part.len() < 2 || part.len() > 64 {
            return Err(invalid("each part has 2 to 64 characters"));
        }
        let bytes = part.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
            return Err(invalid("a part starts and ends with a letter or digit"));
        }
        if bytes.windows(2).any(|w| !alnum(w[0]) && !alnum(w[1]))
            || bytes
                .iter()
                .any(|&b| !(alnum(b) || matches!(b, b'.' | b'_' | b'-')))
        {
            return Err(invalid("a part has a character not allowed"));
        }
    }
    Ok((namespace, package))
}

/// A version tag: semantic versioning `MAJOR.MINOR.PATCH`, with an optional
/// `-prerelease` (letters, digits, dots and hyphens), at most 64 characters.
pub fn check_version(tag: &str) -> Result<(), OciError> {
    let invalid = || {
        OciError::new(
            Code::ManifestInvalid,
            format!("tag {tag:?} is not a version (MAJOR.MINOR.PATCH, e.g. 1.2.0 or 1.2.0-rc.1)"),
        )
    };
    if tag.is_empty() || tag.len() > 64 {
        return Err(invalid());
    }
    let (core, pre) = match tag.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (tag, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let number = |p: &&str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    if parts.len() != 3 || !parts.iter().all(number) {
        return Err(invalid());
    }
    if let Some(pre) = pre {
        if pre.is_empty()
            || pre.split('.').any(|id| {
                id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        {
            return Err(invalid());
        }
    }
    Ok(())
}

/// A descriptor of a manifest: what it points to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The content's media type.
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// A manifest the registry takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// A component: its config and its one `application/wasm` layer.
    Component {
        /// The config blob.
        config: Descriptor,
        /// The component's bytes.
        layer: Descriptor,
        /// The manifest's annotations: [`SIGNATURE_ANNOTATION`] and
        /// [`CWL_ANNOTATION`] among them.
        annotations: std::collections::BTreeMap<String, String>,
    },
    /// A signature of the manifest `subject`: its one layer is the signature file.
    Signature {
        /// The signed manifest.
        subject: Descriptor,
        /// The signature's bytes.
        layer: Descriptor,
    },
}

impl Manifest {
    /// The blobs the manifest names (each must be in the repository).
    pub fn blobs(&self) -> Vec<&Descriptor> {
        match self {
            Manifest::Component { config, layer, .. } => vec![config, layer],
            Manifest::Signature { layer, .. } => vec![layer],
        }
    }
}

/// The manifest of a component in the CNCF wasm layout: the config `{}`
/// (`EMPTY_WASM_CONFIG`), the component `file_name` as its one layer, and the
/// `annotations` (the signature, the CWL descriptor, an example job).
pub fn component_manifest(
    component: &Digest,
    size: u64,
    file_name: &str,
    annotations: &std::collections::BTreeMap<&str, String>,
) -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": WASM_CONFIG, "digest": Digest::of(EMPTY_WASM_CONFIG).as_str(), "size": EMPTY_WASM_CONFIG.len()},
        "layers": [{"mediaType": WASM_LAYER, "digest": component.as_str(), "size": size,
            "annotations": {"org.opencontainers.image.title": file_name}}],
        "annotations": annotations,
    })
}

/// The config blob of [`component_manifest`].
pub const EMPTY_WASM_CONFIG: &[u8] = b"{}";

/// Parses and checks a pushed manifest: an OCI image manifest (schema 2) that is a
/// wasm artifact (config `application/vnd.wasm.config.v0+json`, exactly one
/// `application/wasm` layer, no subject) or a signature (artifact type
/// [`SIGNATURE`], one layer, a subject). Anything else is refused saying why.
pub fn parse_manifest(content_type: &str, bytes: &[u8]) -> Result<Manifest, OciError> {
    let invalid = |why: String| OciError::new(Code::ManifestInvalid, why);
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence != MANIFEST {
        return Err(invalid(format!(
            "a manifest of type {essence:?} is not taken; push an OCI image manifest ({MANIFEST})"
        )));
    }
    let raw: RawManifest = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("the manifest is not an OCI image manifest: {e}")))?;
    if raw.schema_version != 2 {
        return Err(invalid(format!(
            "schemaVersion is {}, not 2",
            raw.schema_version
        )));
    }
    if let Some(m) = &raw.media_type {
        if m != MANIFEST {
            return Err(invalid(format!("mediaType {m:?} is not {MANIFEST}")));
        }
    }
    for d in std::iter::once(&raw.config)
        .chain(&raw.layers)
        .chain(raw.subject.as_ref())
    {
        Digest::parse(&d.digest)?;
    }
    match (&raw.subject, raw.artifact_type.as_deref()) {
        (Some(subject), Some(SIGNATURE)) => {
            let [layer] = raw.layers.as_slice() else {
                return Err(invalid(format!(
                    "a signature has one layer, not {}",
                    raw.layers.len()
                )));
            };
            if subject.media_type != MANIFEST {
                return Err(invalid("a signature signs a component's manifest".into()));
            }
            Ok(Manifest::Signature {
                subject: subject.clone(),
                layer: layer.clone(),
            })
        }
        (Some(_), other) => Err(invalid(format!(
            "a manifest with a subject is a signature (artifactType {SIGNATURE}), not {other:?}"
        ))),
        (None, _) => {
            if raw.config.media_type != WASM_CONFIG {
                return Err(invalid(format!(
                    "the config is {:?}; a component's is {WASM_CONFIG}",
                    raw.config.media_type
                )));
            }
            let [layer] = raw.layers.as_slice() else {
                return Err(invalid(format!(
                    "a component has exactly one layer ({WASM_LAYER}), not {}",
                    raw.layers.len()
                )));
            };
            if layer.media_type != WASM_LAYER {
                return Err(invalid(format!(
                    "the layer is {:?}, not {WASM_LAYER}",
                    layer.media_type
                )));
            }
            Ok(Manifest::Component {
                config: raw.config.clone(),
                layer: layer.clone(),
                annotations: raw.annotations.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(media: &str, fill: char) -> Value {
        json!({"mediaType": media, "digest": format!("sha256:{}", fill.to_string().repeat(64)), "size": 10})
    }

    #[test]
    fn digests_names_and_versions() {
        assert!(Digest::parse(&format!("sha256:{}", "a".repeat(64))).is_ok());
        for bad in [
            "sha256:",
            "sha512:aa",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "a".repeat(63)),
        ] {
            assert_eq!(
                Digest::parse(bad).unwrap_err().code,
                Code::DigestInvalid,
                "{bad}"
            );
        }
        assert_eq!(
            Digest::of(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(check_repository("dora/river-filter").is_ok());
        assert!(check_repository("hysope/swot.filter_2").is_ok());
        for bad in [
            "river",
            "Dora/x1",
            "a/b",
            "dora/-x",
            "dora/x--y",
            "dora/x/y",
            "../etc",
            "dora/x y",
        ] {
            assert_eq!(
                check_repository(bad).unwrap_err().code,
                Code::NameInvalid,
                "{bad}"
            );
        }
        for good in ["0.1.0", "1.2.3", "10.0.0-rc.1", "1.0.0-alpha-2"] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in [
            "latest",
            "1.2",
            "01.2.3",
            "1.2.3-",
            "1.2.3-a..b",
            "v1.2.3",
            "",
        ] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_components_and_their_signatures_are_taken() {
        let component = json!({"schemaVersion": 2, "mediaType": MANIFEST,
            "config": d(WASM_CONFIG, 'a'), "layers": [d(WASM_LAYER, 'b')]});
        let parsed = parse_manifest(MANIFEST, component.to_string().as_bytes()).unwrap();
        assert!(matches!(parsed, Manifest::Component { .. }));
        assert_eq!(parsed.blobs().len(), 2);
        let signature = json!({"schemaVersion": 2, "mediaType": MANIFEST, "artifactType": SIGNATURE,
            "config": d(EMPTY_CONFIG, 'c'), "layers": [d("application/octet-stream", 'd')],
            "subject": d(MANIFEST, 'e')});
        assert!(matches!(
            parse_manifest(MANIFEST, signature.to_string().as_bytes()).unwrap(),
            Manifest::Signature { .. }
        ));
        let two_layers = json!({"schemaVersion": 2, "config": d(WASM_CONFIG, 'a'),
            "layers": [d(WASM_LAYER, 'b'), d(WASM_LAYER, 'c')]});
        let image = json!({"schemaVersion": 2, "config": d("application/vnd.oci.image.config.v1+json", 'a'),
            "layers": [d("application/vnd.oci.image.layer.v1.tar+gzip", 'b')]});
        let bad_digest = json!({"schemaVersion": 2, "config": d(WASM_CONFIG, 'a'),
            "layers": [{"mediaType": WASM_LAYER, "digest": "md5:00", "size": 1}]});
        for (bad, says) in [
            (two_layers.to_string(), "exactly one layer"),
            (image.to_string(), "config"),
            (bad_digest.to_string(), "sha256"),
            ("{".to_string(), "not an OCI image manifest"),
        ] {
            let err = parse_manifest(MANIFEST, bad.as_bytes()).unwrap_err();
            assert!(err.message.contains(says), "{bad}: {err}");
        }
        let err = parse_manifest(
            "application/vnd.docker.distribution.manifest.v2+json",
            b"{}",
        )
        .unwrap_err();
        assert_eq!(err.code, Code::ManifestInvalid);
        assert_eq!(err.envelope()["errors"][0]["code"], "MANIFEST_INVALID");
    }
}
