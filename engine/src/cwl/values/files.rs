//! File and Directory objects: basename, nameroot, size, checksum, listing, file
//! and directory literals, `loadContents`, and secondary files.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use crate::cwl::expr::{Evaluator, Scope};
use crate::{Error, Result};

/// Largest file `loadContents` reads, per the spec.
pub const LOAD_CONTENTS_LIMIT: u64 = 64 * 1024;

/// Calls `f` on every File and Directory object in `value`, walking records and
/// arrays but not the objects themselves: `f` decides about their secondary files
/// and listings.
pub fn for_each_file(
    value: &mut Value,
    f: &mut dyn FnMut(&mut Map<String, Value>) -> Result<()>,
) -> Result<()> {
    match value {
        Value::Object(map)
            if matches!(
                map.get("class").and_then(Value::as_str),
                Some("File" | "Directory")
            ) =>
        {
            f(map)
        }
        Value::Object(map) => map.values_mut().try_for_each(|v| for_each_file(v, f)),
        Value::Array(items) => items.iter_mut().try_for_each(|v| for_each_file(v, f)),
        _ => Ok(()),
    }
}

/// The host path of a File or Directory object.
pub fn path_of(value: &Value) -> Option<PathBuf> {
    let raw = value
        .get("path")
        .or_else(|| value.get("location"))
        .and_then(Value::as_str)?;
    let raw = raw.strip_prefix("file://").unwrap_or(raw);
    Some(PathBuf::from(percent_decode(raw)))
}

/// Decodes `%XX` escapes byte by byte (a malformed escape is kept as it is).
pub fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Byte by byte: a `%` before a multi-byte character is kept as it is.
        if let (b'%', Some(&high), Some(&low)) = (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            if let (Some(high), Some(low)) = (hex(high), hex(low)) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn split_name(basename: &str) -> (String, String) {
    match basename.rfind('.') {
        Some(i) if i > 0 => (basename[..i].to_string(), basename[i..].to_string()),
        _ => (basename.to_string(), String::new()),
    }
}

/// Refuses a name that is not one path component: a `basename`, a listing entry's
/// name, a name things are staged or moved under. Such a name is joined to a
/// folder; `/`, `..` or an empty name would put the file elsewhere.
pub fn check_name(name: &str, at: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::cwl(
            at,
            format!("the name {name:?} is not one path component (no '/', not empty, '.' or '..')"),
        ));
    }
    Ok(())
}

/// Refuses a path meant to stay inside a folder (an `entryname`, a `stdout:`
/// file) that would leave it: absolute, with a `..` or an empty component.
pub fn check_inside(path: &str, at: &str) -> Result<()> {
    if path.starts_with('/')
        || path.contains('\0')
        || path
            .trim_end_matches('/')
            .split('/')
            .any(|p| p == ".." || p.is_empty())
    {
        return Err(Error::cwl(
            at,
            format!("{path:?} must be a path inside the output directory"),
        ));
    }
    Ok(())
}

