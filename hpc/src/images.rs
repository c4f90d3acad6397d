//! The image cache: one SIF file (`NAME.sif`) or one root-filesystem folder
//! (`NAME/`) per image, in a folder the operator fills or the pull command fills
//! on first use. A missing image is pulled once however many steps ask for it at
//! the same time (one lock per image in this process; the result lands under its
//! name by a rename, so that another process never sees half an image).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::container::Runtime;

/// The images of a site.
pub struct ImageCache {
    dir: PathBuf,
    runtime: Runtime,
    pull: Option<Vec<String>>,
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pulls: AtomicU64,
}

/// The name an image has in the cache: `debian:bookworm` and
/// `docker.io/library/debian:bookworm` are `debian_bookworm`; a name without a
/// tag is `:latest`. Names with anything but letters, digits and `. _ - / : @`
/// are refused.
pub fn cache_name(image: &str) -> Result<String, String> {
    let bare = image.strip_prefix("docker://").unwrap_or(image);
    if bare.is_empty()
        || bare.len() > 255
        || !bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        || bare.starts_with(['.', '/', '-'])
        || bare.contains("..")
    {
        return Err(format!(
            "image name {image:?}: letters, digits and . _ - / : @ only"
        ));
    }
    let bare = bare.strip_prefix("docker.io/").unwrap_or(bare);
    let bare = bare.strip_prefix("library/").unwrap_or(bare);
    let last = bare.rsplit('/').next().unwrap_or(bare);
    let tagged = if last.contains(':') || last.contains('@') {
        bare.to_string()
    } else {
        format!("{bare}:latest")
    };
    Ok(tagged.replace(['/', ':', '@'], "_"))
}

impl ImageCache {
    /// The cache in `dir` for `runtime`; `pull` fetches a missing image (see
    /// [`ContainerConfig::pull`](crate::config::ContainerConfig::pull)).
    pub fn new(dir: PathBuf, runtime: Runtime, pull: Option<Vec<String>>) -> Self {
        let pull = pull.or_else(|| match runtime {
            Runtime::Apptainer => Some(
                ["apptainer", "pull", "{dest}", "docker://{image}"]
                    .map(String::from)
                    .to_vec(),
            ),
            Runtime::Singularity => Some(
                ["singularity", "pull", "{dest}", "docker://{image}"]
                    .map(String::from)
                    .to_vec(),
            ),
            Runtime::Bwrap => None,
        });
        Self {
            dir,
            runtime,
            pull,
            locks: Default::default(),
            pulls: AtomicU64::new(0),
        }
    }

    /// The runtime the images are for.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many pulls this cache ran.
    pub fn pulls(&self) -> u64 {
        self.pulls.load(Ordering::Relaxed)
    }

    /// True when a missing image can be fetched.
    pub fn can_pull(&self) -> bool {
        self.pull.is_some()
    }

    /// The image if the cache has it.
    pub fn find(&self, image: &str) -> Result<Option<PathBuf>, String> {
        let name = cache_name(image)?;
        let folder = self.dir.join(&name);
        if folder.is_dir() {
            return Ok(Some(folder));
        }
        let sif = self.dir.join(format!("{name}.sif"));
        if sif.is_file() && self.runtime != Runtime::Bwrap {
            return Ok(Some(sif));
        }
        Ok(None)
    }

    /// The image, pulled first if the cache does not have it.
    pub async fn resolve(&self, image: &str) -> Result<PathBuf, String> {
        if let Some(found) = self.find(image)? {
            return Ok(found);
        }
        let name = cache_name(image)?;
        let Some(pull) = self.pull.clone() else {
            return Err(format!(
                "image {image} is not in the image cache {} (a root-filesystem folder {name}/ for bwrap) and no pull command is configured",
                self.dir.display()
            ));
        };
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.clone())
            .or_default()
            .clone();
        let _held = lock.lock().await;
        // Another step may have pulled it while this one waited.
        if let Some(found) = self.find(image)? {
            return Ok(found);
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot make {}: {e}", self.dir.display()))?;
        let partial = self.dir.join(format!(
            ".{name}.{}.partial{}",
            std::process::id(),
            if self.runtime == Runtime::Bwrap {
                ""
            } else {
                ".sif"
            }
        ));
        let _ = std::fs::remove_dir_all(&partial);
        let _ = std::fs::remove_file(&partial);
        let dest = partial.display().to_string();
        let bare = image.strip_prefix("docker://").unwrap_or(image);
        let argv: Vec<String> = pull
            .iter()
            .map(|a| a.replace("{dest}", &dest).replace("{image}", bare))
            .collect();
        tracing::info!(image, command = ?argv, "pulling an image into the cache");
        self.pulls.fetch_add(1, Ordering::Relaxed);
        let output = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        if !output.status.success() {
            let _ = std::fs::remove_dir_all(&partial);
            let _ = std::fs::remove_file(&partial);
            return Err(format!(
                "pulling {image} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let target = if partial.is_dir() {
            self.dir.join(&name)
        } else if partial.is_file() {
            self.dir.join(format!("{name}.sif"))
        } else {
            return Err(format!(
                "the pull command of {image} succeeded but made nothing at {dest}"
            ));
        };
        std::fs::rename(&partial, &target)
            .map_err(|e| format!("cannot move the image to {}: {e}", target.display()))?;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_cache() {
        assert_eq!(cache_name("debian:bookworm").unwrap(), "debian_bookworm");
        assert_eq!(
            cache_name("docker.io/library/debian:bookworm").unwrap(),
            "debian_bookworm"
        );
        assert_eq!(cache_name("busybox").unwrap(), "busybox_latest");
        assert_eq!(
            cache_name("ghcr.io/eoepca/water-bodies:1.1.0").unwrap(),
            "ghcr.io_eoepca_water-bodies_1.1.0"
        );
        assert_eq!(
            cache_name("docker://quay.io/x/y@sha256:ab").unwrap(),
            "quay.io_x_y_sha256_ab"
        );
        for bad in ["", "../etc", "/abs", "a b", "a;rm", "-x", "a/../b"] {
            assert!(cache_name(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_missing_image_is_pulled_once_for_concurrent_callers() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("pulls.log");
        let script = format!(
            "echo pulled >> {}; sleep 0.3; mkdir -p \"$0/bin\"",
            log.display()
        );
        let cache = Arc::new(ImageCache::new(
            dir.path().join("images"),
            Runtime::Bwrap,
            Some(vec!["sh".into(), "-c".into(), script, "{dest}".into()]),
        ));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let cache = cache.clone();
            tasks.push(tokio::spawn(
                async move { cache.resolve("busybox:1").await },
            ));
        }
        for task in tasks {
            let path = task.await.unwrap().unwrap();
            assert_eq!(path, dir.path().join("images/busybox_1"));
        }
        assert_eq!(cache.pulls(), 1);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "pulled\n");
        let none = ImageCache::new(dir.path().join("images"), Runtime::Bwrap, None);
        let error = none.resolve("alpine:3").await.unwrap_err();
        assert!(error.contains("not in the image cache"), "{error}");
    }
}
