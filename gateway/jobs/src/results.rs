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

    /// After a successful run: uploads the job's files when the store is remote.
    pub async fn publish(&self, id: &str) -> anyhow::Result<()> {
        if !self.remote {
            return Ok(());
        }
        let dir = self.local_dir(id);
        let mut files = Vec::new();
        collect(&dir, &dir, &mut files)?;
        for rel in files {
            let bytes = tokio::fs::read(dir.join(&rel)).await?;
            self.store
                .put(&self.key(id, &rel)?, bytes.into())
                .await
                .map_err(|e| anyhow::anyhow!("cannot upload result {rel}: {e}"))?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    /// A result file's bytes, or `None` if there is no such file.
    pub async fn read(&self, id: &str, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let Ok(key) = self.key(id, path) else {
            return Ok(None);
        };
        match self.store.get(&key).await {
            Ok(result) => {
                let mut out = Vec::new();
                let mut stream = result.into_stream();
                while let Some(chunk) = stream.next().await {
                    out.extend_from_slice(&chunk?);
                }
                Ok(Some(out))
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