/// The name a File or Directory object goes under in a folder: its `basename`
/// (checked), or else the last component of `source`.
pub fn name_of(map: &Map<String, Value>, source: Option<&Path>, at: &str) -> Result<String> {
    let name = match map.get("basename").and_then(Value::as_str) {
        Some(given) if !given.is_empty() => given.to_string(),
        _ => source
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    check_name(&name, at)?;
    Ok(name)
}

/// The `file://` URI of a host path, with the characters a URI reader would take
/// for something else (`%`, `#`, `?`) escaped, so that [`path_of`] gives the path
/// back as it is.
pub fn file_uri(path: &Path) -> String {
    let text = path.display().to_string();
    let mut out = String::with_capacity(text.len() + 7);
    out.push_str("file://");
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `path`, `location`, `basename`, `dirname`, `nameroot`, `nameext` of a File or
/// Directory that has a host path. A given `basename` must be one path component.
pub fn fill_names(map: &mut Map<String, Value>) -> Result<()> {
    let value = Value::Object(map.clone());
    let Some(path) = path_of(&value) else {
        return Ok(());
    };
    // A given basename wins: a File may be renamed, and is staged under that name.
    let basename = match map.get("basename").and_then(Value::as_str) {
        Some(b) if !b.is_empty() => {
            check_name(b, "basename")?;
            b.to_string()
        }
        _ => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    map.insert("path".into(), json!(path.display().to_string()));
    map.insert(
        "location".into(),
        json!(format!("file://{}", path.display())),
    );
    map.insert("basename".into(), json!(basename));
    if let Some(parent) = path.parent() {
        map.insert("dirname".into(), json!(parent.display().to_string()));
    }
    if map.get("class").and_then(Value::as_str) == Some("File") {
        let (root, ext) = split_name(&basename);
        map.insert("nameroot".into(), json!(root));
        map.insert("nameext".into(), json!(ext));
    }
    Ok(())
}

/// A File object for an existing host file, with size and sha1 checksum; a
/// Directory object with its listing.
pub fn file_object(path: &Path, listing_depth: usize) -> Result<Value> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        let mut map = Map::new();
        map.insert("class".into(), json!("Directory"));
        map.insert(
            "location".into(),
            json!(format!("file://{}", path.display())),
        );
        fill_names(&mut map)?;
        if listing_depth > 0 {
            map.insert(
                "listing".into(),
                Value::Array(listing(path, listing_depth - 1)?),
            );
        }
        return Ok(Value::Object(map));
    }
    let mut map = Map::new();
    map.insert("class".into(), json!("File"));
    map.insert(
        "location".into(),
        json!(format!("file://{}", path.display())),
    );
    fill_names(&mut map)?;
    map.insert("size".into(), json!(meta.len()));
    map.insert(
        "checksum".into(),
        json!(format!("sha1${}", sha1_file(path, meta.len())?)),
    );
    Ok(Value::Object(map))
}

/// The entries of a folder as File/Directory objects, sorted by name.
pub fn listing(dir: &Path, depth: usize) -> Result<Vec<Value>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries.iter().map(|p| file_object(p, depth)).collect()
}

/// The SHA-1 of a file of `size` bytes (the buffer is no larger than the file).
fn sha1_file(path: &Path, size: u64) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; size.clamp(1, 1 << 16) as usize];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The first 64 KiB of a file as text, for `loadContents`.
pub fn read_contents(path: &Path, at: &str) -> Result<String> {
    read_contents_limited(path, LOAD_CONTENTS_LIMIT, at)
}

/// A file as text, refused when larger than `limit` bytes: at most `limit + 1`
/// bytes are read, whatever the file says its size is (a device, a pipe).
pub fn read_contents_limited(path: &Path, limit: u64, at: &str) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut text = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut text)
        .map_err(|e| Error::io(path, e))?;
    if text.len() as u64 > limit {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Err(Error::cwl(
            at,
            format!("{name} is larger than {} KiB", limit / 1024),
        ));
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Materialises file and directory literals (`contents` without a location, `listing`
/// without a location) under `scratch`, and fills names, recursively.
pub fn materialise(value: &mut Value, scratch: &Path) -> Result<()> {
    for_each_file(value, &mut |map| {
        let class = map
            .get("class")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let has_location = map.contains_key("location") || map.contains_key("path");
        if !has_location {
            let basename = match map.get("basename").and_then(Value::as_str) {
                Some(given) => {
                    check_name(given, "basename")?;
                    given.to_string()
                }
                None => unique_name(&class),
            };
            let dir = scratch.join(unique_name("literal"));
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let target = dir.join(&basename);
            if class == "File" {
                let contents = map.get("contents").and_then(Value::as_str).unwrap_or("");
                std::fs::write(&target, contents).map_err(|e| Error::io(&target, e))?;
            } else {
                std::fs::create_dir_all(&target).map_err(|e| Error::io(&target, e))?;
                if let Some(Value::Array(items)) = map.get_mut("listing") {
                    for item in items.iter_mut() {
                        materialise(item, scratch)?;
                        place(item, &target)?;
                        for secondary in item
                            .get("secondaryFiles")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                        {
                            place(&secondary, &target)?;
                        }
                    }
                }
            }
            map.insert(
                "location".into(),
                json!(format!("file://{}", target.display())),
            );
            map.insert("path".into(), json!(target.display().to_string()));
        }
        fill_names(map)?;
        if class == "Directory" {
            if let Some(Value::Array(items)) = map.get_mut("listing") {
                for item in items.iter_mut() {
                    materialise(item, scratch)?;
                }
            }
        }
        if let Some(Value::Array(items)) = map.get_mut("secondaryFiles") {
            for item in items.iter_mut() {
                materialise(item, scratch)?;
            }
        }
        Ok(())
    })
}

/// Puts (links or copies) a File/Directory object's content into `dir` under its basename.
pub fn place(item: &Value, dir: &Path) -> Result<PathBuf> {
    let source = path_of(item).ok_or_else(|| Error::cwl("listing", "entry without a location"))?;
    let map = item.as_object().cloned().unwrap_or_default();
    let target = dir.join(name_of(&map, Some(&source), "listing")?);
    if source != target {
        copy_tree(&source, &target).map_err(|e| Error::io(&source, e))?;
    }
    Ok(target)
}

/// Copies a file or folder (hard links for files where possible).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)?.flatten() {
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _ = std::fs::remove_file(to);
        std::fs::copy(from, to).map(|_| ())
    }
}

