//! Paths of the wasm components used by tests and benchmarks: the bundled plugins
//! and the guests under `guests/` (hostile plugins, benchmark kernels).
//!
//! They are all built by one command, run by the README's test command before the
//! tests: `cargo build --target wasm32-wasip2 --release` of the wasm crates
//! ([`WASM_PACKAGES`]). A missing component makes the test fail with that command.

use std::path::PathBuf;

/// The workspace packages that build into components.
pub const WASM_PACKAGES: &[&str] = &[
    "hysope-echo",
    "hysope-swot-river-filter",
    "hysope-guest-hostile",
    "hysope-guest-moving-median",
];

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
}

/// Folder of the built components.
pub fn component_dir() -> PathBuf {
    workspace_root()
        .join("target")
        .join("wasm32-wasip2")
        .join("release")
}

/// Path of the component `name` (`echo`, `swot-river-filter`, `hostile`, `moving-median`).
///
/// # Panics
/// When the component was not built, with the command that builds it.
pub fn component(name: &str) -> PathBuf {
    let path = component_dir().join(format!("{name}.wasm"));
    if !path.is_file() {
        let packages: Vec<String> = WASM_PACKAGES.iter().map(|p| format!("-p {p}")).collect();
        panic!(
            "component {} is missing: build it with `cargo build --target wasm32-wasip2 --release {}`",
            path.display(),
            packages.join(" ")
        );
    }
    path
}

/// The shared data folder (`../shared/data` from the workspace root).
pub fn shared_data() -> PathBuf {
    workspace_root().join("..").join("shared").join("data")
}
