//! Where job results live: an `object_store` store. The default is the local
//! file system under `DATA_DIR/results` (the runner writes there directly); with
//! `--results s3://BUCKET/PREFIX` each successful job's files are uploaded to S3
//! (configured from the `AWS_*` variables) and the local copy removed, so that
//! any gateway in front of the same bucket serves them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;

/// The result store and how its objects are named.
pub struct Results {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    remote: bool,
    local_root: PathBuf,
}

impl Results {
    /// The local store under `data_dir/results`, or the S3 location of `url`.
    pub fn open(data_dir: &Path, url: Option<&str>) -> anyhow::Result<Results> {
        let local_root = data_dir.join("results");
        std::fs::create_dir_all(&local_root)?;
        match url {
            None => Ok(Results {
                store: Arc::new(LocalFileSystem::new_with_prefix(&local_root)?),
                prefix: String::new(),
                remote: false,
                local_root,
            }),
            Some(url) => {
                let rest = url.strip_prefix("s3://").ok_or_else(|| {
                    anyhow::anyhow!("--results {url:?}: only s3://BUCKET[/PREFIX] is supported")
                })?;
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let store = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()?;
                Ok(Results {
                    store: Arc::new(store),
                    prefix: prefix.trim_matches('/').to_string(),
                    remote: true,
                    local_root,
                })
            }
        }
    }

    /// The local folder a job's runner writes to.
    pub fn local_dir(&self, id: &str) -> PathBuf {
        self.local_root.join(id)
    }

    fn key(&self, id: &str, path: &str) -> anyhow::Result<ObjectPath> {
        let joined = if self.prefix.is_empty() {
            format!("{id}/{path}")
        } else {
            format!("{}/{id}/{path}", self.prefix)
        };
        Ok(ObjectPath::parse(joined)?)
    }

    /// After a successful run: makes the job's local files durable (each file, then
    /// each folder, up to the results folder: a job is successful only once its
    /// files would survive a power cut), or uploads them when the store is remote.
    pub async fn publish(&self, id: &str) -> anyhow::Result<()> {
        if !self.remote {
            let (dir, root) = (self.local_dir(id), self.local_root.clone());
            return tokio::task::spawn_blocking(move || sync_job(&dir, &root)).await?;
        }
        let dir = self.local_dir(id);
        let mut files = Vec::new();
        collect(&dir, &dir, &mut files)?;
        for rel in files {
            // Streamed: a small file in one request, a large one in parts, never
            // held whole.
            let upload = async {
                let mut file = tokio::fs::File::open(dir.join(&rel)).await?;
                let mut writer =
                    object_store::buffered::BufWriter::new(self.store.clone(), self.key(id, &rel)?);
                tokio::io::copy(&mut file, &mut writer).await?;
                tokio::io::AsyncWriteExt::shutdown(&mut writer).await?;
                anyhow::Ok(())
            };
            upload
                .await
                .map_err(|e| anyhow::anyhow!("cannot upload result {rel}: {e:#}"))?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    /// A result file as a stream of chunks with its size, or `None` if there is
    /// no such file: served as it is read, never held whole.
    pub async fn open_file(&self, id: &str, path: &str) -> anyhow::Result<Option<ResultFile>> {
        let Ok(key) = self.key(id, path) else {
            return Ok(None);
        };
        match self.store.get(&key).await {
            Ok(result) => {
                let size = result.meta.size;
                // A local file is read by 256 KiB with one open file (object_store's
                // own stream of it reads 8 KiB at a time, a blocking task each).
                let chunks = match result.payload {
                    object_store::GetResultPayload::File(file, _) => {
                        tokio_util::io::ReaderStream::with_capacity(
                            tokio::fs::File::from_std(file),
                            256 << 10,
                        )
                        .boxed()
                    }
                    object_store::GetResultPayload::Stream(s) => {
                        s.map(|chunk| chunk.map_err(std::io::Error::other)).boxed()
                    }
                };
                Ok(Some(ResultFile { size, chunks }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a job's results (dismissal).
    pub async fn remove(&self, id: &str) -> anyhow::Result<()> {
        let _ = std::fs::remove_dir_all(self.local_dir(id));
        if self.remote {
            let prefix = self.key(id, "")?;
            let mut listing = self.store.list(Some(&prefix));
            while let Some(meta) = listing.next().await {
                self.store.delete(&meta?.location).await?;
            }
        }
        Ok(())
    }
}

/// A result file being read.
pub struct ResultFile {
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes, chunk by chunk.
    pub chunks: futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>,
}

impl ResultFile {
    /// The whole file, refused when larger than `limit` bytes (for the values a
    /// response carries inline).
    pub async fn read_at_most(mut self, limit: u64) -> std::io::Result<Vec<u8>> {
        if self.size > limit {
            return Err(std::io::Error::other(format!(
                "the file has {} bytes, more than the {limit} a response carries inline; ask for it by reference",
                self.size
            )));
        }
        let mut out = Vec::with_capacity(self.size as usize);
        while let Some(chunk) = self.chunks.next().await {
            out.extend_from_slice(&chunk?);
            if out.len() as u64 > limit {
                return Err(std::io::Error::other("the file grew past the inline limit"));
            }
        }
        Ok(out)
    }
}

fn sync_job(dir: &Path, root: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    sync_tree(dir).map_err(|e| anyhow::anyhow!("cannot make the results durable: {e}"))?;
    std::fs::File::open(root)?.sync_all()?;
    Ok(())
}

/// fsync of every file and folder under `dir` (files first).
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            sync_tree(&entry.path())?;
        } else if kind.is_file() {
            std::fs::File::open(entry.path())?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            out.push(path.strip_prefix(root)?.display().to_string());
        }
    }
    Ok(())
}
