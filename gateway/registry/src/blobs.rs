//! Content-addressed blobs: each stored once under its sha256
//! (`blobs/sha256/<hex>` in an object store: the data folder by default, S3 when
//! configured), written only after its content was hashed and matched the digest
//! the client named. Uploads are sessions staged in a local folder: started,
//! given chunks in order (each at the offset the session has reached), then
//! finished with the digest; a blob larger than the limit is refused as soon as a
//! chunk passes it, and nothing is stored.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use sha2::Digest as _;

use crate::oci::{Code, Digest, OciError};

/// The blobs of the registry.
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    uploads: PathBuf,
    max_blob: u64,
    /// Who started each upload session (sessions do not outlive the process: the
    /// folder is emptied at open).
    owners: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// Upload sessions under way at once, at most.
pub const MAX_SESSIONS: usize = 256;

/// An upload session's id (a UUID).
pub type UploadId = String;

impl Blobs {
    /// Blobs in `store`, uploads staged in `uploads` (made if missing), blobs of at
    /// most `max_blob` bytes.
    pub fn open(
        store: Arc<dyn ObjectStore>,
        uploads: &Path,
        max_blob: u64,
    ) -> std::io::Result<Self> {
        // Sessions of a stopped server are not resumed (clients start again).
        if uploads.is_dir() {
            std::fs::remove_dir_all(uploads)?;
        }
        std::fs::create_dir_all(uploads)?;
        Ok(Blobs {
            store,
            uploads: uploads.to_path_buf(),
            max_blob,
            owners: Default::default(),
        })
    }

    /// The largest blob taken.
    pub fn max_blob(&self) -> u64 {
        self.max_blob
    }

    fn key(digest: &Digest) -> ObjectPath {
        ObjectPath::from(format!("blobs/sha256/{}", digest.hex()))
    }

