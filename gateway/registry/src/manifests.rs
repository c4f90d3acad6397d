//! The repositories' manifests, version tags and referrers, in tables of the
//! server's redb file. A manifest is kept once by digest and listed in each
//! repository it was pushed to; a tag (a version) names one manifest for ever: a
//! second push of the same version with other bytes is refused, the same bytes
//! again change nothing. A signature's manifest is listed as a referrer of the
//! manifest it signs.

use std::sync::Arc;

use hysope_store::SharedDb;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::oci::{Code, Digest, Manifest, OciError};

/// digest -> manifest bytes.
const MANIFESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("registry_manifests");
/// (repository, digest) -> (): the manifests of a repository.
const IN_REPOSITORY: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("registry_repository_manifests");
/// (repository, tag) -> digest.
const TAGS: TableDefinition<(&str, &str), &str> = TableDefinition::new("registry_tags");
/// (repository, subject digest, referrer digest) -> artifact type.
const REFERRERS: TableDefinition<(&str, &str, &str), &str> =
    TableDefinition::new("registry_referrers");

/// The manifests and tags of every repository.
pub struct Manifests {
    db: Arc<SharedDb>,
}

/// What a push of a manifest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// Stored (and tagged, when pushed by tag).
    New(Digest),
    /// The same bytes were there already under that reference.
    Unchanged(Digest),
}

/// A change applied in the commit of a push.
pub type Also = Box<dyn Fn(&redb::WriteTransaction) -> hysope_store::Result<()> + Send>;

fn changed(repository: &str, tag: &str, existing: &Digest) -> OciError {
    OciError::new(
        Code::Denied,
        format!(
            "{repository}:{tag} is {existing}; a pushed version never changes (push a new version)"
        ),
    )
}

fn failed(e: impl std::fmt::Display) -> OciError {
    OciError::new(
        Code::ManifestInvalid,
        format!("the registry's store failed: {e}"),
    )
}

impl Manifests {
    /// The tables in the server's file.
    pub fn open_shared(db: Arc<SharedDb>) -> Result<Self, OciError> {
        let tx = db.begin_write().map_err(failed)?;
        tx.open_table(MANIFESTS).map_err(failed)?;
        tx.open_table(IN_REPOSITORY).map_err(failed)?;
        tx.open_table(TAGS).map_err(failed)?;
        tx.open_table(REFERRERS).map_err(failed)?;
        tx.commit().map_err(failed)?;
        Ok(Manifests { db })
    }

    /// Stores `bytes` (already parsed as `manifest`, its blobs already checked) in
    /// `repository`, tagged `tag` when pushed by tag, and applies `also` (the
    /// version's record, its audit entry) in the same commit. Durable before it
    /// returns.
    pub fn push(
        &self,
        repository: &str,
        tag: Option<&str>,
        bytes: &[u8],
        manifest: &Manifest,
        also: Option<Also>,
    ) -> Result<Pushed, OciError> {
        let digest = Digest::of(bytes);
        if let Some(tag) = tag {
            if let Some(existing) = self.tag(repository, tag)? {
                if existing != digest {
                    return Err(changed(repository, tag, &existing));
                }
                return Ok(Pushed::Unchanged(digest));
            }
        }
        let (repo, key, tag_owned) = (
            repository.to_string(),
            digest.as_str().to_string(),
            tag.map(str::to_string),
        );
        let body = bytes.to_vec();
        let referrer = match manifest {
            Manifest::Signature { subject, .. } => Some(subject.digest.clone()),
            Manifest::Component { .. } => None,
        };
        self.db
            .write(
                Box::new(move |tx| {
                    let mut tags = tx.open_table(TAGS)?;
                    if let Some(tag) = &tag_owned {
                        // Checked again in the commit: two pushes of one version race.
                        if let Some(other) = tags.get((repo.as_str(), tag.as_str()))? {
                            if other.value() != key {
                                let other = Digest::parse(other.value())
                                    .unwrap_or_else(|_| Digest::of(b""));
                                return Err(hysope_store::Error::change(changed(
                                    &repo, tag, &other,
                                )));
                            }
                        }
                        tags.insert((repo.as_str(), tag.as_str()), key.as_str())?;
                    }
                    tx.open_table(MANIFESTS)?
                        .insert(key.as_str(), body.as_slice())?;
                    tx.open_table(IN_REPOSITORY)?
                        .insert((repo.as_str(), key.as_str()), ())?;
                    if let Some(subject) = &referrer {
                        tx.open_table(REFERRERS)?.insert(
                            (repo.as_str(), subject.as_str(), key.as_str()),
                            crate::oci::SIGNATURE,
                        )?;
                    }
                    if let Some(also) = &also {
                        also(tx)?;
                    }
                    Ok(())
                }),
                true,
            )
            .map_err(|e| match e.into_change::<OciError>() {
                Ok(mine) => mine,
                Err(e) => failed(e),
            })?;
        Ok(Pushed::New(digest))
    }

