//! Builds every wasm component the tests and benchmarks run, once, before any test
//! is compiled: the bundled plugins (`plugins/bundled.txt`) and every test guest
//! under `guests/` (no list kept by hand). `cargo test` and `cargo clippy` of the
//! workspace run it; `OUT_DIR/components.rs` tells the crate where they are.
//!
//! The nested `cargo build --release --target wasm32-wasip2` shares the workspace's
//! `target/` when this script is built for the dev profile (the outer build then
//! holds `target/debug`, the nested one `target/release` and
//! `target/wasm32-wasip2/release`: no lock in common). For other profiles (`cargo
//! bench` holds `target/release`) it builds into `target/test-components`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest
        .join("../..")
        .canonicalize()
        .expect("the workspace root");
    let mut packages: Vec<(String, String)> = Vec::new();
    let bundled = root.join("plugins/bundled.txt");
    for line in read(&bundled).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let dir = root
            .join("plugins")
            .join(line.trim_start_matches("hysope-"));
        packages.push((line.to_string(), bin_name(&dir.join("Cargo.toml"), line)));
    }
    let mut guests: Vec<PathBuf> = std::fs::read_dir(manifest.join("guests"))
        .expect("tests/components/guests")
        .flatten()
        .map(|e| e.path().join("Cargo.toml"))
        .filter(|p| p.is_file())
        .collect();
    guests.sort();
    for cargo_toml in &guests {
        let name = package_name(cargo_toml);
        let bin = bin_name(cargo_toml, &name);
        packages.push((name, bin));
    }

    let target_dir = match std::env::var("PROFILE").as_deref() {
        Ok("debug") => root.join("target"),
        _ => root.join("target/test-components"),
    };
    let out = target_dir.join("wasm32-wasip2/release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target_dir)
        // The outer build's settings are not the components': its flags, its
        // wrappers (clippy's driver) and its jobserver stay out.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .stdout(Stdio::null());
    for (package, _) in &packages {
        command.args(["-p", package]);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    if !status.success() {
        panic!(
            "building the test components failed ({status}); the wasm target must be \
             installed: rustup target add wasm32-wasip2"
        );
    }

    for dir in ["plugins", "sdk", "wit", "tests/components/guests"] {
        println!("cargo::rerun-if-changed={}", root.join(dir).display());
    }
    println!(
        "cargo::rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );
    println!("cargo::rerun-if-changed={}", bundled.display());
    let mut names = Vec::new();
    for (package, bin) in &packages {
        let component = out.join(format!("{bin}.wasm"));
        assert!(
            component.is_file(),
            "{package} built, but {} is missing",
            component.display()
        );
        // Built again when one is removed.
        println!("cargo::rerun-if-changed={}", component.display());
        names.push(format!("({package:?}, {bin:?})"));
    }
    let generated = format!(
        "/// Where the components are.\npub const COMPONENT_DIR: &str = {:?};\n\
         /// The packages built into components, and each one's component name.\n\
         pub const COMPONENTS: &[(&str, &str)] = &[{}];\n",
        out.display().to_string(),
        names.join(", ")
    );
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out_dir.join("components.rs"), generated).expect("write components.rs");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `name` of the `[package]` table.
fn package_name(cargo_toml: &Path) -> String {
    table_name(&read(cargo_toml), "[package]")
        .unwrap_or_else(|| panic!("{}: no package name", cargo_toml.display()))
}

/// `name` of the first `[[bin]]` table, or the package's name.
fn bin_name(cargo_toml: &Path, package: &str) -> String {
    table_name(&read(cargo_toml), "[[bin]]").unwrap_or_else(|| package.to_string())
}

/// The `name = "..."` line of the table `header` (first of its kind).
fn table_name(text: &str, header: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == header;
            continue;
        }
        if inside {
            if let Some(value) = line.strip_prefix("name") {
                let value = value.trim_start().strip_prefix('=')?.trim();
                return Some(value.trim_matches('"').to_string());
            }
        }
    }
    None
}