    fn staged(&self, id: &str) -> Result<PathBuf, OciError> {
        // A session id is a UUID the registry made: anything else names no session.
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(OciError::new(
                Code::BlobUploadUnknown,
                format!("no upload {id:?}"),
            ));
        }
        Ok(self.uploads.join(id))
    }

    /// The size of the blob `digest`, if it is stored.
    pub async fn size(&self, digest: &Digest) -> Result<Option<u64>, OciError> {
        match self.store.head(&Self::key(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(OciError::new(
                Code::BlobUnknown,
                format!("the blob store failed: {e}"),
            )),
        }
    }

    /// The blob `digest`, streamed, with its size.
    pub async fn get(
        &self,
        digest: &Digest,
    ) -> Result<Option<(u64, object_store::GetResult)>, OciError> {
        match self.store.get(&Self::key(digest)).await {
            Ok(result) => Ok(Some((result.meta.size, result))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(OciError::new(
                Code::BlobUnknown,
                format!("the blob store failed: {e}"),
            )),
        }
    }

    /// The blob `digest` as a stream of chunks, with its size. A blob in a local
    /// folder is read by 1 MiB with one open file (object_store's own stream of
    /// a local file reads 8 KiB at a time, each read its own blocking task: a
    /// 64 MiB pull took 8,192 of them).
    pub async fn stream(
        &self,
        digest: &Digest,
    ) -> Result<
        Option<(
            u64,
            futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>,
        )>,
        OciError,
    > {
        use futures::StreamExt;
        let Some((size, result)) = self.get(digest).await? else {
            return Ok(None);
        };
        let stream = match result.payload {
            object_store::GetResultPayload::File(file, _) => {
                let file = tokio::fs::File::from_std(file);
                tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).boxed()
            }
            object_store::GetResultPayload::Stream(s) => {
                s.map(|chunk| chunk.map_err(std::io::Error::other)).boxed()
            }
        };
        Ok(Some((size, stream)))
    }

    /// The whole blob `digest` in memory (at most the blob limit), checked against
    /// its digest again (a blob store is not trusted to return what it was given).
    pub async fn read(&self, digest: &Digest) -> Result<Option<Vec<u8>>, OciError> {
        let Some((size, result)) = self.get(digest).await? else {
            return Ok(None);
        };
        if size > self.max_blob {
            return Err(OciError::new(
                Code::SizeInvalid,
                format!("blob {digest} has {size} bytes, more than this registry takes"),
            ));
        }
        let bytes = result
            .bytes()
            .await
            .map_err(|e| OciError::new(Code::BlobUnknown, format!("the blob store failed: {e}")))?;
        if &Digest::of(&bytes) != digest {
            return Err(OciError::new(
                Code::DigestInvalid,
                format!("the stored blob {digest} does not hash to its name"),
            ));
        }
        Ok(Some(bytes.to_vec()))
    }

    /// Starts an upload session (at most [`MAX_SESSIONS`] at a time).
    pub fn start(&self) -> Result<UploadId, OciError> {
        self.start_for("")
    }

    /// Refuses (as unknown) a session `id` that `user` did not start.
    pub fn check_owner(&self, id: &str, user: &str) -> Result<(), OciError> {
        let owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        match owners.get(id) {
            Some(owner) if owner == user => Ok(()),
            _ => Err(OciError::new(
                Code::BlobUploadUnknown,
                format!("no upload {id:?} of yours"),
            )),
        }
    }

    /// Starts an upload session of `user` (see [`Blobs::check_owner`]).
    pub fn start_for(&self, user: &str) -> Result<UploadId, OciError> {
        let open = std::fs::read_dir(&self.uploads)
            .map(|d| d.count())
            .unwrap_or(0);
        if open >= MAX_SESSIONS {
            return Err(OciError::new(
                Code::TooManyRequests,
                format!(
                    "{open} uploads are under way, the most this registry takes; try again shortly"
                ),
            )
            .retry_after(10));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), user.to_string());
        std::fs::File::create(self.uploads.join(&id)).map_err(|e| {
            OciError::new(
                Code::BlobUploadInvalid,
                format!("cannot start an upload: {e}"),
            )
        })?;
        Ok(id)
    }

    /// How many bytes session `id` holds.
    pub fn offset(&self, id: &str) -> Result<u64, OciError> {
        let path = self.staged(id)?;
        std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|_| OciError::new(Code::BlobUploadUnknown, format!("no upload {id:?}")))
    }

    /// Appends the chunks of `body` to session `id` at `at` (the offset it has
    /// reached, when the client says; a chunk elsewhere is refused), without
    /// holding more than one chunk in memory; the session is ended (and nothing
    /// stored) as soon as it passes the blob limit. Returns the new size.
    pub async fn append_stream<S, E>(
        &self,
        id: &str,
        at: Option<u64>,
        body: S,
    ) -> Result<u64, OciError>
    where
        S: futures::Stream<Item = Result<bytes::Bytes, E>>,
        E: std::fmt::Display,
    {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let mut size = self.offset(id)?;
        if let Some(at) = at {
            if at != size {
                return Err(OciError::new(
                    Code::BlobUploadInvalid,
                    format!("the chunk starts at {at}; the upload holds {size} bytes"),
                ));
            }
        }
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(self.staged(id)?)
            .await
            .map_err(|_| OciError::new(Code::BlobUploadUnknown, format!("no upload {id:?}")))?;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                OciError::new(
                    Code::BlobUploadInvalid,
                    format!("the upload broke off: {e}"),
                )
            })?;
            size += chunk.len() as u64;
            if size > self.max_blob {
                drop(file);
                self.cancel(id);
                return Err(OciError::new(
                    Code::SizeInvalid,
                    format!(
                        "the blob passes {} bytes, the most this registry takes",
                        self.max_blob
                    ),
                ));
            }
            file.write_all(&chunk).await.map_err(|e| {
                OciError::new(
                    Code::BlobUploadInvalid,
                    format!("cannot stage the chunk: {e}"),
                )
            })?;
        }
        file.flush().await.map_err(|e| {
            OciError::new(
                Code::BlobUploadInvalid,
                format!("cannot stage the chunk: {e}"),
            )
        })?;
        Ok(size)
    }

    /// Stores what session `id` holds when it hashes to `digest`; the session is
    /// gone either way.
    pub async fn commit(&self, id: &str, digest: &Digest) -> Result<u64, OciError> {
        let path = self.staged(id)?;
        if !path.is_file() {
            return Err(OciError::new(
                Code::BlobUploadUnknown,
                format!("no upload {id:?}"),
            ));
        }
        let result = self.store_staged(&path, digest).await;
        self.cancel(id);
        result
    }

    /// Stores `bytes` as the blob `digest` in one request (a monolithic upload).
    pub async fn put(&self, digest: &Digest, bytes: &[u8]) -> Result<u64, OciError> {
        let id = self.start()?;
        let chunk = bytes::Bytes::copy_from_slice(bytes);
        let once = futures::stream::once(async { Ok::<_, std::convert::Infallible>(chunk) });
        if let Err(e) = self.append_stream(&id, Some(0), once).await {
            self.cancel(&id);
            return Err(e);
        }
        self.commit(&id, digest).await
    }

    async fn store_staged(&self, path: &Path, digest: &Digest) -> Result<u64, OciError> {
        let (actual, size) = {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || -> std::io::Result<(Digest, u64)> {
                let mut file = std::fs::File::open(&path)?;
                let mut hasher = sha2::Sha256::new();
                let size = std::io::copy(&mut file, &mut hasher)?;
                Ok((Digest::from_hasher(hasher), size))
            })
            .await
            .map_err(|e| OciError::new(Code::BlobUploadInvalid, e.to_string()))?
            .map_err(|e| {
                OciError::new(
                    Code::BlobUploadInvalid,
                    format!("cannot read the upload: {e}"),
                )
            })?
        };
        if &actual != digest {
            return Err(OciError::new(
                Code::DigestInvalid,
                format!("the content's digest is {actual}, not {digest}"),
            ));
        }
        if self.size(digest).await?.is_some() {
            return Ok(size);
        }
        let upload = async {
            let mut file = tokio::fs::File::open(path).await?;
            let mut writer =
                object_store::buffered::BufWriter::new(self.store.clone(), Self::key(digest));
            tokio::io::copy(&mut file, &mut writer).await?;
            tokio::io::AsyncWriteExt::shutdown(&mut writer).await?;
            std::io::Result::Ok(())
        };
        upload.await.map_err(|e| {
            OciError::new(
                Code::BlobUploadInvalid,
                format!("cannot store the blob: {e}"),
            )
        })?;
        Ok(size)
    }

    /// Ends session `id` without storing anything.
    pub fn cancel(&self, id: &str) {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        if let Ok(path) = self.staged(id) {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn blobs(dir: &Path, max: u64) -> Blobs {
        std::fs::create_dir_all(dir.join("objects")).unwrap();
        let store =
            object_store::local::LocalFileSystem::new_with_prefix(dir.join("objects")).unwrap();
        Blobs::open(Arc::new(store), &dir.join("uploads"), max).unwrap()
    }

    /// One chunk appended to session `id` at `at`.
    async fn append(
        blobs: &Blobs,
        id: &str,
        at: Option<u64>,
        bytes: &[u8],
    ) -> Result<u64, OciError> {
        let chunk = bytes::Bytes::copy_from_slice(bytes);
        let once = futures::stream::once(async { Ok::<_, std::convert::Infallible>(chunk) });
        blobs.append_stream(id, at, once).await
    }

    async fn read(blobs: &Blobs, digest: &Digest) -> Vec<u8> {
        let (_, got) = blobs.get(digest).await.unwrap().unwrap();
        let mut out = Vec::new();
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn chunks_in_order_make_a_blob_stored_under_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = blobs(dir.path(), 1 << 20);
        let content = b"\0asm component bytes".repeat(100);
        let digest = Digest::of(&content);
        let id = blobs.start().unwrap();
        assert_eq!(
            append(&blobs, &id, Some(0), &content[..1000])
                .await
                .unwrap(),
            1000
        );
        // A chunk at the wrong offset is refused; the session stays as it was.
        let err = append(&blobs, &id, Some(5), &content[1000..1500])
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::BlobUploadInvalid);
        assert_eq!(blobs.offset(&id).unwrap(), 1000);
        append(&blobs, &id, None, &content[1000..]).await.unwrap();
        assert_eq!(
            blobs.commit(&id, &digest).await.unwrap(),
            content.len() as u64
        );
        assert_eq!(
            blobs.size(&digest).await.unwrap(),
            Some(content.len() as u64)
        );
        assert_eq!(read(&blobs, &digest).await, content);
        assert_eq!(blobs.offset(&id).unwrap_err().code, Code::BlobUploadUnknown);
        // The same content again: stored once, nothing changes.
        assert_eq!(
            blobs.put(&digest, &content).await.unwrap(),
            content.len() as u64
        );
    }

    #[tokio::test]
    async fn wrong_digests_oversized_blobs_and_unknown_sessions_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = blobs(dir.path(), 1000);
        let claimed = Digest::of(b"something else");
        let err = blobs.put(&claimed, b"the bytes").await.unwrap_err();
        assert_eq!(err.code, Code::DigestInvalid);
        assert!(
            err.message.contains(Digest::of(b"the bytes").as_str()),
            "{err}"
        );
        assert_eq!(blobs.size(&claimed).await.unwrap(), None);
        assert_eq!(blobs.size(&Digest::of(b"the bytes")).await.unwrap(), None);
        let id = blobs.start().unwrap();
        let err = append(&blobs, &id, None, &[0; 1001]).await.unwrap_err();
        assert_eq!(err.code, Code::SizeInvalid);
        assert_eq!(blobs.offset(&id).unwrap_err().code, Code::BlobUploadUnknown);
        for bad in ["../../etc/passwd", "x", ""] {
            assert_eq!(
                blobs.offset(bad).unwrap_err().code,
                Code::BlobUploadUnknown,
                "{bad}"
            );
        }
        // Nothing is left staged.
        assert_eq!(
            std::fs::read_dir(dir.path().join("uploads"))
                .unwrap()
                .count(),
            0
        );
    }
}