/// `path` with its symbolic links resolved. Under `base` (a resolved path) and with
/// no link among its components below it, `path` is its own answer: one `lstat` per
/// component instead of the `readlink` per component of the whole path that
/// `realpath` costs. A path that cannot be resolved is returned as it is.
pub fn real_path(path: &Path, base: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix(base) {
        let mut at = base.to_path_buf();
        let plain = rest.components().all(|c| {
            at.push(c);
            matches!(c, std::path::Component::Normal(_))
                && at
                    .symlink_metadata()
                    .is_ok_and(|m| !m.file_type().is_symlink())
        });
        if plain {
            return path.to_path_buf();
        }
    }
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A name unique in this process.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{t:x}", process_id())
}

/// This process's id, asked of the system once (a system call per name made).
pub(crate) fn process_id() -> u32 {
    static ID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *ID.get_or_init(std::process::id)
}

/// Fills names and, when asked, contents and listings of every File/Directory in `value`.
pub fn complete_files(
    value: &mut Value,
    load_contents: bool,
    listing_depth: Option<usize>,
    at: &str,
) -> Result<()> {
    for_each_file(value, &mut |map| {
        fill_names(map).map_err(|e| Error::cwl(at, e.to_string()))?;
        let path = path_of(&Value::Object(map.clone()));
        let class = map
            .get("class")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(path) = path {
            if class == "File" {
                if !path.is_file() {
                    return Err(Error::cwl(
                        at,
                        format!("input file not found: {}", path.display()),
                    ));
                }
                if !map.contains_key("size") {
                    if let Ok(meta) = std::fs::metadata(&path) {
                        map.insert("size".into(), json!(meta.len()));
                    }
                }
                if load_contents && !map.contains_key("contents") {
                    map.insert("contents".into(), json!(read_contents(&path, at)?));
                }
            } else {
                if !path.is_dir() {
                    return Err(Error::cwl(
                        at,
                        format!("input directory not found: {}", path.display()),
                    ));
                }
                if let Some(depth) = listing_depth {
                    if !map.contains_key("listing") && depth > 0 {
                        map.insert("listing".into(), Value::Array(listing(&path, depth - 1)?));
                    }
                }
            }
        }
        for key in ["secondaryFiles", "listing"] {
            if let Some(Value::Array(items)) = map.get_mut(key) {
                for item in items.iter_mut() {
                    complete_files(item, false, None, at)?;
                }
            }
        }
        Ok(())
    })
}

