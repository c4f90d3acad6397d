//! The plugin registry (issue 19), first part: what the OCI distribution API
//! speaks ([`oci`]: error codes and envelope, digests, repository names, version
//! tags, the manifests taken: the CNCF wasm artifact layout and signatures that
//! refer to one) and the content-addressed blobs with their upload sessions
//! ([`blobs`]), the repositories' manifests, immutable version tags and
//! referrers ([`manifests`]), and the check of a component's signature against its
//! publisher's SSH keys ([`signatures`]). The `/v2/` routes and the curation come
//! next.

pub mod blobs;
pub mod manifests;
pub mod oci;
pub mod signatures;

pub use blobs::Blobs;
pub use oci::{Code, Digest, Manifest, OciError};
