//! What a plugin leaves in its output folder: its size (watched against the cap
//! while it runs), links that lead out of it, and emptying it after a failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Raises `over` once the files under `dir` pass `cap` bytes (never, without a
/// folder).
pub(super) async fn watch_output(dir: Option<&Path>, cap: u64, over: Arc<AtomicBool>) {
    let Some(dir) = dir.map(Path::to_path_buf) else {
        return std::future::pending().await;
    };
    let mut interval = Duration::from_millis(5);
    loop {
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_millis(50));
        let dir = dir.clone();
        let size = tokio::task::spawn_blocking(move || dir_size(&dir))
            .await
            .unwrap_or(0);
        if size > cap {
            over.store(true, Ordering::Relaxed);
            return;
        }
    }
}

/// Total size in bytes of the regular files under `dir` (symlinks not followed).
pub fn dir_size(dir: &Path) -> u64 {
    survey(dir).bytes
}

/// What a plugin left in its output directory.
#[derive(Default)]
pub(super) struct Survey {
    /// Size of the files in bytes (symbolic links not followed).
    pub(super) bytes: u64,
    /// A symbolic link that does not resolve inside the directory (relative to it),
    /// with what it holds. The sandbox refuses absolute targets, not relative ones
    /// that climb out (`../../etc/passwd`): harmless to the plugin, which cannot
    /// follow them, but not to the host, which reads the outputs.
    pub(super) escaping: Option<(PathBuf, PathBuf)>,
}

/// Walks the folder `root` (links not followed).
pub(super) fn survey(root: &Path) -> Survey {
    let mut survey = Survey::default();
    let mut real_root = None;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = path.symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_symlink() {
                if survey.escaping.is_some() {
                    continue;
                }
                let real_root = real_root.get_or_insert_with(|| {
                    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
                });
                // Followed to the end (links to links, `..` after a link): a link
                // that leads nowhere may lead out later.
                let inside =
                    std::fs::canonicalize(&path).is_ok_and(|real| real.starts_with(&*real_root));
                if !inside {
                    let link = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                    let target = std::fs::read_link(&path).unwrap_or_default();
                    survey.escaping = Some((link, target));
                }
            } else {
                survey.bytes += meta.len();
            }
        }
    }
    survey
}

/// Removes what `dir` holds (links, never what they lead to), keeping `dir`.
pub(super) fn discard_contents(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            // A link is removed, never what it leads to.
            let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}