/// The secondary files of `primary` per the patterns (`^.bai`, `.idx?`, or an
/// expression), found beside it. Missing required ones are an error when `check`.
pub fn secondary_files(
    primary: &Value,
    patterns: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    check: bool,
    at: &str,
) -> Result<Vec<Value>> {
    let Some(path) = path_of(primary) else {
        return Ok(Vec::new());
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let basename = primary
        .get("basename")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let mut out = Vec::new();
    for pattern in patterns.as_array().into_iter().flatten() {
        let Some((text, required)) = pattern_parts(pattern, primary, evaluator, inputs, at)? else {
            continue;
        };
        let resolved = match &text {
            Value::String(s) if crate::cwl::expr::has_expression(s) => evaluator.eval(
                s,
                &Scope {
                    inputs: Some(inputs),
                    self_: Some(primary),
                    runtime: None,
                },
                at,
            )?,
            other => other.clone(),
        };
        let names: Vec<Value> = match resolved {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        for name in names {
            let mut object = match name {
                Value::String(s) => {
                    let file = apply_pattern(&basename, &s);
                    json!({ "class": "File", "location": format!("file://{}", dir.join(&file).display()) })
                }
                Value::Object(m) => Value::Object(m),
                _ => continue,
            };
            let Some(p) = path_of(&object) else { continue };
            if !p.exists() {
                if required && check {
                    return Err(Error::cwl(
                        at,
                        format!(
                            "secondary file {} of {} not found",
                            p.display(),
                            path.display()
                        ),
                    ));
                }
                continue;
            }
            if p.is_dir() {
                object["class"] = json!("Directory");
            }
            if let Value::Object(m) = &mut object {
                fill_names(m)?;
            }
            out.push(object);
        }
    }
    Ok(out)
}

/// Basenames of the required secondary files of `primary` (string patterns only;
/// an expression's files are taken as they are).
pub fn secondary_names(
    primary: &Value,
    patterns: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    at: &str,
) -> Result<Vec<String>> {
    let basename = primary
        .get("basename")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_default();
    let mut names = Vec::new();
    for pattern in patterns.as_array().into_iter().flatten() {
        let Some((text, required)) = pattern_parts(pattern, primary, evaluator, inputs, at)? else {
            continue;
        };
        let text = text.as_str().unwrap_or("").to_string();
        if required && !text.is_empty() && !crate::cwl::expr::has_expression(&text) {
            names.push(apply_pattern(&basename, &text));
        }
    }
    Ok(names)
}

/// A `secondaryFiles` entry as (pattern, required), `required` evaluated if an expression.
fn pattern_parts(
    pattern: &Value,
    primary: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    at: &str,
) -> Result<Option<(Value, bool)>> {
    Ok(match pattern {
        Value::String(s) => Some((Value::String(s.clone()), true)),
        Value::Object(m) => {
            let required = match m.get("required") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(e)) => evaluator
                    .eval(
                        e,
                        &Scope {
                            inputs: Some(inputs),
                            self_: Some(primary),
                            runtime: None,
                        },
                        at,
                    )?
                    .as_bool()
                    .unwrap_or(true),
                _ => true,
            };
            Some((m.get("pattern").cloned().unwrap_or(Value::Null), required))
        }
        _ => None,
    })
}

/// `^` strips one extension per caret, then the rest is appended.
pub fn apply_pattern(basename: &str, pattern: &str) -> String {
    let mut base = basename.to_string();
    let mut rest = pattern;
    while let Some(r) = rest.strip_prefix('^') {
        if let Some(i) = base.rfind('.') {
            base.truncate(i);
        }
        rest = r;
    }
    format!("{base}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_never_panics_and_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("a%41b%2Fc"), "aAb/c");
        assert_eq!(percent_decode("%%41"), "%A");
        // A `%` before a multi-byte character, or at the end: kept (this panicked).
        assert_eq!(percent_decode("%é"), "%é");
        assert_eq!(percent_decode("%4é"), "%4é");
        assert_eq!(percent_decode("x%"), "x%");
        assert_eq!(percent_decode("x%4"), "x%4");
        assert_eq!(percent_decode("%zz"), "%zz");
        // Bytes that are not UTF-8 become replacement characters.
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        let value = json!({"class": "File", "location": "file:///data/%E9t%C3%A9.csv"});
        assert_eq!(path_of(&value), Some(PathBuf::from("/data/\u{fffd}té.csv")));
    }
}
