//! The plugin registry (issue 19): what the OCI distribution API speaks
//! ([`oci`]: error codes and envelope, digests, repository names, version tags,
//! the manifests taken: the CNCF wasm artifact layout and signatures that refer to
//! one), the content-addressed blobs with their upload sessions ([`blobs`]), the
//! repositories' manifests, immutable version tags and referrers ([`manifests`]),
//! the check of a component's signature against its publisher's SSH keys
//! ([`signatures`]), the versions' states, reviews, audit log, keys and shared
//! namespaces ([`curation`]), where all of these records are kept ([`records`]:
//! the server's redb file, or PostgreSQL shared by gateways), and what a push
//! goes through ([`registry`]). The
//! server's `/v2/` and `/registry` routes sit on [`Registry`].

pub mod blobs;
pub mod bootstrap;
pub mod curation;
pub mod manifests;
pub mod oci;
pub mod records;
pub mod registry;
pub mod signatures;

pub use blobs::Blobs;
pub use curation::{Actor, Curation, Refusal, Review, State, VersionRecord};
pub use oci::{Code, Digest, Manifest, OciError};
pub use records::{RecordTx, Records, RecordsError, RedbRecords, Table};
pub use registry::{ComponentCheck, Quotas, Registry, Usage};
