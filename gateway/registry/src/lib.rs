//! The plugin registry (issue 19), first part: what the OCI distribution API
//! speaks ([`oci`]: error codes and envelope, digests, repository names, version
//! tags, the manifests taken: the CNCF wasm artifact layout and signatures that
//! refer to one) and the content-addressed blobs with their upload sessions
//! ([`blobs`]), the repositories' manifests, immutable version tags and
//! referrers ([`manifests`]). The `/v2/` routes, the signature checks and the
//! curation come next.

pub mod blobs;
pub mod manifests;
pub mod oci;

pub use blobs::Blobs;
pub use oci::{Code, Digest, Manifest, OciError};
