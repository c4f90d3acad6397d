//! The web portal's files: Hysope's own ES modules (`portal/src`) and the
//! published files of the libraries they import (`portal/node_modules`, installed
//! by `npm ci` from the committed `package-lock.json`), served as published: no
//! bundler (MapLibre loads its worker as a sibling file of its module, which a
//! bundler drops).
//!
//! A release build embeds the files (`rust-embed`); a debug build reads them from
//! the repository when the portal is loaded, so a test or a developer's server
//! serves what is on disk. Either way [`Portal::load`] reads them once: the files
//! get a content digest (their ETag) and the portal a *build* name from all of
//! them, which versions every asset URL (`/portal/assets/BUILD/...`), so that
//! assets can be cached for a year and the page shell (`index.html`, never
//! cached) names the current build.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::OnceLock;

use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

/// Hysope's own modules, styles and page shell.
#[derive(RustEmbed)]
#[folder = "../../portal/src/"]
#[exclude = "*.md"]
struct App;

/// The libraries' published files (and their licences), as npm installed them.
#[derive(RustEmbed)]
#[folder = "../../portal/node_modules/"]
#[include = "maplibre-gl/dist/maplibre-gl.mjs"]
#[include = "maplibre-gl/dist/maplibre-gl-worker.mjs"]
#[include = "maplibre-gl/dist/maplibre-gl.css"]
#[include = "maplibre-gl/LICENSE.txt"]
#[include = "uplot/dist/uPlot.esm.js"]
#[include = "uplot/dist/uPlot.min.css"]
#[include = "uplot/LICENSE"]
#[include = "topojson-client/src/*.js"]
#[include = "topojson-client/LICENSE"]
#[include = "world-atlas/land-50m.json"]
#[include = "world-atlas/LICENSE"]
struct Vendor;

/// The page shell's placeholder for the build name.
const BUILD_MARK: &str = "{{build}}";

/// One file of the portal.
pub struct Asset {
    bytes: Cow<'static, [u8]>,
    content_type: &'static str,
    etag: String,
    gzip: OnceLock<Option<Vec<u8>>>,
}

impl Asset {
    fn new(path: &str, bytes: Cow<'static, [u8]>) -> Asset {
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&bytes))[..32]);
        Asset {
            content_type: content_type(path),
            bytes,
            etag,
            gzip: OnceLock::new(),
        }
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Its media type (from its extension).
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// Its strong entity tag (a digest of its bytes), quoted.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// Its gzip encoding, made at the first call (level 9, once per process),
    /// for text files that it makes smaller; `None` otherwise.
    pub fn gzip(&self) -> Option<&[u8]> {
        self.gzip
            .get_or_init(|| {
                if !compressible(self.content_type) {
                    return None;
                }
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.bytes.len() / 3),
                    flate2::Compression::best(),
                );
                encoder.write_all(&self.bytes).ok()?;
                let out = encoder.finish().ok()?;
                (out.len() < self.bytes.len()).then_some(out)
            })
            .as_deref()
    }
}

/// The portal's files, read once.
pub struct Portal {
    build: String,
    assets: BTreeMap<String, Asset>,
    shell: Asset,
}

impl Portal {
    /// Reads every file (embedded, or from the repository in a debug build).
    /// A debug build whose `portal/node_modules` is missing has no library files:
    /// its pages say so in the browser (`npm ci` in `portal/` puts them there).
    pub fn load() -> Portal {
        let mut assets = BTreeMap::new();
        for path in App::iter() {
            if let Some(file) = App::get(&path) {
                assets.insert(format!("app/{path}"), Asset::new(&path, file.data));
            }
        }
        for path in Vendor::iter() {
            if let Some(file) = Vendor::get(&path) {
                assets.insert(format!("vendor/{path}"), Asset::new(&path, file.data));
            }
        }
        let mut digest = Sha256::new();
        for (path, asset) in &assets {
            digest.update(path.as_bytes());
            digest.update(asset.etag.as_bytes());
        }
        let build = hex::encode(digest.finalize())[..16].to_string();
        let shell = assets
            .remove("app/index.html")
            .map(|a| String::from_utf8_lossy(&a.bytes).replace(BUILD_MARK, &build))
            .unwrap_or_else(|| {
                "<!doctype html><title>Hysope</title><p>This server was built without its portal (portal/src is missing).".into()
            });
        Portal {
            shell: Asset::new("index.html", Cow::Owned(shell.into_bytes())),
            build,
            assets,
        }
    }

    /// The name of this set of files: asset URLs carry it.
    pub fn build(&self) -> &str {
        &self.build
    }

    /// The page shell every portal page starts from (`index.html` with the build
    /// name in its asset URLs).
    pub fn shell(&self) -> &Asset {
        &self.shell
    }

    /// A file by its path under the build (`app/main.js`,
    /// `vendor/maplibre-gl/dist/maplibre-gl.mjs`).
    pub fn asset(&self, path: &str) -> Option<&Asset> {
        self.assets.get(path)
    }

    /// Every file's path.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.assets.keys().map(String::as_str)
    }
}

/// The media type of a file by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("txt") | None => "text/plain; charset=utf-8",
        Some(_) => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type == "application/json"
        || content_type == "image/svg+xml"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_names_the_build_and_assets_have_digests() {
        let portal = Portal::load();
        let shell = String::from_utf8_lossy(portal.shell().bytes()).into_owned();
        assert!(shell.contains(&format!("/portal/assets/{}/app/", portal.build())));
        assert!(!shell.contains(BUILD_MARK));
        let main = portal.asset("app/main.js").expect("app/main.js");
        assert_eq!(main.content_type(), "text/javascript; charset=utf-8");
        assert_eq!(main.etag().len(), 34);
        let gz = main.gzip().expect("a module compresses");
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut back).unwrap();
        assert_eq!(back, main.bytes());
    }

    #[test]
    fn the_libraries_are_there_with_their_licences() {
        let portal = Portal::load();
        for path in [
            "vendor/maplibre-gl/dist/maplibre-gl.mjs",
            "vendor/maplibre-gl/dist/maplibre-gl-worker.mjs",
            "vendor/maplibre-gl/LICENSE.txt",
            "vendor/uplot/dist/uPlot.esm.js",
            "vendor/topojson-client/src/index.js",
            "vendor/world-atlas/land-50m.json",
        ] {
            assert!(portal.asset(path).is_some(), "{path} (npm ci in portal/)");
        }
        assert_eq!(content_type("uplot/LICENSE"), "text/plain; charset=utf-8");
    }
}
