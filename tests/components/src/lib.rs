//! Paths of the wasm components used by tests and benchmarks: the bundled plugins
//! and the guests under `guests/` (hostile plugins, benchmark kernels, the
//! backends' toolbox).
//!
//! This crate's build script builds them all, once, before the tests are compiled
//! (`cargo test` and `cargo clippy` of the workspace run it): no list of them is
//! kept by hand.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
}

/// Folder of the built components.
pub fn component_dir() -> PathBuf {
    PathBuf::from(COMPONENT_DIR)
}

/// Path of the component `name` (`echo`, `swot-river-filter`, `hostile`,
/// `moving-median`, `toolbox`, ...).
///
/// # Panics
/// When no package builds a component of that name, or when it was removed since
/// the build script ran (building the tests again builds it again).
pub fn component(name: &str) -> PathBuf {
    assert!(
        COMPONENTS.iter().any(|(_, bin)| *bin == name),
        "no test component {name:?}; the components are {COMPONENTS:?}"
    );
    let path = component_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "component {} is missing: build the tests again (the build script builds it)",
        path.display()
    );
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
