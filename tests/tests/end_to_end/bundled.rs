//! The bundled plugins' list (`plugins/bundled.txt`, which the scripts build from)
//! against the `plugins/` folder: a plugin added without its line would be served
//! by no fresh install, a line without its plugin would break every build.

use std::collections::BTreeSet;

use hysope_test_components::workspace_root;

fn listed() -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace_root().join("plugins/bundled.txt")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn every_plugin_folder_is_listed_once_with_its_descriptor_example_and_readme() {
    let listed = listed();
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(workspace_root().join("plugins")).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest).unwrap();
        let package = text
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{}: no package name", manifest.display()))
            .to_string();
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(package, format!("hysope-{name}"), "{}", manifest.display());
        for file in [
            format!("{name}.cwl"),
            "example.yml".into(),
            "README.md".into(),
        ] {
            assert!(dir.join(&file).is_file(), "plugins/{name} has no {file}");
        }
        found.insert(package);
    }
    assert_eq!(
        listed, found,
        "plugins/bundled.txt against the plugin folders"
    );
}
