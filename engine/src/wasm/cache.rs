//! The on-disk cache of compiled components.
//!
//! Compiling a component with Cranelift takes from milliseconds to seconds; loading a
//! precompiled artifact takes microseconds. Entries are keyed by the component's
//! sha256 and by a hash of everything that makes an artifact incompatible (engine
//! version, wasmtime version and configuration, host CPU features). Each entry carries
//! the sha256 of its own bytes, checked before wasmtime maps it: a tampered or
//! truncated entry is detected, removed and rebuilt instead of being executed.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

const MAGIC: &[u8; 16] = b"HYSOPE-CWASM-v1\n";

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    compat: String,
}

/// Why a cache entry was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMiss {
    /// No entry for this component and engine.
    Absent,
    /// The entry's bytes do not match its checksum (tampered or truncated).
    Corrupt,
}

impl ArtifactCache {
    /// Opens (and creates) the cache directory for `engine`.
    pub fn open(dir: impl Into<PathBuf>, engine: &wasmtime::Engine) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        crate::ENGINE_VERSION.hash(&mut hasher);
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir,
            compat: format!("{:016x}", hasher.finish()),
        })
    }

    /// The file that holds the artifact of the component with this sha256.
    pub fn entry_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.compat))
    }

    /// Returns the verified artifact bytes, or why there are none.
    pub fn get(&self, sha256: &str) -> std::result::Result<Vec<u8>, CacheMiss> {
        let path = self.entry_path(sha256);
        let Ok(bytes) = std::fs::read(&path) else {
            return Err(CacheMiss::Absent);
        };
        match verify(&bytes) {
            Some(artifact) => Ok(artifact.to_vec()),
            None => {
                tracing::warn!(path = %path.display(), "corrupt compiled artifact removed");
                let _ = std::fs::remove_file(&path);
                Err(CacheMiss::Corrupt)
            }
        }
    }

    /// Stores an artifact atomically (write to a temporary file, then rename).
    pub fn put(&self, sha256: &str, artifact: &[u8]) -> Result<()> {
        let path = self.entry_path(sha256);
        // One temporary file per write: two jobs of a process that compile the same
        // component at once must not write into the same file.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".{sha256}.{}.{n}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(MAGIC)?;
            file.write_all(&Sha256::digest(artifact))?;
            file.write_all(artifact)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(&path, e)
        })
    }

    /// Removes an entry that wasmtime refused (built by another engine build).
    pub fn remove(&self, sha256: &str) {
        let _ = std::fs::remove_file(self.entry_path(sha256));
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn verify(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 32 {
        return None;
    }
    let (sum, artifact) = rest.split_at(32);
    (Sha256::digest(artifact).as_slice() == sum).then_some(artifact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writes_of_one_entry_all_succeed_and_leave_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let engine = wasmtime::Engine::default();
        let cache = ArtifactCache::open(dir.path(), &engine).unwrap();
        let artifact: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
        std::thread::scope(|s| {
            let writers: Vec<_> = (0..8)
                .map(|_| s.spawn(|| cache.put("abc", &artifact)))
                .collect();
            for w in writers {
                w.join().unwrap().unwrap();
            }
        });
        assert_eq!(cache.get("abc").unwrap(), artifact);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "temporary files left: {left:?}");
    }
}