    /// The digest `tag` names in `repository`.
    pub fn tag(&self, repository: &str, tag: &str) -> Result<Option<Digest>, OciError> {
        let tx = self.db.begin_read().map_err(failed)?;
        let tags = tx.open_table(TAGS).map_err(failed)?;
        let found = tags.get((repository, tag)).map_err(failed)?;
        found.map(|v| Digest::parse(v.value())).transpose()
    }

    /// The manifest `reference` (a tag or a digest) of `repository`: its digest and
    /// bytes.
    pub fn get(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<(Digest, Vec<u8>)>, OciError> {
        let digest = if reference.starts_with("sha256:") {
            Digest::parse(reference)?
        } else {
            match self.tag(repository, reference)? {
                Some(d) => d,
                None => return Ok(None),
            }
        };
        let tx = self.db.begin_read().map_err(failed)?;
        let listed = tx.open_table(IN_REPOSITORY).map_err(failed)?;
        if listed
            .get((repository, digest.as_str()))
            .map_err(failed)?
            .is_none()
        {
            return Ok(None);
        }
        let manifests = tx.open_table(MANIFESTS).map_err(failed)?;
        let found = manifests.get(digest.as_str()).map_err(failed)?;
        Ok(found.map(|v| (digest.clone(), v.value().to_vec())))
    }

    /// The tags of `repository` in order, after `last` (exclusive), at most `n`.
    pub fn tags(
        &self,
        repository: &str,
        last: Option<&str>,
        n: usize,
    ) -> Result<Vec<String>, OciError> {
        let tx = self.db.begin_read().map_err(failed)?;
        let tags = tx.open_table(TAGS).map_err(failed)?;
        let start = last.unwrap_or("");
        let mut out = Vec::new();
        for entry in tags
            .range((repository, start)..=(repository, "\u{10ffff}"))
            .map_err(failed)?
        {
            let (key, _) = entry.map_err(failed)?;
            let tag = key.value().1;
            if last.is_some() && tag == start {
                continue;
            }
            if out.len() == n {
                break;
            }
            out.push(tag.to_string());
        }
        Ok(out)
    }

    /// True when `repository` has any manifest.
    pub fn has_repository(&self, repository: &str) -> Result<bool, OciError> {
        let tx = self.db.begin_read().map_err(failed)?;
        let listed = tx.open_table(IN_REPOSITORY).map_err(failed)?;
        let mut range = listed
            .range((repository, "")..=(repository, "\u{10ffff}"))
            .map_err(failed)?;
        Ok(range.next().is_some())
    }

    /// The manifests of `repository` that refer to `subject` (its signatures).
    pub fn referrers(
        &self,
        repository: &str,
        subject: &Digest,
    ) -> Result<Vec<(Digest, String)>, OciError> {
        let tx = self.db.begin_read().map_err(failed)?;
        let table = tx.open_table(REFERRERS).map_err(failed)?;
        let s = subject.as_str();
        let mut out = Vec::new();
        for entry in table
            .range((repository, s, "")..=(repository, s, "\u{10ffff}"))
            .map_err(failed)?
        {
            let (key, kind) = entry.map_err(failed)?;
            out.push((Digest::parse(key.value().2)?, kind.value().to_string()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::{MANIFEST, SIGNATURE, WASM_CONFIG, WASM_LAYER, parse_manifest};
    use serde_json::json;

    fn component(layer: char) -> (Vec<u8>, Manifest) {
        let bytes = json!({"schemaVersion": 2, "mediaType": MANIFEST,
            "config": {"mediaType": WASM_CONFIG, "digest": format!("sha256:{}", "a".repeat(64)), "size": 2},
            "layers": [{"mediaType": WASM_LAYER, "digest": format!("sha256:{}", layer.to_string().repeat(64)), "size": 9}]})
        .to_string()
        .into_bytes();
        let m = parse_manifest(MANIFEST, &bytes).unwrap();
        (bytes, m)
    }

    fn store() -> (tempfile::TempDir, Manifests) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SharedDb::open(&dir.path().join("store.redb")).unwrap());
        (dir, Manifests::open_shared(db).unwrap())
    }

    #[test]
    fn versions_never_change_and_are_found_by_tag_or_digest() {
        let (_dir, m) = store();
        let (v1, parsed) = component('b');
        let Pushed::New(d1) = m
            .push("dora/filter", Some("1.0.0"), &v1, &parsed, None)
            .unwrap()
        else {
            panic!("not new")
        };
        assert_eq!(
            m.push("dora/filter", Some("1.0.0"), &v1, &parsed, None)
                .unwrap(),
            Pushed::Unchanged(d1.clone())
        );
        let (other, parsed2) = component('c');
        let err = m
            .push("dora/filter", Some("1.0.0"), &other, &parsed2, None)
            .unwrap_err();
        assert_eq!(err.code, Code::Denied);
        assert!(err.message.contains("never changes"), "{err}");
        assert_eq!(
            m.get("dora/filter", "1.0.0").unwrap().unwrap(),
            (d1.clone(), v1.clone())
        );
        assert_eq!(m.get("dora/filter", d1.as_str()).unwrap().unwrap().1, v1);
        // Another repository does not see it.
        assert!(m.get("bob/filter", d1.as_str()).unwrap().is_none());
        assert!(!m.has_repository("bob/filter").unwrap());
        m.push("dora/filter", Some("1.1.0"), &other, &parsed2, None)
            .unwrap();
        m.push("dora/filter", Some("0.9.0"), &other, &parsed2, None)
            .unwrap();
        assert_eq!(
            m.tags("dora/filter", None, 10).unwrap(),
            ["0.9.0", "1.0.0", "1.1.0"]
        );
        assert_eq!(m.tags("dora/filter", Some("0.9.0"), 1).unwrap(), ["1.0.0"]);
        assert!(m.tags("dora/other", None, 10).unwrap().is_empty());
    }

    #[test]
    fn signatures_are_referrers_of_what_they_sign() {
        let (_dir, m) = store();
        let (v1, parsed) = component('b');
        let Pushed::New(d1) = m
            .push("dora/filter", Some("1.0.0"), &v1, &parsed, None)
            .unwrap()
        else {
            panic!("not new")
        };
        let sig = json!({"schemaVersion": 2, "mediaType": MANIFEST, "artifactType": SIGNATURE,
            "config": {"mediaType": crate::oci::EMPTY_CONFIG, "digest": format!("sha256:{}", "e".repeat(64)), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": format!("sha256:{}", "f".repeat(64)), "size": 300}],
            "subject": {"mediaType": MANIFEST, "digest": d1.as_str(), "size": v1.len()}})
        .to_string()
        .into_bytes();
        let parsed_sig = parse_manifest(MANIFEST, &sig).unwrap();
        let Pushed::New(ds) = m
            .push("dora/filter", None, &sig, &parsed_sig, None)
            .unwrap()
        else {
            panic!("not new")
        };
        assert_eq!(
            m.referrers("dora/filter", &d1).unwrap(),
            [(ds, SIGNATURE.to_string())]
        );
        assert!(m.referrers("dora/other", &d1).unwrap().is_empty());
    }
}
