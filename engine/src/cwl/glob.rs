//! Glob patterns of `outputBinding.glob`: `*`, `?` and `[...]` within one path
//! component, `/` between components, no `**` (as in POSIX `glob(3)`, which the
//! spec refers to).

use std::path::{Path, PathBuf};

/// Paths under `root` matching `pattern`, sorted. Hidden names match only a pattern
/// that starts with a dot. A pattern that is a plain path matches it if it exists.
pub fn glob(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
    if pattern == "." {
        return vec![root.to_path_buf()];
    }
    let relative = Path::new(pattern)
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().into_owned());
    let pattern = relative
        .as_deref()
        .unwrap_or(pattern)
        .trim_start_matches('/');
    let mut current = vec![root.to_path_buf()];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for dir in &current {
            if !has_magic(part) {
                let candidate = dir.join(part);
                if candidate.symlink_metadata().is_ok() {
                    next.push(candidate);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if matches(part.as_bytes(), name.as_bytes()) {
                    next.push(entry.path());
                }
            }
        }
        current = next;
    }
    current.sort();
    current
}

fn has_magic(part: &str) -> bool {
    part.contains(['*', '?', '['])
}

/// Matches one path component against one pattern component.
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let (mut star, mut star_n) = (None, 0);
    while n < name.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some(p);
                    star_n = n;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' => {
                    if let Some((ok, len)) = class(&pattern[p..], name[n]) {
                        if ok {
                            p += len;
                            n += 1;
                            continue;
                        }
                    } else if name[n] == b'[' {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
                c if c == name[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some(s) => {
                p = s + 1;
                star_n += 1;
                n = star_n;
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches a `[...]` class at the start of `pattern`: (matched, length of the class).
fn class(pattern: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pattern.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    while i < pattern.len() && (pattern[i] != b']' || first) {
        first = false;
        if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            if pattern[i] <= c && c <= pattern[i + 2] {
                found = true;
            }
            i += 3;
        } else {
            if pattern[i] == c {
                found = true;
            }
            i += 1;
        }
    }
    (i < pattern.len()).then_some((found != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns() {
        assert!(matches(b"*.csv", b"reaches.csv"));
        assert!(!matches(b"*.csv", b"reaches.geojson"));
        assert!(matches(b"copy-*", b"copy-a.zip"));
        assert!(matches(b"r?ach[0-9].txt", b"reach7.txt"));
        assert!(!matches(b"reach[!0-9]", b"reach7"));
        assert!(matches(b"*", b""));
        assert!(matches(b"a*b*c", b"axxbyyc"));
    }
}
