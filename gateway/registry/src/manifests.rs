//! The repositories' manifests, version tags and referrers, in the registry's
//! [records](crate::records). A manifest is kept once by digest and listed in each
//! repository it was pushed to; a tag (a version) names one manifest for ever: a
//! second push of the same version with other bytes is refused, the same bytes
//! again change nothing. A signature's manifest is listed as a referrer of the
//! manifest it signs.

use std::sync::Arc;

use crate::oci::{Code, Digest, Manifest, OciError};
use crate::records::{RecordTx, Records, RecordsError, Table};

/// The manifests and tags of every repository.
pub struct Manifests {
    records: Arc<dyn Records>,
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
pub type Also = Box<dyn Fn(&mut dyn RecordTx) -> crate::records::Result<()> + Send>;

fn changed(repository: &str, tag: &str, existing: &Digest) -> OciError {
    OciError::new(
        Code::Denied,
        format!(
            "{repository}:{tag} is {existing}; a pushed version never changes (push a new version)"
        ),
    )
}

pub(crate) fn failed(e: RecordsError) -> OciError {
    match e.into_refusal::<OciError>() {
        Ok(mine) => mine,
        Err(RecordsError::Unavailable(why)) => OciError::new(Code::Unavailable, why).retry_after(5),
        Err(e) => OciError::new(
            Code::ManifestInvalid,
            format!("the registry's store failed: {e}"),
        ),
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Manifests {
    /// The manifests in `records`.
    pub fn new(records: Arc<dyn Records>) -> Self {
        Manifests { records }
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
        self.records
            .write(Box::new(move |tx| {
                if let Some(tag) = &tag_owned {
                    // Checked again in the commit: two pushes of one version race.
                    if let Some(other) = tx.get(Table::Tags, &[&repo, tag])? {
                        let other = text(other);
                        if other != key {
                            let other = Digest::parse(&other).unwrap_or_else(|_| Digest::of(b""));
                            return Err(RecordsError::refused(changed(&repo, tag, &other)));
                        }
                    }
                    tx.put(Table::Tags, &[&repo, tag], key.as_bytes())?;
                }
                tx.put(Table::Manifests, &[&key], &body)?;
                tx.put(Table::InRepository, &[&repo, &key], &[])?;
                if let Some(subject) = &referrer {
                    tx.put(
                        Table::Referrers,
                        &[&repo, subject, &key],
                        crate::oci::SIGNATURE.as_bytes(),
                    )?;
                }
                if let Some(also) = &also {
                    also(tx)?;
                }
                Ok(())
            }))
            .map_err(failed)?;
        Ok(Pushed::New(digest))
    }

    /// The digest `tag` names in `repository`.
    pub fn tag(&self, repository: &str, tag: &str) -> Result<Option<Digest>, OciError> {
        let found = self
            .records
            .get(Table::Tags, &[repository, tag])
            .map_err(failed)?;
        found.map(|v| Digest::parse(&text(v))).transpose()
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
        let listed = self
            .records
            .get(Table::InRepository, &[repository, digest.as_str()])
            .map_err(failed)?;
        if listed.is_none() {
            return Ok(None);
        }
        let found = self
            .records
            .get(Table::Manifests, &[digest.as_str()])
            .map_err(failed)?;
        Ok(found.map(|v| (digest.clone(), v)))
    }

    /// The tags of `repository` in order, after `last` (exclusive), at most `n`.
    pub fn tags(
        &self,
        repository: &str,
        last: Option<&str>,
        n: usize,
    ) -> Result<Vec<String>, OciError> {
        let entries = self
            .records
            .scan(Table::Tags, &[repository], last, n)
            .map_err(failed)?;
        Ok(entries
            .into_iter()
            .map(|(mut key, _)| key.swap_remove(1))
            .collect())
    }

    /// True when `repository` has any manifest.
    pub fn has_repository(&self, repository: &str) -> Result<bool, OciError> {
        let first = self
            .records
            .scan(Table::InRepository, &[repository], None, 1)
            .map_err(failed)?;
        Ok(!first.is_empty())
    }

    /// The manifests of `repository` that refer to `subject` (its signatures).
    pub fn referrers(
        &self,
        repository: &str,
        subject: &Digest,
    ) -> Result<Vec<(Digest, String)>, OciError> {
        let entries = self
            .records
            .scan(
                Table::Referrers,
                &[repository, subject.as_str()],
                None,
                usize::MAX,
            )
            .map_err(failed)?;
        entries
            .into_iter()
            .map(|(key, kind)| Ok((Digest::parse(&key[2])?, text(kind))))
            .collect()
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
        let (dir, records) = crate::records::testing::redb();
        (dir, Manifests::new(records))
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
