//! Paths of the wasm components used by tests and benchmarks: the bundled plugins
//! and the guests under `guests/` (hostile plugins, benchmark kernels).
//!
//! They are all built by one command, run by the README's test command before the
//! tests: `cargo build --target wasm32-wasip2 --release` of the wasm crates
//! ([`WASM_PACKAGES`]). A missing component makes the test fail with that command.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

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

/// The real SWOT RiverSP reach shapefile zip in `../shared/data/swot`.
pub fn reach_zip() -> PathBuf {
    let dir = shared_data().join("swot");
    std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("SWOT_L2_HR_RiverSP_Reach_")
        })
        .expect("the real RiverSP reach file in ../shared/data/swot")
}

/// Records of a dBase III file: field name -> trimmed text, in file order.
pub fn read_dbf(bytes: &[u8]) -> Vec<BTreeMap<String, String>> {
    let count = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let header = u16::from_le_bytes(bytes[8..10].try_into().unwrap()) as usize;
    let record = u16::from_le_bytes(bytes[10..12].try_into().unwrap()) as usize;
    let mut fields = Vec::new();
    let mut at = 32;
    while bytes[at] != 0x0d {
        let name: String = bytes[at..at + 11]
            .iter()
            .take_while(|b| **b != 0)
            .map(|b| *b as char)
            .collect();
        fields.push((name, bytes[at + 16] as usize));
        at += 32;
    }
    (0..count)
        .map(|i| {
            let mut offset = header + i * record + 1;
            let mut row = BTreeMap::new();
            for (name, len) in &fields {
                let text: String = bytes[offset..offset + len]
                    .iter()
                    .map(|b| *b as char)
                    .collect();
                row.insert(name.clone(), text.trim().to_string());
                offset += len;
            }
            row
        })
        .collect()
}

/// The records of the .dbf inside a shapefile zip.
pub fn dbf_of(zip_path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip_path).unwrap()).unwrap();
    let name = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
        .find(|n| n.ends_with(".dbf"))
        .unwrap();
    let mut bytes = Vec::new();
    archive
        .by_name(&name)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    read_dbf(&bytes)
}

/// A numeric attribute of a .dbf record.
pub fn num(row: &BTreeMap<String, String>, field: &str) -> f64 {
    row[field].parse().unwrap()
}

/// The documented default rule of swot-river-filter, written independently of the plugin.
pub fn kept_by_default(row: &BTreeMap<String, String>) -> bool {
    num(row, "wse") != -999999999999.0
        && num(row, "reach_q") <= 1.0
        && num(row, "ice_clim_f") <= 0.0
        && (num(row, "ice_dyn_f") <= 0.0 || num(row, "ice_dyn_f") == -999.0)
        && num(row, "partial_f") <= 0.0
        && num(row, "xovr_cal_q") <= 1.0
}
