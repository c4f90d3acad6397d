//! Where job results live: an `object_store` store. The default is the local
//! file system under `DATA_DIR/results` (the runner writes there directly); with
//! `--results s3://BUCKET/PREFIX` each successful job's files are uploaded to S3
//! (configured from the `AWS_*` variables) and the local copy removed, so that
//! any gateway in front of the same bucket serves them.
//!
//! Each attempt at a job writes under a name of its own, `JOB/ATTEMPT/PATH`: a
//! worker whose lease lapsed while its run went on (a store out of reach, a
//! paused machine) may still finish and upload, and must not overwrite the
//! files of the attempt that took the job over. The record written last, fenced
//! by its attempt number, says which attempt's files are the job's.

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

    /// The local folder the runner of attempt `attempt` at job `id` writes to.
    pub fn local_dir(&self, id: &str, attempt: u32) -> PathBuf {
        self.local_root.join(id).join(attempt.to_string())
    }

    /// The object `path` of job `id` (with `attempt`, that attempt's; without,
    /// where results were kept before attempts had names of their own).
    fn key(&self, id: &str, attempt: Option<u32>, path: &str) -> anyhow::Result<ObjectPath> {
        let mut joined = String::new();
        if !self.prefix.is_empty() {
            joined.push_str(&self.prefix);
            joined.push('/');
        }
        joined.push_str(id);
        joined.push('/');
        if let Some(attempt) = attempt {
            joined.push_str(&attempt.to_string());
            joined.push('/');
        }
        joined.push_str(path);
        Ok(ObjectPath::parse(joined)?)
    }

    /// After a successful run of attempt `attempt`: makes its local files durable
    /// (each file, then each folder, up to the results folder: a job is
    /// successful only once its files would survive a power cut), or uploads them
    /// when the store is remote.
    pub async fn publish(&self, id: &str, attempt: u32) -> anyhow::Result<()> {
        if !self.remote {
            let (dir, root) = (self.local_dir(id, attempt), self.local_root.clone());
            return tokio::task::spawn_blocking(move || sync_job(&dir, &root)).await?;
        }
        let dir = self.local_dir(id, attempt);
        let mut files = Vec::new();
        collect(&dir, &dir, &mut files)?;
        for rel in files {
            // Streamed: a small file in one request, a large one in parts, never
            // held whole.
            let upload = async {
                let mut file = tokio::fs::File::open(dir.join(&rel)).await?;
                let mut writer = object_store::buffered::BufWriter::new(
                    self.store.clone(),
                    self.key(id, Some(attempt), &rel)?,
                );
                tokio::io::copy(&mut file, &mut writer).await?;
                tokio::io::AsyncWriteExt::shutdown(&mut writer).await?;
                anyhow::Ok(())
            };
            upload
                .await
                .map_err(|e| anyhow::anyhow!("cannot upload result {rel}: {e:#}"))?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        // The job's folder, unless another attempt is writing in it.
        let _ = std::fs::remove_dir(self.local_root.join(id));
        Ok(())
    }

    /// The result file `path` of attempt `attempt` at job `id` as a stream of
    /// chunks with its size, or `None` if there is no such file: served as it is
    /// read, never held whole. Results kept before attempts had names of their
    /// own (`JOB/PATH`) are still found.
    pub async fn open_file(
        &self,
        id: &str,
        attempt: u32,
        path: &str,
    ) -> anyhow::Result<Option<ResultFile>> {
        match self.open_key(id, Some(attempt), path).await? {
            Some(file) => Ok(Some(file)),
            None => self.open_key(id, None, path).await,
        }
    }

    async fn open_key(
        &self,
        id: &str,
        attempt: Option<u32>,
        path: &str,
    ) -> anyhow::Result<Option<ResultFile>> {
        let Ok(key) = self.key(id, attempt, path) else {
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

    /// Removes a job's results, every attempt's (dismissal).
    pub async fn remove(&self, id: &str) -> anyhow::Result<()> {
        let _ = std::fs::remove_dir_all(self.local_root.join(id));
        self.remove_remote(self.key(id, None, "")?).await
    }

    /// Removes the files of one attempt at job `id` (an attempt whose record
    /// another attempt took over: its files are nobody's).
    pub async fn remove_attempt(&self, id: &str, attempt: u32) -> anyhow::Result<()> {
        let _ = std::fs::remove_dir_all(self.local_dir(id, attempt));
        self.remove_remote(self.key(id, Some(attempt), "")?).await
    }

    async fn remove_remote(&self, prefix: ObjectPath) -> anyhow::Result<()> {
        if self.remote {
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

/// Makes an attempt's folder `dir` durable, then the job's folder above it, then
/// the results folder `root`.
fn sync_job(dir: &Path, root: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    sync_tree(dir).map_err(|e| anyhow::anyhow!("cannot make the results durable: {e}"))?;
    if let Some(job) = dir.parent() {
        std::fs::File::open(job)?.sync_all()?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(results: &Results, id: &str, attempt: u32, path: &str) -> Option<String> {
        let file = results.open_file(id, attempt, path).await.unwrap()?;
        Some(String::from_utf8(file.read_at_most(1 << 20).await.unwrap()).unwrap())
    }

    #[tokio::test]
    async fn each_attempt_keeps_its_own_files() {
        let data = tempfile::tempdir().unwrap();
        let results = Results::open(data.path(), None).unwrap();
        for (attempt, text) in [(1, "first"), (2, "second")] {
            let dir = results.local_dir("job", attempt);
            std::fs::create_dir_all(dir.join("out")).unwrap();
            std::fs::write(dir.join("out/a.txt"), text).unwrap();
            results.publish("job", attempt).await.unwrap();
        }
        assert_eq!(
            read(&results, "job", 2, "out/a.txt").await.unwrap(),
            "second"
        );
        assert_eq!(
            read(&results, "job", 1, "out/a.txt").await.unwrap(),
            "first"
        );
        // The attempt that lost its record goes; the winner's files stay.
        results.remove_attempt("job", 1).await.unwrap();
        assert_eq!(read(&results, "job", 1, "out/a.txt").await, None);
        assert_eq!(
            read(&results, "job", 2, "out/a.txt").await.unwrap(),
            "second"
        );
        assert_eq!(read(&results, "job", 2, "out/b.txt").await, None);
        results.remove("job").await.unwrap();
        assert_eq!(read(&results, "job", 2, "out/a.txt").await, None);
        assert!(!data.path().join("results/job").exists());
    }

    #[tokio::test]
    async fn results_kept_before_attempts_had_folders_are_still_served() {
        let data = tempfile::tempdir().unwrap();
        let results = Results::open(data.path(), None).unwrap();
        std::fs::create_dir_all(data.path().join("results/old")).unwrap();
        std::fs::write(data.path().join("results/old/a.txt"), "kept").unwrap();
        assert_eq!(read(&results, "old", 3, "a.txt").await.unwrap(), "kept");
        assert_eq!(read(&results, "old", 3, "../a.txt").await, None);
    }
}
